"""Rendering a transcript as txt, json, srt, vtt or Markdown. Text is written as data, never markup.

A segment's speaker (its name, else its label) leads its text: a WebVTT voice `<v Name>`, "Name: " in
SubRip, text and Markdown; JSON carries `speaker` and `speaker_id`. Segments without one are unchanged."""

from __future__ import annotations

import json
from collections.abc import Sequence

from edge.core.events import Segment

FORMATS = ("txt", "json", "srt", "vtt", "md")


def _clock(ms: int, decimal: str) -> str:
    hours, rest = divmod(max(ms, 0), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{decimal}{millis:03d}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render(segments: Sequence[Segment], fmt: str, *, meeting: dict | None = None) -> str:
    if fmt == "json":
        document = {
            "v": 1,
            "meeting": meeting,
            "segments": [{**s.to_payload(), "corrections": s.corrections} for s in segments],
        }
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if fmt == "txt":
        return "".join(f"[{_clock(s.t0_ms, '.')}] {_said(s)}\n" for s in segments)
    if fmt == "srt":
        blocks = [
            f"{i}\n{_clock(s.t0_ms, ',')} --> {_clock(s.t1_ms, ',')}\n{_said(s)}\n"
            for i, s in enumerate(segments, start=1)
        ]
        return "\n".join(blocks)
    if fmt == "vtt":
        blocks = [f"{_clock(s.t0_ms, '.')} --> {_clock(s.t1_ms, '.')}\n{_vtt_cue_text(s)}\n" for s in segments]
        return "WEBVTT\n\n" + "\n".join(blocks)
    if fmt == "md":
        title = (meeting or {}).get("title") or (meeting or {}).get("id") or "Transcript"
        lines = [f"# {_md_escape(title)}", ""]
        if meeting:
            lines += [f"- Started: {meeting.get('started_at', '')}", f"- Language: {meeting.get('language', '')}", ""]
        lines += [f"**{_clock(s.t0_ms, '.')[:8]}** {_md_escape(_said(s))}  " for s in segments]
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def _speaker(segment: Segment) -> str:
    return _one_line(segment.speaker_display or "")


def _said(segment: Segment) -> str:
    """The segment's text on one line, after "Name: " when it has a speaker."""
    text = _one_line(segment.display_text)
    speaker = _speaker(segment)
    return f"{speaker}: {text}" if speaker else text


def _vtt_cue_text(segment: Segment) -> str:
    text = _vtt_escape(_one_line(segment.display_text))
    speaker = _speaker(segment)
    # The voice's annotation ends at the first ">" and takes character references, as the cue text does.
    return f"<v {_vtt_escape(speaker)}>{text}" if speaker else text


def _md_escape(text: str) -> str:
    for char in "\\`*_[]<>#|":
        text = text.replace(char, "\\" + char)
    return text


def _vtt_escape(text: str) -> str:
    """WebVTT cue text is markup: &, < and > must be escaped (and "-->" cannot appear)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
