"""Search across meetings: the real store (SQLite FTS5 with the trigram tokenizer, kept in step by triggers)
and GET /api/v1/search through the real API. Korean words are found with their particles, English terms in
any case, words shorter than the index's three characters by a scan; edits, LLM corrections and minutes
reach the index in the same transaction; a database made before the index gets it when it is opened."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fake_box import FakeBox

from edge.pipeline.search import search
from edge.store import MIGRATIONS, Store
from edge.text.search_terms import SearchTerm, highlight, search_terms

LINES = (
    "쿠버네티스를 다음 주에 업그레이드합니다",
    "Jira 티켓은 지훈 씨가 정리해 주세요",
    "PR 리뷰는 금요일까지 부탁드려요",
    "그라파나 대시보드에서 메모리가 100% 찼어요",
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "edge.db")
    yield store
    store.close()


def add_meeting(store: Store, title: str, lines: tuple[str, ...] = LINES) -> str:
    meeting = store.create_meeting(language="ko", source="import:test", title=title, status="imported")
    store.add_segments(meeting.id, [{"t0_ms": i * 2000, "t1_ms": i * 2000 + 1500, "text_raw": line,
                                     "language": "ko"} for i, line in enumerate(lines)])  # fmt: skip
    return meeting.id


def found(store: Store, query: str) -> list[tuple[str, int | None]]:
    return [(result.hit.meeting_id, result.hit.seq) for result in search(store, query)]


def test_the_sqlite_here_has_fts5_with_the_trigram_tokenizer() -> None:
    assert sqlite3.sqlite_version_info >= (3, 34, 0), sqlite3.sqlite_version
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(body, tokenize = 'trigram')")


def test_korean_words_with_particles_and_english_terms_in_any_case(store: Store) -> None:
    first = add_meeting(store, "주간 인프라 회의")
    second = add_meeting(store, "배포 회의", ("쿠버네티스가 또 재시작됐어요", "JIRA 보드를 보면 밀린 게 많아요"))

    assert sorted(found(store, "쿠버네티스")) == sorted([(first, 0), (second, 0)])
    # typed with a particle: the whole word ranks first, the bare noun with another particle follows
    assert found(store, "쿠버네티스를") == [(first, 0), (second, 0)]
    assert sorted(found(store, "jira")) == sorted([(first, 1), (second, 1)])
    assert found(store, "JiRa 정리") == [(first, 1)]  # every word must be there
    assert found(store, "업그레이드") == [(first, 0)]
    assert found(store, "대시보드에서") == [(first, 3)]
    assert found(store, "배포는") == []  # no segment says it (the meeting title is not a segment)


def test_short_words_are_found_by_a_scan(store: Store) -> None:
    meeting = add_meeting(store, "주간 회의")
    assert found(store, "PR") == [(meeting, 2)]
    assert found(store, "pr") == [(meeting, 2)]
    assert found(store, "지훈") == [(meeting, 1)]
    assert found(store, "100%") == [(meeting, 3)]  # % is a character to find, not a wildcard
    assert found(store, "0%") == [(meeting, 3)]
    assert found(store, "_") == []
    assert found(store, "PR 금요일까지") == [(meeting, 2)]  # a short and an indexed word together


def test_query_syntax_is_text_to_find(store: Store) -> None:
    add_meeting(store, "주간 회의", ('모두 "NEAR(a b)" OR * 를 입력했어요',))
    for query in ('"NEAR(a b)"', "OR", "*", "NEAR(a", 'a"b', "a AND b", "'; DROP TABLE segments; --", "+#\x00",
                  "회의\x00모두", "\x1b[31m"):  # fmt: skip
        search(store, query)  # never an FTS5 syntax error (schemathesis found the NUL)
    assert len(found(store, '"NEAR(a b)"')) == 1  # the quotes are trimmed, the rest is the word
    assert len(found(store, "OR")) == 1
    assert len(found(store, "모두\x00입력했어요")) == 1  # a control character separates words
    assert store.segment_count(store.meetings()[0].id) == 1
    with pytest.raises(Exception, match="has no words"):
        search(store, ' " , ')
    with pytest.raises(Exception, match="at most 200"):
        search(store, "가" * 201)


def test_edits_and_corrections_reach_the_index(store: Store) -> None:
    meeting = add_meeting(store, "주간 회의")
    store.edit_segment(meeting, 0, "Kubernetes 클러스터를 업그레이드합니다")
    assert found(store, "쿠버네티스") == []
    assert found(store, "kubernetes") == [(meeting, 0)]
    store.record_llm_correction(meeting, 1, text="Jira 티켓은 지훈 씨가 목요일까지 정리해 주세요", state="corrected")
    assert found(store, "목요일까지") == [(meeting, 1)]
    store._db.execute("DELETE FROM segments WHERE meeting_id = ? AND seq = 2", (meeting,))
    assert found(store, "리뷰") == []
    assert store._db.execute("SELECT count(*) FROM segment_search").fetchone()[0] == 3
    assert store._db.execute("INSERT INTO segment_search(segment_search) VALUES ('integrity-check')")


def test_minutes_are_searched_and_kept_in_step(store: Store) -> None:
    meeting = add_meeting(store, "주간 인프라 회의")
    minutes = {"title": "주간 인프라 회의록", "summary": "Grafana 알림 기준을 다시 정했습니다.",
               "decisions": [{"text": "알림은 Slack으로 보냅니다", "evidence": [3]}]}  # fmt: skip
    store.save_minutes(meeting, status="draft", minutes=minutes)
    hits = search(store, "slack")
    assert [(r.hit.kind, r.hit.meeting_id, r.hit.seq) for r in hits] == [("minutes", meeting, None)]
    store.save_minutes(meeting, status="draft", minutes={**minutes, "decisions": []})
    assert search(store, "slack") == []
    assert [r.hit.kind for r in search(store, "grafana")] == ["minutes"]
    assert store._db.execute("SELECT count(*) FROM minutes_search").fetchone()[0] == 1


def test_a_database_made_before_search_is_indexed_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:4]:
        for statement in script.split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("PRAGMA user_version=4")
    started = "2026-01-05T01:00:00.000+00:00"
    db.execute("INSERT INTO meetings (id, title, language, source, status, started_at) "
               "VALUES ('m1', '지난 회의', 'ko', 'import:old', 'imported', ?)", (started,))  # fmt: skip
    for seq, line in enumerate(LINES):
        db.execute("INSERT INTO segments (meeting_id, seq, t0_ms, t1_ms, text_raw, text, language, created_at) "
                   "VALUES ('m1', ?, 0, 1, ?, ?, 'ko', ?)",
                   (seq, line, "Kubernetes를 다음 주에 업그레이드합니다" if seq == 0 else None, started))  # fmt: skip
    document = json.dumps({"title": "지난 회의록", "summary": "Slack 알림"}, ensure_ascii=False)
    db.execute("INSERT INTO minutes (meeting_id, status, json, created_at, updated_at) "
               "VALUES ('m1', 'draft', ?, ?, ?)", (document, started, started))  # fmt: skip
    db.close()

    store = Store(path)
    try:
        assert found(store, "kubernetes") == [("m1", 0)]  # the edited text, not the raw one
        assert found(store, "쿠버네티스") == []
        assert found(store, "그라파나") == [("m1", 3)]
        assert [r.hit.kind for r in search(store, "slack")] == ["minutes"]
        store.add_segment("m1", t0_ms=9000, t1_ms=9500, text_raw="새로 들어온 문장입니다", language="ko")
        assert found(store, "들어온") == [("m1", 4)]
    finally:
        store.close()


def test_search_terms_and_highlighted_parts() -> None:
    assert search_terms("쿠버네티스를  Jira, 지라를") == [
        SearchTerm(("쿠버네티스를", "쿠버네티스")), SearchTerm(("Jira",)), SearchTerm(("지라를", "지라"))]  # fmt: skip
    assert search_terms("회의에서는") == [SearchTerm(("회의에서는", "회의"))]
    assert search_terms("jira JIRA") == [SearchTerm(("jira",))]
    terms = search_terms("jira 정리")
    assert highlight("다음 주까지 JIRA 티켓 정리해 주세요", terms) == [
        ("다음 주까지 ", False), ("JIRA", True), (" 티켓 ", False), ("정리", True), ("해 주세요", False)]  # fmt: skip
    long_text = "가" * 300 + " Jira " + "나" * 300
    parts = highlight(long_text, terms)
    assert parts[0] == ("…", False) and parts[-1] == ("…", False)
    assert ("Jira", True) in parts and sum(len(text) for text, _ in parts) <= 162


def test_the_search_endpoint(client: httpx.Client, box: FakeBox, server) -> None:
    meeting = box.store.create_meeting(language="ko", source="import:test", title="주간 인프라 회의")
    box.store.add_segments(meeting.id, [{"t0_ms": 4000, "t1_ms": 5000, "text_raw": LINES[0], "language": "ko"}])
    answer = client.get("/search", params={"q": "쿠버네티스"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["query"] == "쿠버네티스" and body["limit"] == 20
    assert body["items"] == [{
        "kind": "segment", "meeting_id": meeting.id, "meeting_title": "주간 인프라 회의",
        "started_at": meeting.started_at, "seq": 0, "t0_ms": 4000, "language": "ko",
        "parts": [{"text": "쿠버네티스", "match": True}, {"text": "를 다음 주에 업그레이드합니다", "match": False}],
    }]  # fmt: skip
    assert client.get("/search", params={"q": "없는단어"}).json()["items"] == []
    assert client.get("/search", params={"q": " , "}).status_code == 422  # no word: the schema's pattern says so
    assert client.get("/search", params={"q": "가" * 201}).status_code == 422
    assert client.get("/search", params={"q": "회의", "limit": 0}).status_code == 422
    assert httpx.get(server.url + "/api/v1/search", params={"q": "쿠버네티스"}, timeout=10).status_code == 401
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/api/v1/search"]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} == {"q", "limit"}
    assert "쿠버네티스를" in operation["description"]
