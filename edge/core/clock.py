"""The box's wall clock: wall-clock stamps that move with the monotonic clock, so they never run backwards,
and that follow the system clock when it is stepped (NTP setting the time of a board with no battery
clock, mid-meeting).

Stamps are taken as anchor + monotonic time since the anchor. `check()` compares that with the system
clock: a difference of STEP_S or more is a step; the clock re-anchors on the system time (the newest
is the best the box knows) and tells its listeners by how much, so stamps already written can be moved
by the same amount. Smaller differences are followed only forwards: following one backwards could put a
stamp before one already written.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

log = logging.getLogger(__name__)

STEP_S = 1.0
CHECK_INTERVAL_S = 1.0


class WallClock:
    def __init__(
        self, system: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        """`system` and `monotonic` are the clocks read (seconds); replaceable in tests."""
        self._system = system
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._anchor_wall = system()
        self._anchor_mono = monotonic()
        self._listeners: list[Callable[[float], None]] = []
        self.steps = 0
        self.last_step_s: float | None = None

    def monotonic(self) -> float:
        """The monotonic clock this one follows, for instants to convert with `unix` later."""
        return self._monotonic()

    def unix(self, monotonic: float | None = None) -> float:
        """Wall time in Unix seconds now, or at an earlier reading of the monotonic clock."""
        mono = self._monotonic() if monotonic is None else monotonic
        with self._lock:
            return self._anchor_wall + (mono - self._anchor_mono)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.unix(), timezone.utc)

    def iso(self) -> str:
        """Now as ISO 8601 UTC with milliseconds, the stamps of the records."""
        return self.now().isoformat(timespec="milliseconds")

    def on_step(self, listener: Callable[[float], None]) -> None:
        """`listener(seconds)` runs on the checking thread after each step, with its size (negative: back)."""
        self._listeners.append(listener)

    def check(self) -> float | None:
        """Follow the system clock; returns the size of a step in seconds, None when there was none."""
        with self._lock:
            system, mono = self._system(), self._monotonic()
            drift = system - (self._anchor_wall + (mono - self._anchor_mono))
            if drift <= 0 and -drift < STEP_S:
                return None
            self._anchor_wall, self._anchor_mono = system, mono
            if abs(drift) < STEP_S:
                return None
            self.steps += 1
            self.last_step_s = round(drift, 3)
        log.warning("the system clock was stepped by %+.1f s; the records' times follow it", drift)
        for listener in self._listeners:
            try:
                listener(drift)
            except Exception:
                log.exception("a clock-step listener failed")
        return drift

    def watch(self, stop: threading.Event, interval_s: float = CHECK_INTERVAL_S) -> threading.Thread:
        """Check every `interval_s` on a thread of its own until `stop` is set."""

        def run() -> None:
            while not stop.wait(interval_s):
                self.check()

        thread = threading.Thread(target=run, name="wall-clock", daemon=True)
        thread.start()
        return thread
