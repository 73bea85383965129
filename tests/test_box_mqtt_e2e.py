"""The real box (`edge run` as a subprocess, API and MQTT enabled) against a real mosquitto broker:
meetings imported through the API are published (mqtt.publish_imports: imports are the quickest way to
commit hundreds of segments); the box is killed -9 mid-way, once with the broker down, and restarted; the
subscriber must receive every (meeting_id, seq). Then commands over MQTT."""

from __future__ import annotations

import json

from mosquitto import Broker, Subscriber, wait_until

DEVICE = "e2e-box"
BASE = f"edge/{DEVICE}"
SEGMENTS_PER_IMPORT = 30


def vtt(index: int) -> bytes:
    cues = [
        f"{i // 60:02d}:{i % 60:02d}.000 --> {i // 60:02d}:{i % 60:02d}.900\n"
        f"회의 {index}의 {i}번째 문장입니다 API 배포 확인\n"
        for i in range(SEGMENTS_PER_IMPORT)
    ]
    return ("WEBVTT\n\n" + "\n".join(cues)).encode()


def import_meeting(box, index: int) -> str:
    return box.import_transcript(f"meeting-{index}.vtt", vtt(index))


def arrived(subscriber: Subscriber) -> set[tuple[str, int]]:
    pairs = set()
    for message in subscriber.received():
        if message.topic.endswith("/segment"):
            body = message.json()
            pairs.add((body["meeting_id"], body["seq"]))
    return pairs


def test_box_killed_9_mid_way_with_and_without_broker_loses_nothing(broker: Broker, box_process) -> None:
    subscriber = Subscriber(broker, [f"{BASE}/#"], client_id="building-system").start()
    assert broker.wait_saved()  # the durable subscription must be on the broker's disk before it is killed
    box = box_process(device=DEVICE, mqtt_port=broker.port, mqtt_settings="publish_imports = true\n")
    committed: list[str] = []
    box.start()
    committed += [import_meeting(box, i) for i in range(3)]
    box.kill()  # 1: killed while (or right after) publishing, broker up

    box.start()
    committed.append(import_meeting(box, 3))
    # mosquitto acknowledges before it saves, so a broker killed -9 can lose its last message: that is
    # the broker's durability, not the box's. Let it deliver, then take it down.
    assert wait_until(lambda: {(committed[3], seq) for seq in range(SEGMENTS_PER_IMPORT)} <= arrived(subscriber), 30)
    broker.kill()
    committed += [import_meeting(box, i) for i in (4, 5)]  # committed while the broker is down
    box.kill()  # 2: killed with unacknowledged rows and no broker

    broker.start()
    box.start()
    committed += [import_meeting(box, i) for i in (6, 7)]
    expected = {(meeting_id, seq) for meeting_id in committed for seq in range(SEGMENTS_PER_IMPORT)}
    assert len(expected) >= 200
    missing = lambda: sorted((committed.index(m), seq) for m, seq in expected - arrived(subscriber))  # noqa: E731
    assert wait_until(lambda: not missing(), 60), f"(import, seq) missing: {missing()[:10]}"
    assert box.terminate() == 0
    assert [m.payload for m in subscriber.received(f"{BASE}/available")][-1] == b"offline"
    subscriber.stop()


def test_recording_commands_over_mqtt_drive_the_real_box(broker: Broker, box_process, fixture_file) -> None:
    subscriber = Subscriber(broker, [f"{BASE}/#"], client_id="room-panel").start()
    box = box_process(device=DEVICE, mqtt_port=broker.port,
                      extra=f'[audio]\nsource = "file:{fixture_file("audio/jfk.wav")}"\n')
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
