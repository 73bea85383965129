"""Deleting a meeting, end to end (issue 14): the real box (`edge run`, API and MQTT on) with a real mosquitto
broker. An imported meeting's extractive minutes and last segment are published retained; an export and a
DELETE through the API with the admin token of api.token_file remove the meeting, clear the retained minutes
and last segment on the broker, and the audit log names who exported and who deleted."""

from __future__ import annotations

import sqlite3

from english_meeting import VTT
from mosquitto import Broker, retained_on, wait_until

DEVICE = "privacy-box"
BASE = f"edge/{DEVICE}"
WAIT_S = 60  # upper bounds for the box to react, not performance expectations


def retained_now(broker: Broker, topic: str, client_id: str) -> list:
    return retained_on(broker, topic, f"{BASE}/available", client_id, WAIT_S)


def test_deleting_a_meeting_clears_its_retained_minutes_and_is_audited(broker: Broker, box_process) -> None:
    # With mqtt.publish_imports the import's segments are published, and last_segment holds its last words.
    box = box_process(device=DEVICE, mqtt_port=broker.port, mqtt_settings="publish_imports = true\n")
    box.start()
    try:
        meeting_id = box.import_transcript("weekly.vtt", VTT.encode())
        minutes_topic = f"{BASE}/meeting/{meeting_id}/minutes"
        with box.client() as client:
            status = lambda: client.get(f"/meetings/{meeting_id}/minutes/status").json()["status"]  # noqa: E731
            assert wait_until(lambda: status() == "published", WAIT_S), box.log.read_text()[-3000:]
            assert wait_until(lambda: client.get("/health").json()["outbox_backlog"] == 0, WAIT_S)
            [retained] = retained_now(broker, minutes_topic, "before-delete")
            assert retained.json()["meeting_id"] == meeting_id
            [last] = retained_now(broker, f"{BASE}/last_segment", "last-before")
            assert last.json()["meeting_id"] == meeting_id

            assert client.get(f"/meetings/{meeting_id}/export", params={"format": "srt"}).status_code == 200
            assert client.delete(f"/meetings/{meeting_id}").status_code == 204
            assert client.get(f"/meetings/{meeting_id}").status_code == 404
            assert wait_until(lambda: client.get("/health").json()["outbox_backlog"] == 0, WAIT_S)
            assert wait_until(lambda: retained_now(broker, minutes_topic, "after-delete") == [], WAIT_S)
            # No other meeting was published: the deleted meeting's words leave last_segment too.
            assert wait_until(lambda: retained_now(broker, f"{BASE}/last_segment", "last-after") == [], WAIT_S)

            trail = [(e["actor"], e["action"], e["target"]) for e in client.get("/audit").json()["items"]]
            print("audit log:", trail)
            assert trail[:2] == [("token:api.token_file", "delete", meeting_id),
                                 ("token:api.token_file", "export", meeting_id)]  # fmt: skip
        assert box.terminate() == 0
    finally:
        box.kill()
    with sqlite3.connect(box.data / "edge.db") as db:
        assert db.execute("SELECT count(*) FROM segments WHERE meeting_id = ?", (meeting_id,)).fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM minutes_search WHERE meeting_id = ?", (meeting_id,)).fetchone() == (0,)
