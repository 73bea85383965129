"""Typed events passed between pipeline stages, and their versioned wire payloads.

Times are integer milliseconds of meeting time: 0 is the first sample captured for the meeting.
Audio is float32 mono 16 kHz in [-1, 1] everywhere after capture.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

SAMPLE_RATE = 16_000
PAYLOAD_VERSION = 1
"""The version of every live and MQTT payload that carries "v"; bump it when a payload changes shape."""


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
    speaker: str | None = None  # "S1", "S2", ...: the speaker stage's label, set before commit


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
    speaker: str | None = None  # the speaker's label in this meeting ("S1", "S2", ...), None when unknown
    speaker_name: str = ""  # the name people gave that label in this meeting, "" when none

    @property
    def display_text(self) -> str:
        return self.text if self.text is not None else self.text_raw

    @property
    def speaker_display(self) -> str | None:
        """How the speaker is shown: the name given to the label, else the label, else None."""
        return self.speaker_name or self.speaker

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
            "speaker": self.speaker_display,
            "speaker_id": self.speaker,
        }


@dataclass(frozen=True)
class FilteredSegment:
    """A segment the hallucination firewall dropped, kept for audit with its reason."""

    meeting_id: str
    t0_ms: int
    t1_ms: int
    text: str
    reason: str


# Live events: what the box tells its live clients (the API's stream, MQTT). `kind` names the SSE event;
# `to_payload()` is the JSON both carry. The segment events are also the store's change events.


@dataclass(frozen=True)
class Partial:
    """Unstable live text of the utterance in progress; never stored."""

    kind: ClassVar[str] = "partial"

    meeting_id: str
    utterance_id: int
    t0_ms: int
    t1_ms: int
    stable: str
    unstable: str

    def to_payload(self) -> dict[str, Any]:
        return {"v": PAYLOAD_VERSION, **asdict(self)}


@dataclass(frozen=True)
class SegmentCommitted:
    """A segment was stored (with its outbox row)."""

    kind: ClassVar[str] = "segment"

    segment: Segment

    def to_payload(self) -> dict[str, Any]:
        return self.segment.to_payload()


@dataclass(frozen=True)
class SegmentRevised:
    """A stored segment has a new revision: the LLM's correction, or a person's edit (`edited`)."""

    kind: ClassVar[str] = "segment_update"

    segment: Segment
    edited: bool = False

    def to_payload(self) -> dict[str, Any]:
        payload = self.segment.to_payload()
        return {**payload, "edited": True} if self.edited else payload


@dataclass(frozen=True)
class SegmentDropped:
    """The firewall dropped a segment; it is stored for audit with its reason."""

    kind: ClassVar[str] = "filtered"

    item: FilteredSegment

    def to_payload(self) -> dict[str, Any]:
        return {"v": PAYLOAD_VERSION, **asdict(self.item)}


@dataclass(frozen=True)
class Speaker:
    """A speaker of a meeting: its label, the name people gave it ("" when none), and how much it spoke."""

    label: str
    name: str = ""
    segments: int = 0
    speech_ms: int = 0

    @property
    def display(self) -> str:
        return self.name or self.label

    def to_payload(self) -> dict[str, Any]:
        return {**asdict(self), "display": self.display}


@dataclass(frozen=True)
class SpeakersChanged:
    """A meeting's speakers were named or renamed: every speaker of the meeting, in label order."""

    kind: ClassVar[str] = "speakers"

    meeting_id: str
    speakers: tuple[Speaker, ...]

    def to_payload(self) -> dict[str, Any]:
        return {"v": PAYLOAD_VERSION, "meeting_id": self.meeting_id,
                "speakers": [speaker.to_payload() for speaker in self.speakers]}  # fmt: skip


@dataclass(frozen=True)
class BoxState:
    """What the box is doing: "idle", "recording" (meeting_id set) or "processing" (uploaded files)."""

    STATES: ClassVar[tuple[str, ...]] = ("idle", "recording", "processing")

    kind: ClassVar[str] = "state"

    state: str
    meeting_id: str | None = None

    def to_payload(self) -> dict[str, Any]:
        return {"v": PAYLOAD_VERSION, "state": self.state, "meeting_id": self.meeting_id}


@dataclass(frozen=True)
class MinutesProgress:
    """A step of a minutes generation (stage, done of total, the text streamed so far)."""

    kind: ClassVar[str] = "minutes_progress"

    meeting_id: str
    stage: str
    done: int
    total: int
    partial: str = ""
    attempt: int = 1

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MinutesDone:
    """A minutes generation ended: its status ("draft", "approved", "failed", ...) and error, if any."""

    kind: ClassVar[str] = "minutes"

    meeting_id: str
    status: str
    error: str | None = None

    def to_payload(self) -> dict[str, Any]:
        return {"v": PAYLOAD_VERSION, **asdict(self)}


@dataclass(frozen=True)
class LiveDropped:
    """A slow live client lost this many events (it can re-read the segments)."""

    kind: ClassVar[str] = "dropped"

    count: int

    def to_payload(self) -> dict[str, Any]:
        return {"v": PAYLOAD_VERSION, "count": self.count}


@dataclass(frozen=True)
class HealthChanged:
    """The box's verdict changed ("ok", "degraded", "error"): each problem with its code (the page's words for
    it), severity, English message and the figures in it."""

    kind: ClassVar[str] = "health"

    status: str
    problems: tuple[dict[str, Any], ...] = ()

    def to_payload(self) -> dict[str, Any]:
        return {"v": PAYLOAD_VERSION, "status": self.status, "problems": list(self.problems)}


LiveEvent = (
    Partial | SegmentCommitted | SegmentRevised | SegmentDropped | SpeakersChanged | BoxState | MinutesProgress
    | MinutesDone | HealthChanged
)
"""Everything published on the live bus (LiveDropped is made per client by the stream itself)."""

StoreChange = SegmentCommitted | SegmentRevised | SegmentDropped | SpeakersChanged
"""What the store tells its listeners after a commit."""
