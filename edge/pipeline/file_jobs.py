"""Uploaded audio files, transcribed one at a time as meetings of their own (status 'processing' until
done) on a worker thread, through the same ASR stage and commit as a live meeting."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from edge.core.config import Config
from edge.core.queues import DropOldestQueue, QueueClosed
from edge.pipeline.control import BoxBusy
from edge.pipeline.current_recording import close_meeting
from edge.pipeline.finals import AsrFeed
from edge.pipeline.recording import Recording
from edge.store import Meeting, Store

log = logging.getLogger(__name__)

MAX_FILE_JOBS = 64


class FileJobs:
    def __init__(
        self, cfg: Config, store: Store, feed: AsrFeed, *, then: Callable[[str], None], after: Callable[[], None]
    ) -> None:
        """`then(meeting_id)` runs on each transcribed meeting (the LLM's turn); `after()` after each job,
        done or failed (the box's state changed)."""
        self._cfg = cfg
        self._store = store
        self._feed = feed
        self._then = then
        self._after = after
        self._jobs: DropOldestQueue[tuple[Meeting, Path]] = DropOldestQueue(MAX_FILE_JOBS, name="file-jobs")

    def __len__(self) -> int:
        return len(self._jobs)

    def start(self) -> None:
        threading.Thread(target=self._worker, name="file-jobs", daemon=True).start()

    def close(self) -> None:
        self._jobs.close()

    def submit(self, path: Path, *, title: str = "", language: str | None = None) -> Meeting:
        if len(self._jobs) >= MAX_FILE_JOBS:
            raise BoxBusy(f"{MAX_FILE_JOBS} files are already waiting to be transcribed; try again later")
        meeting = self._store.create_meeting(
            language=language or self._cfg.asr.language,
            source=f"file:{Path(path).name}",
            title=title or Path(path).name,
            room=self._cfg.device.room,
            status="processing",
        )
        self._jobs.put((meeting, Path(path)))
        return meeting

    def _worker(self) -> None:
        while True:
            try:
                meeting, path = self._jobs.get()
            except QueueClosed:  # the box is closing
                return
            try:
                self._transcribe(meeting, path)
            except Exception as exc:
                log.error("transcription of %s failed: %s", path.name, exc)
                self._store.end_meeting(meeting.id, status="failed")
            finally:
                path.unlink(missing_ok=True)
                self._after()

    def _transcribe(self, meeting: Meeting, path: Path) -> None:
        cfg = self._cfg.model_copy(deep=True)
        cfg.audio.source = f"file:{path}"
        cfg.audio.realtime = False
        recording = Recording(cfg, meeting, submit=self._feed.submit, store=self._store)
        recording.start()
        recording.wait_source_done()
        recording.stop()
        close_meeting(self._store, self._feed, meeting.id)
        self._then(meeting.id)
