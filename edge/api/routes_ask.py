"""Ask the meeting: a question answered from the meeting's own lines, with the segments it cites.

With an LLM the answer is the model's, in the question's language, accepted only when it cites
segments it was shown and passes the checks of `edge.minutes.ask`; otherwise (no LLM, a rejected
answer, an LLM busy for too long) the best-matching lines answer, and `note` says why.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from edge.api.auth import Authenticator
from edge.api.routes_meetings import BAD_BODY
from edge.api.routes_minutes import NOT_FOUND, MeetingId
from edge.api.schemas import UNAUTHORIZED
from edge.minutes.ask import MAX_QUESTION_CHARS
from edge.pipeline.control import BoxControl


class QuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(
        min_length=1, max_length=MAX_QUESTION_CHARS, pattern=r"\S",
        description="A question about the meeting, in Korean or English (\"지라 정리는 누가 언제까지 하나요?\").",
    )  # fmt: skip


class HitOut(BaseModel):
    seq: int
    t0_ms: int
    text: str
    score: float = Field(description="BM25 relevance (higher is better).")


class AnswerOut(BaseModel):
    meeting_id: str
    question: str
    answer: str
    citations: list[int] = Field(description="Segment numbers the answer rests on (all among `hits`).")
    hits: list[HitOut] = Field(description="The best-matching segments, best first.")
    source: Literal["llm", "retrieval"] = Field(
        description="llm: the model's answer, checked against the lines; retrieval: the best-matching lines alone."
    )
    model: str
    note: str | None = Field(description="Why the lines answer alone (no LLM, answer rejected, LLM busy).")
    attempts: int
    rejected: list[str] = Field(description="Why each rejected model answer was rejected.")


def build_router(control: BoxControl, auth: Authenticator) -> APIRouter:
    router = APIRouter(
        prefix="/meetings/{meeting_id}", tags=["minutes"], dependencies=[Depends(auth)], responses=UNAUTHORIZED
    )

    @router.post(
        "/ask",
        response_model=AnswerOut,
        responses={**BAD_BODY, 404: NOT_FOUND[404]},
        summary="Ask the meeting a question",
        description="Retrieval over the meeting's segments (FTS5, BM25); with an LLM, its answer in the question's "
        "language citing segment numbers, rejected when it cites nothing or lines it was not shown; without one "
        "(or after a rejection) the best-matching lines. Waits while the LLM answers (it goes ahead of queued "
        "LLM work, after the job it is running).",
    )
    async def ask_meeting(meeting_id: MeetingId, body: QuestionIn) -> AnswerOut:
        answer = await run_in_threadpool(control.ask, meeting_id, body.question)
        return AnswerOut(meeting_id=meeting_id, **answer.to_dict())

    return router
