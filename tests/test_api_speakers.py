"""Speakers through the real API (uvicorn on loopback, a real SQLite store): list them, name one (member role,
CSRF with a session, audited), the name in segments, exports and the live stream; bad names and unknown
labels answered with the reason and nothing changed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fake_box import FakeBox, serving, sse_events

from edge.api.accounts import Accounts
from edge.api.auth import CSRF_HEADER
from edge.api.server import ApiServer

FILE_TOKEN = "speakers-test-file-token-0123456789"
PASSWORD = "화자-이름-비밀번호"


@pytest.fixture
def box(tmp_path: Path) -> Iterator[FakeBox]:
    fake = FakeBox(tmp_path / "box", llm=False)
    yield fake
    fake.close()


@pytest.fixture
def server(box: FakeBox) -> Iterator[ApiServer]:
    accounts = Accounts(box.store, box.clock)
    accounts.add_user("진행자", "member", PASSWORD)
    accounts.add_user("열람자", "viewer", PASSWORD)
    with serving(box, FILE_TOKEN) as running:
        yield running


def login(url: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=url + "/api/v1", timeout=10)
    answer = client.post("/login", json={"name": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    client.headers[CSRF_HEADER] = answer.json()["csrf"]
    return client


def _meeting(box: FakeBox) -> str:
    meeting_id = box.start_meeting(title="화자 회의").id
    box.inject_segment("회의를 시작하겠습니다", speaker="S1")
    box.inject_segment("제가 금요일까지 보고서 올리겠습니다", speaker="S2")
    box.inject_segment("좋습니다 <b>확인</b>", speaker="S1")
    box.inject_segment("(박수)")
    return meeting_id


def test_a_member_names_a_speaker_and_the_name_is_everywhere(server: ApiServer, box: FakeBox) -> None:
    meeting_id = _meeting(box)
    member, viewer = login(server.url, "진행자"), login(server.url, "열람자")
    listed = viewer.get(f"/meetings/{meeting_id}/speakers")
    assert listed.status_code == 200
    assert listed.json() == {"meeting_id": meeting_id, "items": [
        {"label": "S1", "name": "", "display": "S1", "segments": 2, "speech_ms": 3000},
        {"label": "S2", "name": "", "display": "S2", "segments": 1, "speech_ms": 1500},
    ]}  # fmt: skip
    assert viewer.put(f"/meetings/{meeting_id}/speakers/S2", json={"name": "이지은"}).status_code == 403
    ticket = member.post("/live/ticket").json()["ticket"]
    with httpx.stream("GET", f"{server.url}/api/v1/live", params={"ticket": ticket}, timeout=10) as response:
        events = sse_events(response)
        assert next(events)[0] == "state"
        named = member.put(f"/meetings/{meeting_id}/speakers/S2", json={"name": " 이지은 "})
        assert named.status_code == 200, named.text
        assert named.json() == {"label": "S2", "name": "이지은", "display": "이지은", "segments": 1, "speech_ms": 1500}
        kind, payload = next(events)
        assert kind == "speakers"
        assert payload["meeting_id"] == meeting_id
        assert [(s["label"], s["display"]) for s in payload["speakers"]] == [("S1", "S1"), ("S2", "이지은")]
    segments = viewer.get(f"/meetings/{meeting_id}/segments").json()["items"]
    assert [(s["speaker"], s["speaker_id"]) for s in segments] == [("S1", "S1"), ("이지은", "S2"), ("S1", "S1"),
                                                                   (None, None)]  # fmt: skip
    vtt = viewer.get(f"/meetings/{meeting_id}/export", params={"format": "vtt"}).text
    assert "<v 이지은>제가 금요일까지 보고서 올리겠습니다\n" in vtt
    assert "<v S1>좋습니다 &lt;b&gt;확인&lt;/b&gt;\n" in vtt
    assert "\n(박수)\n" in vtt
    exported = viewer.get(f"/meetings/{meeting_id}/export", params={"format": "json"}).json()
    assert exported["segments"][1]["speaker"] == "이지은" and exported["segments"][1]["speaker_id"] == "S2"
    # Audited as an edit, with who did it.
    admin = httpx.Client(base_url=server.url + "/api/v1", timeout=10,
                         headers={"Authorization": f"Bearer {FILE_TOKEN}"})  # fmt: skip
    trail = [(e["actor"], e["action"], e["target"]) for e in admin.get("/audit").json()["items"]]
    assert ("진행자", "edit", f"{meeting_id}/speakers/S2") in trail
    # A session without its CSRF header may not rename.
    del member.headers[CSRF_HEADER]
    assert member.put(f"/meetings/{meeting_id}/speakers/S1", json={"name": "김민수"}).status_code == 403
    assert box.store.speakers(meeting_id)[0].name == ""


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [({"name": "김" * 65}, 422, "at most 64"), ({"name": "김민\u0007수"}, 422, "pattern"),
     ({"name": 3}, 422, "string"), ({}, 422, "name"), ({"name": "김민수", "role": "x"}, 422, "role")],
)  # fmt: skip
def test_bad_names_are_refused_and_change_nothing(
    server: ApiServer, box: FakeBox, body: dict, status: int, says: str
) -> None:
    meeting_id = _meeting(box)
    member = login(server.url, "진행자")
    answer = member.put(f"/meetings/{meeting_id}/speakers/S1", json=body)
    assert answer.status_code == status and says in answer.text, answer.text
    assert [s.name for s in box.store.speakers(meeting_id)] == ["", ""]


def test_unknown_meeting_or_speaker_is_404_with_the_reason(server: ApiServer, box: FakeBox) -> None:
    meeting_id = _meeting(box)
    member = login(server.url, "진행자")
    unknown_label = member.put(f"/meetings/{meeting_id}/speakers/S7", json={"name": "김민수"})
    assert unknown_label.status_code == 404
    assert "no speaker 'S7' (its speakers: S1, S2)" in unknown_label.json()["detail"]
    for answer in (member.put("/meetings/no-such-meeting/speakers/S1", json={"name": "김민수"}),
                   member.get("/meetings/no-such-meeting/speakers")):  # fmt: skip
        assert answer.status_code == 404 and "no-such-meeting" in answer.json()["detail"]
    # Blank clears a name.
    assert member.put(f"/meetings/{meeting_id}/speakers/S1", json={"name": "김민수"}).json()["display"] == "김민수"
    assert member.put(f"/meetings/{meeting_id}/speakers/S1", json={"name": "  "}).json()["display"] == "S1"
