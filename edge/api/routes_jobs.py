"""Uploaded files being transcribed: their progress, and cancelling one. A file job yields to the live
meeting (edge.asr.stage), so in a busy room its progress may stand still: the room comes first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from starlette.concurrency import run_in_threadpool

from edge.api.auth import Authenticator
from edge.api.schemas import UNAUTHORIZED, ErrorOut, JobList, JobOut, MeetingOut
from edge.pipeline.control import BoxControl

MeetingId = Annotated[str, Path(description="The job's meeting id, as GET /api/v1/jobs lists it.", max_length=200)]


def build_router(control: BoxControl, auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/jobs", tags=["uploads"], dependencies=[Depends(auth)], responses=UNAUTHORIZED)
    records = control.records

    @router.get("", response_model=JobList, summary="Uploaded files being transcribed or waiting, with progress")
    def list_jobs() -> JobList:
        return JobList(items=[JobOut.model_validate(job) for job in control.jobs()])

    @router.post(
        "/{meeting_id}/cancel",
        response_model=MeetingOut,
        responses={
            404: {"model": ErrorOut, "description": "No such meeting."},
            409: {"model": ErrorOut, "description": "The meeting is not being transcribed (done, or never a job)."},
        },
        summary="Cancel the transcription of an uploaded file",
        description="The meeting ends 'failed' with the reason \"cancelled by user\"; the segments committed so far "
        "stay, the uploaded file is deleted and the speech recognizer is freed. Answers once the job has ended "
        "(within a decode).",
    )
    async def cancel_job(meeting_id: MeetingId) -> MeetingOut:
        meeting = await run_in_threadpool(control.cancel_job, meeting_id)
        return MeetingOut.of(meeting, await run_in_threadpool(records.segment_count, meeting_id))

    return router
