"""One box per storage folder: `edge run` holds an exclusive lock on `<storage>/edge.lock` for its lifetime.

Two boxes on one folder close each other's meetings as interrupted and write the same audio archives.
The lock is an OS file lock (flock), so a box killed with -9 or by a power cut holds nothing: the next
start takes it at once. The file says who holds it, for the message the second box prints.
"""

from __future__ import annotations

import fcntl
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

from edge.core.errors import UserError

LOCK_NAME = "edge.lock"


class StorageInUse(UserError):
    """Another box (process) is running on the same storage folder."""


class StorageLock:
    """Held from `acquire()` until `release()` (or the process ends)."""

    def __init__(self, storage: Path) -> None:
        self.path = Path(storage) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> StorageLock:
        """Take the lock, or raise StorageInUse naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise StorageInUse(
                f"storage {self.path.parent} is in use by another box ({holder}); stop that one first "
                "(systemctl stop edge), or give this one its own storage.path"
            ) from None
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, `edge run` since {started}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
