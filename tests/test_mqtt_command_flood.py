"""A flood of commands on recording/set (issue 17, finding 10) against a REAL mosquitto: start/stop
commands are taken in a burst and then at a steady rate, so an ON/OFF flood cannot create dozens of
meetings; bad commands are answered and logged up to a burst; everything else is counted (stats
`commands_limited`) and told in one summary line, not one WARNING each."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mosquitto import Broker, MiniBox, Subscriber, mosquitto_binary, wait_until

from edge.core.config import DeviceConfig, MqttConfig
from edge.core.live import LiveBus
from edge.publish.mqtt import REFUSALS_BURST, REFUSALS_PER_S, MqttPublisher
from edge.publish.rate_limit import TokenBucket
from edge.store import Store

pytestmark = pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed")

DEVICE = "flood-room"
BASE = f"edge/{DEVICE}"
FLOOD = 2000


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "edge.db")
    yield store
    store.close()


@pytest.fixture
def subscriber(broker: Broker) -> Iterator[Subscriber]:
    subscriber = Subscriber(broker, [f"{BASE}/#"], client_id="flooder").start()
    yield subscriber
    subscriber.stop()


@pytest.fixture
def started(broker: Broker, store: Store, subscriber: Subscriber) -> Iterator[tuple[MqttPublisher, MiniBox]]:
    # An interval no test outlasts: exactly the burst of start/stop commands is taken, whatever the timing.
    cfg = MqttConfig(enabled=True, host="127.0.0.1", port=broker.port, keepalive=5, command_burst=4,
                     command_interval_s=3600)
    box = MiniBox(store, LiveBus())
    publisher = MqttPublisher(cfg, DeviceConfig(id=DEVICE), store, box.live, box)
    publisher.start()
    assert subscriber.wait_for(lambda ms: any(m.topic == f"{BASE}/available" and m.payload == b"online" for m in ms))
    yield publisher, box
    publisher.stop()


def _accounted(publisher: MqttPublisher) -> int:
    counters = publisher.counters
    return counters.commands + counters.command_errors + counters.commands_limited + counters.commands_dropped


def _flood(subscriber: Subscriber, payloads: list[bytes]) -> None:
    infos = [subscriber.client.publish(f"{BASE}/recording/set", payload, qos=1) for payload in payloads]
    infos[-1].wait_for_publish(60)


def _summaries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "edge.publish.mqtt" and "without answering" in
            r.getMessage()]


def _ignored(caplog: pytest.LogCaptureFixture) -> int:
    """Commands the summaries say were ignored. A flood is summed up when the command queue has been
    empty for half a second: on a busy machine the broker's delivery can pause that long mid-flood, and
    the flood is then summed up in two or three lines instead of one."""
    return sum(int(re.search(r"ignored (\d+) commands", line)[1]) for line in _summaries(caplog))


def test_an_on_off_flood_takes_only_the_burst_and_sums_it_up(
    started: tuple[MqttPublisher, MiniBox], store: Store, subscriber: Subscriber, caplog: pytest.LogCaptureFixture
) -> None:
    publisher, box = started
    caplog.set_level(logging.INFO, logger="edge.publish.mqtt")
    assert box.meeting is None
    _flood(subscriber, [b"ON" if n % 2 == 0 else b"OFF" for n in range(FLOOD)])
    assert wait_until(lambda: _accounted(publisher) == FLOOD, 60), publisher.counters
    assert wait_until(lambda: _ignored(caplog) == FLOOD - 4, 10), _summaries(caplog)
    assert len(store.meetings()) == 2  # ON, OFF, ON, OFF: the burst of 4
    assert publisher.counters.commands == 4
    assert publisher.counters.commands_limited + publisher.counters.commands_dropped == FLOOD - 4
    summaries = _summaries(caplog)
    assert 1 <= len(summaries) <= 3 and all("mqtt.command_burst" in summary for summary in summaries)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name == "edge.publish.mqtt"]
    assert len(warnings) == len(summaries)
    assert subscriber.received(f"{BASE}/error") == []
    assert publisher.connected


def test_a_flood_of_bad_commands_gets_a_bounded_number_of_answers_and_one_summary(
    started: tuple[MqttPublisher, MiniBox], store: Store, subscriber: Subscriber, caplog: pytest.LogCaptureFixture
) -> None:
    publisher, box = started
    caplog.set_level(logging.INFO, logger="edge.publish.mqtt")
    began = time.monotonic()
    _flood(subscriber, [b"MAYBE"] * FLOOD)
    assert wait_until(lambda: _accounted(publisher) == FLOOD, 60), publisher.counters
    took_s = time.monotonic() - began
    answered = publisher.counters.command_errors
    # The burst, then one a second for as long as the flood lasted (measured, not assumed).
    assert REFUSALS_BURST <= answered <= REFUSALS_BURST + took_s * REFUSALS_PER_S + 1
    assert wait_until(lambda: len(subscriber.received(f"{BASE}/error")) == answered, 10)
    refusals = [r for r in caplog.records if r.name == "edge.publish.mqtt" and "ignored edge/" in r.getMessage()]
    assert len(refusals) == answered
    assert wait_until(lambda: _ignored(caplog) == FLOOD - answered, 10), _summaries(caplog)
    assert 1 <= len(_summaries(caplog)) <= 3
    assert store.meetings() == [] and box.calls == []


def test_the_token_bucket_takes_a_burst_then_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(3, 0.5, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] = 1.0
    assert not bucket.take()
    now[0] = 2.0
    assert bucket.take() and not bucket.take()
    now[0] = 100.0
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
