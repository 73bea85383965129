"""Re-transcribe a recorded meeting from its audio archive: a copy of the archive goes through the box's
file-job path (as an upload does) with the model and glossary the box has now, into a new meeting whose
title says which meeting it was made from. Nothing of the old meeting changes; a box upgraded to a better
model fixes old meetings this way."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Depends, Path, status
from starlette.concurrency import run_in_threadpool

from edge.api.auth import Authenticator
from edge.api.schemas import MAX_TITLE_CHARS, UNAUTHORIZED, ErrorOut, MeetingOut, SubmittedOut
from edge.pipeline.control import BoxControl
from edge.store import Meeting

MeetingId = Annotated[str, Path(description="Meeting id, as listed by GET /api/v1/meetings.", max_length=200)]


def retranscribed_title(old: Meeting) -> str:
    """The new meeting's title: the old one's, and where it came from, in the meeting's language."""
    link = f"다시 전사: {old.id}" if (old.language or "").startswith("ko") else f"re-transcribed from {old.id}"
    return f"{(old.title or old.id)[: MAX_TITLE_CHARS - len(link) - 3]} ({link})"


def build_router(control: BoxControl, auth: Authenticator, *, upload_dir: FilePath) -> APIRouter:
    router = APIRouter(prefix="/meetings", tags=["meetings"], dependencies=[Depends(auth)], responses=UNAUTHORIZED)
    records = control.records

    def submit(meeting_id: str) -> SubmittedOut:
        old = records.meeting(meeting_id)
        archive = FilePath(old.audio_path) if old.audio_path else None
        if archive is None or not archive.is_file():
            raise LookupError(
                f"meeting {meeting_id!r} has no audio archive to re-transcribe: only meetings recorded by the box "
                "have one, and it is deleted after audio.retention_days"
            )
        upload_dir.mkdir(parents=True, exist_ok=True)
        copy = upload_dir / f"retranscribe-{secrets.token_hex(8)}.wav"  # the file job owns and deletes it
        try:
            shutil.copyfile(archive, copy)
            size = copy.stat().st_size
            meeting = control.submit_file(copy, title=retranscribed_title(old), language=old.language)
        except BaseException:
            copy.unlink(missing_ok=True)
            raise
        return SubmittedOut(meeting=MeetingOut.of(meeting, 0), bytes=size)

    @router.post(
        "/{meeting_id}/retranscribe",
        response_model=SubmittedOut,
        status_code=status.HTTP_202_ACCEPTED,
        summary="Transcribe a recorded meeting again from its audio archive, into a new meeting",
        description="The archive is transcribed like an uploaded file, with the box's current model and glossary, "
        "into a new meeting (status 'processing' until done) whose title names the old meeting's id. The old "
        "meeting, its segments, edits and minutes stay as they are.",
        responses={
            404: {"model": ErrorOut, "description": "No such meeting, or it has no audio archive."},
            503: {"model": ErrorOut, "description": "Too many files are already waiting to be transcribed."},
        },
    )
    async def retranscribe(meeting_id: MeetingId) -> SubmittedOut:
        return await run_in_threadpool(submit, meeting_id)

    return router
