"""A full disk mid-meeting (issue 17, finding 2), on a REAL small tmpfs: `edge run` replays a meeting in real
time with the real Whisper base model and a real mosquitto; a filler file takes the last byte of the storage.
Health and MQTT (`error`, `stats`) must say so, no committed segment may be lost, and once the filler is
deleted the box must recover by itself: archiving resumes, health is ok again, segments keep coming.

Mounting needs root (tests/small_tmpfs.py). The times are printed for the report; the
assertions only bound them generously (speed belongs to benchmarks).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from mosquitto import Subscriber, wait_until
from small_tmpfs import fill, small_tmpfs

from edge.audio.files import write_wav
from edge.ops.synth.meeting_audio import build_meeting

pytestmark = pytest.mark.slow

TMPFS_MB = 20
# Short utterances: a stop waits until each one heard is decoded, and the cores may be shared.
CLIPS = ("audio/jfk.wav", "audio/leopard/test_ko.wav", "audio/leopard/test.wav")
DEVICE = "disk-full"
SAY_SO_S = 30  # generous bounds, not performance expectations: the figures are printed
WAIT_S = 240
STOP_S = 600
FULL_FOR_S = 20


def test_full_disk_is_said_and_recovered_without_a_person(
    tmp_path: Path, fixture_file: Callable[[str], Path], dev_model: Callable[[str], Path], box_process, broker
) -> None:
    whisper = dev_model("ggml-base.bin")
    meeting_audio = build_meeting([fixture_file(clip) for clip in CLIPS], repeats=8, pause_s=(1.0, 2.0), seed=3)
    audio = write_wav(tmp_path / "meeting.wav", meeting_audio.audio)
    box = box_process(device=DEVICE, mqtt_port=broker.port)
    subscriber = Subscriber(broker, [f"edge/{DEVICE}/#"]).start()
    with small_tmpfs(tmp_path / "small", TMPFS_MB) as storage:
        data = storage / "data"
        box.config.write_text(
            f"""
[device]
id = "{DEVICE}"
[audio]
source = "file:{audio}"
realtime = true
[vad]
model_path = "{fixture_file("models/silero_vad_v6.2.onnx")}"
[asr]
model_path = "{whisper}"
languages = ["ko", "en"]
threads = 2
max_tokens = 96
[meeting]
auto_start = true
[storage]
path = "{data}"
warn_free_mb = 8
critical_free_mb = 4
[mqtt]
enabled = true
port = {broker.port}
stats_interval_s = 600
[api]
port = {box.port}
token_file = "{box.token_file}"
""",
            encoding="utf-8",
        )
        box.start()
        try:
            with box.client() as api:
                run_full_disk_meeting(api, box, subscriber, storage, data)
        finally:
            box.kill()
            subscriber.stop()


def health(api: httpx.Client) -> dict:
    return api.get("/health").json()


def run_full_disk_meeting(api: httpx.Client, box, subscriber: Subscriber, storage: Path, data: Path) -> None:
    assert wait_until(lambda: health(api)["state"] == "recording", 30), box.log.read_text()[-3000:]
    meeting_id = api.get("/state").json()["meeting_id"]
    segment_topic = f"edge/{DEVICE}/meeting/{meeting_id}/segment"
    assert wait_until(lambda: len(subscriber.received(segment_topic)) >= 2, WAIT_S), box.log.read_text()[-3000:]
    assert health(api)["status"] == "ok"
    archive = data / "audio" / f"{meeting_id}.wav"

    filler = storage / "filler"
    filled_at = time.monotonic()
    print(f"filler: {fill(filler) / 2**20:.1f} MB written; the tmpfs is full")
    said: list[dict] = []

    def disk_full_said() -> bool:
        said.append(health(api))
        return said[-1]["status"] == "error" and "disk_full" in {p["code"] for p in said[-1]["problems"]}

    assert wait_until(disk_full_said, SAY_SO_S), said[-1]
    health_s = time.monotonic() - filled_at

    def error_said(messages) -> bool:
        errors = [m.json() for m in messages if m.topic == f"edge/{DEVICE}/error"]
        return any("disk_full" in {p["code"] for p in error.get("problems", [])} for error in errors)

    assert subscriber.wait_for(error_said, SAY_SO_S), subscriber.received(f"edge/{DEVICE}/error")
    mqtt_s = time.monotonic() - filled_at
    assert subscriber.wait_for(
        lambda messages: any(m.topic == f"edge/{DEVICE}/stats" and m.json()["status"] == "error" for m in messages),
        SAY_SO_S,
    )
    print(f"full disk said: health {health_s:.2f} s, MQTT error {mqtt_s:.2f} s after the tmpfs filled")

    time.sleep(FULL_FOR_S)  # the meeting goes on while the disk is full
    during = health(api)
    assert during["state"] == "recording", during
    print(f"after {FULL_FOR_S} s full: {during['segments']} segments committed, commits {during['commits']}, "
          f"problems {[p['code'] for p in during['problems']]}")
    archived_while_full = archive.stat().st_size

    freed_at = time.monotonic()
    filler.unlink()
    recovered: list[dict] = []
    assert wait_until(lambda: recovered.append(health(api)) or recovered[-1]["status"] == "ok", SAY_SO_S), (
        recovered[-1], box.log.read_text()[-3000:])  # fmt: skip
    recovery_s = time.monotonic() - freed_at
    assert recovered[-1]["commits"]["held"] == 0, recovered[-1]
    assert subscriber.wait_for(
        lambda messages: any(m.topic == f"edge/{DEVICE}/error" and m.json().get("status") == "ok" for m in messages),
        SAY_SO_S,
    )
    committed_before = recovered[-1]["segments"]
    assert wait_until(lambda: health(api)["segments"] >= committed_before + 2, WAIT_S), box.log.read_text()[-3000:]
    assert wait_until(lambda: archive.stat().st_size > archived_while_full + 32_000, SAY_SO_S)
    print(f"recovered without a person {recovery_s:.2f} s after the filler was deleted")

    # The stop returns once every utterance heard is decoded and committed: on shared cores that may take a while.
    print(f"stopping with {health(api)['queues']} waiting")
    stopped = api.post(f"/meetings/{meeting_id}/stop", timeout=STOP_S)
    assert stopped.status_code == 200, stopped.text
    final = health(api)
    assert final["commits"]["held"] == 0, final
    published = subscriber.segments(meeting_id)
    assert wait_until(lambda: len(subscriber.segments(meeting_id)) >= final["segments"], 30)
    assert box.terminate() == 0, box.log.read_text()[-3000:]

    db = sqlite3.connect(data / "edge.db")
    try:
        rows = db.execute("SELECT seq FROM segments WHERE meeting_id = ? ORDER BY seq", (meeting_id,)).fetchall()
        seqs = [row[0] for row in rows]
        gaps = db.execute("SELECT reason FROM capture_gaps WHERE meeting_id = ?", (meeting_id,)).fetchall()
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        status = db.execute("SELECT status FROM meetings WHERE id = ?", (meeting_id,)).fetchone()[0]
    finally:
        db.close()
    published = subscriber.segments(meeting_id)
    print(f"segments: {final['segments']} committed by the box, {len(seqs)} in the database, "
          f"{len(published)} published on MQTT; {final['commits']} ")  # fmt: skip
    assert seqs == list(range(len(seqs))), seqs
    assert len(seqs) == final["segments"]
    assert set(published) == set(seqs)
    assert integrity == "ok"
    assert status == "stopped"
    assert any("not archived" in reason for (reason,) in gaps), gaps
