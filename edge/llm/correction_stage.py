"""Layer c over the store: committed segments that the LLM has not seen yet are corrected in small
batches with the segments before them as context; each verdict is stored beside the raw text, and an
accepted correction becomes a new revision of the segment, which the store tells its listeners."""

from __future__ import annotations

from collections.abc import Callable

from edge.llm.engine import ChatModel
from edge.store import Store


def correct_pending(
    engine: ChatModel,
    store: Store,
    meeting_id: str,
    *,
    protected_terms: Callable[[], list[str]],
    keep_going: Callable[[], bool],
    batch_size: int = 4,
    context_segments: int = 2,
) -> int:
    """Correct the meeting's waiting segments while `keep_going()`; returns how many were looked at. A
    cancelled generation (the LLM was parked or stopped) or an LLM that cannot be reached ends the pass and
    leaves its segments waiting."""
    from edge.llm.correction import REASON_CANCELLED, LlmCorrector, SegmentText

    meeting = store.meeting(meeting_id)
    corrector = LlmCorrector(
        engine, language=meeting.language, protected_terms=protected_terms, batch_size=batch_size,
        context_segments=context_segments,
    )
    done = 0
    while keep_going():
        batch = store.segments_awaiting_llm(meeting_id, limit=batch_size)
        if not batch:
            break
        first = batch[0].seq
        context = [s.display_text for s in store.segments(meeting_id, after_seq=first - context_segments - 1,
                                                          limit=context_segments) if s.seq < first]
        results = {r.seq: r for r in corrector.correct([SegmentText(s.seq, s.display_text) for s in batch], context)}
        cancelled = any(r.reason == REASON_CANCELLED for r in results.values())
        for segment in batch:
            result = results.get(segment.seq)
            if cancelled and (result is None or not result.accepted):
                continue  # not a verdict: the segment waits for the next quiet moment
            if result is None:
                store.record_llm_correction(meeting_id, segment.seq, text=None, state="skipped: no result")
                continue
            state = "accepted" if result.accepted else f"rejected: {result.reason}"
            store.record_llm_correction(
                meeting_id, segment.seq, text=result.text if result.accepted else None, state=state
            )
        done += len(batch)
        if cancelled:
            break
    return done
