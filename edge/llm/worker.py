"""The LLM's place in the box: one worker thread runs LLM jobs (segment correction, minutes) one at a
time, off the live path. The model is loaded on the first job and kept. A job marked `when_quiet` waits
until the box says it is quiet (speech paused, ASR caught up; or, on a small device, no meeting
recording), so live transcription latency is never traded for correction.

While the worker is parked (`park()` to `unpark()`, while a meeting stops) or stopping, the running job's
generations are cancelled between tokens and its later LLM calls come back "cancelled" at once; a job
leaves what it had not finished pending (in the store, or by queuing itself again), and no job starts
until `unpark()`, so the work resumes in a later quiet moment or at the next start."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from edge.core.config import LlmConfig
from edge.llm.engine import ChatModel, LlmEngine

log = logging.getLogger(__name__)

Job = Callable[[ChatModel], None]
HEARTBEAT_S = 1.0


@dataclass
class LlmWorkerStats:
    jobs_done: int = 0
    jobs_failed: int = 0
    waiting: int = 0
    parked: int = 0  # running jobs whose generations were cancelled to give the room the processor


class LlmWorker:
    def __init__(
        self, cfg: LlmConfig, *, quiet: Callable[[], bool], engine_factory: Callable[[], ChatModel] | None = None
    ) -> None:
        self.cfg = cfg
        self._quiet = quiet
        self._engine_factory = engine_factory or (lambda: load_local_engine(cfg))
        self._engine: ChatModel | None = None
        self._jobs: OrderedDict[str, tuple[Job, bool]] = OrderedDict()
        self._cond = threading.Condition()
        self._stopping = False
        self._parked = 0  # park() calls not yet undone by unpark()
        self._thread: threading.Thread | None = None
        self.stats = LlmWorkerStats()
        self.last_progress = time.monotonic()
        self.current: str | None = None

    def submit(self, key: str, job: Job, *, when_quiet: bool = True, first: bool = False) -> None:
        """Queue a job (`first`: ahead of those waiting, for a person waiting on the answer); a job
        with the same key already waiting is not queued twice."""
        with self._cond:
            if self._stopping or key in self._jobs:
                return
            self._jobs[key] = (job, when_quiet)
            if first:
                self._jobs.move_to_end(key, last=False)
            self.stats.waiting = len(self._jobs)
            self._cond.notify()

    def discard(self, key: str) -> bool:
        """Drop a job that still waits (its asker gave up); False when it is running or unknown."""
        with self._cond:
            if self._jobs.pop(key, None) is None:
                return False
            self.stats.waiting = len(self._jobs)
            return True

    def queue(self, key: str) -> tuple[list[str], bool] | None:
        """(keys of the jobs before `key`, the running one first; whether `key` waits for quiet), or
        None when `key` is neither waiting nor running."""
        with self._cond:
            running = [self.current] if self.current is not None else []
            if key == self.current:
                return [], False
            if key not in self._jobs:
                return None
            ahead = list(self._jobs)[: list(self._jobs).index(key)]
            return running + ahead, self._jobs[key][1]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="llm", daemon=True)
        self._thread.start()

    def park(self) -> str | None:
        """Until `unpark()`: cancel the running job's generations (between tokens) so it ends at once,
        leaving its unfinished work pending, and start no job. Returns the running job's key, if any."""
        with self._cond:
            self._parked += 1
            key, engine = self.current, self._engine
            if engine is not None:
                engine.hold()
            if key is None:
                return None
            self.stats.parked += 1
        log.info("LLM job %s parked: the room comes first", key)
        return key

    def unpark(self) -> None:
        with self._cond:
            self._parked = max(0, self._parked - 1)
            if not self._parked and not self._stopping and self._engine is not None:
                self._engine.release()
            self._cond.notify_all()

    def stop(self, timeout: float = 30.0) -> None:
        """Cancel the job in progress (it leaves its unfinished work pending); jobs still waiting are
        dropped (their work stays pending in the store and is picked up again at the next start)."""
        with self._cond:
            self._stopping = True
            self._jobs.clear()
            self._cond.notify_all()
            engine = self._engine
            if engine is not None:
                engine.hold()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._cond:
            engine = self._engine  # a job may have loaded it meanwhile
        if engine is not None:
            engine.close()

    def idle(self) -> bool:
        with self._cond:
            return not self._jobs and self.current is None

    def _next(self) -> tuple[str, Job] | None:
        with self._cond:
            while True:
                self.last_progress = time.monotonic()
                if self._stopping:
                    return None
                ready = None
                if not self._parked:
                    ready = next((k for k, (_, quiet) in self._jobs.items() if not quiet or self._quiet()), None)
                if ready is not None:
                    job, _ = self._jobs.pop(ready)
                    self.stats.waiting = len(self._jobs)
                    self.current = ready
                    return ready, job
                self._cond.wait(HEARTBEAT_S)

    def _run(self) -> None:
        while (item := self._next()) is not None:
            key, job = item
            try:
                if self._engine is None:
                    engine = self._engine_factory()
                    with self._cond:
                        self._engine = engine
                        if self._stopping or self._parked:
                            engine.hold()
                job(self._engine)
                self.stats.jobs_done += 1
            except Exception:
                self.stats.jobs_failed += 1
                log.exception("LLM job %s failed", key)
            finally:
                with self._cond:
                    self.current = None
                self.last_progress = time.monotonic()


def load_local_engine(cfg: LlmConfig) -> LlmEngine:
    """The box's own model (llm.model_path)."""
    assert cfg.model_path is not None
    return LlmEngine(
        cfg.model_path.resolve(), n_ctx=cfg.n_ctx, n_gpu_layers=cfg.n_gpu_layers, threads=cfg.threads, seed=cfg.seed
    )
