"""Speakers over a REAL mosquitto: segment payloads carry `speaker` and `speaker_id`; a name given through the
box (or the `speakers/set` command) is published retained on `meeting/<id>/speakers`, from the outbox, so a
name given while the broker is away arrives when it is back; malformed or refused commands are answered on
`error` and change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mosquitto import Broker, MiniBox, Subscriber, mosquitto_binary, wait_until

from edge.core.config import DeviceConfig, MqttConfig
from edge.core.live import LiveBus
from edge.pipeline.live_relay import LiveRelay
from edge.publish.mqtt import MqttPublisher
from edge.store import Store

pytestmark = pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed")

DEVICE = "room-7"
BASE = f"edge/{DEVICE}"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "edge.db")
    yield store
    store.close()


@pytest.fixture
def box(store: Store) -> MiniBox:
    relay = LiveRelay(store, LiveBus())  # store changes reach the bus, as in the box
    return MiniBox(store, relay.bus)


@pytest.fixture
def subscriber(broker: Broker) -> Iterator[Subscriber]:
    subscriber = Subscriber(broker).start()
    yield subscriber
    subscriber.stop()


@pytest.fixture
def publisher(broker: Broker, store: Store, box: MiniBox, subscriber: Subscriber) -> Iterator[MqttPublisher]:
    config = MqttConfig(enabled=True, host="127.0.0.1", port=broker.port, keepalive=5, reconnect_min_delay_s=0.2,
                        reconnect_max_delay_s=1.0)  # fmt: skip
    publisher = MqttPublisher(config, DeviceConfig(id=DEVICE), store, box.live, box)
    store.add_outbox_listener(publisher.notify)
    publisher.start()
    assert subscriber.wait_for(lambda ms: any(m.topic == f"{BASE}/available" and m.payload == b"online" for m in ms))
    yield publisher
    publisher.stop()


def _meeting(store: Store) -> str:
    meeting = store.create_meeting(language="ko", source="pyaudio:test", title="화자 회의")
    for i, (label, text) in enumerate([("S1", "회의를 시작하겠습니다"), ("S2", "제가 금요일까지 보고서 올리겠습니다"),
                                       (None, "(박수)")]):  # fmt: skip
        store.add_segment(meeting.id, t0_ms=i * 2000, t1_ms=i * 2000 + 1500, text_raw=text, language="ko",
                          speaker=label)  # fmt: skip
    return meeting.id


def test_segments_carry_speakers_and_a_name_is_published_retained(
    broker: Broker, store: Store, box: MiniBox, subscriber: Subscriber, publisher: MqttPublisher
) -> None:
    meeting_id = _meeting(store)
    segments = subscriber.wait_for_topic(f"{BASE}/meeting/{meeting_id}/segment", count=3)
    assert [(m.json()["speaker"], m.json()["speaker_id"]) for m in segments] == [("S1", "S1"), ("S2", "S2"),
                                                                                 (None, None)]  # fmt: skip
    box.editing.set_speaker_name(meeting_id, "S2", "이지은")
    [named] = subscriber.wait_for_topic(f"{BASE}/meeting/{meeting_id}/speakers")
    assert named.json() == {"v": 1, "meeting_id": meeting_id, "speakers": [
        {"label": "S1", "name": "", "display": "S1", "segments": 1, "speech_ms": 1500},
        {"label": "S2", "name": "이지은", "display": "이지은", "segments": 1, "speech_ms": 1500},
    ]}  # fmt: skip
    # A later segment of S2 carries the name; a re-clustering revision carries it too.
    store.add_segment(meeting_id, t0_ms=8000, t1_ms=9000, text_raw="네 올리겠습니다", language="ko", speaker="S2")
    segments = subscriber.wait_for_topic(f"{BASE}/meeting/{meeting_id}/segment", count=4)
    assert (segments[-1].json()["speaker"], segments[-1].json()["speaker_id"]) == ("이지은", "S2")
    assert store.relabel_segments(meeting_id, {0: "S2"}) == 1
    [update] = subscriber.wait_for_topic(f"{BASE}/meeting/{meeting_id}/segment_update")
    assert (update.json()["seq"], update.json()["revision"], update.json()["speaker"]) == (0, 1, "이지은")
    assert wait_until(lambda: store.outbox_backlog() == 0, 10)
    late = Subscriber(broker, client_id="late-speakers").start()
    try:
        assert late.wait_for(lambda ms: any(m.topic == f"{BASE}/meeting/{meeting_id}/speakers" for m in ms))
        [retained] = late.received(f"{BASE}/meeting/{meeting_id}/speakers")
        # Republished after the relabelling: S1 lost its only segment (and had no name), S2 has three.
        assert retained.retain and [(s["label"], s["name"], s["segments"]) for s in retained.json()["speakers"]] == [
            ("S2", "이지은", 3)
        ]  # fmt: skip
    finally:
        late.stop()


def test_the_speakers_set_command_names_a_speaker(
    store: Store, subscriber: Subscriber, publisher: MqttPublisher
) -> None:
    meeting_id = _meeting(store)
    command = f'{{"meeting_id": "{meeting_id}", "speaker": "S1", "name": "김민수"}}'
    subscriber.client.publish(f"{BASE}/speakers/set", command.encode(), qos=1)
    assert wait_until(lambda: store.speakers(meeting_id)[0].name == "김민수", 10)
    [named] = subscriber.wait_for_topic(f"{BASE}/meeting/{meeting_id}/speakers")
    assert [s["display"] for s in named.json()["speakers"]] == ["김민수", "S2"]
    assert subscriber.received(f"{BASE}/error") == []
    assert publisher.counters.commands == 1


def test_malformed_and_refused_speaker_commands_are_answered_on_error(
    store: Store, subscriber: Subscriber, publisher: MqttPublisher
) -> None:
    meeting_id = _meeting(store)
    commands = [
        (b"", "payload is empty"),
        (b"ON", "invalid JSON"),
        (b'["S1"]', "JSON must be an object"),
        (f'{{"meeting_id": "{meeting_id}", "speaker": "S1"}}'.encode(), "missing field(s) 'name'"),
        (f'{{"meeting_id": "{meeting_id}", "speaker": "S1", "name": "x", "role": 1}}'.encode(), "unknown field"),
        (f'{{"meeting_id": "{meeting_id}", "speaker": 1, "name": "x"}}'.encode(), "speaker must be"),
        (f'{{"meeting_id": "{meeting_id}", "speaker": "S1", "name": null}}'.encode(), "name must be a string"),
        (f'{{"meeting_id": "{meeting_id}", "speaker": "S9", "name": "김민수"}}'.encode(), "no speaker 'S9'"),
        (b'{"meeting_id": "no-such-meeting", "speaker": "S1", "name": "x"}', "no meeting with id 'no-such-meeting'"),
        (f'{{"meeting_id": "{meeting_id}", "speaker": "S1", "name": "{"김" * 65}"}}'.encode(), "at most 64"),
        (f'{{"meeting_id": "{meeting_id}", "speaker": "S1", "name": "a\\u0007b"}}'.encode(), "U+0007"),
    ]
    for payload, _ in commands:
        subscriber.client.publish(f"{BASE}/speakers/set", payload, qos=1)
    errors = subscriber.wait_for_topic(f"{BASE}/error", count=len(commands))
    assert len(errors) == len(commands)
    for error, (_, says) in zip(errors, commands, strict=True):
        body = error.json()
        assert body["topic"] == f"{BASE}/speakers/set" and says in body["error"], body
    assert [s.name for s in store.speakers(meeting_id)] == ["", ""]
    assert subscriber.received(f"{BASE}/meeting/{meeting_id}/speakers") == []


def test_a_name_given_while_the_broker_is_away_is_delivered_when_it_is_back(
    broker: Broker, store: Store, box: MiniBox, subscriber: Subscriber, publisher: MqttPublisher
) -> None:
    meeting_id = _meeting(store)
    assert wait_until(lambda: store.outbox_backlog() == 0, 10)
    broker.stop()
    assert wait_until(lambda: not publisher.connected, 10)
    box.editing.set_speaker_name(meeting_id, "S1", "박지훈")
    assert store.outbox_backlog() == 1
    broker.start()
    assert wait_until(lambda: store.outbox_backlog() == 0, 20)
    late = Subscriber(broker, client_id="after-outage").start()
    try:
        assert late.wait_for(lambda ms: any(m.topic == f"{BASE}/meeting/{meeting_id}/speakers" for m in ms))
        [retained] = late.received(f"{BASE}/meeting/{meeting_id}/speakers")
        assert retained.json()["speakers"][0] == {"label": "S1", "name": "박지훈", "display": "박지훈", "segments": 1,
                                                  "speech_ms": 1500}  # fmt: skip
    finally:
        late.stop()
