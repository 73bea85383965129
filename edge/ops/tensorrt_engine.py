"""TensorRT engines built on the Jetson from ONNX models, cached per TensorRT version and model sha256.

The only module that imports `tensorrt`, and only on a Jetson: `tensorrt_usable()` answers from the
file system and the import machinery's search (no import), so development machines and the API
never load it. TensorRT 8 (JetPack 6.0) and 10 (JetPack 6.1+) differ in how a network is created and
how tensors are bound; `TrtApi` is the one place that knows. CUDA memory is handled through the CUDA
runtime library with ctypes, so no extra Python package (pycuda) is needed on the device.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.core.errors import ModelError
from edge.ops.device_profiles import is_jetson

log = logging.getLogger(__name__)

DEFAULT_WORKSPACE_BYTES = 256 * 1024 * 1024


def tensorrt_installed() -> bool:
    """Whether `import tensorrt` would find a module (find_spec does not import it)."""
    return importlib.util.find_spec("tensorrt") is not None


def tensorrt_usable(root: Path = Path("/")) -> bool:
    """A Jetson with TensorRT's Python bindings visible (JetPack's, through --system-site-packages)."""
    return is_jetson(root) and tensorrt_installed()


NOT_AVAILABLE = (
    "TensorRT is only used on a Jetson with JetPack's Python bindings (python3-libnvinfer) visible "
    'in the venv (made with --system-site-packages); set vad.backend to "auto" or "onnx" here'
)


def _import_tensorrt(root: Path = Path("/")) -> Any:
    if not tensorrt_usable(root):
        raise ModelError(NOT_AVAILABLE)
    import tensorrt

    return tensorrt


def installed_version(root: Path = Path("/")) -> str | None:
    """TensorRT's version on this device, or None off the device (without importing it there)."""
    if not tensorrt_usable(root):
        return None
    for dist in ("tensorrt", "tensorrt-cu12", "tensorrt_libs"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return str(_import_tensorrt(root).__version__)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def default_cache_dir(model_path: Path) -> Path:
    """Engines live beside the model (the models directory is writable by the service)."""
    return model_path.parent / "tensorrt"


def engine_path(
    model_path: Path, trt_version: str, cache_dir: Path | None = None, *, sha256: str | None = None
) -> Path:
    """Where the engine for this exact model file and TensorRT version is cached.

    An engine is only valid for the TensorRT version that built it and for the bytes of the model,
    so both are in the name: upgrading JetPack or replacing the model makes a new engine.
    """
    digest = sha256 or file_sha256(model_path)
    directory = default_cache_dir(model_path) if cache_dir is None else cache_dir
    return directory / f"{model_path.stem}-{digest[:16]}-trt{trt_version}.engine"


@dataclass(frozen=True)
class TensorInfo:
    name: str
    is_input: bool
    shape: tuple[int, ...]
    dtype: np.dtype


class TrtApi:
    """The differences between TensorRT 8 and 10, in one place."""

    def __init__(self, trt: Any) -> None:
        self.trt = trt
        self.major = int(str(trt.__version__).split(".")[0])

    def network_flags(self) -> int:
        # TensorRT 10 networks are always explicit-batch and the flag is deprecated; 8 requires it.
        if self.major >= 10:
            return 0
        return 1 << int(self.trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)

    def io_tensors(self, engine: Any) -> list[TensorInfo]:
        trt = self.trt
        tensors = []
        if hasattr(engine, "num_io_tensors"):  # TensorRT >= 8.5, the only API in 10
            for index in range(engine.num_io_tensors):
                name = engine.get_tensor_name(index)
                tensors.append(
                    TensorInfo(
                        name=name,
                        is_input=engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT,
                        shape=tuple(engine.get_tensor_shape(name)),
                        dtype=np.dtype(trt.nptype(engine.get_tensor_dtype(name))),
                    )
                )
        else:  # TensorRT 8.0-8.4: binding indices
            for index in range(engine.num_bindings):
                tensors.append(
                    TensorInfo(
                        name=engine.get_binding_name(index),
                        is_input=bool(engine.binding_is_input(index)),
                        shape=tuple(engine.get_binding_shape(index)),
                        dtype=np.dtype(trt.nptype(engine.get_binding_dtype(index))),
                    )
                )
        return tensors

    def execute(self, context: Any, tensors: list[TensorInfo], addresses: Mapping[str, int], stream: int) -> None:
        if hasattr(context, "execute_async_v3"):
            for tensor in tensors:
                context.set_tensor_address(tensor.name, addresses[tensor.name])
            ok = context.execute_async_v3(stream)
        else:
            ok = context.execute_async_v2([addresses[tensor.name] for tensor in tensors], stream)
        if not ok:
            raise ModelError("TensorRT failed to run the engine (see the TensorRT log above)")


def build_engine(
    onnx_path: Path,
    engine_file: Path,
    *,
    fp16: bool = False,
    workspace_bytes: int = DEFAULT_WORKSPACE_BYTES,
    root: Path = Path("/"),
) -> Path:
    """Parse the ONNX model, build a serialized engine, write it atomically to `engine_file`."""
    trt = _import_tensorrt(root)
    api = TrtApi(trt)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(api.network_flags())
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(index)) for index in range(parser.num_errors))
        raise ModelError(f"TensorRT cannot parse {onnx_path.name}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    if fp16 and builder.platform_has_fast_fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelError(f"TensorRT could not build an engine for {onnx_path.name} (see the TensorRT log above)")
    engine_file.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=engine_file.parent, prefix=engine_file.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(bytes(serialized))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, engine_file)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    log.info("built TensorRT %s engine %s", trt.__version__, engine_file)
    return engine_file


class CudaRuntime:
    """The few CUDA runtime calls an engine needs, through ctypes (libcudart ships with JetPack)."""

    _HOST_TO_DEVICE = 1
    _DEVICE_TO_HOST = 2

    def __init__(self) -> None:
        names = [ctypes.util.find_library("cudart"), "libcudart.so", "/usr/local/cuda/lib64/libcudart.so"]
        last_error: OSError | None = None
        for name in filter(None, names):
            try:
                self._lib = ctypes.CDLL(name)
                break
            except OSError as exc:
                last_error = exc
        else:
            raise ModelError(f"cannot load the CUDA runtime library (libcudart): {last_error}")
        self._lib.cudaGetErrorString.restype = ctypes.c_char_p

    def _check(self, code: int, what: str) -> None:
        if code != 0:
            message = self._lib.cudaGetErrorString(code).decode()
            raise ModelError(f"CUDA {what} failed: {message} ({code})")

    def malloc(self, size: int) -> int:
        pointer = ctypes.c_void_p()
        self._check(self._lib.cudaMalloc(ctypes.byref(pointer), ctypes.c_size_t(size)), "cudaMalloc")
        return int(pointer.value or 0)

    def free(self, pointer: int) -> None:
        self._check(self._lib.cudaFree(ctypes.c_void_p(pointer)), "cudaFree")

    def stream_create(self) -> int:
        stream = ctypes.c_void_p()
        self._check(self._lib.cudaStreamCreate(ctypes.byref(stream)), "cudaStreamCreate")
        return int(stream.value or 0)

    def stream_destroy(self, stream: int) -> None:
        self._check(self._lib.cudaStreamDestroy(ctypes.c_void_p(stream)), "cudaStreamDestroy")

    def synchronize(self, stream: int) -> None:
        self._check(self._lib.cudaStreamSynchronize(ctypes.c_void_p(stream)), "cudaStreamSynchronize")

    def to_device(self, pointer: int, array: np.ndarray, stream: int) -> None:
        self._check(
            self._lib.cudaMemcpyAsync(
                ctypes.c_void_p(pointer),
                ctypes.c_void_p(array.ctypes.data),
                ctypes.c_size_t(array.nbytes),
                self._HOST_TO_DEVICE,
                ctypes.c_void_p(stream),
            ),
            "cudaMemcpyAsync (to device)",
        )

    def to_host(self, array: np.ndarray, pointer: int, stream: int) -> None:
        self._check(
            self._lib.cudaMemcpyAsync(
                ctypes.c_void_p(array.ctypes.data),
                ctypes.c_void_p(pointer),
                ctypes.c_size_t(array.nbytes),
                self._DEVICE_TO_HOST,
                ctypes.c_void_p(stream),
            ),
            "cudaMemcpyAsync (to host)",
        )


class EngineRunner:
    """Runs a static-shape engine: `run({input name: array}) -> {output name: array}`."""

    def __init__(self, engine_file: Path, *, root: Path = Path("/")) -> None:
        trt = _import_tensorrt(root)
        self._api = TrtApi(trt)
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(engine_file.read_bytes())
        if self._engine is None:
            raise ModelError(
                f"TensorRT {trt.__version__} cannot load {engine_file.name}; delete it to have it rebuilt"
            )
        self._context = self._engine.create_execution_context()
        self._tensors = self._api.io_tensors(self._engine)
        if any(dim < 0 for tensor in self._tensors for dim in tensor.shape):
            raise ModelError(f"{engine_file.name} has dynamic shapes; build it from a static-shape model")
        self._cuda = CudaRuntime()
        self._stream = self._cuda.stream_create()
        self._buffers = {
            tensor.name: self._cuda.malloc(max(1, int(np.prod(tensor.shape)) * tensor.dtype.itemsize))
            for tensor in self._tensors
        }

    @property
    def tensors(self) -> list[TensorInfo]:
        return list(self._tensors)

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs: dict[str, np.ndarray] = {}
        for tensor in self._tensors:
            if tensor.is_input:
                array = np.ascontiguousarray(inputs[tensor.name], dtype=tensor.dtype).reshape(tensor.shape)
                self._cuda.to_device(self._buffers[tensor.name], array, self._stream)
        self._api.execute(self._context, self._tensors, self._buffers, self._stream)
        for tensor in self._tensors:
            if not tensor.is_input:
                outputs[tensor.name] = np.empty(tensor.shape, dtype=tensor.dtype)
                self._cuda.to_host(outputs[tensor.name], self._buffers[tensor.name], self._stream)
        self._cuda.synchronize(self._stream)
        return outputs

    def close(self) -> None:
        for pointer in self._buffers.values():
            self._cuda.free(pointer)
        self._buffers = {}
        self._cuda.stream_destroy(self._stream)
