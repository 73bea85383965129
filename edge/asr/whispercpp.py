"""whisper.cpp through pywhispercpp: the only module that imports it (lazily).

pywhispercpp keeps decode parameters between calls, does not report a failed load (the next
transcribe can crash the process), and downloads from a hub when given a bare model name; this
wrapper sets language and prompt on every call, accepts only an existing absolute file, checks
the load log, and turns whisper.cpp's odd outputs (timestamps outside the clip, text split inside
a UTF-8 character) into clean `AsrSegment`s in meeting time. Text whisper could not spell (U+FFFD, or
bytes that are not UTF-8) is kept as U+FFFD for the stage to count and retry, never dropped.
"""

from __future__ import annotations

import atexit
import codecs
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from edge.asr.thread_choice import ThreadChoice
from edge.core.errors import ConfigError, ModelError
from edge.core.events import SAMPLE_RATE, AsrSegment, samples_to_ms

__all__ = [
    "RawCall",
    "RawCost",
    "RawWhisper",
    "WhisperCppModel",
    "clamp_times",
    "decode_segment_texts",
    "fit_audio_ctx",
    "raw_replay",
    "verify_whisper_model",
]

log = logging.getLogger(__name__)

GGML_MAGIC = b"lmgg"  # 0x67676d6c little-endian
# Audio quieter than this (RMS, about -60 dBFS) is not expected to give text.
VOICED_RMS = 1e-3
GGML_LOG_ERROR = 4
TICK_MS = 10  # whisper's timestamp resolution
ENCODER_FRAMES_PER_S = 50  # whisper's encoder: 1500 positions for its 30 s window
# With flash attention whisper.cpp pads the encoder output to a multiple of 256 positions, and an
# audio_ctx that is not one lets the decoder read an earlier call's encoder output (a 2.5 s Korean clip
# then ends in an invented sentence). Without it the window can follow the speech in small steps.
FLASH_ATTN_CTX_STEP = 256
AUDIO_CTX_STEP = 32
# The smallest encoder window: language detection runs at the previous decode's window, and 3.2 s of
# speech tells Korean from English where 1-2 s may not.
MIN_AUDIO_CTX = 160
TOKEN_COUNT_LOG = "whisper_tokenize: too many resulting tokens"


class WhisperCppModel:
    """One loaded whisper.cpp model, used by one thread (the first that transcribes)."""

    def __init__(
        self,
        model_path: Path,
        *,
        threads: int,
        language: str,
        initial_prompt: str = "",
        max_tokens: int = 0,
        temperature_inc: float = 0.2,
        fit_audio_ctx: bool = False,
        audio_ctx_margin_s: float = 1.0,
        flash_attn: bool = False,
        single_thread_below_s: float = 0.0,
    ) -> None:
        path = _check_model_file(Path(model_path))
        import _pywhispercpp as pw

        self._pw = pw
        self.languages: tuple[str, ...] = tuple(pw.whisper_lang_str(i) for i in range(pw.whisper_lang_max_id() + 1))
        if language != "auto" and language not in self.languages:
            raise ConfigError(
                f"asr.language {language!r} is not a whisper language code; use one of "
                f'{", ".join(self.languages[:12])}, ... or "auto"'
            )
        if threads < 1:
            raise ConfigError(f"asr.threads must be at least 1 (got {threads})")
        self.path = path
        self.temperature_inc = temperature_inc
        self.language = language
        self.initial_prompt = initial_prompt
        self.fit_audio_ctx = fit_audio_ctx
        self.audio_ctx_margin_s = audio_ctx_margin_s
        self.flash_attn = flash_attn
        self.threads = threads
        self.thread_choice = ThreadChoice(threads, single_thread_below_s)
        self.soft_errors = 0
        self._owner: int | None = None
        self._lock = threading.Lock()
        model, text = _load(
            path,
            flash_attn=flash_attn,
            n_threads=threads,
            language="" if language == "auto" else language,
            initial_prompt=initial_prompt,
            max_tokens=max_tokens,
            temperature_inc=temperature_inc,
        )
        self.empty = "assuming empty model" in text
        if self.empty:
            log.warning("%s has no weights (a vocab-only test model): every transcript will be empty", path)
        self._model: Any = model
        self._eot = pw.whisper_token_eot(model._ctx)
        self._n_audio_ctx = pw.whisper_model_n_audio_ctx(model._ctx)
        if fit_audio_ctx and not self.empty:
            _size_encoder(self._model, self._n_audio_ctx, flash_attn)

    def threads_for(self, audio: np.ndarray) -> int:
        """The threads the next call on `audio` will use."""
        return self.thread_choice.threads_for(audio.size / SAMPLE_RATE)

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        offset_ms: int,
        prompt: str | None = None,
        language: str | None = None,
        beam_size: int = 0,
        fallback: bool = True,
        threads: int | None = None,
    ) -> list[AsrSegment]:
        """Segments of `audio` (float32 mono 16 kHz) in meeting time. `prompt` None uses the initial
        prompt, `language` None the configured one; `beam_size` > 0 decodes with beam search; `fallback`
        False decodes at temperature 0 only; `threads` None lets `thread_choice` decide."""
        with self._lock:
            audio = self._checked(audio)
            if audio.size == 0:
                return []
            language = self.language if language is None else language
            if language != "auto" and language not in self.languages:
                raise ConfigError(f"{language!r} is not a whisper language code")
            audio_ctx = 0
            if self.fit_audio_ctx:
                audio_ctx = fit_audio_ctx(audio.size, self.audio_ctx_margin_s, self._n_audio_ctx,
                                          flash_attn=self.flash_attn)
            threads = self.threads_for(audio) if threads is None else threads
            started = time.perf_counter()
            _full(self._model, audio, threads=threads, temperature_inc=self.temperature_inc if fallback else 0.0,
                  language=language, prompt=self.initial_prompt if prompt is None else prompt, audio_ctx=audio_ctx,
                  beam_size=beam_size)
            self.thread_choice.note(threads, audio.size / SAMPLE_RATE, time.perf_counter() - started)
            segments = self._segments(samples_to_ms(audio.size), offset_ms, language)
            if audio_ctx and not (self.initial_prompt if prompt is None else prompt) and segments:
                segments[0] = replace(segments[0], text=_sentence_start(segments[0].text))
        if not segments and float(np.sqrt(np.dot(audio, audio) / audio.size)) >= VOICED_RMS:
            self.soft_errors += 1
        return segments

    def detect_language(self, audio: np.ndarray, *, threads: int | None = None) -> dict[str, float]:
        """whisper's probability of each language for `audio` (one encoder pass; empty audio: {})."""
        with self._lock:
            audio = self._checked(audio)
            if audio.size == 0 or self.empty:
                return {}
            threads = self.threads_for(audio) if threads is None else threads
            started = time.perf_counter()
            probs = _language_probabilities(self._pw, self._model._ctx, audio, threads)
            self.thread_choice.note(threads, audio.size / SAMPLE_RATE, time.perf_counter() - started)
        return {code: float(p) for code, p in zip(self.languages, probs, strict=True)}

    def count_tokens(self, text: str) -> int:
        """How many tokens whisper.cpp's own tokenizer makes of `text` (what its prompt budget counts)."""
        with self._lock:
            if self._model is None:
                raise RuntimeError("the whisper model is closed")
            if not text:
                return 0
            # With no room for tokens whisper_tokenize writes nothing and returns minus the count.
            return -self._pw.whisper_tokenize(self._model._ctx, text, 0, 0)

    def _checked(self, audio: np.ndarray) -> np.ndarray:
        """`audio` as contiguous float32 mono, once the calling thread is known to own the model."""
        me = threading.get_ident()
        if self._owner is None:
            self._owner = me
        elif self._owner != me:
            raise RuntimeError("a WhisperCppModel is used by the thread that first transcribed with it only")
        if self._model is None:
            raise RuntimeError("the whisper model is closed")
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"audio must be mono (1-D), got shape {audio.shape}")
        return audio

    def _segments(self, clip_ms: int, offset_ms: int, language: str) -> list[AsrSegment]:
        pw, ctx = self._pw, self._model._ctx
        n = pw.whisper_full_n_segments(ctx)
        if n == 0:
            return []
        if language == "auto":
            lang_id = pw.whisper_full_lang_id(ctx)
            language = self.languages[lang_id] if 0 <= lang_id < len(self.languages) else "auto"
        texts = decode_segment_texts([pw.whisper_full_get_segment_text(ctx, i) for i in range(n)])
        # whisper.cpp times are in centiseconds.
        raw_times = [
            (pw.whisper_full_get_segment_t0(ctx, i) * 10, pw.whisper_full_get_segment_t1(ctx, i) * 10) for i in range(n)
        ]
        times = clamp_times(raw_times, clip_ms)
        out = []
        for i, ((t0, t1), text) in enumerate(zip(times, texts, strict=True)):
            if text:
                out.append(AsrSegment(t0 + offset_ms, t1 + offset_ms, text, language, self._confidence(ctx, i)))
        return out

    def _confidence(self, ctx: Any, segment: int) -> float | None:
        """Mean probability of the segment's text tokens (special and timestamp tokens left out)."""
        pw = self._pw
        total, count = 0.0, 0
        for j in range(pw.whisper_full_n_tokens(ctx, segment)):
            data = pw.whisper_full_get_token_data(ctx, segment, j)
            if data.id < self._eot:
                total += data.p
                count += 1
        return round(total / count, 4) if count else None

    def close(self) -> None:
        """Free the model; transcribing afterwards raises RuntimeError."""
        with self._lock:
            model, self._model = self._model, None
            if model is not None and model._ctx is not None:
                self._pw.whisper_free(model._ctx)
                model._ctx = None

    def __enter__(self) -> WhisperCppModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _load(path: Path, *, flash_attn: bool, **params: Any) -> tuple[Any, str]:
    """A pywhispercpp Model for `path` (already checked) and its load log; ModelError if it failed."""
    import _pywhispercpp as pw
    from pywhispercpp.model import ContextParams, Model

    hook = _LogHook()
    # whisper.cpp logs to stderr, also from inside transcribe; route it all to `logging`. The
    # hook is process-wide and stays after close (a later model replaces it), but it must be
    # gone before interpreter shutdown: a native log call then, from a model freed at exit,
    # aborts the process. One atexit entry is kept however many models load.
    pw.whisper_log_set(hook)
    atexit.unregister(pw.whisper_log_set)
    atexit.register(pw.whisper_log_set, None)
    try:
        model = Model(
            str(path),
            context_params=ContextParams(flash_attn=flash_attn),
            redirect_whispercpp_logs_to=False,
            no_context=True,
            print_progress=False,
            print_realtime=False,
            print_timestamps=False,
            **params,
        )
    except Exception as exc:
        raise ModelError(f"{path}: whisper.cpp could not load it: {exc}") from exc
    text = "".join(hook.load_log or [])
    hook.load_log = None
    if "failed to load model" in text or "failed to initialize" in text:
        reason = next(iter(hook.errors), "see the debug log").split(": ", 1)[-1]
        raise ModelError(
            f"{path}: whisper.cpp could not load it ({reason.removeprefix('ERROR ').strip()}); "
            "check that it is a complete whisper.cpp ggml model"
        )
    return model, text


@dataclass(frozen=True)
class RawCall:
    """One whisper.cpp call to repeat with bare pywhispercpp: a decode of `audio` with these
    settings (`audio_ctx_margin_s` None: the whole 30 s window), or with `detect_only` a language
    detection (one encoder pass, as `WhisperCppModel.detect_language` does)."""

    audio: np.ndarray
    prompt: str = ""
    language: str = "auto"
    beam_size: int = 0
    audio_ctx_margin_s: float | None = None
    detect_only: bool = False
    fallback: bool = True  # False: temperature 0 only
    threads: int | None = None  # None: RawWhisper's


@dataclass(frozen=True)
class RawCost:
    wall_s: float
    cpu_s: float  # process CPU time, every thread


class RawWhisper:
    """Bare pywhispercpp on the calling thread: the benchmark's baseline for the pipeline's overhead
    and its whole-file pass (loading is not counted). `run` makes one `RawCall` with every decode
    parameter set explicitly, as `WhisperCppModel` does."""

    def __init__(self, model_path: Path, *, threads: int, max_tokens: int = 0, temperature_inc: float = 0.0,
                 flash_attn: bool = False) -> None:
        import _pywhispercpp as pw

        self._pw = pw
        self.threads = threads
        self.flash_attn = flash_attn
        self.temperature_inc = temperature_inc
        self._model, _ = _load(_check_model_file(Path(model_path)), flash_attn=flash_attn, n_threads=threads,
                               max_tokens=max_tokens, temperature_inc=temperature_inc)
        self._n_audio_ctx = pw.whisper_model_n_audio_ctx(self._model._ctx)
        # As WhisperCppModel does at load.
        _size_encoder(self._model, self._n_audio_ctx, flash_attn)

    def run(self, call: RawCall) -> RawCost:
        audio = np.ascontiguousarray(call.audio, dtype=np.float32)
        threads = self.threads if call.threads is None else call.threads
        margin = call.audio_ctx_margin_s
        started, cpu_started = time.perf_counter(), time.process_time()
        if call.detect_only:
            _language_probabilities(self._pw, self._model._ctx, audio, threads)
        else:
            _full(self._model, audio, threads=threads, temperature_inc=self.temperature_inc if call.fallback else 0.0,
                  language=call.language, prompt=call.prompt, beam_size=call.beam_size,
                  audio_ctx=0 if margin is None else fit_audio_ctx(audio.size, margin, self._n_audio_ctx,
                                                                   flash_attn=self.flash_attn))
        return RawCost(time.perf_counter() - started, time.process_time() - cpu_started)

    def close(self) -> None:
        if self._model._ctx is not None:
            self._pw.whisper_free(self._model._ctx)
            self._model._ctx = None

    def __enter__(self) -> RawWhisper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def raw_replay(
    model_path: Path, calls: list[RawCall], *, threads: int, max_tokens: int = 0, temperature_inc: float = 0.0,
    flash_attn: bool = False,
) -> RawCost:
    """The total cost of `calls` made one after another with bare pywhispercpp."""
    wall = cpu = 0.0
    with RawWhisper(model_path, threads=threads, max_tokens=max_tokens, temperature_inc=temperature_inc,
                    flash_attn=flash_attn) as raw:
        for call in calls:
            cost = raw.run(call)
            wall += cost.wall_s
            cpu += cost.cpu_s
    return RawCost(wall, cpu)


class _LogHook:
    """whisper.cpp's log sink: keeps the load log for checking, then forwards to `logging`."""

    def __init__(self) -> None:
        self.load_log: list[str] | None = []
        self.errors: list[str] = []

    def __call__(self, level: int, text: str) -> None:
        if text.startswith(TOKEN_COUNT_LOG):
            return  # how `count_tokens` learns the count, not a fault
        if self.load_log is not None:
            self.load_log.append(text)
            if level == GGML_LOG_ERROR:
                self.errors.append(text.strip())
        elif text.strip():
            log.log(logging.WARNING if level == GGML_LOG_ERROR else logging.DEBUG, "whisper.cpp: %s", text.rstrip())


def decode_segment_texts(chunks: list[bytes]) -> list[str]:
    """Text of each segment from whisper's raw bytes, stripped.

    Whisper can end a segment inside a multi-byte character (Hangul is 3 bytes); the bytes left
    over open the next segment instead of becoming two U+FFFD. What stays invalid becomes U+FFFD
    and is kept, like U+FFFD the model wrote itself: a lost syllable must be seen, not hidden.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return [decoder.decode(chunk, final=i == len(chunks) - 1).strip() for i, chunk in enumerate(chunks)]


def _sentence_start(text: str) -> str:
    """`text` with a leading lowercase Latin letter capitalised. With a fitted encoder window and no
    prompt, whisper starts an English utterance in lowercase ("and so my fellow Americans.") where the
    whole window gives "And so my fellow Americans."."""
    return text[0].upper() + text[1:] if text[:1].isascii() and text[:1].islower() else text


def fit_audio_ctx(n_samples: int, margin_s: float, n_audio_ctx: int, *, flash_attn: bool = False) -> int:
    """whisper's `audio_ctx` (encoder positions) for `n_samples` of audio plus `margin_s`, rounded up
    to a multiple of AUDIO_CTX_STEP (FLASH_ATTN_CTX_STEP with flash attention) and at least
    MIN_AUDIO_CTX; 0 (the whole window) when that is not shorter than `n_audio_ctx`."""
    step = FLASH_ATTN_CTX_STEP if flash_attn else AUDIO_CTX_STEP
    seconds = n_samples / SAMPLE_RATE + max(margin_s, 0.0)
    positions = math.ceil(max(seconds * ENCODER_FRAMES_PER_S, MIN_AUDIO_CTX) / step) * step
    return positions if positions < n_audio_ctx else 0


def _full(model: Any, audio: np.ndarray, *, threads: int, temperature_inc: float, language: str, prompt: str,
          audio_ctx: int, beam_size: int) -> None:
    """One whisper_full call with every decode parameter set (pywhispercpp keeps them between calls)."""
    import _pywhispercpp as pw

    strategy = pw.whisper_sampling_strategy
    model.transcribe(
        audio,
        n_threads=threads,
        temperature_inc=temperature_inc,
        language="" if language == "auto" else language,
        initial_prompt=prompt,
        audio_ctx=audio_ctx,
        strategy=strategy.WHISPER_SAMPLING_BEAM_SEARCH if beam_size > 0 else strategy.WHISPER_SAMPLING_GREEDY,
        beam_search={"beam_size": beam_size if beam_size > 0 else -1, "patience": -1.0},
    )


def _language_probabilities(pw: Any, ctx: Any, audio: np.ndarray, threads: int) -> np.ndarray:
    """whisper's probability of each of its languages for `audio`: one encoder pass, at the audio_ctx of
    the previous decode (at least MIN_AUDIO_CTX positions: enough to tell languages apart)."""
    if pw.whisper_pcm_to_mel(ctx, audio, audio.size, threads) != 0:
        raise RuntimeError("whisper.cpp could not compute the mel spectrogram")
    probabilities = np.zeros(pw.whisper_lang_max_id() + 1, dtype=np.float32)  # filled in place
    if pw.whisper_lang_auto_detect(ctx, 0, threads, probabilities) < 0:
        raise RuntimeError("whisper.cpp could not detect the language")
    return probabilities


def _size_encoder(model: Any, n_audio_ctx: int, flash_attn: bool) -> None:
    """Decode half a second of silence at the smallest encoder window. Language detection runs the
    encoder at the window of the previous decode, which before any decode is the whole 30 s one: the
    meeting's first detection would cost several times the others (and allocate its buffers while
    someone waits for the first line)."""
    silence = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)
    model.transcribe(silence, language="en", initial_prompt="",
                     audio_ctx=fit_audio_ctx(0, 0.0, n_audio_ctx, flash_attn=flash_attn))


def clamp_times(times: list[tuple[int, int]], clip_ms: int) -> list[tuple[int, int]]:
    """Make whisper's (t0, t1) pairs (ms from the clip start) lie in the clip, in order, each non-empty.

    Starts are clamped to [0, clip_ms] and never go back in time; an end at or before its start
    becomes the next segment's start or the clip end. A segment starting at the clip end starts
    at the previous end instead, or takes the clip's last whisper tick when nothing is left.
    """
    out: list[tuple[int, int]] = []
    prev_t0, prev_t1 = 0, 0
    for i, (t0, t1) in enumerate(times):
        t0 = min(max(t0, prev_t0, 0), clip_ms)
        t1 = min(max(t1, 0), clip_ms)
        if t1 <= t0:
            next_t0 = times[i + 1][0] if i + 1 < len(times) else clip_ms
            t1 = next_t0 if t0 < next_t0 <= clip_ms else clip_ms
        if t1 <= t0:
            t0 = prev_t1 if prev_t1 < clip_ms else max(prev_t0, clip_ms - TICK_MS, 0)
        out.append((t0, t1))
        prev_t0, prev_t1 = t0, t1
    return out


def _check_model_file(path: Path) -> Path:
    if not path.is_absolute():
        # A bare name would make pywhispercpp download a model from a hub.
        raise ModelError(f"whisper model path {str(path)!r} must be an absolute path to a ggml file")
    if not path.is_file():
        raise ModelError(f"whisper model {path} not found; set asr.model_path to a whisper.cpp ggml file")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ModelError(f"cannot read whisper model {path}: {exc.strerror or exc}") from exc
    if magic != GGML_MAGIC:
        raise ModelError(f"{path} is not a whisper.cpp ggml model (bad magic); convert it or pick another file")
    return path


_SMOKE_TEST = """
import sys
import numpy as np
from pathlib import Path
from edge.asr.whispercpp import WhisperCppModel
from edge.core.errors import ModelError
try:
    model = WhisperCppModel(Path(sys.argv[1]), threads=2, language="en", max_tokens=4, temperature_inc=0.0)
except ModelError as exc:
    print(exc, file=sys.stderr)
    sys.exit(3)
if model.empty:
    print("EMPTY")
    sys.exit(0)
noise = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.05
model.transcribe(noise, offset_ms=0)
print("OK")
"""


def verify_whisper_model(path: Path, *, allow_empty: bool = False, timeout_s: float = 300.0) -> None:
    """Load `path` and transcribe one second in a subprocess; ModelError if that crashes or fails.

    whisper.cpp can abort the whole process on a malformed model, so never trust a new file
    before this passes. A vocab-only test model (no weights, nothing to run) passes only with
    `allow_empty`.
    """
    path = _check_model_file(Path(path).absolute())
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    # On abort, ggml attaches gdb to itself for a backtrace when gdb is installed; that can hang for
    # minutes. The verdict needs only the exit status.
    env["GGML_NO_BACKTRACE"] = "1"
    try:
        result = subprocess.run(
            [sys.executable, "-c", _SMOKE_TEST, str(path)],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout_s,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ModelError(f"{path}: a one-second test transcription did not finish in {timeout_s:.0f} s") from exc
    if result.returncode == 3:
        raise ModelError(result.stderr.strip().splitlines()[-1])
    if result.returncode != 0:
        last = next((ln.strip() for ln in reversed(result.stderr.splitlines()) if ln.strip()), "no output")
        crashed = result.returncode < 0
        how = f"crashed ({signal.Signals(-result.returncode).name})" if crashed else f"failed ({last})"
        raise ModelError(f"{path}: whisper.cpp {how} on a test transcription; the model file is broken")
    if result.stdout.strip() == "EMPTY" and not allow_empty:
        raise ModelError(f"{path} has no weights (a vocab-only test model); use a real whisper.cpp model")
