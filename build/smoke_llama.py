"""llama.cpp as built into llama-cpp-python: print its system info; with a GGUF path, load it fully on the GPU.

Run by `python -m edge.ops.native_build check|smoke` inside the venv; llama.cpp writes its load log
(`ggml_cuda_init: found 1 CUDA devices`, `offloaded 29/29 layers to GPU`) to stderr.
"""

import sys
from pathlib import Path

import llama_cpp

info = llama_cpp.llama_print_system_info()
print(info.decode() if isinstance(info, bytes) else info, flush=True)
print(f"gpu offload supported: {bool(llama_cpp.llama_supports_gpu_offload())}", flush=True)
if len(sys.argv) > 1:
    model_path = Path(sys.argv[1]).resolve()
    if not model_path.is_file():
        sys.exit(f"no such model file: {model_path}")
    llm = llama_cpp.Llama(model_path=str(model_path), n_gpu_layers=-1, n_ctx=256, verbose=True)
    llm.close()
