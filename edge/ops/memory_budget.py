"""Will this configuration fit in the board's memory? An estimate before any model is loaded.

On a Jetson, CPU and GPU share one memory, and running out kills the whole box; so `edge check-config`
refuses a configuration whose models, caches and buffers do not fit the device profile with headroom.

What is counted, per model:
- whisper.cpp: the ggml file, its KV caches (self and cross attention, sized from the model's
  hyper-parameters exactly as whisper.cpp 1.8 pads them) and compute buffers (scaled from the buffers
  whisper.cpp reports for tiny, +20 % for other versions and flash attention off);
- llama.cpp: the GGUF file(s), the f16 KV cache for `llm.n_ctx` (layers x KV heads x head size: GQA
  models such as Qwen2.5 have few KV heads) and the compute buffer for a 512-token micro-batch (the
  larger of the logits and the attention scores, +10 %);
- each library's CUDA runtime (context, kernels, cuBLAS), the app itself, and the OS reserve.
Models are identified by their file name in the models manifest; a file that is not in the manifest
is read from disk (ggml header or GGUF metadata) when it exists.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gguf import GGUFReader, GGUFValueType

from edge.core.config import Config
from edge.core.errors import ConfigError, ModelError
from edge.ops.device_profiles import GIB, MIB, DeviceProfile, resolve_profile
from edge.ops.model_manifest import LlmArch, Manifest, ManifestModel, load_manifest

APP_BYTES = 350 * MIB
"""Python, numpy, onnxruntime with the Silero VAD, FastAPI, SQLite, MQTT and their threads."""
WHISPER_RUNTIME_GPU = 300 * MIB
LLAMA_RUNTIME_GPU = 400 * MIB
RUNTIME_CPU = 50 * MIB
LLAMA_UBATCH = 512
SAMPLE_BYTES = 4


@dataclass(frozen=True)
class WhisperArch:
    n_vocab: int
    n_audio_state: int
    n_audio_layer: int
    n_text_state: int
    n_text_layer: int
    n_mels: int


WHISPER_ARCHS = {
    "tiny": WhisperArch(51865, 384, 4, 384, 4, 80),
    "base": WhisperArch(51865, 512, 6, 512, 6, 80),
    "small": WhisperArch(51865, 768, 12, 768, 12, 80),
    "medium": WhisperArch(51865, 1024, 24, 1024, 24, 80),
    "large-v3": WhisperArch(51866, 1280, 32, 1280, 32, 128),
    "large-v3-turbo": WhisperArch(51866, 1280, 32, 1280, 4, 128),
}


@dataclass(frozen=True)
class ModelCost:
    """One model's memory: weights, caches, compute buffers and its library's runtime."""

    key: str
    """The config key that names it, e.g. asr.model_path."""
    label: str
    weights: int
    kv_cache: int
    compute: int
    runtime: int
    manifest_name: str | None = None

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.compute + self.runtime


@dataclass(frozen=True)
class BudgetReport:
    profile: DeviceProfile
    models: tuple[ModelCost, ...]
    app_bytes: int
    notes: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return sum(model.total for model in self.models) + self.app_bytes

    @property
    def available(self) -> int:
        return self.profile.available_bytes

    @property
    def free(self) -> int:
        return self.available - self.total

    @property
    def required_headroom(self) -> int:
        return int(self.profile.memory_bytes * self.profile.headroom)

    @property
    def fits(self) -> bool:
        return self.free >= self.required_headroom

    def format(self) -> str:
        """The estimate as a small table, for `edge check-config` and `edge models budget`."""
        p = self.profile
        lines = [
            f"memory budget for {p.name} ({p.description}): {_gib(p.memory_bytes)} total, "
            f"{_gib(p.os_reserve_bytes)} kept for the OS -> {_gib(self.available)} for the box",
        ]
        for m in self.models:
            lines.append(
                f"  {m.key:<16} {m.label}: weights {_mib(m.weights)}, KV cache {_mib(m.kv_cache)}, "
                f"compute {_mib(m.compute)}, runtime {_mib(m.runtime)} = {_gib(m.total)}"
            )
        lines.append(f"  {'app':<16} python, VAD, API, storage, MQTT, queues = {_gib(self.app_bytes)}")
        verdict = "fits" if self.fits else "DOES NOT FIT"
        lines.append(
            f"  total {_gib(self.total)} of {_gib(self.available)}; free {_gib(self.free)} "
            f"(at least {_gib(self.required_headroom)} must stay free) -> {verdict}"
        )
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


def _gib(value: int) -> str:
    return f"{value / GIB:.2f} GiB"


def _mib(value: int) -> str:
    return f"{value / MIB:.0f} MiB"


def estimate(
    cfg: Config,
    *,
    profile: DeviceProfile | None = None,
    manifest: Manifest | None = None,
    root: Path = Path("/"),
) -> BudgetReport:
    """Estimate the memory `cfg` needs on `profile` (default: `device.profile`, "auto" detects the board)."""
    profile = resolve_profile(cfg.device.profile, root) if profile is None else profile
    manifest = load_manifest() if manifest is None else manifest
    notes: list[str] = []
    models = [whisper_cost(cfg.asr.model_path, manifest, gpu=profile.gpu)]
    if cfg.llm.model_path is not None:
        llm = llm_cost(cfg.llm.model_path, cfg.llm.n_ctx, manifest, gpu=profile.gpu, notes=notes)
        models.append(llm)
        if profile.gpu and cfg.llm.n_gpu_layers == 0:
            notes.append("llm.n_gpu_layers = 0 runs the LLM on the CPU cores; set -1 on a Jetson")
    for cost in models:
        if cost.manifest_name:
            entry = manifest.get(cost.manifest_name)
            if not entry.commercial_use:
                notes.append(f"{entry.name} is licensed {entry.license}: not for commercial use")
    app = APP_BYTES + int(cfg.audio.queue_seconds * 16000 * SAMPLE_BYTES)
    return BudgetReport(profile=profile, models=tuple(models), app_bytes=app, notes=tuple(notes))


def check_fits(
    cfg: Config,
    *,
    profile: DeviceProfile | None = None,
    manifest: Manifest | None = None,
    root: Path = Path("/"),
) -> BudgetReport:
    """The estimate, or ConfigError naming what does not fit and what to change."""
    report = estimate(cfg, profile=profile, manifest=manifest, root=root)
    if report.fits:
        return report
    manifest = load_manifest() if manifest is None else manifest
    parts = " + ".join(f"{m.label} {_gib(m.total)}" for m in report.models)
    raise ConfigError(
        f"the configuration does not fit in {report.profile.name} ({report.profile.description}): "
        f"{parts} + app {_gib(report.app_bytes)} = {_gib(report.total)}, but only {_gib(report.available)} "
        f"is available and {_gib(report.required_headroom)} must stay free; "
        + "; ".join(_suggestions(cfg, report, manifest))
    )


def _suggestions(cfg: Config, report: BudgetReport, manifest: Manifest) -> list[str]:
    profile = report.profile
    asr_default = manifest.get(profile.default_asr)
    llm_default = manifest.get(profile.default_llm)
    changes = []
    by_key = {m.key: m for m in report.models}
    asr = by_key["asr.model_path"]
    if asr.manifest_name != asr_default.name:
        changes.append(f"change asr.model_path to {asr_default.primary.filename}")
    llm = by_key.get("llm.model_path")
    if llm is not None and llm.manifest_name != llm_default.name:
        changes.append(f"change llm.model_path to {llm_default.primary.filename}")
    if llm is not None and cfg.llm.n_ctx > profile.default_n_ctx:
        changes.append(f"lower llm.n_ctx to {profile.default_n_ctx}")
    changes.append("or set device.profile to a board with more memory")
    return changes


def whisper_cost(path: Path, manifest: Manifest, *, gpu: bool) -> ModelCost:
    found = manifest.find_file(path.name)
    if found is not None:
        model, _ = found
        if model.kind != "asr" or model.whisper_arch is None:
            raise ConfigError(f"asr.model_path = {path}: {path.name} is a {model.kind} model, not a whisper model")
        arch = WHISPER_ARCHS[model.whisper_arch]
        weights, label, name = model.size, f"whisper {model.whisper_arch} {model.quant}", model.name
    elif path.is_file():
        arch = read_whisper_header(path)
        weights, label, name = path.stat().st_size, f"whisper ({path.name})", None
    else:
        raise ConfigError(
            f"asr.model_path = {path}: not in the models manifest and no such file; "
            "use a file from `edge models list` or fetch it with `edge models fetch NAME`"
        )
    return ModelCost(
        key="asr.model_path",
        label=label,
        weights=weights,
        kv_cache=whisper_kv_bytes(arch),
        compute=int(whisper_compute_bytes(arch) * 1.2),
        runtime=WHISPER_RUNTIME_GPU if gpu else RUNTIME_CPU,
        manifest_name=name,
    )


def _pad(value: int, multiple: int) -> int:
    return (value + multiple - 1) // multiple * multiple


def whisper_kv_bytes(arch: WhisperArch) -> int:
    """KV self (text context 448 -> 512), KV cross (audio context 1500 -> 1536) and the encoder's pad, f16."""
    text_ctx, audio_ctx = _pad(448, 256), _pad(1500, 256)
    self_kv = arch.n_text_layer * text_ctx * arch.n_text_state * 2 * 2
    cross_kv = arch.n_text_layer * audio_ctx * arch.n_text_state * 2 * 2
    pad = audio_ctx * arch.n_audio_state * 2 * 2
    return self_kv + cross_kv + pad


def whisper_compute_bytes(arch: WhisperArch) -> int:
    """conv + encode + cross + decode buffers, scaled from whisper.cpp 1.8's figures for tiny (384 wide)."""
    audio = arch.n_audio_state / 384
    text = arch.n_text_state / 384
    conv = 13.21e6 * audio
    encode = 17.72e6 * audio
    cross = 3.89e6 * text
    decode = 448 * arch.n_vocab * 4 + 3.0e6 * text
    return int(conv + encode + cross + decode)


def llm_cost(path: Path, n_ctx: int, manifest: Manifest, *, gpu: bool, notes: list[str]) -> ModelCost:
    found = manifest.find_file(path.name)
    if found is not None:
        model, _ = found
        if model.kind != "llm" or model.llm_arch is None:
            raise ConfigError(f"llm.model_path = {path}: {path.name} is a {model.kind} model, not an LLM")
        arch, weights, name = model.llm_arch, model.size, model.name
        label = f"{model.name} (n_ctx {n_ctx})"
    elif path.is_file():
        try:
            arch = read_gguf_arch(path)
        except ModelError as exc:
            raise ConfigError(f"llm.model_path = {path}: {exc}") from None
        weights, name, label = _gguf_total_size(path), None, f"{path.name} (n_ctx {n_ctx})"
    else:
        raise ConfigError(
            f"llm.model_path = {path}: not in the models manifest and no such file; "
            "use a file from `edge models list` or fetch it with `edge models fetch NAME`"
        )
    if arch.n_ctx_train and n_ctx > arch.n_ctx_train:
        notes.append(f"llm.n_ctx = {n_ctx} is above the {arch.n_ctx_train} tokens the model was trained on")
    return ModelCost(
        key="llm.model_path",
        label=label,
        weights=weights,
        kv_cache=llm_kv_bytes(arch, n_ctx),
        compute=llm_compute_bytes(arch, n_ctx),
        runtime=LLAMA_RUNTIME_GPU if gpu else RUNTIME_CPU,
        manifest_name=name,
    )


def llm_kv_bytes(arch: LlmArch, n_ctx: int) -> int:
    """f16 K and V for every layer, KV head and position of the context."""
    return n_ctx * arch.n_layer * arch.n_head_kv * arch.head_dim * 2 * 2


def llm_compute_bytes(arch: LlmArch, n_ctx: int) -> int:
    ubatch = min(LLAMA_UBATCH, n_ctx)
    logits = ubatch * arch.n_vocab * 4
    scores = ubatch * n_ctx * arch.n_head * 4
    return int(max(logits, scores) * 1.1)


def _gguf_total_size(path: Path) -> int:
    """The file's size, plus the other parts when it is part 1 of a split GGUF (name-0000N-of-0000M)."""
    stem = path.name
    marker = "-00001-of-"
    if marker not in stem:
        return path.stat().st_size
    prefix, _, rest = stem.partition(marker)
    count_text = rest.split(".", 1)[0]
    total = 0
    for index in range(1, int(count_text) + 1):
        part = path.with_name(f"{prefix}-{index:05d}-of-{rest}")
        if part.is_file():
            total += part.stat().st_size
    return total


# --- reading model files -------------------------------------------------------------------------

_GGML_MAGIC = 0x67676D6C


def read_whisper_header(path: Path) -> WhisperArch:
    """The hyper-parameters at the start of a whisper.cpp ggml file."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(4 + 11 * 4)
    except OSError as exc:
        raise ConfigError(f"asr.model_path = {path}: cannot read it: {exc.strerror}") from None
    if len(raw) < 48 or struct.unpack("<I", raw[:4])[0] != _GGML_MAGIC:
        raise ConfigError(f"asr.model_path = {path}: not a whisper.cpp ggml model (bad magic)")
    n_vocab, _, audio_state, _, audio_layer, _, text_state, _, text_layer, n_mels, _ = struct.unpack(
        "<11i", raw[4:48]
    )
    return WhisperArch(n_vocab, audio_state, audio_layer, text_state, text_layer, n_mels)


def read_gguf_metadata(path: Path, wanted: Iterable[str] | None = None) -> dict[str, object]:
    """Key/value metadata of a GGUF file. Arrays come back as their length only."""
    try:
        reader = GGUFReader(path)
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, IndexError, KeyError, UnicodeDecodeError) as exc:
        # The reader raises these for a bad magic, an unknown version and a truncated or corrupt header.
        raise ModelError(
            f"{path.name} is not a readable GGUF file ({exc}); fetch it again or pick another model file"
        ) from None
    keep = set(reader.fields) if wanted is None else set(wanted) & set(reader.fields)
    values: dict[str, object] = {}
    for key in sorted(keep):
        if key.startswith("GGUF."):
            continue  # the reader's own entries for the header (version, counts), not metadata
        field = reader.fields[key]
        values[key] = len(field.data) if field.types[0] == GGUFValueType.ARRAY else field.contents()
    return values


def read_gguf_arch(path: Path) -> LlmArch:
    """Layers, heads, KV heads, head size and vocabulary from a GGUF file's metadata."""
    meta = read_gguf_metadata(path)
    arch = meta.get("general.architecture")
    if not isinstance(arch, str):
        raise ModelError(f"{path.name} has no general.architecture in its metadata")

    def number(key: str, default: int | None = None) -> int:
        value = meta.get(f"{arch}.{key}", default)
        if not isinstance(value, int):
            raise ModelError(f"{path.name} lacks {arch}.{key} in its metadata")
        return value

    n_head = number("attention.head_count")
    embedding = number("embedding_length")
    head_dim = number("attention.key_length", embedding // n_head)
    vocab = meta.get(f"{arch}.vocab_size", meta.get("tokenizer.ggml.tokens"))
    if not isinstance(vocab, int):
        raise ModelError(f"{path.name} has neither {arch}.vocab_size nor a token list")
    return LlmArch(
        n_layer=number("block_count"),
        n_head=n_head,
        n_head_kv=number("attention.head_count_kv", n_head),
        head_dim=head_dim,
        n_vocab=vocab,
        n_ctx_train=number("context_length", 0),
    )


def default_pair(profile: DeviceProfile, manifest: Manifest) -> tuple[ManifestModel, ManifestModel]:
    """The whisper and LLM models the profile is sized for."""
    return manifest.get(profile.default_asr), manifest.get(profile.default_llm)
