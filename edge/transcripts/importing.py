"""Transcripts from other recorders (WebVTT, SRT) or our own JSON export, turned into a meeting.

Parsing is strict enough to catch a broken file and say where: every error is a UserError naming
the file, the line (or JSON field) and what was expected. Cue markup (<i>, <v Speaker>, {\\an8})
is removed; a WebVTT voice `<v Name>` becomes the segment's speaker: one label (S1, S2, ...) per distinct
name in order of appearance, named so. Our JSON export's `speaker_id` and `speaker` are kept as they were.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from edge.core.errors import UserError
from edge.core.strict_json import check_json, check_unicode
from edge.store import MAX_SPEAKER_LABEL_CHARS, MAX_SPEAKER_NAME_CHARS, Meeting, Store, checked_speaker_name
from edge.text.glossary import Glossary
from edge.text.postprocess import TextPostprocessor

FORMATS = ("vtt", "srt", "json")
MAX_TIME_MS = 10**12  # about 31 years: keeps times inside SQLite's integers
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}$")
MAX_IMPORT_CUES = 20_000  # meeting.max_import_cues
MAX_JSON_BYTES = 64 * 1024 * 1024  # the API takes at most 20 MB; a file on the command line may be larger

_VTT_TIME = re.compile(r"^(?:(\d{1,3}):)?([0-5]\d):([0-5]\d)\.(\d{3})$")
_SRT_TIME = re.compile(r"^(\d{1,3}):([0-5]?\d):([0-5]?\d)[,.](\d{1,3})$")
_TAG = re.compile(r"<[^>]*>")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+)>")
_ASS_OVERRIDE = re.compile(r"\{\\[^}]*\}")
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")


@dataclass(frozen=True)
class ParsedTranscript:
    format: str  # one of FORMATS
    # Keyword arguments of Store.add_segment, and "voice" (the speaker's name) and "voice_id" (its label in our
    # JSON export) where the file says who spoke; `with_speakers` turns them into labels and names.
    segments: list[dict[str, Any]]
    title: str | None = None
    language: str | None = None
    started_at: str | None = None  # ISO 8601 with its offset, when the file says when the meeting was


def decode_text(data: bytes | str, name: str) -> str:
    if isinstance(data, str):
        text = data
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                # Subtitles made on Korean Windows are often CP949 (EUC-KR).
                text = data.decode("cp949")
            except UnicodeDecodeError:
                raise UserError(f"{name} is not UTF-8 (or CP949) text; save it as UTF-8 and import it again") from None
    if "\x00" in text:
        raise UserError(f"{name} looks like a binary file, not a transcript; import a .vtt, .srt or .json file")
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def detect_format(text: str, name: str) -> str:
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    head = text.lstrip()
    if head.startswith("WEBVTT"):
        return "vtt"
    if head.startswith("{"):
        return "json"
    if "-->" in head[:2000]:
        return "srt"
    raise UserError(
        f"cannot tell the format of {name}; import a WebVTT (.vtt), SubRip (.srt) or edge JSON export (.json)"
    )


def _clean_cue_text(lines: Sequence[str], *, vtt: bool) -> tuple[str, str]:
    """(voice, text) of a cue: the name of its first WebVTT voice ("" when none) and its text without markup."""
    text = " ".join(line.strip() for line in lines)
    voice = ""
    if vtt:
        match = _VOICE.search(text)
        if match:
            voice = " ".join(html.unescape(match.group(1)).split())
    text = _ASS_OVERRIDE.sub("", _TAG.sub("", text))
    if vtt or "&" in text:
        text = html.unescape(text)
    return voice, " ".join(text.split())


def _time_ms(value: str, pattern: re.Pattern[str], line_no: int, name: str, example: str) -> int:
    match = pattern.match(value)
    if not match:
        raise UserError(f"{name} line {line_no}: {value!r} is not a cue time like {example}")
    hours, minutes, seconds, fraction = match.groups()
    millis = int(fraction.ljust(3, "0"))
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + millis


def _blocks(lines: list[str], first_line: int = 1) -> list[tuple[int, list[str]]]:
    """Groups of non-blank lines with the 1-based line number of each group's first line."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = first_line
    for number, line in enumerate(lines, start=first_line):
        if line.strip():
            if not current:
                start = number
            current.append(line)
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    return blocks


def _cue(
    timing: str, line_no: int, text_lines: list[str], name: str, *, vtt: bool
) -> dict[str, Any] | None:
    pattern, example = (
        (_VTT_TIME, "'00:01:02.500'") if vtt else (_SRT_TIME, "'00:01:02,500'")
    )
    parts = timing.split("-->")
    if len(parts) != 2:
        raise UserError(f"{name} line {line_no}: expected a cue timing like {example} --> {example}, got {timing!r}")
    start = parts[0].strip()
    end_fields = parts[1].split()
    if not start or not end_fields:
        raise UserError(f"{name} line {line_no}: expected a cue timing like {example} --> {example}, got {timing!r}")
    t0 = _time_ms(start, pattern, line_no, name, example)
    t1 = _time_ms(end_fields[0], pattern, line_no, name, example)
    if t1 < t0:
        raise UserError(f"{name} line {line_no}: the cue ends ({end_fields[0]}) before it starts ({start})")
    voice, text = _clean_cue_text(text_lines, vtt=vtt)
    if not text:
        return None
    return {"t0_ms": t0, "t1_ms": t1, "text_raw": text, **({"voice": voice} if voice else {})}


def parse_vtt(text: str, name: str = "transcript.vtt") -> list[dict[str, Any]]:
    lines = text.split("\n")
    if not re.match(r"^WEBVTT(?:[ \t].*)?$", lines[0]):
        raise UserError(f"{name} line 1: a WebVTT file starts with the line 'WEBVTT', found {lines[0][:40]!r}")
    cues = []
    for start, block in _blocks(lines)[1:]:  # the first block is the WEBVTT header
        if re.match(r"^(NOTE|STYLE|REGION)(?:[ \t]|$)", block[0]):
            continue
        if "-->" in block[0]:
            timing_index = 0
        elif len(block) > 1 and "-->" in block[1]:
            timing_index = 1  # the first line is the cue identifier
        else:
            raise UserError(
                f"{name} line {start}: expected a cue (an optional identifier, then a timing line like "
                f"'00:00:01.000 --> 00:00:02.500'), found {block[0][:60]!r}"
            )
        cue = _cue(block[timing_index], start + timing_index, block[timing_index + 1 :], name, vtt=True)
        if cue:
            cues.append(cue)
    return cues


def parse_srt(text: str, name: str = "transcript.srt") -> list[dict[str, Any]]:
    cues = []
    for start, block in _blocks(text.split("\n")):
        if "-->" in block[0]:
            timing_index = 0
        elif block[0].strip().isdigit() and len(block) > 1 and "-->" in block[1]:
            timing_index = 1
        else:
            raise UserError(
                f"{name} line {start}: expected a SubRip cue (a number, then a timing line like "
                f"'00:00:01,000 --> 00:00:02,500', then text), found {block[0][:60]!r}"
            )
        cue = _cue(block[timing_index], start + timing_index, block[timing_index + 1 :], name, vtt=False)
        if cue:
            cues.append(cue)
    return cues


class _JsonSegment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    t0_ms: int = Field(ge=0, le=MAX_TIME_MS)
    t1_ms: int = Field(ge=0, le=MAX_TIME_MS)
    text: str
    text_raw: str | None = None
    language: str | None = Field(default=None, pattern=LANGUAGE_PATTERN.pattern)
    confidence: float | None = Field(default=None, allow_inf_nan=False)
    corrections: list[dict[str, Any]] = Field(default_factory=list)
    speaker: str | None = Field(default=None, max_length=MAX_SPEAKER_NAME_CHARS)
    speaker_id: str | None = Field(
        default=None, max_length=MAX_SPEAKER_LABEL_CHARS, pattern=r"^[^\s\x00-\x1f\x7f-\x9f]+$"
    )


class _JsonMeeting(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str | None = None
    language: str | None = Field(default=None, pattern=LANGUAGE_PATTERN.pattern)
    started_at: AwareDatetime | None = None


class _JsonTranscript(BaseModel):
    model_config = ConfigDict(extra="ignore")

    v: Literal[1]
    meeting: _JsonMeeting | None = None
    segments: list[_JsonSegment]


def _json_path(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "document"


def parse_json(text: str, name: str = "transcript.json") -> ParsedTranscript:
    check_json(text, what=name, max_bytes=MAX_JSON_BYTES)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{name} line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg})") from None
    check_unicode(raw, what=name)
    try:
        document = _JsonTranscript.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        message = error["msg"]
        if error["type"] == "literal_error":
            message = "unsupported version; this edge reads edge JSON exports with \"v\": 1"
        raise UserError(
            f"{name}: {_json_path(error['loc'])}: {message} (expected an edge JSON export: "
            '{"v": 1, "meeting": {...}, "segments": [{"t0_ms", "t1_ms", "text", ...}]})'
        ) from None
    segments = []
    for index, seg in enumerate(document.segments):
        if seg.t1_ms < seg.t0_ms:
            raise UserError(f"{name}: segments[{index}]: t1_ms ({seg.t1_ms}) is before t0_ms ({seg.t0_ms})")
        raw_text = seg.text_raw if seg.text_raw is not None else seg.text
        if not raw_text.strip() and not seg.text.strip():
            continue
        segments.append(
            {
                "t0_ms": seg.t0_ms,
                "t1_ms": seg.t1_ms,
                "text_raw": raw_text,
                "text": seg.text if seg.text != raw_text else None,
                "confidence": seg.confidence,
                "corrections": seg.corrections,
                **({"language": seg.language} if seg.language else {}),
                **({"voice": " ".join(seg.speaker.split())} if seg.speaker and seg.speaker.strip() else {}),
                **({"voice_id": seg.speaker_id} if seg.speaker_id else {}),
            }
        )
    meeting = document.meeting or _JsonMeeting()
    started_at = meeting.started_at.isoformat() if meeting.started_at else None
    return ParsedTranscript(
        "json", segments, title=meeting.title or None, language=meeting.language, started_at=started_at
    )


def parse_transcript(data: bytes | str, *, name: str = "transcript") -> ParsedTranscript:
    """Parse a WebVTT, SRT or edge JSON transcript; the format comes from the name's suffix or the content."""
    text = decode_text(data, name)
    fmt = detect_format(text, name)
    if fmt == "json":
        parsed = parse_json(text, name)
    else:
        parsed = ParsedTranscript(fmt, parse_vtt(text, name) if fmt == "vtt" else parse_srt(text, name))
    if not parsed.segments:
        raise UserError(f"{name} has no cues with text; there is nothing to import")
    return parsed


def corrected_segments(segments: list[dict[str, Any]], glossary: Glossary) -> list[dict[str, Any]]:
    """`segments` (keyword arguments of Store.add_segment) with the glossary applied to the text each
    shows, and the records of what changed added to its corrections."""
    processors: dict[str, TextPostprocessor] = {}
    out = []
    for segment in segments:
        language = segment["language"]
        processor = processors.setdefault(language, TextPostprocessor(language, glossary))
        shown = segment["text"] if segment.get("text") is not None else segment["text_raw"]
        result = processor.correct(shown)
        if result.corrections or result.text != shown:
            segment = {
                **segment,
                "text": result.text if result.text != segment["text_raw"] else None,
                "corrections": [*segment.get("corrections", ()), *result.corrections],
            }
        out.append(segment)
    return out


def with_speakers(segments: list[dict[str, Any]], name: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The segments with `speaker` labels in place of their "voice" and "voice_id", and the name of each label.
    A voice without a label gets the next free one (S1, S2, ...), the same for every cue of that voice."""
    taken = {segment["voice_id"] for segment in segments if segment.get("voice_id")}
    labels: dict[str, str] = {}
    names: dict[str, str] = {}
    out = []
    for segment in segments:
        fields = {k: v for k, v in segment.items() if k not in ("voice", "voice_id")}
        voice, label = segment.get("voice", ""), segment.get("voice_id")
        if label is None and voice:
            label = labels.get(voice)
            if label is None:
                label = next(f"S{n}" for n in range(1, len(taken) + 2) if f"S{n}" not in taken)
                taken.add(label)
                labels[voice] = label
        if label is not None:
            fields["speaker"] = label
            if voice and voice != label:
                try:
                    names.setdefault(label, checked_speaker_name(voice))
                except UserError as exc:
                    raise UserError(f"{name}: the speaker {voice[:80]!r} cannot be imported: {exc}") from None
        out.append(fields)
    return out, names


@dataclass(frozen=True)
class ImportResult:
    meeting: Meeting
    segments: int
    format: str


def guess_language(texts: Sequence[str]) -> str:
    """Korean when the text has Hangul, English otherwise (used only when no language was given)."""
    return "ko" if any(_HANGUL.search(text) for text in texts) else "en"


def import_transcript(
    store: Store,
    data: bytes | str,
    *,
    name: str,
    title: str | None = None,
    language: str | None = None,
    max_cues: int = MAX_IMPORT_CUES,
) -> ImportResult:
    """Create a meeting with status 'imported' holding the transcript's segments, all in one transaction
    (they are not live speech: they go to MQTT only with mqtt.publish_imports). Each segment gets the team
    glossary's deterministic correction first, as a live segment does (the LLM correction then starts from
    that text)."""
    if language is not None and not LANGUAGE_PATTERN.match(language):
        raise UserError(f"language {language!r} is not a language code such as 'ko' or 'en'")
    parsed = parse_transcript(data, name=name)
    if len(parsed.segments) > max_cues:
        raise UserError(
            f"{name} has {len(parsed.segments)} cues; at most {max_cues} can be imported as one meeting "
            "(meeting.max_import_cues); split the file and import the parts"
        )
    language = language or parsed.language or guess_language([s["text_raw"] for s in parsed.segments])
    labelled, names = with_speakers(parsed.segments, name)
    segments = corrected_segments([{"language": language, **segment} for segment in labelled], store.glossary())
    with store.transaction():
        meeting = store.create_meeting(
            language=language,
            source=f"import:{Path(name).name}",
            title=title or parsed.title or Path(name).stem,
            status="imported",
            started_at=parsed.started_at,
        )
        store.add_segments(meeting.id, segments)
        for label, speaker_name in names.items():
            store.set_speaker_name(meeting.id, label, speaker_name)
        meeting = store.end_meeting(meeting.id, status="imported")
    return ImportResult(meeting, len(segments), parsed.format)
