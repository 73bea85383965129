"""Minutes people can trust: LLM answers that copy the instructions, repeat the first line or say
nothing checkable are rejected (and retried with feedback, then replaced by the extractive minutes);
an LLM action item whose owner or due date contradicts its cited lines is repaired; authorship
follows a person's edits. The generator runs with a scripted engine (one module's unit test) on a
real Store in a temp dir."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_box import ScriptedMinutesEngine
from synth_korean_meeting import SMALL_MEETING

from edge.core.config import MinutesConfig
from edge.minutes.authorship import author_after_edit
from edge.minutes.generate import generate_minutes
from edge.minutes.quality import gate_problem
from edge.minutes.schema import MinutesContent
from edge.pipeline.editing import Editing
from edge.store import Store

STARTED = "2026-12-02T10:00:00+09:00"  # a Wednesday
INSTRUCTIONS = (
    "title: a short title of the meeting. summary: two to four sentences. topics: the subjects discussed."
)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "edge.db")
    yield store  # type: ignore[misc]
    store.close()


def meeting(store: Store) -> str:
    created = store.create_meeting(language="ko", source="import", status="imported", title="주간 인프라 회의",
                                   started_at=STARTED)  # fmt: skip
    store.add_segments(created.id, [
        {"t0_ms": s * 1000, "t1_ms": s * 1000 + 4000, "text_raw": f"{who}: {text}", "language": "ko"}
        for who, s, text in SMALL_MEETING
    ])  # fmt: skip
    return created.id


def content(**fields: Any) -> MinutesContent:
    return MinutesContent.model_validate({"title": "주간 회의", "summary": "업그레이드 일정을 논의했습니다.", **fields})


def test_gates_name_echo_first_line_and_nothing_checkable() -> None:
    lines = ["네 그럼 주간 인프라 회의 시작하겠습니다.", "첫 번째 안건은 Kubernetes 클러스터 업그레이드입니다.", "네"]
    topic = [{"title": "업그레이드", "evidence": [1]}]
    echo = content(summary="Two to four sentences. Topics: the subjects discussed.", topics=topic)
    assert gate_problem(echo, instructions=INSTRUCTIONS, lines=lines) == "echo: the summary copies the instructions"
    first = content(title="주간 인프라 회의", summary="네 그럼 주간 인프라 회의 시작하겠습니다.", topics=topic)
    assert gate_problem(first, instructions=INSTRUCTIONS, lines=lines).startswith("first_line")  # type: ignore[union-attr]
    empty = content(summary="said the mank.")
    assert gate_problem(empty, instructions=INSTRUCTIONS, lines=lines).startswith("nothing_checkable")  # type: ignore[union-attr]
    assert gate_problem(content(topics=topic), instructions=INSTRUCTIONS, lines=lines) is None
    # Words the meeting itself says are not an echo, even when the instructions say them too.
    spoken = "the subjects discussed in the meeting were many"
    said = content(summary=spoken, topics=topic)
    assert gate_problem(said, instructions=INSTRUCTIONS, lines=[spoken]) is None


def test_an_echoing_model_is_retried_with_feedback_then_replaced_by_the_extractive_draft(store: Store) -> None:
    meeting_id = meeting(store)
    echo = {"title": "회의록", "summary": "요약: Two to four sentences. Topics: the subjects discussed.",
            "topics": [{"title": "t", "summary": "", "evidence": [1]}], "decisions": [], "action_items": [],
            "open_questions": []}  # fmt: skip
    requests: list[str] = []

    def reply(seqs: list[int], texts: list[str]) -> dict:
        return echo

    engine = ScriptedMinutesEngine(reply)
    original = engine.chat_json

    def recording(messages: Any, schema: Any, **kwargs: Any) -> Any:
        requests.append(messages[0]["content"])
        return original(messages, schema, **kwargs)

    engine.chat_json = recording  # type: ignore[method-assign]
    outcome = generate_minutes(store, engine, meeting_id, config=MinutesConfig(max_attempts=2))  # type: ignore[arg-type]
    assert len(requests) == 2 and "it copied these instructions instead of describing the meeting" in requests[1]
    assert outcome.extractive and outcome.status == "draft"
    assert outcome.error.startswith("모델이 회의 내용 대신 지시문을 옮겨 썼습니다.")  # type: ignore[union-attr]
    assert "(the model copied its instructions instead of the meeting;" in outcome.error  # type: ignore[operator]


def test_contradicted_owner_and_due_are_repaired_from_the_evidence(store: Store) -> None:
    meeting_id = meeting(store)

    def reply(seqs: list[int], texts: list[str]) -> dict:
        return {
            "title": "주간 인프라 회의", "summary": "클러스터 업그레이드와 Jira 정리를 논의했습니다.",
            "topics": [{"title": "업그레이드", "summary": "", "evidence": [1, 2]}], "decisions": [],
            "action_items": [
                # Asked of 지훈 for next Wednesday; the model says 이지은, this Friday.
                {"task": "파드 재시작 원인 정리", "owner": "이지은", "due": "이번 주 금요일", "evidence": [5, 6],
                 "confidence": 0.9},
                # Right owner, no due date: the one said is added.
                {"task": "Jira 티켓 정리", "owner": "이지은", "due": "", "evidence": [10, 11], "confidence": 0.8},
            ],
            "open_questions": [],
        }  # fmt: skip

    outcome = generate_minutes(store, ScriptedMinutesEngine(reply), meeting_id, config=MinutesConfig())  # type: ignore[arg-type]
    assert outcome.status == "published" and not outcome.extractive
    items = [(a.owner, a.due, a.confidence) for a in outcome.minutes.action_items]  # type: ignore[union-attr]
    assert items == [
        ("박지훈", "2026-12-09 (다음 주 수요일까지)", 0.6), ("이지은", "2026-12-04 (이번 주 금요일까지)", 0.8)
    ]  # fmt: skip
    crossed = [r for r in outcome.repairs if r.startswith("cross-check: ")]
    assert crossed == [
        "cross-check: action_items[0] (#5, #6): owner '이지은' contradicts its evidence, set to '박지훈'",
        # The model's "이번 주 금요일" is not in the cited lines, so it was dropped before the cross-check.
        "cross-check: action_items[0] (#5, #6): due added from its evidence, "
        "set to '2026-12-09 (다음 주 수요일까지)'",
        "cross-check: action_items[1] (#10, #11): due added from its evidence, "
        "set to '2026-12-04 (이번 주 금요일까지)'",
    ]


def test_authorship_follows_edits() -> None:
    before = {
        "title": "A", "summary": "B", "model": "stories260K.gguf", "decisions": [{"text": "x", "evidence": [1]}],
        "action_items": [], "topics": [], "open_questions": [],
    }  # fmt: skip
    assert author_after_edit(before, dict(before)) == "stories260K.gguf"
    assert author_after_edit(before, {**before, "title": "A2"}) == "stories260K.gguf (edited by a person)"
    rewritten = {**before, "title": "C", "summary": "D", "decisions": [{"text": "y", "evidence": [1]}]}
    assert author_after_edit(before, rewritten) == "a person (rewritten from stories260K.gguf)"
    again = {**before, "model": "stories260K.gguf (edited by a person)"}
    assert author_after_edit(again, {**again, "summary": "E"}) == "stories260K.gguf (edited by a person)"


def test_approving_an_edit_through_editing_records_the_person(store: Store) -> None:
    meeting_id = meeting(store)
    editing = Editing(store, glossary_changed=lambda: None)
    generate_minutes(store, ScriptedMinutesEngine(lambda seqs, texts: {
        "title": "주간 회의", "summary": "논의했습니다.", "topics": [{"title": "논의", "summary": "", "evidence": [1]}],
        "decisions": [], "action_items": [], "open_questions": []}), meeting_id,  # type: ignore[arg-type]
        config=MinutesConfig(require_approval=True), model_name="scripted.gguf")  # fmt: skip
    draft = store.minutes(meeting_id).minutes  # type: ignore[union-attr]
    record = editing.approve_minutes(meeting_id, json.dumps({**draft, "title": "주간 인프라 회의 (수정)"}))
    assert record.minutes["model"] == "scripted.gguf (edited by a person)"  # type: ignore[index]
