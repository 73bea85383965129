"""What the API and MQTT command handlers may ask of the running box. `edge.app.Box` implements it;
tests of the API may use a small in-memory implementation."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from edge.core.live import LiveBus
from edge.store import Meeting, Store


class MeetingAlreadyRunning(Exception):
    """A meeting is recording; stop it before starting another."""


class NoMeetingRunning(Exception):
    """There is no recording meeting to stop."""


class BoxBusy(Exception):
    """Too much work is already waiting (uploaded files to transcribe); try again later."""


class BoxControl(Protocol):
    store: Store
    live: LiveBus

    def start_meeting(self, *, title: str = "", language: str | None = None) -> Meeting:
        """Start recording a new meeting; raises MeetingAlreadyRunning."""

    def stop_meeting(self, meeting_id: str | None = None) -> Meeting:
        """Stop the recording meeting (all its committed segments are on disk on return); raises
        NoMeetingRunning, or MeetingNotFound for an unknown id."""

    def submit_file(self, path: Path, *, title: str = "", language: str | None = None) -> Meeting:
        """Queue an audio file for transcription as a new meeting (status 'processing' until done).
        The box takes ownership of `path` and deletes it when done; raises BoxBusy when too many wait."""

    def transcript_ready(self, meeting_id: str) -> None:
        """A meeting's transcript is complete (stopped, transcribed or imported): correct what is left
        and write its minutes when minutes.auto is on and an LLM is configured."""

    def request_minutes(self, meeting_id: str) -> None:
        """Queue (re)generation of a meeting's minutes on the LLM worker; raises MeetingNotFound, or
        UserError when no LLM is configured."""

    def state(self) -> dict:
        """{"v": 1, "state": "idle" | "recording" | "processing", "meeting_id": str | None}."""

    def health(self) -> dict:
        """Status, queue depths, drops, real-time factor, filter hits, uptime, outbox backlog."""

    def glossary_changed(self) -> None:
        """The glossary in the store changed: re-read it for correction and the ASR prompt."""
