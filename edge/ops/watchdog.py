"""Liveness of the pipeline, turned into systemd watchdog pings only while every stage makes progress.

Each stage registers and calls `alive(name)` on every loop iteration (its loop wakes at least every
second, e.g. `queue.get(timeout=1.0)`, so an idle stage still reports). The supervisor loop calls
`tick()`: it sends WATCHDOG=1 only if every stage reported within its stall limit. A stage stuck in a
deadlock or a native call that never returns stops the pings, and systemd (WatchdogSec=) restarts the
box. Pinging from an idle background thread instead would keep a hung box "alive" forever.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.ops.notify import Notifier

log = logging.getLogger(__name__)

DEFAULT_PING_INTERVAL = 1.0


@dataclass
class _Stage:
    stall_seconds: float
    last_alive: float


class PipelineWatchdog:
    def __init__(
        self,
        notifier: Notifier,
        stall_seconds: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if stall_seconds <= 0:
            raise ValueError("stall_seconds must be positive")
        self.notifier = notifier
        self.stall_seconds = stall_seconds
        self._clock = clock
        self._stages: dict[str, _Stage] = {}
        self._lock = threading.Lock()
        self._last_ping: float | None = None
        self._reported_stall: tuple[str, ...] = ()

    @property
    def ping_interval(self) -> float:
        """Half of systemd's WatchdogSec (WATCHDOG_USEC), as sd_watchdog_enabled(3) advises; 1 s without one."""
        interval = self.notifier.watchdog_interval
        return interval / 2 if interval else DEFAULT_PING_INTERVAL

    def register(self, name: str, stall_seconds: float | None = None) -> None:
        """Watch a stage; it counts as alive now. A stage with long native calls (the LLM) may allow more."""
        with self._lock:
            self._stages[name] = _Stage(stall_seconds or self.stall_seconds, self._clock())

    def unregister(self, name: str) -> None:
        """Stop watching a stage that ended normally."""
        with self._lock:
            self._stages.pop(name, None)

    def alive(self, name: str) -> None:
        """Called by the stage itself, from its own loop."""
        with self._lock:
            stage = self._stages.get(name)
            if stage is None:
                raise KeyError(f"stage {name!r} is not registered with the watchdog")
            stage.last_alive = self._clock()

    def observe(self, beats: dict[str, float]) -> None:
        """For stages that keep their own progress time (`time.monotonic()` in their loop): watch exactly
        these stages, each alive as of its own last progress."""
        with self._lock:
            for name in set(self._stages) - set(beats):
                del self._stages[name]
            for name, last_progress in beats.items():
                stage = self._stages.setdefault(name, _Stage(self.stall_seconds, last_progress))
                stage.last_alive = max(stage.last_alive, last_progress)

    def reporter(self, name: str) -> Callable[[], None]:
        """`alive` bound to one stage, to hand to a stage that should not know about the watchdog."""
        return lambda: self.alive(name)

    def stalled(self) -> list[tuple[str, float]]:
        """(stage, seconds since it last reported) for every stage past its stall limit."""
        now = self._clock()
        with self._lock:
            return [
                (name, now - stage.last_alive)
                for name, stage in self._stages.items()
                if now - stage.last_alive > stage.stall_seconds
            ]

    def tick(self) -> bool:
        """From the supervisor loop: ping systemd if the pipeline is healthy. Returns the health."""
        stalled = self.stalled()
        if stalled:
            names = tuple(name for name, _ in stalled)
            if names != self._reported_stall:
                detail = ", ".join(f"{name} (no progress for {age:.0f} s)" for name, age in stalled)
                log.error("pipeline stalled: %s; watchdog pings stopped", detail)
                self.notifier.status(f"stalled: {detail}")
                self._reported_stall = names
            return False
        if self._reported_stall:
            log.warning("pipeline progressing again; watchdog pings resumed")
            self.notifier.status("running")
            self._reported_stall = ()
        now = self._clock()
        if self._last_ping is None or now - self._last_ping >= self.ping_interval:
            self.notifier.watchdog()
            self._last_ping = now
        return True
