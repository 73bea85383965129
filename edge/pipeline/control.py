"""What the API and MQTT command handlers may ask of the running box. `edge.app.Box` implements it;
tests of the API may use a small in-memory implementation. The records are read through `records` and
changed through `editing`; live events are read through `subscribe_live()`: nothing is written to the
store or the live bus directly."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from edge.core.clock import WallClock
from edge.core.events import LiveEvent
from edge.core.queues import DropOldestQueue
from edge.minutes.ask import Answer
from edge.pipeline.editing import Editing
from edge.pipeline.records import Records
from edge.store import Meeting


class MeetingAlreadyRunning(Exception):
    """A meeting is recording; stop it before starting another."""


class NoMeetingRunning(Exception):
    """There is no recording meeting to stop."""


class JobNotFound(Exception):
    """The meeting has no transcription job waiting or running (it is done, or never had one)."""


class BoxBusy(Exception):
    """Too much work is already waiting (uploaded files to transcribe); try again later."""


class BoxControl(Protocol):
    @property
    def clock(self) -> WallClock:
        """The wall clock the box stamps its records with (it follows steps of the system clock)."""

    @property
    def records(self) -> Records:
        """Meetings, segments, minutes, the glossary: to read."""

    @property
    def editing(self) -> Editing:
        """A person's changes to the records (segment edits, the glossary, minutes approval, imports)."""

    def subscribe_live(self) -> AbstractContextManager[DropOldestQueue[LiveEvent]]:
        """A bounded subscription to the live events; a slow reader loses its oldest, never blocks the box."""

    def start_meeting(self, *, title: str = "", language: str | None = None) -> Meeting:
        """Start recording a new meeting; raises MeetingAlreadyRunning."""

    def stop_meeting(self, meeting_id: str | None = None) -> Meeting:
        """Stop the recording meeting (all its committed segments are on disk on return); raises
        NoMeetingRunning, or MeetingNotFound for an unknown id."""

    def submit_file(self, path: Path, *, title: str = "", language: str | None = None) -> Meeting:
        """Queue an audio file for transcription as a new meeting (status 'processing' until done).
        The box takes ownership of `path` and deletes it when done; raises BoxBusy when too many wait."""

    def jobs(self) -> list[dict]:
        """Uploaded files being transcribed (the running one first) and waiting, each with its progress:
        edge.pipeline.file_jobs.JobProgress.to_dict()."""

    def cancel_job(self, meeting_id: str) -> Meeting:
        """Cancel the transcription of an uploaded file: its meeting ends 'failed' ("cancelled by user")
        with what was committed so far, and the file is deleted; raises JobNotFound, or MeetingNotFound."""

    def transcript_ready(self, meeting_id: str) -> None:
        """A meeting's transcript is complete (stopped, transcribed or imported): correct what is left
        and write its minutes when minutes.auto is on and an LLM is configured."""

    def request_minutes(self, meeting_id: str) -> None:
        """Queue (re)generation of a meeting's minutes on the LLM worker, or without an LLM write the
        extractive minutes at once; raises MeetingNotFound."""

    def minutes_queue(self, meeting_id: str) -> dict | None:
        """Where the meeting's minutes wait on the LLM worker ({"running", "ahead", "waiting_for"}),
        or None when they are neither waiting nor being written."""

    def ask(self, meeting_id: str, question: str) -> Answer:
        """Answer a question from the meeting's lines with citations (edge.minutes.ask): by the LLM when
        one is configured and its answer passes the checks, else the best-matching lines with a note.
        Blocks while the LLM answers; raises MeetingNotFound."""

    def state(self) -> dict:
        """edge.core.events.BoxState's payload: "idle" | "recording" | "processing", and the meeting_id."""

    def health(self) -> dict:
        """Status, queue depths, drops, real-time factor, filter hits, uptime, outbox backlog."""
