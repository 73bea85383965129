"""The free-space levels (edge/ops/disk_space.py), the health watch that tells their changes
(edge/pipeline/box_health.py), and, on a REAL small tmpfs, the two things a full disk must not break: segments
the database refuses are held and written in order once space returns (edge/pipeline/commit.py), and the
meeting's audio archive pauses and resumes with the missing span as silence and a recorded gap
(edge/pipeline/archiving.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import soundfile
from small_tmpfs import fill, small_tmpfs

from edge.core.events import SAMPLE_RATE, AsrSegment, AudioFrame, HealthChanged, ms_to_samples
from edge.ops.disk_space import MB, DiskSpace
from edge.pipeline.archiving import MeetingArchiver
from edge.pipeline.box_health import HealthWatch, held_problem
from edge.pipeline.commit import SegmentCommitter
from edge.pipeline.current_glossary import CurrentGlossary
from edge.store import Store


def fake_statvfs(free: list[float]):
    """statvfs of a disk whose free space (MB) is the last value of `free`: a double for the levels alone."""
    return lambda path: SimpleNamespace(f_bavail=int(free[-1] * MB / 4096), f_frsize=4096)


def test_levels_follow_the_thresholds_and_leave_a_level_only_with_a_margin() -> None:
    free = [5000.0]
    disk = DiskSpace(Path("."), warn_free_mb=1000, critical_free_mb=200, statvfs=fake_statvfs(free))
    levels = []
    for mb in (5000, 999, 500, 199, 150, 210, 219, 221, 1050, 1099, 1101):
        free.append(mb)
        levels.append((mb, disk.read().level))
    assert levels == [
        (5000, "ok"), (999, "low"), (500, "low"), (199, "full"), (150, "full"),
        (210, "full"), (219, "full"), (221, "low"),  # 110 % of 200 MB leaves "full"
        (1050, "low"), (1099, "low"), (1101, "ok"),  # 110 % of 1000 MB leaves "low"
    ]  # fmt: skip
    # critical_free_mb = 0: archiving stops only when the disk itself refuses a write.
    assert DiskSpace(Path("."), warn_free_mb=1, critical_free_mb=0, statvfs=fake_statvfs([0.0])).read().archiving


def test_an_unreadable_storage_is_an_error_that_stops_archiving(tmp_path: Path) -> None:
    reading = DiskSpace(tmp_path / "not-mounted", warn_free_mb=10, critical_free_mb=5).read()
    assert reading.level == "full" and not reading.archiving
    assert "cannot be read" in (reading.error or "") and "mounted" in (reading.error or "")


def test_the_watch_tells_each_change_once_and_the_return_to_ok() -> None:
    free = [5000.0]
    disk = DiskSpace(Path("."), warn_free_mb=1000, critical_free_mb=200, statvfs=fake_statvfs(free))
    held = [0]
    told: list[HealthChanged] = []
    watch = HealthWatch(disk, retry_held=lambda: held[0], problems=lambda: held_problem(held[0]), publish=told.append)
    for mb, waiting in ((5000, 0), (900, 0), (900, 0), (100, 0), (100, 3), (100, 3), (5000, 0)):
        free.append(mb)
        held[0] = waiting
        watch.check()
    assert [(event.status, [p["code"] for p in event.problems]) for event in told] == [
        ("degraded", ["disk_low"]),
        ("error", ["disk_full"]),
        ("error", ["disk_full", "segments_held"]),
        ("ok", []),
    ]
    full = told[1].problems[0]
    assert full["free_mb"] == 100 and "storage.critical_free_mb" in full["message"]
    assert told[2].problems[1]["n"] == 3


def words(i: int) -> str:
    # Long, varied lines (the firewall drops repetitions), so the database must grow to take each one.
    return " ".join(f"회의 {i}번째 안건의 {j}번 항목은 예산 {i * 31 + j}만 원으로 확정합니다." for j in range(8))


def test_segments_the_full_database_refuses_are_held_and_written_in_order_when_space_returns(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "small", 3) as storage:
        store = Store(storage / "edge.db", outbox=True)
        try:
            committer = SegmentCommitter(
                store, CurrentGlossary(store), prompt="", note_committed=lambda *_: None, then=lambda _: None
            )
            meeting = store.create_meeting(language="ko", source="file:x", title="디스크 가득", room="")
            segment = lambda i: [AsrSegment(i * 30_000, i * 30_000 + 29_000, words(i), "ko")]  # noqa: E731
            for i in range(3):
                committer.commit(meeting.id, segment(i), None)
            filler = storage / "filler"
            fill(filler)
            for i in range(3, 23):
                committer.commit(meeting.id, segment(i), None)
            assert committer.counters.write_failures > 0, "the full disk never refused a write"
            held = committer.held(meeting.id)
            assert held > 0
            assert committer.retry_held() == held  # still full: nothing written, nothing lost
            assert store.segment_count(meeting.id) + held == 23

            os.unlink(filler)
            assert committer.retry_held() == 0
            assert committer.counters.segments == 23 and committer.counters.lost == 0
            segments = store.segments(meeting.id)
            assert [s.seq for s in segments] == list(range(23))
            assert [s.t0_ms for s in segments] == [i * 30_000 for i in range(23)]
            assert [row.payload["seq"] for row in store.pending_outbox(limit=100)] == list(range(23))
            assert store.integrity_check() == "ok"
        finally:
            store.close()


def frame(second: float) -> AudioFrame:
    t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
    return AudioFrame((0.25 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), int(second * 1000))


def test_the_archive_pauses_on_a_full_disk_and_resumes_with_the_span_as_silence_and_a_gap(tmp_path: Path) -> None:
    allowed = [True]
    gaps: list[tuple[int, int, str]] = []
    clock = [0.0]
    with small_tmpfs(tmp_path / "small", 1) as storage:
        archiver = MeetingArchiver(
            storage, "m1", allowed=lambda: allowed[0], record_gap=lambda *gap: gaps.append(gap), clock=lambda: clock[0]
        )
        filler = storage / "filler"
        for i in range(4):
            archiver.write(frame(i / 2))  # 2 s of audio
        fill(filler)
        second = 2.0
        while archiver.paused is None and second < 60:  # the disk refuses a write (or its flush) soon
            archiver.write(frame(second))
            second += 0.5
        assert archiver.paused is not None and "refused" in archiver.paused
        paused_at = second
        os.unlink(filler)
        allowed[0] = False  # the storage still reads as full: no retry
        clock[0] += 5
        archiver.write(frame(second))
        assert archiver.paused is not None
        allowed[0] = True
        resumed_at = second + 1.0
        archiver.write(frame(resumed_at))
        assert archiver.paused is None and archiver.pauses == 1
        archiver.write(frame(resumed_at + 0.5))
        archiver.close()

        audio, rate = soundfile.read(storage / "m1.wav", dtype="float32")
        assert rate == SAMPLE_RATE and len(audio) == ms_to_samples(int((resumed_at + 1.0) * 1000))
        [(start_ms, duration_ms, reason)] = gaps
        assert start_ms <= paused_at * 1000 and start_ms + duration_ms == resumed_at * 1000
        assert "not archived" in reason
        assert not audio[ms_to_samples(start_ms + 1) : ms_to_samples(start_ms + duration_ms)].any()
        assert audio[ms_to_samples(int(resumed_at * 1000)) :].any()


def test_a_request_the_full_database_refuses_is_answered_507_with_what_to_free(tmp_path: Path) -> None:
    import httpx
    from fake_box import API_TOKEN, AUTH, FakeBox, serving

    with small_tmpfs(tmp_path / "small", 3) as storage:
        box = FakeBox(storage / "box")
        try:
            with serving(box, API_TOKEN) as server, httpx.Client(base_url=server.url + "/api/v1", headers=AUTH) as api:
                filler = storage / "filler"
                fill(filler)
                refused = api.post("/meetings", json={"title": "주간 회의"})
                assert refused.status_code == 507, refused.text
                assert "free space under storage.path" in refused.json()["detail"]
                os.unlink(filler)
                assert api.post("/meetings", json={"title": "주간 회의"}).status_code == 201
        finally:
            box.close()


def test_a_meeting_stopped_on_a_full_disk_is_ended_once_space_returns(
    tmp_path: Path, fixture_file: Callable[[str], Path]
) -> None:
    import pytest

    from edge.app import Box
    from edge.audio.files import write_wav
    from edge.core.config import Config
    from edge.store import StoreWriteFailed

    silence = write_wav(tmp_path / "silence.wav", np.zeros(30 * SAMPLE_RATE, dtype=np.float32))
    with small_tmpfs(tmp_path / "small", 3) as storage:
        cfg = Config.model_validate({
            "audio": {"source": f"file:{silence}", "realtime": True},
            "vad": {"model_path": str(fixture_file("models/silero_vad_v6.2.onnx"))},
            "storage": {"path": str(storage / "data"), "warn_free_mb": 0, "critical_free_mb": 0},
            "api": {"enabled": False}, "mqtt": {"enabled": False},
        })  # fmt: skip
        box = Box(cfg)  # not opened: no models, and silence gives the speech recognizer nothing to wait for
        try:
            meeting = box.start_meeting(title="디스크가 찬 회의")
            filler = storage / "filler"
            fill(filler)
            with pytest.raises(StoreWriteFailed, match="ended as soon as the database takes it"):
                box.stop_meeting()
            assert box.recording is None and box.state()["state"] == "idle"
            assert box.store.meeting(meeting.id).status == "recording"
            assert box.committer.held(meeting.id) == 1

            os.unlink(filler)
            assert box.committer.retry_held() == 0
            ended = box.store.meeting(meeting.id)
            assert (ended.status, ended.ended_at is not None) == ("stopped", True)
            assert box.store.integrity_check() == "ok"
        finally:
            box.close()
