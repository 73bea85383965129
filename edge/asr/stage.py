"""The ASR stage: one thread owns the whisper model and decodes utterances from the VAD.

Finals (whole utterances) wait in a bounded drop-oldest queue and are decoded in order. Snapshots
of the utterance in progress are coalesced to the latest one and decoded for live text only when
no final is waiting and `partial_interval_ms` has passed since that utterance's first snapshot
or its last partial decode, so partials never delay a commit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from edge.asr.streaming import PartialTracker
from edge.core.events import SAMPLE_RATE, AsrSegment, Utterance
from edge.core.queues import DropOldestQueue, Empty, QueueClosed

__all__ = ["AsrStage", "AsrStats", "Transcriber"]

log = logging.getLogger(__name__)

# The idle worker wakes this often to refresh `last_progress`, so a watchdog can tell idle from stuck.
HEARTBEAT_S = 1.0


class Transcriber(Protocol):
    def transcribe(self, audio: np.ndarray, *, offset_ms: int, prompt: str | None = None) -> list[AsrSegment]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class AsrStats:
    utterances: int = 0  # finals decoded
    partial_decodes: int = 0
    audio_seconds: float = 0.0  # of decoded finals
    compute_seconds: float = 0.0  # model time for finals and partials
    partial_compute_seconds: float = 0.0
    soft_errors: int = 0  # a final (speech, per the VAD) that gave no segments
    errors: int = 0  # decodes and callbacks that raised
    dropped: int = 0  # finals lost: queue overflow, or submitted or still queued at a stop without drain
    partials_superseded: int = 0  # snapshots replaced by a newer one before they were decoded

    @property
    def real_time_factor(self) -> float | None:
        return self.compute_seconds / self.audio_seconds if self.audio_seconds else None


class AsrStage:
    def __init__(
        self,
        model_factory: Callable[[], Transcriber],
        on_partial: Callable[[Utterance, str, str], None],
        on_final: Callable[[Utterance, list[AsrSegment]], None],
        *,
        partial_interval_ms: int = 1000,
        max_pending: int = 256,
        prompt_provider: Callable[[], str] | None = None,
        on_error: Callable[[Utterance, Exception], None] | None = None,
        name: str = "asr",
    ) -> None:
        self._factory = model_factory
        self._on_partial = on_partial
        self._on_final = on_final
        self._on_error = on_error
        self._prompt_provider = prompt_provider
        self._interval_s = partial_interval_ms / 1000
        self._name = name
        self._finals: DropOldestQueue[Utterance] = DropOldestQueue(max_pending, name=f"{name} finals")
        self._wake = threading.Condition()
        self._partial: Utterance | None = None  # latest snapshot waiting for a partial decode
        self._partial_utterance: int | None = None
        self._partial_due = 0.0
        self._last_final_id: int | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._stats = AsrStats()
        self._stats_lock = threading.Lock()
        self._lost = 0  # finals refused after stop, or discarded by stop(drain=False)
        self.last_progress = time.monotonic()

    # -- control (any thread) -------------------------------------------------------------------

    def start(self) -> None:
        """Start the owner thread and wait for it to load the model; re-raises a load failure."""
        if self._thread is not None:
            raise RuntimeError(f"{self._name} stage already started")
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error

    def submit(self, utt: Utterance, *, wait: bool = False) -> None:
        """Queue a final utterance or offer a snapshot of one in progress. Never blocks, except a final
        with `wait` (from a lossless source), which waits for room rather than evict an older one."""
        if utt.final:
            try:
                if wait:
                    self._finals.put_wait(utt)
                else:
                    self._finals.put(utt)
            except QueueClosed:
                with self._stats_lock:
                    self._lost += 1
                log.warning("%s: utterance %d arrived after stop; dropped", self._name, utt.utterance_id)
                return
            with self._wake:
                self._last_final_id = utt.utterance_id
                if self._partial is not None and self._partial.utterance_id == utt.utterance_id:
                    self._partial = None
                self._wake.notify()
            return
        if self._interval_s <= 0:
            return
        with self._wake:
            if self._stopping or utt.utterance_id == self._last_final_id:
                return
            if self._partial is not None:
                self._bump(partials_superseded=1)
            if utt.utterance_id != self._partial_utterance:
                self._partial_utterance = utt.utterance_id
                self._partial_due = time.monotonic() + self._interval_s
            self._partial = utt
            self._wake.notify()

    def stop(self, drain: bool = True, timeout: float | None = None) -> bool:
        """Stop taking work; with `drain`, decode every queued final first. True once the thread ended."""
        with self._wake:
            self._stopping = True
            self._partial = None
            self._finals.close()
            if not drain:
                discarded = 0
                while True:
                    try:
                        self._finals.get(timeout=0)
                    except (Empty, QueueClosed):
                        break
                    discarded += 1
                if discarded:
                    log.warning("%s: stopped without drain, %d queued utterances dropped", self._name, discarded)
                    with self._stats_lock:
                        self._lost += discarded
            self._wake.notify_all()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def stats(self) -> AsrStats:
        with self._stats_lock:
            stats, lost = self._stats, self._lost
        return replace(stats, dropped=self._finals.dropped + lost)

    @property
    def accepting(self) -> bool:
        """False once stop() began: finals submitted now are dropped and counted."""
        return not self._stopping

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def backlog(self) -> int:
        """Finals waiting to be decoded."""
        return len(self._finals)

    # -- owner thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            model = self._factory()
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        tracker = PartialTracker()
        tracked: int | None = None  # the utterance whose hypotheses `tracker` holds
        try:
            while (job := self._next_job()) is not None:
                if job.final:
                    self._decode_final(model, job)
                    if tracked == job.utterance_id:
                        tracker.reset()
                        tracked = None
                else:
                    if tracked != job.utterance_id:
                        tracker.reset()
                        tracked = job.utterance_id
                    self._decode_partial(model, job, tracker)
                self.last_progress = time.monotonic()
        finally:
            try:
                model.close()
            except Exception:
                log.exception("%s: closing the model failed", self._name)
            self.last_progress = time.monotonic()

    def _next_job(self) -> Utterance | None:
        """The next final, else a due partial; None once stopped and drained."""
        with self._wake:
            while True:
                self.last_progress = time.monotonic()
                try:
                    return self._finals.get(timeout=0)
                except QueueClosed:
                    return None
                except Empty:
                    pass
                wait = HEARTBEAT_S
                if self._partial is not None:
                    wait = self._partial_due - time.monotonic()
                    if wait <= 0:
                        job, self._partial = self._partial, None
                        return job
                self._wake.wait(min(wait, HEARTBEAT_S))

    def _prompt(self) -> str | None:
        if self._prompt_provider is None:
            return None
        try:
            return self._prompt_provider()
        except Exception:
            log.exception("%s: the prompt provider failed; decoding with the default prompt", self._name)
            return None

    def _decode_final(self, model: Transcriber, utt: Utterance) -> None:
        started = time.monotonic()
        try:
            segments = model.transcribe(utt.audio, offset_ms=utt.start_ms, prompt=self._prompt())
        except Exception as exc:
            self._bump(errors=1, compute_seconds=time.monotonic() - started)
            log.exception("%s: decoding utterance %d failed", self._name, utt.utterance_id)
            if self._on_error is not None:
                self._call(self._on_error, utt, exc)
            return
        self._bump(
            utterances=1,
            audio_seconds=len(utt.audio) / SAMPLE_RATE,
            compute_seconds=time.monotonic() - started,
            soft_errors=0 if segments else 1,
        )
        self._call(self._on_final, utt, segments)

    def _decode_partial(self, model: Transcriber, utt: Utterance, tracker: PartialTracker) -> None:
        started = time.monotonic()
        try:
            segments = model.transcribe(utt.audio, offset_ms=utt.start_ms, prompt=self._prompt())
        except Exception as exc:
            segments = None
            self._bump(errors=1)
            log.exception("%s: partial decode of utterance %d failed", self._name, utt.utterance_id)
            if self._on_error is not None:
                self._call(self._on_error, utt, exc)
        took = time.monotonic() - started
        self._bump(partial_decodes=1, compute_seconds=took, partial_compute_seconds=took)
        with self._wake:
            if self._partial_utterance == utt.utterance_id:
                self._partial_due = time.monotonic() + self._interval_s
            if segments is None or self._last_final_id == utt.utterance_id:
                return  # failed, or its final arrived meanwhile and this text is already stale
        stable, unstable = tracker.update(" ".join(s.text for s in segments))
        self._call(self._on_partial, utt, stable, unstable)

    def _call(self, callback: Callable[..., None], *args: object) -> None:
        try:
            callback(*args)
        except Exception:
            self._bump(errors=1)
            log.exception("%s: callback %s failed", self._name, getattr(callback, "__name__", callback))

    def _bump(self, **deltas: float) -> None:
        with self._stats_lock:
            self._stats = replace(self._stats, **{k: getattr(self._stats, k) + v for k, v in deltas.items()})
