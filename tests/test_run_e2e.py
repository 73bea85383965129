"""`edge run` as a subprocess, replaying fixture speech as if it were a microphone, with a random-weight
whisper model of the real tiny shape and the real Silero VAD."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import soundfile

from edge.audio.files import write_wav
from edge.audio.vad import detect_speech
from edge.core.config import VadConfig
from edge.ops.synth.meeting_audio import build_meeting
from edge.store import MIGRATIONS


def write_config(tmp_path: Path, audio: Path, vad_model: Path, whisper: Path, *, realtime: bool) -> Path:
    config = tmp_path / "edge.toml"
    config.write_text(
        f"""
[device]
id = "test-box"
[audio]
source = "file:{audio}"
realtime = {str(realtime).lower()}
[vad]
model_path = "{vad_model}"
[asr]
model_path = "{whisper}"
language = "en"
threads = 2
max_tokens = 16
temperature_inc = 0.0
partial_interval_ms = 0
[storage]
path = "{tmp_path / 'data'}"
[api]
enabled = false
""",
        encoding="utf-8",
    )
    return config


def rows(db: Path, sql: str) -> list[tuple]:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def schema_ready(db: Path) -> bool:
    """Has the box created its tables? The file exists from the first connect, before its migrations ran;
    the last migration sets the schema version in the same transaction as its tables."""
    return db.exists() and rows(db, "PRAGMA user_version") == [(len(MIGRATIONS),)]


def test_replayed_file_commits_segments_in_meeting_time(
    tmp_path: Path, fixture_file: Callable[[str], Path], random_whisper_tiny: Path
) -> None:
    audio = fixture_file("audio/jfk.wav")
    vad_model = fixture_file("models/silero_vad_v6.2.onnx")
    config = write_config(tmp_path, audio, vad_model, random_whisper_tiny, realtime=False)
    result = subprocess.run(
        [sys.executable, "-m", "edge", "run", "--config", str(config)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    db = tmp_path / "data" / "edge.db"
    [(status, audio_path)] = rows(db, "SELECT status, audio_path FROM meetings")
    assert status == "stopped"
    segments = rows(db, "SELECT seq, t0_ms, t1_ms, text_raw FROM segments ORDER BY seq")
    filtered = rows(db, "SELECT t0_ms, t1_ms, reason FROM filtered_segments")
    assert segments or filtered, "speech must give committed (or audited) segments"
    assert [s[0] for s in segments] == list(range(len(segments)))
    spans = detect_speech(soundfile.read(audio, dtype="float32")[0], VadConfig(model_path=vad_model))
    pad = 0.2 + 0.05
    for _, t0, t1, _ in segments:
        assert t0 <= t1
        assert any(a - pad <= t0 / 1000 and t1 / 1000 <= b + pad for a, b in spans), (t0, t1, spans)
    archived = soundfile.info(audio_path)
    assert abs(archived.duration - soundfile.info(audio).duration) < 0.1


def test_sigterm_mid_meeting_loses_no_committed_segment(
    tmp_path: Path, fixture_file: Callable[[str], Path], random_whisper_tiny: Path
) -> None:
    clips = [fixture_file(name) for name in ("audio/jfk.wav", "audio/leopard/test.wav", "audio/jfk.wav")]
    audio = write_wav(tmp_path / "meeting.wav", build_meeting(clips, pause_s=(1.0, 1.5), seed=3).audio)
    vad_model = fixture_file("models/silero_vad_v6.2.onnx")
    config = write_config(tmp_path, audio, vad_model, random_whisper_tiny, realtime=True)
    db = tmp_path / "data" / "edge.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "edge", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[tuple] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not seen and process.poll() is None:
        time.sleep(0.5)
        if schema_ready(db):
            seen = rows(db, "SELECT meeting_id, seq, text_raw FROM segments UNION ALL "
                            "SELECT meeting_id, -1, text FROM filtered_segments")
    assert seen, "no segment was committed while the file was replayed"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-2000:]
    after = rows(db, "SELECT meeting_id, seq, text_raw FROM segments UNION ALL "
                     "SELECT meeting_id, -1, text FROM filtered_segments")
    assert set(seen) <= set(after)
    [(status, ended_at)] = rows(db, "SELECT status, ended_at FROM meetings")
    assert status == "stopped" and ended_at
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]


def test_transcribe_cli_on_silence_and_on_bad_input(
    tmp_path: Path, fixture_file: Callable[[str], Path], random_whisper_tiny: Path
) -> None:
    vad_model = fixture_file("models/silero_vad_v6.2.onnx")
    base = [sys.executable, "-m", "edge", "transcribe", "--model", str(random_whisper_tiny),
            "--vad-model", str(vad_model), "--format", "json"]
    empty = subprocess.run([*base, str(fixture_file("audio/leopard/empty.wav"))], capture_output=True, text=True)
    assert empty.returncode == 0, empty.stderr
    assert '"segments": []' in empty.stdout

    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage" + bytes(64))
    missing_model = [*base[:4], "--model", str(tmp_path / "none.bin"), str(fixture_file("audio/jfk.wav"))]
    for command, expected in (
        ([*base, str(corrupt)], "corrupt"),
        ([*base, str(tmp_path / "missing.wav")], "does not exist"),
        (missing_model, "does not exist"),
    ):
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 2, result.stderr
        assert expected in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_help_loads_no_native_library() -> None:
    code = (
        "import sys; from edge.commands.cli import build_parser; build_parser();"
        "heavy = [m for m in ('pywhispercpp', 'llama_cpp', 'onnxruntime', 'pyaudio', 'paho', 'tensorrt')"
        " if m in sys.modules]; print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
