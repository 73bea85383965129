"""The audit log and privacy controls (issue 14), through the real API over a real SQLite store: an export and
a delete are recorded with who did them; deleting a meeting removes its audio, segments, minutes and search
entries and queues the clearing of its retained MQTT minutes; retention deletes old meetings and audit
entries."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fake_box import FakeBox, serving

from edge.api.accounts import Accounts
from edge.api.audit import AuditLog, audited_action
from edge.api.auth import CSRF_HEADER
from edge.api.server import ApiServer
from edge.core.clock import WallClock
from edge.pipeline.editing import Editing
from edge.store import Store

FILE_TOKEN = "audit-test-file-token-0123456789"
PASSWORD = "감사-기록-비밀번호"


@pytest.fixture
def llm_free_box(tmp_path: Path) -> Iterator[FakeBox]:
    fake = FakeBox(tmp_path / "box", llm=False)  # extractive minutes, written at once
    yield fake
    fake.close()


@pytest.fixture
def server(llm_free_box: FakeBox) -> Iterator[ApiServer]:
    accounts = Accounts(llm_free_box.store, llm_free_box.clock)
    accounts.add_user("관리자", "admin", PASSWORD)
    accounts.add_user("진행자", "member", PASSWORD)
    accounts.add_user("열람자", "viewer", PASSWORD)
    with serving(llm_free_box, FILE_TOKEN) as running:
        yield running


def login(url: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=10)
    answer = client.post("/api/v1/login", json={"name": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    client.headers[CSRF_HEADER] = answer.json()["csrf"]
    return client


def _count(db_path: Path, sql: str, *args: object) -> int:
    with sqlite3.connect(db_path) as db:
        return db.execute(sql, args).fetchone()[0]


def test_deleting_a_meeting_removes_everything_of_it_and_the_audit_log_shows_the_export_and_delete(
    server: ApiServer, llm_free_box: FakeBox, tmp_path: Path
) -> None:
    box = llm_free_box
    meeting = box.start_meeting(title="인사 평가 회의")
    for text in ("연봉 협상은 다음 주에 진행합니다", "김민지 님이 평가표를 정리하기로 했습니다"):
        box.inject_segment(text)
    box.stop_meeting()
    other = box.start_meeting(title="남는 회의")  # stays untouched
    box.inject_segment("이 회의는 지우지 않습니다")
    box.stop_meeting()
    audio = tmp_path / "box" / "audio" / f"{meeting.id}.wav"
    audio.parent.mkdir(parents=True)
    audio.write_bytes(b"RIFF....WAVE")
    box.store.set_audio_path(meeting.id, str(audio))
    admin, member, viewer = login(server.url, "관리자"), login(server.url, "진행자"), login(server.url, "열람자")
    assert member.post(f"/api/v1/meetings/{meeting.id}/minutes").status_code in (200, 202)
    minutes = member.get(f"/api/v1/meetings/{meeting.id}/minutes").json()
    approved = member.post(f"/api/v1/meetings/{meeting.id}/minutes/approve", json=minutes["minutes"])
    assert approved.status_code == 200, approved.text
    box.store.mark_sent([row.id for row in box.store.pending_outbox(limit=1000)])  # MQTT published them
    db = box.store.path
    assert _count(db, "SELECT count(*) FROM minutes_search WHERE meeting_id = ?", meeting.id) == 1

    export = viewer.get(f"/api/v1/meetings/{meeting.id}/export", params={"format": "txt"})
    assert export.status_code == 200 and "연봉 협상" in export.text
    assert member.delete(f"/api/v1/meetings/{meeting.id}").status_code == 403  # deleting is an admin's
    assert admin.delete(f"/api/v1/meetings/{meeting.id}").status_code == 204

    assert admin.get(f"/api/v1/meetings/{meeting.id}").status_code == 404
    assert not audio.exists()
    for sql in ("SELECT count(*) FROM segments WHERE meeting_id = ?",
                "SELECT count(*) FROM segment_search_keys WHERE meeting_id = ?",
                "SELECT count(*) FROM minutes WHERE meeting_id = ?",
                "SELECT count(*) FROM minutes_search WHERE meeting_id = ?"):  # fmt: skip
        assert _count(db, sql, meeting.id) == 0, sql
    assert _count(db, "SELECT count(*) FROM segment_search WHERE segment_search MATCH ?", '"연봉 협상"') == 0
    assert admin.get("/api/v1/search", params={"q": "연봉 협상"}).json()["items"] == []
    # Its retained minutes are cleared (an empty retained message) and subscribers are told; nothing else of
    # it is left in the outbox, sent or not.
    clears = [row for row in box.store.pending_outbox(limit=1000) if row.meeting_id == meeting.id]
    assert [(row.kind, row.payload) for row in clears] == [
        ("minutes", None), ("deleted", {"v": 1, "meeting_id": meeting.id})
    ]
    assert _count(db, "SELECT count(*) FROM outbox WHERE meeting_id = ? AND sent_at IS NOT NULL", meeting.id) == 0
    assert [m.id for m in box.store.meetings()] == [other.id]
    assert admin.delete(f"/api/v1/meetings/{meeting.id}").status_code == 404

    audit = admin.get("/api/v1/audit").json()
    trail = [(entry["actor"], entry["action"], entry["target"]) for entry in audit["items"]]
    print("audit log:", trail)
    assert ("열람자", "export", meeting.id) in trail
    assert ("관리자", "delete", meeting.id) in trail
    assert ("진행자", "approve", meeting.id) in trail
    assert ("진행자", "delete", meeting.id) not in trail  # refused: nothing done, nothing recorded
    assert trail.index(("관리자", "delete", meeting.id)) < trail.index(("열람자", "export", meeting.id))  # newest first
    assert next(e for e in audit["items"] if e["action"] == "export")["detail"] == "format=txt"
    assert viewer.get("/api/v1/audit").status_code == 403
    assert member.get("/api/v1/audit").status_code == 403


def test_a_running_meeting_cannot_be_deleted(server: ApiServer, llm_free_box: FakeBox) -> None:
    meeting = llm_free_box.start_meeting(title="진행 중")
    answer = login(server.url, "관리자").delete(f"/api/v1/meetings/{meeting.id}")
    assert answer.status_code == 409 and "stop or cancel it" in answer.json()["detail"]
    assert llm_free_box.store.meeting(meeting.id).status == "recording"


class SteppedClock:
    """A monotonic clock the test moves, under a real WallClock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_retention_deletes_old_meetings_and_audit_entries(tmp_path: Path) -> None:
    monotonic = SteppedClock()
    clock = WallClock(monotonic=monotonic)
    store = Store(tmp_path / "edge.db", clock=clock)
    editing = Editing(store, glossary_changed=lambda: None)
    audit = AuditLog(store, clock, retention_days=30)
    old = store.create_meeting(language="ko", source="file:old.wav", title="오래된 회의", status="processing")
    store.add_segment(old.id, t0_ms=0, t1_ms=1000, text_raw="오래된 발언", language="ko", confidence=0.9)
    store.end_meeting(old.id)
    audit.record("관리자", "export", old.id)
    monotonic.now += 40 * 86_400
    recent = store.create_meeting(language="ko", source="file:new.wav", title="최근 회의", status="processing")
    store.end_meeting(recent.id)
    audit.record("관리자", "export", recent.id)
    assert editing.prune_meetings(0) == []  # 0 keeps everything
    assert editing.prune_meetings(30) == [old.id]
    assert [m.id for m in store.meetings()] == [recent.id]
    assert store.segments(old.id) == []
    assert audit.prune() == 1
    assert [entry.target for entry in audit.entries()] == [recent.id]
    store.close()


def test_audited_operations_are_read_from_the_path() -> None:
    assert audited_action("GET", "/api/v1/meetings/20260101-x/export") == ("export", "20260101-x")
    assert audited_action("DELETE", "/api/v1/meetings/20260101-x") == ("delete", "20260101-x")
    assert audited_action("PUT", "/api/v1/glossary/terms/쿠버네티스") == ("glossary", "쿠버네티스")  # ASGI: decoded
    assert audited_action("GET", "/api/v1/meetings/20260101-x") is None
