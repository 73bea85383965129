"""The LLM on a server of the LAN, against a real one: llama-cpp-python's own OpenAI-compatible server
(`python -m llama_cpp.server`) on loopback with the real Gemma 3 270M from `make setup`.

- The engine: token counts from the server's tokenizer, JSON through the response format the server
  accepts, text streamed piece by piece; segment corrections of a Korean meeting reach a verdict through it.
- The box (`edge run`, llm.backend = "openai"): the minutes of an imported Korean meeting go to the server,
  which is killed -9 in the middle of them: the box writes the extractive minutes and says why, health says
  the server is unreachable; the server comes back: health says so and the minutes are written again
  through it.
- The box's own model (the fixture stories260K) answers while the server is down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from mosquitto import free_port, wait_until

from edge.llm.correction_stage import correct_pending
from edge.llm.engine import LlmEngine, LlmUnavailable
from edge.llm.failover import FailoverEngine
from edge.llm.remote import RemoteEngine
from edge.store import Store

pytestmark = pytest.mark.slow

START_S = 90  # upper bounds for a server or the box to react, not performance expectations
WAIT_S = 180
KOREAN_LINES = (
    "좋은 아침입니다, 주간 인프라 회의를 시작하겠습니다.",
    "첫 번째 안건은 쿠버네티스 클러스터 업그레이드입니다.",
    "스테이징은 어제 올렸는데 파드가 가끔 재시작됩니다.",
    "재시작 문제가 해결된 뒤에 프로덕션을 올리기로 했습니다.",
    "김민수 님, 다음 주 수요일까지 원인을 찾아 주실 수 있나요?",
    "네, 수요일까지 깃허브 이슈로 정리하겠습니다.",
)
KOREAN_VTT = "WEBVTT\n\n" + "\n".join(
    f"00:00:{i * 5:02d}.000 --> 00:00:{i * 5 + 4:02d}.000\n{line}\n" for i, line in enumerate(KOREAN_LINES)
)


class LlmServer:
    """`python -m llama_cpp.server` on a loopback port; its log (requests included) in `log`."""

    def __init__(self, model: Path, workdir: Path) -> None:
        self.model = model
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "llm-server.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> LlmServer:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--host", "127.0.0.1",
                 "--port", str(self.port), "--n_ctx", "2048", "--n_threads", "2"],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        assert wait_until(self.up, START_S, interval=0.2), self.log.read_text()[-3000:]
        return self

    def up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/v1/models", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def chat_requests(self) -> int:
        return self.log.read_text(errors="replace").count("POST /v1/chat/completions")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def server(tmp_path: Path, dev_model: Callable[[str], Path]) -> Iterator[LlmServer]:
    server = LlmServer(dev_model("gemma-3-270m-q4_k_m.gguf"), tmp_path).start()
    yield server
    server.kill()


def korean_meeting(store: Store, lines: tuple[str, ...]) -> str:
    meeting = store.create_meeting(language="ko", source="test", title="주간 인프라 회의")
    for i, line in enumerate(lines):
        store.add_segment(meeting.id, t0_ms=i * 5000, t1_ms=i * 5000 + 4000, text_raw=line, language="ko")
    store.end_meeting(meeting.id)
    return meeting.id


def test_the_engine_counts_streams_and_corrects_through_the_server(tmp_path: Path, server: LlmServer) -> None:
    engine = RemoteEngine(server.url, n_ctx=2048)
    try:
        assert engine.count_tokens("쿠버네티스 클러스터") == len(
            httpx.post(f"{server.url}/extras/tokenize", json={"input": "쿠버네티스 클러스터"}, timeout=10)
            .json()["tokens"]
        )
        pieces: list[str] = []
        schema = {"type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"]}
        result = engine.chat_json([{"role": "user", "content": "회의 요약: 배포는 금요일입니다."}], schema,
                                  max_tokens=48, on_token=pieces.append)  # fmt: skip
        assert "".join(pieces) == result.text and len(pieces) > 1  # streamed piece by piece
        assert result.text.lstrip().startswith("{")  # constrained by the server (json_object with the schema)

        store = Store(tmp_path / "edge.db")
        lines = KOREAN_LINES[1:3]  # one batch: a 270M base model on two shared cores is slow
        meeting_id = korean_meeting(store, lines)
        before = server.chat_requests()
        looked_at = correct_pending(engine, store, meeting_id, protected_terms=lambda: ["Kubernetes"],
                                    keep_going=lambda: True, batch_size=len(lines))  # fmt: skip
        assert looked_at == len(lines)
        assert store.segments_awaiting_llm(meeting_id, limit=10) == []  # every segment has the server's verdict
        assert server.chat_requests() > before
        store.close()
    finally:
        engine.close()


def test_an_unreachable_server_raises_unavailable_and_the_local_model_stands_in(
    server: LlmServer, fixture_file: Callable[[str], Path]
) -> None:
    stories = fixture_file("models/stories260K.gguf").resolve()
    came_back: list[bool] = []
    failover = FailoverEngine(RemoteEngine(server.url, n_ctx=2048, timeout_s=10),
                              local=lambda: LlmEngine(stories, n_ctx=512, threads=1), retry_s=0.2,
                              on_back=lambda: came_back.append(True))  # fmt: skip
    schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    messages = [{"role": "user", "content": "Once upon a time"}]
    try:
        assert failover.chat_json(messages, schema, max_tokens=16).text
        assert failover.health()["server_state"] == "ok" and failover.fallbacks == 0
        server.kill()
        with pytest.raises(LlmUnavailable, match="cannot be reached"):
            RemoteEngine(server.url, n_ctx=2048).chat_json(messages, schema, max_tokens=16)
        assert failover.chat_json(messages, schema, max_tokens=16).finish_reason in ("stop", "length")
        health = failover.health()
        assert (health["server_state"], health["answering"], failover.fallbacks) == ("unreachable", "local", 1)
        server.start()
        assert wait_until(lambda: failover.health()["server_state"] == "ok", START_S)
        assert came_back == [True]
    finally:
        failover.close()


def test_the_box_falls_back_when_the_server_dies_mid_minutes_and_redoes_them_when_it_returns(
    server: LlmServer, box_process
) -> None:
    box = box_process(device="lan-llm-box", extra=f"""
[llm]
backend = "openai"
base_url = "{server.url}"
n_ctx = 2048
timeout_s = 30
retry_s = 1
correction = false
[minutes]
max_attempts = 1
output_tokens = 256
""")
    box.start()
    with box.client() as client:
        meeting_id = box.import_transcript("주간회의.vtt", KOREAN_VTT.encode())
        # The minutes (minutes.auto) go to the server: killed -9 as soon as their first request arrived.
        assert wait_until(lambda: server.chat_requests() >= 1, WAIT_S, interval=0.05), box.log.read_text()[-3000:]
        server.kill()
        status = lambda: client.get(f"/meetings/{meeting_id}/minutes/status").json()  # noqa: E731
        assert wait_until(lambda: status()["status"] not in ("none", "generating"), WAIT_S), box.log.read_text()[-3000:]
        fallback = client.get(f"/meetings/{meeting_id}/minutes").json()
        llm = client.get("/health").json()["llm"]
        assert fallback["minutes"]["model"] == "extractive" and "cannot be reached" in fallback["error"], fallback
        assert (llm["backend"], llm["server_state"], llm["answering"]) == ("openai", "unreachable", "nobody"), llm
        print("\nhealth llm while the server is down:", llm, "\nminutes error:", fallback["error"])

        requests_before = server.chat_requests()
        server.start()
        assert wait_until(lambda: client.get("/health").json()["llm"]["server_state"] == "ok", WAIT_S)
        # Written again through the server: new requests, and the reason is no longer the dead server.
        assert wait_until(lambda: server.chat_requests() > requests_before, WAIT_S), box.log.read_text()[-3000:]
        assert wait_until(lambda: "cannot be reached" not in (status()["error"] or "")
                          and status()["status"] not in ("none", "generating"), WAIT_S), box.log.read_text()[-3000:]
        print("health llm after it came back:", client.get("/health").json()["llm"])
    log = box.log.read_text()
    assert "answers again after" in log and "LLM work waits" in log
    print("\n".join(line for line in log.splitlines() if "LLM" in line or "llm" in line))
