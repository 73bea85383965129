"""The extractive minutes of a stored meeting, as a document of the LLM minutes' schema, saved and
published the same way: used when no LLM is configured and when the LLM's minutes fail."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from edge.minutes.extractive import EXTRACTIVE_MODEL, extract_minutes
from edge.minutes.reasons import fallback_note
from edge.minutes.schema import Minutes, validate_minutes

if TYPE_CHECKING:
    from edge.core.config import MinutesConfig
    from edge.core.events import Segment
    from edge.store import Meeting, Store
    from edge.text.glossary import Glossary


def floor_minutes(
    meeting: Meeting, segments: list[Segment], *, language: str, attendees: list[str], glossary: Glossary | None
) -> Minutes:
    floor = extract_minutes(
        segments,
        language=language,
        attendees=attendees,
        started_at=meeting.started_at,
        title=meeting.title,
        glossary_terms=[term.term for term in glossary.terms] if glossary is not None else (),
    )
    document = {
        **floor.content.model_dump(),
        "meeting_id": meeting.id,
        "language": language,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": EXTRACTIVE_MODEL,
        "gaps": [],
    }
    return validate_minutes(document, meeting_id=meeting.id, known_seqs={s.seq for s in segments})


def save_floor_minutes(
    store: Store,
    meeting: Meeting,
    segments: list[Segment],
    *,
    language: str,
    config: MinutesConfig,
    glossary: Glossary | None,
    llm_error: str | None = None,
    attempts: int = 0,
    llm_calls: int = 0,
) -> tuple[Minutes, str, str]:
    """Save the extractive minutes: (minutes, status, note). After an LLM failure (`llm_error`) they
    are always a draft for a person to check; without an LLM they follow minutes.require_approval."""
    minutes = floor_minutes(
        meeting, segments, language=language, attendees=store.attendees(meeting.id), glossary=glossary
    )
    publish = llm_error is None and not config.require_approval
    note = fallback_note(llm_error, draft=not publish)
    status = "published" if publish else "draft"
    store.save_minutes(
        meeting.id, status=status, minutes=minutes.to_json_dict(), error=note, attempts=attempts,
        llm_calls=llm_calls, publish=publish,
    )  # fmt: skip
    return minutes, status, note
