"""The box's verdict ("ok", "degraded", "error") and the problems behind it, watched on one thread.

Every `interval_s` the watch reads the free space of the storage (which tells the recording whether to
archive), writes the segments the database refused while it was full (SegmentCommitter.retry_held) and
collects the problems: disk almost full or full, segments held in memory, the archive paused, a stage thread
that stopped. When the set of problems changes it is published as a HealthChanged event (API stream, MQTT
`error` and `stats`) and logged, so a person hears of it within an interval, and of its end the same way.

Each problem has a code (the page's words for it: `health.problem.<code>` in the catalogues), a severity, an
English message (logs, MQTT) and the figures the message names.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from edge.core.events import HealthChanged

log = logging.getLogger(__name__)

Severity = Literal["degraded", "error"]


class DiskReader(Protocol):
    """edge.ops.disk_space.DiskSpace, as the watch uses it."""

    warn_free_mb: float
    critical_free_mb: float

    def read(self) -> DiskReading: ...


class DiskReading(Protocol):
    level: str
    free_mb: float | None
    error: str | None

    @property
    def archiving(self) -> bool: ...


@dataclass(frozen=True)
class Problem:
    code: str
    severity: Severity
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "message": self.message, **self.params}


def verdict(problems: list[Problem]) -> str:
    if any(problem.severity == "error" for problem in problems):
        return "error"
    return "degraded" if problems else "ok"


def disk_problems(reading: DiskReading, disk: DiskReader) -> list[Problem]:
    if reading.error is not None:
        return [Problem("disk_unreadable", "error", reading.error)]
    free = {"free_mb": reading.free_mb}
    if reading.level == "full":
        return [Problem(
            "disk_full", "error",
            f"disk full: {reading.free_mb:g} MB free under storage.path (below storage.critical_free_mb = "
            f"{disk.critical_free_mb:g}): meeting audio is not archived, segments still are; free space (old "
            "meetings' audio) and archiving resumes by itself",
            {**free, "critical_mb": disk.critical_free_mb},
        )]  # fmt: skip
    if reading.level == "low":
        return [Problem(
            "disk_low", "degraded",
            f"disk almost full: {reading.free_mb:g} MB free under storage.path (below storage.warn_free_mb = "
            f"{disk.warn_free_mb:g}); below {disk.critical_free_mb:g} MB meeting audio is no longer archived",
            {**free, "warn_mb": disk.warn_free_mb, "critical_mb": disk.critical_free_mb},
        )]  # fmt: skip
    return []


def held_problem(held: int) -> list[Problem]:
    if not held:
        return []
    return [Problem(
        "segments_held", "error",
        f"{held} segments wait in memory because the database cannot be written (disk full or failing); they are "
        "written, in order, when it can",
        {"n": held},
    )]  # fmt: skip


def archive_problem(paused: str | None) -> list[Problem]:
    if paused is None:
        return []
    return [Problem("archive_paused", "error", f"meeting audio is not archived: {paused}", {"reason": paused})]


def stage_problem(stage: str, error: str) -> Problem:
    return Problem("stage_stopped", "error", f"the {stage} stage stopped ({error})", {"stage": stage, "error": error})


class HealthWatch:
    def __init__(
        self,
        disk: DiskReader,
        *,
        retry_held: Callable[[], int],
        problems: Callable[[], list[Problem]],
        publish: Callable[[HealthChanged], None],
        interval_s: float = 1.0,
    ) -> None:
        """`retry_held()` writes held segments (returns how many still wait); `problems()` the pipeline's own
        problems besides the disk's; `publish` tells the live bus."""
        self._disk = disk
        self._retry_held = retry_held
        self._pipeline_problems = problems
        self._publish = publish
        self.interval_s = interval_s
        self.reading: DiskReading = disk.read()
        self._told: list[Problem] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="health-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def archiving(self) -> bool:
        """May meeting audio be written now? (The recording asks before each write.)"""
        return self.reading.archiving

    def problems(self) -> list[Problem]:
        return [*disk_problems(self.reading, self._disk), *self._pipeline_problems()]

    def check(self) -> list[Problem]:
        """One round: read the disk, write held segments, tell a change. Returns the problems now."""
        self.reading = self._disk.read()
        self._retry_held()  # even below the critical level: the database may still have room
        problems = self.problems()
        if [(p.code, p.severity) for p in problems] != [(p.code, p.severity) for p in self._told]:
            self._tell(problems)
        return problems

    def _tell(self, problems: list[Problem]) -> None:
        status = verdict(problems)
        if problems:
            log.log(logging.ERROR if status == "error" else logging.WARNING, "health %s: %s", status,
                    "; ".join(problem.message for problem in problems))  # fmt: skip
        else:
            log.warning("health ok again: %s resolved", ", ".join(problem.code for problem in self._told))
        self._told = problems
        self._publish(HealthChanged(status, tuple(problem.to_payload() for problem in problems)))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:  # the watch itself must not die silently either: it tries again next round
                log.exception("health check failed")
