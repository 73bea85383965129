"""Topic builder, outbox routing and `recording/set` parsing (pure, no broker)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.publish.topics import (
    MAX_COMMAND_BYTES,
    CommandError,
    RecordingCommand,
    Topics,
    error_payload,
    invalid_topic_prefix,
    parse_recording_command,
    recording_state_payload,
    stats_payload,
)


def test_topics_live_under_prefix_and_device() -> None:
    topics = Topics("edge", "room-1")
    assert topics.available == "edge/room-1/available"
    assert topics.state == "edge/room-1/state"
    assert topics.recording_set == "edge/room-1/recording/set"
    assert topics.recording_state == "edge/room-1/recording/state"
    assert topics.stats == "edge/room-1/stats"
    assert topics.error == "edge/room-1/error"
    assert topics.partial("20250101-090000-ab12") == "edge/room-1/meeting/20250101-090000-ab12/partial"
    assert Topics("building/3f", "box").state == "building/3f/box/state"


def test_outbox_routes_segments_at_qos1_and_retains_minutes() -> None:
    topics = Topics("edge", "box")
    segment = topics.outbox_route("segment", "m1")
    assert (segment.topic, segment.qos, segment.retain) == ("edge/box/meeting/m1/segment", 1, False)
    minutes = topics.outbox_route("minutes", "m1")
    assert (minutes.topic, minutes.qos, minutes.retain) == ("edge/box/meeting/m1/minutes", 1, True)
    assert topics.outbox_route("segment_update", "m1").topic == "edge/box/meeting/m1/segment_update"


@pytest.mark.parametrize("meeting_id", ["a/b", "+", "#", "", "a b"])
def test_meeting_id_that_is_not_one_level_is_refused(meeting_id: str) -> None:
    with pytest.raises(ValueError, match="topic level"):
        Topics("edge", "box").outbox_route("segment", meeting_id or "x/")


@pytest.mark.parametrize("prefix", ["", "/edge", "edge/", "a//b", "edge/#", "edge/+/x"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    assert invalid_topic_prefix(prefix)
    with pytest.raises(ValueError, match="topic prefix"):
        Topics(prefix, "box")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"ON", RecordingCommand("start")),
        (b"off\n", RecordingCommand("stop")),
        (b'{"action": "start"}', RecordingCommand("start")),
        (b'{"action": "start", "title": "\xec\xa3\xbc\xea\xb0\x84 \xed\x9a\x8c\xec\x9d\x98", "language": "ko"}',
         RecordingCommand("start", title="주간 회의", language="ko")),
        (b'{"action": "stop"}', RecordingCommand("stop")),
    ],
)
def test_valid_commands(payload: bytes, expected: RecordingCommand) -> None:
    assert parse_recording_command(payload) == expected


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"MAYBE", "unknown command"),
        (b"{not json", "invalid JSON"),
        (b"[1, 2]", "unknown command"),
        (b'["start"]', "unknown command"),
        (b'"ON"', "unknown command"),
        (b"{}", "unknown action"),
        (b'{"action": "dance"}', "unknown action"),
        (b'{"action": null}', "unknown action"),
        (b'{"action": "start", "extra": 1}', "unknown field"),
        (b'{"action": "start", "title": 5}', "title"),
        (b'{"action": "start", "language": "korean"}', "language"),
        (b'{"action": "stop", "title": "x"}', "only allowed with action start"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"[" * 100_000, "longer than"),
        (b"{" + b'"a":[' * 1000 + b"]" * 1000 + b"}", "longer than"),
        (b'{"a":' * 600 + b"1" + b"}" * 600, "invalid JSON|unknown field"),
    ],
)
def test_malformed_commands_raise_command_error(payload: bytes, reason: str) -> None:
    with pytest.raises(CommandError, match=reason):
        parse_recording_command(payload)


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=MAX_COMMAND_BYTES + 10))
def test_any_bytes_parse_or_raise_command_error(payload: bytes) -> None:
    try:
        command = parse_recording_command(payload)
    except CommandError as exc:
        assert str(exc)
    else:
        assert command.action in ("start", "stop")


@FUZZ
@given(st.dictionaries(st.sampled_from(["action", "title", "language", "x"]),
                       st.one_of(st.none(), st.integers(), st.text(max_size=210), st.sampled_from(["start", "stop"]))))
def test_any_json_object_parses_or_raises_command_error(body: dict) -> None:
    try:
        command = parse_recording_command(json.dumps(body).encode())
    except CommandError:
        return
    assert command.action == body["action"]
    assert set(body) <= {"action", "title", "language"}


def test_error_payload_truncates_and_survives_bad_bytes() -> None:
    message = error_payload("edge/box/recording/set", "invalid JSON", b"\xff" + b"x" * 5000)
    assert message["v"] == 1
    assert message["topic"] == "edge/box/recording/set"
    assert message["error"] == "invalid JSON"
    assert len(message["payload"]) == 200
    json.dumps(message)


def test_recording_state_and_stats_payloads() -> None:
    assert recording_state_payload({"state": "recording", "meeting_id": "m"}) == "ON"
    assert recording_state_payload({"state": "processing"}) == "OFF"
    at = "2026-03-05T09:00:00+00:00"
    stats = stats_payload({"v": 1, "rtf": 0.3, "drops": {"a": 2, "b": 3}, "outbox_backlog": 9}, 4, at)
    assert stats["drops_total"] == 5
    assert stats["outbox_backlog"] == 4
    assert stats["rtf"] == 0.3
    assert stats_payload({}, None, at) == {"v": 1, "at": at}
