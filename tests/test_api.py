"""The HTTP API against a real uvicorn server (ApiServer on a loopback port), a real Store and LiveBus:
meetings, segments, start/stop, export, edits, import, the live stream, errors and shutdown."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from fake_box import API_TOKEN as TOKEN
from fake_box import AUTH, FakeBox, serving, sse_events

from edge.api.app import create_app
from edge.api.routes_live import live_events
from edge.api.server import ApiServer
from edge.core.config import ApiConfig
from edge.core.errors import UserError
from edge.core.live import LiveBus


def test_health_reports_the_box_without_a_token(server: ApiServer) -> None:
    health = httpx.get(server.url + "/api/v1/health", timeout=10).json()
    assert health["status"] == "ok"
    assert health["queues"] == {"asr_pending": 0}
    assert health["drops"] == {"asr_utterances": 0}
    assert health["rtf"] == 0.25
    assert health["uptime_s"] >= 0


def test_start_stop_and_conflicts(client: httpx.Client, box: FakeBox) -> None:
    started = client.post("/meetings", json={"title": "주간 회의", "language": "ko"})
    assert started.status_code == 201
    meeting = started.json()
    assert (meeting["title"], meeting["status"], meeting["language"]) == ("주간 회의", "recording", "ko")
    assert "audio_path" not in meeting
    assert client.get("/state").json() == {"v": 1, "state": "recording", "meeting_id": meeting["id"]}

    again = client.post("/meetings")
    assert again.status_code == 409
    assert "stop it first" in again.json()["detail"]

    box.inject_segment("첫 문장")
    stopped = client.post(f"/meetings/{meeting['id']}/stop")
    assert stopped.status_code == 200
    assert stopped.json()["status"] == "stopped"
    assert stopped.json()["segment_count"] == 1
    assert stopped.json()["ended_at"]

    assert client.post(f"/meetings/{meeting['id']}/stop").status_code == 409
    unknown = client.post("/meetings/no-such-meeting/stop")
    assert unknown.status_code == 404
    assert "no-such-meeting" in unknown.json()["detail"]
    assert client.post("/meetings", json={"language": "Korean"}).status_code == 422
    assert client.post("/meetings", json={"title": "x" * 201}).status_code == 422


def test_meetings_and_segments_are_paged(client: httpx.Client, box: FakeBox) -> None:
    ids = []
    for n in range(3):
        box.start_meeting(title=f"m{n}")
        for i in range(5):
            box.inject_segment(f"meeting {n} segment {i}")
        ids.append(box.stop_meeting().id)

    first = client.get("/meetings", params={"limit": 2}).json()
    assert first["next_offset"] == 2
    rest = client.get("/meetings", params={"limit": 2, "offset": 2}).json()
    assert rest["next_offset"] is None
    listed = [m["id"] for m in first["items"] + rest["items"]]
    assert sorted(listed) == sorted(ids)
    assert all(m["segment_count"] == 5 for m in first["items"])

    page = client.get(f"/meetings/{ids[1]}/segments", params={"limit": 2}).json()
    assert [s["seq"] for s in page["items"]] == [0, 1]
    assert page["next_after_seq"] == 1
    page = client.get(f"/meetings/{ids[1]}/segments", params={"after_seq": 3, "limit": 2}).json()
    assert [s["text"] for s in page["items"]] == ["meeting 1 segment 4"]
    assert page["next_after_seq"] is None

    assert client.get(f"/meetings/{ids[0]}").json()["title"] == "m0"
    assert client.get("/meetings/unknown").status_code == 404
    assert client.get("/meetings/unknown/segments").status_code == 404
    assert client.get("/meetings", params={"limit": 0}).status_code == 422
    assert client.get("/meetings", params={"offset": 10**30}).status_code == 422


@pytest.mark.parametrize(
    ("fmt", "media_type", "expected"),
    [
        ("txt", "text/plain", "[00:00:00.000] <b>회의</b> & 시작"),
        ("srt", "application/x-subrip", "00:00:00,000 --> 00:00:01,500"),
        ("vtt", "text/vtt", "WEBVTT"),
        ("md", "text/markdown", "\\<b\\>회의\\</b\\>"),
        ("json", "application/json", '"text_raw": "<b>회의</b> & 시작"'),
    ],
)
def test_export_downloads_the_transcript(
    client: httpx.Client, box: FakeBox, fmt: str, media_type: str, expected: str
) -> None:
    meeting = box.start_meeting(title="export")
    box.inject_segment("<b>회의</b> & 시작")
    box.stop_meeting()
    response = client.get(f"/meetings/{meeting.id}/export", params={"format": fmt})
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{media_type}; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="meeting-{meeting.id}.{fmt}"'
    assert expected in response.text


def test_export_rejects_an_unknown_format(client: httpx.Client, box: FakeBox) -> None:
    meeting = box.start_meeting()
    response = client.get(f"/meetings/{meeting.id}/export", params={"format": "docx"})
    assert response.status_code == 422
    assert "txt" in json.dumps(response.json()["detail"])


def test_editing_a_segment_keeps_the_raw_text_and_queues_an_update(client: httpx.Client, box: FakeBox) -> None:
    meeting = box.start_meeting()
    box.inject_segment("쿠베네티스 클러스터")
    box.store.mark_sent([m.id for m in box.store.pending_outbox()])

    response = client.patch(f"/meetings/{meeting.id}/segments/0", json={"text": "  Kubernetes   클러스터 "})
    assert response.status_code == 200
    segment = response.json()
    assert (segment["text"], segment["text_raw"], segment["edited"]) == (
        "Kubernetes 클러스터", "쿠베네티스 클러스터", True
    )
    assert segment["corrections"][-1]["rule"] == "human_edit"
    assert segment["corrections"][-1]["original"] == "쿠베네티스 클러스터"

    stored = box.store.segments(meeting.id)[0]
    assert (stored.text_raw, stored.display_text) == ("쿠베네티스 클러스터", "Kubernetes 클러스터")
    [update] = box.store.pending_outbox()
    assert update.kind == "segment_update"
    assert (update.payload["seq"], update.payload["text"], update.payload["revision"]) == (0, "Kubernetes 클러스터", 1)
    assert "Kubernetes 클러스터" in client.get(f"/meetings/{meeting.id}/export").text

    assert client.patch(f"/meetings/{meeting.id}/segments/7", json={"text": "x"}).status_code == 404
    assert client.patch("/meetings/nope/segments/0", json={"text": "x"}).status_code == 404
    assert client.patch(f"/meetings/{meeting.id}/segments/0", json={"text": "   "}).status_code == 422
    assert client.patch(f"/meetings/{meeting.id}/segments/0", json={}).status_code == 422
    bad_json = client.patch(
        f"/meetings/{meeting.id}/segments/0", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 422 or bad_json.status_code == 400
    assert "detail" in bad_json.json()


def test_import_endpoint_creates_an_imported_meeting(client: httpx.Client, box: FakeBox) -> None:
    vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n안녕하세요\n\n00:00:03.000 --> 00:00:04.000\n반갑습니다\n"
    response = client.post("/import", files={"file": ("standup.vtt", vtt.encode())}, data={"title": "Standup"})
    assert response.status_code == 201
    result = response.json()
    assert (result["segments"], result["format"]) == (2, "vtt")
    assert (result["meeting"]["status"], result["meeting"]["title"]) == ("imported", "Standup")
    texts = [s["text"] for s in client.get(f"/meetings/{result['meeting']['id']}/segments").json()["items"]]
    assert texts == ["안녕하세요", "반갑습니다"]

    broken = client.post("/import", files={"file": ("b.srt", b"1\n00:00:01,000 --> 00:00:0x,000\nhi\n")})
    assert broken.status_code == 400
    assert broken.json()["detail"].startswith("b.srt line 2:")
    assert client.post("/import", files={"file": ("e.srt", b"")}).status_code == 400
    assert client.post("/import", data={"title": "no file"}).status_code in (400, 415)
    assert client.post("/import", json={"file": "x"}).status_code == 415
    assert not list((box.store.path.parent / "uploads").iterdir())


def test_import_endpoint_applies_the_team_glossary(client: httpx.Client, box: FakeBox) -> None:
    box.store.upsert_term("Kubernetes", ["쿠버네티스"])
    box.store.upsert_term("pull request", ["풀리퀘"])
    srt = "1\n00:00:01,000 --> 00:00:02,000\n쿠버네티스 배포 전에 풀리퀘 올려 주세요\n"
    meeting = client.post("/import", files={"file": ("weekly.srt", srt.encode())}).json()["meeting"]
    (segment,) = client.get(f"/meetings/{meeting['id']}/segments").json()["items"]
    assert segment["text"] == "Kubernetes 배포 전에 pull request 올려 주세요"
    assert [c["term"] for c in segment["corrections"]] == ["Kubernetes", "pull request"]


def test_live_stream_delivers_state_partials_segments_and_edits(
    client: httpx.Client, box: FakeBox, server: ApiServer
) -> None:
    ticket = client.post("/live/ticket").json()["ticket"]
    with httpx.stream("GET", f"{server.url}/api/v1/live", params={"ticket": ticket}, timeout=10) as response:
        assert response.status_code == 200
        events = sse_events(response)
        assert next(events) == ("state", {"v": 1, "state": "idle", "meeting_id": None})

        meeting_id = client.post("/meetings", json={"title": "live"}).json()["id"]
        assert next(events) == ("state", {"v": 1, "state": "recording", "meeting_id": meeting_id})

        box.inject_partial("쿠버네티스 업그레이")
        kind, partial = next(events)
        assert (kind, partial["meeting_id"], partial["unstable"]) == ("partial", meeting_id, "쿠버네티스 업그레이")

        box.inject_segment("쿠버네티스 업그레이드\ndata: injected")
        kind, segment = next(events)
        assert (kind, segment["seq"], segment["text"]) == ("segment", 0, "쿠버네티스 업그레이드\ndata: injected")

        client.patch(f"/meetings/{meeting_id}/segments/0", json={"text": "Kubernetes 업그레이드"})
        kind, update = next(events)
        assert (kind, update["seq"], update["text"], update["edited"]) == (
            "segment_update", 0, "Kubernetes 업그레이드", True
        )
        assert box.live.subscriber_count == 1
    # A client that goes away is unsubscribed (bounded wait: the server notices the disconnect).
    deadline = time.monotonic() + 10
    while box.live.subscriber_count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert box.live.subscriber_count == 0


def test_a_slow_live_client_is_told_what_it_missed(tmp_path: Path) -> None:
    box = FakeBox(tmp_path)
    box.live = LiveBus(subscriber_buffer=2)
    box.start_meeting()

    async def read() -> list[str]:
        stream = live_events(box, threading.Event())
        assert (await anext(stream)).startswith("retry:")  # subscribed from here on
        assert (await anext(stream)).startswith("event: state")
        for i in range(50):  # while the client reads nothing: the buffer keeps the newest two
            box.inject_partial(f"p{i}")
        messages = [await anext(stream) for _ in range(3)]
        await stream.aclose()
        return messages

    dropped, first, second = asyncio.run(read())
    assert dropped == 'event: dropped\ndata: {"v": 1, "count": 48}\n\n'
    assert '"unstable": "p48"' in first
    assert '"unstable": "p49"' in second
    assert box.live.subscriber_count == 0
    box.close()


def test_stopping_the_server_ends_open_live_streams(tmp_path: Path) -> None:
    box = FakeBox(tmp_path)
    # A long grace period: if streams did not end on stop(), the client's read would time out and fail.
    server = ApiServer(create_app(box, ApiConfig(), TOKEN), "127.0.0.1", 0, shutdown_timeout_s=120)
    server.start()
    with httpx.stream("GET", f"{server.url}/api/v1/live", headers=AUTH, timeout=30) as response:
        events = sse_events(response)
        assert next(events)[0] == "state"
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        assert list(events) == []
    stopper.join()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/api/v1/health", timeout=5)
    box.close()


def test_a_taken_port_is_a_clear_error(server: ApiServer, box: FakeBox) -> None:
    other = ApiServer(create_app(box, ApiConfig(), TOKEN), "127.0.0.1", server.port)
    with pytest.raises(UserError, match=f"cannot listen on 127.0.0.1:{server.port}"):
        other.start()


def test_unexpected_failures_are_a_json_500_without_internals(tmp_path: Path) -> None:
    class BrokenBox(FakeBox):
        def health(self) -> dict:
            raise RuntimeError("secret internal state")

    box = BrokenBox(tmp_path)
    with serving(box, TOKEN) as server:
        response = httpx.get(f"{server.url}/api/v1/health", timeout=10)
        assert response.status_code == 500
        assert response.json() == {"detail": "internal error; the box's log has the details"}
        unknown = httpx.get(f"{server.url}/api/v1/nothing-here", headers=AUTH, timeout=10)
        assert unknown.status_code == 404
        assert unknown.json() == {"detail": "Not Found"}
    box.close()
