"""A step of the system clock in the middle of a meeting, as NTP makes on a board with no battery clock:
the real box (`edge run`, real Whisper base, a meeting replayed in real time) has its CLOCK_REALTIME
stepped back an hour, then forward an hour, by a preloaded library (tests/clock_step/step_realtime.c)
that leaves the monotonic clocks alone, as a real step does.

The meeting is a composite made here from the fixtures (Korean and English clips with pauses). Segment
times stay monotonic and inside the speech they came from; the meeting's start, its segments' stamps
and its end stay in order, in the time base of the last step (here the true time), with the meeting's
true length between start and end."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from test_live_replay_real import PAD_S, rows, start_box

from edge.audio.files import write_wav
from edge.ops.synth.meeting_audio import build_meeting

pytestmark = pytest.mark.slow

CLIPS = ("audio/leopard/test_ko.wav", "audio/jfk.wav", "audio/leopard/test_ko.wav", "audio/leopard/test.wav",
         "audio/leopard/test_ko.wav", "audio/jfk.wav")  # fmt: skip
HOUR = 3600
WAIT_S = 300  # an upper bound for the replay, not a performance expectation
STAMP_SLACK_S = 3.0  # the box notices a step within a second; the rest is this test's polling


def step_library(tmp_path: Path) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.fail("no C compiler: `make setup` installs build-essential")
    library = tmp_path / "step_realtime.so"
    source = Path(__file__).parent / "clock_step" / "step_realtime.c"
    subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(source), "-ldl"], check=True)
    return library


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def test_segment_times_stay_monotonic_and_true_across_a_step_back_and_forward(
    tmp_path: Path, fixture_file: Callable[[str], Path], dev_model: Callable[[str], Path]
) -> None:
    meeting = build_meeting([fixture_file(c) for c in CLIPS], pause_s=(1.2, 1.8), seed=11)
    audio = write_wav(tmp_path / "meeting.wav", meeting.audio)
    offset = tmp_path / "clock-offset"
    offset.write_text("0")
    db = tmp_path / "data" / "edge.db"

    def committed() -> int:
        return rows(db, "SELECT count(*) FROM segments")[0][0] if db.exists() else 0

    box = start_box(tmp_path, audio, fixture_file("models/silero_vad_v6.2.onnx"), dev_model("ggml-base.bin"),
                    auto_start=False, env={"LD_PRELOAD": str(step_library(tmp_path)),
                                           "EDGE_TEST_CLOCK_OFFSET_FILE": str(offset)})  # fmt: skip
    duration_s = len(meeting.audio) / 16_000
    counts = []
    try:
        with box.client() as client:
            started = time.time()  # this test's clock is never stepped: the truth
            meeting_id = client.post("/meetings", json={"title": "시계 점프 회의 (clock step)"}).json()["id"]
            for at_s, step in ((duration_s / 3, -HOUR), (2 * duration_s / 3, 0)):
                while time.time() - started < at_s:
                    time.sleep(0.2)
                counts.append(committed())
                offset.write_text(str(step))
            deadline = time.monotonic() + WAIT_S
            while client.get("/state").json()["state"] != "idle" and time.monotonic() < deadline:
                time.sleep(0.2)  # the meeting ends by itself with the replayed file
            ended = time.time()
            health = client.get("/health").json()
            found = client.get(f"/meetings/{meeting_id}").json()
    finally:
        box.kill()
    log = box.log.read_text()
    assert health["clock"]["steps"] == 2, (health["clock"], log[-3000:])
    segments = rows(db, "SELECT t0_ms, t1_ms, created_at FROM segments ORDER BY seq")
    counts.append(len(segments))
    # Speech was committed before the first step, between the steps, and after the second one.
    assert 0 < counts[0] < counts[1] < counts[2], (counts, log[-3000:])
    spans = meeting.speech_spans_s
    for t0_ms, t1_ms, _ in segments:
        assert any(a - PAD_S <= t0_ms / 1000 and t1_ms / 1000 <= b + PAD_S for a, b in spans), (t0_ms, t1_ms, spans)
    assert [s[0] for s in segments] == sorted(s[0] for s in segments)
    start, end = seconds(found["started_at"]), seconds(found["ended_at"])
    created = [seconds(stamp) for *_, stamp in segments]
    assert created == sorted(created) and start <= created[0] and created[-1] <= end, (found, created)
    # True: after the last step the box's clock is the true one, so its stamps are this test's times.
    assert abs(start - started) < STAMP_SLACK_S and abs(end - ended) < STAMP_SLACK_S, (found, started, ended)
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert "the system clock was stepped by -3600.0 s" in log and "the system clock was stepped by +3600.0 s" in log
