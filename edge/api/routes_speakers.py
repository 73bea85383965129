"""Speakers of a meeting: the labels the box gave the voices it told apart (S1, S2, ...), and the names
people give them. A name is published at once: live stream event `speakers`, MQTT `meeting/<id>/speakers`
(retained), and from then on in every segment payload, export and the minutes' owners."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from edge.api.auth import Authenticator
from edge.api.routes_meetings import BAD_BODY, MeetingId
from edge.api.schemas import UNAUTHORIZED, ErrorOut
from edge.core.events import Speaker
from edge.pipeline.control import BoxControl
from edge.store import MAX_SPEAKER_LABEL_CHARS, MAX_SPEAKER_NAME_CHARS

# A name: no control characters; blank clears it.
SPEAKER_NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"

Label = Annotated[
    str, Path(description='The speaker\'s label, as GET .../speakers lists them ("S1", "S2", ...).',
              max_length=MAX_SPEAKER_LABEL_CHARS)
]  # fmt: skip


class SpeakerOut(BaseModel):
    label: str = Field(description='The box\'s label for one voice of the meeting: "S1", "S2", ...')
    name: str = Field(description='The name people gave it in this meeting; "" when none.')
    display: str = Field(description="How it is shown: the name, else the label.")
    segments: int = Field(description="Segments it said.")
    speech_ms: int = Field(description="Milliseconds of those segments, summed.")

    @classmethod
    def of(cls, speaker: Speaker) -> SpeakerOut:
        return cls(**speaker.to_payload())


class SpeakersOut(BaseModel):
    meeting_id: str
    items: list[SpeakerOut] = Field(description="In label order: S1, S2, ..., S10.")


class SpeakerNameIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        max_length=MAX_SPEAKER_NAME_CHARS,
        pattern=SPEAKER_NAME_PATTERN,
        description="The speaker's name (spaces at the ends dropped, runs of spaces one); blank clears the name.",
        examples=["김민수"],
    )


NOT_FOUND = {404: {"model": ErrorOut, "description": "No such meeting, or the meeting has no such speaker."}}
BAD_NAME = {400: {"model": ErrorOut, "description": "The name cannot be a speaker's name; the detail says why."}}


def build_router(control: BoxControl, auth: Authenticator) -> APIRouter:
    router = APIRouter(
        prefix="/meetings/{meeting_id}/speakers", tags=["speakers"], dependencies=[Depends(auth)],
        responses=UNAUTHORIZED,
    )  # fmt: skip
    records, editing = control.records, control.editing

    @router.get("", response_model=SpeakersOut, responses=NOT_FOUND, summary="The meeting's speakers")
    def list_speakers(meeting_id: MeetingId) -> SpeakersOut:
        return SpeakersOut(meeting_id=meeting_id, items=[SpeakerOut.of(s) for s in records.speakers(meeting_id)])

    @router.put(
        "/{label}",
        response_model=SpeakerOut,
        responses={**BAD_BODY, **BAD_NAME, **NOT_FOUND},
        summary="Name a speaker",
        description="The name is shown for the label in this meeting: segments, exports, minutes' owners. It is "
        "published on the live stream (`speakers`) and on MQTT (`meeting/<id>/speakers`, retained).",
    )
    def name_speaker(meeting_id: MeetingId, label: Label, body: SpeakerNameIn) -> SpeakerOut:
        return SpeakerOut.of(editing.set_speaker_name(meeting_id, label, body.name))

    return router
