"""Uploads that create meetings: an audio file to transcribe, or a transcript to import.

Both stream the multipart body to a temp file in the storage directory under a size limit counted
while reading (edge.api.limits); an upload that fails for any reason leaves nothing behind.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool

from edge.api.auth import Authenticator
from edge.api.limits import MIB, ReceivedUpload, receive_upload
from edge.api.schemas import (
    LANGUAGE_PATTERN,
    MAX_TITLE_CHARS,
    UNAUTHORIZED,
    ErrorOut,
    ImportedOut,
    MeetingOut,
    SubmittedOut,
    multipart_file_body,
)
from edge.core.errors import UserError
from edge.pipeline.control import BoxControl

IMPORT_MAX_BYTES = 20 * MIB

UPLOAD_ERRORS = {
    400: {"model": ErrorOut, "description": "The upload is malformed, empty or not a usable file."},
    413: {"model": ErrorOut, "description": "The body is larger than the limit."},
    415: {"model": ErrorOut, "description": "The body is not multipart/form-data."},
}


def multipart_body(file_description: str) -> dict:
    """OpenAPI requestBody for a form with a `file` part and optional title and language."""
    return multipart_file_body(
        file_description,
        {
            "title": {"type": "string", "maxLength": MAX_TITLE_CHARS},
            "language": {"type": "string", "pattern": LANGUAGE_PATTERN},
        },
    )


def _form_text(upload: ReceivedUpload, name: str) -> str | None:
    value = " ".join(upload.fields.get(name, "").split())
    return value or None


def _form_options(upload: ReceivedUpload) -> tuple[str | None, str | None]:
    title = _form_text(upload, "title")
    language = _form_text(upload, "language")
    if title is not None and len(title) > MAX_TITLE_CHARS:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"title is longer than {MAX_TITLE_CHARS} characters")
    if language is not None and not re.match(LANGUAGE_PATTERN, language):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"language {language!r} is not a language code such as 'ko' or 'en'"
        )
    return title, language


def _check_audio(path: Path, filename: str, max_minutes: float) -> None:
    from edge.audio.files import probe_audio

    try:
        probe_audio(path, max_duration_s=max_minutes * 60)
    except UserError as exc:
        # The message names the temp file; the person knows the file by the name they uploaded.
        raise UserError(str(exc).replace(str(path), filename)) from None


def build_router(
    control: BoxControl, auth: Authenticator, *, upload_dir: Path, max_upload_bytes: int, max_upload_minutes: float
) -> APIRouter:
    router = APIRouter(tags=["uploads"], dependencies=[Depends(auth)], responses=UNAUTHORIZED)

    @router.post(
        "/transcribe",
        response_model=SubmittedOut,
        status_code=status.HTTP_202_ACCEPTED,
        responses=UPLOAD_ERRORS,
        openapi_extra=multipart_body("Audio: WAV, FLAC, MP3, OGG, M4A, ..."),
        summary="Upload an audio file to transcribe as a new meeting",
        description=f"At most api.max_upload_mb ({max_upload_bytes / MIB:g} MB) of body and api.max_upload_minutes "
        f"({max_upload_minutes:g} minutes) of audio. The file's content decides its format, not its name: other "
        "files are refused with the reason. The meeting's status is 'processing' until the transcript is done.",
    )
    async def transcribe(request: Request) -> SubmittedOut:
        upload = await receive_upload(request, directory=upload_dir, max_bytes=max_upload_bytes)
        try:
            title, language = _form_options(upload)
            # The box's reader picks a decoder by suffix, so the stored file keeps the uploaded one.
            suffix = Path(upload.filename).suffix.lower()
            suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""
            path = upload.path.rename(upload_dir / f"upload-{secrets.token_hex(8)}{suffix}")
            upload.path = path
            await run_in_threadpool(_check_audio, path, upload.filename, max_upload_minutes)
            meeting = await run_in_threadpool(
                control.submit_file, path, title=title or upload.filename, language=language
            )
        except BaseException:
            upload.path.unlink(missing_ok=True)
            raise
        return SubmittedOut(meeting=MeetingOut.of(meeting, 0), bytes=upload.size)

    @router.post(
        "/import",
        response_model=ImportedOut,
        status_code=status.HTTP_201_CREATED,
        responses=UPLOAD_ERRORS,
        openapi_extra=multipart_body("Transcript: WebVTT (.vtt), SubRip (.srt) or an edge JSON export (.json)."),
        summary="Create a meeting from a transcript file",
        description=f"At most {IMPORT_MAX_BYTES // MIB} MB. The meeting's status is 'imported'.",
    )
    async def import_file(request: Request) -> ImportedOut:
        upload = await receive_upload(request, directory=upload_dir, max_bytes=IMPORT_MAX_BYTES)
        try:
            title, language = _form_options(upload)
            data = await run_in_threadpool(upload.path.read_bytes)
            result = await run_in_threadpool(
                control.editing.import_transcript, data, name=upload.filename, title=title, language=language
            )
        finally:
            upload.path.unlink(missing_ok=True)
        await run_in_threadpool(control.transcript_ready, result.meeting.id)
        return ImportedOut(
            meeting=MeetingOut.of(result.meeting, result.segments), segments=result.segments, format=result.format
        )

    return router
