"""The meeting being recorded, if any: at most one at a time. Starting creates the meeting and its
capture; stopping waits until every utterance of it is committed, then closes the meeting."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

from edge.core.config import Config
from edge.pipeline.control import MeetingAlreadyRunning, NoMeetingRunning
from edge.pipeline.finals import AsrFeed
from edge.pipeline.recording import Recording
from edge.store import Meeting, Store, StoreWriteFailed


class CurrentRecording:
    def __init__(
        self,
        cfg: Config,
        store: Store,
        feed: AsrFeed,
        *,
        archiving: Callable[[], bool] = lambda: True,
        write_later: Callable[[str, Callable[[], object]], None] | None = None,
    ) -> None:
        """`archiving()` says whether the disk has room for meeting audio now; `write_later(meeting_id, write)`
        holds the meeting's end when the database refuses it (a full disk) until it takes it."""
        self._cfg = cfg
        self._archiving = archiving
        self._write_later = write_later
        self._store = store
        self._feed = feed
        self._lock = threading.Lock()
        self._recording: Recording | None = None

    @property
    def recording(self) -> Recording | None:
        return self._recording

    @property
    def in_speech(self) -> bool:
        recording = self._recording
        return recording is not None and recording.in_speech

    def start(self, *, title: str = "", language: str | None = None) -> Meeting:
        with self._lock:
            if self._recording is not None:
                raise MeetingAlreadyRunning(f"meeting {self._recording.meeting.id} is recording; stop it first")
            meeting = self._store.create_meeting(
                language=language or self._cfg.asr.language,
                source=self._cfg.audio.source,
                title=title,
                room=self._cfg.device.room,
            )
            self._recording = Recording(
                self._cfg, meeting, submit=self._feed.submit, store=self._store, archiving=self._archiving
            )
            self._recording.start()
        return meeting

    def stop(self, meeting_id: str | None = None, *, error: str | None = None) -> Meeting:
        """Returns once every committed segment of the meeting is on disk and the meeting is closed ('failed'
        with `error` when a stage failed)."""
        with self._lock:
            recording = self._recording
            if recording is None or (meeting_id is not None and recording.meeting.id != meeting_id):
                if meeting_id is not None:
                    self._store.meeting(meeting_id)  # MeetingNotFound for an unknown id
                raise NoMeetingRunning("no meeting is recording" if recording is None else
                                       f"meeting {meeting_id} is not the one recording")
            self._recording = None
        recording.stop()
        meeting_id = recording.meeting.id
        status = "failed" if error else "stopped"
        try:
            return close_meeting(self._store, self._feed, meeting_id, status, error=error)
        except StoreWriteFailed as exc:
            if self._write_later is None:
                raise
            self._write_later(meeting_id, functools.partial(self._store.end_meeting, meeting_id, status, error=error))
            raise StoreWriteFailed(
                f"{exc}; the recording has stopped and meeting {meeting_id} is ended as soon as the database takes it"
            ) from exc


def close_meeting(
    store: Store, feed: AsrFeed, meeting_id: str, status: str = "stopped", *, error: str | None = None
) -> Meeting:
    """Wait for the meeting's last finals, then end it in the store and forget its pipeline state."""
    feed.close_meeting(meeting_id)
    return store.end_meeting(meeting_id, status=status, error=error)
