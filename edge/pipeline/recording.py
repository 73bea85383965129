"""One meeting's capture side: source -> bounded queue -> VAD thread, which archives the audio before
anything else and hands utterances to the box's ASR stage.

The VAD thread outlives a full disk: the archive pauses (edge/pipeline/archiving.py) and capture gaps the
database cannot take yet wait in memory. Anything else that ends it is kept in `failure`, for health and for
the box to stop the meeting."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

from edge.audio.capture import CaptureThread, capture_queue, open_source
from edge.audio.vad import VadStage, load_vad_model
from edge.core.config import Config
from edge.core.events import AudioFrame, CaptureGap, Utterance
from edge.core.queues import DropOldestQueue, Empty, QueueClosed
from edge.pipeline.archiving import MeetingArchiver
from edge.store import Meeting, Store, StoreWriteFailed

log = logging.getLogger(__name__)


class Recording:
    def __init__(
        self,
        cfg: Config,
        meeting: Meeting,
        *,
        submit: Callable[[Utterance, bool], None],
        store: Store,
        archiving: Callable[[], bool] = lambda: True,
    ) -> None:
        """`archiving()` says whether the disk has room for meeting audio now."""
        self.cfg = cfg
        self.meeting = meeting
        self._submit = submit
        # A file replayed faster than real time waits for ASR instead of losing utterances, and is no
        # live room: it yields to one (a background job of the ASR stage).
        self.lossless = cfg.audio.source.startswith("file:") and not cfg.audio.realtime
        self._store = store
        self.frames: DropOldestQueue[AudioFrame | CaptureGap] = capture_queue(cfg.audio)
        self._capture: CaptureThread | None = None
        self._vad_thread: threading.Thread | None = None
        self._archiving = archiving
        self._archive: MeetingArchiver | None = None
        self._unrecorded_gaps: list[tuple[int, int, str]] = []
        self.failure: str | None = None  # what ended the VAD thread before its source did
        self._vad: VadStage | None = None
        self._source_done = threading.Event()
        self.audio_ms = 0
        self.gaps = 0
        self.last_progress = time.monotonic()

    def start(self) -> None:
        # No snapshots of a file read faster than real time: its live text is never decoded.
        update_ms = 0 if self.lossless else self.cfg.asr.partial_interval_ms
        vad = self._vad = VadStage(load_vad_model(self.cfg.vad), self.cfg.vad, update_ms=update_ms)
        if self.cfg.audio.archive:
            self._archive = MeetingArchiver(
                self.cfg.audio_dir, self.meeting.id, allowed=self._archiving, record_gap=self._record_gap
            )
            self._store.set_audio_path(self.meeting.id, str(self._archive.path))
        source = open_source(self.cfg.audio)
        self._capture = CaptureThread(source, self.frames)
        self._vad_thread = threading.Thread(target=self._vad_loop, args=(vad,), name="vad", daemon=True)
        self._vad_thread.start()
        self._capture.start()

    def _vad_loop(self, vad: VadStage) -> None:
        try:
            self._vad_items(vad)
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
            log.exception("meeting %s: the VAD stage stopped", self.meeting.id)
        finally:
            self._source_done.set()

    def _vad_items(self, vad: VadStage) -> None:
        while True:
            self.last_progress = time.monotonic()
            try:
                item = self.frames.get(timeout=0.5)
            except Empty:
                if self._capture is not None and not self._capture.is_alive():
                    self._source_done.set()
                continue
            except QueueClosed:
                break
            if self._archive is not None:
                self._archive.write(item)
            if isinstance(item, CaptureGap):
                self.gaps += 1
                self._record_gap(item.start_ms, item.duration_ms, item.reason)
            else:
                self.audio_ms = item.end_ms
            self._hand_over(vad.feed(item))
        self._hand_over(vad.flush())

    def _record_gap(self, start_ms: int, duration_ms: int, reason: str) -> None:
        """Store the gap, after those the database could not take before (held in memory until it can)."""
        self._unrecorded_gaps.append((start_ms, duration_ms, reason))
        try:
            while self._unrecorded_gaps:
                self._store.add_gap(self.meeting.id, *self._unrecorded_gaps[0])
                self._unrecorded_gaps.pop(0)
        except StoreWriteFailed as exc:
            log.warning("meeting %s: %d capture gaps wait for the database: %s",
                        self.meeting.id, len(self._unrecorded_gaps), exc)  # fmt: skip

    def _hand_over(self, utterances: list[Utterance]) -> None:
        for utterance in utterances:
            self._submit(dataclasses.replace(utterance, meeting_id=self.meeting.id), self.lossless)

    @property
    def in_speech(self) -> bool:
        return self._vad is not None and self._vad.segmenter.in_speech

    @property
    def source_done(self) -> bool:
        return self._source_done.is_set()

    def wait_source_done(self, timeout: float | None = None) -> bool:
        return self._source_done.wait(timeout)

    @property
    def source_error(self) -> BaseException | None:
        """What ended the source early (a file found corrupt while decoding, the VAD stage failing), if anything."""
        if self._capture is not None and self._capture.error is not None:
            return self._capture.error
        return RuntimeError(f"the VAD stage stopped: {self.failure}") if self.failure else None

    def stop(self) -> None:
        """Stop capturing; every utterance heard so far is handed to ASR before this returns."""
        if self._capture is not None:
            self._capture.stop()
        self.frames.close()
        if self._vad_thread is not None:
            self._vad_thread.join()
        if self._archive is not None:
            self._archive.close()
        if self._unrecorded_gaps:
            log.error("meeting %s: %d capture gaps were not recorded: the database could not take them",
                      self.meeting.id, len(self._unrecorded_gaps))  # fmt: skip

    @property
    def failed_stage(self) -> tuple[str, str] | None:
        """(stage, error) of the capture or VAD thread that ended on an error, or None."""
        if self.failure is not None:
            return "VAD", self.failure
        error = self._capture.error if self._capture is not None else None
        return ("capture", f"{type(error).__name__}: {error}") if error is not None else None

    @property
    def archive_paused(self) -> str | None:
        """Why the meeting's audio is not archived now, or None."""
        return self._archive.paused if self._archive is not None else None

    def stats(self) -> dict:
        capture = self._capture.stats if self._capture is not None else None
        return {
            "queues": {"frames": len(self.frames)},
            "drops": {
                "frames": self.frames.dropped,
                **({"capture_overflows": capture.overflows, "capture_queue": capture.queue_drops}
                   if capture is not None else {}),
            },
            "gaps": self.gaps,
            "audio_s": round(self.audio_ms / 1000, 1),
            "archive": {
                "paused": self.archive_paused,
                "pauses": self._archive.pauses if self._archive is not None else 0,
            },
        }
