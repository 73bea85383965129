"""Home Assistant discovery payloads (pure): the device and its entities, wired to the last will."""

from __future__ import annotations

import json

from edge.publish.ha_discovery import discovery_messages
from edge.publish.topics import Topics

TOPICS = Topics("edge", "room-1")


def _by_object() -> dict[str, tuple[str, dict]]:
    messages = discovery_messages(TOPICS, discovery_prefix="homeassistant", device_name="회의실 A", sw_version="0.1.0")
    return {message.topic.split("/")[3]: (message.topic, message.payload) for message in messages}


def test_topics_follow_discovery_layout() -> None:
    entities = _by_object()
    assert set(entities) == {"recording", "state", "last_segment", "rtf", "drops", "outbox_backlog"}
    assert entities["recording"][0] == "homeassistant/switch/room-1/recording/config"
    for name in ("state", "last_segment", "rtf", "drops", "outbox_backlog"):
        assert entities[name][0] == f"homeassistant/sensor/room-1/{name}/config"


def test_every_entity_has_availability_device_and_unique_id() -> None:
    unique_ids = set()
    for _topic, payload in _by_object().values():
        assert payload["availability_topic"] == "edge/room-1/available"
        assert (payload["payload_available"], payload["payload_not_available"]) == ("online", "offline")
        assert payload["device"]["identifiers"] == ["edge_room-1"]
        assert payload["device"]["name"] == "회의실 A"
        unique_ids.add(payload["unique_id"])
        json.dumps(payload)
    assert len(unique_ids) == 6


def test_recording_switch_uses_set_and_state_topics() -> None:
    _, switch = _by_object()["recording"]
    assert switch["command_topic"] == "edge/room-1/recording/set"
    assert switch["state_topic"] == "edge/room-1/recording/state"
    assert (switch["payload_on"], switch["payload_off"]) == ("ON", "OFF")


def test_sensors_read_state_last_segment_and_stats() -> None:
    entities = _by_object()
    assert entities["state"][1]["state_topic"] == "edge/room-1/state"
    assert entities["last_segment"][1]["state_topic"] == "edge/room-1/last_segment"
    for name, key in (("rtf", "rtf"), ("drops", "drops_total"), ("outbox_backlog", "outbox_backlog")):
        payload = entities[name][1]
        assert payload["state_topic"] == "edge/room-1/stats"
        assert payload["value_template"] == f"{{{{ value_json.{key} }}}}"


def test_device_name_defaults_to_id() -> None:
    messages = discovery_messages(TOPICS, discovery_prefix="ha", device_name="", sw_version="1")
    assert {m.payload["device"]["name"] for m in messages} == {"room-1"}
    assert all(m.topic.startswith("ha/") for m in messages)
