"""Home Assistant MQTT discovery: the retained config messages that make the box appear as a device
(recording switch, state and last-segment sensors, health sensors), all tied to the last will on
`available`. Pure: builds (topic, payload) pairs, edge/publish/mqtt.py publishes them on every connect."""

from __future__ import annotations

from dataclasses import dataclass

from edge.publish.topics import Topics


@dataclass(frozen=True)
class DiscoveryMessage:
    topic: str
    payload: dict


def discovery_messages(
    topics: Topics,
    *,
    discovery_prefix: str,
    device_name: str,
    sw_version: str,
    model: str = "meeting-room box",
) -> list[DiscoveryMessage]:
    """Config messages under `<discovery_prefix>/<component>/<device.id>/<object>/config`."""
    device_id = topics.device_id
    device = {
        "identifiers": [f"edge_{device_id}"],
        "name": device_name or device_id,
        "manufacturer": "edge",
        "model": model,
        "sw_version": sw_version,
    }
    common = {
        "availability_topic": topics.available,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device,
        "origin": {"name": "edge", "sw_version": sw_version},
    }
    entities: list[tuple[str, str, dict]] = [
        (
            "switch",
            "recording",
            {
                "name": "Recording",
                "icon": "mdi:record-rec",
                "command_topic": topics.recording_set,
                "state_topic": topics.recording_state,
                "payload_on": "ON",
                "payload_off": "OFF",
                "state_on": "ON",
                "state_off": "OFF",
                "qos": 1,
            },
        ),
        (
            "sensor",
            "state",
            {
                "name": "State",
                "icon": "mdi:microphone-message",
                "state_topic": topics.state,
                "value_template": "{{ value_json.state }}",
                "json_attributes_topic": topics.state,
            },
        ),
        (
            "sensor",
            "last_segment",
            {
                "name": "Last segment",
                "icon": "mdi:text-box-outline",
                "state_topic": topics.last_segment,
                # A sensor state holds at most 255 characters; the full segment is in the attributes.
                "value_template": "{{ value_json.text[:250] }}",
                "json_attributes_topic": topics.last_segment,
            },
        ),
        (
            "sensor",
            "rtf",
            {
                "name": "Real-time factor",
                "icon": "mdi:speedometer",
                "state_topic": topics.stats,
                "value_template": "{{ value_json.rtf }}",
                "state_class": "measurement",
                "entity_category": "diagnostic",
            },
        ),
        (
            "sensor",
            "drops",
            {
                "name": "Dropped items",
                "icon": "mdi:alert-circle-outline",
                "state_topic": topics.stats,
                "value_template": "{{ value_json.drops_total }}",
                "state_class": "total_increasing",
                "entity_category": "diagnostic",
            },
        ),
        (
            "sensor",
            "outbox_backlog",
            {
                "name": "MQTT backlog",
                "icon": "mdi:tray-full",
                "state_topic": topics.stats,
                "value_template": "{{ value_json.outbox_backlog }}",
                "unit_of_measurement": "messages",
                "state_class": "measurement",
                "entity_category": "diagnostic",
            },
        ),
    ]
    return [
        DiscoveryMessage(
            f"{discovery_prefix}/{component}/{device_id}/{object_id}/config",
            {**entity, "unique_id": f"edge_{device_id}_{object_id}", "object_id": f"{device_id}_{object_id}", **common},
        )
        for component, object_id, entity in entities
    ]
