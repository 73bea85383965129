"""The real box as a subprocess (`edge run`), with the API on a free loopback port, for end-to-end tests.
The models are the fixture Silero VAD and a random-weight whisper tiny; `extra` adds TOML sections."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from mosquitto import free_port, wait_until

START_S = 60  # upper bound for the box to come up, not a performance expectation


class BoxProcess:
    def __init__(
        self, tmp_path: Path, *, device: str, vad_model: Path, whisper: Path, mqtt_port: int | None, extra: str = "",
        mqtt_settings: str = "",
    ) -> None:
        self.port = free_port()
        self.token_file = tmp_path / "token"
        self.data = tmp_path / "data"
        self.log = tmp_path / "box.log"
        self.config = tmp_path / "edge.toml"
        mqtt = f"[mqtt]\nenabled = true\nport = {mqtt_port}\n{mqtt_settings}" if mqtt_port else ""
        self.config.write_text(
            f"""
[device]
id = "{device}"
[vad]
model_path = "{vad_model}"
[asr]
model_path = "{whisper}"
language = "en"
threads = 1
max_tokens = 8
temperature_inc = 0.0
[meeting]
auto_start = false
[storage]
path = "{self.data}"
[api]
port = {self.port}
token_file = "{self.token_file}"
{mqtt}{extra}""",
            encoding="utf-8",
        )
        self.process: subprocess.Popen | None = None
        self.env: dict[str, str] = {}  # added to the box's environment

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edge", "run", "--config", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            )  # fmt: skip
        assert wait_until(self._healthy, START_S), self.log.read_text()[-3000:]

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/api/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def client(self) -> httpx.Client:
        token = self.token_file.read_text().strip()
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def import_transcript(self, name: str, content: bytes) -> str:
        with self.client() as client:
            response = client.post("/import", files={"file": (name, content, "text/vtt")})
        assert response.status_code == 201, response.text
        return response.json()["meeting"]["id"]

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)
