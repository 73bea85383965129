"""The onnx package (reading, checking, rewriting and writing ONNX graphs, at setup and on the Jetson): the only
module that imports it. It is a development and Jetson extra, not needed to run a model."""

from __future__ import annotations

from types import ModuleType

from edge.core.errors import UserError

MISSING = "the onnx package is not installed; install it with `pip install -e '.[dev]'` (or '.[jetson]' on the box)"


def onnx_module() -> ModuleType:
    try:
        import onnx
        import onnx.helper
        import onnx.numpy_helper
        import onnx.reference
    except ImportError:
        raise UserError(MISSING) from None
    return onnx
