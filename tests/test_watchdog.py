"""sd_notify and the pipeline watchdog, against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.ops.notify import Notifier
from edge.ops.watchdog import PipelineWatchdog


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()


def _messages(sock: socket.socket) -> list[str]:
    received = []
    while True:
        try:
            received.append(sock.recv(4096).decode())
        except BlockingIOError:
            return received


def _notifier(sock: socket.socket, watchdog_usec: int = 2_000_000) -> Notifier:
    environ = {
        "NOTIFY_SOCKET": sock.getsockname(),
        "WATCHDOG_USEC": str(watchdog_usec),
        "WATCHDOG_PID": str(os.getpid()),
    }
    return Notifier.from_environment(environ)


def test_ready_status_and_stopping_arrive(notify_socket):
    with _notifier(notify_socket) as notifier:
        assert notifier.enabled and notifier.watchdog_interval == 2.0
        notifier.ready("models loaded")
        notifier.status("recording\nroom 1")
        notifier.extend_timeout(90)
        notifier.stopping()
    assert _messages(notify_socket) == [
        "READY=1\nSTATUS=models loaded",
        "STATUS=recording room 1",
        "EXTEND_TIMEOUT_USEC=90000000",
        "STOPPING=1",
    ]


def test_without_notify_socket_everything_is_a_no_op():
    notifier = Notifier.from_environment({})
    assert not notifier.enabled and notifier.watchdog_interval is None
    assert notifier.ready() is False and notifier.watchdog() is False


def test_watchdog_usec_for_another_process_is_ignored(notify_socket):
    notifier = Notifier.from_environment(
        {"NOTIFY_SOCKET": notify_socket.getsockname(), "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}
    )
    assert notifier.enabled and notifier.watchdog_interval is None


def test_abstract_socket_address():
    name = f"edge-test-{os.getpid()}-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    try:
        with Notifier.from_environment({"NOTIFY_SOCKET": "@" + name}) as notifier:
            assert notifier.ready()
        assert sock.recv(100) == b"READY=1"
    finally:
        sock.close()


def test_pings_while_stages_progress_and_stop_when_one_stalls(notify_socket):
    clock = FakeClock()
    watchdog = PipelineWatchdog(_notifier(notify_socket), stall_seconds=10, clock=clock)
    assert watchdog.ping_interval == 1.0  # half of WATCHDOG_USEC
    watchdog.notifier.ready()
    watchdog.register("capture")
    watchdog.register("asr")
    assert _messages(notify_socket) == ["READY=1"]

    for _ in range(5):
        clock.advance(1.5)
        watchdog.alive("capture")
        watchdog.alive("asr")
        assert watchdog.tick()
    assert _messages(notify_socket) == ["WATCHDOG=1"] * 5

    # asr hangs (a deadlock or a native call that never returns); capture keeps going.
    for _ in range(12):
        clock.advance(1.5)
        watchdog.alive("capture")
        watchdog.tick()
    received = _messages(notify_socket)
    pings_before_stall = received.index(next(m for m in received if m.startswith("STATUS=stalled")))
    assert received[:pings_before_stall] == ["WATCHDOG=1"] * pings_before_stall
    # asr last reported at t=0; ticks every 1.5 s; limit 10 s: pings at 1.5 ... 9.0, none from 10.5 on.
    assert pings_before_stall == 6, received
    assert len(received) == 7 and re.fullmatch(r"STATUS=stalled: asr \(no progress for 1\d s\)", received[6])
    assert [name for name, _ in watchdog.stalled()] == ["asr"]

    # asr comes back: pings resume and the status says so.
    clock.advance(1.5)
    watchdog.alive("asr")
    watchdog.alive("capture")
    assert watchdog.tick()
    assert _messages(notify_socket) == ["STATUS=running", "WATCHDOG=1"]


def test_ticks_more_often_than_the_interval_ping_once(notify_socket):
    clock = FakeClock()
    watchdog = PipelineWatchdog(_notifier(notify_socket, watchdog_usec=10_000_000), clock=clock)
    watchdog.register("vad")
    for _ in range(10):
        clock.advance(1.0)
        watchdog.alive("vad")
        watchdog.tick()
    assert _messages(notify_socket) == ["WATCHDOG=1"] * 2  # at t+1 and t+6 (interval 5 s)


def test_a_stage_may_allow_itself_longer(notify_socket):
    clock = FakeClock()
    watchdog = PipelineWatchdog(_notifier(notify_socket), stall_seconds=5, clock=clock)
    watchdog.register("llm", stall_seconds=120)
    clock.advance(60)
    assert watchdog.tick()
    clock.advance(61)
    assert not watchdog.tick()


def test_unknown_stage_is_a_programming_error(notify_socket):
    watchdog = PipelineWatchdog(_notifier(notify_socket))
    with pytest.raises(KeyError, match="not registered"):
        watchdog.alive("nope")


def test_real_threads_a_hung_stage_stops_the_pings(notify_socket):
    """Stage threads loop and report; one then blocks forever (like a deadlock). No fake clock."""
    watchdog = PipelineWatchdog(_notifier(notify_socket, watchdog_usec=200_000), stall_seconds=1.0)
    stop = threading.Event()
    hang = threading.Event()

    def stage(name: str, may_hang: bool) -> None:
        watchdog.register(name)
        while not stop.is_set():
            if may_hang and hang.is_set():
                stop.wait()  # stuck: never reports again
                return
            watchdog.alive(name)
            stop.wait(0.02)

    threads = [threading.Thread(target=stage, args=(n, n == "asr"), daemon=True) for n in ("capture", "asr")]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 30
        received: list[str] = []
        while received.count("WATCHDOG=1") < 3:
            assert time.monotonic() < deadline, "no pings while the stages progress"
            watchdog.tick()
            time.sleep(0.05)
            received += _messages(notify_socket)

        hang.set()
        while watchdog.tick():
            assert time.monotonic() < deadline, "the pings never stopped after the stage hung"
            time.sleep(0.05)
        assert any(m.startswith("STATUS=stalled: asr") for m in _messages(notify_socket))
        for _ in range(10):
            assert not watchdog.tick()
            time.sleep(0.05)
        assert _messages(notify_socket) == []
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
