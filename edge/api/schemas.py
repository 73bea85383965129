"""Request and response models of the API (they make the OpenAPI document precise)."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge.core.events import Segment
from edge.store import Meeting

LANGUAGE_PATTERN = r"^([a-z]{2,3}|auto)$"
MAX_TITLE_CHARS = 200
MAX_SEGMENT_TEXT_CHARS = 10_000
# Segment text: not blank, and no control character other than white space (which becomes a space).
_NOT_CONTROL = r"[^\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]"
SEGMENT_TEXT_PATTERN = rf"^{_NOT_CONTROL}*[^\s\x00-\x1f\x7f-\x9f\ufeff]{_NOT_CONTROL}*$"
# Bounds on paging numbers keep them inside SQLite's 64-bit integers.
MAX_OFFSET = 1_000_000_000
MAX_SEQ = 2**31 - 1

MeetingStatus = Literal["recording", "processing", "stopped", "interrupted", "imported", "failed"]


class ErrorOut(BaseModel):
    detail: str = Field(description="What went wrong and how to fix it.")


class MeetingOut(BaseModel):
    id: str
    title: str
    room: str
    language: str
    source: str = Field(description='Origin of the audio or transcript ("pyaudio:...", "file:...", "import:...").')
    status: MeetingStatus
    started_at: str = Field(description="ISO 8601 UTC time.")
    ended_at: str | None = Field(description="ISO 8601 UTC time; null while the meeting runs.")
    segment_count: int
    error: str | None = Field(
        default=None,
        description="Why the meeting failed or was interrupted (for example, an upload found damaged).",
    )

    has_audio: bool = Field(
        default=False, description="Its audio archive is on the box: GET /api/v1/meetings/{id}/audio plays it."
    )

    @classmethod
    def of(cls, meeting: Meeting, segment_count: int) -> MeetingOut:
        fields = meeting.to_dict()
        audio_path = fields.pop("audio_path")  # a path on the box is nobody's business on the network
        has_audio = bool(audio_path) and FilePath(audio_path).is_file()
        return cls(**fields, segment_count=segment_count, has_audio=has_audio)


class MeetingPage(BaseModel):
    items: list[MeetingOut]
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last page.")


class SegmentOut(BaseModel):
    meeting_id: str
    seq: int = Field(description="Position in the meeting; (meeting_id, seq) identifies the segment everywhere.")
    t0_ms: int = Field(description="Start, in milliseconds of meeting time.")
    t1_ms: int = Field(description="End, in milliseconds of meeting time.")
    text: str = Field(description="Best text: a person's edit, else the corrected text, else the raw ASR text.")
    text_raw: str = Field(description="What the speech recognizer produced, never changed.")
    language: str
    confidence: float | None
    edited: bool = Field(description="A person has edited the text.")
    corrections: list[dict[str, Any]] = Field(description="Every change made to the raw text, with its rule.")
    speaker: str | None = Field(
        default=None, description="Who said it: the name given to its speaker, else the label; null when unknown."
    )
    speaker_id: str | None = Field(
        default=None, description='Its speaker\'s label in this meeting ("S1", ...); null when unknown.'
    )

    @classmethod
    def of(cls, segment: Segment) -> SegmentOut:
        return cls(
            meeting_id=segment.meeting_id,
            seq=segment.seq,
            t0_ms=segment.t0_ms,
            t1_ms=segment.t1_ms,
            text=segment.display_text,
            text_raw=segment.text_raw,
            language=segment.language,
            confidence=segment.confidence,
            edited=any(c.get("rule") == "human_edit" for c in segment.corrections),
            corrections=segment.corrections,
            speaker=segment.speaker_display,
            speaker_id=segment.speaker,
        )


class SegmentPage(BaseModel):
    items: list[SegmentOut]
    next_after_seq: int | None = Field(description="Pass as after_seq for the next page; null on the last page.")


class StartMeetingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="", max_length=MAX_TITLE_CHARS)
    language: str | None = Field(
        default=None,
        pattern=LANGUAGE_PATTERN,
        description='Decoding language ("ko", "en", ...); default: the room setting.',
    )


class SegmentEditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=1,
        max_length=MAX_SEGMENT_TEXT_CHARS,
        # Documented here, checked by `_one_line` so that the refusal names the character.
        json_schema_extra={"pattern": SEGMENT_TEXT_PATTERN},
        description="The corrected text (not blank, no control characters; runs of white space become one space).",
    )

    @field_validator("text")
    @classmethod
    def _one_line(cls, value: str) -> str:
        text = " ".join(value.split())
        control = next((char for char in text if ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0), None)
        if control is not None:
            # NUL ends a C string: exports, subtitles and MQTT consumers would cut the text there.
            raise ValueError(f"the text contains the control character U+{ord(control):04X}; remove it")
        if not text.replace("\ufeff", "").strip():
            raise ValueError("the text is blank; write the corrected text")
        return text


class SearchPart(BaseModel):
    text: str
    match: bool = Field(description="This part matched a word of the query (show it highlighted).")


class SearchItem(BaseModel):
    kind: Literal["segment", "minutes"]
    meeting_id: str
    meeting_title: str
    started_at: str = Field(description="ISO 8601 UTC time the meeting started.")
    seq: int | None = Field(description="The segment (GET /api/v1/meetings/{id}/segments); null for minutes.")
    t0_ms: int | None = Field(description="Start of the segment in meeting time; null for minutes.")
    language: str
    parts: list[SearchPart] = Field(
        description="The matching text, cut to about 160 characters around the first match, as parts."
    )


class SearchOut(BaseModel):
    query: str
    items: list[SearchItem] = Field(description="Matching minutes first (at most 5), then segments, best first.")
    limit: int


class StateOut(BaseModel):
    v: int
    state: Literal["idle", "recording", "processing"]
    meeting_id: str | None


class HealthOut(BaseModel):
    """The box's health; fields the pipeline adds later pass through unchanged."""

    model_config = ConfigDict(extra="allow")

    v: int = 1
    status: str = Field(
        description='"ok" when the pipeline runs; "degraded" (it runs, but needs attention soon) or "error" (part of '
        "it does not work) with the reasons in `problems`."
    )
    problems: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Why the status is not ok: each with `code` (disk_low, disk_full, disk_unreadable, "
        "segments_held, archive_paused, stage_stopped), `severity`, an English `message` and its figures.",
    )
    state: str | None = None
    uptime_s: float | None = None
    rtf: float | None = Field(default=None, description="Real-time factor of speech recognition (below 1 keeps up).")
    queues: dict[str, int] = Field(default_factory=dict, description="Items waiting in each bounded queue.")
    drops: dict[str, int] = Field(default_factory=dict, description="Items each queue dropped because it was full.")
    outbox_backlog: int | None = Field(default=None, description="Messages not yet delivered over MQTT.")


class HealthHistoryOut(BaseModel):
    """Columns of equal length, oldest first; null where the platform does not expose a value."""

    interval_s: float = Field(description="Seconds between samples; an hour of them is kept.")
    series: dict[str, list[float | None]] = Field(
        description="t (Unix seconds); rtf (real-time factor); asr_backlog (utterances waiting for recognition); "
        "drops (items dropped so far); outbox_backlog (MQTT messages waiting); memory_mb (the box process's "
        "resident memory); temperature_c (hottest thermal zone); disk_free_gb (free space beside the records)."
    )


class TicketOut(BaseModel):
    ticket: str = Field(description="Single-use; pass as ?ticket= to GET /api/v1/live.")
    expires_in_s: float


class SubmittedOut(BaseModel):
    meeting: MeetingOut
    bytes: int = Field(description="Size of the uploaded audio file.")


class JobOut(BaseModel):
    meeting_id: str
    title: str
    state: Literal["waiting", "running"] = Field(description="Waiting for its turn, or being transcribed.")
    duration_s: float | None = Field(description="The file's audio, seconds; null until its turn comes.")
    decoded_s: float = Field(description="Audio through speech recognition so far, seconds.")
    progress: float = Field(ge=0, le=1, description="Share of the file's audio decoded (decoded_s / duration_s).")


class JobList(BaseModel):
    items: list[JobOut] = Field(description="The running job first, then those waiting, in order.")


class ImportedOut(BaseModel):
    meeting: MeetingOut
    segments: int
    format: Literal["vtt", "srt", "json"]


UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Not logged in, or a missing or wrong `Authorization: Bearer <token>`."},
    403: {"model": ErrorOut, "description": "The role may not do this, or a cross-site request with the session."},
}


def multipart_file_body(file_description: str, fields: dict[str, dict[str, Any]]) -> dict:
    """OpenAPI requestBody (for `openapi_extra`) of a form with a required `file` part and text `fields`;
    the routes read such bodies themselves, with the size limit enforced while reading."""
    file_part = {"type": "string", "format": "binary", "minLength": 1, "description": file_description}
    schema = {"type": "object", "required": ["file"], "properties": {"file": file_part, **fields}}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}
