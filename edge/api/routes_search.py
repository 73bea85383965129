"""Search across meetings: GET /api/v1/search?q=..."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from edge.api.auth import Authenticator
from edge.api.schemas import UNAUTHORIZED, SearchItem, SearchOut, SearchPart
from edge.pipeline.control import BoxControl
from edge.pipeline.search import MAX_QUERY_CHARS, search
from edge.text.search_terms import WORD_PATTERN

DESCRIPTION = """Segments and minutes of every meeting that hold all the words of `q`, in any case.
A word matches inside longer words, so a Korean noun finds it with any particle attached ("쿠버네티스" finds
"쿠버네티스를"), and a word typed with its particle also finds the bare noun ("쿠버네티스를" finds
"쿠버네티스가"). Words of three characters or more use the full-text index (ranked by BM25); a query of
only shorter words ("PR", "배포") is matched by scanning the most recently written segments first."""


def build_router(control: BoxControl, auth: Authenticator) -> APIRouter:
    router = APIRouter(tags=["search"], dependencies=[Depends(auth)], responses=UNAUTHORIZED)
    records = control.records

    @router.get(
        "/search",
        response_model=SearchOut,
        summary="Search the segments and minutes of all meetings",
        description=DESCRIPTION,
    )
    def search_meetings(
        q: Annotated[
            str,
            Query(
                min_length=1, max_length=MAX_QUERY_CHARS, pattern=WORD_PATTERN,
                description="Words to find, separated by spaces (punctuation around them is ignored).",
            ),
        ],
        limit: Annotated[int, Query(ge=1, le=100, description="At most this many segments.")] = 20,
    ) -> SearchOut:
        items = [
            SearchItem(
                kind=result.hit.kind,  # type: ignore[arg-type]
                meeting_id=result.hit.meeting_id,
                meeting_title=result.hit.meeting_title,
                started_at=result.hit.started_at,
                seq=result.hit.seq,
                t0_ms=result.hit.t0_ms,
                language=result.hit.language,
                parts=[SearchPart(text=text, match=matched) for text, matched in result.parts],
            )
            for result in search(records, q, limit=limit)
        ]
        return SearchOut(query=q, items=items, limit=limit)

    return router
