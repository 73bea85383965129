"""Segment commit: each ASR segment of a final utterance goes through the meeting's firewall and glossary
correction, then into the store with its outbox row, or into the store's audit of dropped segments. The
store tells its listeners (the live relay, so the API stream and MQTT); then the segment becomes the
ASR context of the next utterances and the LLM correction is scheduled."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Iterable

from edge.core.events import AsrSegment, FilteredSegment
from edge.pipeline.current_glossary import CurrentGlossary
from edge.store import Store
from edge.text.glossary import Glossary
from edge.text.postprocess import TextPostprocessor


@dataclasses.dataclass
class CommitCounters:
    """Everything counted that a person may need to see: nothing is lost silently."""

    segments: int = 0
    filtered: Counter[str] = dataclasses.field(default_factory=Counter)


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
                self._store.add_filtered(FilteredSegment(meeting_id, seg.t0_ms, seg.t1_ms, seg.text, reason))
                continue
            segment = self._store.add_segment(
                meeting_id,
                t0_ms=seg.t0_ms,
                t1_ms=seg.t1_ms,
                text_raw=seg.text,
                language=seg.language,
                confidence=seg.confidence,
                text=processed.text if processed.text != seg.text else None,
                corrections=processed.corrections,
            )
            self.counters.segments += 1
            used_terms = {c["term"] for c in processed.corrections if c.get("term")}
            if used_terms:
                self._store.touch_terms(sorted(used_terms))
            self._note_committed(meeting_id, segment.display_text, used_terms, seg.language)
            self._then(meeting_id)

    def forget(self, meeting_id: str) -> None:
        """The meeting is closed: drop its postprocessor (and the recent text its firewall compares with)."""
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
