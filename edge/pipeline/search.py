"""Search across meetings, for every way in (API, and whoever asks later): the query's words, the
segments and minutes that hold all of them, each with the matched words marked."""

from __future__ import annotations

from dataclasses import dataclass

from edge.core.errors import UserError
from edge.pipeline.records import Records
from edge.store import SearchHit
from edge.text.search_terms import highlight, search_terms

MAX_QUERY_CHARS = 200
MINUTES_HITS = 5


@dataclass(frozen=True)
class SearchResult:
    hit: SearchHit
    parts: list[tuple[str, bool]]  # the text cut around the first match: (text, matched)


def search(records: Records, query: str, *, limit: int = 20) -> list[SearchResult]:
    """Minutes that match first (at most MINUTES_HITS), then up to `limit` segments, best first.
    Raises UserError for a query without words, longer than MAX_QUERY_CHARS or not valid text."""
    if len(query) > MAX_QUERY_CHARS:
        raise UserError(f"the search is {len(query)} characters long; use at most {MAX_QUERY_CHARS}")
    try:
        query.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError("the search holds a broken character (a lone UTF-16 surrogate); type it again") from None
    terms = search_terms(query)
    if not terms:
        raise UserError("the search has no words; type a word to find, e.g. 쿠버네티스 or Jira")
    hits = records.search_minutes(terms, limit=MINUTES_HITS) + records.search_segments(terms, limit=limit)
    return [SearchResult(hit, highlight(hit.text, terms)) for hit in hits]
