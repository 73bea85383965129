"""The minutes API against a real uvicorn server, a real Store and LiveBus, and the real minutes
generator (edge.minutes.generate) run by FakeBox with a scripted engine in place of llama.cpp: request, progress
on the live stream, read (JSON and Markdown), approve with and without edits, attendees, errors."""

from __future__ import annotations

import itertools
from pathlib import Path

import httpx
from fake_box import API_TOKEN as TOKEN
from fake_box import AUTH, FakeBox, serving, sse_events

from edge.api.server import ApiServer
from edge.minutes.schema import validate_minutes

LINES = (
    "네 그럼 주간 인프라 회의 시작하겠습니다.",
    "Kubernetes 업그레이드는 재시작 문제를 해결한 다음에 진행하겠습니다.",
    "지훈 씨가 다음 주 수요일까지 원인을 정리해 주세요.",
    "네 다음 주 수요일까지 정리하겠습니다.",
)


def recorded_meeting(box: FakeBox, lines: tuple[str, ...] = LINES) -> str:
    meeting_id = box.start_meeting(title="주간 인프라 회의").id
    for line in lines:
        box.inject_segment(line)
    box.stop_meeting()
    return meeting_id


def published(box: FakeBox) -> list[dict]:
    return [row.payload for row in box.store.pending_outbox(limit=10_000) if row.kind == "minutes"]


def draft(client: httpx.Client, box: FakeBox) -> tuple[str, dict]:
    meeting_id = recorded_meeting(box)
    assert client.post(f"/meetings/{meeting_id}/minutes").status_code == 202
    box.wait_for_minutes()
    record = client.get(f"/meetings/{meeting_id}/minutes").json()
    assert record["status"] == "draft", record
    return meeting_id, record["minutes"]


def test_minutes_are_requested_streamed_live_and_read_back(
    client: httpx.Client, box: FakeBox, server: ApiServer
) -> None:
    meeting_id = recorded_meeting(box)
    missing = client.get(f"/meetings/{meeting_id}/minutes")
    assert missing.status_code == 404 and "no minutes yet" in missing.json()["detail"]
    none = {"meeting_id": meeting_id, "status": "none", "error": None, "updated_at": None, "queue": None}
    assert client.get(f"/meetings/{meeting_id}/minutes/status").json() == none

    ticket = client.post("/live/ticket").json()["ticket"]
    with httpx.stream("GET", f"{server.url}/api/v1/live", params={"ticket": ticket}, timeout=10) as response:
        events = sse_events(response)
        assert next(events)[0] == "state"
        requested = client.post(f"/meetings/{meeting_id}/minutes")
        assert requested.status_code == 202
        assert requested.json()["meeting_id"] == meeting_id and requested.json()["queued"] is True
        progress = []
        for kind, payload in events:
            if kind == "minutes":
                break
            assert kind == "minutes_progress"
            progress.append(payload)
    assert payload == {"v": 1, "meeting_id": meeting_id, "status": "draft", "error": None}
    assert {(p["meeting_id"], p["stage"], p["total"], p["attempt"]) for p in progress} == {(meeting_id, "final", 1, 1)}
    partials = [p["partial"] for p in progress if p["partial"]]
    assert len(partials) >= 3 and partials[0].startswith('{"title"')
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(partials))  # it grows
    assert progress[-1]["done"] == 1

    record = client.get(f"/meetings/{meeting_id}/minutes").json()
    assert (record["status"], record["error"], record["attempts"], record["llm_calls"]) == ("draft", None, 1, 1)
    minutes = validate_minutes(record["minutes"], meeting_id=meeting_id, known_seqs=range(len(LINES)))
    assert minutes.title == "주간 회의" and minutes.model == "scripted.gguf" and minutes.language == "ko"
    assert minutes.action_items[0].evidence == [3]
    state = client.get(f"/meetings/{meeting_id}/minutes/status").json()
    assert (state["status"], state["updated_at"]) == ("draft", record["updated_at"])
    assert published(box) == []  # require_approval: a draft is not published


def test_markdown_download_names_the_file_and_reads_well(client: httpx.Client, box: FakeBox) -> None:
    meeting_id, _ = draft(client, box)
    client.put(f"/meetings/{meeting_id}/attendees", json={"names": ["김민수", "박지훈"]})
    response = client.get(f"/meetings/{meeting_id}/minutes.md")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="minutes-{meeting_id}.md"'
    text = response.text
    assert text.startswith("# 주간 회의\n")
    assert "- 참석자: 김민수, 박지훈" in text and "- 상태: 초안 (승인 전)" in text
    # The model left the owner and due date open; the cross-check filled them from the cited request.
    assert "## 할 일" in text and "| 1 | 네 다음 주 수요일까지 정리하겠습니다. | 지훈 | " in text
    assert " (다음 주 수요일까지) | [#3 00:00:06](#seq-3) |" in text
    assert '<a id="seq-3"></a>**[#3 00:00:06]**' in text


def test_approval_validates_edits_and_publishes_exactly_once(client: httpx.Client, box: FakeBox) -> None:
    meeting_id, minutes = draft(client, box)
    approve = f"/meetings/{meeting_id}/minutes/approve"

    no_evidence = {**minutes, "action_items": [{**minutes["action_items"][0], "evidence": []}]}
    refused = client.post(approve, json=no_evidence)
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("minutes do not validate: action_items.0.evidence: List should have")
    blank_title = client.post(approve, json={**minutes, "title": "  "})
    assert blank_title.status_code == 422 and "title: String should have at least 1 character" in blank_title.text
    not_json = client.post(approve, content=b"{title", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["detail"]
    assert client.post(approve, json=["not", "a", "document"]).status_code == 422
    unknown_seq = {**minutes, "decisions": [{"text": "없는 발언", "evidence": [99]}]}
    refused = client.post(approve, json=unknown_seq)
    assert refused.status_code == 422 and "#99" in refused.json()["detail"]
    other_meeting = {**minutes, "meeting_id": "someone-else"}
    refused = client.post(approve, json=other_meeting)
    assert refused.status_code == 422 and "keep meeting_id unchanged" in refused.json()["detail"]
    assert client.get(f"/meetings/{meeting_id}/minutes").json()["status"] == "draft"
    assert published(box) == []

    edited = {**minutes, "action_items": [{**minutes["action_items"][0], "owner": "박지훈", "due": "다음 주 수요일"}]}
    approved = client.post(approve, json=edited)
    assert approved.status_code == 200, approved.text
    record = approved.json()
    assert record["status"] == "approved" and record["approved_at"]
    assert (record["minutes"]["action_items"][0]["owner"], record["minutes"]["action_items"][0]["due"]) == (
        "박지훈", "다음 주 수요일"
    )  # fmt: skip
    assert published(box) == [box.store.minutes(meeting_id).minutes]

    again = client.post(approve)  # approving unchanged minutes publishes nothing new
    assert again.status_code == 200 and again.json()["status"] == "approved"
    assert len(published(box)) == 1
    assert client.get(f"/meetings/{meeting_id}/minutes.md").text.count("- 상태: 승인됨") == 1


def test_without_approval_minutes_are_published_when_written(tmp_path: Path) -> None:
    box = FakeBox(tmp_path, require_approval=False)
    with serving(box, TOKEN) as server, httpx.Client(base_url=server.url + "/api/v1", headers=AUTH) as client:
        meeting_id = recorded_meeting(box)
        client.post(f"/meetings/{meeting_id}/minutes")
        box.wait_for_minutes()
        record = client.get(f"/meetings/{meeting_id}/minutes").json()
        assert record["status"] == "published"
        assert published(box) == [record["minutes"]]
        assert "- 상태:" not in client.get(f"/meetings/{meeting_id}/minutes.md").text
    box.close()


def test_failed_llm_minutes_leave_the_extractive_draft_saying_why(tmp_path: Path) -> None:
    box = FakeBox(tmp_path, minutes_reply='{"title": "회의')
    with serving(box, TOKEN) as server, httpx.Client(base_url=server.url + "/api/v1", headers=AUTH) as client:
        meeting_id = recorded_meeting(box)
        client.post(f"/meetings/{meeting_id}/minutes")
        box.wait_for_minutes()
        record = client.get(f"/meetings/{meeting_id}/minutes").json()
        assert record["status"] == "draft" and record["minutes"]["model"] == "extractive" and record["attempts"] == 3
        assert record["error"].startswith("모델의 답이 회의록 형식이 아니었습니다. 대신 발언에서 뽑은 추출 회의록")
        assert "[detail: the minutes failed validation after 3 attempts" in record["error"]
        markdown = client.get(f"/meetings/{meeting_id}/minutes.md")
        assert markdown.status_code == 200 and "- 작성: 추출 방식" in markdown.text
        assert published(box) == []
        approved = client.post(f"/meetings/{meeting_id}/minutes/approve")
        assert approved.status_code == 200 and published(box) == [approved.json()["minutes"]]
    box.close()


def test_without_an_llm_the_extractive_minutes_are_written_and_unknown_meetings_are_not_found(
    tmp_path: Path,
) -> None:
    box = FakeBox(tmp_path, llm=False)
    with serving(box, TOKEN) as server, httpx.Client(base_url=server.url + "/api/v1", headers=AUTH) as client:
        meeting_id = recorded_meeting(box)
        written = client.post(f"/meetings/{meeting_id}/minutes")
        assert written.status_code == 202 and written.json()["queued"] is False
        assert written.json()["detail"].startswith("LLM이 설정되지 않았습니다.")
        record = client.get(f"/meetings/{meeting_id}/minutes").json()
        assert record["status"] == "draft" and record["minutes"]["model"] == "extractive"
        markdown = client.get(f"/meetings/{meeting_id}/minutes.md").text
        assert "- 작성: 추출 방식" in markdown
        for method, path, body in (
            ("GET", "/minutes", None),
            ("GET", "/minutes/status", None),
            ("GET", "/minutes.md", None),
            ("POST", "/minutes", None),
            ("POST", "/minutes/approve", None),
            ("GET", "/attendees", None),
            ("PUT", "/attendees", {"names": ["김민수"]}),
        ):
            response = client.request(method, f"/meetings/nope{path}", json=body)
            assert response.status_code == 404, (method, path, response.text)
            assert "nope" in response.json()["detail"]
    box.close()


def test_attendees_are_replaced_cleaned_and_checked(client: httpx.Client, box: FakeBox) -> None:
    meeting_id = recorded_meeting(box)
    path = f"/meetings/{meeting_id}/attendees"
    assert client.get(path).json() == {"meeting_id": meeting_id, "names": []}
    saved = client.put(path, json={"names": ["김민수", " 이지은 ", "김민수", "Tom  Lee"]})
    assert saved.status_code == 200
    assert saved.json()["names"] == ["김민수", "이지은", "Tom Lee"]
    assert client.get(path).json()["names"] == ["김민수", "이지은", "Tom Lee"]
    assert box.store.attendees(meeting_id) == ["김민수", "이지은", "Tom Lee"]
    for bad in ({"names": ["  "]}, {"names": ["a\nb"]}, {"names": ["x" * 101]}, {"names": "김민수"}, {}):
        response = client.put(path, json=bad)
        assert response.status_code == 422, bad
    assert client.get(path).json()["names"] == ["김민수", "이지은", "Tom Lee"]


def test_an_imported_transcript_is_ready_for_minutes(tmp_path: Path) -> None:
    box = FakeBox(tmp_path, minutes_auto=True)
    vtt = "WEBVTT\n\n" + "\n".join(
        f"00:00:{i * 5:02d}.000 --> 00:00:{i * 5 + 4:02d}.000\n{line}\n" for i, line in enumerate(LINES)
    )
    with serving(box, TOKEN) as server, httpx.Client(base_url=server.url + "/api/v1", headers=AUTH) as client:
        imported = client.post("/import", files={"file": ("weekly.vtt", vtt.encode(), "text/vtt")})
        assert imported.status_code == 201, imported.text
        meeting_id = imported.json()["meeting"]["id"]
        assert box.transcripts_ready == [meeting_id]
        box.wait_for_minutes()
        assert client.get(f"/meetings/{meeting_id}/minutes").json()["status"] == "draft"
    box.close()


def test_every_minutes_endpoint_needs_the_token(server: ApiServer, box: FakeBox) -> None:
    meeting_id = recorded_meeting(box)
    base = f"{server.url}/api/v1/meetings/{meeting_id}"
    for method, path in (
        ("GET", "/minutes"),
        ("GET", "/minutes/status"),
        ("GET", "/minutes.md"),
        ("POST", "/minutes"),
        ("POST", "/minutes/approve"),
        ("GET", "/attendees"),
        ("PUT", "/attendees"),
    ):
        response = httpx.request(method, base + path, json={"names": ["x"]} if method == "PUT" else None)
        assert response.status_code == 401, (method, path)
    assert box.minutes_requests == [] and box.store.attendees(meeting_id) == []
