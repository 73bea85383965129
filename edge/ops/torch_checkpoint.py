"""Reading a PyTorch checkpoint of the legacy format (torch.save before 1.6) without PyTorch.

The file is five pickles and the raw storages: a magic number, the protocol version, the writer's
type sizes, the object itself (tensors refer to storages by key through pickle's persistent ids),
the list of storage keys in file order, then each storage as an int64 element count and its bytes.
Unpickling is restricted to what a state dict holds (dicts, OrderedDicts, float and integer storages,
`torch._utils._rebuild_tensor_v2`): a file asking for anything else is refused, never executed.
"""

from __future__ import annotations

import collections
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from edge.core.errors import ModelError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
}


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype


@dataclass
class _Storage:
    dtype: np.dtype
    data: np.ndarray | None = None


@dataclass(frozen=True)
class _TensorRef:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray:
        assert self.storage.data is not None
        item = self.storage.data.itemsize
        view = np.lib.stride_tricks.as_strided(
            self.storage.data[self.offset :], shape=self.shape, strides=tuple(s * item for s in self.stride)
        )
        return np.array(view)  # a copy: independent of the storage and writable


def _rebuild_tensor(storage: _Storage, offset: int, shape: tuple, stride: tuple, *_: Any) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(int(n) for n in shape), tuple(int(n) for n in stride))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO, storages: dict[str, _Storage], source: Path) -> None:
        super().__init__(file)
        self._storages = storages
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        raise ModelError(f"{self._source}: the checkpoint asks for {module}.{name}, which a state dict never needs")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise ModelError(f"{self._source}: unexpected persistent id {pid!r:.80}")
        key = str(pid[2])
        return self._storages.setdefault(key, _Storage(pid[1].dtype))


def read_legacy_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint's top-level dict, with every tensor as a numpy array."""
    try:
        with open(path, "rb") as f:
            return _read(f, path)
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (pickle.UnpicklingError, EOFError, struct.error, ValueError, TypeError) as exc:
        raise ModelError(f"{path} is not a readable PyTorch checkpoint ({exc})") from None


def _read(f: BinaryIO, path: Path) -> dict[str, Any]:
    if f.read(2)[:1] != b"\x80":
        raise ModelError(f"{path} is not a legacy PyTorch checkpoint (a zip one needs PyTorch itself)")
    f.seek(0)
    header = _Unpickler(f, {}, path)
    if header.load() != LEGACY_MAGIC:
        raise ModelError(f"{path} is not a legacy PyTorch checkpoint (wrong magic number)")
    if header.load() != LEGACY_PROTOCOL:
        raise ModelError(f"{path}: unsupported PyTorch checkpoint protocol")
    info = header.load()
    if not (isinstance(info, dict) and info.get("little_endian", False)):
        raise ModelError(f"{path}: a big-endian checkpoint is not supported")
    storages: dict[str, _Storage] = {}
    root = _Unpickler(f, storages, path).load()
    keys = _Unpickler(f, storages, path).load()
    for key in keys:
        storage = storages.get(str(key))
        if storage is None:
            raise ModelError(f"{path}: storage {key} is listed but never used")
        (count,) = struct.unpack("<q", f.read(8))
        raw = f.read(count * storage.dtype.itemsize)
        if len(raw) != count * storage.dtype.itemsize:
            raise ModelError(f"{path} is truncated (storage {key})")
        storage.data = np.frombuffer(raw, dtype=storage.dtype)
    if not isinstance(root, dict):
        raise ModelError(f"{path}: the checkpoint holds a {type(root).__name__}, not a dict")
    return _resolved(root)


def _resolved(value: Any) -> Any:
    if isinstance(value, _TensorRef):
        return value.array()
    if isinstance(value, dict):
        return {key: _resolved(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_resolved(item) for item in value)
    return value
