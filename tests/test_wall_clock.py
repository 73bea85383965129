"""The box's wall clock under steps of the system clock (NTP setting the time of a board with no battery
clock): stamps never run backwards, steps are followed and told, and the running meetings' stamps in the
store move with them. The system and monotonic clocks are replaced by numbers here; the real clocks
under a real step are in tests/test_clock_step_box.py."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

from edge.core.clock import WallClock
from edge.store import Store

START = 1_767_222_000.0  # 2026-01-01 00:00 +0900


class Clocks:
    def __init__(self) -> None:
        self.system = START
        self.monotonic = 100.0

    def advance(self, seconds: float) -> None:
        self.system += seconds
        self.monotonic += seconds

    def wall_clock(self) -> WallClock:
        return WallClock(system=lambda: self.system, monotonic=lambda: self.monotonic)


def test_stamps_follow_the_monotonic_clock_until_a_check_sees_a_step() -> None:
    clocks = Clocks()
    clock = clocks.wall_clock()
    clocks.advance(5)
    assert clock.unix() == START + 5
    clocks.system -= 3600
    assert clock.unix() == START + 5  # not yet seen: one time base, in order
    steps: list[float] = []
    clock.on_step(steps.append)
    assert clock.check() == -3600
    assert steps == [-3600] and clock.steps == 1 and clock.last_step_s == -3600
    assert clock.unix() == START + 5 - 3600
    assert clock.check() is None


def test_small_drift_is_followed_forwards_only() -> None:
    clocks = Clocks()
    clock = clocks.wall_clock()
    clocks.system += 0.4  # a slew forwards: followed, not a step
    assert clock.check() is None and clock.unix() == START + 0.4
    before = clock.unix()
    clocks.system -= 0.6  # backwards by less than a step: stamps would run backwards; kept until it is one
    assert clock.check() is None and clock.unix() == before
    clocks.system -= 0.5
    assert clock.check() is not None and clock.last_step_s == -1.1
    assert clock.steps == 1


def test_a_step_moves_the_running_meetings_stamps_not_the_finished_ones(tmp_path: Path) -> None:
    clocks = Clocks()
    clock = clocks.wall_clock()
    store = Store(tmp_path / "edge.db", clock=clock)
    finished = store.create_meeting(language="ko", source="test", title="지난 회의")
    store.add_segment(finished.id, t0_ms=0, t1_ms=900, text_raw="지난 회의입니다", language="ko")
    store.end_meeting(finished.id)
    clocks.advance(60)
    running = store.create_meeting(language="ko", source="test", title="주간 회의")
    clocks.advance(10)
    store.add_segment(running.id, t0_ms=10_000, t1_ms=11_000, text_raw="배포는 금요일입니다", language="ko")
    clocks.advance(10)
    clocks.system += 3600  # NTP sets the right time, an hour later than the board thought
    assert clock.check() == 3600
    clocks.advance(10)
    store.add_segment(running.id, t0_ms=30_000, t1_ms=31_000, text_raw="Jenkins 빌드 확인", language="ko")
    clocks.advance(10)
    ended = store.end_meeting(running.id)

    def at(stamp: str) -> float:
        return datetime.fromisoformat(stamp).timestamp()

    assert at(ended.started_at) == START + 60 + 3600
    assert at(ended.ended_at or "") - at(ended.started_at) == 40  # its true length, by the monotonic clock
    created = [at(row[0]) for row in store._db.execute(
        "SELECT created_at FROM segments WHERE meeting_id = ? ORDER BY seq", (running.id,))]  # fmt: skip
    assert created == [START + 70 + 3600, START + 90 + 3600]
    assert at(store.meeting(finished.id).started_at) == START  # done before the step: its own time base
    store.close()


def test_the_watch_thread_checks_until_stopped() -> None:
    clocks = Clocks()
    clock = clocks.wall_clock()
    stepped = threading.Event()
    clock.on_step(lambda seconds: stepped.set())
    stop = threading.Event()
    thread = clock.watch(stop, interval_s=0.01)
    clocks.system += 7200
    assert stepped.wait(30)
    stop.set()
    thread.join(30)
    assert not thread.is_alive()
