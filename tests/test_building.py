"""A building of boxes on one broker: the view from retained topics (pure, then `edge building` against a
real mosquitto), and a small building run through the shipped bridge example (tests/building_load.py:
two box processes, each on its own mosquitto bridged to the building broker, the building link cut for
a few seconds): every segment arrives, the view lists both boxes with their rooms and health."""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime, timezone
from pathlib import Path

import pytest
from building_load import run_building
from mosquitto import Broker, mosquitto_binary, wait_until

from edge.commands.cli import main
from edge.core.config import DeviceConfig, MqttConfig
from edge.core.live import LiveBus
from edge.publish.building import building_view, render_table
from edge.publish.mqtt import MqttPublisher
from edge.store import Store

AT = "2026-03-05T09:00:00+00:00"
STATS = {"v": 1, "at": AT, "status": "ok", "rtf": 0.31, "queues": {"asr_pending": 1}, "outbox_backlog": 0,
         "drops_total": 0}  # fmt: skip


def test_the_view_reads_each_box_from_its_retained_topics() -> None:
    messages = [
        ("edge/3f-large/info", json.dumps({"v": 1, "device_id": "3f-large", "room": "3층 대회의실"}).encode()),
        ("edge/3f-large/available", b"online"),
        ("edge/3f-large/state", b'{"v": 1, "state": "recording", "meeting_id": "20260305-090000-beef"}'),
        ("edge/3f-large/stats", json.dumps(STATS).encode()),
        ("edge/2f-small/available", b"offline"),
        ("edge/2f-small/state", b"not json"),
        ("edge/2f-small/info", b""),  # cleared
        ("edge/2f-small/meeting/x/segment", b"{}"),  # not a box-level topic
        ("other/3f-large/state", b'{"state": "idle"}'),
    ]
    small, large = building_view(messages, "edge")
    assert (large.device_id, large.room, large.available, large.state, large.meeting_id) == (
        "3f-large", "3층 대회의실", "online", "recording", "20260305-090000-beef")
    assert (large.status, large.rtf, large.asr_backlog, large.outbox_backlog) == ("ok", 0.31, 1, 0)
    assert large.stats_age_s(datetime(2026, 3, 5, 9, 0, 30, tzinfo=timezone.utc)) == 30
    assert (small.available, small.state, small.room, small.problems) == (
        "offline", "unknown", "", ["state is not a JSON object"])
    table = render_table([small, large], now=datetime(2026, 3, 5, 9, 1, tzinfo=timezone.utc)).splitlines()
    assert table[0].split() == ["box", "room", "available", "state", "meeting", "health", "rtf", "asr", "outbox",
                                "drops", "health", "age"]  # fmt: skip
    assert "3층 대회의실" in table[2] and table[2].endswith("60 s")
    # Hangul takes two columns on a terminal: the next column starts at the same place on every line.
    def columns(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)

    assert columns(table[1][: table[1].index("offline")]) == columns(table[2][: table[2].index("online")])


@pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed")
def test_edge_building_lists_the_boxes_on_the_broker(tmp_path: Path, broker: Broker, capsys) -> None:
    store = Store(tmp_path / "edge.db")
    cfg = MqttConfig(enabled=True, host="127.0.0.1", port=broker.port, stats_interval_s=0.2)
    publisher = MqttPublisher(cfg, DeviceConfig(id="5f-board", room="5층 임원회의실"), store, LiveBus())
    publisher.start()
    try:
        assert wait_until(lambda: publisher.counters.connects == 1, 10)
        config = tmp_path / "edge.toml"
        config.write_text(f'[mqtt]\nenabled = true\nport = {broker.port}\n[storage]\npath = "{tmp_path}/data"\n')
        assert wait_until(lambda: main(["building", "--config", str(config), "--json", "--wait", "0.5"]) == 0
                          and json.loads(capsys.readouterr().out)[0]["stats_at"] is not None, 20)  # fmt: skip
        assert main(["building", "--config", str(config), "--wait", "0.5"]) == 0
        line = capsys.readouterr().out.splitlines()[1].split()
        assert line[:5] == ["5f-board", "5층", "임원회의실", "online", "idle"]
    finally:
        publisher.stop()
        store.close()


@pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed")
def test_a_building_through_the_bridge_example_loses_nothing_across_a_cut_of_its_link(tmp_path: Path) -> None:
    figures = run_building(tmp_path, boxes=2, seconds=16, cut_s=3, pace_ms=400)
    print(json.dumps(figures, ensure_ascii=False))
    assert figures["segments_committed"] == 80 and figures["missing"] == 0
    assert figures["building_view"] == {"boxes_seen": 2, "online": 2, "rooms_right": True, "with_health": 2}


def test_edge_building_says_when_the_broker_cannot_be_reached(tmp_path: Path, capsys) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(f'[mqtt]\nenabled = true\nport = 1\n[storage]\npath = "{tmp_path}/data"\n')
    assert main(["building", "--config", str(config), "--wait", "0.2"]) == 2
    assert "cannot be reached" in capsys.readouterr().err
