"""Test helpers around a REAL mosquitto broker on a loopback port.

- `Broker`: mosquitto with persistence in a writable tmp dir (autosaved every second), stop (SIGTERM,
  saves), kill (SIGKILL, keeps only what was autosaved), restart on the same port, optional ACL.
- `Subscriber`: an independent MQTT 5 client with a persistent session (clean_start=False, session
  expiry > 0) that records every message it receives and resubscribes after reconnects.
- `publisher_harness_main`: a tiny "box" process (Store + MqttPublisher, committing paced segments)
  for kill -9 tests; `spawn_publisher_harness` starts it. `edge run` can replace it later.

Paho is imported here as well as in edge/publish/mqtt.py: the subscriber must be independent of the code
under test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.core.events import PAYLOAD_VERSION, BoxState

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or shutil.which("mosquitto", path=os.pathsep.join(["/usr/sbin", "/sbin"]))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class Broker:
    """One mosquitto process; its port stays the same across stop/kill and start."""

    def __init__(
        self, workdir: Path, *, acl: str | None = None, users: dict[str, str] | None = None, extra: str = ""
    ) -> None:
        """`extra`: configuration lines appended as they are (a bridge, for example)."""
        binary = mosquitto_binary()
        if binary is None:
            raise RuntimeError("mosquitto is not installed (Debian package `mosquitto`)")
        self.binary = binary
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.dir / "data"
        self.data_dir.mkdir(exist_ok=True)
        self.acl = acl
        self.users = users
        self.extra = extra
        self.port = 0
        self.started_ns = 0
        self.process: subprocess.Popen | None = None

    @property
    def db_file(self) -> Path:
        return self.data_dir / "mosquitto.db"

    @property
    def log_file(self) -> Path:
        return self.dir / "mosquitto.log"

    def _write_config(self) -> Path:
        lines = [
            f"listener {self.port} {HOST}",
            "persistence true",
            f"persistence_location {self.data_dir}/",
            "persistence_file mosquitto.db",
            # Save after every change: mosquitto acknowledges a QoS 1 message before it is on disk, so
            # with a timed autosave a broker killed -9 loses what it acknowledged since the last save.
            "autosave_on_changes true",
            "autosave_interval 1",
            "max_queued_messages 100000",
            "set_tcp_nodelay true",
            f"log_dest file {self.log_file}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
        ]
        if os.geteuid() == 0:
            # As root, mosquitto would switch to user `mosquitto`, which cannot write the data dir:
            # persistence would then silently do nothing.
            lines.append("user root")
        if self.users:
            password_file = self.dir / "passwords"
            password_file.write_text("")
            for user, password in self.users.items():
                subprocess.run(
                    [shutil.which("mosquitto_passwd") or "mosquitto_passwd", "-b", str(password_file), user, password],
                    check=True, capture_output=True,
                )
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines.append("allow_anonymous true")
        if self.acl is not None:
            acl_file = self.dir / "acl"
            acl_file.write_text(self.acl)
            lines.append(f"acl_file {acl_file}")
        conf = self.dir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n" + self.extra)
        return conf

    def start(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("broker already running")
        first_start = not self.port
        for _ in range(5 if first_start else 1):
            if first_start:
                self.port = free_port()
            conf = self._write_config()
            self.started_ns = time.time_ns()
            process = subprocess.Popen(
                [self.binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            self.process = process
            wait_until(lambda p=process: p.poll() is not None or self._accepting(), timeout)
            if process.poll() is None and self._accepting():
                return
            process.kill()
            process.wait(10)
        raise RuntimeError(f"mosquitto did not start on port {self.port}: {self.log_tail()}")

    def _accepting(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM: mosquitto saves its database and exits (a clean broker restart)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def kill(self) -> None:
        """SIGKILL: whatever was not autosaved is lost, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> None:
        self.start()

    def wipe(self) -> None:
        """Forget everything persisted (a replaced broker); only while stopped."""
        self.db_file.unlink(missing_ok=True)

    def wait_saved(self, timeout: float = 10.0) -> bool:
        """Wait until the broker has saved since it started (it saves on every change, so sessions and
        subscriptions made before this call are then on disk)."""
        return wait_until(
            lambda: self.db_file.exists() and self.db_file.stat().st_mtime_ns > self.started_ns, timeout, 0.05
        )

    def log_tail(self, chars: int = 2000) -> str:
        return self.log_file.read_text(errors="replace")[-chars:] if self.log_file.exists() else "(no log)"

    def close(self) -> None:
        self.kill()


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    at: float = 0.0  # time.time() of arrival

    def json(self) -> dict:
        return json.loads(self.payload)


class Subscriber:
    """An MQTT 5 client with a persistent session that records what it receives."""

    def __init__(
        self,
        broker: Broker,
        topics: Iterable[str] = ("#",),
        *,
        client_id: str = "test-subscriber",
        session_expiry_s: int = 3600,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.broker = broker
        self.topics = list(topics)
        self.messages: list[Received] = []
        self.connects = 0
        self.session_present: list[bool] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1)  # type: ignore[arg-type]
        if username:
            self.client.username_pw_set(username, password)
        self._properties = Properties(PacketTypes.CONNECT)
        self._properties.SessionExpiryInterval = session_expiry_s

    def start(self, timeout: float = 10.0) -> Subscriber:
        self.client.connect_async(HOST, self.broker.port, keepalive=5, clean_start=False, properties=self._properties)
        self.client.loop_start()
        if not self._subscribed.wait(timeout):
            raise RuntimeError("subscriber did not connect and subscribe")
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            return
        self.connects += 1
        self.session_present.append(bool(flags.session_present))
        client.subscribe([(topic, 1) for topic in self.topics])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self._subscribed.set()

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append(Received(message.topic, bytes(message.payload), bool(message.retain), time.time()))

    def received(self, topic: str | None = None) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if topic is None or m.topic == topic]

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 10.0) -> bool:
        return wait_until(lambda: predicate(self.received()), timeout)

    def wait_for_topic(self, topic: str, count: int = 1, timeout: float = 10.0) -> list[Received]:
        wait_until(lambda: len(self.received(topic)) >= count, timeout)
        return self.received(topic)

    def segments(self, meeting_id: str) -> Counter[int]:
        """How often each seq of a meeting arrived on its segment topic (above 1 is a duplicate)."""
        seqs: Counter[int] = Counter()
        for message in self.received():
            if message.topic.endswith(f"/meeting/{meeting_id}/segment"):
                body = message.json()
                assert body["meeting_id"] == meeting_id
                seqs[body["seq"]] += 1
        return seqs


class MiniBox:
    """A small BoxControl over a real Store and LiveBus, for tests of the MQTT publisher alone: it records
    every call and refuses as the box does (MeetingAlreadyRunning, NoMeetingRunning)."""

    def __init__(self, store, live) -> None:
        self.store = store
        self.live = live
        self.calls: list[tuple] = []
        self.meeting = None

    def start_meeting(self, *, title: str = "", language: str | None = None):
        from edge.pipeline.control import MeetingAlreadyRunning

        self.calls.append(("start", title, language))
        if self.meeting is not None:
            raise MeetingAlreadyRunning(f"meeting {self.meeting.id} is recording; stop it first")
        self.meeting = self.store.create_meeting(language=language or "ko", source="test", title=title)
        self.live.publish(self.box_state())
        return self.meeting

    def stop_meeting(self, meeting_id: str | None = None):
        from edge.pipeline.control import NoMeetingRunning

        self.calls.append(("stop", meeting_id))
        if self.meeting is None:
            raise NoMeetingRunning("no meeting is recording")
        meeting = self.store.end_meeting(self.meeting.id)
        self.meeting = None
        self.live.publish(self.box_state())
        return meeting

    def submit_file(self, path: Path, *, title: str = "", language: str | None = None):
        raise NotImplementedError

    @property
    def editing(self):
        from edge.pipeline.editing import Editing

        return Editing(self.store, glossary_changed=lambda: None)

    def box_state(self) -> BoxState:
        return BoxState("recording", self.meeting.id) if self.meeting is not None else BoxState("idle")

    def state(self) -> dict:
        return self.box_state().to_payload()

    def health(self) -> dict:
        return {"v": PAYLOAD_VERSION, "status": "ok", "rtf": 0.25, "drops": {"asr_utterances": 2, "capture": 1},
                "outbox_backlog": 0}


def db_counts(db: Path, meeting_id: str) -> tuple[int, int]:
    """(committed segments of the meeting, unsent outbox rows), read from another connection."""
    import sqlite3

    try:  # read-only: a plain connect would create an empty file where the harness is about to create its database
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    except sqlite3.OperationalError:
        return 0, 0
    try:
        segments = connection.execute("SELECT count(*) FROM segments WHERE meeting_id = ?", (meeting_id,)).fetchone()
        unsent = connection.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()
        return segments[0], unsent[0]
    except sqlite3.OperationalError:  # the harness has not created the schema yet
        return 0, 0
    finally:
        connection.close()


# The publishing "box" as a separate process, for kill -9.


def spawn_publisher_harness(
    db: Path,
    broker: Broker,
    *,
    device_id: str,
    meeting_id: str,
    commit_until: int = 0,
    pace_ms: float = 0.0,
    recover: bool = False,
    log_file: Path | None = None,
    room: str = "",
) -> subprocess.Popen:
    args = [
        sys.executable, str(Path(__file__).resolve()), "--db", str(db), "--port", str(broker.port),
        "--device", device_id, "--meeting", meeting_id, "--commit-until", str(commit_until),
        "--pace-ms", str(pace_ms), "--room", room,
    ]
    if recover:
        args.append("--recover")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    output = log_file.open("ab") if log_file else subprocess.DEVNULL
    try:
        return subprocess.Popen(args, env=env, stdout=output, stderr=subprocess.STDOUT)
    finally:
        if log_file:
            output.close()  # type: ignore[union-attr]


def publisher_harness_main(argv: list[str] | None = None) -> int:
    """Open the store, run MqttPublisher, commit paced segments of one meeting, publish until SIGTERM
    (clean stop) or SIGKILL. Prints `committed <seq> <Unix time>` per segment and `ready` once committing is done."""
    import logging

    from edge.core.config import DeviceConfig, MqttConfig
    from edge.core.live import LiveBus
    from edge.publish.mqtt import MqttPublisher
    from edge.store import MeetingNotFound, Store

    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--device", required=True)
    parser.add_argument("--meeting", required=True)
    parser.add_argument("--commit-until", type=int, default=0)
    parser.add_argument("--pace-ms", type=float, default=0.0)
    parser.add_argument("--recover", action="store_true")
    parser.add_argument("--room", default="")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(threadName)s %(name)s: %(message)s")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    store = Store(args.db)
    if args.recover:
        store.close_interrupted_meetings()
    cfg = MqttConfig(
        enabled=True, host=HOST, port=args.port, keepalive=5, reconnect_min_delay_s=0.2, reconnect_max_delay_s=1.0,
        stats_interval_s=5.0,
    )
    publisher = MqttPublisher(cfg, DeviceConfig(id=args.device, room=args.room), store, LiveBus())
    publisher.start()
    try:
        store.meeting(args.meeting)
    except MeetingNotFound:
        store.create_meeting(meeting_id=args.meeting, language="ko", source="test:harness")
    for seq in range(store.segment_count(args.meeting), args.commit_until):
        store.add_segment(args.meeting, t0_ms=seq * 1000, t1_ms=seq * 1000 + 900, text_raw=f"세그먼트 {seq} Kubernetes",
                          language="ko", confidence=0.9)
        publisher.notify()
        print(f"committed {seq} {time.time():.3f}", flush=True)
        if args.pace_ms:
            time.sleep(args.pace_ms / 1000)
    print("ready", flush=True)
    stop.wait()
    publisher.stop()
    store.close()
    return 0


def retained_on(
    broker: Broker, topic: str, sentinel: str, client_id: str, timeout: float = 60.0
) -> list[Received]:
    """What a new subscriber gets on `topic`: its retained message, if any. The broker sends retained
    messages filter by filter, in the order subscribed, so once the retained `sentinel` (a topic known to
    be retained, subscribed second) is in, anything retained on `topic` has arrived before it."""
    fresh = Subscriber(broker, [topic, sentinel], client_id=client_id, session_expiry_s=0).start()
    try:
        assert fresh.wait_for(lambda got: any(m.topic == sentinel for m in got), timeout)
        return fresh.received(topic)
    finally:
        fresh.stop()


@contextlib.contextmanager
def running(process: subprocess.Popen):
    """Kill a spawned process on the way out, whatever happened."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


if __name__ == "__main__":
    sys.exit(publisher_harness_main())
