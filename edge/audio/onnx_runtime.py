"""onnxruntime on the CPU for the box's small audio models (VAD, speaker encoder): the only module that
imports onnxruntime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.core.errors import ModelError


def cpu_session(model_path: Path, *, what: str, hint: str) -> Any:
    """A one-thread CPU session of `model_path`: the box runs whisper.cpp and llama.cpp beside it, and these
    models need no more. `what` names the model and `hint` the fix in the error of a missing or bad file."""
    if not model_path.is_file():
        raise ModelError(f"{what} {model_path} not found; {hint}")
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"{what} {model_path} cannot be loaded ({message}); {hint}") from None
