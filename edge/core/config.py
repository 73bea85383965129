"""Configuration: one TOML file, validated by pydantic, every key overridable from the environment.

`EDGE_<SECTION>__<KEY>=value` overrides `[section] key = value` (for example
`EDGE_AUDIO__SOURCE=file:/tmp/a.wav`). Relative paths in a file are relative to that file.
Errors name the key, the value given and what is allowed.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from edge.core.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the Jetson's Python 3.10
    import tomli as tomllib

ENV_PREFIX = "EDGE_"
ENV_SEPARATOR = "__"


def _default_device_id() -> str:
    host = re.sub(r"[^a-z0-9_-]+", "-", socket.gethostname().lower()).strip("-")
    return host or "edge-box"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DeviceConfig(Section):
    id: str = Field(
        default_factory=_default_device_id,
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="Identifier of this box in MQTT topics and the API; lowercase letters, digits, - and _.",
    )
    room: str = Field(default="", description="Human name of the meeting room, shown on the admin page.")
    profile: Literal["auto", "orin-nano-8gb", "orin-nx-16gb", "agx-orin-32gb", "agx-orin-64gb", "generic"] = (
        Field(default="auto", description="Hardware profile for the memory budget; auto detects a Jetson.")
    )


class AudioConfig(Section):
    source: str = Field(
        default="pyaudio:default",
        description='Where audio comes from: "pyaudio:<device name or index>" for a microphone, '
        '"pyaudio:default" for the system default, or "file:<path>" to replay WAV/FLAC/MP3/OGG.',
    )
    realtime: bool = Field(
        default=True, description="Replay files paced in real time (true) or as fast as possible (false)."
    )
    frame_ms: int = Field(default=32, ge=10, le=500, description="Capture block length in milliseconds.")
    queue_seconds: float = Field(
        default=30.0, gt=0, le=600, description="Audio buffered between capture and VAD before the oldest is dropped."
    )
    stall_seconds: float = Field(
        default=3.0, gt=0, description="A microphone delivering nothing for this long is reopened."
    )
    reopen_max_backoff_seconds: float = Field(
        default=30.0, gt=0, description="Longest wait between attempts to reopen a lost microphone."
    )
    archive: bool = Field(default=True, description="Write each meeting's audio to disk as it arrives, before ASR.")
    retention_days: int = Field(
        default=30, ge=0, description="Delete archived meeting audio older than this; 0 keeps it forever."
    )

    @field_validator("source")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme, sep, rest = value.partition(":")
        if not sep or scheme not in ("pyaudio", "file") or not rest:
            raise ValueError('must be "pyaudio:<device name or index>" or "file:<path>"')
        return value


class VadConfig(Section):
    model_path: Path = Field(
        default=Path("models/silero_vad.onnx"), description="Silero VAD ONNX model (16 kHz)."
    )
    backend: Literal["auto", "onnx", "tensorrt"] = Field(
        default="auto", description="auto uses a TensorRT engine on a Jetson when built, else onnxruntime."
    )
    threshold: float = Field(default=0.5, gt=0, lt=1, description="Speech probability that starts speech.")
    min_speech_ms: int = Field(default=250, ge=0, description="Shorter bursts of speech are ignored.")
    min_silence_ms: int = Field(default=500, ge=0, description="Silence that ends an utterance.")
    speech_pad_ms: int = Field(default=200, ge=0, description="Audio kept before and after each utterance.")
    max_segment_s: float = Field(
        default=20.0, gt=1, le=30, description="Longest utterance sent to ASR at once (whisper's window is 30 s)."
    )


class AsrConfig(Section):
    backend: str = Field(
        default="whispercpp",
        description='Speech recognition engine: "whispercpp" (the names are in edge.asr.backends).',
    )
    model_path: Path = Field(default=Path("models/ggml-small-q5_1.bin"), description="whisper.cpp ggml model file.")
    language: str = Field(
        default="ko", description='Decoding language: "ko", "en", another whisper code, or "auto".'
    )
    threads: int = Field(default=4, ge=1, le=64, description="CPU threads for whisper.cpp.")
    single_thread_below_s: float = Field(
        default=8.0, ge=0, le=30,
        description="Utterances shorter than this decode on one thread while one thread keeps well ahead of the "
        "speech: on small encoder windows ggml's threads mostly wait for each other (0: always asr.threads).",
    )
    languages: list[str] = Field(
        default_factory=list,
        description='Languages a meeting may mix, such as ["ko", "en"]: each utterance is decoded in the one '
        "whisper finds most likely among them, switching only on a clear lead or a long utterance. "
        "Empty uses asr.language.",
    )
    initial_prompt: str = Field(
        default="", description="Text put before each utterance's context prompt (spelling, punctuation style)."
    )
    context: bool = Field(
        default=True,
        description="Prompt each utterance with the meeting's recent text and the glossary terms already heard in it.",
    )
    context_tokens: int = Field(
        default=96, ge=1, le=224,  # whisper.cpp keeps at most 224 prompt tokens
        description="Most whisper tokens of context prompt per utterance (each costs decoder time on every utterance).",
    )
    retry_beam_size: int = Field(
        default=5, ge=0, le=16, description="Beam size of the retry of an utterance with U+FFFD in it; 0 disables it."
    )
    fit_audio_ctx: bool = Field(
        default=True, description="Run whisper's encoder on the utterance's length only, not a whole 30 s window."
    )
    audio_ctx_margin_s: float = Field(
        default=1.0, ge=0, le=10, description="Audio length added before sizing the encoder window (fit_audio_ctx)."
    )
    flash_attn: bool = Field(
        default=False,
        description="whisper.cpp's flash attention. Faster on a whole 30 s window, but a fitted encoder window then "
        "grows in steps of 5.12 s instead of 0.64 s, which costs more on short utterances (on a CPU).",
    )
    partial_interval_ms: int = Field(
        default=1000, ge=0, description="How often to re-decode the utterance in progress for live text; 0 disables."
    )
    max_tokens: int = Field(default=0, ge=0, description="Cap on tokens per segment; 0 means whisper's default.")
    temperature_inc: float = Field(
        default=0.2, ge=0, le=1, description="Temperature fallback step; 0 disables fallback decoding."
    )

    @field_validator("language")
    @classmethod
    def _language_code(cls, value: str) -> str:
        if value != "auto" and not re.fullmatch(r"[a-z]{2,3}", value):
            raise ValueError('must be a whisper language code such as "ko" or "en", or "auto"')
        return value

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        if any(not re.fullmatch(r"[a-z]{2,3}", code) for code in value):
            raise ValueError('must be whisper language codes such as ["ko", "en"]')
        if len(value) == 1 or len(set(value)) != len(value):
            raise ValueError('needs two or more different languages, such as ["ko", "en"] (or [] for asr.language)')
        return value


class MeetingConfig(Section):
    auto_start: bool = Field(
        default=True, description="Start recording a meeting as soon as the box runs (else wait for a start command)."
    )
    exit_after_file: bool = Field(
        default=False,
        description="With a file source, exit once the file is transcribed even when the API or MQTT is enabled.",
    )
    max_import_cues: int = Field(
        default=20_000,
        ge=1,
        le=1_000_000,
        description="Most cues (segments) one imported transcript may have; each becomes a segment and an MQTT "
        "message, so a huge file would hold live segments up behind it.",
    )


class StorageConfig(Section):
    path: Path = Field(default=Path("data"), description="Directory for the database and meeting audio.")
    # An hour of meeting audio is about 115 MB; 1 GB warns hours ahead on an SD card or NVMe, and the last
    # 256 MB are kept for the database (a segment is about a kilobyte) once archiving stops.
    warn_free_mb: float = Field(
        default=1024, ge=0, description="Below this much free space health says degraded (disk almost full)."
    )
    critical_free_mb: float = Field(
        default=256, ge=0,
        description="Below this much free space meeting audio is no longer archived (segments still are) and "
        "health says error; archiving resumes by itself once space returns.",
    )  # fmt: skip
    retention_days: int = Field(
        default=0, ge=0, le=36500,
        description="Delete meetings (transcript, minutes, search entries, audio, retained MQTT minutes) that ended "
        "more than this many days ago, at start and daily; 0 keeps them (audio.retention_days prunes audio alone).",
    )

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> StorageConfig:
        if self.critical_free_mb > self.warn_free_mb:
            raise ValueError(
                f"storage.critical_free_mb ({self.critical_free_mb:g}) is above storage.warn_free_mb "
                f"({self.warn_free_mb:g}); set it lower"
            )
        return self


class MqttConfig(Section):
    enabled: bool = Field(default=False, description="Publish to an MQTT broker.")
    host: str = Field(default="127.0.0.1", description="Broker host name or address.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port (8883 is usual with TLS).")
    username: str | None = Field(default=None, description="Broker user name, if the broker requires one.")
    password_file: Path | None = Field(default=None, description="File holding the broker password.")
    tls: bool = Field(default=False, description="Connect with TLS.")
    ca_file: Path | None = Field(default=None, description="CA bundle for the broker's certificate.")
    cert_file: Path | None = Field(default=None, description="Client certificate for mutual TLS.")
    key_file: Path | None = Field(default=None, description="Client key for mutual TLS.")
    tls_insecure: bool = Field(default=False, description="Skip host name checks (testing only).")
    topic_prefix: str = Field(default="edge", description="First level of every topic.")
    client_id: str | None = Field(
        default=None,
        description="MQTT client id; defaults to edge-<device.id>-<random per process>, so that two processes "
        "never knock each other off the broker. A fixed id must be unique to one box.",
    )
    keepalive: int = Field(default=30, ge=5, le=3600, description="Keepalive in seconds.")
    discovery: bool = Field(default=False, description="Announce the box to Home Assistant (MQTT discovery).")
    discovery_prefix: str = Field(default="homeassistant", description="Home Assistant discovery prefix.")
    discovery_last_segment: bool = Field(
        default=False, description="Also announce a Home Assistant sensor holding the newest segment's text; off by "
        "default because Home Assistant's recorder would keep the meeting's words in the building's history."
    )
    configuration_url: str | None = Field(
        default=None, pattern=r"^https?://\S+$",
        description="Address of this box's admin page, linked from its Home Assistant device page.",
    )
    publish_imports: bool = Field(
        default=False, description="Publish the segments of imported transcripts too (marked \"imported\": true); "
        "off by default: they are not live speech."
    )
    minutes_retain_days: float = Field(
        default=30.0, ge=0, description="Days a meeting's minutes and speaker names stay retained on the broker after "
        "they were published; then the retained messages are cleared (0: kept until the meeting is deleted)."
    )
    stats_interval_s: float = Field(default=30.0, gt=0, description="How often health stats are published.")
    reconnect_min_delay_s: float = Field(
        default=1.0, gt=0, le=60, description="First wait before reconnecting to a lost broker; doubles up to the max."
    )
    reconnect_max_delay_s: float = Field(
        default=30.0, gt=0, le=3600, description="Longest wait between attempts to reconnect to the broker."
    )
    max_inflight: int = Field(
        default=20, ge=1, le=1000, description="Outbox messages sent and awaiting their PUBACK at any time."
    )
    command_burst: int = Field(
        default=4, ge=1, le=100, description="Start/stop commands on recording/set taken at once; more wait for "
        "command_interval_s, and commands beyond that are ignored (counted in stats as commands_limited)."
    )
    command_interval_s: float = Field(
        default=5.0, gt=0, le=3600, description="After a burst, at most one start/stop command per this many seconds."
    )

    @field_validator("topic_prefix", "discovery_prefix")
    @classmethod
    def _topic_levels(cls, value: str) -> str:
        if not value or any(char in value for char in "+#\0") or "" in value.split("/"):
            raise ValueError("must be topic levels separated by '/', without + or #, empty levels or outer '/'")
        return value


class ApiConfig(Section):
    enabled: bool = Field(default=True, description="Serve the HTTP API and admin page.")
    host: str = Field(default="127.0.0.1", description="Address to listen on; 0.0.0.0 exposes it on the LAN.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port to listen on.")
    token_file: Path = Field(
        default=Path("data/api-token"), description="Bearer token file; generated (mode 0600) on first run."
    )
    max_upload_mb: float = Field(default=200.0, gt=0, description="Largest upload accepted, in megabytes.")
    max_upload_minutes: float = Field(
        default=600.0, gt=0, description="Longest audio upload accepted, in minutes (read from its header)."
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the API answers to besides loopback and api.host (for example "
        '["meeting-room.local"]). Other Host headers are refused, so a web page cannot reach the box through a DNS '
        "name it controls; with api.host 0.0.0.0 and no names here, every Host is accepted.",
    )
    tls: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="HTTPS: auto serves HTTPS whenever api.host is not loopback, on always, off never (off on a "
        "non-loopback api.host also needs api.plain_http_on_lan).",
    )
    tls_dir: Path = Field(
        default=Path("data/tls"),
        description="Where the box's own CA and server certificate are generated (mode 0600) on first start.",
    )
    tls_cert_file: Path | None = Field(
        default=None, description="The operator's own server certificate (PEM, chain included) instead of the box's."
    )
    tls_key_file: Path | None = Field(default=None, description="The private key of api.tls_cert_file (PEM).")
    audit_retention_days: int = Field(
        default=365, ge=1, le=36500,
        description="Days the audit log (who exported, deleted, edited, approved, changed what) is kept.",
    )
    plain_http_on_lan: bool = Field(
        default=False,
        description="Accept api.tls = \"off\" on a non-loopback api.host: transcripts and passwords cross the "
        "network in clear (a warning is logged at every start).",
    )

    @property
    def loopback(self) -> bool:
        return is_loopback_host(self.host)

    @property
    def serves_tls(self) -> bool:
        return self.tls == "on" or (self.tls == "auto" and not self.loopback)

    @model_validator(mode="after")
    def _tls_choice(self) -> ApiConfig:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("api.tls_cert_file and api.tls_key_file go together: set both, or neither for the "
                             "box's own certificate")
        if self.tls == "off" and not self.loopback and not self.plain_http_on_lan:
            raise ValueError(
                f"api.tls = \"off\" would serve the API in clear on api.host {self.host!r}; remove api.tls for "
                "HTTPS, bind api.host to 127.0.0.1, or set api.plain_http_on_lan = true to accept plain HTTP"
            )
        return self


def is_loopback_host(host: str) -> bool:
    """Whether listening on `host` keeps the API on this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class LlmConfig(Section):
    backend: Literal["local", "openai"] = Field(
        default="local", description='Where the LLM runs: "local" (llm.model_path on this box) or "openai" (a server '
        "on the LAN with an OpenAI-compatible API: llama.cpp's server, vLLM, Ollama), with llm.model_path as the "
        "fallback while the server cannot be reached.",
    )
    base_url: str | None = Field(
        default=None, pattern=r"^https?://\S+$",
        description='The LLM server\'s address for backend "openai", such as "https://llm.example.internal:8443"; '
        "plain http only to a loopback address. Nothing leaves the box unless this is set.",
    )
    remote_model: str = Field(default="", description="Model name sent to the LLM server (empty: its default).")
    api_key_file: Path | None = Field(default=None, description="File holding the LLM server's API key, if any.")
    ca_file: Path | None = Field(
        default=None, description="CA bundle that signed the LLM server's certificate (default: the system's CAs)."
    )
    timeout_s: float = Field(
        default=60.0, gt=0, le=3600, description="Longest wait for the LLM server's next piece of output."
    )
    retry_s: float = Field(
        default=30.0, gt=0, le=3600, description="How often an unreachable LLM server is asked whether it is back."
    )
    model_path: Path | None = Field(default=None, description="GGUF model for correction and minutes.")
    n_ctx: int = Field(default=4096, ge=256, le=131072, description="Context window in tokens (fixed).")
    n_gpu_layers: int = Field(default=0, ge=-1, description="Layers offloaded to the GPU; -1 for all.")
    threads: int = Field(default=4, ge=1, le=64, description="CPU threads for llama.cpp.")
    seed: int = Field(default=0, description="Sampling seed, for reproducible output.")
    correction: bool = Field(default=True, description="Correct committed segments with the LLM (layer c).")
    schedule: Literal["pauses", "after_meeting"] = Field(
        default="pauses",
        description="When LLM work runs: in speech pauses while ASR is caught up, or only after the meeting "
        "(for a small device where whisper and the LLM share memory and compute).",
    )

    @model_validator(mode="after")
    def _server(self) -> LlmConfig:
        if self.backend == "openai":
            if not self.base_url:
                raise ValueError('llm.backend = "openai" needs llm.base_url, the LLM server\'s address')
            host = self.base_url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
            if self.base_url.startswith("http://") and not is_loopback_host(host):
                raise ValueError(
                    f"llm.base_url {self.base_url} would send transcripts over the LAN in clear; use https:// "
                    "(with llm.ca_file for a private CA) or a loopback address"
                )
        return self

    @property
    def configured(self) -> bool:
        """Is there an LLM to run work on (a server, or a local model)?"""
        return self.backend == "openai" or self.model_path is not None


class MinutesConfig(Section):
    auto: bool = Field(
        default=True,
        description="Write minutes when a meeting ends (with the LLM, or the extractive minutes without one); else "
        "only on request.",
    )
    require_approval: bool = Field(
        default=False,
        description="Publish minutes only after a person approves them in the admin page; else as soon as written.",
    )
    max_attempts: int = Field(
        default=3, ge=1, le=10, description="Tries per LLM request before its output counts as failed."
    )
    output_tokens: int = Field(
        default=1024, ge=32, le=16384, description="Most tokens the model may write for the minutes or a merge step."
    )
    chunk_output_tokens: int = Field(
        default=384, ge=32, le=8192, description="Most tokens for the notes on one chunk of a long meeting."
    )
    max_items: int = Field(
        default=8, ge=1, le=50, description="Most topics, decisions, action items and open questions, each."
    )
    retry_temperature: float = Field(
        default=0.4, ge=0, le=2, description="Sampling temperature of retries (the first try is greedy)."
    )
    language: str = Field(
        default="", description='Language of the minutes, such as "ko" or "en"; empty uses the meeting\'s language.'
    )

    @field_validator("language")
    @classmethod
    def _language_code(cls, value: str) -> str:
        if value and not re.fullmatch(r"[a-z]{2,3}", value):
            raise ValueError('must be a language code such as "ko" or "en", or empty for the meeting\'s language')
        return value


class SpeakerConfig(Section):
    enabled: bool = Field(
        default=False,
        description="Tell speakers apart: each segment gets a speaker S1, S2, ... that people can name in the admin "
        "page. Needs speaker.model_path.",
    )
    model_path: Path = Field(
        default=Path("models/speaker_resemblyzer.onnx"),
        description="Speaker encoder ONNX model, made by `edge models convert-speaker` from Resemblyzer's weights.",
    )
    assign_similarity: float = Field(
        default=0.85, gt=0, lt=1,
        description="Cosine similarity to a speaker's voice at which speech is theirs; below it, speech long enough "
        "to trust starts a new speaker. Higher finds more speakers.",
    )  # fmt: skip
    merge_similarity: float = Field(
        default=0.85, gt=0, lt=1,
        description="When the meeting ends and its speech is clustered again, speakers whose voices are at least "
        "this similar become one.",
    )  # fmt: skip
    max_speakers: int = Field(default=12, ge=1, le=50, description="Most speakers told apart in one meeting.")


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: DeviceConfig = Field(default_factory=DeviceConfig)
    audio: AudioConfig = Field(default_factory=AudioConfig)
    vad: VadConfig = Field(default_factory=VadConfig)
    asr: AsrConfig = Field(default_factory=AsrConfig)
    meeting: MeetingConfig = Field(default_factory=MeetingConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    llm: LlmConfig = Field(default_factory=LlmConfig)
    minutes: MinutesConfig = Field(default_factory=MinutesConfig)
    speaker: SpeakerConfig = Field(default_factory=SpeakerConfig)

    @property
    def database_path(self) -> Path:
        return self.storage.path / "edge.db"

    @property
    def audio_dir(self) -> Path:
        return self.storage.path / "audio"


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    overrides: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or ENV_SEPARATOR not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].partition(ENV_SEPARATOR)
        overrides.setdefault(section.lower(), {})[key.lower()] = value
    return overrides


def _resolve_paths(raw: dict[str, Any], base: Path) -> None:
    for section_name, section_model in Config.model_fields.items():
        section = raw.get(section_name)
        if not isinstance(section, dict):
            continue
        fields = section_model.annotation.model_fields  # type: ignore[union-attr]
        for key, value in section.items():
            field = fields.get(key)
            if field is None or not isinstance(value, str) or "Path" not in str(field.annotation):
                continue
            path = Path(value).expanduser()
            section[key] = path if path.is_absolute() else Path(os.path.normpath(base / path))
        if section_name == "audio" and isinstance(section.get("source"), str):
            scheme, _, rest = section["source"].partition(":")
            if scheme == "file" and rest and not Path(rest).expanduser().is_absolute():
                section["source"] = f"file:{os.path.normpath(base / rest)}"


def _describe(error: ErrorDetails, origin: dict[tuple[str, ...], str]) -> str:
    loc = tuple(str(part) for part in error["loc"])
    key = ".".join(loc)
    where = origin.get(loc[:2], "")
    if error["type"] == "extra_forbidden":
        if len(loc) == 1:
            return f"{key}: unknown section{where}; allowed sections: {', '.join(Config.model_fields)}"
        section = Config.model_fields.get(loc[0])
        allowed = ", ".join(section.annotation.model_fields) if section else ""  # type: ignore[union-attr]
        return f"{key}: unknown key{where}; allowed keys in [{loc[0]}]: {allowed}"
    message = error["msg"].removeprefix("Value error, ")
    if len(loc) == 1:  # a rule over several keys of a section names them itself
        return f"[{key}]: {message}"
    return f"{key} = {error.get('input')!r}{where}: {message}"


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read, merge and validate the configuration; raise ConfigError naming every bad key."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    origin: dict[tuple[str, ...], str] = {}
    base = Path.cwd()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist; pass an existing TOML file with --config")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        base = path.resolve().parent
        for section, values in raw.items():
            if isinstance(values, dict):
                for key in values:
                    origin[(section, key)] = f" (in {path})"
    _resolve_paths(raw, base)
    overrides: dict[str, Any] = _env_overrides(environ)
    _resolve_paths(overrides, Path.cwd())
    for section, values in overrides.items():
        target = raw.setdefault(section, {})
        if not isinstance(target, dict):
            raise ConfigError(f"{section}: must be a table of keys, not {type(target).__name__}")
        target.update(values)
        for key in values:
            origin[(section, key)] = f" (from ${ENV_PREFIX}{section.upper()}{ENV_SEPARATOR}{key.upper()})"
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe(error, origin) for error in exc.errors()]
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


def describe_fields() -> list[tuple[str, str, str]]:
    """(key, default, description) for every setting, for documentation and `edge check-config --list`."""
    rows = []
    for section_name, section_field in Config.model_fields.items():
        model = section_field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel), section_name
        for key, field in model.model_fields.items():
            default = field.get_default(call_default_factory=True)
            rows.append((f"{section_name}.{key}", repr(default), field.description or ""))
    return rows
