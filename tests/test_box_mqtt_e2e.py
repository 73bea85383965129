"""The real box (`edge run` as a subprocess, API and MQTT enabled) against a real mosquitto broker:
meetings imported through the API are published; the box is killed -9 mid-way, once with the broker
down, and restarted; the subscriber must receive every (meeting_id, seq). Then commands over MQTT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from mosquitto import Broker, Subscriber, free_port, wait_until

DEVICE = "e2e-box"
BASE = f"edge/{DEVICE}"
SEGMENTS_PER_IMPORT = 30


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    broker = Broker(tmp_path / "broker")
    broker.start()
    yield broker
    broker.close()


def vtt(index: int) -> bytes:
    cues = [
        f"{i // 60:02d}:{i % 60:02d}.000 --> {i // 60:02d}:{i % 60:02d}.900\n"
        f"회의 {index}의 {i}번째 문장입니다 API 배포 확인\n"
        for i in range(SEGMENTS_PER_IMPORT)
    ]
    return ("WEBVTT\n\n" + "\n".join(cues)).encode()


class BoxProcess:
    def __init__(self, tmp_path: Path, broker: Broker, fixture_file: Callable[[str], Path], whisper: Path) -> None:
        self.port = free_port()
        self.config = tmp_path / "edge.toml"
        self.config.write_text(
            f"""
[device]
id = "{DEVICE}"
[audio]
source = "file:{fixture_file('audio/jfk.wav')}"
[vad]
model_path = "{fixture_file('models/silero_vad_v6.2.onnx')}"
[asr]
model_path = "{whisper}"
language = "en"
threads = 1
max_tokens = 8
temperature_inc = 0.0
[meeting]
auto_start = false
[storage]
path = "{tmp_path / 'data'}"
[api]
port = {self.port}
token_file = "{tmp_path / 'token'}"
[mqtt]
enabled = true
port = {broker.port}
""",
            encoding="utf-8",
        )
        self.token_file = tmp_path / "token"
        self.log = tmp_path / "box.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edge", "run", "--config", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        assert wait_until(self._healthy, 60), self.log.read_text()[-3000:]

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/api/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def client(self) -> httpx.Client:
        token = self.token_file.read_text().strip()
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}/api/v1",
                            headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def import_meeting(self, index: int) -> str:
        with self.client() as client:
            response = client.post("/import", files={"file": (f"meeting-{index}.vtt", vtt(index), "text/vtt")})
        assert response.status_code == 201, response.text
        return response.json()["meeting"]["id"]

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)


def arrived(subscriber: Subscriber) -> set[tuple[str, int]]:
    pairs = set()
    for message in subscriber.received():
        if message.topic.endswith("/segment"):
            body = message.json()
            pairs.add((body["meeting_id"], body["seq"]))
    return pairs


def test_box_killed_9_mid_way_with_and_without_broker_loses_nothing(
    tmp_path: Path, broker: Broker, fixture_file: Callable[[str], Path], random_whisper_tiny: Path
) -> None:
    subscriber = Subscriber(broker, [f"{BASE}/#"], client_id="building-system").start()
    assert broker.wait_saved()  # the durable subscription must be on the broker's disk before it is killed
    box = BoxProcess(tmp_path, broker, fixture_file, random_whisper_tiny)
    committed: list[str] = []
    box.start()
    committed += [box.import_meeting(i) for i in range(3)]
    box.kill()  # 1: killed while (or right after) publishing, broker up

    box.start()
    committed.append(box.import_meeting(3))
    # mosquitto acknowledges before it saves, so a broker killed -9 can lose its last message: that is
    # the broker's durability, not the box's. Let it deliver, then take it down.
    assert wait_until(lambda: {(committed[3], seq) for seq in range(SEGMENTS_PER_IMPORT)} <= arrived(subscriber), 30)
    broker.kill()
    committed += [box.import_meeting(i) for i in (4, 5)]  # committed while the broker is down
    box.kill()  # 2: killed with unacknowledged rows and no broker

    broker.start()
    box.start()
    committed += [box.import_meeting(i) for i in (6, 7)]
    expected = {(meeting_id, seq) for meeting_id in committed for seq in range(SEGMENTS_PER_IMPORT)}
    assert len(expected) >= 200
    missing = lambda: sorted((committed.index(m), seq) for m, seq in expected - arrived(subscriber))  # noqa: E731
    assert wait_until(lambda: not missing(), 60), f"(import, seq) missing: {missing()[:10]}"
    assert box.terminate() == 0
    assert [m.payload for m in subscriber.received(f"{BASE}/available")][-1] == b"offline"
    subscriber.stop()


def test_recording_commands_over_mqtt_drive_the_real_box(
    tmp_path: Path, broker: Broker, fixture_file: Callable[[str], Path], random_whisper_tiny: Path
) -> None:
    subscriber = Subscriber(broker, [f"{BASE}/#"], client_id="room-panel").start()
    box = BoxProcess(tmp_path, broker, fixture_file, random_whisper_tiny)
    box.start()
    command = f"{BASE}/recording/set"
    for bad in (b"{not json", b'{"action": "dance"}', b"\xff\xfe", b'{"action": "stop"}'):
        subscriber.client.publish(command, bad, qos=1).wait_for_publish(5)
    assert len(subscriber.wait_for_topic(f"{BASE}/error", count=4, timeout=20)) >= 4
    with box.client() as client:
        assert client.get("/state").json()["state"] == "idle"
    subscriber.client.publish(command, b"ON", qos=1).wait_for_publish(5)
    states = lambda: [json.loads(m.payload)["state"] for m in subscriber.received(f"{BASE}/state")]  # noqa: E731
    assert wait_until(lambda: "recording" in states(), 20), box.log.read_text()[-2000:]
    subscriber.client.publish(command, b"OFF", qos=1).wait_for_publish(5)
    assert wait_until(lambda: states()[-1] == "idle", 60), states()
    with box.client() as client:
        [meeting] = client.get("/meetings").json()["items"]
    assert meeting["status"] == "stopped"
    assert box.terminate() == 0
    subscriber.stop()
