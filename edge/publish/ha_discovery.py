"""Home Assistant MQTT discovery: the retained config messages that make the box appear as a device
(recording switch, state sensor, health sensors, and on request a last-segment sensor), all tied to the
last will on `available`. Pure: builds (topic, payload) pairs, edge/publish/mqtt.py publishes them on
every connect.

Entity ids are suggested with `default_entity_id` (`<domain>.<device>_<object>`): Home Assistant stops
honouring the older `object_id` in 2026.4. The last-segment sensor is off unless asked for: Home Assistant
keeps every state in its recorder, so it would copy the meeting's words into the building's history
database; when it is off its config topic is cleared, which removes an entity announced before."""

from __future__ import annotations

from dataclasses import dataclass

from edge.core.events import BoxState
from edge.publish.topics import Topics


@dataclass(frozen=True)
class DiscoveryMessage:
    topic: str
    payload: dict | None  # None: clear the retained config (Home Assistant removes the entity)


def discovery_messages(
    topics: Topics,
    *,
    discovery_prefix: str,
    device_name: str,
    sw_version: str,
    model: str = "meeting-room box",
    room: str = "",
    configuration_url: str | None = None,
    last_segment: bool = False,
) -> list[DiscoveryMessage]:
    """Config messages under `<discovery_prefix>/<component>/<device.id>/<object>/config`; `room` is the
    device's suggested area, `configuration_url` the admin page's address."""
    device_id = topics.device_id
    device = {
        "identifiers": [f"edge_{device_id}"],
        "name": device_name or device_id,
        "manufacturer": "edge",
        "model": model,
        "sw_version": sw_version,
    }
    if room:
        device["suggested_area"] = room
    if configuration_url:
        device["configuration_url"] = configuration_url
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
                "device_class": "enum",
                "options": list(BoxState.STATES),
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
    messages = []
    for component, object_id, entity in entities:
        topic = f"{discovery_prefix}/{component}/{device_id}/{object_id}/config"
        if object_id == "last_segment" and not last_segment:
            messages.append(DiscoveryMessage(topic, None))
            continue
        payload = {
            **entity,
            "unique_id": f"edge_{device_id}_{object_id}",
            "default_entity_id": f"{component}.{device_id}_{object_id}".replace("-", "_"),
            **common,
        }
        messages.append(DiscoveryMessage(topic, payload))
    return messages
