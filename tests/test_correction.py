"""Layer c: the guards (pure, hand-written model outputs), the corrector's retry and fallback
policy (a scripted engine standing in for the model), and the whole path against real llama.cpp."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from edge.llm.correction import (
    MAX_PROMPT_TERMS,
    CorrectionResult,
    LlmCorrector,
    SegmentText,
    build_messages,
    check_correction,
    correction_schema,
    hangul_retention,
    parse_corrections,
    prompt_terms,
    weighted_length,
    word_coverage,
)
from edge.llm.engine import ContextOverflow, LlmEngine, LlmResult
from edge.text.han import added_han, contains_han, contains_hangul, han_characters, hangul_syllables, is_korean

TERMS = ["Kubernetes", "GitHub", "Jira"]


# -- script detection ----------------------------------------------------------------------------


def test_han_and_hangul_detection() -> None:
    assert han_characters("회의 會議 ㅋ 𠀀 〇") == ["會", "議", "𠀀", "〇"]
    assert contains_han("今天") and not contains_han("오늘 today 123 ・")
    assert added_han("한자 漢字", "한자 漢字 表記") == {"表", "記"}
    assert added_han("漢字", "漢字") == set()
    assert hangul_syllables("Kubernetes를 배포") == ["를", "배", "포"]
    assert contains_hangul("ㅋㅋ") and not contains_hangul("漢字 kana カナ")
    assert is_korean("plain English", "ko") and is_korean("네", "en") and not is_korean("yes", "en")


# -- guards --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "output"),
    [
        ("쿠버네티스를 어제 배포했는데 문제가 생겼어요", "Kubernetes를 어제 배포했는데 문제가 생겼어요"),
        ("배포 했어요 다음 주에 다시 확인 할게요", "배포했어요 다음 주에 다시 확인할게요"),
        ("깃헙", "GitHub"),
        ("지라에 티켓을 만들고 깃헙 이슈랑 연결해 주세요", "Jira에 티켓을 만들고 GitHub 이슈랑 연결해 주세요"),
        ("GitHub 액션이 실패했어요", "GitHub 액션이 실패했어요"),
        ("한자 漢字 표기를 그대로 둡니다", "한자 漢字 표기를 그대로 둡니다."),
        ("we will deploy on friday", "We will deploy on Friday."),
    ],
)
def test_guards_accept_real_corrections(source: str, output: str) -> None:
    assert check_correction(source, output, language="ko", protected_terms=TERMS) is None


@pytest.mark.parametrize(
    ("source", "output", "reason"),
    [
        ("회의를 시작합니다", "   ", "empty"),
        ("회의를 시작하겠습니다", "會議를 시작하겠습니다", "added_han:會議"),
        ("오늘 회의 내용을 정리해 주세요", "今天的会议内容请整理一下好吗", "added_han:"),
        ("Kubernetes 클러스터를 점검했습니다", "쿠버네티스 클러스터를 점검했습니다", "protected_term:Kubernetes"),
        ("GitHub에 올렸어요", "Github에 올렸어요", "protected_term:GitHub"),
        ("Jira 티켓은 Jira 보드에 있어요", "Jira 티켓은 보드에 있어요", "protected_term:Jira"),
        ("다음 주 월요일까지 배포 일정을 정리해서 팀 채널에 공유해 주세요", "배포 일정 공유", "content_dropped:length"),
        (
            "오늘 회의에서 배포 일정을 다시 논의했습니다",
            "어제 모임에서 출시 계획을 새로 검토했었어요",
            "content_dropped:words",
        ),
        (
            "오늘 회의에서 배포 일정을 다시 논의했습니다",
            "Today we discussed the deployment plan again",
            "content_dropped:words",
        ),
        ("네 알겠습니다", "Come is a big small tree.", "content_dropped:hangul"),
        ("네", "네, 그리고 다음 주에 배포 일정도 다시 논의하기로 했습니다", "content_added"),
    ],
)
def test_guards_reject_bad_outputs(source: str, output: str, reason: str) -> None:
    got = check_correction(source, output, language="ko", protected_terms=TERMS)
    assert got is not None and got.startswith(reason), got


def test_added_han_is_rejected_outside_chinese_and_japanese_only() -> None:
    assert (
        check_correction("we use the API", "we use the API 接口", language="en", protected_terms=[]) == "added_han:口接"
    )
    assert check_correction("APIを使います", "API接口を使います", language="ja", protected_terms=[]) is None


def test_content_measures() -> None:
    assert weighted_length("쿠버네티스") == weighted_length("Kubernetes") == 5
    assert weighted_length(" a b ") == 1
    assert word_coverage("하나 둘 셋", "하나") is None
    assert word_coverage("하나 둘 셋 넷", "하나둘 셋") == 0.75
    assert word_coverage("One two, three four", "one TWO three") == 0.75
    assert hangul_retention("네", "yes", []) is None
    assert hangul_retention("쿠버네티스 배포", "Kubernetes 배포", []) == pytest.approx(2 / 7)
    assert hangul_retention("쿠버네티스 배포", "Kubernetes 배포", ["Kubernetes"]) == 1.0
    # A term already in the source earns no credit for staying there.
    assert hangul_retention("Kubernetes 배포 완료", "Kubernetes done", ["Kubernetes"]) == 0.0


def test_parse_corrections() -> None:
    good = '{"segments": [{"seq": 1, "text": "a"}, {"seq": 2, "text": "b\nc"}, {"seq": 1, "text": "later"}]}'
    assert parse_corrections(good, "stop") == ({1: "a", 2: "b\nc"}, None)
    assert parse_corrections('{"segments": [{"seq": 1, "text": "a', "length") == ({}, "truncated")
    assert parse_corrections('{"segments": [}', "stop") == ({}, "invalid_json")
    assert parse_corrections('{"items": []}', "stop") == ({}, "bad_structure")
    assert parse_corrections('{"segments": {"seq": 1}}', "stop") == ({}, "bad_structure")
    odd = '{"segments": [{"seq": true, "text": "x"}, {"seq": "3", "text": "y"}, {"seq": 4, "text": 5}, 7]}'
    assert parse_corrections(odd, "stop") == ({}, None)
    assert parse_corrections(good, "cancelled") == ({}, "cancelled")


def test_schema_fixes_each_seq_in_order() -> None:
    schema = correction_schema([7, 9])
    items = schema["properties"]["segments"]["prefixItems"]
    assert [item["properties"]["seq"] for item in items] == [{"const": 7}, {"const": 9}]
    assert schema["properties"]["segments"]["minItems"] == schema["properties"]["segments"]["maxItems"] == 2


def test_prompt_lists_terms_in_the_batch_first_and_caps_them() -> None:
    terms = [f"Term{i}" for i in range(60)] + ["GitHub"]
    listed = prompt_terms(terms, ["GitHub에 올렸어요"])
    assert listed[0] == "GitHub" and len(listed) == MAX_PROMPT_TERMS
    messages = build_messages(
        [SegmentText(5, '깃헙에 올렸어요 "따옴표"')], ["이전 발언"], language="ko", terms=["GitHub"]
    )
    system, user = messages[0]["content"], messages[1]["content"]
    assert "Korean" in system and "Hanja" in system and "GitHub" in system
    assert "- 이전 발언" in user
    assert json.loads(user.splitlines()[-1]) == {"segments": [{"seq": 5, "text": '깃헙에 올렸어요 "따옴표"'}]}
    english = build_messages([SegmentText(1, "hi")], [], language="en", terms=[])[0]["content"]
    assert "Hanja" not in english and "Protected" not in english and "Earlier" not in english


# -- the corrector's policy, with a scripted engine ----------------------------------------------


class ScriptedEngine:
    """Answers chat_json from a script; counts one token per character."""

    has_chat_template = True

    def __init__(self, replies: Sequence[LlmResult | Exception | Callable[[list[int]], str]], n_ctx: int = 100_000):
        self.replies = list(replies)
        self.n_ctx = n_ctx
        self.requests: list[dict[str, Any]] = []

    def count_tokens(self, text: str) -> int:
        return len(text)

    def count_prompt_tokens(self, messages: Sequence[dict[str, str]]) -> int:
        return sum(len(m["content"]) for m in messages)

    def chat_json(self, messages: Any, schema: Any, *, max_tokens: int, temperature: float = 0.0) -> LlmResult:
        seqs = [item["properties"]["seq"]["const"] for item in schema["properties"]["segments"]["prefixItems"]]
        self.requests.append({"messages": messages, "seqs": seqs, "temperature": temperature})
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return LlmResult(reply(seqs), "stop", 10, 10)
        return reply


def answer(texts: dict[int, str], finish: str = "stop") -> LlmResult:
    body = {"segments": [{"seq": seq, "text": text} for seq, text in texts.items()]}
    return LlmResult(json.dumps(body, ensure_ascii=False), finish, 10, 10)


BATCH = [
    SegmentText(1, "쿠버네티스를 어제 배포했는데 문제가 생겼어요"),
    SegmentText(2, "회의를 시작하겠습니다"),
]
GOOD = {1: "Kubernetes를 어제 배포했는데 문제가 생겼어요", 2: "회의를 시작하겠습니다."}


def corrector(engine: ScriptedEngine, **kwargs: Any) -> LlmCorrector:
    return LlmCorrector(engine, language="ko", protected_terms=lambda: list(TERMS), **kwargs)  # type: ignore[arg-type]


def test_accepted_items_and_a_retry_for_the_rejected_one() -> None:
    engine = ScriptedEngine([answer({1: GOOD[1], 2: "會議를 시작하겠습니다"}), answer({2: GOOD[2]})])
    results = corrector(engine).correct(BATCH, ["안녕하세요"])
    assert results == [CorrectionResult(1, GOOD[1], True, None), CorrectionResult(2, GOOD[2], True, None)]
    assert [r["seqs"] for r in engine.requests] == [[1, 2], [2]]
    assert [r["temperature"] for r in engine.requests] == [0.0, 0.4]
    retry_system = engine.requests[1]["messages"][0]["content"]
    assert "rejected because it added Chinese characters." in retry_system
    assert "rejected" not in engine.requests[0]["messages"][0]["content"]


def test_exhausted_attempts_keep_layer_b_text_with_the_last_reason() -> None:
    engine = ScriptedEngine([answer({1: GOOD[1], 2: "會議"}), answer({2: "   "})])
    results = corrector(engine).correct(BATCH, [])
    assert results[0].accepted
    assert results[1] == CorrectionResult(2, BATCH[1].text, False, "empty")


@pytest.mark.parametrize(
    ("reply", "reason", "requests"),
    [
        (LlmResult('{"segments": [{"seq": 1, "text": "Kuber', "length", 1, 1), "truncated", 2),
        (LlmResult('{"segments": [{"seq": 1, "text": "a"}]}trailing', "stop", 1, 1), "invalid_json", 2),
        (LlmResult('{"result": "ok"}', "stop", 1, 1), "bad_structure", 2),
        (LlmResult("", "cancelled", 1, 0), "cancelled", 1),
        (ContextOverflow(900, 100, 512), "context_overflow", 1),
        (RuntimeError("llama_decode returned -1"), "llm_error:RuntimeError", 2),
    ],
)
def test_unusable_answers_fall_back_for_every_item(reply: Any, reason: str, requests: int) -> None:
    engine = ScriptedEngine([reply, reply])
    results = corrector(engine).correct(BATCH, [])
    assert results == [CorrectionResult(s.seq, s.text, False, reason) for s in BATCH]
    assert len(engine.requests) == requests


def test_an_engine_that_fails_before_generating_still_gives_results() -> None:
    class Closed(ScriptedEngine):
        def count_tokens(self, text: str) -> int:
            raise RuntimeError("the LLM engine is closed")

    results = corrector(Closed([])).correct(BATCH, [])
    assert results == [CorrectionResult(s.seq, s.text, False, "llm_error:RuntimeError") for s in BATCH]


def test_missing_seq_falls_back_for_that_item_only() -> None:
    engine = ScriptedEngine([answer({1: GOOD[1]}), answer({})])
    results = corrector(engine).correct(BATCH, [])
    assert results[0].accepted
    assert results[1] == CorrectionResult(2, BATCH[1].text, False, "missing_seq")


def test_batches_of_batch_size_with_earlier_segments_as_context() -> None:
    items = [SegmentText(i, f"회의 안건 {i}번을 검토하겠습니다") for i in range(6)]

    def echo(seqs: list[int]) -> str:
        return json.dumps({"segments": [{"seq": s, "text": items[s].text} for s in seqs]}, ensure_ascii=False)

    engine = ScriptedEngine([echo, echo])
    results = corrector(engine, batch_size=4, context_segments=2).correct(items, ["앞선 발언 A", "앞선 발언 B", "C"])
    assert [r.seq for r in results] == list(range(6)) and all(r.accepted for r in results)
    assert [r["seqs"] for r in engine.requests] == [[0, 1, 2, 3], [4, 5]]
    first, second = (r["messages"][1]["content"] for r in engine.requests)
    assert "- 앞선 발언 B\n- C" in first and "앞선 발언 A" not in first
    assert f"- {items[2].text}\n- {items[3].text}\n" in second


def test_blank_segments_are_not_sent() -> None:
    engine = ScriptedEngine([answer({1: GOOD[1]})])
    results = corrector(engine).correct([BATCH[0], SegmentText(9, "  ")], [])
    assert results[1] == CorrectionResult(9, "  ", False, "empty_input")
    assert [r["seqs"] for r in engine.requests] == [[1]]


def test_context_is_dropped_then_the_batch_split_to_fit_the_window() -> None:
    prompt_alone = ScriptedEngine([]).count_prompt_tokens(
        build_messages(BATCH[:1], [], language="ko", terms=prompt_terms(TERMS, [BATCH[0].text]))
    )
    # Room for one segment without context, not for two, and not for one with the long context.
    budget = prompt_alone + 2 * len(BATCH[0].text) + 24 + 16 + 30
    engine = ScriptedEngine([answer({1: GOOD[1]}), answer({2: GOOD[2]})], n_ctx=budget)
    results = corrector(engine).correct(BATCH, ["아주 긴 앞선 발언 " * 20])
    assert [r.accepted for r in results] == [True, True]
    assert [r["seqs"] for r in engine.requests] == [[1], [2]]
    assert "Earlier segments" not in engine.requests[0]["messages"][1]["content"]
    tiny = ScriptedEngine([], n_ctx=50)
    assert corrector(tiny).correct(BATCH[:1], []) == [CorrectionResult(1, BATCH[0].text, False, "context_overflow")]


def test_protected_terms_are_read_at_every_call() -> None:
    terms = ["Kubernetes"]
    engine = ScriptedEngine([answer({1: "노션에 정리했어요"}), answer({1: "노션에 정리했어요"})])
    corr = LlmCorrector(engine, language="ko", protected_terms=lambda: list(terms), max_attempts=1)  # type: ignore[arg-type]
    assert corr.correct([SegmentText(1, "Notion에 정리했어요")], [])[0].accepted
    terms.append("Notion")
    result = corr.correct([SegmentText(1, "Notion에 정리했어요")], [])[0]
    assert result == CorrectionResult(1, "Notion에 정리했어요", False, "protected_term:Notion")
    assert "Notion" in engine.requests[1]["messages"][0]["content"]


# -- against real llama.cpp ------------------------------------------------------------------------

KOREAN_BATCH = [
    SegmentText(10, "Kubernetes 클러스터를 어제 업그레이드했는데 파드가 계속 재시작돼요"),
    SegmentText(11, "GitHub에 풀 리퀘스트 올려 주시면 제가 리뷰할게요"),
    SegmentText(12, "다음 주 월요일까지 배포 일정을 정리해 주세요"),
    SegmentText(13, "네 알겠습니다"),
]
CONTEXT = ["오늘 회의를 시작하겠습니다", "먼저 인프라 이슈부터 볼게요"]


@pytest.fixture(scope="module", params=["stories260K", "qwen2"])
def engine(
    request: pytest.FixtureRequest, fixture_file: Callable[[str], Path], qwen2_model: Path
) -> Iterator[LlmEngine]:
    path = fixture_file("models/stories260K.gguf") if request.param == "stories260K" else qwen2_model
    with LlmEngine(path, n_ctx=2048, threads=1) as llm:
        yield llm


def test_real_model_output_is_guarded_and_layer_b_text_kept(engine: LlmEngine) -> None:
    corr = LlmCorrector(engine, language="ko", protected_terms=lambda: list(TERMS))
    before = engine.stats()
    results = corr.correct(KOREAN_BATCH, CONTEXT)
    assert [r.seq for r in results] == [s.seq for s in KOREAN_BATCH]
    # Neither model writes Korean: every item must be caught by a guard and keep its input.
    for result, item in zip(results, KOREAN_BATCH, strict=True):
        assert not result.accepted and result.reason, result
        assert result.text == item.text
    assert 1 <= engine.stats().calls - before.calls <= 2
    assert {r.reason.split(":")[0] for r in results} <= {
        "truncated", "invalid_json", "missing_seq", "empty", "added_han", "protected_term",
        "content_dropped", "content_added",
    }  # fmt: skip


def test_real_model_segment_too_long_for_the_window_keeps_its_text(engine: LlmEngine) -> None:
    long_text = "회의 내용을 길게 이야기합니다 " * 120
    corr = LlmCorrector(engine, language="ko", protected_terms=lambda: [])
    results = corr.correct([SegmentText(1, long_text), SegmentText(2, "")], [])
    assert results == [
        CorrectionResult(1, long_text, False, "context_overflow"),
        CorrectionResult(2, "", False, "empty_input"),
    ]
