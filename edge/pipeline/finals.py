"""The ASR stage's feed: every final utterance handed to it is counted until its segments are committed
(or it failed, or a full queue evicted it), so a meeting is closed only when all of it is on disk."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable

from edge.asr.stage import AsrStage
from edge.core.events import AsrSegment, Utterance

log = logging.getLogger(__name__)


Commit = Callable[[str, list[AsrSegment], int | None], None]
"""(meeting_id, segments, utterance_ms): stores a final utterance's segments."""


class AsrFeed:
    """Counts pending finals per meeting. `connect()` it to the ASR stage and the committer before use;
    the stage reports back through `on_final` and `on_error` on its owner thread."""

    def __init__(self) -> None:
        self._pending: Counter[str] = Counter()
        self._done = threading.Condition()
        self._asr: AsrStage | None = None
        self._commit: Commit | None = None
        self._forget: list[Callable[[str], None]] = []
        self._final_hooks: list[Callable[[Utterance], None]] = []
        self.errors = 0

    def connect(self, asr: AsrStage, commit: Commit, *, forget: Callable[[str], None]) -> None:
        """`forget(meeting_id)` drops a closed meeting's state beside the ASR stage's (the committer's)."""
        self._asr, self._commit = asr, commit
        self._forget = [asr.forget_meeting, forget]

    def add_final_hook(self, hook: Callable[[Utterance], None]) -> None:
        """Called on the ASR thread once a final utterance's segments are committed (or dropped)."""
        self._final_hooks.append(hook)

    # VAD threads

    def submit(self, utterance: Utterance, wait: bool = False) -> None:
        assert self._asr is not None, "AsrFeed.connect() first"
        if utterance.final:
            with self._done:
                self._pending[utterance.meeting_id] += 1
        self._asr.submit(utterance, wait=wait)

    @property
    def busy(self) -> bool:
        """Is any final utterance still waiting for (or in) the ASR stage?"""
        with self._done:
            return any(self._pending.values())

    def close_meeting(self, meeting_id: str) -> None:
        """Block until every final utterance of the meeting has been committed or counted as lost, then
        forget the meeting's ASR context and postprocessor."""
        assert self._asr is not None, "AsrFeed.connect() first"
        with self._done:
            while self._pending.get(meeting_id, 0) > 0:
                dropped_before = self._asr.stats.dropped
                if not self._done.wait(timeout=1.0) and self._asr.stats.dropped > dropped_before:
                    # A final evicted from a full ASR queue never reports back; it is counted in drops.
                    self._pending[meeting_id] -= self._asr.stats.dropped - dropped_before
        for forget in self._forget:
            forget(meeting_id)

    # the ASR owner thread

    def on_final(self, utterance: Utterance, segments: list[AsrSegment]) -> None:
        assert self._commit is not None, "AsrFeed.connect() first"
        try:
            self._commit(utterance.meeting_id, segments, utterance.end_ms - utterance.start_ms)
            for hook in self._final_hooks:
                hook(utterance)
        finally:
            self._finish(utterance.meeting_id)

    def on_error(self, utterance: Utterance, exc: BaseException) -> None:
        self.errors += 1
        log.error("ASR failed on utterance %s of meeting %s: %s", utterance.utterance_id, utterance.meeting_id, exc)
        self._finish(utterance.meeting_id)

    def _finish(self, meeting_id: str) -> None:
        with self._done:
            self._pending[meeting_id] -= 1
            if self._pending[meeting_id] <= 0:
                del self._pending[meeting_id]
            self._done.notify_all()
