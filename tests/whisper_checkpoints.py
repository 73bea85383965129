"""Small random-weight Whisper checkpoints written in CTranslate2 and transformers formats, for the
converter's tests: the same weights in both, so both conversions must give the same file."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from edge.ops.byte_bpe import byte_to_unicode

N_STATE, N_HEAD, N_LAYER, N_MELS, AUDIO_CTX, TEXT_CTX = 64, 2, 1, 80, 1500, 448
N_VOCAB = 51865  # multilingual: whisper.cpp derives the special tokens from this
CT2_FLOAT16, CT2_INT8, CT2_INT16 = 4, 1, 2


N_REGULAR = 50257  # tokens below <|endoftext|> in a multilingual model


def tokens() -> list[str]:
    """A byte-level vocabulary of Whisper's size: the 256 bytes, a Hangul syllable, then pairs of bytes."""
    alphabet = list(byte_to_unicode().values())
    pieces = [*alphabet, "".join(byte_to_unicode()[b] for b in "한".encode())]
    pairs = (a + b for a in alphabet for b in alphabet)
    while len(pieces) < N_REGULAR:
        pieces.append(next(pairs))
    return pieces


def write_tokenizer_json(path: Path) -> Path:
    vocab = {token: i for i, token in enumerate(tokens())}
    eot = len(vocab)
    added = [{"id": eot + i, "content": name, "special": True} for i, name in enumerate(
        ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|ko|>"]
    )]
    vocab["<|endoftext|>"] = eot
    path.write_text(json.dumps({"model": {"type": "BPE", "vocab": vocab, "merges": []}, "added_tokens": added}))
    return path


def random_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """whisper.cpp-named float16 weights of a one-layer model, keys without bias where Whisper has none."""
    rng = np.random.default_rng(seed)
    n = N_STATE

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.05).astype(np.float16)

    weights = {
        "encoder.positional_embedding": w(AUDIO_CTX, n),
        "encoder.conv1.weight": w(n, N_MELS, 3),
        "encoder.conv1.bias": w(n),
        "encoder.conv2.weight": w(n, n, 3),
        "encoder.conv2.bias": w(n),
        "encoder.ln_post.weight": w(n),
        "encoder.ln_post.bias": w(n),
        "decoder.positional_embedding": w(TEXT_CTX, n),
        "decoder.token_embedding.weight": w(N_VOCAB, n),
        "decoder.ln.weight": w(n),
        "decoder.ln.bias": w(n),
    }
    for prefix, parts in (("encoder.blocks.0", ["attn"]), ("decoder.blocks.0", ["attn", "cross_attn"])):
        for part in parts:
            weights[f"{prefix}.{part}_ln.weight"] = w(n)
            weights[f"{prefix}.{part}_ln.bias"] = w(n)
            for projection in ("query", "key", "value", "out"):
                weights[f"{prefix}.{part}.{projection}.weight"] = w(n, n)
                if projection != "key":
                    weights[f"{prefix}.{part}.{projection}.bias"] = w(n)
        weights[f"{prefix}.mlp_ln.weight"] = w(n)
        weights[f"{prefix}.mlp_ln.bias"] = w(n)
        weights[f"{prefix}.mlp.0.weight"] = w(4 * n, n)
        weights[f"{prefix}.mlp.0.bias"] = w(4 * n)
        weights[f"{prefix}.mlp.2.weight"] = w(n, 4 * n)
        weights[f"{prefix}.mlp.2.bias"] = w(n)
    return weights


def ct2_variables(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same weights under CTranslate2's WhisperSpec names, with query/key/value and the cross
    attention's key/value fused and a zero key bias inside the fusion, as its converter writes them."""
    zeros = np.zeros(N_STATE, dtype=np.float16)
    out: dict[str, np.ndarray] = {
        "encoder/num_heads": np.array(N_HEAD, dtype=np.int16),
        "decoder/num_heads": np.array(N_HEAD, dtype=np.int16),
        "decoder/pre_norm": np.array(1, dtype=np.int8),
        "encoder/position_encodings/encodings": weights["encoder.positional_embedding"],
        "decoder/position_encodings/encodings": weights["decoder.positional_embedding"],
        "decoder/embeddings/weight": weights["decoder.token_embedding.weight"],
    }
    for i in (1, 2):
        out[f"encoder/conv{i}/weight"] = weights[f"encoder.conv{i}.weight"]
        out[f"encoder/conv{i}/bias"] = weights[f"encoder.conv{i}.bias"]

    def norm(target: str, source: str) -> None:
        out[f"{target}/gamma"] = weights[f"{source}.weight"]
        out[f"{target}/beta"] = weights[f"{source}.bias"]

    def linear(target: str, source: str) -> None:
        out[f"{target}/weight"] = weights[f"{source}.weight"]
        out[f"{target}/bias"] = weights[f"{source}.bias"]

    def fused(target: str, source: str, names: list[str]) -> None:
        out[f"{target}/weight"] = np.concatenate([weights[f"{source}.{name}.weight"] for name in names])
        out[f"{target}/bias"] = np.concatenate(
            [zeros if name == "key" else weights[f"{source}.{name}.bias"] for name in names]
        )

    for side in ("encoder", "decoder"):
        src, dst = f"{side}.blocks.0", f"{side}/layer_0"
        norm(f"{dst}/self_attention/layer_norm", f"{src}.attn_ln")
        fused(f"{dst}/self_attention/linear_0", f"{src}.attn", ["query", "key", "value"])
        linear(f"{dst}/self_attention/linear_1", f"{src}.attn.out")
        norm(f"{dst}/ffn/layer_norm", f"{src}.mlp_ln")
        linear(f"{dst}/ffn/linear_0", f"{src}.mlp.0")
        linear(f"{dst}/ffn/linear_1", f"{src}.mlp.2")
    src = "decoder.blocks.0"
    norm("decoder/layer_0/attention/layer_norm", f"{src}.cross_attn_ln")
    linear("decoder/layer_0/attention/linear_0", f"{src}.cross_attn.query")
    fused("decoder/layer_0/attention/linear_1", f"{src}.cross_attn", ["key", "value"])
    linear("decoder/layer_0/attention/linear_2", f"{src}.cross_attn.out")
    norm("encoder/layer_norm", "encoder.ln_post")
    norm("decoder/layer_norm", "decoder.ln")
    return out


def write_ct2_model(
    folder: Path, variables: dict[str, np.ndarray], *, spec: str = "WhisperSpec", version: int = 6
) -> Path:
    """A CTranslate2 model.bin (binary version 6 layout) plus tokenizer.json in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    type_ids = {np.dtype(np.float16): CT2_FLOAT16, np.dtype(np.int8): CT2_INT8, np.dtype(np.int16): CT2_INT16,
                np.dtype(np.float32): 0}

    def string(text: str) -> bytes:
        raw = text.encode() + b"\0"
        return struct.pack("<H", len(raw)) + raw

    with open(folder / "model.bin", "wb") as f:
        f.write(struct.pack("<I", version) + string(spec) + struct.pack("<I", 3))
        f.write(struct.pack("<I", len(variables)))
        for name, values in sorted(variables.items()):
            data = np.ascontiguousarray(values).astype(values.dtype.newbyteorder("<")).tobytes()
            f.write(string(name) + struct.pack("<B", values.ndim) + struct.pack(f"<{values.ndim}I", *values.shape))
            f.write(struct.pack("<BI", type_ids[values.dtype], len(data)) + data)
        f.write(struct.pack("<I", 1) + string("decoder/projection/weight") + string("decoder/embeddings/weight"))
    write_tokenizer_json(folder / "tokenizer.json")
    return folder


def _write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    blobs = []
    for name, values in tensors.items():
        data = values.astype("<f2").tobytes()
        header[name] = {"dtype": "F16", "shape": list(values.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded)
        for blob in blobs:
            f.write(blob)


_HF_NAMES = {
    "encoder.positional_embedding": "model.encoder.embed_positions.weight",
    "decoder.positional_embedding": "model.decoder.embed_positions.weight",
    "decoder.token_embedding.weight": "model.decoder.embed_tokens.weight",
}
_HF_PARTS = (
    ("encoder.ln_post.", "model.encoder.layer_norm."), ("decoder.ln.", "model.decoder.layer_norm."),
    ("encoder.conv", "model.encoder.conv"), ("encoder.blocks.", "model.encoder.layers."),
    ("decoder.blocks.", "model.decoder.layers."), (".cross_attn_ln.", ".encoder_attn_layer_norm."),
    (".attn_ln.", ".self_attn_layer_norm."), (".mlp_ln.", ".final_layer_norm."),
    (".cross_attn.", ".encoder_attn."), (".attn.", ".self_attn."), (".query.", ".q_proj."),
    (".key.", ".k_proj."), (".value.", ".v_proj."), (".out.", ".out_proj."), (".mlp.0.", ".fc1."),
    (".mlp.2.", ".fc2."),
)


def hf_name(name: str) -> str:
    if name in _HF_NAMES:
        return _HF_NAMES[name]
    for old, new in _HF_PARTS:
        name = name.replace(old, new)
    return name


def write_transformers_model(
    folder: Path, weights: dict[str, np.ndarray], *, shards: int = 1, prefix: str = "model."
) -> Path:
    """WhisperForConditionalGeneration as saved by transformers: model.safetensors (or `shards` files
    and their index), config.json and vocab.json. prefix="" gives WhisperModel's names."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {prefix + hf_name(name).removeprefix("model."): values for name, values in weights.items()}
    if prefix:
        tensors["proj_out.weight"] = weights["decoder.token_embedding.weight"]
    names = list(tensors)
    weight_map = {}
    for shard in range(shards):
        filename = "model.safetensors" if shards == 1 else f"model-{shard + 1:05d}-of-{shards:05d}.safetensors"
        _write_safetensors(folder / filename, {name: tensors[name] for name in names[shard::shards]})
        weight_map.update(dict.fromkeys(names[shard::shards], filename))
    if shards > 1:
        (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    config = {
        "model_type": "whisper", "vocab_size": N_VOCAB, "num_mel_bins": N_MELS, "d_model": N_STATE,
        "encoder_layers": N_LAYER, "decoder_layers": N_LAYER, "encoder_attention_heads": N_HEAD,
        "decoder_attention_heads": N_HEAD, "max_source_positions": AUDIO_CTX, "max_target_positions": TEXT_CTX,
    }
    (folder / "config.json").write_text(json.dumps(config))
    vocab = {token: i for i, token in enumerate(tokens())}
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    return folder
