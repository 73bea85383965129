"""Home Assistant discovery payloads (pure): the device and its entities, wired to the last will."""

from __future__ import annotations

import json

from edge.publish.ha_discovery import discovery_messages
from edge.publish.topics import Topics

TOPICS = Topics("edge", "room-1")


def _by_object(**options) -> dict[str, tuple[str, dict]]:
    messages = discovery_messages(
        TOPICS, discovery_prefix="homeassistant", device_name="회의실 A", sw_version="0.1.0", **options
    )
    return {message.topic.split("/")[3]: (message.topic, message.payload) for message in messages}


def test_topics_follow_discovery_layout() -> None:
    entities = _by_object()
    assert set(entities) == {"recording", "state", "last_segment", "rtf", "drops", "outbox_backlog"}
    assert entities["recording"][0] == "homeassistant/switch/room-1/recording/config"
    for name in ("state", "last_segment", "rtf", "drops", "outbox_backlog"):
        assert entities[name][0] == f"homeassistant/sensor/room-1/{name}/config"


def test_every_entity_has_availability_device_and_unique_id() -> None:
    unique_ids = set()
    for _topic, payload in _by_object(last_segment=True).values():
        assert payload["availability_topic"] == "edge/room-1/available"
        assert (payload["payload_available"], payload["payload_not_available"]) == ("online", "offline")
        assert payload["device"]["identifiers"] == ["edge_room-1"]
        assert payload["device"]["name"] == "회의실 A"
        unique_ids.add(payload["unique_id"])
        json.dumps(payload)
    assert len(unique_ids) == 6


def test_entity_ids_are_suggested_with_default_entity_id_not_the_deprecated_object_id() -> None:
    for topic, payload in _by_object(last_segment=True).values():
        component, object_id = topic.split("/")[1], topic.split("/")[3]
        assert payload["default_entity_id"] == f"{component}.room_1_{object_id}"
        assert "object_id" not in payload


def test_the_state_sensor_is_an_enum_of_the_box_states() -> None:
    state = _by_object()["state"][1]
    assert (state["device_class"], state["options"]) == ("enum", ["idle", "recording", "processing"])


def test_the_room_is_the_suggested_area_and_the_page_its_configuration_url() -> None:
    device = _by_object(room="3층 대회의실", configuration_url="https://room-3.local:8443/")["state"][1]["device"]
    assert (device["suggested_area"], device["configuration_url"]) == ("3층 대회의실", "https://room-3.local:8443/")
    assert {"suggested_area", "configuration_url"}.isdisjoint(_by_object()["state"][1]["device"])


def test_the_last_segment_sensor_is_opt_in_and_cleared_otherwise() -> None:
    """Home Assistant's recorder keeps every state: the meeting's words would land in its history."""
    topic, payload = _by_object()["last_segment"]
    assert (topic, payload) == ("homeassistant/sensor/room-1/last_segment/config", None)
    assert _by_object(last_segment=True)["last_segment"][1]["state_topic"] == "edge/room-1/last_segment"


def test_recording_switch_uses_set_and_state_topics() -> None:
    _, switch = _by_object()["recording"]
    assert switch["command_topic"] == "edge/room-1/recording/set"
    assert switch["state_topic"] == "edge/room-1/recording/state"
    assert (switch["payload_on"], switch["payload_off"]) == ("ON", "OFF")


def test_sensors_read_state_last_segment_and_stats() -> None:
    entities = _by_object(last_segment=True)
    assert entities["state"][1]["state_topic"] == "edge/room-1/state"
    assert entities["last_segment"][1]["state_topic"] == "edge/room-1/last_segment"
    for name, key in (("rtf", "rtf"), ("drops", "drops_total"), ("outbox_backlog", "outbox_backlog")):
        payload = entities[name][1]
        assert payload["state_topic"] == "edge/room-1/stats"
        assert payload["value_template"] == f"{{{{ value_json.{key} }}}}"


def test_device_name_defaults_to_id() -> None:
    messages = discovery_messages(TOPICS, discovery_prefix="ha", device_name="", sw_version="1")
    assert {m.payload["device"]["name"] for m in messages if m.payload} == {"room-1"}
    assert all(m.topic.startswith("ha/") for m in messages)
