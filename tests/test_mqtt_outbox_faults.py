"""The outbox under faults, with a REAL mosquitto (persistence on) and a subscriber with a persistent
MQTT 5 session: broker killed -9 mid-meeting, publishing process killed -9 mid-meeting (also while
the broker is down), the last will, and a failed PUBACK (0x87 from an ACL) that must leave rows unsent.

Counts of received and duplicate segments are printed (`pytest -s` shows them)."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mosquitto import (
    Broker,
    Subscriber,
    db_counts,
    mosquitto_binary,
    running,
    spawn_publisher_harness,
    wait_until,
)

from edge.core.config import DeviceConfig, MqttConfig
from edge.core.live import LiveBus
from edge.publish.mqtt import MqttPublisher
from edge.store import Store

pytestmark = pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed")

DEVICE = "faulty-box"
BASE = f"edge/{DEVICE}"
MEETING_ID = "20250101-090000-beef"




@pytest.fixture
def subscriber(broker: Broker) -> Iterator[Subscriber]:
    subscriber = Subscriber(broker, [f"{BASE}/#"], client_id="durable-consumer").start()
    # The subscription must be on the broker's disk before the broker is killed.
    assert broker.wait_saved()
    yield subscriber
    subscriber.stop()


def mqtt_config(broker: Broker) -> MqttConfig:
    return MqttConfig(enabled=True, host="127.0.0.1", port=broker.port, keepalive=5, reconnect_min_delay_s=0.2,
                      reconnect_max_delay_s=1.0)


def commit(store: Store, meeting_id: str, seq: int) -> None:
    store.add_segment(meeting_id, t0_ms=seq * 1000, t1_ms=seq * 1000 + 900, text_raw=f"세그먼트 {seq}", language="ko")


def report(name: str, received: dict[int, int], committed: int) -> tuple[set[int], int]:
    missing = set(range(committed)) - set(received)
    duplicates = sum(count - 1 for count in received.values())
    print(f"\n[{name}] committed={committed} received_distinct={len(received)} missing={len(missing)} "
          f"duplicates={duplicates}")
    return missing, duplicates


def test_broker_killed_mid_meeting_loses_no_segment(tmp_path: Path, broker: Broker, subscriber: Subscriber) -> None:
    total, kill_at, restart_at = 240, 80, 160
    store = Store(tmp_path / "edge.db")
    publisher = MqttPublisher(mqtt_config(broker), DeviceConfig(id=DEVICE), store, LiveBus())
    publisher.start()
    try:
        assert wait_until(lambda: publisher.connected, 10)
        meeting = store.create_meeting(meeting_id=MEETING_ID, language="ko", source="test")
        backlog_while_down = 0
        for seq in range(total):
            if seq == kill_at:
                broker.kill()
            if seq == restart_at:
                backlog_while_down = store.outbox_backlog()
                broker.start()
            commit(store, meeting.id, seq)
            publisher.notify()
            time.sleep(0.002)
        # Rows committed while the broker was dead cannot have been acknowledged: the fault was real.
        assert backlog_while_down >= restart_at - kill_at
        assert wait_until(lambda: len(subscriber.segments(meeting.id)) == total and store.outbox_backlog() == 0, 30)
    finally:
        publisher.stop()
        store.close()
    missing, _ = report("broker kill -9", subscriber.segments(meeting.id), total)
    assert not missing
    assert subscriber.session_present[1:] and all(subscriber.session_present[1:])


def test_publisher_process_killed_mid_meeting_loses_no_segment(
    tmp_path: Path, broker: Broker, subscriber: Subscriber
) -> None:
    db = tmp_path / "edge.db"
    log_file = tmp_path / "harness.log"
    total = 400

    def spawn(**kwargs):
        return running(spawn_publisher_harness(db, broker, device_id=DEVICE, meeting_id=MEETING_ID, log_file=log_file,
                                               **kwargs))

    def committed_at_least(n: int) -> bool:
        return db_counts(db, MEETING_ID)[0] >= n

    # 1. The box is killed -9 while publishing, broker up: in-flight rows were never marked.
    with spawn(commit_until=total, pace_ms=3) as first:
        assert wait_until(lambda: committed_at_least(100), 30), log_file.read_text()[-2000:]
        first.kill()
    # 2. Restarted, it continues; then the broker dies, and the box is killed -9 while the broker is down.
    with spawn(commit_until=total, pace_ms=3) as second:
        assert wait_until(lambda: committed_at_least(200), 30), log_file.read_text()[-2000:]
        broker.kill()
        committed_with_broker_dead = db_counts(db, MEETING_ID)[0]
        assert wait_until(lambda: committed_at_least(committed_with_broker_dead + 40), 30), log_file.read_text()[-2000:]
        second.kill()
    committed, unsent_at_kill = db_counts(db, MEETING_ID)
    # Rows committed after the broker was dead were never acknowledged: the fault was real.
    assert unsent_at_kill >= committed - committed_with_broker_dead >= 40
    # 3. Broker back, the box restarts: the interrupted meeting is closed and its outbox drains.
    broker.start()
    with spawn(recover=True) as third:
        assert wait_until(lambda: db_counts(db, MEETING_ID)[1] == 0, 30), log_file.read_text()[-2000:]
        assert wait_until(lambda: len(subscriber.segments(MEETING_ID)) >= committed, 30)
        assert third.poll() is None
    with sqlite3.connect(db) as connection:
        status = connection.execute("SELECT status FROM meetings WHERE id = ?", (MEETING_ID,)).fetchone()[0]
    assert status == "interrupted"
    missing, _ = report("publisher kill -9", subscriber.segments(MEETING_ID), committed)
    assert not missing
    assert set(subscriber.segments(MEETING_ID)) == set(range(committed))


def test_last_will_marks_a_killed_box_offline(tmp_path: Path, broker: Broker, subscriber: Subscriber) -> None:
    available = f"{BASE}/available"
    with running(spawn_publisher_harness(tmp_path / "edge.db", broker, device_id=DEVICE, meeting_id=MEETING_ID)) as box:
        assert wait_until(lambda: [m.payload for m in subscriber.received(available)][-1:] == [b"online"], 30)
        box.kill()
        assert wait_until(lambda: [m.payload for m in subscriber.received(available)][-1:] == [b"offline"], 30)
    late = Subscriber(broker, [available], client_id="late").start()
    try:
        assert late.wait_for(lambda ms: bool(ms))
        assert [(m.payload, m.retain) for m in late.received()] == [(b"offline", True)]
    finally:
        late.stop()


def test_failed_puback_leaves_rows_unsent_until_the_broker_accepts(tmp_path: Path) -> None:
    acl = f"topic readwrite #\ntopic deny {BASE}/meeting/+/segment\n"
    broker = Broker(tmp_path / "acl-broker", acl=acl)
    broker.start()
    store = Store(tmp_path / "edge.db")
    subscriber = Subscriber(broker, [f"{BASE}/#"], client_id="acl-consumer").start()
    publisher = MqttPublisher(mqtt_config(broker), DeviceConfig(id=DEVICE), store, LiveBus())
    try:
        publisher.start()
        assert wait_until(lambda: publisher.connected, 10)
        meeting = store.create_meeting(meeting_id=MEETING_ID, language="ko", source="test")
        for seq in range(3):
            commit(store, meeting.id, seq)
            publisher.notify()
        assert wait_until(lambda: publisher.counters.rejected >= 3, 10)
        # MQTT 5 PUBACK 0x87: on_publish fired, yet nothing may be marked sent.
        assert "Not authorized" in publisher.counters.last_reject
        assert publisher.counters.acked == 0
        assert store.outbox_backlog() == 3
        assert subscriber.segments(meeting.id) == {}
        assert subscriber.received(f"{BASE}/available")  # the rest of the box still publishes
        # The ACL is lifted: the refused rows are published again on reconnect and delivered. (The broker
        # runs without an acl_file now: mosquitto 2.0.11 with one drops messages for sessions restored
        # from disk until their client reconnects, eclipse-mosquitto/mosquitto#384.)
        broker.stop()
        broker.acl = None
        broker.start()
        assert wait_until(lambda: store.outbox_backlog() == 0, 15)
        assert subscriber.wait_for(lambda ms: len(subscriber.segments(meeting.id)) == 3)
    finally:
        publisher.stop()
        subscriber.stop()
        store.close()
        broker.close()


def test_refused_rows_are_retried_by_the_resend_sweep(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "acl-broker", acl=f"topic readwrite #\ntopic deny {BASE}/meeting/+/segment\n")
    broker.start()
    store = Store(tmp_path / "edge.db")
    publisher = MqttPublisher(mqtt_config(broker), DeviceConfig(id=DEVICE), store, LiveBus(), resend_interval_s=0.2)
    try:
        publisher.start()
        meeting = store.create_meeting(meeting_id=MEETING_ID, language="ko", source="test")
        commit(store, meeting.id, 0)
        publisher.notify()
        assert wait_until(lambda: publisher.counters.rejected >= 3, 15)
        assert publisher.counters.connects == 1  # retried on the same connection
        assert store.outbox_backlog() == 1
    finally:
        publisher.stop()
        store.close()
        broker.close()


def test_rows_without_puback_on_a_live_connection_are_published_again(
    tmp_path: Path, broker: Broker, subscriber: Subscriber
) -> None:
    store = Store(tmp_path / "edge.db")
    publisher = MqttPublisher(mqtt_config(broker), DeviceConfig(id=DEVICE), store, LiveBus(), resend_interval_s=0.3)
    try:
        publisher.start()
        assert wait_until(lambda: publisher.connected, 10)
        meeting = store.create_meeting(meeting_id=MEETING_ID, language="ko", source="test")
        assert broker.process is not None
        broker.process.send_signal(signal.SIGSTOP)  # the connection stays up, no PUBACK comes
        try:
            for seq in range(5):
                commit(store, meeting.id, seq)
            publisher.notify()
            assert wait_until(lambda: publisher.counters.published >= 10, 10)
        finally:
            broker.process.send_signal(signal.SIGCONT)
        assert wait_until(lambda: store.outbox_backlog() == 0, 15)
        assert wait_until(lambda: len(subscriber.segments(meeting.id)) == 5, 15)
        assert publisher.counters.connects == 1
    finally:
        publisher.stop()
        store.close()
