"""Minutes generation: planning, validation and repair, map-reduce with evidence kept, failure
states, publishing and approval; the policy with a scripted engine, then against real llama.cpp."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from synth_korean_meeting import ATTENDEES, small_meeting_fields

from edge.core.config import MinutesConfig
from edge.core.events import Segment
from edge.llm.engine import ContextOverflow, LlmEngine, LlmResult
from edge.minutes.generate import (
    STAGE_FINAL,
    STAGE_MAP,
    STAGE_REDUCE,
    STAGE_REPAIR,
    MinutesGenerator,
    MinutesOutcome,
    MinutesSettings,
    check_answer,
    due_was_said,
    generate_minutes,
    output_schema,
    pack,
    resolve_language,
)
from edge.minutes.schema import ChunkNotes, MinutesContent, MinutesInvalid, MinutesNotFound, validate_minutes
from edge.store import MeetingNotFound, Store
from edge.text.glossary import Glossary, GlossaryTerm

LINE_SEQ = re.compile(r"^\[#(\d+)\]", re.M)
SMALL = [
    Segment("m", seq, f["t0_ms"], f["t1_ms"], f["text_raw"], "ko") for seq, f in enumerate(small_meeting_fields())
]

# -- pure planning and checks ---------------------------------------------------------------------


def test_pack_keeps_whole_items_within_budget_and_evens_out_chunks() -> None:
    costs = [10] * 25
    ranges = pack(costs, 100)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(costs)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert all(sum(costs[s:e]) <= 100 for s, e in ranges)
    assert len(ranges) == 3  # as few as greedy packing needs (100, 100, 50)
    assert min(sum(costs[s:e]) for s, e in ranges) >= 70  # but no small last chunk
    assert len(pack([30] * 10 + [5], 100)) == 4
    assert pack([500, 10, 10], 100) == [(0, 1), (1, 3)]  # an oversized item stands alone
    assert pack([], 100) == []


def test_output_schema_constrains_evidence_to_the_inputs_seqs() -> None:
    schema = output_schema("final", evidence=[5, 3, 9], max_items=4)
    assert list(schema["properties"])[:2] == ["title", "summary"]
    decision = schema["properties"]["decisions"]
    assert decision["maxItems"] == 4
    assert decision["items"]["properties"]["evidence"]["items"] == {"enum": [3, 5, 9]}
    assert decision["items"]["properties"]["evidence"]["minItems"] == 1
    notes = output_schema("notes", evidence=range(1000), max_items=4)
    assert "title" not in notes["properties"]
    assert notes["properties"]["topics"]["items"]["properties"]["evidence"]["items"] == {"type": "integer"}
    empty = output_schema("notes", evidence=[], max_items=4)["properties"]["topics"]
    assert empty["maxItems"] == 0 and empty["items"]["properties"]["evidence"]["items"] == {"type": "integer"}


def answer(data: dict[str, Any], finish: str = "stop") -> LlmResult:
    return LlmResult(json.dumps(data, ensure_ascii=False), finish, 10, 10)


def final(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "주간 인프라 회의",
        "summary": "Kubernetes 업그레이드 현황과 할 일을 정리했습니다.",
        "topics": [{"title": "클러스터 업그레이드", "summary": "스테이징 완료", "evidence": [1, 2]}],
        "decisions": [{"text": "운영 업그레이드는 재시작 문제 해결 후 진행", "evidence": [4]}],
        "action_items": [
            {"task": "재시작 원인 정리", "owner": "지훈 씨", "due": "다음 주 수요일", "evidence": [5, 6]},
            {"task": "Jira 티켓 정리", "owner": "지은님", "due": "이번 주 금요일", "evidence": [10, 11]},
        ],
        "open_questions": [{"text": "알림 기준 담당자는?", "evidence": [8]}],
    }
    data["action_items"][0]["confidence"], data["action_items"][1]["confidence"] = 0.9, 0.8
    data.update(changes)
    return data


def check(result: LlmResult, allowed: Sequence[int] = range(12), *, korean: bool = True) -> Any:
    return check_answer(
        result, MinutesContent, allowed=set(allowed), source_han=set(), korean=korean, require_language=True
    )


def test_a_good_answer_passes_unchanged() -> None:
    checked = check(answer(final()))
    assert checked.problem is None and not checked.repairs and not checked.weak
    assert checked.value == MinutesContent.model_validate(final())


def test_evidence_outside_the_input_is_dropped_and_then_the_item() -> None:
    data = final(decisions=[{"text": "A", "evidence": [4, 99]}, {"text": "B", "evidence": [77]}])
    checked = check(answer(data))
    assert checked.problem is None
    assert [(d.text, d.evidence) for d in checked.value.decisions] == [("A", [4])]
    assert any("dropped evidence [99]" in r for r in checked.repairs)
    assert any("decisions[1]: dropped, no valid evidence" in r for r in checked.repairs)


def test_items_with_added_han_are_dropped_and_han_in_the_summary_is_rejected() -> None:
    data = final(open_questions=[{"text": "會議 기준은?", "evidence": [8]}])
    checked = check(answer(data))
    assert checked.value.open_questions == [] and "added Han characters 會議" in checked.repairs[0]
    assert check(answer(final(summary="회의에서 決定했습니다"))).problem == "added_han: 定決"
    # Han that the transcript itself contains is not "added".
    ok = check_answer(
        answer(final(summary="회의에서 決定했습니다")), MinutesContent, allowed=set(range(12)), source_han={"決", "定"},
        korean=True, require_language=True,
    )  # fmt: skip
    assert ok.problem is None
    english = check(answer(final(summary="We discussed the upgrade.")))
    assert english.problem and english.problem.startswith("not_korean")
    assert check(answer(final(summary="We discussed 決定.")), korean=False).problem is None


def test_invalid_items_are_dropped_but_a_broken_head_is_rejected() -> None:
    data = final(action_items=[{"task": "", "owner": "x", "due": "", "evidence": [1], "confidence": 7}])
    checked = check(answer(data))
    assert checked.value.action_items == [] and "action_items[0]: dropped, task" in checked.repairs[0]
    assert check(answer(final(title=""))).problem.startswith("bad_structure: title")
    item = {"task": "t", "owner": "", "due": "", "evidence": [1], "confidence": 7}
    clamped = check(answer(final(action_items=[item])))
    assert clamped.value.action_items[0].confidence == 1.0


def test_mostly_ungrounded_answers_are_weak() -> None:
    ungrounded = [{"text": t, "evidence": [99]} for t in "ABC"]
    data = final(decisions=ungrounded, action_items=[], topics=[], open_questions=[])
    checked = check(answer(data))
    assert checked.weak and checked.value.decisions == []


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        (LlmResult('{"title": "주간', "length", 1, 1), "truncated"),
        (LlmResult('{"title": 1}x', "stop", 1, 1), "invalid_json"),
        (LlmResult("[1, 2]", "stop", 1, 1), "invalid_json"),
        (LlmResult("", "cancelled", 1, 0), "cancelled"),
        (LlmResult('{"summary": "요약"}', "stop", 1, 1), "bad_structure: title: Field required"),
    ],
)
def test_unusable_answers_are_named(result: LlmResult, problem: str) -> None:
    assert check(result).problem == problem


def test_due_dates_must_be_said_in_the_cited_text() -> None:
    said = ["네 다음 주 수요일까지 정리해서 GitHub 이슈로 올리겠습니다."]
    assert due_was_said("다음 주 수요일", said)
    assert due_was_said("다음 주 수요일까지", said)
    assert not due_was_said("3월 15일", said)
    assert not due_was_said("다음 주 금요일", ["다음 주에 보죠"])
    assert due_was_said("3월 15일", ["3월 15일까지 부탁해요"])
    assert not due_was_said("2026-03-15", ["3월 15일까지 부탁해요"])
    assert due_was_said("다음주 금요일", [*said, "다음 주 금요일에 배포"])


def test_language_resolution() -> None:
    assert resolve_language("en", "ko", []) == "en"
    assert resolve_language("", "ko", []) == "ko"
    assert resolve_language("", "auto", ["안녕하세요", "네", "ok"]) == "ko"
    assert resolve_language("", "", ["hello", "ok"]) == "en"


# -- the generator with a scripted engine -----------------------------------------------------------

Reply = LlmResult | Exception | Callable[[list[dict[str, str]], dict[str, Any]], str]


class ScriptedEngine:
    """A stand-in for LlmEngine: one token per character, answers from a script, raises
    ContextOverflow exactly when the real engine would."""

    def __init__(self, replies: Sequence[Reply] | Reply, n_ctx: int = 100_000) -> None:
        self.replies = replies
        self.n_ctx = n_ctx
        self.requests: list[dict[str, Any]] = []

    def count_tokens(self, text: str) -> int:
        return len(text)

    def count_prompt_tokens(self, messages: Sequence[dict[str, str]]) -> int:
        return sum(len(m["content"]) + 4 for m in messages)

    def chat_json(self, messages: Any, schema: Any, *, max_tokens: int, temperature: float = 0.0,
                  on_token: Callable[[str], None] | None = None) -> LlmResult:  # fmt: skip
        prompt = self.count_prompt_tokens(messages)
        if prompt + max_tokens > self.n_ctx:
            raise ContextOverflow(prompt, max_tokens, self.n_ctx)
        self.requests.append(
            {"messages": messages, "schema": schema, "max_tokens": max_tokens, "temperature": temperature}
        )
        reply = self.replies.pop(0) if isinstance(self.replies, list) else self.replies
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            text = reply(messages, schema)
            finish = "stop" if len(text) <= max_tokens else "length"
            reply = LlmResult(text[:max_tokens], finish, prompt, min(len(text), max_tokens))
        for piece in re.findall(".{1,3}", reply.text, re.DOTALL):
            if on_token is not None:
                on_token(piece)
        return reply


def generator(engine: ScriptedEngine, events: list | None = None, **settings: Any) -> MinutesGenerator:
    return MinutesGenerator(
        engine,  # type: ignore[arg-type]
        MinutesSettings(**settings),
        meeting_id="m",
        progress=events.append if events is not None else None,
    )


def test_a_meeting_that_fits_is_written_in_one_call_with_owners_and_dues_checked() -> None:
    reply = final()
    reply["action_items"].append(
        {"task": "알림 기준 정하기", "owner": "김민수", "due": "3월 15일", "evidence": [7, 8], "confidence": 0.3}
    )
    engine = ScriptedEngine([answer(reply)])
    events: list[dict] = []
    result = generator(engine, events).generate(SMALL, language="ko", attendees=ATTENDEES)
    assert result.ok and result.error is None and result.attempts == 1
    assert result.usage.calls == 1 and result.chunks == 0
    items = result.content.action_items
    assert [(a.owner, a.due) for a in items] == [
        ("박지훈", "다음 주 수요일"),
        ("이지은", "이번 주 금요일"),
        ("unassigned", None),  # 김민수 is not in the cited lines, and nobody said 3월 15일
    ]
    system, user = (m["content"] for m in engine.requests[0]["messages"])
    assert "Korean" in system and "Hanja" in system and "Attendees: 김민수, 이지은" in system
    assert user.splitlines()[1] == "[#0] 네 그럼 주간 인프라 회의 시작하겠습니다."
    assert engine.requests[0]["temperature"] == 0.0
    assert {e["stage"] for e in events} == {STAGE_FINAL}
    assert events[-1] == {"meeting_id": "m", "stage": "final", "done": 1, "total": 1, "partial": "", "attempt": 1}
    assert any(e["partial"].startswith('{"title"') for e in events)


def test_glossary_terms_are_listed_and_spelled_canonically() -> None:
    glossary = Glossary([GlossaryTerm("Kubernetes", ("쿠버네티스",)), GlossaryTerm("Grafana", ("그라파나",))])
    engine = ScriptedEngine([answer(final(summary="쿠버네티스 업그레이드와 그라파나 대시보드를 논의했습니다."))])
    result = MinutesGenerator(engine, MinutesSettings(), glossary=glossary).generate(SMALL, language="ko")  # type: ignore[arg-type]
    assert result.content.summary == "Kubernetes 업그레이드와 Grafana 대시보드를 논의했습니다."
    assert "Glossary terms, spell exactly so: Kubernetes, Grafana" in engine.requests[0]["messages"][0]["content"]


def test_invalid_output_is_regenerated_with_feedback_and_fewer_items() -> None:
    engine = ScriptedEngine([LlmResult('{"title": "주간 회', "length", 10, 10), answer(final())])
    events: list[dict] = []
    result = generator(engine, events, max_items=8).generate(SMALL, language="ko")
    assert result.ok and result.attempts == 2
    first, second = engine.requests
    assert second["temperature"] == 0.4 and first["temperature"] == 0.0
    assert "rejected because it was cut off" in second["messages"][0]["content"]
    assert first["schema"]["properties"]["topics"]["maxItems"] == 8
    assert second["schema"]["properties"]["topics"]["maxItems"] == 4
    assert [e["stage"] for e in events if e["partial"] == ""][:2] == [STAGE_FINAL, STAGE_REPAIR]


def test_exhausted_attempts_end_in_a_clear_failure_not_an_exception() -> None:
    engine = ScriptedEngine([answer(final(summary="Only English here.")) for _ in range(3)])
    result = generator(engine).generate(SMALL, language="ko")
    assert not result.ok and result.content is None
    assert result.error == "the minutes failed validation after 3 attempts: not_korean: the summary has no Korean"
    assert result.attempts == 3 and result.usage.calls == 3


def test_a_weak_answer_is_kept_only_when_nothing_better_comes() -> None:
    ungrounded = final(decisions=[{"text": t, "evidence": [99]} for t in "ABC"], action_items=[], topics=[])
    engine = ScriptedEngine([answer(ungrounded), answer(ungrounded)])
    result = generator(engine, max_attempts=2).generate(SMALL, language="ko")
    assert result.ok and result.content.decisions == [] and result.usage.calls == 2
    assert "cite only the numbers shown" in engine.requests[1]["messages"][0]["content"]


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (LlmResult("", "cancelled", 1, 0), "minutes generation was cancelled"),
        (RuntimeError("the LLM engine is closed"), "the LLM failed: RuntimeError: the LLM engine is closed"),
    ],
)
def test_cancellation_and_engine_errors_stop_at_once(reply: Reply, error: str) -> None:
    engine = ScriptedEngine([reply, reply, reply])
    result = generator(engine).generate(SMALL, language="ko")
    assert result.error == error and len(engine.requests) <= 1


def test_no_transcript_is_a_failure() -> None:
    blank = [Segment("m", 0, 0, 1000, "   ", "ko")]
    result = generator(ScriptedEngine([])).generate(blank, language="ko")
    assert result.error == "the meeting has no transcript text to write minutes from"


def notes_reply(messages: list[dict[str, str]], schema: dict[str, Any]) -> str:
    """A model that behaves, tersely: notes on transcript lines cite the first and last line (plus
    a bogus seq); merged notes cite what the notes they merge cite (plus a bogus seq)."""
    user = messages[-1]["content"]
    if user.startswith("Transcript"):
        seqs = [int(s) for s in re.findall(r"^\[#(\d+)\]", user, re.M)]
        groups = [[seqs[0], seqs[-1], 123456]]
    else:
        cited = [[int(n) for n in re.findall(r"#(\d+)", group)] for group in re.findall(r"\[(#[^\]]*)\]", user)]
        groups = [[*c[:2], 654321] for c in cited]
    reply: dict[str, Any] = {
        "summary": "여러 부분의 요약입니다.",
        "topics": [],
        "decisions": [{"text": f"결정 {g[0]}", "evidence": g} for g in groups[:3]],
        "action_items": [],
        "open_questions": [],
    }
    if "title" in schema["properties"]:
        reply["title"] = "긴 회의"
    return json.dumps(reply, ensure_ascii=False)


def test_map_reduce_keeps_evidence_through_every_stage() -> None:
    from synth_korean_meeting import korean_meeting

    segments = [Segment("m", i, s.t0_ms, s.t1_ms, s.text, "ko") for i, s in enumerate(korean_meeting(300))]
    engine = ScriptedEngine(notes_reply, n_ctx=2000)
    events: list[dict] = []
    result = generator(engine, events, output_tokens=300, chunk_output_tokens=250, max_items=8).generate(
        segments, language="ko"
    )
    assert result.ok, result.error
    assert result.chunks >= 10 and result.reduce_rounds >= 1 and not result.gaps
    assert result.usage.calls == len(engine.requests)
    for request in engine.requests:  # every request fit the window
        assert engine.count_prompt_tokens(request["messages"]) + request["max_tokens"] <= engine.n_ctx
    map_requests = [r for r in engine.requests if r["messages"][-1]["content"].startswith("Transcript part")]
    chunk_seqs = [[int(s) for s in LINE_SEQ.findall(r["messages"][-1]["content"])] for r in map_requests]
    assert sorted(s for seqs in chunk_seqs for s in seqs) == list(range(300))  # whole segments, each once
    cited_by_map = {s for seqs in chunk_seqs for s in (seqs[0], seqs[-1])}
    final_evidence = result.content.cited_seqs()
    assert final_evidence and final_evidence <= cited_by_map  # bogus seqs were dropped at every stage
    assert any("dropped evidence [123456]" in r for r in result.repairs)
    assert any("dropped evidence [654321]" in r for r in result.repairs)
    stages = [e["stage"] for e in events]
    assert stages.index(STAGE_MAP) < stages.index(STAGE_REDUCE) < stages.index(STAGE_FINAL)
    map_totals = {e["total"] for e in events if e["stage"] == STAGE_MAP}
    assert map_totals == {result.chunks}


def test_a_failing_chunk_becomes_a_gap_and_all_failing_is_a_failure() -> None:
    from synth_korean_meeting import korean_meeting

    segments = [Segment("m", i, s.t0_ms, s.t1_ms, s.text, "ko") for i, s in enumerate(korean_meeting(60))]
    calls = {"map": 0}

    def second_chunk_breaks(messages: list[dict[str, str]], schema: dict[str, Any]) -> str:
        if messages[-1]["content"].startswith("Transcript part"):
            calls["map"] += 1
            if calls["map"] in (2, 3):
                return '{"summary": '
        return notes_reply(messages, schema)

    engine = ScriptedEngine(second_chunk_breaks, n_ctx=2000)
    result = generator(engine, max_attempts=2, output_tokens=300, chunk_output_tokens=150).generate(
        segments, language="ko"
    )
    assert result.ok and len(result.gaps) == 1
    gap = result.gaps[0]
    assert gap.reason == "notes failed after 2 attempts: invalid_json"
    assert 0 < gap.first_seq <= gap.last_seq < 59
    assert not result.content.cited_seqs() & set(range(gap.first_seq, gap.last_seq + 1))

    broken = ScriptedEngine(LlmResult('{"summary": ', "stop", 1, 1), n_ctx=2000)
    failed = generator(broken, max_attempts=2, output_tokens=300, chunk_output_tokens=150).generate(
        segments, language="ko"
    )
    assert failed.error == "no part of the transcript could be summarized (notes failed after 2 attempts: invalid_json)"


def test_a_window_too_small_is_a_clear_failure() -> None:
    engine = ScriptedEngine([], n_ctx=1500)
    result = generator(engine, output_tokens=1024, chunk_output_tokens=1024).generate(SMALL, language="ko")
    assert result.error == (
        "llm.n_ctx = 1500 leaves no room for transcript chunks with minutes.chunk_output_tokens = 1024; "
        "raise llm.n_ctx or lower it"
    )
    assert engine.requests == []


def test_an_unexpected_context_overflow_splits_the_chunk() -> None:
    from synth_korean_meeting import korean_meeting

    segments = [Segment("m", i, s.t0_ms, s.t1_ms, s.text, "ko") for i, s in enumerate(korean_meeting(40))]
    engine = ScriptedEngine(notes_reply, n_ctx=2500)
    first = {"done": False}
    real = engine.chat_json

    def overflow_once(*args: Any, **kwargs: Any) -> LlmResult:
        if not first["done"] and args[0][-1]["content"].startswith("Transcript part"):
            first["done"] = True
            raise ContextOverflow(3000, 100, 2500)
        return real(*args, **kwargs)

    engine.chat_json = overflow_once  # type: ignore[method-assign]
    result = generator(engine, output_tokens=300, chunk_output_tokens=150).generate(segments, language="ko")
    assert result.ok and not result.gaps
    map_requests = [r for r in engine.requests if r["messages"][-1]["content"].startswith("Transcript part")]
    assert len(map_requests) == result.chunks


def test_a_broken_progress_listener_does_not_break_generation() -> None:
    def listener(event: dict) -> None:
        raise ValueError("listener bug")

    engine = ScriptedEngine([answer(final())])
    result = MinutesGenerator(engine, MinutesSettings(), progress=listener).generate(SMALL, language="ko")  # type: ignore[arg-type]
    assert result.ok


# -- a stored meeting: publishing and approval ------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    db = Store(tmp_path / "edge.db")
    yield db
    db.close()


def small_meeting(store: Store) -> str:
    meeting = store.create_meeting(language="ko", source="import", status="imported", title="주간 회의")
    store.add_segments(meeting.id, small_meeting_fields())
    store.set_attendees(meeting.id, ["김민수", "이지은", "박지훈", "이지은"])
    store.mark_sent([m.id for m in store.pending_outbox(limit=1000)])
    return meeting.id


def minutes_rows(store: Store) -> list[dict]:
    return [m.payload for m in store.pending_outbox(limit=1000) if m.kind == "minutes"]


def test_without_approval_minutes_are_saved_and_published_in_one_go(store: Store) -> None:
    meeting_id = small_meeting(store)
    assert store.attendees(meeting_id) == ["김민수", "이지은", "박지훈"]
    outcome = generate_minutes(store, ScriptedEngine([answer(final())]), meeting_id, config=MinutesConfig(),  # type: ignore[arg-type]
                               model_name="m.gguf")  # fmt: skip
    assert outcome.status == "published" and outcome.error is None
    record = store.minutes(meeting_id)
    assert record is not None and record.status == "published" and record.llm_calls == 1
    assert minutes_rows(store) == [record.minutes]
    minutes = validate_minutes(record.minutes, meeting_id=meeting_id, known_seqs=range(12))
    assert minutes.model == "m.gguf" and minutes.language == "ko" and minutes.v == 1


def test_with_approval_nothing_is_published_until_approved_then_exactly_once(store: Store) -> None:
    meeting_id = small_meeting(store)
    config = MinutesConfig(require_approval=True)
    outcome = generate_minutes(store, ScriptedEngine([answer(final())]), meeting_id, config=config)  # type: ignore[arg-type]
    assert outcome.status == "draft"
    assert store.minutes(meeting_id).status == "draft"
    assert minutes_rows(store) == []

    # A bad edit is refused whole: nothing changes, nothing is published.
    bad = {**outcome.minutes.to_json_dict(), "decisions": [{"text": "x", "evidence": [40]}]}
    with pytest.raises(MinutesInvalid, match="#40"):
        store.approve_minutes(meeting_id, bad)
    assert store.minutes(meeting_id).status == "draft" and minutes_rows(store) == []

    approved = store.approve_minutes(meeting_id)
    assert approved.status == "approved" and approved.approved_at
    assert minutes_rows(store) == [approved.minutes]
    store.approve_minutes(meeting_id)  # approving again without changes publishes nothing new
    assert len(minutes_rows(store)) == 1

    edited = {**approved.minutes, "title": "주간 인프라 회의 (수정)"}
    store.approve_minutes(meeting_id, json.dumps(edited, ensure_ascii=False))
    rows = minutes_rows(store)
    assert len(rows) == 2 and rows[-1]["title"] == "주간 인프라 회의 (수정)"


def test_without_fallback_failures_are_stored_and_cannot_be_approved(store: Store) -> None:
    meeting_id = small_meeting(store)
    engine = ScriptedEngine([LlmResult("{", "length", 1, 1)] * 2)
    config = MinutesConfig(max_attempts=2)
    outcome = generate_minutes(store, engine, meeting_id, config=config, fallback=False)  # type: ignore[arg-type]
    assert isinstance(outcome, MinutesOutcome) and outcome.status == "failed"
    record = store.minutes(meeting_id)
    assert record.status == "failed" and record.error == outcome.error and record.attempts == 2
    assert "truncated" in record.error
    with pytest.raises(MinutesInvalid, match="are failed"):
        store.approve_minutes(meeting_id)
    assert minutes_rows(store) == []


def test_a_failure_leaves_the_extractive_minutes_as_a_draft_saying_why(store: Store) -> None:
    meeting_id = small_meeting(store)
    engine = ScriptedEngine([LlmResult("{", "length", 1, 1)] * 2)
    outcome = generate_minutes(store, engine, meeting_id, config=MinutesConfig(max_attempts=2))  # type: ignore[arg-type]
    assert outcome.status == "draft" and outcome.extractive and outcome.minutes.model == "extractive"
    record = store.minutes(meeting_id)
    assert record.status == "draft" and record.error == outcome.error and record.attempts == 2
    assert record.error.startswith("모델의 답이 중간에 끊겼습니다. 대신 발언에서 뽑은 추출 회의록입니다")
    assert "(the model's answer was cut off; these are the extractive minutes instead" in record.error
    assert record.error.endswith("[detail: the minutes failed validation after 2 attempts: truncated]")
    assert [a.owner for a in outcome.minutes.action_items] == ["박지훈", "이지은"]
    assert minutes_rows(store) == []  # a draft: published only when a person approves it
    store.approve_minutes(meeting_id)
    assert [row["model"] for row in minutes_rows(store)] == ["extractive"]


def test_gaps_keep_minutes_as_a_draft_even_without_approval(store: Store) -> None:
    meeting_id = small_meeting(store)
    # A window so small that the meeting is summarized in chunks, the first of which fails.
    replies: list[Reply] = [LlmResult("{", "stop", 1, 1)] * 3 + [notes_reply] * 20
    engine = ScriptedEngine(replies, n_ctx=1700)
    config = MinutesConfig(output_tokens=200, chunk_output_tokens=200)
    outcome = generate_minutes(store, engine, meeting_id, config=config)  # type: ignore[arg-type]
    assert outcome.status == "draft" and outcome.minutes.gaps
    assert "could not be summarized" in outcome.error
    assert minutes_rows(store) == []


def test_unknown_meetings_and_missing_minutes_are_user_errors(store: Store) -> None:
    with pytest.raises(MeetingNotFound):
        generate_minutes(store, ScriptedEngine([]), "nope", config=MinutesConfig())  # type: ignore[arg-type]
    with pytest.raises(MeetingNotFound):
        store.approve_minutes("nope")
    meeting_id = small_meeting(store)
    with pytest.raises(MinutesNotFound, match="no minutes yet"):
        store.approve_minutes(meeting_id)
    with pytest.raises(MeetingNotFound):
        store.set_attendees("nope", ["김민수"])


# -- against real llama.cpp -------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["stories260K", "qwen2"])
def real_engine(
    request: pytest.FixtureRequest, fixture_file: Callable[[str], Path], qwen2_model: Path
) -> Iterator[LlmEngine]:
    path = fixture_file("models/stories260K.gguf") if request.param == "stories260K" else qwen2_model
    with LlmEngine(path, n_ctx=2048, threads=1, seed=1) as llm:
        yield llm


def assert_valid_or_clear_failure(store: Store, outcome: MinutesOutcome, meeting_id: str) -> None:
    record = store.minutes(meeting_id)
    assert record is not None and record.status == outcome.status
    if outcome.status == "failed":
        assert outcome.minutes is None and outcome.error and "\n" not in outcome.error
        assert record.error == outcome.error
        assert minutes_rows(store) == []
    elif outcome.extractive:
        assert outcome.status == "draft" and outcome.minutes.model == "extractive"
        assert record.error == outcome.error and "[detail: " in outcome.error and "\n" not in outcome.error
        assert minutes_rows(store) == []
    else:
        known = {s.seq for s in store.segments(meeting_id)}
        minutes = validate_minutes(record.minutes, meeting_id=meeting_id, known_seqs=known)
        assert minutes.cited_seqs() <= known
        assert minutes_rows(store) == ([record.minutes] if outcome.status == "published" else [])
    assert outcome.llm_calls >= 1


def real_meeting(store: Store, language: str, copies: int = 1, first: int | None = None) -> str:
    meeting = store.create_meeting(language=language, source="import", status="imported")
    store.add_segments(meeting.id, (small_meeting_fields(language) * copies)[:first])
    store.set_attendees(meeting.id, ATTENDEES)
    store.mark_sent([m.id for m in store.pending_outbox(limit=1000)])
    return meeting.id


def test_real_model_meeting_that_fits(real_engine: LlmEngine, store: Store) -> None:
    meeting_id = real_meeting(store, "en", first=6)
    config = MinutesConfig(output_tokens=200, max_attempts=2)
    events: list[dict] = []
    outcome = generate_minutes(store, real_engine, meeting_id, config=config, progress=events.append)
    assert_valid_or_clear_failure(store, outcome, meeting_id)
    assert outcome.chunks == 0 and outcome.llm_calls <= 2
    assert events and {e["stage"] for e in events} <= {STAGE_FINAL, STAGE_REPAIR}


def test_real_model_korean_meeting_map_reduce(real_engine: LlmEngine, store: Store) -> None:
    meeting_id = real_meeting(store, "ko", copies=3)
    config = MinutesConfig(output_tokens=200, chunk_output_tokens=160, max_attempts=2)
    events: list[dict] = []
    outcome = generate_minutes(store, real_engine, meeting_id, config=config, progress=events.append)
    assert_valid_or_clear_failure(store, outcome, meeting_id)
    assert outcome.chunks >= 2
    assert STAGE_MAP in {e["stage"] for e in events}
    # Neither random model writes Korean, so a Korean meeting cannot pass the final check: the
    # extractive minutes stand in.
    assert outcome.status == "draft" and outcome.extractive
    assert "[detail: the minutes failed validation" in outcome.error or "[detail: no part of the" in outcome.error


def test_real_model_truncated_output_is_retried_then_fails_cleanly(real_engine: LlmEngine, store: Store) -> None:
    meeting_id = real_meeting(store, "en", first=6)
    config = MinutesConfig(output_tokens=32, max_attempts=3)
    events: list[dict] = []
    outcome = generate_minutes(store, real_engine, meeting_id, config=config, progress=events.append)
    assert_valid_or_clear_failure(store, outcome, meeting_id)
    assert outcome.extractive and outcome.llm_calls == 3 and outcome.attempts == 3
    assert outcome.error.endswith("[detail: the minutes failed validation after 3 attempts: truncated]")
    assert [e["attempt"] for e in events if e["stage"] == STAGE_REPAIR and e["partial"] == ""] == [2, 3]


def test_real_model_notes_schema_compiles_to_a_grammar(real_engine: LlmEngine) -> None:
    messages = [{"role": "user", "content": "[#1] 회의를 시작하겠습니다."}]
    # An empty evidence set once produced an empty grammar rule, which crashes llama.cpp's sampler.
    for kind, evidence in (("notes", [1, 2, 3]), ("final", list(range(500))), ("final", [])):
        result = real_engine.chat_json(messages, output_schema(kind, evidence=evidence, max_items=2), max_tokens=48)
        assert result.text.lstrip().startswith("{")
    assert ChunkNotes.model_validate({}).items() == []
