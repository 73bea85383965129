"""Uploaded audio files, transcribed one at a time as meetings of their own (status 'processing' until
done) on a worker thread, through the same ASR stage and commit as a live meeting, as background work
that yields to it (`edge.asr.stage`). Each job reports its progress (the share of its audio decoded)
and can be cancelled: waiting, it is dropped; running, its reading stops, its utterances still waiting
for ASR are discarded and what was committed stays. Either way the meeting ends 'failed' with
CANCELLED as its reason and the uploaded file is deleted."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edge.audio.files import probe_audio
from edge.core.config import Config
from edge.core.errors import AudioInputError
from edge.pipeline.control import BoxBusy, JobNotFound
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
# A decode cannot be interrupted, so a live final that arrives during one of a file's utterances waits for
# it: shorter utterances bound that wait (a couple of seconds of Whisper base on two cores) at a small cost in
# context for the file.
BACKGROUND_MAX_SEGMENT_S = 10.0
CANCELLED = "cancelled by user"
# How often a running job looks whether it was cancelled while its file is being read.
CANCEL_POLL_S = 0.2
# How long a cancel waits for the running job to end (its decode under way) before answering anyway.
CANCEL_WAIT_S = 30.0


@dataclass(frozen=True)
class JobProgress:
    meeting_id: str
    title: str
    state: str  # "waiting" (in line) | "running"
    duration_s: float | None  # the file's audio, as its header declares (None: not known yet)
    decoded_s: float  # audio through speech recognition so far

    @property
    def progress(self) -> float:
        """Share of the file's audio decoded, 0..1."""
        if not self.duration_s:
            return 0.0
        return min(1.0, self.decoded_s / self.duration_s)

    def to_dict(self) -> dict:
        return {
            "meeting_id": self.meeting_id, "title": self.title, "state": self.state,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 1),
            "decoded_s": round(self.decoded_s, 1), "progress": round(self.progress, 4),
        }  # fmt: skip


@dataclass
class _Job:
    meeting: Meeting
    path: Path
    duration_s: float | None = None
    recording: Recording | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    closing: bool = False  # its audio is all read: too late to cancel
    done: threading.Event = field(default_factory=threading.Event)


class FileJobs:
    def __init__(
        self, cfg: Config, store: Store, feed: AsrFeed, *, then: Callable[[str], None], after: Callable[[], None]
    ) -> None:
        """`then(meeting_id)` runs on each transcribed meeting (the LLM's turn); `after()` after each job,
        done, failed or cancelled (the box's state changed)."""
        self._cfg = cfg
        self._store = store
        self._feed = feed
        self._then = then
        self._after = after
        self._cond = threading.Condition()
        self._waiting: deque[_Job] = deque()
        self._running: _Job | None = None
        self._closed = False

    def __len__(self) -> int:
        """Jobs waiting for their turn (not the one running)."""
        with self._cond:
            return len(self._waiting)

    def start(self) -> None:
        threading.Thread(target=self._worker, name="file-jobs", daemon=True).start()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

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
        with self._cond:
            if len(self._waiting) >= MAX_FILE_JOBS:
                raise BoxBusy(f"{MAX_FILE_JOBS} files are already waiting to be transcribed; try again later")
            meeting = self._store.create_meeting(
                language=language or self._cfg.asr.language,
                source=f"file:{Path(path).name}",
                title=title or Path(path).name,
                room=self._cfg.device.room,
                status="processing",
            )
            self._waiting.append(_Job(meeting, Path(path)))
            self._cond.notify_all()
        return meeting

    def progress(self) -> list[JobProgress]:
        """Every job: the running one first, then those waiting, in order."""
        with self._cond:
            running, waiting = self._running, list(self._waiting)
        return ([self._progress_of(running, running=True)] if running is not None else []) + [
            self._progress_of(job, running=False) for job in waiting
        ]

    def progress_of(self, meeting_id: str) -> JobProgress | None:
        """The job of the meeting, or None when it has none (any more)."""
        return next((job for job in self.progress() if job.meeting_id == meeting_id), None)

    def _progress_of(self, job: _Job, *, running: bool) -> JobProgress:
        decoded_ms = 0
        recording = job.recording
        if running and recording is not None:
            decoded_ms = self._feed.decoded_ms(job.meeting.id, recording.audio_ms, recording.in_speech)
        return JobProgress(
            job.meeting.id, job.meeting.title, "running" if running else "waiting", job.duration_s, decoded_ms / 1000
        )

    def cancel(self, meeting_id: str) -> Meeting:
        """Cancel the meeting's job and return the meeting: a waiting one ends at once, the running one as
        soon as its reading has stopped and the decode under way is done (waited for up to CANCEL_WAIT_S).
        Raises JobNotFound when the meeting has no job (finished, or never one); MeetingNotFound for an
        unknown id."""
        running: _Job | None = None
        with self._cond:
            job = self._running if self._running is not None and self._running.meeting.id == meeting_id else None
            if job is not None and job.closing:
                job = None
            elif job is None:
                job = next((waiting for waiting in self._waiting if waiting.meeting.id == meeting_id), None)
                if job is not None:
                    self._waiting.remove(job)
            else:
                if not job.cancelled.is_set():
                    job.cancelled.set()
                    self._feed.cancel(meeting_id)  # frees the ASR stage now, and lets a blocked reader go
                    log.info("transcription of meeting %s cancelled", meeting_id)
                running = job
        if running is not None:
            running.done.wait(CANCEL_WAIT_S)
            return self._store.meeting(meeting_id)
        if job is None:
            meeting = self._store.meeting(meeting_id)
            raise JobNotFound(f"meeting {meeting_id!r} is {meeting.status}, not being transcribed: nothing to cancel")
        job.path.unlink(missing_ok=True)
        log.info("transcription of meeting %s cancelled before it started", meeting_id)
        meeting = self._store.end_meeting(meeting_id, status="failed", error=CANCELLED)
        self._after()
        return meeting

    def _next(self) -> _Job | None:
        with self._cond:
            self._running = None
            self._cond.wait_for(lambda: self._waiting or self._closed)
            if self._closed:  # the box is closing
                return None
            self._running = self._waiting.popleft()
            return self._running

    def _worker(self) -> None:
        while (job := self._next()) is not None:
            path = job.path
            try:
                self._transcribe(job)
            except Exception as exc:
                # The message names the file by its name only: a path on the box is nobody's business.
                reason = str(exc).replace(str(path), path.name) or type(exc).__name__
                log.error("transcription of %s failed: %s", path.name, reason)
                self._store.end_meeting(job.meeting.id, status="failed", error=reason)
            finally:
                path.unlink(missing_ok=True)
                job.done.set()
                self._after()

    def _transcribe(self, job: _Job) -> None:
        meeting, path = job.meeting, job.path
        job.duration_s = declared_s = probe_audio(path).duration_s
        cfg = self._cfg.model_copy(deep=True)
        cfg.audio.source = f"file:{path}"
        cfg.audio.realtime = False
        cfg.vad.max_segment_s = min(cfg.vad.max_segment_s, BACKGROUND_MAX_SEGMENT_S)
        recording = job.recording = Recording(cfg, meeting, submit=self._feed.submit, store=self._store)
        recording.start()
        while not recording.wait_source_done(CANCEL_POLL_S) and not job.cancelled.is_set():
            pass
        recording.stop()
        with self._cond:
            job.closing = not job.cancelled.is_set()
        if not job.closing:
            # What was committed before the cancel stays; the stage already let go of the rest.
            self._feed.close_meeting(meeting.id)
            self._store.end_meeting(meeting.id, status="failed", error=CANCELLED)
            return
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
