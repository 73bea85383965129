"""Bounded queues between stages. A full queue drops its oldest item and counts it: a live producer
(the microphone above all) never blocks, and no loss is silent. A lossless producer (a file replayed
as fast as possible) waits for room instead."""

from __future__ import annotations

import threading
from collections import deque
from queue import Empty
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["DropOldestQueue", "Empty", "QueueClosed"]


class QueueClosed(Exception):
    """Raised by get() once the queue is closed and drained."""


class DropOldestQueue(Generic[T]):
    def __init__(self, maxsize: int, name: str = "queue") -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.name = name
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0

    def put(self, item: T) -> T | None:
        """Add an item without blocking; return the item dropped to make room, if any."""
        with self._cond:
            if self._closed:
                raise QueueClosed(f"{self.name} is closed")
            evicted = None
            if len(self._items) >= self.maxsize:
                evicted = self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify_all()
            return evicted

    def put_wait(self, item: T) -> None:
        """Add an item, waiting for room: for lossless producers (a file replayed as fast as possible),
        which must slow down rather than lose audio."""
        with self._cond:
            self._cond.wait_for(lambda: len(self._items) < self.maxsize or self._closed)
            if self._closed:
                raise QueueClosed(f"{self.name} is closed")
            self._items.append(item)
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> T:
        """Next item; raises Empty after `timeout`, QueueClosed when closed and drained."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout):
                raise Empty
            if self._items:
                item = self._items.popleft()
                self._cond.notify_all()
                return item
            raise QueueClosed(f"{self.name} is closed")

    def close(self) -> None:
        """No more puts; getters drain what is left, then get QueueClosed."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
