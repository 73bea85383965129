"""A small in-memory BoxControl for API tests: a real Store (SQLite in a tmp dir) and a real LiveBus,
with no audio pipeline. Meetings start and stop as in edge.app.Box; tests inject segments and partials
the way the ASR stage would publish them. `serving()` runs the real API for it on a loopback port."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edge.api.app import create_app
from edge.api.server import ApiServer
from edge.config import ApiConfig
from edge.control import MeetingAlreadyRunning, NoMeetingRunning
from edge.events import Segment
from edge.live import LiveBus
from edge.store import Meeting, Store, new_meeting_id


def _unique_meeting_id() -> str:
    # edge.store.new_meeting_id has 16 random bits per second: property tests that create hundreds of
    # meetings a second collide (UNIQUE constraint). Reported; the fake adds bits so API tests test the API.
    return f"{new_meeting_id()}{secrets.token_hex(4)}"


class FakeBox:
    def __init__(self, storage_dir: Path, *, language: str = "ko") -> None:
        self.store = Store(Path(storage_dir) / "edge.db")
        self.live = LiveBus()
        self.language = language
        self.submitted: list[tuple[str, int]] = []  # (file name, bytes) of each submitted upload
        self.glossary_changes = 0
        self.glossary = self.store.glossary()
        self._recording: str | None = None
        self._lock = threading.Lock()
        self._started = time.monotonic()

    def start_meeting(self, *, title: str = "", language: str | None = None) -> Meeting:
        with self._lock:
            if self._recording is not None:
                raise MeetingAlreadyRunning(f"meeting {self._recording} is recording; stop it first")
            meeting = self.store.create_meeting(
                language=language or self.language, source="pyaudio:fake", title=title, meeting_id=_unique_meeting_id()
            )
            self._recording = meeting.id
        self.live.publish("state", self.state())
        return meeting

    def stop_meeting(self, meeting_id: str | None = None) -> Meeting:
        with self._lock:
            if self._recording is None or (meeting_id is not None and meeting_id != self._recording):
                if meeting_id is not None:
                    self.store.meeting(meeting_id)
                raise NoMeetingRunning("no meeting is recording")
            meeting_id, self._recording = self._recording, None
        meeting = self.store.end_meeting(meeting_id)
        self.live.publish("state", self.state())
        return meeting

    def submit_file(self, path: Path, *, title: str = "", language: str | None = None) -> Meeting:
        path = Path(path)
        meeting = self.store.create_meeting(
            language=language or self.language,
            source=f"file:{path.name}",
            title=title,
            status="processing",
            meeting_id=_unique_meeting_id(),
        )
        self.submitted.append((path.name, path.stat().st_size))
        path.unlink()  # the box owns the file and deletes it when done
        return meeting

    def state(self) -> dict:
        with self._lock:
            recording = self._recording
        return {"v": 1, "state": "recording" if recording else "idle", "meeting_id": recording}

    def health(self) -> dict:
        return {
            "v": 1,
            "status": "ok",
            "state": self.state()["state"],
            "uptime_s": round(time.monotonic() - self._started, 1),
            "rtf": 0.25,
            "queues": {"asr_pending": 0},
            "drops": {"asr_utterances": 0},
            "outbox_backlog": self.store.outbox_backlog(),
        }

    def glossary_changed(self) -> None:
        # What the real box does on this call: re-read the glossary from the store.
        self.glossary_changes += 1
        self.glossary = self.store.glossary()

    # what the pipeline would do

    @property
    def recording_id(self) -> str | None:
        return self._recording

    def inject_partial(self, text: str, *, meeting_id: str | None = None) -> None:
        self.live.publish(
            "partial",
            {"v": 1, "meeting_id": meeting_id or self._recording, "utterance_id": 0, "t0_ms": 0, "t1_ms": 0,
             "stable": "", "unstable": text},
        )

    def inject_segment(self, text: str, *, meeting_id: str | None = None, t0_ms: int | None = None) -> Segment:
        meeting_id = meeting_id or self._recording
        if meeting_id is None:
            raise NoMeetingRunning("start a meeting before injecting segments")
        start = t0_ms if t0_ms is not None else self.store.segment_count(meeting_id) * 2000
        segment = self.store.add_segment(
            meeting_id, t0_ms=start, t1_ms=start + 1500, text_raw=text, language=self.language, confidence=0.9
        )
        self.live.publish("segment", segment.to_payload())
        return segment

    def close(self) -> None:
        self.store.close()


@contextmanager
def serving(box: FakeBox, token: str, *, max_upload_mb: float = 200.0) -> Iterator[ApiServer]:
    """The box's API on a free loopback port, served by uvicorn through ApiServer."""
    server = ApiServer(create_app(box, ApiConfig(max_upload_mb=max_upload_mb), token), "127.0.0.1", 0)
    server.start()
    try:
        yield server
    finally:
        server.stop()
