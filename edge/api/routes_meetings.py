"""Meetings: list, detail, segments, start/stop, export, a person's edit of a segment, and deleting one."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Response, status

from edge.api.auth import Authenticator
from edge.api.schemas import (
    MAX_OFFSET,
    MAX_SEQ,
    UNAUTHORIZED,
    ErrorOut,
    MeetingOut,
    MeetingPage,
    SegmentEditIn,
    SegmentOut,
    SegmentPage,
    StartMeetingIn,
)
from edge.pipeline.control import BoxControl
from edge.pipeline.records import Records, all_segments
from edge.transcripts.formats import render

EXPORT_MEDIA_TYPES = {
    "txt": "text/plain",
    "json": "application/json",
    "srt": "application/x-subrip",
    "vtt": "text/vtt",
    "md": "text/markdown",
}

NOT_FOUND = {404: {"model": ErrorOut, "description": "No such meeting (or segment)."}}
BAD_BODY = {400: {"model": ErrorOut, "description": "The body is not valid JSON."}}
CONFLICT = {409: {"model": ErrorOut, "description": "The box is not in a state that allows this."}}

MeetingId = Annotated[str, Path(description="Meeting id, as listed by GET /api/v1/meetings.", max_length=200)]


def _meeting_out(records: Records, meeting_id: str) -> MeetingOut:
    return MeetingOut.of(records.meeting(meeting_id), records.segment_count(meeting_id))


def build_router(control: BoxControl, auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/meetings", tags=["meetings"], dependencies=[Depends(auth)], responses=UNAUTHORIZED)
    records = control.records

    @router.get("", response_model=MeetingPage, summary="List meetings, newest first")
    def list_meetings(
        limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0
    ) -> MeetingPage:
        meetings = records.meetings(limit=limit + 1, offset=offset)
        items = [MeetingOut.of(m, records.segment_count(m.id)) for m in meetings[:limit]]
        return MeetingPage(
            items=items, limit=limit, offset=offset, next_offset=offset + limit if len(meetings) > limit else None
        )

    @router.post(
        "",
        response_model=MeetingOut,
        status_code=status.HTTP_201_CREATED,
        responses={**BAD_BODY, **CONFLICT},
        summary="Start recording a meeting",
    )
    def start_meeting(body: Annotated[StartMeetingIn | None, Body()] = None) -> MeetingOut:
        body = body or StartMeetingIn()
        meeting = control.start_meeting(title=body.title, language=body.language)
        return MeetingOut.of(meeting, 0)

    @router.get("/{meeting_id}", response_model=MeetingOut, responses=NOT_FOUND, summary="One meeting")
    def get_meeting(meeting_id: MeetingId) -> MeetingOut:
        return _meeting_out(records, meeting_id)

    @router.delete(
        "/{meeting_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        responses={**NOT_FOUND, 409: {"model": ErrorOut, "description": "The meeting records or is transcribed."}},
        summary="Delete a meeting and everything of it (admin)",
        description="Its transcript, search entries, minutes, attendees and audio archive, and its retained MQTT "
        "minutes (an empty retained message). Stop or cancel a running meeting first.",
    )
    def delete_meeting(meeting_id: MeetingId) -> Response:
        control.editing.delete_meeting(meeting_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/{meeting_id}/stop",
        response_model=MeetingOut,
        responses={**NOT_FOUND, **CONFLICT},
        summary="Stop the recording meeting",
        description="Returns when every committed segment of the meeting is on disk.",
    )
    def stop_meeting(meeting_id: MeetingId) -> MeetingOut:
        meeting = control.stop_meeting(meeting_id)
        return MeetingOut.of(meeting, records.segment_count(meeting.id))

    @router.get(
        "/{meeting_id}/segments", response_model=SegmentPage, responses=NOT_FOUND, summary="Segments, in order"
    )
    def list_segments(
        meeting_id: MeetingId,
        after_seq: Annotated[int, Query(ge=-1, le=MAX_SEQ, description="Return segments after this seq.")] = -1,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> SegmentPage:
        records.meeting(meeting_id)
        segments = records.segments(meeting_id, after_seq=after_seq, limit=limit + 1)
        items = [SegmentOut.of(s) for s in segments[:limit]]
        return SegmentPage(items=items, next_after_seq=items[-1].seq if len(segments) > limit else None)

    @router.patch(
        "/{meeting_id}/segments/{seq}",
        response_model=SegmentOut,
        responses={**BAD_BODY, **NOT_FOUND},
        summary="Correct a segment's text",
        description="The raw ASR text is kept; the edit is recorded and published as a segment update.",
    )
    def edit_segment(
        meeting_id: MeetingId, seq: Annotated[int, Path(ge=0, le=MAX_SEQ)], body: SegmentEditIn
    ) -> SegmentOut:
        segment = control.editing.edit_segment(meeting_id, seq, body.text)
        return SegmentOut.of(segment)

    @router.get(
        "/{meeting_id}/export",
        response_class=Response,
        responses={
            200: {
                "description": "The transcript as a file download.",
                "content": {media: {"schema": {"type": "string"}} for media in EXPORT_MEDIA_TYPES.values()},
            },
            **NOT_FOUND,
        },
        summary="Download the transcript",
    )
    def export_meeting(
        meeting_id: MeetingId, format: Annotated[Literal["txt", "json", "srt", "vtt", "md"], Query()] = "txt"
    ) -> Response:
        meeting = records.meeting(meeting_id)
        segments = all_segments(records, meeting_id)
        body = render(segments, format, meeting=MeetingOut.of(meeting, len(segments)).model_dump())
        filename = "meeting-" + re.sub(r"[^A-Za-z0-9._-]", "_", meeting.id) + "." + format
        return Response(
            body.encode("utf-8"),
            media_type=f"{EXPORT_MEDIA_TYPES[format]}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return router
