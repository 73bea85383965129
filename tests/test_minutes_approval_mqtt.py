"""Approval before publishing, end to end: the real box (`edge run` as a subprocess, API and MQTT on)
with a real mosquitto broker and real llama.cpp (the fixture model stories260K, which writes English).

With minutes.require_approval = true, minutes written for an imported English transcript stay a draft
and nothing appears on meeting/<id>/minutes; the approve call through the API (with an edit) makes
exactly one retained minutes message appear, and approving again publishes nothing new."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from english_meeting import LINES, VTT
from mosquitto import Broker, Subscriber, retained_on, wait_until

from edge.minutes.schema import validate_minutes

DEVICE = "minutes-box"
BASE = f"edge/{DEVICE}"
WAIT_S = 60  # upper bounds for the box to react, not performance expectations


BOX_SETTINGS = """
[llm]
model_path = "{stories}"
threads = 1
n_ctx = 2048
correction = false
[minutes]
require_approval = true
"""


def retained_now(broker: Broker, topic: str, client_id: str) -> list:
    return retained_on(broker, topic, f"{BASE}/available", client_id, WAIT_S)


def test_minutes_are_published_once_only_after_approval(
    broker: Broker, box_process, fixture_file: Callable[[str], Path]
) -> None:
    subscriber = Subscriber(broker, [f"{BASE}/#"], client_id="building-system").start()
    box = box_process(
        device=DEVICE, mqtt_port=broker.port, extra=BOX_SETTINGS.format(stories=fixture_file("models/stories260K.gguf"))
    )
    box.start()
    try:
        meeting_id = box.import_transcript("weekly.vtt", VTT.encode())
        with box.client() as client:
            minutes_topic = f"{BASE}/meeting/{meeting_id}/minutes"

            # The import made the box write the minutes (minutes.auto); approval is required: a draft.
            status = lambda: client.get(f"/meetings/{meeting_id}/minutes/status").json()["status"]  # noqa: E731
            assert wait_until(lambda: status() not in ("none", "generating"), WAIT_S), box.log.read_text()[-3000:]
            record = client.get(f"/meetings/{meeting_id}/minutes").json()
            assert record["status"] == "draft", record
            draft = validate_minutes(record["minutes"], meeting_id=meeting_id, known_seqs=range(len(LINES)))
            # stories260K's own minutes say nothing checkable: the extractive minutes stand in, as a draft.
            assert draft.model == "extractive" and draft.language == "en" and draft.action_items
            assert "these are the extractive minutes instead" in record["error"]

            # Nothing published: the outbox is drained, an imported transcript's segments are not live speech
            # (not published without mqtt.publish_imports), and there is no minutes message, neither delivered
            # nor retained.
            assert wait_until(lambda: client.get("/health").json()["outbox_backlog"] == 0, WAIT_S)
            assert subscriber.segments(meeting_id) == {}
            assert subscriber.received(minutes_topic) == []
            assert retained_now(broker, minutes_topic, "before-approval") == []

            # Approve, with an edit, through the API.
            edited = {**record["minutes"], "title": "Weekly infrastructure meeting (approved)"}
            approved = client.post(f"/meetings/{meeting_id}/minutes/approve", json=edited)
            assert approved.status_code == 200, approved.text
            assert approved.json()["status"] == "approved"
            assert subscriber.wait_for(lambda _: len(subscriber.received(minutes_topic)) == 1, WAIT_S)
            assert wait_until(lambda: client.get("/health").json()["outbox_backlog"] == 0, WAIT_S)

            # Approving the same minutes again publishes nothing new.
            again = client.post(f"/meetings/{meeting_id}/minutes/approve")
            assert again.status_code == 200 and again.json()["minutes"] == approved.json()["minutes"]
            assert client.get("/health").json()["outbox_backlog"] == 0

        [retained] = retained_now(broker, minutes_topic, "after-approval")
        assert retained.retain
        published = validate_minutes(retained.json(), meeting_id=meeting_id, known_seqs=range(len(LINES)))
        assert published.title == "Weekly infrastructure meeting (approved)"
        assert published.model == "extractive (edited by a person)"  # authorship follows the edit
        assert retained.json() == approved.json()["minutes"]
        assert box.terminate() == 0
    finally:
        box.kill()
    # Once, after everything the box did up to its clean stop.
    assert [json.loads(m.payload) for m in subscriber.received(minutes_topic)] == [retained.json()]
    subscriber.stop()
    with sqlite3.connect(box.data / "edge.db") as db:
        rows = db.execute("SELECT sent_at FROM outbox WHERE kind = 'minutes' AND meeting_id = ?", (meeting_id,))
        sent = [sent_at for (sent_at,) in rows]
    assert len(sent) == 1 and sent[0] is not None
