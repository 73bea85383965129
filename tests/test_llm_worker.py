from __future__ import annotations

import threading
import time

from edge.core.config import LlmConfig
from edge.llm.worker import LlmWorker


class FakeEngine:
    def __init__(self) -> None:
        self.closed = False
        self.held = False

    def hold(self) -> None:
        self.held = True

    def release(self) -> None:
        self.held = False

    def close(self) -> None:
        self.closed = True


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_jobs_run_in_order_once_per_key_on_one_lazily_loaded_engine() -> None:
    engines: list[FakeEngine] = []
    ran: list[tuple[str, int]] = []
    gate = threading.Event()

    def factory() -> FakeEngine:
        engines.append(FakeEngine())
        return engines[-1]

    worker = LlmWorker(LlmConfig(), quiet=lambda: True, engine_factory=factory)
    worker.submit("first", lambda engine: (gate.wait(5), ran.append(("first", id(engine)))))
    worker.start()
    worker.submit("second", lambda engine: ran.append(("second", id(engine))))
    worker.submit("second", lambda engine: ran.append(("duplicate", id(engine))))
    gate.set()
    assert wait_until(lambda: worker.idle() and len(ran) == 2)
    assert [name for name, _ in ran] == ["first", "second"]
    assert len(engines) == 1 and ran[0][1] == ran[1][1] == id(engines[0])
    worker.stop()
    assert engines[0].closed and engines[0].held


def test_quiet_jobs_wait_for_a_quiet_box_and_failures_are_counted() -> None:
    quiet = threading.Event()
    ran: list[str] = []
    worker = LlmWorker(LlmConfig(), quiet=quiet.is_set, engine_factory=FakeEngine)
    worker.start()
    worker.submit("correct", lambda engine: ran.append("correct"))
    worker.submit("urgent", lambda engine: ran.append("urgent"), when_quiet=False)
    worker.submit("broken", lambda engine: 1 / 0, when_quiet=False)
    assert wait_until(lambda: worker.stats.jobs_failed == 1)
    assert ran == ["urgent"]
    time.sleep(0.3)
    assert ran == ["urgent"], "a when_quiet job ran while the box was busy"
    quiet.set()
    assert wait_until(lambda: ran == ["urgent", "correct"])
    worker.stop()
    assert worker.stats.jobs_done == 2


def test_stop_drops_waiting_jobs_and_refuses_new_ones() -> None:
    ran: list[str] = []
    worker = LlmWorker(LlmConfig(), quiet=lambda: False, engine_factory=FakeEngine)
    worker.start()
    worker.submit("later", lambda engine: ran.append("later"))
    worker.stop(timeout=5)
    worker.submit("after", lambda engine: ran.append("after"), when_quiet=False)
    time.sleep(0.2)
    assert ran == []


def test_queue_says_what_runs_and_waits_before_a_job_and_first_jumps_the_queue() -> None:
    gate = threading.Event()
    worker = LlmWorker(LlmConfig(), quiet=lambda: True, engine_factory=FakeEngine)
    worker.start()
    worker.submit("correct:a", lambda engine: gate.wait(5))
    assert wait_until(lambda: worker.current == "correct:a")
    worker.submit("minutes:a", lambda engine: None)
    worker.submit("ask:a", lambda engine: None, when_quiet=False, first=True)
    assert worker.queue("correct:a") == ([], False)
    assert worker.queue("ask:a") == (["correct:a"], False)  # a person waits on it: ahead of the minutes
    assert worker.queue("minutes:a") == (["correct:a", "ask:a"], True)
    assert worker.queue("nothing") is None
    gate.set()
    assert wait_until(worker.idle)
    worker.stop()


def test_no_job_starts_while_parked_and_the_engine_is_released_after() -> None:
    engines: list[FakeEngine] = []
    ran: list[str] = []

    def factory() -> FakeEngine:
        engines.append(FakeEngine())
        return engines[-1]

    worker = LlmWorker(LlmConfig(), quiet=lambda: True, engine_factory=factory)
    worker.start()
    worker.submit("first", lambda engine: ran.append("first"))
    assert wait_until(lambda: worker.idle() and ran == ["first"])
    assert worker.park() is None  # nothing running: nothing counted as parked
    assert engines[0].held
    worker.submit("second", lambda engine: ran.append("second"), when_quiet=False)
    time.sleep(0.2)
    assert ran == ["first"] and worker.queue("second") == ([], False)
    worker.unpark()
    assert wait_until(lambda: ran == ["first", "second"])
    assert not engines[0].held and worker.stats.parked == 0
    worker.stop()
