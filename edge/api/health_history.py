"""The last hour of the box's health for the Health tab's plots: a sample every `interval_s` seconds
into a bounded ring buffer (one hour of samples), read by GET /api/v1/health/history.

Each sample takes the values that matter from the box's health (real-time factor, utterances waiting
for recognition, items dropped so far, MQTT messages waiting) and what the platform exposes about the
machine: this process's resident memory, the hottest thermal zone, free space on the disk holding the
records. A value the platform does not expose is None, never a guess.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

from edge.core.clock import WallClock

log = logging.getLogger(__name__)

SERIES = ("rtf", "asr_backlog", "drops", "outbox_backlog", "memory_mb", "temperature_c", "disk_free_gb")
"""The series of every sample, besides its time `t` (Unix seconds)."""

DEFAULT_INTERVAL_S = 10.0
WINDOW_S = 3600.0
THERMAL_DIR = Path("/sys/class/thermal")
STATM = Path("/proc/self/statm")


def process_memory_mb(statm: Path = STATM) -> float | None:
    """Resident memory of this process in MiB (Linux /proc), else None."""
    try:
        resident_pages = int(statm.read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return round(resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def hottest_temperature_c(thermal_dir: Path = THERMAL_DIR) -> float | None:
    """The hottest thermal zone in °C (CPU and GPU zones on a Jetson), or None where none is readable."""
    readings = []
    for zone in sorted(thermal_dir.glob("thermal_zone*/temp")):
        try:
            millidegrees = int(zone.read_text().strip())
        except (OSError, ValueError):
            continue  # some zones refuse reads (a sensor that is off); the others still count
        if -40_000 < millidegrees < 150_000:  # outside this a zone reports an error code, not heat
            readings.append(millidegrees / 1000)
    return round(max(readings), 1) if readings else None


def disk_free_gb(path: Path) -> float | None:
    try:
        return round(shutil.disk_usage(path).free / 1e9, 2)
    except OSError:
        return None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class HealthHistory:
    """Samples of the box's health, the oldest forgotten once the window (an hour) is full."""

    def __init__(
        self,
        health: Callable[[], dict],
        disk_path: Path,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        thermal_dir: Path = THERMAL_DIR,
        statm: Path = STATM,
        clock: WallClock | None = None,
    ) -> None:
        """Samples are stamped with the monotonic clock and shown in `clock`'s wall time, so a step of the
        system clock moves the whole hour with it instead of putting new samples before old ones."""
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = interval_s
        self._health = health
        self._disk_path = disk_path
        self._thermal_dir = thermal_dir
        self._statm = statm
        self._clock = clock or WallClock()
        self._samples: deque[dict[str, float | None]] = deque(maxlen=max(1, round(WINDOW_S / interval_s)))
        self._lock = threading.Lock()

    def record(self, at: float | None = None) -> dict[str, float | None]:
        """Take one sample and keep it, stamped at the monotonic instant `at` (seconds) or now."""
        health = self._health()
        queues = health.get("queues") or {}
        drops = health.get("drops") or {}
        sample: dict[str, float | None] = {
            "t": self._clock.monotonic() if at is None else at,
            "rtf": _number(health.get("rtf")),
            "asr_backlog": _number(queues.get("asr_pending")),
            "drops": float(sum(n for n in drops.values() if _number(n) is not None)) if drops else None,
            "outbox_backlog": _number(health.get("outbox_backlog")),
            "memory_mb": process_memory_mb(self._statm),
            "temperature_c": hottest_temperature_c(self._thermal_dir),
            "disk_free_gb": disk_free_gb(self._disk_path),
        }
        with self._lock:
            self._samples.append(sample)
        return sample

    def series(self) -> dict[str, list[float | None]]:
        """Column per series, oldest first: {"t": [...], "rtf": [...], ...}, all of the same length."""
        with self._lock:
            samples = sorted(self._samples, key=lambda sample: sample["t"] or 0.0)
        times = [round(self._clock.unix(s["t"]), 1) if s["t"] is not None else None for s in samples]
        return {"t": times, **{name: [s[name] for s in samples] for name in SERIES}}

    def run(self, stop: threading.Event) -> None:
        """Sample every interval until `stop` is set; a failing sample is logged and the next one taken."""
        while not stop.is_set():
            try:
                self.record()
            except Exception:
                log.exception("health sample failed")
            stop.wait(self.interval_s)

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name="health-history", daemon=True)
        thread.start()
        return thread
