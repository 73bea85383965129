"""Minutes of a meeting: read them (JSON or Markdown), ask for them to be (re)written by the LLM,
approve them (optionally edited) so they are published, and the attendees owners are resolved against.

Generation runs on the box's LLM worker: POST answers 202 at once, and progress arrives on the live
stream as `minutes_progress` events and a final `minutes` event. Approval validates the document
and, in one transaction, marks it approved and queues it for MQTT (`meeting/<id>/minutes`, retained).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from edge.api.auth import Authenticator
from edge.api.routes_meetings import BAD_BODY
from edge.api.schemas import UNAUTHORIZED, ErrorOut
from edge.core.errors import UserError
from edge.core.strict_json import JsonRefused, loads_strict
from edge.minutes.extractive import EXTRACTIVE_MODEL
from edge.minutes.markdown import render_minutes_markdown
from edge.minutes.schema import Minutes, MinutesInvalid, MinutesNotFound, MinutesRecord
from edge.pipeline.control import BoxControl
from edge.pipeline.records import Records, all_segments
from edge.store import MeetingNotFound

MAX_ATTENDEES = 100
MAX_NAME_CHARS = 100
# A name: not blank, no control characters.
NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f\x85\ufeff][^\x00-\x1f\x7f-\x9f]*$"
# Minutes in these states have a document a person may approve.
APPROVABLE = ("draft", "approved", "published")

MinutesStatus = Literal["generating", "draft", "approved", "published", "failed"]
MeetingId = Annotated[str, Path(description="Meeting id, as listed by GET /api/v1/meetings.", max_length=200)]

NOT_FOUND = {404: {"model": ErrorOut, "description": "No such meeting, or it has no minutes yet."}}


class MinutesOut(BaseModel):
    meeting_id: str
    status: MinutesStatus = Field(
        description="generating (the LLM is writing them), draft (written, awaiting approval), approved "
        "(approved by a person and published), published (published without approval), failed."
    )
    minutes: Minutes | None = Field(
        description="The document (what meeting/<id>/minutes carries); while generating or after a failure, the "
        "previous document if there was one."
    )
    error: str | None = Field(description="Why generation failed, or what a draft lacks (parts not summarized).")
    attempts: int = Field(description="Tries of the last LLM request.")
    llm_calls: int = Field(description="LLM calls of the last generation.")
    created_at: str
    updated_at: str
    approved_at: str | None

    @classmethod
    def of(cls, record: MinutesRecord) -> MinutesOut:
        return cls(**record.to_dict())


class QueueOut(BaseModel):
    running: bool = Field(description="The LLM is writing these minutes now.")
    ahead: list[str] = Field(description="LLM jobs that run or wait before them, the running one first.")
    waiting_for: Literal["earlier_jobs", "live_transcription"] | None = Field(
        description="Why they cannot start now: jobs ahead, or live transcription needs the processor (the LLM "
        "runs in its pauses); null when running or about to start."
    )
    text: str = Field(description="The same, for a person (Korean, then English).")


class MinutesStatusOut(BaseModel):
    meeting_id: str
    status: MinutesStatus | Literal["none"] = Field(description='As in GET .../minutes; "none" when none were written.')
    error: str | None
    updated_at: str | None
    queue: QueueOut | None = Field(default=None, description="Where generating minutes wait on the LLM worker.")


def queue_text(running: bool, ahead: list[str], waiting_for: str | None) -> str:
    if running:
        return "LLM이 회의록을 쓰고 있습니다. (The LLM is writing the minutes.)"
    if waiting_for == "earlier_jobs":
        first = ahead[0]
        return (
            f"대기 중: 앞에 LLM 작업 {len(ahead)}개가 있습니다 (지금: {first}). "
            f"(Queued behind {len(ahead)} LLM job{'s' if len(ahead) > 1 else ''}; now: {first}.)"
        )
    if waiting_for == "live_transcription":
        return (
            "대기 중: 실시간 전사가 끝나거나 쉬는 틈에 시작합니다. "
            "(Queued: the LLM starts when live transcription pauses or ends.)"
        )
    return "곧 시작합니다. (Starting now.)"


def _queue(control: BoxControl, meeting_id: str) -> QueueOut | None:
    place = control.minutes_queue(meeting_id)
    if place is None:
        return None
    return QueueOut(**place, text=queue_text(place["running"], place["ahead"], place["waiting_for"]))


class MinutesRequestedOut(BaseModel):
    meeting_id: str
    queued: bool = Field(description="The request waits for (or runs on) the box's LLM worker.")
    detail: str


class AttendeesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    names: list[Annotated[str, Field(max_length=MAX_NAME_CHARS, pattern=NAME_PATTERN)]] = Field(
        max_length=MAX_ATTENDEES,
        description="Who attended, as people call them (action item owners are resolved against these names).",
    )


class AttendeesOut(BaseModel):
    meeting_id: str
    names: list[str] = Field(description="In the order given; blanks and repeats dropped, spaces collapsed.")


def _record(records: Records, meeting_id: str) -> MinutesRecord:
    record = records.minutes(meeting_id)
    if record is None:
        records.meeting(meeting_id)  # MeetingNotFound first: an unknown meeting is not "no minutes yet"
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"meeting {meeting_id!r} has no minutes yet; POST to .../minutes to write them"
        )
    return record


def build_router(control: BoxControl, auth: Authenticator) -> APIRouter:
    router = APIRouter(
        prefix="/meetings/{meeting_id}",
        tags=["minutes"],
        dependencies=[Depends(auth)],
        responses=UNAUTHORIZED,
    )
    records, editing = control.records, control.editing

    @router.get("/minutes", response_model=MinutesOut, responses=NOT_FOUND, summary="The meeting's minutes")
    def get_minutes(meeting_id: MeetingId) -> MinutesOut:
        return MinutesOut.of(_record(records, meeting_id))

    @router.get(
        "/minutes/status",
        response_model=MinutesStatusOut,
        responses={404: {"model": ErrorOut, "description": "No such meeting."}},
        summary="Whether the meeting has minutes, and their state",
        description="Cheap to poll, and answers 200 (status \"none\") where GET .../minutes answers 404.",
    )
    def get_minutes_status(meeting_id: MeetingId) -> MinutesStatusOut:
        record = records.minutes(meeting_id)
        if record is None:
            records.meeting(meeting_id)
            return MinutesStatusOut(meeting_id=meeting_id, status="none", error=None, updated_at=None)
        return MinutesStatusOut(
            meeting_id=meeting_id, status=record.status, error=record.error, updated_at=record.updated_at,
            queue=_queue(control, meeting_id) if record.status == "generating" else None,
        )  # fmt: skip

    @router.get(
        "/minutes.md",
        response_class=Response,
        responses={
            200: {
                "description": "The minutes as a Markdown file download.",
                "content": {"text/markdown": {"schema": {"type": "string"}}},
            },
            **NOT_FOUND,
        },
        summary="Download the minutes as Markdown",
    )
    def minutes_markdown(meeting_id: MeetingId) -> Response:
        record = _record(records, meeting_id)
        if record.minutes is None:
            reason = f": {record.error}" if record.error else ""
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"the minutes of meeting {meeting_id!r} are {record.status}{reason}"
            )
        meeting = records.meeting(meeting_id)
        body = render_minutes_markdown(
            Minutes.model_validate(record.minutes),
            all_segments(records, meeting_id),
            started_at=meeting.started_at,
            attendees=records.attendees(meeting_id),
            status=None if record.status == "published" else record.status,
        )
        filename = "minutes-" + re.sub(r"[^A-Za-z0-9._-]", "_", meeting_id) + ".md"
        return Response(
            body.encode("utf-8"),
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @router.post(
        "/minutes",
        response_model=MinutesRequestedOut,
        status_code=status.HTTP_202_ACCEPTED,
        responses={
            404: {"model": ErrorOut, "description": "No such meeting."},
            409: {"model": ErrorOut, "description": "The box cannot write minutes now."},
        },
        summary="Write (or rewrite) the minutes with the LLM, or the extractive minutes without one",
        description="Without an LLM (llm.model_path) the extractive minutes are written at once (queued: false, "
        "detail says so). Otherwise queued on the box's LLM worker, which runs when live transcription allows; if "
        "the LLM's minutes fail, the extractive minutes are saved as a draft whose error says why. Follow the live "
        "stream's `minutes_progress` and `minutes` events, or poll GET .../minutes. With minutes.require_approval "
        "the result is a draft until approved; otherwise it is published.",
    )
    def request_minutes(meeting_id: MeetingId) -> MinutesRequestedOut:
        before = records.minutes(meeting_id)
        try:
            control.request_minutes(meeting_id)
        except MeetingNotFound:
            raise
        except UserError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        record = records.minutes(meeting_id)
        written_now = record is not None and (before is None or record.updated_at != before.updated_at)
        if (
            written_now and record is not None and record.minutes is not None
            and record.minutes.get("model") == EXTRACTIVE_MODEL  # no LLM: written at once
        ):  # fmt: skip
            return MinutesRequestedOut(meeting_id=meeting_id, queued=False, detail=record.error or "")
        queue = _queue(control, meeting_id)
        detail = queue.text if queue is not None else "the minutes are being written; watch the live stream"
        return MinutesRequestedOut(meeting_id=meeting_id, queued=True, detail=detail)

    @router.post(
        "/minutes/approve",
        response_model=MinutesOut,
        responses={
            **BAD_BODY,
            **NOT_FOUND,
            409: {"model": ErrorOut, "description": "The minutes are being written or failed: nothing to approve."},
            422: {
                "description": "The edited document does not validate; the message names the field (or the "
                "evidence seqs the meeting does not have)."
            },
        },
        openapi_extra={
            "requestBody": {
                "required": False,
                "description": "The edited minutes (optional).",
                # The document's schema is documented, but it is checked by the store (with the meeting's
                # segments), so that a meeting without approvable minutes answers 404/409 before the body matters.
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Minutes"}}},
            }
        },
        summary="Approve the minutes (optionally edited) and publish them",
        description="Without a body the stored draft is approved. With a body (the whole document, as GET "
        ".../minutes returns it, edited) that document is validated and approved. Either way it is published "
        "once over MQTT (retained on meeting/<id>/minutes); approving unchanged minutes again publishes nothing.",
    )
    async def approve_minutes(meeting_id: MeetingId, request: Request) -> MinutesOut:
        raw = await request.body()  # bounded by the app's JSON body limit
        edited = None
        if raw.strip():
            try:
                edited = loads_strict(raw, what="the body", max_bytes=len(raw))
            except JsonRefused as exc:
                raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
            if edited is not None and not isinstance(edited, dict):
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT,
                    "the body must be the whole minutes document (a JSON object, as GET .../minutes returns it)",
                )
        return await run_in_threadpool(approve, meeting_id, edited)

    def approve(meeting_id: str, edited: dict | None) -> MinutesOut:
        record = _record(records, meeting_id)
        if record.status not in APPROVABLE or record.minutes is None:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"the minutes of meeting {meeting_id!r} are {record.status}; only written minutes can be approved",
            )
        try:
            return MinutesOut.of(editing.approve_minutes(meeting_id, edited))
        except MinutesNotFound as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
        except MinutesInvalid as exc:
            current = records.minutes(meeting_id)
            if current is None or current.status not in APPROVABLE:  # regenerated since the check above
                raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None

    @router.get("/attendees", response_model=AttendeesOut, responses=NOT_FOUND, summary="The meeting's attendees")
    def get_attendees(meeting_id: MeetingId) -> AttendeesOut:
        records.meeting(meeting_id)
        return AttendeesOut(meeting_id=meeting_id, names=records.attendees(meeting_id))

    @router.put(
        "/attendees",
        response_model=AttendeesOut,
        responses={**BAD_BODY, **NOT_FOUND},
        summary="Replace the meeting's attendees",
        description="Used when the minutes are written next: action items are assigned only to people named here "
        "or in the transcript; anything else stays 'unassigned'.",
    )
    def put_attendees(meeting_id: MeetingId, body: AttendeesIn) -> AttendeesOut:
        return AttendeesOut(meeting_id=meeting_id, names=editing.set_attendees(meeting_id, body.names))

    return router
