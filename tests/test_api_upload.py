"""Upload size limits are enforced while the body streams in: an honest Content-Length over the limit,
a chunked body with no Content-Length, and a Content-Length that lies all end without keeping anything.
Most tests run a real uvicorn server (ApiServer) on a loopback port."""

from __future__ import annotations

import asyncio
import io
import socket
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fake_box import FakeBox, serving

from edge.api.app import create_app
from edge.api.server import ApiServer
from edge.core.config import ApiConfig

TOKEN = "upload-test-token-0123456789abc"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIMIT_MB = 0.25
LIMIT_BYTES = int(LIMIT_MB * 1024 * 1024)
BOUNDARY = "edgeboundary1234"


def wav_bytes(n_samples: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\x01\x00" * n_samples)
    return buffer.getvalue()


def multipart(file_bytes: bytes, filename: str = "talk.wav") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nQ3 review\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode() + file_bytes + f"\r\n--{BOUNDARY}--\r\n".encode()


def chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture
def box(tmp_path: Path) -> Iterator[FakeBox]:
    fake = FakeBox(tmp_path)
    yield fake
    fake.close()


@pytest.fixture
def server(box: FakeBox) -> Iterator[ApiServer]:
    with serving(box, TOKEN, max_upload_mb=LIMIT_MB) as running:
        yield running


@pytest.fixture
def client(server: ApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + "/api/v1", headers=AUTH, timeout=30) as http:
        yield http


def nothing_kept(box: FakeBox) -> bool:
    uploads = box.store.path.parent / "uploads"
    return not box.submitted and not box.store.meetings() and not (uploads.exists() and any(uploads.iterdir()))


def test_an_upload_within_the_limit_is_handed_to_the_box(client: httpx.Client, box: FakeBox) -> None:
    audio = wav_bytes(LIMIT_BYTES // 4)
    response = client.post("/transcribe", files={"file": ("talk.wav", audio)}, data={"title": "Q3 review"})
    assert response.status_code == 202
    result = response.json()
    assert result["bytes"] == len(audio)
    assert (result["meeting"]["status"], result["meeting"]["title"]) == ("processing", "Q3 review")
    [(name, size)] = box.submitted
    assert name.endswith(".wav")  # the box's reader picks its decoder by suffix
    assert size == len(audio)
    assert not any((box.store.path.parent / "uploads").iterdir())  # the box took the file


def test_an_honest_content_length_over_the_limit_is_refused_before_reading(client: httpx.Client, box: FakeBox) -> None:
    body = multipart(wav_bytes(LIMIT_BYTES))
    response = client.post(
        "/transcribe", content=body, headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    )
    assert response.status_code == 413
    assert "0.25 MB" in response.json()["detail"]
    assert nothing_kept(box)


def test_a_chunked_body_over_the_limit_is_cut_off_while_streaming(client: httpx.Client, box: FakeBox) -> None:
    sent = []

    def stream() -> Iterator[bytes]:
        for chunk in chunks(multipart(wav_bytes(LIMIT_BYTES))):
            sent.append(len(chunk))
            yield chunk

    response = client.post(
        "/transcribe", content=stream(), headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    )
    assert response.status_code == 413
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert nothing_kept(box)
    assert client.get("/health").status_code == 200  # the server is fine afterwards


def test_a_lying_content_length_gets_nothing_stored_through_a_real_server(server: ApiServer, box: FakeBox) -> None:
    body = multipart(wav_bytes(LIMIT_BYTES))
    head = (
        "POST /api/v1/transcribe HTTP/1.1\r\nHost: box\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        "Content-Length: 1000\r\n\r\n"
    ).encode()
    reply = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        try:
            sock.sendall(head + body)
            sock.shutdown(socket.SHUT_WR)
            while data := sock.recv(65536):
                reply += data
        except OSError:
            pass  # the server may close on the bytes that follow the declared body (EPIPE, ECONNRESET, ENOTCONN)
    if reply:
        assert not reply.startswith(b"HTTP/1.1 2"), reply[:200]
    assert nothing_kept(box)
    assert httpx.get(f"{server.url}/api/v1/health", timeout=10).status_code == 200


def test_the_app_itself_never_trusts_content_length(tmp_path: Path) -> None:
    """Behind any server: the header says 100 bytes, the stream brings ten times the limit; reading stops
    at the limit and the answer is 413."""
    box = FakeBox(tmp_path)
    app = create_app(box, ApiConfig(max_upload_mb=LIMIT_MB), TOKEN)
    pending = [
        {"type": "http.request", "body": chunk, "more_body": True}
        for chunk in chunks(multipart(wav_bytes(5 * LIMIT_BYTES)))
    ]
    total_messages = len(pending)
    sent: list[dict] = []

    async def receive() -> dict:
        return pending.pop(0) if pending else {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/transcribe",
        "raw_path": b"/api/v1/transcribe",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8080"),
            (b"authorization", f"Bearer {TOKEN}".encode()),
            (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
            (b"content-length", b"100"),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("box", 80),
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413
    read = total_messages - len(pending)
    assert read <= LIMIT_BYTES // (64 * 1024) + 2  # stopped at the limit, not at the end of the body
    assert nothing_kept(box)
    box.close()


def test_json_bodies_have_their_own_small_limit(client: httpx.Client, box: FakeBox) -> None:
    huge_title = b'{"title": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = client.post("/meetings", content=chunks(huge_title), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert box.state()["state"] == "idle"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (multipart(b"this is not audio at all", filename="notes.wav"), "notes.wav is corrupt or not audio"),
        (multipart(wav_bytes(1000))[:-40], "ended early"),
        (multipart(b""), "empty"),
    ],
    ids=["not-audio", "truncated", "empty"],
)
def test_unusable_uploads_are_400_and_leave_nothing(
    client: httpx.Client, box: FakeBox, body: bytes, detail: str
) -> None:
    response = client.post(
        "/transcribe", content=body, headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    )
    assert response.status_code == 400
    assert detail in response.json()["detail"]
    assert nothing_kept(box)
