"""whisper.cpp's ggml model file: header, mel filters, vocabulary and tensors, written and read.

Layout (little-endian): magic, 11 int32 hparams (the last is the file type), the mel filter bank
(n_mel, n_fft, float32 values), the vocabulary (count, then length-prefixed raw bytes of each regular
token; whisper.cpp derives the special tokens from n_vocab), then one record per tensor: n_dims,
name length, ggml type, dims innermost first, name, data. whisper.cpp checks each tensor's type
against what it expects, so `tensor_type` mirrors its loader.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from edge.core.errors import ModelError, UserError
from edge.ops.mel import mel_filters

GGML_MAGIC = 0x67676D6C
HPARAM_NAMES = (
    "n_vocab", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer",
    "n_text_ctx", "n_text_state", "n_text_head", "n_text_layer", "n_mels", "ftype",
)
HPARAMS = struct.Struct("<11i")

GGML_TYPE_F32 = 0
GGML_TYPE_F16 = 1
GGML_TYPE_Q8_0 = 8
# File types (llama.cpp's "mostly" types); quantised files add the quantisation version * 1000.
FILE_TYPES = {"f32": 0, "f16": 1, "q8_0": 7}
GGML_QNT_VERSION = 2
GGML_QNT_VERSION_FACTOR = 1000
QK8_0 = 32
Q8_0_BLOCK = np.dtype([("d", "<f2"), ("qs", "i1", (QK8_0,))])

# Kept in float32 whatever the file type: whisper.cpp adds them to activations as they are.
F32_TENSORS = frozenset(
    {"encoder.conv1.bias", "encoder.conv2.bias", "encoder.positional_embedding", "decoder.positional_embedding"}
)


@dataclass(frozen=True)
class WhisperHparams:
    n_vocab: int
    n_audio_ctx: int
    n_audio_state: int
    n_audio_head: int
    n_audio_layer: int
    n_text_ctx: int
    n_text_state: int
    n_text_head: int
    n_text_layer: int
    n_mels: int

    @property
    def multilingual(self) -> bool:
        return self.n_vocab >= 51865

    def pack(self, file_type: str) -> bytes:
        ftype = FILE_TYPES[file_type]
        if file_type == "q8_0":
            ftype += GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR
        values = [getattr(self, name) for name in HPARAM_NAMES[:-1]]
        return struct.pack("<I", GGML_MAGIC) + HPARAMS.pack(*values, ftype)


@dataclass(frozen=True)
class GgmlTensorInfo:
    name: str
    ggml_type: int
    shape: tuple[int, ...]  # numpy order (outermost first)
    offset: int  # of the data in the file
    nbytes: int


@dataclass
class WhisperGgmlFile:
    hparams: WhisperHparams
    file_type: int  # without the quantisation version
    filters: np.ndarray  # (n_mel, n_fft // 2 + 1) float32
    vocabulary: list[bytes]
    tensors: dict[str, GgmlTensorInfo] = field(default_factory=dict)
    header_size: int = 0  # bytes up to the first tensor record


# --- tensors ----------------------------------------------------------------------------------------


def tensor_type(name: str, ndim: int, file_type: str) -> int:
    """The ggml type whisper.cpp's loader expects for tensor `name` in a file of `file_type`."""
    if file_type == "f32" or ndim < 2 or name in F32_TENSORS:
        return GGML_TYPE_F32
    if ndim == 3:  # the convolutions stay f16 in a quantised file
        return GGML_TYPE_F16
    return GGML_TYPE_Q8_0 if file_type == "q8_0" else GGML_TYPE_F16


def quantize_q8_0(values: np.ndarray) -> np.ndarray:
    """ggml's reference Q8_0: blocks of 32 along the last axis, scale = max|x| / 127 in f16, int8
    values round(x / scale) rounded half away from zero; the same bytes as ggml's quantize_row_q8_0_ref."""
    rows = np.ascontiguousarray(values, dtype=np.float32)
    if rows.shape[-1] % QK8_0:
        raise ValueError(f"the last dimension ({rows.shape[-1]}) is not a multiple of {QK8_0}")
    blocks = rows.reshape(-1, QK8_0)
    amax = np.abs(blocks).max(axis=1, keepdims=True)
    d = amax / np.float32(127)
    with np.errstate(divide="ignore"):
        inverse = np.where(d > 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    scaled = blocks * inverse
    out = np.empty(len(blocks), dtype=Q8_0_BLOCK)
    out["d"] = d[:, 0].astype(np.float16)
    out["qs"] = (np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5))).astype(np.int8)
    return out


def dequantize_q8_0(blocks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return (blocks["qs"].astype(np.float32) * blocks["d"].astype(np.float32)[:, None]).reshape(shape)


def tensor_bytes(name: str, values: np.ndarray, file_type: str) -> tuple[int, bytes]:
    """(ggml type, data) of one tensor as whisper.cpp expects it in a file of `file_type`."""
    ggml_type = tensor_type(name, values.ndim, file_type)
    if ggml_type == GGML_TYPE_Q8_0:
        return ggml_type, quantize_q8_0(values).tobytes()
    dtype = "<f2" if ggml_type == GGML_TYPE_F16 else "<f4"
    return ggml_type, np.ascontiguousarray(values, dtype=dtype).tobytes()


def write_tensor_record(f: BinaryIO, name: str, shape: tuple[int, ...], ggml_type: int, data: bytes) -> None:
    encoded = name.encode()
    f.write(struct.pack("<3i", len(shape), len(encoded), ggml_type))
    f.write(struct.pack(f"<{len(shape)}i", *reversed(shape)))
    f.write(encoded)
    f.write(data)


# --- whole files ------------------------------------------------------------------------------------


def write_whisper_ggml(
    out: Path,
    hparams: WhisperHparams,
    vocabulary: list[bytes],
    tensors: Iterable[tuple[str, np.ndarray]],
    *,
    file_type: str = "f16",
) -> Path:
    """Write a whisper.cpp model atomically (a temporary file beside `out`, then a rename)."""
    if file_type not in FILE_TYPES:
        raise UserError(f"unknown model type {file_type!r}; use one of: {', '.join(FILE_TYPES)}")
    out = Path(out)
    if out.is_dir():
        raise UserError(f"{out} is a directory; give a file path for the model")
    filters = mel_filters(hparams.n_mels)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(hparams.pack(file_type))
            f.write(struct.pack("<2i", *filters.shape))
            f.write(filters.astype("<f4").tobytes())
            f.write(struct.pack("<i", len(vocabulary)))
            for token in vocabulary:
                f.write(struct.pack("<i", len(token)))
                f.write(token)
            for name, values in tensors:
                ggml_type, data = tensor_bytes(name, values, file_type)
                write_tensor_record(f, name, values.shape, ggml_type, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return out


_TYPE_SIZES = {GGML_TYPE_F32: (4, 1), GGML_TYPE_F16: (2, 1), GGML_TYPE_Q8_0: (Q8_0_BLOCK.itemsize, QK8_0)}


def read_whisper_ggml(path: Path, *, tensors: bool = True) -> WhisperGgmlFile:
    """Parse a whisper.cpp model (its header only with tensors=False); ModelError if it is not one."""
    path = Path(path)
    try:
        data = path.read_bytes() if tensors else _read_head(path)
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        (magic,) = struct.unpack_from("<I", data, 0)
        if magic != GGML_MAGIC:
            raise ModelError(f"{path} is not a whisper.cpp ggml model (bad magic)")
        values = HPARAMS.unpack_from(data, 4)
        hparams = WhisperHparams(*values[:-1])
        offset = 4 + HPARAMS.size
        n_mel, n_fft = struct.unpack_from("<2i", data, offset)
        offset += 8
        filters = np.frombuffer(data, "<f4", n_mel * n_fft, offset).reshape(n_mel, n_fft).copy()
        offset += 4 * n_mel * n_fft
        (n_words,) = struct.unpack_from("<i", data, offset)
        offset += 4
        vocabulary = []
        for _ in range(n_words):
            (length,) = struct.unpack_from("<i", data, offset)
            vocabulary.append(bytes(data[offset + 4 : offset + 4 + length]))
            offset += 4 + length
        if offset > len(data):
            raise struct.error("truncated vocabulary")
        result = WhisperGgmlFile(hparams, values[-1] % GGML_QNT_VERSION_FACTOR, filters, vocabulary, header_size=offset)
        if tensors:
            result.tensors = dict((info.name, info) for info in _tensor_records(data, offset))
    except struct.error as exc:
        raise ModelError(f"{path} is truncated or not a whisper.cpp model ({exc})") from exc
    return result


def _read_head(path: Path, size: int = 4 << 20) -> bytes:
    with open(path, "rb") as f:
        return f.read(size)


def _tensor_records(data: bytes, offset: int) -> Iterator[GgmlTensorInfo]:
    while offset < len(data):
        n_dims, name_length, ggml_type = struct.unpack_from("<3i", data, offset)
        offset += 12
        dims = struct.unpack_from(f"<{n_dims}i", data, offset)
        offset += 4 * n_dims
        name = data[offset : offset + name_length].decode()
        offset += name_length
        if ggml_type not in _TYPE_SIZES:
            raise struct.error(f"tensor {name} has unknown ggml type {ggml_type}")
        item, block = _TYPE_SIZES[ggml_type]
        nbytes = int(np.prod(dims)) // block * item
        if offset + nbytes > len(data):
            raise struct.error(f"tensor {name} is cut short")
        yield GgmlTensorInfo(name, ggml_type, tuple(reversed(dims)), offset, nbytes)
        offset += nbytes


def tensor_values(path: Path, info: GgmlTensorInfo) -> np.ndarray:
    """The values of one tensor of `path` as float32 (dequantised if it is Q8_0)."""
    with open(path, "rb") as f:
        f.seek(info.offset)
        raw = f.read(info.nbytes)
    if info.ggml_type == GGML_TYPE_Q8_0:
        return dequantize_q8_0(np.frombuffer(raw, Q8_0_BLOCK), info.shape)
    dtype = "<f2" if info.ggml_type == GGML_TYPE_F16 else "<f4"
    return np.frombuffer(raw, dtype).astype(np.float32).reshape(info.shape)
