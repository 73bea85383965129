"""Ask the meeting: BM25 retrieval over a meeting's segments (real SQLite FTS5), answers without an LLM
(the extractive item or the best lines), the checks that reject a model's answer, and answers from the
real fixture LLMs through llama.cpp (stories260K, and Gemma 3 270M from `make setup`) and the API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_box import FakeBox, serving

from edge.core.events import Segment
from edge.llm.engine import LlmEngine
from edge.minutes.ask import Hit, ask, check_answer, retrieve, tokens
from edge.ops.synth.minutes_meeting import STARTED_AT, compose_meeting

TOKEN = "ask-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ENGLISH = (
    "Alex: Good morning, let's start the weekly infrastructure meeting.",
    "Alex: The first item is the Kubernetes cluster upgrade.",
    "Maria: Staging was upgraded yesterday, but pods still restart sometimes.",
    "Alex: Maria, can you find the cause of the restarts by next Wednesday?",
    "Maria: Sure, I will write it up in a GitHub issue.",
    "Alex: Let's go with the blue-green deployment for production.",
)


@pytest.fixture(scope="module")
def composite() -> tuple[dict[str, Any], list[Segment]]:
    document = compose_meeting(seed=13)
    segments = [
        Segment("m", seq, s["t0_ms"], s["t1_ms"], s["text"], "ko") for seq, s in enumerate(document["segments"])
    ]
    return document, segments


def english() -> list[Segment]:
    return [Segment("m", seq, seq * 5000, seq * 5000 + 4000, text, "en") for seq, text in enumerate(ENGLISH)]


def test_hangul_is_indexed_in_bigrams_so_particles_and_endings_still_match() -> None:
    assert tokens("Jira 티켓을 정리해") == ["티켓", "켓을", "정리", "리해", "jira"]
    segments = [Segment("m", 0, 0, 1, "김민수: 배포 일정은 다음 주로 미뤘습니다", "ko"),
                Segment("m", 1, 1, 2, "이지은: Jira 티켓은 제가 정리하겠습니다", "ko"),
                Segment("m", 2, 2, 3, "박지훈: 네", "ko")]  # fmt: skip
    assert [hit.seq for hit in retrieve(segments, "지라 말고 Jira 티켓 정리는 누가 하죠?")][:1] == [1]
    assert retrieve(segments, "누가?") == []  # only question words: nothing to look for


def test_without_an_llm_the_answer_is_the_extractive_item_with_owner_due_and_its_lines(composite) -> None:
    document, segments = composite
    answer = ask(segments, "Jira 티켓 정리는 누가 언제까지 하나요?", started_at=STARTED_AT)
    planted = next(a for a in document["truth"]["action_items"] if answer.citations[0] in a["seqs"])
    assert answer.source == "retrieval" and answer.note == "LLM이 설정되지 않았습니다"
    assert list(answer.citations) == planted["seqs"]  # the request and the reply that took it on
    assert f"담당: {planted['owner']}, 기한: {planted['due']}" in answer.answer
    assert {hit.seq for hit in answer.hits} >= set(answer.citations)
    decided = ask(segments, "로그 보관 기간은 어떻게 결정됐나요?", started_at=STARTED_AT)
    assert decided.answer.startswith("결정: ") and "90일" in decided.answer
    assert decided.citations[0] in {d["seq"] for d in document["truth"]["decisions"]}
    nothing = ask(segments, "점심 메뉴 Zebra?")
    assert nothing.citations == () or nothing.source == "retrieval"


def test_answers_citing_nothing_unknown_lines_or_nothing_they_say_are_rejected() -> None:
    hits = [Hit(3, 0, "Alex: Maria, can you find the cause of the restarts by next Wednesday?", 1.0)]
    instructions = "You answer a question about a meeting using only the transcript lines given."
    good = {"answer": "Maria finds the cause of the restarts by next Wednesday.", "citations": [3]}
    assert check_answer(good, hits, instructions, korean=False) is None
    cases = {
        "it cited no segment": {**good, "citations": []},
        "it cited segments it was not shown (#9)": {**good, "citations": [9]},
        "the answer was empty": {**good, "answer": " "},
        "it was not written in Korean": good,
        "it answered with a question": {**good, "answer": "Who finds the cause of the restarts?"},
        "it shares no word with the lines it cites": {**good, "answer": "Once upon a time, a little dog said hi."},
        "it copied the instructions": {**good, "answer": "You answer a question about a meeting using only this."},
        "it was not valid JSON": None,
    }
    for reason, raw in cases.items():
        assert check_answer(raw, hits, instructions, korean=reason == "it was not written in Korean") == reason
    # A bare name is grounded by the speaker label only when that line is about the question.
    lines = [Hit(163, 0, "최영호: 혹시 Sentry 로그는 어디까지 보관하고 있는지 아시는 분 있나요?", 1.0),
             Hit(1204, 0, "최영호: Terraform 모듈을 제 쪽에서 모레까지 리뷰해서 챙길게요.", 1.0)]  # fmt: skip
    name = {"answer": "최영호", "citations": [163]}
    assert check_answer(name, lines, instructions, True, "Jira 티켓 정리는 누가 하나요?") == (
        "the lines it rests on are not about the question"
    )
    assert check_answer({**name, "citations": [1204]}, lines, instructions, True, "Terraform 모듈 리뷰는 누가?") is None


@pytest.fixture(scope="module")
def stories(fixture_file: Callable[[str], Path]) -> Any:
    with LlmEngine(fixture_file("models/stories260K.gguf"), n_ctx=2048, threads=1, seed=1) as engine:
        yield engine


def test_stories260k_cannot_answer_in_korean_so_the_lines_answer_with_the_reason(stories, composite) -> None:
    _, segments = composite
    answer = ask(segments, "PostgreSQL 백업 스크립트는 누가 수정하나요?", engine=stories, model="stories260K.gguf",
                 started_at=STARTED_AT)  # fmt: skip
    assert answer.source == "retrieval" and answer.attempts == 2 and len(answer.rejected) == 2
    assert all(reason for reason in answer.rejected)
    assert answer.note.startswith("모델의 답을 쓰지 않았습니다(")  # type: ignore[union-attr]
    assert "담당: " in answer.answer and set(answer.citations) <= {hit.seq for hit in answer.hits}


def test_stories260k_english_answers_cite_only_lines_they_were_shown(stories) -> None:
    segments = english()
    answer = ask(segments, "Who finds the cause of the pod restarts?", engine=stories, model="stories260K.gguf")
    shown = {hit.seq for hit in answer.hits}
    assert answer.citations and set(answer.citations) <= shown <= {s.seq for s in segments}
    if answer.source == "llm":
        assert answer.model == "stories260K.gguf" and answer.rejected == ()
    else:
        assert answer.rejected and answer.note.startswith("The model's answer was rejected (")  # type: ignore[union-attr]


def test_gemma_270m_answers_are_checked_like_any_model(dev_model: Callable[[str], Path]) -> None:
    with LlmEngine(dev_model("gemma-3-270m-q4_k_m.gguf").resolve(), n_ctx=2048, threads=2, seed=1) as engine:
        answer = ask(english(), "Who finds the cause of the pod restarts, and by when?", engine=engine,
                     model="gemma-3-270m", k=4)  # fmt: skip
    assert answer.citations and set(answer.citations) <= {hit.seq for hit in answer.hits}
    if answer.source == "llm":
        assert check_answer(
            {"answer": answer.answer, "citations": list(answer.citations)}, answer.hits, "", korean=False
        ) is None  # fmt: skip
    else:
        assert len(answer.rejected) == 2


def test_the_api_answers_without_an_llm_and_checks_its_input(tmp_path: Path) -> None:
    box = FakeBox(tmp_path)
    meeting = box.store.create_meeting(language="en", source="test", title="weekly")
    box.store.add_segments(meeting.id, [
        {"t0_ms": s.t0_ms, "t1_ms": s.t1_ms, "text_raw": s.text_raw, "language": "en"} for s in english()
    ])  # fmt: skip
    with serving(box, TOKEN) as server, httpx.Client(base_url=server.url + "/api/v1", headers=AUTH) as client:
        response = client.post(f"/meetings/{meeting.id}/ask", json={"question": "Who finds the cause of the restarts?"})
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["source"] == "retrieval" and answer["citations"] == [3, 4]
        assert answer["answer"].startswith("can you find the cause of the restarts by next Wednesday? — owner: Maria")
        assert {hit["seq"] for hit in answer["hits"]} >= {3, 4}
        assert client.post(f"/meetings/{meeting.id}/ask", json={"question": "  "}).status_code == 422
        assert client.post(f"/meetings/{meeting.id}/ask", json={"question": "x" * 501}).status_code == 422
        assert client.post(f"/meetings/{meeting.id}/ask", json={}).status_code == 422
        missing = client.post("/meetings/nope/ask", json={"question": "who?"})
        assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    box.close()


def test_edge_ask_prints_the_answer_and_its_cited_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edge.commands.cli import main
    from edge.store import Store

    config = tmp_path / "edge.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "data"}"\n', encoding="utf-8")
    store = Store(tmp_path / "data" / "edge.db")
    meeting = store.create_meeting(language="en", source="test", started_at="2026-12-02T10:00:00+09:00")
    store.add_segments(meeting.id, [
        {"t0_ms": s.t0_ms, "t1_ms": s.t1_ms, "text_raw": s.text_raw, "language": "en"} for s in english()
    ])  # fmt: skip
    store.close()
    assert main(["ask", meeting.id, "Who finds the cause of the restarts?", "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "can you find the cause of the restarts by next Wednesday? — owner: Maria, due: 2026-12-09 (by next Wednesday)"
    )
    assert out[1] == "(No LLM is configured)"
    assert out[2:] == [
        "  [#3 00:00:15] Alex: Maria, can you find the cause of the restarts by next Wednesday?",
        "  [#4 00:00:20] Maria: Sure, I will write it up in a GitHub issue.",
    ]
    assert main(["ask", meeting.id, " ", "--config", str(config)]) == 2
    assert "the question is empty" in capsys.readouterr().err
