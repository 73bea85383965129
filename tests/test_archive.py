"""Meeting audio archive: exact WAV on close, silence for gaps, retention, and real kill -9 crashes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edge.audio.archive import MeetingAudioArchive, prune_archives, recover_archives, repair_archive
from edge.core.errors import AudioInputError
from edge.core.events import AudioFrame, CaptureGap

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The writer that gets killed: 100 ms frames of a known pattern, about 100x faster than real time.
WRITER = """
import sys, time
from pathlib import Path
import numpy as np
from edge.audio.archive import MeetingAudioArchive
from edge.core.events import AudioFrame

archive = MeetingAudioArchive(Path(sys.argv[1]), "crash", flush_seconds=1.0)
limit = int(float(sys.argv[2]) * 16000)
position = 0
while position < limit:
    samples = (((np.arange(position, position + 1600) % 200) - 100) / 128).astype(np.float32)
    archive.write(AudioFrame(samples, position // 16))
    position += 1600
    if position == 16000:
        print("FLUSHED", flush=True)
    time.sleep(0.001)
print("DONE", flush=True)
time.sleep(600)
"""


def expected_pcm(n: int) -> np.ndarray:
    values = ((np.arange(n) % 200) - 100) / 128
    return np.round(values.astype(np.float32) * 32767).astype(np.int16)


def start_writer(directory: Path, seconds: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(directory), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
    )


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL


def test_kill_9_after_writing_leaves_a_readable_file_up_to_the_last_flush(tmp_path):
    process = start_writer(tmp_path, 2.5)  # flushes at 1 s and 2 s, then 0.5 s unflushed
    try:
        assert process.stdout.readline().strip() == "FLUSHED"
        assert process.stdout.readline().strip() == "DONE"
    finally:
        kill(process)
    path = tmp_path / "crash.wav"
    pcm, rate = sf.read(path, dtype="int16")
    assert rate == 16_000 and len(pcm) == 32_000  # exactly what the last flush declared
    np.testing.assert_array_equal(pcm, expected_pcm(32_000))
    recovered = repair_archive(path)
    assert 32_000 <= recovered <= 40_000
    pcm = sf.read(path, dtype="int16")[0]
    assert len(pcm) == recovered
    np.testing.assert_array_equal(pcm, expected_pcm(recovered))


def test_kill_9_at_random_moments_never_leaves_an_unreadable_file(tmp_path):
    rng = random.Random(1234)
    for attempt in range(5):
        directory = tmp_path / f"run{attempt}"
        process = start_writer(directory, 600)
        try:
            assert process.stdout.readline().strip() == "FLUSHED"
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            kill(process)
        path = directory / "crash.wav"
        pcm = sf.read(path, dtype="int16")[0]
        assert len(pcm) >= 16_000 and len(pcm) % 16_000 == 0  # whole flushes only
        np.testing.assert_array_equal(pcm, expected_pcm(len(pcm)))
        recovered = repair_archive(path)
        assert recovered >= len(pcm)
        np.testing.assert_array_equal(sf.read(path, dtype="int16")[0], expected_pcm(recovered))


def test_reopening_an_interrupted_archive_repairs_it_and_appends(tmp_path):
    process = start_writer(tmp_path, 1.5)
    try:
        assert process.stdout.readline().strip() == "FLUSHED"
        assert process.stdout.readline().strip() == "DONE"
    finally:
        kill(process)
    with MeetingAudioArchive(tmp_path, "crash") as archive:
        before = archive.samples
        assert 16_000 <= before <= 24_000
        archive.write_samples(np.zeros(16_000, dtype=np.float32))
    pcm = sf.read(tmp_path / "crash.wav", dtype="int16")[0]
    assert len(pcm) == before + 16_000
    np.testing.assert_array_equal(pcm[:before], expected_pcm(before))


def test_close_writes_an_exact_16k_mono_pcm16_header(tmp_path):
    rng = np.random.default_rng(0)
    audio = rng.uniform(-1, 1, 12_345).astype(np.float32)
    audio[:3] = [1.5, -2.0, 0.0]  # out of range: clipped, not wrapped
    with MeetingAudioArchive(tmp_path, "m-1") as archive:
        archive.write(AudioFrame(audio, 0))
    path = tmp_path / "m-1.wav"
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (16_000, 1, "PCM_16", 12_345)
    assert path.stat().st_size == 44 + 2 * 12_345
    assert repair_archive(path) == 12_345 and path.stat().st_size == 44 + 2 * 12_345  # nothing to repair
    read = sf.read(path, dtype="float32")[0]
    assert read[0] == pytest.approx(32767 / 32768) and read[1] == pytest.approx(-32767 / 32768)
    np.testing.assert_allclose(read[3:], audio[3:], atol=1e-4)  # 16-bit quantization


def test_gaps_and_dropped_frames_become_silence_so_file_time_is_meeting_time(tmp_path):
    tone = np.full(1600, 0.5, dtype=np.float32)  # 100 ms
    with MeetingAudioArchive(tmp_path, "m2") as archive:
        archive.write(AudioFrame(tone, 0))
        archive.write(CaptureGap(start_ms=100, duration_ms=500, reason="unplugged"))
        archive.write(AudioFrame(tone, 600))
        archive.write(AudioFrame(tone, 1000))  # 300 ms of frames never arrived
        assert archive.position_ms == 1100
    audio = sf.read(tmp_path / "m2.wav", dtype="float32")[0]
    assert len(audio) == 17_600
    loud = np.abs(audio) > 0.4
    assert loud[:1600].all() and not loud[1600:9600].any()
    assert loud[9600:11200].all() and not loud[11200:16000].any() and loud[16000:].all()


def test_unsafe_meeting_ids_are_refused(tmp_path):
    for bad in ("../escape", "a/b", "", ".hidden"):
        with pytest.raises(ValueError):
            MeetingAudioArchive(tmp_path, bad)


def test_repair_refuses_a_file_that_is_not_a_wav(tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio at all, just text" * 4)
    with pytest.raises(AudioInputError, match="not a WAV"):
        repair_archive(junk)
    with MeetingAudioArchive(tmp_path, "good") as archive:
        archive.write_samples(np.zeros(100, dtype=np.float32))
    assert recover_archives(tmp_path) == [junk]


def test_prune_deletes_only_archives_older_than_the_retention(tmp_path):
    now = 1_800_000_000.0
    old, recent, other = tmp_path / "old.wav", tmp_path / "recent.wav", tmp_path / "old.txt"
    for path in (old, recent, other):
        path.write_bytes(b"x")
    os.utime(old, (now - 31 * 86_400, now - 31 * 86_400))
    os.utime(recent, (now - 29 * 86_400, now - 29 * 86_400))
    os.utime(other, (now - 90 * 86_400, now - 90 * 86_400))
    assert prune_archives(tmp_path, 0, now=now) == []  # 0 keeps everything
    assert old.exists()
    assert prune_archives(tmp_path, 30, now=now) == [old]
    assert not old.exists() and recent.exists() and other.exists()
    assert prune_archives(tmp_path / "missing", 30, now=now) == []
