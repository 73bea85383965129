"""What model a figure was measured with, named from the file itself: whisper.cpp's header gives the
Whisper size and whether it is multilingual, a GGUF's metadata its name, and the sha256 prefix tells
two files apart. Only the bench's own random-weight models are called random."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

from edge.ops.memory_budget import read_gguf_metadata, read_whisper_header

# (audio layers, width) of the published Whisper sizes.
WHISPER_SIZES = {(4, 384): "tiny", (6, 512): "base", (12, 768): "small", (24, 1024): "medium", (32, 1280): "large"}
ENGLISH_ONLY_VOCAB = 51864
GGML_FTYPES = {0: "f32", 1: "f16", 2: "q4_0", 3: "q4_1", 6: "q5_0", 7: "q5_1", 8: "q8_0"}
LLAMA_FTYPES = {0: "F32", 1: "F16", 2: "Q4_0", 7: "Q8_0", 12: "Q3_K_M", 15: "Q4_K_M", 17: "Q5_K_M", 18: "Q6_K"}


def sha256_prefix(path: Path, length: int = 12) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:length]


def whisper_model_name(path: Path, *, random_weights: bool = False) -> dict:
    arch = read_whisper_header(path)
    with path.open("rb") as f:
        ftype = struct.unpack("<i", f.read(48)[44:48])[0] % 1000  # the quantization version is ftype // 1000
    size = WHISPER_SIZES.get((arch.n_audio_layer, arch.n_audio_state), f"{arch.n_audio_layer}-layer")
    if size == "large":
        size = "large-v3-turbo" if arch.n_text_layer == 4 else "large-v3" if arch.n_mels == 128 else "large"
    languages = "English only" if arch.n_vocab == ENGLISH_ONLY_VOCAB else "multilingual"
    name = f"Whisper {size} ({languages}), whisper.cpp ggml {GGML_FTYPES.get(ftype, f'type {ftype}')}"
    return {
        "name": name + (", random weights of the real shape" if random_weights else ""),
        "file": path.name,
        "sha256": sha256_prefix(path),
    }


def gguf_model_name(path: Path) -> dict:
    meta = read_gguf_metadata(path, ["general.name", "general.size_label", "general.file_type", "general.architecture"])
    name = str(meta.get("general.name") or path.stem)
    if meta.get("general.size_label") and str(meta["general.size_label"]).lower() not in name.lower():
        name += f" {meta['general.size_label']}"
    file_type = meta.get("general.file_type")
    if isinstance(file_type, int):
        name += f", GGUF {LLAMA_FTYPES.get(file_type, f'type {file_type}')}"
    return {"name": name, "file": path.name, "sha256": sha256_prefix(path)}
