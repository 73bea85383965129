"""Token buckets for commands from the broker: anyone who may publish on `recording/set` can flood it, and
each command costs a meeting, an error reply and a log line. The box takes a burst, then a steady trickle;
the rest is counted, not answered."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """Allows `burst` takes at once, then `per_second` on average; a refused take costs nothing."""

    def __init__(self, burst: int, per_second: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if burst < 1 or per_second <= 0:
            raise ValueError("a token bucket needs a burst of at least 1 and a positive rate")
        self._burst = float(burst)
        self._per_second = per_second
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._per_second)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
