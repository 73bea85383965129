"""Voice activity detection: Silero speech probabilities -> utterances for ASR.

`SpeechSegmenter` is the pure policy (no model): hysteresis thresholds, minimum speech and
silence, padding, pre-roll, splitting of over-long speech, live snapshots. `VadStage` feeds it
from a model in 512-sample chunks and follows capture time across gaps. `detect_speech` and
`speech_segments` run the very same stage over a recording (for `edge vad`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import numpy as np

from edge.core.config import VadConfig
from edge.core.errors import ModelError
from edge.core.events import SAMPLE_RATE, AudioFrame, CaptureGap, Utterance, ms_to_samples, samples_to_ms

CHUNK_SAMPLES = 512
NEG_THRESHOLD_OFFSET = 0.15  # Silero's own hysteresis: speech ends below threshold - 0.15
SPLIT_WINDOW_S = 5.0  # an over-long utterance is cut at the best point of its last seconds
QUIET_RATIO = 0.5  # a chunk this much quieter than the window's median counts as a pause
FETCH_HINT = "run `edge models fetch silero-vad` or pass --model"


class VadModel(Protocol):
    """Speech probability of consecutive 512-sample chunks of one 16 kHz stream."""

    def reset(self) -> None: ...

    def __call__(self, chunk: np.ndarray, /) -> float: ...


class SpeechSegmenter:
    """Turns (speech probability, audio) chunks into utterances; positions are in samples.

    An utterance starts when a chunk reaches `threshold` and ends once the probability has stayed
    below `neg_threshold` for `min_silence_ms`; it keeps `speech_pad_ms` of audio before (pre-roll)
    and after the speech. Bursts shorter than `min_speech_ms` are dropped. Speech longer than
    `max_segment_s` is split at the lowest-probability (else quietest) chunk of the last seconds,
    else cut hard. While speech goes on, a non-final snapshot is emitted every `update_ms` of new
    audio (0 disables). Utterance ids count up from 0 in emission order.
    """

    # The utterance in progress, set by _reset_utterance.
    _parts: list[np.ndarray]
    _buffer_len: int
    _utt_start: int
    _speech_start: int | None
    _silence_start: int | None
    _resume_start: int | None
    _chunks: list[tuple[int, float, float]]  # (position, probability, rms)
    _id: int | None
    _since_snapshot: int

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        neg_threshold: float | None = None,
        min_speech_ms: int = 250,
        min_silence_ms: int = 500,
        speech_pad_ms: int = 200,
        max_segment_s: float = 20.0,
        update_ms: int = 0,
        split_window_s: float = SPLIT_WINDOW_S,
    ) -> None:
        if not 0 < threshold < 1:
            raise ValueError("threshold must be between 0 and 1")
        self.threshold = threshold
        self.neg_threshold = max(0.01, threshold - NEG_THRESHOLD_OFFSET) if neg_threshold is None else neg_threshold
        self.min_speech = ms_to_samples(min_speech_ms)
        self.min_silence = ms_to_samples(min_silence_ms)
        self.pad = ms_to_samples(speech_pad_ms)
        self.max_samples = int(max_segment_s * SAMPLE_RATE)
        if self.max_samples < 2 * CHUNK_SAMPLES:
            raise ValueError("max_segment_s is too short")
        self.update_samples = ms_to_samples(update_ms)
        self.split_window = int(min(split_window_s, max_segment_s / 2) * SAMPLE_RATE)
        self._pos = 0
        self._next_id = 0
        self._history = np.zeros(0, dtype=np.float32)
        self._reset_utterance()

    @classmethod
    def from_config(cls, cfg: VadConfig, update_ms: int = 0) -> SpeechSegmenter:
        return cls(
            threshold=cfg.threshold,
            min_speech_ms=cfg.min_speech_ms,
            min_silence_ms=cfg.min_silence_ms,
            speech_pad_ms=cfg.speech_pad_ms,
            max_segment_s=cfg.max_segment_s,
            update_ms=update_ms,
        )

    @property
    def position(self) -> int:
        """Stream position (samples) where the next chunk starts."""
        return self._pos

    @property
    def in_speech(self) -> bool:
        return self._speech_start is not None

    def push(self, prob: float, chunk: np.ndarray) -> list[Utterance]:
        """One chunk of audio and its speech probability; returns utterances it completes or updates."""
        chunk = np.asarray(chunk, dtype=np.float32)
        start, self._pos = self._pos, self._pos + len(chunk)
        if self._speech_start is None:
            if prob < self.threshold:
                self._remember(chunk)
                return []
            self._begin(start, chunk)
        else:
            self._append(chunk)
        self._chunks.append((start, prob, float(np.sqrt(np.mean(chunk * chunk))) if len(chunk) else 0.0))
        if prob >= self.threshold:
            # Once an utterance is confirmed speech and has gone quiet, a click or breath shorter than
            # min_speech does not resume it: it would stretch the utterance and delay its commit.
            if self._silence_start is not None and self._id is None:
                self._silence_start = None
            elif self._silence_start is not None:
                if self._resume_start is None:
                    self._resume_start = start
                if self._pos - self._resume_start >= self.min_speech:
                    self._silence_start = self._resume_start = None
        elif prob < self.neg_threshold:
            self._resume_start = None
            if self._silence_start is None:
                self._silence_start = start
            if start - self._silence_start >= self.min_silence:
                return self._end(self._silence_start)
        out: list[Utterance] = []
        if self._buffer_len >= self.max_samples:
            out.extend(self._split())
        self._confirm()
        snapshot = self._snapshot()
        if snapshot is not None:
            out.append(snapshot)
        return out

    def flush(self) -> list[Utterance]:
        """End of stream: finish the utterance in progress, if it is long enough."""
        if self._speech_start is None:
            return []
        speech_end = self._silence_start if self._silence_start is not None else self._pos
        return self._end(speech_end)

    def skip(self, n_samples: int) -> list[Utterance]:
        """Audio that never arrived: ends the utterance in progress and moves time on."""
        out = self.flush()
        self._history = np.zeros(0, dtype=np.float32)
        self._pos += max(0, int(n_samples))
        return out

    def gap(self, duration_ms: int) -> list[Utterance]:
        return self.skip(ms_to_samples(duration_ms))

    # -- internals -------------------------------------------------------------------------

    def _reset_utterance(self) -> None:
        self._parts = []
        self._buffer_len = 0
        self._utt_start = self._pos
        self._speech_start = None
        self._silence_start = None
        self._resume_start = None
        self._chunks = []
        self._id = None
        self._since_snapshot = 0

    def _remember(self, chunk: np.ndarray) -> None:
        if self.pad:
            self._history = np.concatenate((self._history, chunk))[-self.pad :]

    def _begin(self, start: int, chunk: np.ndarray) -> None:
        preroll = self._history
        self._history = np.zeros(0, dtype=np.float32)
        self._parts = [preroll, chunk]
        self._buffer_len = len(preroll) + len(chunk)
        self._utt_start = start - len(preroll)
        self._speech_start = start
        self._silence_start = self._resume_start = None
        self._chunks = []
        self._id = None
        self._since_snapshot = self._buffer_len

    def _append(self, chunk: np.ndarray) -> None:
        self._parts.append(chunk)
        self._buffer_len += len(chunk)
        self._since_snapshot += len(chunk)

    def _audio(self) -> np.ndarray:
        if len(self._parts) != 1:
            self._parts = [np.concatenate(self._parts) if self._parts else np.zeros(0, dtype=np.float32)]
        return self._parts[0]

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _confirm(self) -> None:
        if self._id is not None or self._speech_start is None:
            return
        speech_end = self._silence_start if self._silence_start is not None else self._pos
        if speech_end - self._speech_start >= self.min_speech:
            self._id = self._take_id()

    def _snapshot(self) -> Utterance | None:
        if (
            self.update_samples <= 0
            or self._id is None
            or self._silence_start is not None
            or self._since_snapshot < self.update_samples
        ):
            return None
        self._since_snapshot = 0
        return Utterance(self._id, samples_to_ms(self._utt_start), self._audio().copy(), final=False)

    def _end(self, speech_end: int) -> list[Utterance]:
        assert self._speech_start is not None
        audio = self._audio()
        end = min(speech_end + self.pad, self._pos) - self._utt_start
        if self._id is None and speech_end - self._speech_start >= self.min_speech:
            self._id = self._take_id()
        out = []
        if self._id is not None and end > 0:
            out.append(
                Utterance(
                    self._id,
                    samples_to_ms(self._utt_start),
                    audio[:end].copy(),
                    final=True,
                    speech_start_ms=samples_to_ms(self._speech_start),
                    speech_end_ms=samples_to_ms(speech_end),
                )
            )
        # What follows the trailing pad is silence that may serve as the next utterance's pre-roll.
        self._history = audio[end:][-self.pad :].copy() if self.pad else np.zeros(0, dtype=np.float32)
        self._reset_utterance()
        return out

    def _split_point(self) -> int:
        latest = min(self._utt_start + self._buffer_len, self._utt_start + self.max_samples)
        window = [c for c in self._chunks if self._utt_start < c[0] <= latest and c[0] >= latest - self.split_window]
        if not window:
            return latest
        position, prob, _ = min(window, key=lambda c: (c[1], c[2]))
        if prob < self.threshold:
            return position
        position, _, rms = min(window, key=lambda c: c[2])
        if rms < QUIET_RATIO * float(np.median([c[2] for c in window])):
            return position
        return latest

    def _split(self) -> list[Utterance]:
        assert self._speech_start is not None
        cut = self._split_point()
        audio = self._audio()
        offset = cut - self._utt_start
        utterance_id = self._id if self._id is not None else self._take_id()
        first = Utterance(
            utterance_id,
            samples_to_ms(self._utt_start),
            audio[:offset].copy(),
            final=True,
            speech_start_ms=samples_to_ms(self._speech_start),
            speech_end_ms=samples_to_ms(cut),
        )
        rest = audio[offset:].copy()
        if len(rest) == 0:  # a hard cut at the very end: speech that goes on starts a new utterance
            self._reset_utterance()
            return [first]
        self._parts = [rest]
        self._buffer_len = len(rest)
        self._utt_start = cut
        self._speech_start = cut
        self._resume_start = None
        if self._silence_start is not None:
            self._silence_start = max(self._silence_start, cut)
        self._chunks = [c for c in self._chunks if c[0] >= cut]
        self._id = None
        self._since_snapshot = len(rest)
        return [first]


class VadStage:
    """A VAD model and a segmenter over the capture stream: frames and gaps in, utterances out.

    Frames may come in any size; they are cut into 512-sample chunks. A frame that starts later
    than expected (frames dropped upstream) is treated as a gap, so utterance times stay true.
    """

    def __init__(self, model: VadModel, segmenter: SpeechSegmenter | VadConfig, update_ms: int = 0) -> None:
        """`segmenter` may be a VadConfig, from which one is made (with `update_ms` snapshots)."""
        self.model = model
        self.segmenter = (
            SpeechSegmenter.from_config(segmenter, update_ms) if isinstance(segmenter, VadConfig) else segmenter
        )
        self._pending = np.zeros(0, dtype=np.float32)
        self.chunks = 0
        self.gaps = 0

    @property
    def position(self) -> int:
        """Stream position (samples) just after the last audio fed."""
        return self.segmenter.position + len(self._pending)

    def feed(self, item: AudioFrame | CaptureGap) -> list[Utterance]:
        if isinstance(item, CaptureGap):
            target = max(
                self.position + ms_to_samples(item.duration_ms), ms_to_samples(item.start_ms + item.duration_ms)
            )
            return self._skip_to(target)
        out: list[Utterance] = []
        frame_start = ms_to_samples(item.start_ms)
        if frame_start > self.position + SAMPLE_RATE // 1000:
            out.extend(self._skip_to(frame_start))
        samples = np.asarray(item.samples, dtype=np.float32)
        pending = np.concatenate((self._pending, samples)) if len(self._pending) else samples
        usable = len(pending) - len(pending) % CHUNK_SAMPLES
        for offset in range(0, usable, CHUNK_SAMPLES):
            chunk = pending[offset : offset + CHUNK_SAMPLES]
            self.chunks += 1
            out.extend(self.segmenter.push(self.model(chunk), chunk))
        self._pending = pending[usable:].copy()
        return out

    def flush(self) -> list[Utterance]:
        """End of stream: the last partial chunk (zero-padded for the model) and the utterance in progress."""
        out: list[Utterance] = []
        if len(self._pending):
            padded = np.zeros(CHUNK_SAMPLES, dtype=np.float32)
            padded[: len(self._pending)] = self._pending
            self.chunks += 1
            out.extend(self.segmenter.push(self.model(padded), self._pending))
            self._pending = np.zeros(0, dtype=np.float32)
        out.extend(self.segmenter.flush())
        return out

    def _skip_to(self, target: int) -> list[Utterance]:
        self.gaps += 1
        out = self.segmenter.skip(target - self.segmenter.position)
        self._pending = np.zeros(0, dtype=np.float32)
        self.model.reset()  # its recurrent state belongs to audio that no longer continues
        return out


def load_vad_model(cfg: VadConfig) -> VadModel:
    """The Silero model for `cfg.backend`: a TensorRT engine on a Jetson where built, else onnxruntime."""
    model_path = Path(cfg.model_path)
    if not model_path.is_file():
        raise ModelError(f"VAD model {model_path} not found; {FETCH_HINT}")
    if cfg.backend == "tensorrt":
        try:
            from edge.audio.vad_tensorrt import SileroTensorRt
        except ImportError as exc:
            raise ModelError(
                f"vad.backend tensorrt is not available here ({exc}); it needs TensorRT on a Jetson, "
                'set vad.backend to "auto" or "onnx"'
            ) from None
        return SileroTensorRt(model_path)
    if cfg.backend == "auto":
        try:
            from edge.audio import vad_tensorrt
        except ImportError:
            vad_tensorrt = None  # type: ignore[assignment]
        if vad_tensorrt is not None and vad_tensorrt.engine_available(model_path):
            return vad_tensorrt.SileroTensorRt(model_path)
    from edge.audio.vad_onnx import SileroOnnx

    return SileroOnnx(model_path)


def speech_segments(
    blocks: Iterable[np.ndarray], cfg: VadConfig, model: VadModel | None = None
) -> list[tuple[float, float]]:
    """(start, end) seconds of speech in a stream of float32 mono 16 kHz blocks (without the padding
    that the utterances sent to ASR carry)."""
    model = load_vad_model(cfg) if model is None else model
    model.reset()
    stage = VadStage(model, cfg, update_ms=0)
    segments: list[tuple[float, float]] = []
    position = 0
    for block in blocks:
        frame = AudioFrame(np.asarray(block, dtype=np.float32), samples_to_ms(position))
        position += len(block)
        utterances = stage.feed(frame)
        segments.extend(_speech_span(u) for u in utterances if u.final)
    segments.extend(_speech_span(u) for u in stage.flush() if u.final)
    return segments


def _speech_span(utterance: Utterance) -> tuple[float, float]:
    start = utterance.speech_start_ms if utterance.speech_start_ms is not None else utterance.start_ms
    end = utterance.speech_end_ms if utterance.speech_end_ms is not None else utterance.end_ms
    return start / 1000, end / 1000


def detect_speech(samples: np.ndarray, cfg: VadConfig, model: VadModel | None = None) -> list[tuple[float, float]]:
    """(start, end) seconds of speech in float32 mono 16 kHz `samples`, by the live segmenter."""
    return speech_segments([samples], cfg, model)
