"""API authentication: the token file, 401 on every protected operation (taken from the OpenAPI document,
so a new route is covered automatically), nothing changes without the token, live-stream tickets."""

from __future__ import annotations

import io
import stat
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fake_box import FakeBox, serving

from edge.api.auth import LiveTickets, load_or_create_token
from edge.core.errors import UserError

TOKEN = "test-token-0123456789abcdefghij"
PUBLIC = {("GET", "/api/v1/health"), ("GET", "/api/v1/about"), ("GET", "/api/v1/openapi.json")}
LOGIN = ("POST", "/api/v1/login")  # public too: tested in test_api_roles


@pytest.fixture
def box(tmp_path: Path) -> Iterator[FakeBox]:
    fake = FakeBox(tmp_path)
    yield fake
    fake.close()


@pytest.fixture
def server(box: FakeBox):
    with serving(box, TOKEN) as running:
        yield running


@pytest.fixture
def anonymous(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture
def client(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as client:
        yield client


def wav_bytes() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\x00\x00" * 1600)
    return buffer.getvalue()


# token file


def test_a_missing_token_file_is_created_with_a_random_secret_readable_only_by_the_owner(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "edge" / "api-token"
    token, created = load_or_create_token(path)
    assert created
    assert len(token) >= 32
    assert path.read_text().strip() == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_token(path) == (token, False)
    other_path = tmp_path / "other-token"
    assert load_or_create_token(other_path)[0] != token  # generated, not a default


@pytest.mark.parametrize("content", ["", "   \n", "short", "has spaces inside the token value"])
def test_an_unusable_token_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "api-token"
    path.write_text(content)
    with pytest.raises(UserError, match="delete the file to generate a new token"):
        load_or_create_token(path)


# every protected operation


def _operations(client: httpx.Client) -> list[tuple[str, str]]:
    document = client.get("/api/v1/openapi.json").json()
    return [(method.upper(), path) for path, item in document["paths"].items() for method in item]


def _concrete(path: str) -> str:
    return path.replace("{meeting_id}", "20250101-000000-abcd").replace("{seq}", "0")


def test_every_operation_except_health_and_the_document_needs_the_token(
    anonymous: httpx.Client, client: httpx.Client
) -> None:
    operations = _operations(anonymous)
    assert len(operations) >= 13
    protected = [op for op in operations if op not in PUBLIC and op != LOGIN]
    for method, path in protected:
        for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {TOKEN}"}):
            response = anonymous.request(method, _concrete(path), headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
            assert "token" in response.json()["detail"]
    for method, path in PUBLIC:
        assert anonymous.request(method, path).status_code == 200


def test_state_changing_requests_without_the_token_change_nothing(
    anonymous: httpx.Client, client: httpx.Client, box: FakeBox
) -> None:
    srt = b"1\n00:00:01,000 --> 00:00:02,000\nhello\n"
    assert anonymous.post("/api/v1/meetings", json={"title": "x"}).status_code == 401
    assert box.state()["state"] == "idle"
    assert anonymous.post("/api/v1/import", files={"file": ("a.srt", srt)}).status_code == 401
    assert anonymous.post("/api/v1/transcribe", files={"file": ("a.wav", wav_bytes())}).status_code == 401
    assert box.store.meetings() == []
    assert box.submitted == []

    meeting = client.post("/api/v1/meetings", json={"title": "x"})
    assert meeting.status_code == 201
    meeting_id = meeting.json()["id"]
    box.inject_segment("원래 문장")
    edit = {"text": "고친 문장"}
    assert anonymous.patch(f"/api/v1/meetings/{meeting_id}/segments/0", json=edit).status_code == 401
    assert anonymous.post(f"/api/v1/meetings/{meeting_id}/stop").status_code == 401
    assert box.store.segments(meeting_id)[0].display_text == "원래 문장"
    assert box.state() == {"v": 1, "state": "recording", "meeting_id": meeting_id}

    # with the token the same requests work
    assert client.patch(f"/api/v1/meetings/{meeting_id}/segments/0", json=edit).json()["text"] == "고친 문장"
    assert client.post(f"/api/v1/meetings/{meeting_id}/stop").json()["status"] == "stopped"
    assert client.post("/api/v1/import", files={"file": ("a.srt", srt)}).status_code == 201
    assert client.post("/api/v1/transcribe", files={"file": ("a.wav", wav_bytes())}).status_code == 202
    assert len(box.store.meetings()) == 3
    assert len(box.submitted) == 1


def test_the_token_is_never_accepted_in_a_url(anonymous: httpx.Client) -> None:
    assert anonymous.get("/api/v1/meetings", params={"token": TOKEN}).status_code == 401
    assert anonymous.get("/api/v1/live", params={"ticket": TOKEN}).status_code == 401


def test_other_sites_get_no_cors_permission(anonymous: httpx.Client) -> None:
    # Without CORS headers a browser refuses to send another site's request with an Authorization header.
    preflight = anonymous.options(
        "/api/v1/meetings",
        headers={
            "Origin": "http://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-headers" not in preflight.headers


def test_the_admin_page_and_its_assets_need_no_token(anonymous: httpx.Client) -> None:
    page = anonymous.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for asset in ("app.js", "app.css", "i18n.js", "messages-ko.json", "messages-en.json"):
        assert anonymous.get(f"/static/{asset}").status_code == 200


# live tickets


def test_a_live_ticket_opens_the_stream_once(client: httpx.Client, anonymous: httpx.Client) -> None:
    ticket = client.post("/api/v1/live/ticket").json()["ticket"]
    with anonymous.stream("GET", "/api/v1/live", params={"ticket": ticket}) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
    assert anonymous.get("/api/v1/live", params={"ticket": ticket}).status_code == 401
    assert anonymous.get("/api/v1/live").status_code == 401


def test_tickets_expire_and_are_bounded_in_number() -> None:
    expired = LiveTickets(ttl_s=-1)
    assert not expired.redeem(expired.issue())
    tickets = LiveTickets(ttl_s=60, capacity=2)
    first, second, third = tickets.issue(), tickets.issue(), tickets.issue()
    assert not tickets.redeem(first)  # evicted by the third
    assert tickets.redeem(second)
    assert tickets.redeem(third)
    assert not tickets.redeem("made-up")
