"""A meeting's audio archive that pauses instead of failing: while the disk is (almost) full, or after a
write the disk refused, audio is not archived and the meeting goes on; once the disk takes writes again the
archive is reopened (which repairs what reached the disk), the missing span is filled with silence so a
position in the file stays a position in meeting time, and the span is recorded as a gap with its reason."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from edge.audio.archive import MeetingAudioArchive, archive_path
from edge.core.events import AudioFrame, CaptureGap, ms_to_samples

log = logging.getLogger(__name__)

RETRY_S = 1.0
DISK_FULL = "the disk is almost full (storage.critical_free_mb)"


class MeetingArchiver:
    def __init__(
        self,
        directory: Path,
        meeting_id: str,
        *,
        allowed: Callable[[], bool],
        record_gap: Callable[[int, int, str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`allowed()` says whether the disk has room for audio; `record_gap(start_ms, duration_ms, reason)`
        records a span the archive holds only as silence."""
        self._directory = Path(directory)
        self._meeting_id = meeting_id
        self.path = archive_path(directory, meeting_id)
        self._allowed = allowed
        self._record_gap = record_gap
        self._clock = clock
        self._archive: MeetingAudioArchive | None = None
        self.paused: str | None = None  # why audio is not archived now
        self.pauses = 0
        self._paused_at_ms = 0
        self._end_ms = 0
        self._next_try = 0.0
        if not allowed():
            self._pause(DISK_FULL, 0)
            return
        try:
            self._archive = MeetingAudioArchive(self._directory, meeting_id)
        except OSError as exc:
            self._pause(f"the archive cannot be created ({exc.strerror or exc})", 0)

    def write(self, item: AudioFrame | CaptureGap) -> None:
        self._end_ms = max(self._end_ms, _end_ms(item))
        if self.paused is not None:
            self._try_resume(item)
            return
        assert self._archive is not None
        if not self._allowed():
            self._pause(DISK_FULL, self._archive.position_ms)
            return
        try:
            self._archive.write(item)
        except OSError as exc:
            self._pause(f"the disk refused a write ({exc.strerror or exc})", self._archive.position_ms)

    def close(self) -> None:
        if self.paused is not None:
            self._record_gap(self._paused_at_ms, max(0, self._end_ms - self._paused_at_ms), self._gap_reason())
            return
        assert self._archive is not None
        try:
            self._archive.close()
        except OSError as exc:
            self._archive.abandon()
            log.error("meeting %s: the archive's last second may be missing: %s", self._meeting_id, exc)

    def _pause(self, reason: str, at_ms: int) -> None:
        if self._archive is not None:
            self._archive.abandon()
            self._archive = None
        self.paused = reason
        self.pauses += 1
        self._paused_at_ms = at_ms
        self._next_try = self._clock() + RETRY_S
        log.error("meeting %s: audio is not archived from %.1f s on: %s; the meeting goes on and archiving resumes "
                  "by itself when the disk takes it", self._meeting_id, at_ms / 1000, reason)  # fmt: skip

    def _try_resume(self, item: AudioFrame | CaptureGap) -> None:
        now = self._clock()
        if now < self._next_try or not self._allowed():
            return
        self._next_try = now + RETRY_S
        try:
            archive = self._archive = self._archive or MeetingAudioArchive(self._directory, self._meeting_id)
            resumed_from = archive.position_ms
            archive.write_silence(ms_to_samples(item.start_ms) - archive.samples)
            archive.write(item)
            archive.flush()  # the disk has taken it, header included
        except OSError as exc:
            if self._archive is not None:
                self._archive.abandon()
                self._archive = None
            log.info("meeting %s: audio still not archived: %s", self._meeting_id, exc)
            return
        reason = self._gap_reason()
        self.paused = None
        if item.start_ms > resumed_from:
            self._record_gap(resumed_from, item.start_ms - resumed_from, reason)
        log.warning("meeting %s: archiving resumed at %.1f s; %.1f s before it are silence in the archive",
                    self._meeting_id, item.start_ms / 1000, (item.start_ms - resumed_from) / 1000)  # fmt: skip

    def _gap_reason(self) -> str:
        return f"audio not archived: {self.paused}"


def _end_ms(item: AudioFrame | CaptureGap) -> int:
    return item.start_ms + item.duration_ms if isinstance(item, CaptureGap) else item.end_ms
