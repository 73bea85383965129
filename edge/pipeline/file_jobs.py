"""Uploaded audio files, transcribed one at a time as meetings of their own (status 'processing' until
done) on a worker thread, through the same ASR stage and commit as a live meeting."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from edge.audio.files import probe_audio
from edge.core.config import Config
from edge.core.errors import AudioInputError
from edge.core.queues import DropOldestQueue, QueueClosed
from edge.pipeline.control import BoxBusy
from edge.pipeline.current_recording import close_meeting
from edge.pipeline.finals import AsrFeed
from edge.pipeline.recording import Recording
from edge.pipeline.records import upload_dir
from edge.store import Meeting, Store

log = logging.getLogger(__name__)

MAX_FILE_JOBS = 64
# A decoder that gives up on damaged data may end quietly: a file that decodes to less than this share of
# the duration its header declares is damaged, not short (a VBR estimate is never this far off).
DECODED_AT_LEAST = 0.5


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

    def remove_leftovers(self) -> None:
        """Delete every file in the upload folder: at start-up no upload is being received and no job holds
        one, so each is a leftover of a crash (a job that never finished, an upload cut off while received)."""
        folder = upload_dir(self._store)
        if not folder.is_dir():
            return
        for leftover in folder.iterdir():
            if leftover.is_file() or leftover.is_symlink():
                log.warning("deleting %s, left in the upload folder by a crash", leftover.name)
                leftover.unlink(missing_ok=True)

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
                # The message names the file by its name only: a path on the box is nobody's business.
                reason = str(exc).replace(str(path), path.name) or type(exc).__name__
                log.error("transcription of %s failed: %s", path.name, reason)
                self._store.end_meeting(meeting.id, status="failed", error=reason)
            finally:
                path.unlink(missing_ok=True)
                self._after()

    def _transcribe(self, meeting: Meeting, path: Path) -> None:
        declared_s = probe_audio(path).duration_s
        cfg = self._cfg.model_copy(deep=True)
        cfg.audio.source = f"file:{path}"
        cfg.audio.realtime = False
        recording = Recording(cfg, meeting, submit=self._feed.submit, store=self._store)
        recording.start()
        recording.wait_source_done()
        recording.stop()
        error = recording.source_error
        decoded_s = recording.audio_ms / 1000
        if error is None and declared_s and decoded_s < DECODED_AT_LEAST * declared_s:
            error = AudioInputError(
                f"audio file {path} is damaged: only {decoded_s:.1f} s of its {declared_s:.1f} s could be decoded; "
                "upload an intact copy"
            )
        if error is not None:
            # What was heard before the damage stays; the meeting says it is incomplete, and why.
            self._feed.close_meeting(meeting.id)
            raise error
        close_meeting(self._store, self._feed, meeting.id)
        self._then(meeting.id)
