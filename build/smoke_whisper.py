"""whisper.cpp as built into pywhispercpp: print its system info; with a model path, load it on the GPU.

Run by `python -m edge.ops.native_build check|smoke` inside the venv; whisper.cpp writes its load log
(`whisper_backend_init_gpu: using CUDA0 backend`) to stderr, which the caller reads.
"""

import sys
from pathlib import Path

import _pywhispercpp

print(_pywhispercpp.whisper_print_system_info(), flush=True)
if len(sys.argv) > 1:
    model_path = Path(sys.argv[1]).resolve()
    if not model_path.is_file():
        # A bare name would make pywhispercpp download a model; only ever load a local file.
        sys.exit(f"no such model file: {model_path}")
    from pywhispercpp.model import Model

    Model(str(model_path), context_params={"use_gpu": True}, print_progress=False)
