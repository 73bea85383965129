"""MQTT topics and payloads of the box, as pure functions: the topic builder, outbox routing, the
`recording/set` and `speakers/set` command parsers and the JSON payloads. No network here;
edge/publish/mqtt.py does the talking.

Every topic lives under `<topic_prefix>/<device.id>/`:

    available                       retained  online / offline (last will)
    info                            retained  {"v": 1, "device_id", "room", "sw_version", "configuration_url"}
    state                           retained  {"v": 1, "state": ..., "meeting_id": ...}
    recording/set                   command   ON / OFF or {"action": "start" | "stop", "title"?, "language"?}
    recording/state                 retained  ON / OFF
    meeting/<id>/partial            QoS 0     unstable live text
    meeting/<id>/segment            QoS 1     committed segment, de-duplicate on (meeting_id, seq)
    meeting/<id>/minutes            retained  minutes JSON
    meeting/<id>/speakers           retained  {"v": 1, "meeting_id", "speakers": [{"label", "name", "display", ...}]}
    speakers/set                    command   {"meeting_id", "speaker": "S2", "name": "이지은"} ("" clears the name)
    last_segment                    retained  the newest committed segment (for Home Assistant)
    stats                           retained  health, stamped "at" (at once when its verdict changes)
    error                           QoS 1     why a command was ignored; health turning degraded or error, and ok again
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from edge.core.events import PAYLOAD_VERSION, BoxState

MAX_COMMAND_BYTES = 4096
MAX_TITLE_CHARS = 200
ERROR_PAYLOAD_CHARS = 200
# Outbox kinds whose topic keeps the latest message for late subscribers.
RETAINED_KINDS = frozenset({"minutes", "speakers"})

_LEVEL = re.compile(r"^[A-Za-z0-9_.:@-]+$")
_LANGUAGE = re.compile(r"^([a-z]{2,3}|auto)$")


def invalid_topic_prefix(prefix: str) -> str | None:
    """Why `prefix` cannot start a topic, or None when it can (levels separated by '/')."""
    if not prefix:
        return "must not be empty"
    if any(char in prefix for char in "+#\0"):
        return "must not contain the MQTT wildcards + or # (or NUL)"
    if any(level == "" for level in prefix.split("/")):
        return "must not start or end with '/' or contain '//'"
    return None


@dataclass(frozen=True)
class Route:
    topic: str
    qos: int
    retain: bool


@dataclass(frozen=True)
class Topics:
    """Topic names of one box: `Topics("edge", "room-1").state == "edge/room-1/state"`."""

    prefix: str
    device_id: str

    def __post_init__(self) -> None:
        reason = invalid_topic_prefix(self.prefix)
        if reason:
            raise ValueError(f"topic prefix {self.prefix!r} {reason}")
        if not _LEVEL.match(self.device_id):
            raise ValueError(f"device id {self.device_id!r} cannot be a topic level")

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.device_id}"

    @property
    def available(self) -> str:
        return f"{self.base}/available"

    @property
    def info(self) -> str:
        return f"{self.base}/info"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def recording_set(self) -> str:
        return f"{self.base}/recording/set"

    @property
    def speakers_set(self) -> str:
        return f"{self.base}/speakers/set"

    @property
    def recording_state(self) -> str:
        return f"{self.base}/recording/state"

    @property
    def last_segment(self) -> str:
        return f"{self.base}/last_segment"

    @property
    def stats(self) -> str:
        return f"{self.base}/stats"

    @property
    def error(self) -> str:
        return f"{self.base}/error"

    def meeting(self, meeting_id: str, leaf: str) -> str:
        """`meeting/<id>/<leaf>`; a meeting id that is not one topic level raises ValueError."""
        if not _LEVEL.match(meeting_id):
            raise ValueError(f"meeting id {meeting_id!r} cannot be a topic level")
        return f"{self.base}/meeting/{meeting_id}/{leaf}"

    def partial(self, meeting_id: str) -> str:
        return self.meeting(meeting_id, "partial")

    def outbox_route(self, kind: str, meeting_id: str | None) -> Route:
        """Where an outbox row goes: `meeting/<id>/<kind>` (or `<kind>` without a meeting), QoS 1,
        retained for kinds that are a meeting's latest state (minutes)."""
        if not _LEVEL.match(kind):
            raise ValueError(f"outbox kind {kind!r} cannot be a topic level")
        topic = self.meeting(meeting_id, kind) if meeting_id else f"{self.base}/{kind}"
        return Route(topic, 1, kind in RETAINED_KINDS)


@dataclass(frozen=True)
class RecordingCommand:
    action: Literal["start", "stop"]
    title: str = ""
    language: str | None = None


class CommandError(ValueError):
    """A `recording/set` payload that is not a command; the message says what was expected."""


_EXPECTED = 'expected ON, OFF or JSON {"action": "start" | "stop", "title"?: str, "language"?: str}'


def _command_text(payload: bytes, expected: str) -> str:
    """A command payload as text: bounded, UTF-8, not empty."""
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError(f"payload of {len(payload)} bytes is longer than {MAX_COMMAND_BYTES}")
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CommandError(f"payload is not UTF-8 text; {expected}") from None
    if not text:
        raise CommandError(f"payload is empty; {expected}")
    return text


def _json_fields(text: str, fields: set[str], expected: str) -> dict:
    """A command's JSON object, with no field but `fields`."""
    try:
        body = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CommandError(f"invalid JSON ({exc}); {expected}") from None
    if not isinstance(body, dict):
        raise CommandError(f"JSON must be an object; {expected}")
    unknown = sorted(set(body) - fields)
    if unknown:
        raise CommandError(f"unknown field(s) {', '.join(map(repr, unknown))}; {expected}")
    return body


def parse_recording_command(payload: bytes) -> RecordingCommand:
    """Parse a `recording/set` payload: ON / OFF (Home Assistant's switch) or a JSON object."""
    text = _command_text(payload, _EXPECTED)
    if text.upper() == "ON":
        return RecordingCommand("start")
    if text.upper() == "OFF":
        return RecordingCommand("stop")
    if not text.startswith("{"):
        raise CommandError(f"unknown command {text[:40]!r}; {_EXPECTED}")
    body = _json_fields(text, {"action", "title", "language"}, _EXPECTED)
    action = body.get("action")
    if action not in ("start", "stop"):
        raise CommandError(f"unknown action {action!r}; {_EXPECTED}")
    title = body.get("title", "")
    language = body.get("language")
    if action == "stop":
        if "title" in body or "language" in body:
            raise CommandError("title and language are only allowed with action start")
        return RecordingCommand("stop")
    if not isinstance(title, str) or len(title) > MAX_TITLE_CHARS:
        raise CommandError(f"title must be a string of at most {MAX_TITLE_CHARS} characters")
    if language is not None and (not isinstance(language, str) or not _LANGUAGE.match(language)):
        raise CommandError('language must be a whisper language code such as "ko" or "en", or "auto"')
    return RecordingCommand("start", title=title, language=language)


@dataclass(frozen=True)
class RenameSpeakerCommand:
    """Name (or, with "", unname) a speaker of a meeting."""

    meeting_id: str
    speaker: str
    name: str


_EXPECTED_RENAME = 'expected JSON {"meeting_id": str, "speaker": "S1", "name": str} ("" clears the name)'
MAX_MEETING_ID_CHARS = 200
MAX_LABEL_CHARS = 32


def parse_rename_speaker_command(payload: bytes) -> RenameSpeakerCommand:
    """Parse a `speakers/set` payload. The name itself is checked by the store (length, control characters)."""
    body = _json_fields(_command_text(payload, _EXPECTED_RENAME), {"meeting_id", "speaker", "name"}, _EXPECTED_RENAME)
    missing = [key for key in ("meeting_id", "speaker", "name") if key not in body]
    if missing:
        raise CommandError(f"missing field(s) {', '.join(map(repr, missing))}; {_EXPECTED_RENAME}")
    meeting_id, speaker, name = body["meeting_id"], body["speaker"], body["name"]
    if not isinstance(meeting_id, str) or not meeting_id or len(meeting_id) > MAX_MEETING_ID_CHARS:
        raise CommandError("meeting_id must be a meeting id as GET /api/v1/meetings lists them")
    if not isinstance(speaker, str) or not speaker or len(speaker) > MAX_LABEL_CHARS:
        raise CommandError('speaker must be a speaker label of the meeting, such as "S1"')
    if not isinstance(name, str):
        raise CommandError('name must be a string ("" clears the name)')
    return RenameSpeakerCommand(meeting_id, speaker, name)


def error_payload(topic: str, error: str, payload: bytes) -> dict:
    """What is published on `error` when a command is ignored; the payload is shown truncated."""
    shown = payload[: ERROR_PAYLOAD_CHARS * 4].decode("utf-8", errors="replace")[:ERROR_PAYLOAD_CHARS]
    return {"v": PAYLOAD_VERSION, "topic": topic, "error": error, "payload": shown}


def health_error_payload(status: str, problems: list[dict]) -> dict:
    """What is published on `error` when the box's health changes: "ok" again has no problems left."""
    error = "; ".join(str(problem.get("message", problem.get("code", ""))) for problem in problems)
    return {"v": PAYLOAD_VERSION, "status": status, "error": error, "problems": problems}


def idle_state() -> dict:
    return BoxState("idle").to_payload()


def recording_state_payload(state: dict) -> str:
    """The Home Assistant switch state for a box state."""
    return "ON" if state.get("state") == "recording" else "OFF"


def info_payload(device_id: str, room: str, sw_version: str, configuration_url: str | None) -> dict:
    """What a building view shows of a box that is not in a meeting: who and where it is."""
    return {"v": PAYLOAD_VERSION, "device_id": device_id, "room": room, "sw_version": sw_version,
            "configuration_url": configuration_url}  # fmt: skip


def stats_payload(health: dict, outbox_backlog: int | None, at: str) -> dict:
    """Health as published on `stats`, stamped `at` (ISO 8601 UTC: a building view tells stale health),
    with totals that Home Assistant sensors can read directly."""
    stats = {"v": PAYLOAD_VERSION, "at": at, **health}
    drops = health.get("drops")
    if isinstance(drops, dict):
        stats["drops_total"] = sum(value for value in drops.values() if isinstance(value, int))
    elif isinstance(drops, int):
        stats["drops_total"] = drops
    if outbox_backlog is not None:
        stats["outbox_backlog"] = outbox_backlog
    return stats


def encode(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
