"""Layer c over the store, against real llama.cpp: random-weight models write junk, so the guards
must reject it and every segment must keep layer b's text, with the verdict recorded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from edge.core.events import SegmentRevised
from edge.llm.correction_stage import correct_pending
from edge.llm.engine import LlmEngine
from edge.store import Store

LINES = [
    "오늘 회의를 시작하겠습니다",
    "Kubernetes 클러스터를 어제 업그레이드했는데 파드가 계속 재시작돼요",
    "GitHub에 pull request 올려 주시면 제가 리뷰할게요",
    "다음 주 월요일까지 배포 일정을 정리해 주세요",
    "네 알겠습니다",
]


@pytest.fixture(params=["stories260K", "qwen2"])
def engine(request, fixture_file: Callable[[str], Path], qwen2_model: Path):
    path = fixture_file("models/stories260K.gguf") if request.param == "stories260K" else qwen2_model
    engine = LlmEngine(path.resolve(), n_ctx=2048, n_gpu_layers=0, threads=1, seed=0)
    yield engine
    engine.close()


def test_guards_keep_layer_b_text_and_every_segment_gets_a_verdict(tmp_path: Path, engine: LlmEngine) -> None:
    store = Store(tmp_path / "edge.db")
    meeting = store.create_meeting(language="ko", source="test")
    for i, line in enumerate(LINES):
        store.add_segment(meeting.id, t0_ms=i * 1000, t1_ms=i * 1000 + 900, text_raw=line, language="ko")
    updates: list[SegmentRevised] = []
    store.add_change_listener(lambda change: updates.append(change) if isinstance(change, SegmentRevised) else None)
    done = correct_pending(
        engine, store, meeting.id, protected_terms=lambda: ["Kubernetes", "GitHub"], keep_going=lambda: True
    )
    assert done == len(LINES)
    assert store.segments_awaiting_llm(meeting.id, limit=10) == []
    for segment in store.segments(meeting.id):
        if segment.revision == 0:
            assert segment.display_text == LINES[segment.seq]
        else:  # an accepted correction passed every guard: terms kept, no Han added
            assert "Kubernetes" in segment.display_text or "Kubernetes" not in LINES[segment.seq]
            assert segment.corrections[-1]["rule"] == "llm"
    # Each accepted correction reached the store's listeners (the publishers) as a revision.
    assert [u.segment for u in updates] == [s for s in store.segments(meeting.id) if s.revision]
    assert not any(u.edited for u in updates)


def test_stops_between_batches_when_the_box_gets_busy(tmp_path: Path, engine: LlmEngine) -> None:
    store = Store(tmp_path / "edge.db")
    meeting = store.create_meeting(language="ko", source="test")
    for i, line in enumerate(LINES * 2):
        store.add_segment(meeting.id, t0_ms=i * 1000, t1_ms=i * 1000 + 900, text_raw=line, language="ko")
    calls = iter([True, False])
    done = correct_pending(
        engine, store, meeting.id, protected_terms=list,
        keep_going=lambda: next(calls, False), batch_size=4,
    )
    assert done == 4
    assert len(store.segments_awaiting_llm(meeting.id, limit=100)) == len(LINES) * 2 - 4
