"""Segment commit: each ASR segment of a final utterance goes through the meeting's firewall and glossary
correction, then into the store with its outbox row, or into the store's audit of dropped segments. The
store tells its listeners (the live relay, so the API stream and MQTT); then the segment becomes the
ASR context of the next utterances and the LLM correction is scheduled.

A write the database refuses for want of space (or a failing disk) is held in memory, in order, and written by
`retry_held()` once the database takes it: nothing committed is lost while the disk is full."""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable

from edge.core.events import AsrSegment, FilteredSegment
from edge.pipeline.current_glossary import CurrentGlossary
from edge.store import Store, StoreWriteFailed
from edge.text.glossary import Glossary
from edge.text.postprocess import TextPostprocessor

log = logging.getLogger(__name__)

# About 16 hours of a busy meeting's segments (a few hundred bytes each in memory): beyond that the newest are
# refused, counted and logged.
MAX_HELD = 10_000
CLOSE_WAIT_S = 10.0


@dataclasses.dataclass
class CommitCounters:
    """Everything counted that a person may need to see: nothing is lost silently."""

    segments: int = 0
    filtered: Counter[str] = dataclasses.field(default_factory=Counter)
    write_failures: int = 0  # writes the database refused (full or failing disk); each is held and retried
    lost: int = 0  # held writes given up: more than MAX_HELD waiting, or refused for another reason on retry


@dataclasses.dataclass(frozen=True)
class _Write:
    meeting_id: str
    write: Callable[[], object]
    after: Callable[[], None]


class SegmentCommitter:
    def __init__(
        self,
        store: Store,
        glossary: CurrentGlossary,
        *,
        prompt: str,
        note_committed: Callable[[str, str, Iterable[str], str], None],
        then: Callable[[str], None],
    ) -> None:
        """`note_committed(meeting_id, text, used_terms, language)` feeds the ASR context; `then(meeting_id)` runs
        after each committed segment (the LLM correction's schedule)."""
        self._store = store
        self._glossary = glossary
        self._prompt = prompt
        self._note_committed = note_committed
        self._then = then
        self._lock = threading.Lock()
        self._postprocessors: dict[str, TextPostprocessor] = {}
        self._held: deque[_Write] = deque()
        self._held_changed = threading.Condition()
        self.counters = CommitCounters()
        glossary.follow(self._set_glossary)

    def commit(self, meeting_id: str, segments: list[AsrSegment], utterance_ms: int | None = None) -> None:
        """Firewall each ASR segment, then store it (with its outbox row) or store why it was dropped."""
        for seg in segments:
            postprocessor = self._postprocessor(meeting_id, seg.language)
            # whisper's own timestamps can collapse (t0 == t1); the VAD's length of a lone segment cannot.
            duration_ms = utterance_ms if len(segments) == 1 and utterance_ms else seg.t1_ms - seg.t0_ms
            processed = postprocessor.process(seg.text, duration_ms=duration_ms)
            if processed.dropped:
                reason = processed.reason or "dropped"
                self.counters.filtered[reason] += 1
                item = FilteredSegment(meeting_id, seg.t0_ms, seg.t1_ms, seg.text, reason)
                self._write(_Write(meeting_id, functools.partial(self._store.add_filtered, item), _nothing))
                continue
            text = processed.text if processed.text != seg.text else None
            write = functools.partial(
                self._store.add_segment, meeting_id, t0_ms=seg.t0_ms, t1_ms=seg.t1_ms, text_raw=seg.text,
                language=seg.language, confidence=seg.confidence, text=text, corrections=processed.corrections,
                speaker=seg.speaker,
            )  # fmt: skip
            used_terms = {c["term"] for c in processed.corrections if c.get("term")}
            self._write(_Write(meeting_id, write, functools.partial(self._committed, meeting_id, used_terms)))
            # The ASR context follows what was said, whether or not the disk has taken it yet.
            self._note_committed(meeting_id, seg.text if text is None else text, used_terms, seg.language)

    def _committed(self, meeting_id: str, used_terms: set[str]) -> None:
        self.counters.segments += 1
        if used_terms:
            try:
                self._store.touch_terms(sorted(used_terms))
            except StoreWriteFailed as exc:  # when a term was last used only orders the glossary's suggestions
                log.warning("glossary use of %s not recorded: %s", sorted(used_terms), exc)
        self._then(meeting_id)

    def _write(self, item: _Write) -> None:
        """Write now, or behind the writes already held (so a meeting's segments stay in order)."""
        with self._held_changed:
            if not self._held:
                try:
                    item.write()
                except StoreWriteFailed as exc:
                    self.counters.write_failures += 1
                    log.error("segment of meeting %s held in memory until the database takes it: %s",
                              item.meeting_id, exc)  # fmt: skip
                else:
                    item.after()
                    return
            if len(self._held) >= MAX_HELD:
                self.counters.lost += 1
                log.error("segment of meeting %s LOST: %d writes already wait for the database (disk full?)",
                          item.meeting_id, len(self._held))  # fmt: skip
                return
            self._held.append(item)

    def write_later(self, meeting_id: str, write: Callable[[], object]) -> None:
        """Hold a write of the meeting's that the database refused (its end): it runs after the writes held
        before it, once the database takes them."""
        with self._held_changed:
            self.counters.write_failures += 1
            self._held.append(_Write(meeting_id, write, _nothing))

    def retry_held(self) -> int:
        """Write the held segments, oldest first, until the database refuses one again; returns how many wait."""
        with self._held_changed:
            written = 0
            while self._held:
                item = self._held[0]
                try:
                    item.write()
                except StoreWriteFailed:
                    self.counters.write_failures += 1
                    break
                except Exception:
                    self.counters.lost += 1
                    log.exception("held segment of meeting %s LOST: the database refused it", item.meeting_id)
                else:
                    written += 1
                    item.after()
                self._held.popleft()
            if written:
                log.warning("%d held segments written; %d still wait", written, len(self._held))
            self._held_changed.notify_all()
            return len(self._held)

    def held(self, meeting_id: str | None = None) -> int:
        """Writes waiting for the database (of one meeting, or all)."""
        with self._held_changed:
            return sum(1 for item in self._held if meeting_id is None or item.meeting_id == meeting_id)

    def wait_written(self, meeting_id: str, timeout: float) -> bool:
        """Wait (at most `timeout` seconds) until none of the meeting's segments is held."""
        with self._held_changed:
            return self._held_changed.wait_for(
                lambda: not any(item.meeting_id == meeting_id for item in self._held), timeout
            )

    def forget(self, meeting_id: str) -> None:
        """The meeting is closed: its held segments get a while to be written (they stay held after it), then
        its postprocessor (and the recent text its firewall compares with) is dropped."""
        if not self.wait_written(meeting_id, CLOSE_WAIT_S):
            log.error("meeting %s closes with %d segments still held for the database; they are written when "
                      "space returns", meeting_id, self.held(meeting_id))  # fmt: skip
        with self._lock:
            self._postprocessors.pop(meeting_id, None)

    def _postprocessor(self, meeting_id: str, language: str) -> TextPostprocessor:
        with self._lock:
            if meeting_id not in self._postprocessors:
                self._postprocessors[meeting_id] = TextPostprocessor(
                    language, self._glossary.glossary, prompt=self._prompt
                )
            return self._postprocessors[meeting_id]

    def _set_glossary(self, glossary: Glossary) -> None:
        with self._lock:
            for postprocessor in self._postprocessors.values():
                postprocessor.set_glossary(glossary)


def _nothing() -> None:
    pass
