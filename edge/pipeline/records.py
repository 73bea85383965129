"""What the ways in (API, MQTT, CLI) may read of the box's records: meetings, their segments and speakers,
minutes and attendees, the glossary and its suggestions. Changes go through `edge.pipeline.editing`, never
straight into the store, so every change is checked, published and followed the same way."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from edge.core.events import Segment, Speaker
from edge.minutes.schema import MinutesRecord
from edge.store import GlossarySuggestion, Meeting, SearchHit
from edge.text.glossary import Glossary
from edge.text.search_terms import SearchTerm

PAGE = 5000


class Records(Protocol):
    """The reading side of edge.store.Store."""

    @property
    def path(self) -> Path:
        """The database file; uploads wait beside it."""

    def meetings(self, *, limit: int = 50, offset: int = 0) -> list[Meeting]: ...

    def meeting(self, meeting_id: str) -> Meeting:
        """Raises MeetingNotFound."""

    def segments(self, meeting_id: str, *, after_seq: int = -1, limit: int = 1000) -> list[Segment]: ...

    def segment_count(self, meeting_id: str) -> int: ...

    def speakers(self, meeting_id: str) -> list[Speaker]:
        """In label order (S1, S2, ..., S10); raises MeetingNotFound."""

    def minutes(self, meeting_id: str) -> MinutesRecord | None: ...

    def attendees(self, meeting_id: str) -> list[str]: ...

    def glossary(self) -> Glossary: ...

    def search_segments(self, terms: Sequence[SearchTerm], *, limit: int = 20) -> list[SearchHit]: ...

    def search_minutes(self, terms: Sequence[SearchTerm], *, limit: int = 5) -> list[SearchHit]: ...

    def suggestions(
        self, status: str | None = "pending", *, meeting_id: str | None = None, seq: int | None = None,
        limit: int = 500,
    ) -> list[GlossarySuggestion]: ...


def upload_dir(records: Records) -> Path:
    """Where uploads wait until they are read: beside the database, on the same disk."""
    return records.path.parent / "uploads"


def all_segments(records: Records, meeting_id: str) -> list[Segment]:
    """Every segment of the meeting, in order, read page by page."""
    segments: list[Segment] = []
    while True:
        page = records.segments(meeting_id, after_seq=segments[-1].seq if segments else -1, limit=PAGE)
        segments += page
        if len(page) < PAGE:
            return segments
