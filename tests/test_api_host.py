"""The Host header is checked (issue 17, finding 14): a box on loopback answers only to loopback names, its
api.host and api.allowed_hosts, so a web page cannot reach it through a DNS name pointed at 127.0.0.1
(DNS rebinding). Listening on every interface with no names configured, any Host is answered. The real
API served by uvicorn on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fake_box import API_TOKEN, AUTH, FakeBox

from edge.api.app import create_app
from edge.api.server import ApiServer
from edge.core.config import ApiConfig


def _serve(box: FakeBox, cfg: ApiConfig) -> Iterator[str]:
    server = ApiServer(create_app(box, cfg, API_TOKEN), "127.0.0.1", 0)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def loopback(box: FakeBox) -> Iterator[str]:
    yield from _serve(box, ApiConfig(host="127.0.0.1", allowed_hosts=["meeting-room.local"]))


@pytest.fixture
def everywhere(box: FakeBox) -> Iterator[str]:
    yield from _serve(box, ApiConfig(host="0.0.0.0"))


def _get(url: str, host: str, path: str = "/api/v1/state") -> httpx.Response:
    return httpx.get(url + path, headers={**AUTH, "Host": host}, timeout=10)


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost", "LOCALHOST:1", "[::1]:8080", "meeting-room.local:80"])
def test_loopback_names_and_configured_names_are_answered(loopback: str, host: str) -> None:
    assert _get(loopback, host).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost.evil"])
def test_other_names_are_refused_everywhere_even_health_and_the_page(loopback: str, host: str) -> None:
    for path in ("/api/v1/state", "/api/v1/health", "/"):
        answer = _get(loopback, host, path)
        assert answer.status_code == 400, (path, answer.text)
        assert "api.allowed_hosts" in answer.json()["detail"]


def test_a_box_on_every_interface_without_names_answers_any_host(everywhere: str) -> None:
    assert _get(everywhere, "192.168.0.20:8080").status_code == 200
    assert _get(everywhere, "meeting-room.local").status_code == 200
