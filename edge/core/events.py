"""Typed events passed between pipeline stages, and their versioned wire payloads.

Times are integer milliseconds of meeting time: 0 is the first sample captured for the meeting.
Audio is float32 mono 16 kHz in [-1, 1] everywhere after capture.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

SAMPLE_RATE = 16_000
PAYLOAD_VERSION = 1


def samples_to_ms(n_samples: int) -> int:
    return n_samples * 1000 // SAMPLE_RATE


def ms_to_samples(ms: int) -> int:
    return ms * SAMPLE_RATE // 1000


@dataclass(frozen=True)
class AudioFrame:
    """A block of captured audio starting at `start_ms` of the stream."""

    samples: np.ndarray
    start_ms: int

    @property
    def end_ms(self) -> int:
        return self.start_ms + samples_to_ms(len(self.samples))


@dataclass(frozen=True)
class CaptureGap:
    """Audio that never arrived (device unplugged, overflow, frames dropped); stream time skips it."""

    start_ms: int
    duration_ms: int
    reason: str


@dataclass(frozen=True)
class Utterance:
    """Speech found by the VAD. `final` is False while it is still going on (for partials)."""

    utterance_id: int
    start_ms: int
    audio: np.ndarray
    final: bool
    meeting_id: str = ""
    speech_start_ms: int | None = None  # the speech itself, without the padding around it
    speech_end_ms: int | None = None

    @property
    def end_ms(self) -> int:
        return self.start_ms + samples_to_ms(len(self.audio))


@dataclass(frozen=True)
class AsrSegment:
    """One segment as whisper.cpp returned it, in meeting time."""

    t0_ms: int
    t1_ms: int
    text: str
    language: str
    confidence: float | None = None


@dataclass(frozen=True)
class Partial:
    """Unstable live text of the utterance in progress; never stored."""

    meeting_id: str
    utterance_id: int
    t0_ms: int
    t1_ms: int
    stable: str
    unstable: str

    def to_payload(self) -> dict:
        return {"v": PAYLOAD_VERSION, **asdict(self)}


@dataclass(frozen=True)
class Segment:
    """A committed transcript segment. `(meeting_id, seq)` identifies it everywhere."""

    meeting_id: str
    seq: int
    t0_ms: int
    t1_ms: int
    text_raw: str
    language: str
    confidence: float | None = None
    text: str | None = None
    corrections: list[dict] = field(default_factory=list)
    revision: int = 0  # 0 as committed; each correction or edit publishes the next revision

    @property
    def display_text(self) -> str:
        return self.text if self.text is not None else self.text_raw

    def to_payload(self) -> dict:
        return {
            "v": PAYLOAD_VERSION,
            "meeting_id": self.meeting_id,
            "seq": self.seq,
            "t0_ms": self.t0_ms,
            "t1_ms": self.t1_ms,
            "text": self.display_text,
            "text_raw": self.text_raw,
            "language": self.language,
            "confidence": self.confidence,
            "revision": self.revision,
        }


@dataclass(frozen=True)
class FilteredSegment:
    """A segment the hallucination firewall dropped, kept for audit with its reason."""

    meeting_id: str
    t0_ms: int
    t1_ms: int
    text: str
    reason: str
