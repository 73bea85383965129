"""MqttPublisher against a REAL mosquitto broker on loopback: topics, availability, state, discovery,
partials, stats, commands (valid, malformed, refused) and configuration errors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from mosquitto import Broker, MiniBox, Subscriber, free_port, mosquitto_binary, wait_until

from edge.core.config import DeviceConfig, MqttConfig
from edge.core.errors import ConfigError
from edge.core.events import HealthChanged, Partial
from edge.core.live import LiveBus
from edge.publish.mqtt import MqttPublisher
from edge.store import Store

pytestmark = pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed")

DEVICE = "room-1"
BASE = f"edge/{DEVICE}"


def mqtt_config(broker: Broker, **overrides) -> MqttConfig:
    fields = {"enabled": True, "host": "127.0.0.1", "port": broker.port, "keepalive": 5,
              "reconnect_min_delay_s": 0.2, "reconnect_max_delay_s": 1.0, **overrides}
    return MqttConfig(**fields)




@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "edge.db")
    yield store
    store.close()


@pytest.fixture
def subscriber(broker: Broker) -> Iterator[Subscriber]:
    subscriber = Subscriber(broker).start()
    yield subscriber
    subscriber.stop()


@pytest.fixture
def box(store: Store) -> MiniBox:
    return MiniBox(store, LiveBus())


@pytest.fixture
def publisher(broker: Broker, store: Store, box: MiniBox, subscriber: Subscriber) -> Iterator[MqttPublisher]:
    publisher = MqttPublisher(mqtt_config(broker, discovery=True, stats_interval_s=0.2), DeviceConfig(id=DEVICE,
                              room="회의실 A"), store, box.live, box)
    publisher.start()
    # `online` is announced after the box subscribed to its commands: from then on none is missed.
    assert subscriber.wait_for(lambda ms: any(m.topic == f"{BASE}/available" and m.payload == b"online" for m in ms))
    yield publisher
    publisher.stop()


def payloads(subscriber: Subscriber, topic: str) -> list[str]:
    return [m.payload.decode() for m in subscriber.received(topic)]


def test_segments_state_availability_and_discovery(
    broker: Broker, store: Store, subscriber: Subscriber, publisher: MqttPublisher
) -> None:
    meeting = store.create_meeting(language="ko", source="test")
    for seq in range(5):
        store.add_segment(meeting.id, t0_ms=seq * 1000, t1_ms=seq * 1000 + 800, text_raw=f"쿠버네티스 {seq}",
                          language="ko", confidence=0.5, text=f"Kubernetes {seq}")
        publisher.notify()
    topic = f"{BASE}/meeting/{meeting.id}/segment"
    received = subscriber.wait_for_topic(topic, count=5)
    bodies = [m.json() for m in received]
    assert [b["seq"] for b in bodies] == [0, 1, 2, 3, 4]
    expected = {"v": 1, "meeting_id": meeting.id, "seq": 0, "t0_ms": 0, "t1_ms": 800, "text": "Kubernetes 0",
                "text_raw": "쿠버네티스 0", "language": "ko", "confidence": 0.5}
    assert {key: bodies[0].get(key) for key in expected} == expected
    started = datetime.fromisoformat(meeting.started_at)
    assert [datetime.fromisoformat(b["t0_utc"]) - started for b in bodies] == [timedelta(seconds=s) for s in range(5)]
    assert not any(m.retain for m in received)
    assert wait_until(lambda: store.outbox_backlog() == 0, 10)
    assert subscriber.wait_for(lambda ms: any(m.topic == f"{BASE}/last_segment" for m in ms))
    assert json.loads(subscriber.received(f"{BASE}/last_segment")[-1].payload)["seq"] == 4

    # A late subscriber sees everything retained: availability, state, switch state, discovery (without the
    # opt-in last-segment sensor), last segment.
    late = Subscriber(broker, client_id="late").start()
    try:
        assert late.wait_for(lambda ms: len({m.topic for m in ms if m.topic.startswith("homeassistant/")}) == 5)
        assert late.wait_for(lambda ms: any(m.topic == f"{BASE}/last_segment" for m in ms))
        retained = {m.topic: m.payload.decode() for m in late.received() if m.retain}
    finally:
        late.stop()
    assert retained[f"{BASE}/available"] == "online"
    assert json.loads(retained[f"{BASE}/state"]) == {"v": 1, "state": "idle", "meeting_id": None}
    assert retained[f"{BASE}/recording/state"] == "OFF"
    switch = json.loads(retained[f"homeassistant/switch/{DEVICE}/recording/config"])
    assert switch["command_topic"] == f"{BASE}/recording/set"
    assert switch["availability_topic"] == f"{BASE}/available"
    assert switch["default_entity_id"] == "switch.room_1_recording" and "object_id" not in switch
    assert switch["device"]["suggested_area"] == "회의실 A"
    state = json.loads(retained[f"homeassistant/sensor/{DEVICE}/state/config"])
    assert (state["device_class"], state["options"]) == ("enum", ["idle", "recording", "processing"])
    assert f"homeassistant/sensor/{DEVICE}/last_segment/config" not in retained
    assert topic not in retained


def test_last_segment_sensor_is_opt_in_and_cleared_when_turned_off(
    broker: Broker, store: Store, box: MiniBox
) -> None:
    config_topic = f"homeassistant/sensor/{DEVICE}/last_segment/config"

    def retained_config() -> list[bytes]:
        fresh = Subscriber(broker, [config_topic, f"{BASE}/available"], client_id="ha", session_expiry_s=0).start()
        try:
            assert fresh.wait_for(lambda ms: any(m.topic == f"{BASE}/available" for m in ms))
            return [m.payload for m in fresh.received(config_topic)]
        finally:
            fresh.stop()

    for last_segment, expected in ((True, 1), (False, 0)):
        publisher = MqttPublisher(mqtt_config(broker, discovery=True, discovery_last_segment=last_segment),
                                  DeviceConfig(id=DEVICE), store, box.live, box)  # fmt: skip
        publisher.start()
        try:
            assert wait_until(lambda: publisher.connected, 10)  # noqa: B023
            assert wait_until(lambda: len(retained_config()) == expected, 10)  # noqa: B023
        finally:
            publisher.stop()


def test_retained_minutes_and_names_are_cleared_after_their_retention(
    broker: Broker, store: Store, box: MiniBox, subscriber: Subscriber
) -> None:
    meeting = store.create_meeting(language="ko", source="test")
    store.end_meeting(meeting.id)
    store.enqueue("minutes", meeting.id, {"v": 1, "meeting_id": meeting.id, "summary": "배포 일정 확정"})
    named = [{"label": "S1", "name": "김민수"}]
    store.enqueue("speakers", meeting.id, {"v": 1, "meeting_id": meeting.id, "speakers": named})
    topic = f"{BASE}/meeting/{meeting.id}/minutes"
    names = f"{BASE}/meeting/{meeting.id}/speakers"
    publisher = MqttPublisher(mqtt_config(broker, minutes_retain_days=0.5 / 86_400), DeviceConfig(id=DEVICE),
                              store, box.live, box)  # fmt: skip
    publisher.start()
    try:
        [minutes] = subscriber.wait_for_topic(topic)
        assert minutes.json()["summary"] == "배포 일정 확정"
        assert wait_until(lambda: store.outbox_backlog() == 0, 10)
    finally:
        publisher.stop()
    time.sleep(0.6)  # older than the retention (half a second here, 30 days by default)
    publisher = MqttPublisher(mqtt_config(broker, minutes_retain_days=0.5 / 86_400), DeviceConfig(id=DEVICE),
                              store, box.live, box)  # fmt: skip
    publisher.start()  # looked over at every connect, then hourly
    try:
        assert subscriber.wait_for(lambda ms: [m.payload for m in ms if m.topic == topic][-1:] == [b""])
        assert subscriber.wait_for(lambda ms: [m.payload for m in ms if m.topic == names][-1:] == [b""])
        assert wait_until(lambda: store.outbox_backlog() == 0, 10)
    finally:
        publisher.stop()
    fresh = Subscriber(broker, [topic, names, f"{BASE}/available"], client_id="late", session_expiry_s=0).start()
    try:
        assert fresh.wait_for(lambda ms: any(m.topic == f"{BASE}/available" for m in ms))
        assert fresh.received(topic) == [] and fresh.received(names) == []  # nothing retained any more
    finally:
        fresh.stop()
    assert store.expire_retained_minutes(0.5 / 86_400) == []  # cleared once, not again


def test_partials_are_qos0_and_stats_carry_health(
    store: Store, box: MiniBox, subscriber: Subscriber, publisher: MqttPublisher
) -> None:
    box.live.publish(Partial("m-1", 3, 0, 500, stable="안녕", unstable="하세요"))
    [partial] = subscriber.wait_for_topic(f"{BASE}/meeting/m-1/partial")
    assert partial.json()["stable"] == "안녕"
    [stats, *_] = subscriber.wait_for_topic(f"{BASE}/stats")
    body = stats.json()
    assert (body["rtf"], body["drops_total"], body["outbox_backlog"]) == (0.25, 3, 0)
    assert body["mqtt"]["connected"] is True


def test_commands_start_and_stop_a_meeting(
    store: Store, box: MiniBox, subscriber: Subscriber, publisher: MqttPublisher
) -> None:
    subscriber.client.publish(f"{BASE}/recording/set", "ON", qos=1)
    assert subscriber.wait_for(lambda ms: b"ON" in [m.payload for m in ms if m.topic == f"{BASE}/recording/state"])
    assert box.meeting is not None
    states = [json.loads(p) for p in payloads(subscriber, f"{BASE}/state")]
    assert {"v": 1, "state": "recording", "meeting_id": box.meeting.id} in states

    subscriber.client.publish(f"{BASE}/recording/set", '{"action": "stop"}', qos=1)
    assert wait_until(lambda: box.meeting is None, 10)
    subscriber.client.publish(f"{BASE}/recording/set", '{"action": "start", "title": "주간 회의", "language": "en"}',
                              qos=1)
    assert wait_until(lambda: box.meeting is not None, 10)
    assert box.calls == [("start", "", None), ("stop", None), ("start", "주간 회의", "en")]
    assert store.meeting(box.meeting.id).title == "주간 회의"
    assert subscriber.received(f"{BASE}/error") == []


def test_malformed_and_refused_commands_change_nothing_and_report_errors(
    store: Store, box: MiniBox, subscriber: Subscriber, publisher: MqttPublisher
) -> None:
    malformed = [b"", b"MAYBE", b"{not json", b'{"action": "dance"}', b"[1, 2]", b"\xff\xfe",
                 b'{"action": "start", "title": 5}', b'{"action": "start", "evil": true}', b"x" * 10_000]
    for payload in malformed:
        subscriber.client.publish(f"{BASE}/recording/set", payload, qos=1)
    errors = subscriber.wait_for_topic(f"{BASE}/error", count=len(malformed))
    assert len(errors) == len(malformed)
    assert box.calls == []
    assert store.meetings() == []
    bodies = [e.json() for e in errors]
    assert all(b["v"] == 1 and b["topic"] == f"{BASE}/recording/set" and b["error"] for b in bodies)
    assert "invalid JSON" in bodies[2]["error"]
    assert "unknown action" in bodies[3]["error"]
    assert len(bodies[-1]["payload"]) <= 200
    assert publisher.counters.command_errors == len(malformed)

    # Refused by the box: nothing is running to stop, or a meeting is already running.
    subscriber.client.publish(f"{BASE}/recording/set", "OFF", qos=1)
    errors = subscriber.wait_for_topic(f"{BASE}/error", count=len(malformed) + 1)
    assert "no meeting is recording" in errors[-1].json()["error"]
    subscriber.client.publish(f"{BASE}/recording/set", "ON", qos=1)
    assert wait_until(lambda: box.meeting is not None, 10)
    subscriber.client.publish(f"{BASE}/recording/set", "ON", qos=1)
    errors = subscriber.wait_for_topic(f"{BASE}/error", count=len(malformed) + 2)
    assert "is recording" in errors[-1].json()["error"]
    assert len(store.meetings()) == 1
    assert box.meeting is not None
    assert publisher.connected


def test_the_switch_state_is_published_again_after_every_command(
    box: MiniBox, subscriber: Subscriber, publisher: MqttPublisher
) -> None:
    """Home Assistant's switch moves as soon as it is flipped; a refused command must move it back."""
    switch_states = lambda: [m.payload for m in subscriber.received(f"{BASE}/recording/state")]  # noqa: E731
    before = len(switch_states())
    subscriber.client.publish(f"{BASE}/recording/set", "OFF", qos=1)  # refused: nothing is recording
    assert subscriber.wait_for(lambda _: len(switch_states()) > before)
    assert switch_states()[-1] == b"OFF"
    subscriber.client.publish(f"{BASE}/recording/set", b"MAYBE", qos=1)  # malformed
    assert subscriber.wait_for(lambda _: len(switch_states()) > before + 1)
    assert switch_states()[-1] == b"OFF" and box.meeting is None



def test_retained_command_is_not_replayed_on_connect(
    broker: Broker, store: Store, box: MiniBox, subscriber: Subscriber
) -> None:
    subscriber.client.publish(f"{BASE}/recording/set", "ON", qos=1, retain=True).wait_for_publish(5)
    publisher = MqttPublisher(mqtt_config(broker), DeviceConfig(id=DEVICE), store, box.live, box)
    publisher.start()
    try:
        [error] = subscriber.wait_for_topic(f"{BASE}/error")
        assert "retained commands are ignored" in error.json()["error"]
        assert box.calls == []
        assert store.meetings() == []
    finally:
        publisher.stop()

def test_clean_stop_publishes_offline_and_final_state(broker: Broker, store: Store, box: MiniBox) -> None:
    publisher = MqttPublisher(mqtt_config(broker), DeviceConfig(id=DEVICE), store, box.live, box)
    publisher.start()
    assert wait_until(lambda: publisher.connected, 10)
    box.start_meeting(title="t")
    publisher.stop()
    late = Subscriber(broker, client_id="after-stop").start()
    try:
        assert late.wait_for(lambda ms: {f"{BASE}/available", f"{BASE}/state"} <= {m.topic for m in ms})
        retained = {m.topic: m.payload.decode() for m in late.received() if m.retain}
    finally:
        late.stop()
    # A clean disconnect suppresses the last will: this "offline" is the explicit one.
    assert retained[f"{BASE}/available"] == "offline"
    assert json.loads(retained[f"{BASE}/state"])["state"] == "recording"


def test_retained_state_is_republished_after_reconnect(
    broker: Broker, store: Store, box: MiniBox, publisher: MqttPublisher
) -> None:
    box.start_meeting()
    broker.kill()
    broker.wipe()  # a replaced broker that remembers nothing retained
    broker.start()
    fresh = Subscriber(broker, client_id="fresh").start()
    try:
        # The broker was wiped: whatever arrives here (retained or live) was published again on reconnect.
        assert fresh.wait_for(lambda ms: {f"{BASE}/available", f"{BASE}/state", f"{BASE}/recording/state",
                                          f"homeassistant/switch/{DEVICE}/recording/config"}
                              <= {m.topic for m in ms})
        retained = {m.topic: m.payload.decode() for m in fresh.received()}
    finally:
        fresh.stop()
    assert retained[f"{BASE}/available"] == "online"
    assert json.loads(retained[f"{BASE}/state"]) == {"v": 1, "state": "recording", "meeting_id": box.meeting.id}
    assert retained[f"{BASE}/recording/state"] == "ON"
    assert publisher.counters.connects == 2


def test_absent_broker_neither_blocks_nor_loses(tmp_path: Path, store: Store) -> None:
    broker = Broker(tmp_path / "late-broker")
    broker.port = free_port()  # nothing listens there yet
    publisher = MqttPublisher(mqtt_config(broker), DeviceConfig(id=DEVICE), store, LiveBus())
    publisher.start()
    try:
        meeting = store.create_meeting(language="ko", source="test")
        for seq in range(3):
            store.add_segment(meeting.id, t0_ms=seq, t1_ms=seq + 1, text_raw="x", language="ko")
            publisher.notify()
        assert not publisher.connected
        assert store.outbox_backlog() == 3
        broker.start()
        subscriber = Subscriber(broker, client_id="late-sub").start()
        try:
            assert wait_until(lambda: store.outbox_backlog() == 0, 15)
            # Published before the subscriber existed and not retained: delivery is proved by the PUBACKs.
            assert publisher.counters.acked == 3
        finally:
            subscriber.stop()
    finally:
        publisher.stop()
        broker.close()


def test_disabled_publisher_does_nothing(tmp_path: Path, store: Store) -> None:
    publisher = MqttPublisher(MqttConfig(enabled=False), DeviceConfig(id=DEVICE), store, LiveBus())
    publisher.start()
    publisher.notify()
    assert not publisher.connected
    publisher.stop()


def test_password_from_file_authenticates(tmp_path: Path, store: Store) -> None:
    broker = Broker(tmp_path / "auth-broker", users={"box": "s3cret pass", "watcher": "w"})
    broker.start()
    password_file = tmp_path / "mqtt-password"
    password_file.write_text("s3cret pass\n")
    try:
        watcher = Subscriber(broker, client_id="watcher", username="watcher", password="w").start()
        publisher = MqttPublisher(mqtt_config(broker, username="box", password_file=password_file),
                                  DeviceConfig(id=DEVICE), store, LiveBus())
        publisher.start()
        try:
            assert wait_until(lambda: publisher.connected, 10)
            assert watcher.wait_for_topic(f"{BASE}/available")[-1].payload == b"online"
        finally:
            publisher.stop()
            watcher.stop()
    finally:
        broker.close()


def test_wrong_password_never_connects(tmp_path: Path, store: Store) -> None:
    broker = Broker(tmp_path / "auth-broker", users={"box": "right"})
    broker.start()
    password_file = tmp_path / "mqtt-password"
    password_file.write_text("wrong\n")
    publisher = MqttPublisher(mqtt_config(broker, username="box", password_file=password_file),
                              DeviceConfig(id=DEVICE), store, LiveBus())
    try:
        publisher.start()
        assert wait_until(lambda: publisher.counters.connect_failures >= 2, 10)
        assert "Not authorized" in publisher.counters.last_connect_error
        assert not publisher.connected
    finally:
        publisher.stop()
        broker.close()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"username": "box", "password_file": Path("missing-password")}, "mqtt.password_file .*missing-password"),
        ({"password_file": Path("pw")}, "mqtt.username"),
        ({"ca_file": Path("ca.pem")}, "mqtt.tls"),
        ({"tls": True, "ca_file": Path("no-such-ca.pem")}, "mqtt.ca_file .*no-such-ca.pem"),
        ({"tls": True, "ca_file": Path("not-a-cert.pem")}, "TLS files cannot be loaded"),
    ],
)
def test_configuration_errors_name_the_setting(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch, overrides: dict, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pw").write_text("x")
    (tmp_path / "not-a-cert.pem").write_text("not a certificate")
    cfg = MqttConfig(enabled=True, port=free_port(), **overrides)
    publisher = MqttPublisher(cfg, DeviceConfig(id=DEVICE), store, LiveBus())
    with pytest.raises(ConfigError, match=message):
        publisher.start()
    publisher.stop()


def test_a_health_change_is_told_on_error_and_in_stats_at_once(
    broker: Broker, store: Store, box: MiniBox, subscriber: Subscriber
) -> None:
    # Stats every 10 minutes: a full disk must not wait for the next round (issue 17, finding 2).
    publisher = MqttPublisher(mqtt_config(broker, stats_interval_s=600), DeviceConfig(id=DEVICE), store, box.live, box)
    publisher.start()
    try:
        assert subscriber.wait_for(lambda ms: any(m.topic == f"{BASE}/available" for m in ms))
        full = {"code": "disk_full", "severity": "error", "message": "disk full: 3 MB free", "free_mb": 3.0}
        box.live.publish(HealthChanged("error", (full,)))
        [error] = subscriber.wait_for_topic(f"{BASE}/error")
        assert error.json() == {"v": 1, "status": "error", "error": "disk full: 3 MB free", "problems": [full]}
        assert subscriber.wait_for_topic(f"{BASE}/stats"), "stats were not published on the change"
        box.live.publish(HealthChanged("ok"))
        errors = subscriber.wait_for_topic(f"{BASE}/error", count=2)
        assert errors[1].json() == {"v": 1, "status": "ok", "error": "", "problems": []}
        assert len(subscriber.wait_for_topic(f"{BASE}/stats", count=2)) == 2
    finally:
        publisher.stop()
