"""A two-hour Korean meeting (synthetic, 1,600 segments) through map-reduce with n_ctx = 2048 on
real llama.cpp with the fixture model. The fixture model tokenizes Korean byte by byte (about 3
tokens a syllable), so this is the slowest test of the minutes: it prints its figures (LLM calls,
tokens, wall time) for the record. The model cannot write Korean, so the final Korean-language
check is expected to fail after map and reduce have run; what must not happen is a context error,
an exception, or a segment left out of every chunk."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from synth_korean_meeting import ATTENDEES, korean_meeting

from edge.core.config import MinutesConfig
from edge.llm.engine import LlmEngine
from edge.minutes.generate import STAGE_FINAL, STAGE_MAP, STAGE_REDUCE, generate_minutes
from edge.minutes.schema import validate_minutes
from edge.store import Store

N_SEGMENTS = 1600
N_CTX = 2048


@pytest.mark.slow
def test_two_hour_korean_meeting_goes_through_map_reduce_in_2048_tokens(
    tmp_path: Path, fixture_file: Callable[[str], Path]
) -> None:
    segments = korean_meeting(N_SEGMENTS)
    assert segments[-1].t1_ms >= 2 * 3600 * 1000  # two hours of meeting time
    store = Store(tmp_path / "edge.db")
    meeting = store.create_meeting(language="ko", source="import", status="imported", title="2시간 회의")
    store.add_segments(meeting.id, [s.as_store_fields() for s in segments])
    store.set_attendees(meeting.id, ATTENDEES)
    config = MinutesConfig(output_tokens=160, chunk_output_tokens=192, max_attempts=2)
    events: list[dict] = []
    started = time.monotonic()
    with LlmEngine(fixture_file("models/stories260K.gguf"), n_ctx=N_CTX, threads=1, seed=1) as engine:
        outcome = generate_minutes(store, engine, meeting.id, config=config, progress=events.append)
        stats = engine.stats()
    wall = time.monotonic() - started
    print(
        f"\nlong meeting: {N_SEGMENTS} segments, n_ctx={N_CTX}: status={outcome.status}, "
        f"chunks={outcome.chunks}, reduce_rounds={outcome.reduce_rounds}, llm_calls={outcome.llm_calls}, "
        f"prompt_tokens={outcome.prompt_tokens}, completion_tokens={outcome.completion_tokens}, "
        f"llm_seconds={stats.seconds:.1f}, wall_seconds={wall:.1f}, error={outcome.error!r}"
    )

    assert outcome.error is None or ("n_ctx" not in outcome.error and "context" not in outcome.error)
    assert stats.calls == outcome.llm_calls and stats.cancelled == 0
    assert outcome.chunks >= 20 and outcome.reduce_rounds >= 1
    stages = [e["stage"] for e in events]
    assert stages.index(STAGE_MAP) < stages.index(STAGE_REDUCE) < stages.index(STAGE_FINAL)
    assert {e["total"] for e in events if e["stage"] == STAGE_MAP} == {outcome.chunks}
    record = store.minutes(meeting.id)
    assert record is not None and record.status == outcome.status
    if outcome.minutes is not None:
        validate_minutes(record.minutes, meeting_id=meeting.id, known_seqs=range(N_SEGMENTS))
    else:
        assert outcome.error.startswith("the minutes failed validation after 2 attempts")
    store.close()
