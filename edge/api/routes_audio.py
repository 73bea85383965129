"""A meeting's archived audio, for listening to what was said: the WAV file with HTTP range requests, so
the page fetches only the bytes of the segment it plays."""

from __future__ import annotations

import logging
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import FileResponse

from edge.api.auth import Authenticator
from edge.api.schemas import UNAUTHORIZED, ErrorOut
from edge.pipeline.control import BoxControl

log = logging.getLogger(__name__)

DESCRIPTION = """The meeting's audio as recorded (WAV, 16-bit PCM; capture gaps are silence, so a position
in the file is a position in meeting time). Send `Range: bytes=FIRST-LAST` to get only those bytes (206
Partial Content): the admin page reads the 44-byte header once, then each segment's bytes from its
`t0_ms` and `t1_ms`. Meetings made from an uploaded file or an imported transcript have no archive, and an
archive is deleted after `audio.retention_days`."""

MeetingId = Annotated[str, Path(description="Meeting id, as listed by GET /api/v1/meetings.", max_length=200)]


def build_router(control: BoxControl, auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/meetings", tags=["meetings"], dependencies=[Depends(auth)], responses=UNAUTHORIZED)
    records = control.records

    @router.get(
        "/{meeting_id}/audio",
        response_class=FileResponse,
        summary="The meeting's archived audio (WAV), with range requests",
        description=DESCRIPTION,
        responses={
            200: {"content": {"audio/wav": {}}, "description": "The whole file."},
            206: {"content": {"audio/wav": {}}, "description": "The requested byte range."},
            404: {"model": ErrorOut, "description": "No such meeting, or it has no audio archive."},
            416: {"description": "The range lies beyond the end of the file."},
        },
    )
    def meeting_audio(meeting_id: MeetingId, request: Request) -> FileResponse:
        meeting = records.meeting(meeting_id)
        path = FilePath(meeting.audio_path) if meeting.audio_path else None
        if path is None or not path.is_file():
            raise LookupError(
                f"meeting {meeting_id!r} has no audio archive: only meetings recorded by the box have one, "
                "and it is deleted after audio.retention_days"
            )
        log.info("audio of meeting %s: %s", meeting_id, request.headers.get("range", "the whole file"))
        return FileResponse(path, media_type="audio/wav")

    return router
