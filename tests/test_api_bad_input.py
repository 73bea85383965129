"""Bad input answered with 4xx and a reason, never a 500 or a reset connection (issue 17, finding 6):
invalid Unicode in a segment edit, deeply nested or oversized JSON in minutes approval and in an
imported transcript. The real API app over a real Store (tests/fake_box.py)."""

from __future__ import annotations

import httpx
from fake_box import FakeBox


def _meeting_with_segment(box: FakeBox) -> str:
    box.start_meeting(title="주간 회의")
    box.inject_segment("첫 문장입니다")
    return box.stop_meeting().id


def test_a_lone_surrogate_in_a_segment_edit_is_refused_with_4xx(client: httpx.Client, box: FakeBox) -> None:
    meeting_id = _meeting_with_segment(box)
    body = b'{"text": "\\ud800 \xea\xb3\xa0\xec\xb9\xa8"}'  # a lone surrogate escape, then 고침
    answer = client.patch(
        f"/meetings/{meeting_id}/segments/0", content=body, headers={"Content-Type": "application/json"}
    )
    assert 400 <= answer.status_code < 500, answer.text
    assert "surrogate" in answer.json()["detail"] or "Unicode" in answer.json()["detail"]
    assert client.get(f"/meetings/{meeting_id}/segments").json()["items"][0]["text"] == "첫 문장입니다"


def test_a_lone_surrogate_anywhere_in_a_json_body_is_refused(client: httpx.Client) -> None:
    answer = client.post("/meetings", content=b'{"title": "\\udfff"}', headers={"Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500, answer.text
    assert client.get("/state").json()["state"] == "idle"


def test_deeply_nested_json_on_minutes_approval_is_refused(client: httpx.Client, box: FakeBox) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    for meeting_id in ("no-such-meeting", _meeting_with_segment(box)):
        answer = client.post(
            f"/meetings/{meeting_id}/minutes/approve", content=nested, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 400, answer.text
        assert "nested" in answer.json()["detail"]


def test_deeply_nested_json_in_an_imported_transcript_is_refused(client: httpx.Client) -> None:
    document = b'{"v": 1, "segments": [{"t0_ms": 0, "t1_ms": 1, "text": "x", "corrections": [' + b"[" * 100_000
    document += b"]" * 100_000 + b"]}]}"
    answer = client.post("/import", files={"file": ("회의.json", document, "application/json")})
    assert answer.status_code == 400, answer.text
    assert "nested" in answer.json()["detail"]
    assert client.get("/meetings").json()["items"] == []


def test_a_lone_surrogate_in_an_imported_transcript_is_refused(client: httpx.Client) -> None:
    document = b'{"v": 1, "segments": [{"t0_ms": 0, "t1_ms": 1, "text": "\\ud800 \xed\x9a\x8c\xec\x9d\x98"}]}'
    answer = client.post("/import", files={"file": ("회의.json", document, "application/json")})
    assert answer.status_code == 400, answer.text
    assert "surrogate" in answer.json()["detail"] and "회의.json" in answer.json()["detail"]


def test_the_validation_error_handler_renders_input_it_cannot_encode() -> None:
    import asyncio
    import json

    from fastapi.exceptions import RequestValidationError

    from edge.api.app import _validation_error

    error = RequestValidationError([{"type": "string_type", "loc": ("body", "text"), "msg": "bad", "input": "\ud800"}])
    response = asyncio.run(_validation_error(None, error))  # type: ignore[arg-type]
    assert response.status_code == 422
    assert json.loads(response.body)["detail"][0]["input"] == "\ud800"


def test_a_search_of_control_characters_only_is_refused_by_the_schema(client: httpx.Client) -> None:
    response = client.get("/search", params={"q": "\x06\x07"})
    assert response.status_code == 422, response.text
