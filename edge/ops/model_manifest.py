"""The models manifest (models/manifest.toml): every model file the box can use, with url, sha256, size.

Config names models by file path; `Manifest.find_file` maps a file name back to its manifest entry so
the memory budget and `edge models verify` know what a configured file is.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.core.errors import ModelError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the Jetson's Python 3.10
    import tomli as tomllib

MANIFEST_ENV = "EDGE_MODELS_MANIFEST"
DEFAULT_MANIFEST = Path(__file__).resolve().parents[2] / "models" / "manifest.toml"

KINDS = ("asr", "llm", "vad")
RUNTIMES = ("whisper.cpp", "llama.cpp", "onnxruntime")
WHISPER_ARCHS = ("tiny", "base", "small", "medium", "large-v3", "large-v3-turbo")
LLM_ARCH_KEYS = ("n_layer", "n_head", "n_head_kv", "head_dim", "n_vocab", "n_ctx_train")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@dataclass(frozen=True)
class LlmArch:
    """The numbers the KV-cache and compute-buffer estimates need."""

    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_vocab: int
    n_ctx_train: int = 0


@dataclass(frozen=True)
class ManifestFile:
    filename: str
    url: str
    sha256: str
    size: int

    @property
    def verified(self) -> bool:
        """True when the manifest pins a sha256 (a file without one cannot be checked)."""
        return bool(self.sha256)


@dataclass(frozen=True)
class ManifestModel:
    name: str
    kind: str
    runtime: str
    license: str
    quant: str
    files: tuple[ManifestFile, ...]
    whisper_arch: str | None = None
    llm_arch: LlmArch | None = None
    checked_against: str = ""

    @property
    def size(self) -> int:
        return sum(file.size for file in self.files)

    @property
    def primary(self) -> ManifestFile:
        """The file a config points at (the first part of a split GGUF)."""
        return self.files[0]

    @property
    def commercial_use(self) -> bool:
        return "non-commercial" not in self.license.lower()


@dataclass(frozen=True)
class Manifest:
    path: Path
    models: tuple[ManifestModel, ...]

    def __iter__(self) -> Iterator[ManifestModel]:
        return iter(self.models)

    def names(self) -> list[str]:
        return [model.name for model in self.models]

    def get(self, name: str) -> ManifestModel:
        for model in self.models:
            if model.name == name:
                return model
        close = [n for n in self.names() if name.lower() in n]
        hint = f"; did you mean {', '.join(close[:4])}?" if close else "; `edge models list` shows them all"
        raise ModelError(f"no model named {name!r} in {self.path}{hint}")

    def find_file(self, filename: str) -> tuple[ManifestModel, ManifestFile] | None:
        """The model and file entry whose file name is `filename` (any part of a split model)."""
        for model in self.models:
            for file in model.files:
                if file.filename == filename:
                    return model, file
        return None


def default_manifest_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    override = environ.get(MANIFEST_ENV)
    return Path(override) if override else DEFAULT_MANIFEST


def load_manifest(path: Path | None = None) -> Manifest:
    """Read and validate the manifest; a bad entry is a ModelError naming the entry and the field."""
    path = default_manifest_path() if path is None else Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"models manifest {path} not found; pass --manifest or set ${MANIFEST_ENV}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"models manifest {path} is not valid TOML: {exc}") from None
    entries = raw.get("model")
    if not isinstance(entries, list) or not entries:
        raise ModelError(f"models manifest {path} has no [[model]] entries")
    models = tuple(_parse_model(entry, index, path) for index, entry in enumerate(entries))
    _check_unique(models, path)
    return Manifest(path=path, models=models)


def _parse_model(entry: Any, index: int, path: Path) -> ManifestModel:
    where = f"{path}: [[model]] #{index + 1}"
    if not isinstance(entry, dict):
        raise ModelError(f"{where} is not a table")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ModelError(f"{where}: name must be lowercase letters, digits, '.', '_' or '-', got {name!r}")
    where = f"{path}: model {name!r}"
    kind = _choice(entry, "kind", KINDS, where)
    runtime = _choice(entry, "runtime", RUNTIMES, where)
    license_name = entry.get("license")
    if not isinstance(license_name, str) or not license_name.strip():
        raise ModelError(f"{where}: license is required (SPDX id or the licence's name)")
    files_raw = entry.get("file")
    if not isinstance(files_raw, list) or not files_raw:
        raise ModelError(f"{where}: needs at least one [[model.file]]")
    files = tuple(_parse_file(item, where) for item in files_raw)
    whisper_arch = None
    llm_arch = None
    arch = entry.get("arch")
    if kind == "asr":
        if arch not in WHISPER_ARCHS:
            raise ModelError(f"{where}: arch must be one of {', '.join(WHISPER_ARCHS)}, got {arch!r}")
        whisper_arch = arch
    elif kind == "llm":
        llm_arch = _parse_llm_arch(arch, where)
    return ManifestModel(
        name=name,
        kind=kind,
        runtime=runtime,
        license=license_name.strip(),
        quant=str(entry.get("quant", "")),
        files=files,
        whisper_arch=whisper_arch,
        llm_arch=llm_arch,
        checked_against=str(entry.get("checked_against", "")),
    )


def _choice(entry: dict, key: str, allowed: tuple[str, ...], where: str) -> str:
    value = entry.get(key)
    if value not in allowed:
        raise ModelError(f"{where}: {key} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _parse_file(item: Any, where: str) -> ManifestFile:
    if not isinstance(item, dict):
        raise ModelError(f"{where}: [[model.file]] must be a table")
    filename = item.get("filename")
    if not isinstance(filename, str) or not filename or "/" in filename or filename.startswith("."):
        raise ModelError(f"{where}: filename must be a plain file name, got {filename!r}")
    url = item.get("url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ModelError(f"{where}: {filename}: url must be an http(s) URL, got {url!r}")
    sha256 = item.get("sha256", "")
    if not isinstance(sha256, str) or (sha256 and not _SHA256.match(sha256)):
        raise ModelError(f"{where}: {filename}: sha256 must be 64 lowercase hex digits (or empty), got {sha256!r}")
    size = item.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ModelError(f"{where}: {filename}: size must be the file's size in bytes, got {size!r}")
    return ManifestFile(filename=filename, url=url, sha256=sha256, size=size)


def _parse_llm_arch(arch: Any, where: str) -> LlmArch:
    if not isinstance(arch, dict):
        raise ModelError(f"{where}: an llm needs arch = {{ {', '.join(LLM_ARCH_KEYS)} }}")
    values: dict[str, int] = {}
    for key in LLM_ARCH_KEYS:
        value = arch.get(key, 0 if key == "n_ctx_train" else None)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0 or (value == 0 and key != "n_ctx_train"):
            raise ModelError(f"{where}: arch.{key} must be a positive integer, got {value!r}")
        values[key] = value
    return LlmArch(**values)


def _check_unique(models: tuple[ManifestModel, ...], path: Path) -> None:
    seen_names: set[str] = set()
    seen_files: set[str] = set()
    for model in models:
        if model.name in seen_names:
            raise ModelError(f"{path}: model name {model.name!r} appears twice")
        seen_names.add(model.name)
        for file in model.files:
            if file.filename in seen_files:
                raise ModelError(f"{path}: file name {file.filename!r} appears in two entries")
            seen_files.add(file.filename)
