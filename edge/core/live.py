"""In-process fan-out of live events (partials, committed segments, state, progress) to the API's
stream and the MQTT publisher. Slow subscribers lose their oldest events, never block the pipeline."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from edge.core.events import LiveEvent
from edge.core.queues import DropOldestQueue, QueueClosed


class LiveBus:
    def __init__(self, subscriber_buffer: int = 1000) -> None:
        self._subscribers: list[DropOldestQueue[LiveEvent]] = []
        self._lock = threading.Lock()
        self._buffer = subscriber_buffer

    def publish(self, event: LiveEvent) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for queue in subscribers:
            try:
                queue.put(event)
            except QueueClosed:  # the subscriber left between the copy and now
                continue

    @contextmanager
    def subscribe(self) -> Iterator[DropOldestQueue[LiveEvent]]:
        queue: DropOldestQueue[LiveEvent] = DropOldestQueue(self._buffer, name="live-subscriber")
        with self._lock:
            self._subscribers.append(queue)
        try:
            yield queue
        finally:
            with self._lock:
                self._subscribers.remove(queue)
            queue.close()

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)
