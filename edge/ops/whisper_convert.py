"""Whisper checkpoints in CTranslate2 (faster-whisper) or Hugging Face transformers (safetensors)
format, converted to whisper.cpp's ggml file.

Korean fine-tuned Whisper models are published in exactly these two formats. The vocabulary comes
from the checkpoint's own tokenizer (tokenizer.json or vocab.json), never from another model: a
vocabulary with bytes missing turns Hangul that spans byte tokens into U+FFFD.
"""

from __future__ import annotations

import json
import mmap
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.core.errors import ModelError, UserError
from edge.ops.byte_bpe import token_bytes
from edge.ops.whisper_ggml import GGML_MAGIC, WhisperHparams, write_whisper_ggml

EOT = "<|endoftext|>"
CT2_MAX_BINARY_VERSION = 6
# CTranslate2's DataType enum.
CT2_DTYPES = {0: "<f4", 1: "i1", 2: "<i2", 3: "<i4", 4: "<f2", 5: "bfloat16"}
SAFETENSORS_DTYPES = {"F32": "<f4", "F16": "<f2", "BF16": "bfloat16"}
SAFETENSORS_INDEX = "model.safetensors.index.json"  # a checkpoint split into shards


@dataclass
class WhisperCheckpoint:
    """A checkpoint's tensors under whisper.cpp's (OpenAI's) names, in numpy order."""

    format: str
    hparams: WhisperHparams
    tensors: dict[str, np.ndarray]
    vocabulary: list[bytes]


def convert_whisper(
    source: Path, out: Path, *, file_type: str = "f16", tokenizer: Path | None = None
) -> WhisperCheckpoint:
    """Write the checkpoint at `source` as a whisper.cpp model `out`; returns what was read."""
    checkpoint = load_checkpoint(source, tokenizer=tokenizer)
    # One order whatever the source format, so the same weights always give the same file.
    tensors = ((name, checkpoint.tensors[name]) for name in expected_shapes(checkpoint.hparams))
    write_whisper_ggml(out, checkpoint.hparams, checkpoint.vocabulary, tensors, file_type=file_type)
    return checkpoint


def load_checkpoint(source: Path, *, tokenizer: Path | None = None) -> WhisperCheckpoint:
    """Read a CTranslate2 or transformers Whisper checkpoint directory; ModelError naming what is wrong."""
    source = Path(source)
    if not source.exists():
        raise UserError(f"{source} does not exist; give the folder of a Whisper checkpoint")
    folder = source if source.is_dir() else source.parent
    if (source.is_file() and source.name.endswith(".bin")) or (folder / "model.bin").is_file():
        model_file = source if source.is_file() else folder / "model.bin"
        read = _read_ct2
    elif source.is_file() and source.name.endswith((".safetensors", ".safetensors.index.json")):
        model_file, read = source, _read_transformers
    elif (folder / "model.safetensors").is_file() or (folder / SAFETENSORS_INDEX).is_file():
        single = folder / "model.safetensors"
        model_file, read = (single if single.is_file() else folder / SAFETENSORS_INDEX), _read_transformers
    else:
        raise UserError(
            f"{source} holds neither model.bin (CTranslate2 / faster-whisper) nor model.safetensors or "
            f"{SAFETENSORS_INDEX} (Hugging Face transformers); give the folder of a Whisper checkpoint in one "
            "of these formats"
        )
    if read is _read_ct2:
        read_ct2_index(model_file)  # a wrong file is named before a missing tokenizer
    vocabulary = read_vocabulary(tokenizer or _find_tokenizer(folder))
    checkpoint = read(model_file, vocabulary)
    _check_shapes(checkpoint, model_file)
    return checkpoint


def _find_tokenizer(folder: Path) -> Path:
    for name in ("tokenizer.json", "vocab.json"):
        if (folder / name).is_file():
            return folder / name
    raise UserError(
        f"{folder} has no tokenizer.json or vocab.json; the vocabulary must come from the model's own "
        "tokenizer (pass it with --tokenizer)"
    )


def read_vocabulary(path: Path) -> list[bytes]:
    """The regular tokens (ids below <|endoftext|>) as raw bytes, in id order, from a Hugging Face
    tokenizer.json or vocab.json; whisper.cpp derives the special tokens from the model's n_vocab."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"tokenizer {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path} is not a readable JSON tokenizer ({exc})") from None
    if not isinstance(document, dict):
        raise ModelError(f"{path} is not a tokenizer.json or vocab.json (expected a JSON object)")
    model = document.get("model")
    if isinstance(model, dict):
        if model.get("type") != "BPE" or not isinstance(model.get("vocab"), dict):
            raise ModelError(f"{path}: the tokenizer is not byte-level BPE as Whisper's is")
        vocab: dict[str, int] = dict(model["vocab"])
        for added in document.get("added_tokens", []):
            vocab.setdefault(added["content"], added["id"])
    else:
        vocab = document
    eot = vocab.get(EOT)
    if not isinstance(eot, int):
        raise ModelError(f"{path} has no {EOT} token: it is not a Whisper tokenizer")
    by_id: dict[int, str] = {}
    for token, token_id in vocab.items():
        if isinstance(token_id, int) and token_id < eot:
            by_id[token_id] = token
    if sorted(by_id) != list(range(eot)):
        missing = next(i for i in range(eot) if i not in by_id)
        raise ModelError(f"{path}: token id {missing} is missing below {EOT} ({eot}); the vocabulary is incomplete")
    try:
        return [token_bytes(by_id[i]) for i in range(eot)]
    except ValueError as exc:
        raise ModelError(f"{path}: {exc}; it is not a byte-level BPE vocabulary") from None


# --- CTranslate2 ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ct2Variable:
    name: str
    shape: tuple[int, ...]
    dtype: str
    offset: int
    nbytes: int


def read_ct2_index(path: Path) -> tuple[str, dict[str, Ct2Variable], dict[str, str]]:
    """(spec name, variables, aliases) of a CTranslate2 model.bin, without reading the weights."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            f.seek(0)
            return _parse_ct2_index(f, size, path)
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (struct.error, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} is truncated or not a CTranslate2 model.bin ({exc})") from None


def _parse_ct2_index(f, size: int, path: Path) -> tuple[str, dict[str, Ct2Variable], dict[str, str]]:
    def read(fmt: str) -> tuple:
        raw = f.read(struct.calcsize("<" + fmt))
        return struct.unpack("<" + fmt, raw)

    def read_string() -> str:
        (length,) = read("H")
        raw = f.read(length)
        if len(raw) != length:
            raise struct.error("string cut short")
        return raw.rstrip(b"\0").decode("utf-8")

    (version,) = read("I")
    if version == GGML_MAGIC:
        raise UserError(f"{path} is already a whisper.cpp ggml model; use it as it is")
    if version & 0xFFFF == 0x4B50:  # "PK": a zip, as PyTorch saves pytorch_model.bin
        raise UserError(
            f"{path} is a PyTorch checkpoint, not CTranslate2; save the model as safetensors "
            "(save_pretrained(..., safe_serialization=True)) or convert it with ct2-transformers-converter"
        )
    if not 2 <= version <= CT2_MAX_BINARY_VERSION:
        raise ModelError(
            f"{path} is not a CTranslate2 model.bin this converter reads (binary version {version}; "
            f"versions 2-{CT2_MAX_BINARY_VERSION} are supported)"
        )
    spec = read_string()
    read("I")  # spec revision
    (count,) = read("I")
    variables: dict[str, Ct2Variable] = {}
    for _ in range(count):
        name = read_string()
        (rank,) = read("B")
        shape = read(f"{rank}I")
        if version >= 4:
            type_id, nbytes = read("BI")
        else:
            item_size, n_items = read("BI")
            type_id = {4: 0, 2: 4, 1: 1}.get(item_size, -1)
            nbytes = item_size * n_items
        if type_id not in CT2_DTYPES:
            raise ModelError(f"{path}: variable {name} has an unknown data type ({type_id})")
        offset = f.tell()
        if offset + nbytes > size:
            raise struct.error(f"variable {name} is cut short")
        f.seek(nbytes, 1)
        variables[name] = Ct2Variable(name, tuple(shape), CT2_DTYPES[type_id], offset, nbytes)
    aliases: dict[str, str] = {}
    if version >= 3:
        (n_aliases,) = read("I")
        for _ in range(n_aliases):
            alias = read_string()
            aliases[alias] = read_string()
    return spec, variables, aliases


def _as_array(buffer: mmap.mmap | bytes, variable: Ct2Variable | tuple[str, tuple[int, ...], int, int]) -> np.ndarray:
    dtype, shape, offset, nbytes = (
        (variable.dtype, variable.shape, variable.offset, variable.nbytes)
        if isinstance(variable, Ct2Variable)
        else variable
    )
    if dtype == "bfloat16":
        raw = np.frombuffer(buffer, "<u2", nbytes // 2, offset).astype(np.uint32) << 16
        return raw.view(np.float32).reshape(shape)
    return np.frombuffer(buffer, dtype, nbytes // np.dtype(dtype).itemsize, offset).reshape(shape)


def _read_ct2(path: Path, vocabulary: list[bytes]) -> WhisperCheckpoint:
    spec, variables, _aliases = read_ct2_index(path)
    if spec != "WhisperSpec":
        raise ModelError(f"{path} is a CTranslate2 {spec or 'model'} model, not Whisper")
    reader = _Ct2Whisper(path, variables)
    return WhisperCheckpoint("CTranslate2", reader.hparams, reader.tensors(), vocabulary)


class _Ct2Whisper:
    """CTranslate2's WhisperSpec variables under whisper.cpp's names, read from a memory map."""

    def __init__(self, path: Path, variables: dict[str, Ct2Variable]) -> None:
        self.path = path
        self.variables = variables
        with open(path, "rb") as f:
            self.buffer = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        conv1 = self.get("encoder/conv1/weight")
        embeddings = self.get("decoder/embeddings/weight")
        self.hparams = WhisperHparams(
            n_vocab=embeddings.shape[0],
            n_audio_ctx=self.get("encoder/position_encodings/encodings").shape[0],
            n_audio_state=conv1.shape[0],
            n_audio_head=int(self.raw("encoder/num_heads").reshape(-1)[0]),
            n_audio_layer=self.layers("encoder"),
            n_text_ctx=self.get("decoder/position_encodings/encodings").shape[0],
            n_text_state=embeddings.shape[1],
            n_text_head=int(self.raw("decoder/num_heads").reshape(-1)[0]),
            n_text_layer=self.layers("decoder"),
            n_mels=conv1.shape[1],
        )

    def raw(self, name: str) -> np.ndarray:
        if name not in self.variables:
            raise ModelError(f"{self.path} lacks the variable {name}; it is not a complete Whisper model")
        return _as_array(self.buffer, self.variables[name])

    def get(self, name: str) -> np.ndarray:
        """Float values of `name` (int8 weights dequantised per row with their `weight_scale`)."""
        values = self.raw(name)
        scale = self.variables.get(name.removesuffix("weight") + "weight_scale")
        if values.dtype == np.int8 and scale is not None:
            return values.astype(np.float32) / _as_array(self.buffer, scale).astype(np.float32).reshape(-1, 1)
        if values.dtype.kind != "f":
            raise ModelError(f"{self.path}: {name} has data type {values.dtype}, which cannot be converted")
        return values

    def layers(self, side: str) -> int:
        pattern = re.compile(rf"{side}/layer_(\d+)/")
        found = {int(m.group(1)) for name in self.variables if (m := pattern.match(name))}
        return max(found) + 1 if found else 0

    def tensors(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {"encoder.positional_embedding": self.get("encoder/position_encodings/encodings")}
        for i in (1, 2):
            out[f"encoder.conv{i}.weight"] = self.get(f"encoder/conv{i}/weight")
            out[f"encoder.conv{i}.bias"] = self.get(f"encoder/conv{i}/bias").reshape(-1, 1)
        for i in range(self.hparams.n_audio_layer):
            self._block(out, f"encoder/layer_{i}", f"encoder.blocks.{i}", cross=False)
        self._norm(out, "encoder.ln_post", "encoder/layer_norm")
        out["decoder.positional_embedding"] = self.get("decoder/position_encodings/encodings")
        out["decoder.token_embedding.weight"] = self.get("decoder/embeddings/weight")
        for i in range(self.hparams.n_text_layer):
            self._block(out, f"decoder/layer_{i}", f"decoder.blocks.{i}", cross=True)
        self._norm(out, "decoder.ln", "decoder/layer_norm")
        return out

    def _block(self, out: dict[str, np.ndarray], src: str, dst: str, *, cross: bool) -> None:
        # Query, key and value are one fused matrix in CTranslate2, and the cross attention's key and
        # value another; Whisper's key has no bias (zeros inside the fusion).
        self._norm(out, f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        for index, projection in enumerate(("query", "key", "value")):
            self._linear(out, f"{dst}.attn.{projection}", f"{src}/self_attention/linear_0", split=(index, 3))
        self._linear(out, f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        if cross:
            self._norm(out, f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
            self._linear(out, f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
            self._linear(out, f"{dst}.cross_attn.key", f"{src}/attention/linear_1", split=(0, 2))
            self._linear(out, f"{dst}.cross_attn.value", f"{src}/attention/linear_1", split=(1, 2))
            self._linear(out, f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
        self._norm(out, f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
        self._linear(out, f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        self._linear(out, f"{dst}.mlp.2", f"{src}/ffn/linear_1")

    def _linear(self, out: dict[str, np.ndarray], target: str, source: str, split: tuple[int, int] = (0, 1)) -> None:
        index, parts = split
        weight, bias = self.get(f"{source}/weight"), self.get(f"{source}/bias")
        rows = weight.shape[0] // parts
        part = slice(index * rows, (index + 1) * rows)
        out[f"{target}.weight"] = weight[part]
        if not target.endswith(".key"):
            out[f"{target}.bias"] = bias[part]
        elif np.any(bias[part]):
            raise ModelError(f"{self.path}: {source} has a key bias; Whisper's key projection has none")

    def _norm(self, out: dict[str, np.ndarray], target: str, source: str) -> None:
        out[f"{target}.weight"] = self.get(f"{source}/gamma")
        out[f"{target}.bias"] = self.get(f"{source}/beta")


# --- Hugging Face transformers ------------------------------------------------------------------------

_HF_RENAMES = (
    (r"^model\.encoder\.embed_positions\.weight$", "encoder.positional_embedding"),
    (r"^model\.decoder\.embed_positions\.weight$", "decoder.positional_embedding"),
    (r"^model\.decoder\.embed_tokens\.weight$", "decoder.token_embedding.weight"),
    (r"^model\.encoder\.layer_norm\.", "encoder.ln_post."),
    (r"^model\.decoder\.layer_norm\.", "decoder.ln."),
    (r"^model\.(encoder|decoder)\.layers\.", r"\1.blocks."),
    (r"^model\.encoder\.conv", "encoder.conv"),
    (r"\.self_attn_layer_norm\.", ".attn_ln."),
    (r"\.encoder_attn_layer_norm\.", ".cross_attn_ln."),
    (r"\.final_layer_norm\.", ".mlp_ln."),
    (r"\.self_attn\.", ".attn."),
    (r"\.encoder_attn\.", ".cross_attn."),
    (r"\.q_proj\.", ".query."),
    (r"\.k_proj\.", ".key."),
    (r"\.v_proj\.", ".value."),
    (r"\.out_proj\.", ".out."),
    (r"\.fc1\.", ".mlp.0."),
    (r"\.fc2\.", ".mlp.2."),
)


def transformers_name(name: str) -> str | None:
    """whisper.cpp's name for a transformers WhisperForConditionalGeneration tensor (None: not needed)."""
    if name == "proj_out.weight":  # tied to the token embedding
        return None
    if name.startswith(("encoder.", "decoder.")):  # saved from WhisperModel rather than ...ForConditionalGeneration
        name = "model." + name
    for pattern, replacement in _HF_RENAMES:
        name = re.sub(pattern, replacement, name)
    return name


def _read_transformers(path: Path, vocabulary: list[bytes]) -> WhisperCheckpoint:
    config_path = path.parent / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{config_path} is missing; a transformers checkpoint needs its config.json") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{config_path} is not readable JSON ({exc})") from None
    if config.get("model_type") != "whisper":
        raise ModelError(f"{config_path}: model_type is {config.get('model_type')!r}, not 'whisper'")
    try:
        hparams = WhisperHparams(
            n_vocab=config["vocab_size"],
            n_audio_ctx=config["max_source_positions"],
            n_audio_state=config["d_model"],
            n_audio_head=config["encoder_attention_heads"],
            n_audio_layer=config["encoder_layers"],
            n_text_ctx=config["max_target_positions"],
            n_text_state=config["d_model"],
            n_text_head=config["decoder_attention_heads"],
            n_text_layer=config["decoder_layers"],
            n_mels=config["num_mel_bins"],
        )
    except KeyError as exc:
        raise ModelError(f"{config_path} lacks {exc.args[0]!r}; it is not a Whisper config") from None
    tensors: dict[str, np.ndarray] = {}
    for shard in _shards(path):
        for name, values in _safetensors(shard):
            target = transformers_name(name)
            if target is None:
                continue
            if target in ("encoder.conv1.bias", "encoder.conv2.bias"):
                values = values.reshape(-1, 1)
            tensors[target] = values
    return WhisperCheckpoint("transformers", hparams, tensors, vocabulary)


def _shards(path: Path) -> list[Path]:
    if not path.name.endswith(".index.json"):
        return [path]
    try:
        weight_map = json.loads(path.read_text(encoding="utf-8"))["weight_map"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{path} is not a safetensors shard index ({exc})") from None
    shards = [path.parent / name for name in dict.fromkeys(weight_map.values())]
    missing = [shard.name for shard in shards if not shard.is_file()]
    if missing:
        raise UserError(f"{path} lists {len(missing)} missing shard(s), first {missing[0]}; download all of them")
    return shards


def _safetensors(path: Path) -> Iterator[tuple[str, np.ndarray]]:
    try:
        with open(path, "rb") as f:
            buffer = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        (header_size,) = struct.unpack_from("<Q", buffer, 0)
        header = json.loads(bytes(buffer[8 : 8 + header_size]))
    except (OSError, ValueError, struct.error) as exc:
        raise ModelError(f"{path} is not a safetensors file ({exc})") from None
    base = 8 + header_size
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = SAFETENSORS_DTYPES.get(entry.get("dtype"))
        if dtype is None:
            raise ModelError(f"{path}: {name} has data type {entry.get('dtype')}, which cannot be converted")
        start, end = entry["data_offsets"]
        if base + end > len(buffer):
            raise ModelError(f"{path} is truncated ({name} is cut short)")
        yield name, _as_array(buffer, (dtype, tuple(entry["shape"]), base + start, end - start))


# --- checks -------------------------------------------------------------------------------------------


def expected_shapes(hp: WhisperHparams) -> dict[str, tuple[int, ...]]:
    """Every tensor whisper.cpp loads, with its numpy shape."""
    shapes: dict[str, tuple[int, ...]] = {
        "encoder.positional_embedding": (hp.n_audio_ctx, hp.n_audio_state),
        "encoder.conv1.weight": (hp.n_audio_state, hp.n_mels, 3),
        "encoder.conv1.bias": (hp.n_audio_state, 1),
        "encoder.conv2.weight": (hp.n_audio_state, hp.n_audio_state, 3),
        "encoder.conv2.bias": (hp.n_audio_state, 1),
        "encoder.ln_post.weight": (hp.n_audio_state,),
        "encoder.ln_post.bias": (hp.n_audio_state,),
        "decoder.positional_embedding": (hp.n_text_ctx, hp.n_text_state),
        "decoder.token_embedding.weight": (hp.n_vocab, hp.n_text_state),
        "decoder.ln.weight": (hp.n_text_state,),
        "decoder.ln.bias": (hp.n_text_state,),
    }

    def block(prefix: str, n: int, cross: bool) -> None:
        parts = ["attn", "cross_attn"] if cross else ["attn"]
        for part in parts:
            for ln in (f"{part}_ln.weight", f"{part}_ln.bias"):
                shapes[f"{prefix}.{ln}"] = (n,)
            for projection in ("query", "key", "value", "out"):
                shapes[f"{prefix}.{part}.{projection}.weight"] = (n, n)
                if projection != "key":
                    shapes[f"{prefix}.{part}.{projection}.bias"] = (n,)
        shapes[f"{prefix}.mlp_ln.weight"] = shapes[f"{prefix}.mlp_ln.bias"] = (n,)
        shapes[f"{prefix}.mlp.0.weight"], shapes[f"{prefix}.mlp.0.bias"] = (4 * n, n), (4 * n,)
        shapes[f"{prefix}.mlp.2.weight"], shapes[f"{prefix}.mlp.2.bias"] = (n, 4 * n), (n,)

    for i in range(hp.n_audio_layer):
        block(f"encoder.blocks.{i}", hp.n_audio_state, cross=False)
    for i in range(hp.n_text_layer):
        block(f"decoder.blocks.{i}", hp.n_text_state, cross=True)
    return shapes


def _check_shapes(checkpoint: WhisperCheckpoint, source: Path) -> None:
    expected = expected_shapes(checkpoint.hparams)
    missing = sorted(set(expected) - set(checkpoint.tensors))
    if missing:
        raise ModelError(f"{source} lacks {len(missing)} Whisper tensor(s), first {missing[0]}; is it a Whisper model?")
    extra = sorted(set(checkpoint.tensors) - set(expected))
    if extra:
        raise ModelError(f"{source} has tensors a Whisper model does not ({extra[0]}, ...); it cannot be converted")
    for name, shape in expected.items():
        if checkpoint.tensors[name].shape != shape:
            raise ModelError(f"{source}: {name} has shape {checkpoint.tensors[name].shape}, expected {shape}")
    # whisper.cpp numbers the special tokens from fixed ids: <|endoftext|> is 50257 in multilingual
    # models (n_vocab >= 51865) and 50256 in English-only ones.
    regular = 50257 if checkpoint.hparams.multilingual else 50256
    if len(checkpoint.vocabulary) != regular:
        raise ModelError(
            f"the tokenizer has {len(checkpoint.vocabulary)} tokens below <|endoftext|>, but a Whisper model with "
            f"{checkpoint.hparams.n_vocab} token embeddings has {regular}; use the tokenizer that belongs to this model"
        )
