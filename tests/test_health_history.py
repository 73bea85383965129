"""The last hour of health (edge.api.health_history and GET /api/v1/health/history): a bounded ring buffer
of samples, the box's values taken from its health, the machine's from what the platform exposes (a value
it does not expose is null, never a guess), served to a token holder only and documented in OpenAPI."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fake_box import FakeBox, serving

from edge.api.health_history import SERIES, HealthHistory, hottest_temperature_c, process_memory_mb
from edge.core.clock import WallClock

TOKEN = "health-history-token-0123456789abcdef"


@pytest.fixture
def box(tmp_path: Path) -> Iterator[FakeBox]:
    fake = FakeBox(tmp_path / "box")
    yield fake
    fake.close()


def thermal_zones(root: Path, readings: list[str]) -> Path:
    for n, reading in enumerate(readings):
        (root / f"thermal_zone{n}").mkdir(parents=True)
        (root / f"thermal_zone{n}" / "temp").write_text(reading + "\n")
    return root


def test_a_sample_takes_the_box_values_and_the_machine_readings(tmp_path: Path) -> None:
    health = {"rtf": 0.42, "queues": {"asr_pending": 3, "frames": 9}, "drops": {"asr_utterances": 2, "frames": 5},
              "outbox_backlog": 7}  # fmt: skip
    thermal = thermal_zones(tmp_path / "thermal", ["45000", "61500", "not a number", "-273000"])
    history = HealthHistory(lambda: health, tmp_path, thermal_dir=thermal)
    sample = history.record(at=1000.0)
    assert {k: sample[k] for k in ("t", "rtf", "asr_backlog", "drops", "outbox_backlog", "temperature_c")} == {
        "t": 1000.0, "rtf": 0.42, "asr_backlog": 3.0, "drops": 7.0, "outbox_backlog": 7.0, "temperature_c": 61.5}
    assert sample["memory_mb"] is not None and sample["memory_mb"] > 1  # this test process, from /proc
    assert sample["disk_free_gb"] is not None and sample["disk_free_gb"] > 0


def test_what_the_platform_does_not_expose_is_null(tmp_path: Path) -> None:
    history = HealthHistory(lambda: {"status": "ok", "rtf": None}, tmp_path / "gone", thermal_dir=tmp_path / "none",
                            statm=tmp_path / "no-statm")  # fmt: skip
    sample = history.record()
    assert {name: sample[name] for name in SERIES} == dict.fromkeys(SERIES)
    assert hottest_temperature_c(thermal_zones(tmp_path / "broken", ["", "9999999"])) is None
    assert process_memory_mb(tmp_path / "no-statm") is None


def test_the_buffer_keeps_one_hour_oldest_first(tmp_path: Path) -> None:
    backlog = {"n": 0}
    clock = WallClock(system=lambda: 1_700_000_000.0, monotonic=lambda: 0.0)  # monotonic 0 is that Unix time
    history = HealthHistory(lambda: {"queues": {"asr_pending": backlog["n"]}}, tmp_path, interval_s=600, clock=clock)
    for n in range(10):  # an hour of 10-minute samples is six
        backlog["n"] = n
        history.record(at=10_000.0 + n * 600)
    series = history.series()
    assert set(series) == {"t", *SERIES}
    assert series["asr_backlog"] == [4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    assert series["t"] == [1_700_000_000.0 + 10_000.0 + n * 600 for n in range(4, 10)]
    with pytest.raises(ValueError, match="interval_s"):
        HealthHistory(dict, tmp_path, interval_s=0)


def test_a_step_of_the_system_clock_moves_the_whole_hour_and_keeps_its_order(tmp_path: Path) -> None:
    system, monotonic = [1_700_000_000.0], [0.0]
    clock = WallClock(system=lambda: system[0], monotonic=lambda: monotonic[0])
    history = HealthHistory(dict, tmp_path, interval_s=10, clock=clock)
    for _ in range(3):
        history.record()  # stamped by the monotonic clock
        monotonic[0] += 10
        system[0] += 10
    system[0] -= 3600  # NTP steps the clock back an hour
    assert clock.check() == -3600
    history.record()
    assert history.series()["t"] == [1_700_000_000.0 - 3600 + n * 10 for n in range(4)]


def test_the_sampler_runs_until_stopped(tmp_path: Path) -> None:
    calls = threading.Event()

    def health() -> dict:
        calls.set()
        raise RuntimeError("a failing health read is logged, the sampler goes on")

    stop = threading.Event()
    thread = HealthHistory(health, tmp_path, interval_s=0.01).start(stop)
    assert calls.wait(30)
    stop.set()
    thread.join(30)
    assert not thread.is_alive()


def test_history_needs_the_token_and_is_documented(box: FakeBox) -> None:
    box.health_overrides = {"rtf": 1.5, "queues": {"asr_pending": 8}}
    with serving(box, TOKEN) as server:
        server.app.state.health_history.record()
        url = server.url + "/api/v1/health/history"
        assert httpx.get(url, timeout=10).status_code == 401
        body = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).json()
        schema = httpx.get(server.url + "/api/v1/openapi.json", timeout=10).json()
    assert body["interval_s"] == 10
    assert {len(values) for values in body["series"].values()} == {len(body["series"]["t"])}
    assert body["series"]["rtf"][-1] == 1.5 and body["series"]["asr_backlog"][-1] == 8
    operation = schema["paths"]["/api/v1/health/history"]["get"]
    assert "401" in operation["responses"]
    assert "disk_free_gb" in str(schema["components"]["schemas"]["HealthHistoryOut"])
