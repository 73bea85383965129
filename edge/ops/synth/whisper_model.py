"""Random-weight whisper.cpp models of the real `tiny` and `base` shapes, for speed tests.

No real Whisper weights can be downloaded where tests run, but whisper.cpp's vocab-only test
file (`ggml-tiny-vocab-only-stub.bin`) carries the header, mel filters and vocabulary. Appending
one record per tensor with random weights gives a model that loads and runs at the real compute
cost (its text is nonsense). The tensor list, types and dims mirror whisper.cpp's loader exactly:
a missing tensor or a wrong type is not reported by pywhispercpp and can crash the process later,
so `verify_whisper_model` runs a first transcribe in a subprocess.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.asr.whispercpp import verify_whisper_model
from edge.core.errors import ModelError, UserError
from edge.ops.whisper_ggml import (
    GGML_MAGIC,
    GGML_TYPE_F16,
    GGML_TYPE_F32,
    HPARAM_NAMES,
    HPARAMS,
    write_tensor_record,
)

__all__ = ["SHAPES", "WhisperShape", "default_stub_path", "verify_whisper_model", "write_random_whisper_model"]

STUB_NAME = "ggml-tiny-vocab-only-stub.bin"


@dataclass(frozen=True)
class WhisperShape:
    n_state: int
    n_head: int
    n_layer: int


SHAPES: dict[str, WhisperShape] = {
    "tiny": WhisperShape(n_state=384, n_head=6, n_layer=4),
    "base": WhisperShape(n_state=512, n_head=8, n_layer=6),
}


@dataclass(frozen=True)
class _Tensor:
    name: str
    shape: tuple[int, ...]  # numpy (outermost first); ggml dims are this reversed
    f16: bool
    std: float  # 0 with `fill` for constants
    fill: float = 0.0


def default_stub_path() -> Path:
    """The vocab-only stub in the shared fixtures beside a source checkout (EDGE_FIXTURES_DIR overrides)."""
    fixtures = os.environ.get("EDGE_FIXTURES_DIR")
    base = Path(fixtures) if fixtures else Path(__file__).resolve().parents[3].parent / "shared" / "fixtures"
    return base / "models" / STUB_NAME


def write_random_whisper_model(stub: Path, out: Path, shape: str = "tiny", seed: int = 0) -> Path:
    """Write a whisper.cpp model of the real `shape` with random weights; returns `out`.

    The same stub, shape and seed always give the same bytes. The file appears atomically.
    """
    if shape not in SHAPES:
        raise UserError(f"unknown whisper shape {shape!r}; use one of: {', '.join(SHAPES)}")
    header, hparams = _read_stub(Path(stub), SHAPES[shape])
    out = Path(out)
    if out.is_dir():
        raise UserError(f"{out} is a directory; give a file path for the model")
    rng = np.random.default_rng(seed)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(header)
            for tensor in _tensors(hparams):
                _write_tensor(f, tensor, rng)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _read_stub(stub: Path, shape: WhisperShape) -> tuple[bytes, dict[str, int]]:
    """Header, mel filters and vocabulary of the stub, with the hparams set for `shape`."""
    hint = f"pass the vocab-only whisper.cpp test model ({STUB_NAME}) with --stub"
    try:
        data = stub.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read the stub model {stub}: {exc.strerror or exc}; {hint}") from exc
    try:
        (magic,) = struct.unpack_from("<I", data, 0)
        if magic != GGML_MAGIC:
            raise ModelError(f"{stub} is not a whisper.cpp ggml file (bad magic); {hint}")
        hparams = dict(zip(HPARAM_NAMES, HPARAMS.unpack_from(data, 4), strict=True))
        offset = 4 + HPARAMS.size
        n_mel, n_fft = struct.unpack_from("<2i", data, offset)
        offset += 8 + 4 * n_mel * n_fft
        (n_words,) = struct.unpack_from("<i", data, offset)
        offset += 4
        for _ in range(n_words):
            (length,) = struct.unpack_from("<i", data, offset)
            offset += 4 + length
        if offset > len(data) or n_mel != hparams["n_mels"]:
            raise struct.error("truncated")
    except struct.error as exc:
        raise ModelError(f"{stub} is truncated or not a whisper.cpp model; {hint}") from exc
    hparams.update(
        n_audio_state=shape.n_state,
        n_audio_head=shape.n_head,
        n_audio_layer=shape.n_layer,
        n_text_state=shape.n_state,
        n_text_head=shape.n_head,
        n_text_layer=shape.n_layer,
        ftype=1,  # mostly f16: the loader then expects f16 matrices
    )
    # Anything after the vocabulary (tensors of a non-stub file) is left out.
    header = struct.pack("<I", GGML_MAGIC) + HPARAMS.pack(*hparams.values()) + data[4 + HPARAMS.size : offset]
    return header, hparams


def _tensors(hp: dict[str, int]) -> Iterator[_Tensor]:
    """Every tensor whisper.cpp's loader expects, with numpy shapes and init scales.

    Matrices get std 1/sqrt(fan_in) so activations stay near unit scale through the residual
    stream; layer norms start at identity and biases near zero, so f16 never overflows.
    """
    n_audio, n_text, n_mels = hp["n_audio_state"], hp["n_text_state"], hp["n_mels"]

    def linear(name: str, n_in: int, n_out: int, bias: bool = True) -> Iterator[_Tensor]:
        yield _Tensor(f"{name}.weight", (n_out, n_in), True, n_in**-0.5)
        if bias:
            yield _Tensor(f"{name}.bias", (n_out,), False, 0.02)

    def norm(name: str, n: int) -> Iterator[_Tensor]:
        yield _Tensor(f"{name}.weight", (n,), False, 0.0, fill=1.0)
        yield _Tensor(f"{name}.bias", (n,), False, 0.0)

    def attention(name: str, n: int) -> Iterator[_Tensor]:
        yield from linear(f"{name}.query", n, n)
        yield from linear(f"{name}.key", n, n, bias=False)
        yield from linear(f"{name}.value", n, n)
        yield from linear(f"{name}.out", n, n)

    def block(prefix: str, n: int, cross: bool) -> Iterator[_Tensor]:
        yield from norm(f"{prefix}.attn_ln", n)
        yield from attention(f"{prefix}.attn", n)
        if cross:
            yield from norm(f"{prefix}.cross_attn_ln", n)
            yield from attention(f"{prefix}.cross_attn", n)
        yield from norm(f"{prefix}.mlp_ln", n)
        yield from linear(f"{prefix}.mlp.0", n, 4 * n)
        yield from linear(f"{prefix}.mlp.2", 4 * n, n)

    yield _Tensor("encoder.positional_embedding", (hp["n_audio_ctx"], n_audio), False, 0.02)
    yield _Tensor("encoder.conv1.weight", (n_audio, n_mels, 3), True, (3 * n_mels) ** -0.5)
    yield _Tensor("encoder.conv1.bias", (n_audio, 1), False, 0.02)
    yield _Tensor("encoder.conv2.weight", (n_audio, n_audio, 3), True, (3 * n_audio) ** -0.5)
    yield _Tensor("encoder.conv2.bias", (n_audio, 1), False, 0.02)
    for i in range(hp["n_audio_layer"]):
        yield from block(f"encoder.blocks.{i}", n_audio, cross=False)
    yield from norm("encoder.ln_post", n_audio)

    yield _Tensor("decoder.positional_embedding", (hp["n_text_ctx"], n_text), False, 0.02)
    yield _Tensor("decoder.token_embedding.weight", (hp["n_vocab"], n_text), True, n_text**-0.5)
    for i in range(hp["n_text_layer"]):
        yield from block(f"decoder.blocks.{i}", n_text, cross=True)
    yield from norm("decoder.ln", n_text)


def _write_tensor(f, tensor: _Tensor, rng: np.random.Generator) -> None:
    dtype = np.float16 if tensor.f16 else np.float32
    if tensor.std > 0:
        values = (rng.standard_normal(tensor.shape, dtype=np.float32) * np.float32(tensor.std)).astype(dtype)
    else:
        values = np.full(tensor.shape, tensor.fill, dtype=dtype)
    ggml_type = GGML_TYPE_F16 if tensor.f16 else GGML_TYPE_F32
    data = values.astype(values.dtype.newbyteorder("<")).tobytes()
    write_tensor_record(f, tensor.name, tensor.shape, ggml_type, data)
