"""Free space on the disk that holds the records, in three levels: "ok", "low" (health degraded) and "full"
(meeting audio is no longer archived so the database keeps the last of the space; health error).

A level is left only once the free space is back above its threshold by a margin, so a disk hovering at a
threshold does not make health, MQTT and archiving flap."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Level = Literal["ok", "low", "full"]

MB = 1 << 20
RECOVERY_MARGIN = 1.1  # leave a level at 110 % of its threshold
UNREADABLE_REASON = "free space of {path} cannot be read ({error}); check that the storage is mounted"


@dataclass(frozen=True)
class DiskReading:
    level: Level
    free_mb: float | None  # None when the file system could not be asked
    error: str | None = None

    @property
    def archiving(self) -> bool:
        """May meeting audio be written? Not on a full disk, nor on one that cannot be asked."""
        return self.level != "full"


class DiskSpace:
    """Reads the free space under `path` (what an unprivileged service user may still write: statvfs'
    f_bavail) and classifies it against the thresholds in MB."""

    def __init__(
        self,
        path: Path,
        *,
        warn_free_mb: float,
        critical_free_mb: float,
        statvfs: Callable[[Path], os.statvfs_result] = os.statvfs,
    ) -> None:
        if critical_free_mb > warn_free_mb:
            raise ValueError("critical_free_mb must not be above warn_free_mb")
        self.path = Path(path)
        self.warn_free_mb = warn_free_mb
        self.critical_free_mb = critical_free_mb
        self._statvfs = statvfs
        self.last = DiskReading("ok", None)

    def read(self) -> DiskReading:
        try:
            stat = self._statvfs(self.path)
        except OSError as exc:
            reason = UNREADABLE_REASON.format(path=self.path, error=exc.strerror or exc)
            self.last = DiskReading("full", None, reason)
            return self.last
        free_mb = stat.f_bavail * stat.f_frsize / MB
        self.last = DiskReading(self._level(free_mb), round(free_mb, 1))
        return self.last

    def _level(self, free_mb: float) -> Level:
        previous = self.last.level if self.last.free_mb is not None else "ok"
        full_until = self.critical_free_mb * (RECOVERY_MARGIN if previous == "full" else 1)
        low_until = self.warn_free_mb * (RECOVERY_MARGIN if previous != "ok" else 1)
        if free_mb < full_until:
            return "full"
        if free_mb < low_until:
            return "low"
        return "ok"
