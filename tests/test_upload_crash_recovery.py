"""An upload being transcribed when the box dies (kill -9) is not left `processing` for ever (issue 17,
finding 3): at the next start its meeting ends `interrupted` with the reason, what was committed stays,
and the uploaded file is deleted. The real box as a subprocess (tests/box_process.py) and in process."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from edge.app import Box
from edge.core.config import Config
from edge.store import Store


def _long_speech(fixture: Path, repeats: int) -> bytes:
    """The clip `repeats` times over: minutes of speech, long enough to be cut off mid-transcription."""
    speech, rate = sf.read(fixture, dtype="float32")
    buffer = io.BytesIO()
    sf.write(buffer, np.concatenate([speech] * repeats), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def test_an_upload_cut_off_by_kill_9_ends_interrupted_with_the_reason_and_its_file_is_deleted(
    tmp_path: Path, box_process: Callable[..., object], fixture_file: Callable[[str], Path]
) -> None:
    first = box_process(device="crash-box")
    first.start()  # type: ignore[attr-defined]
    with first.client() as client:  # type: ignore[attr-defined]
        answer = client.post("/transcribe", files={"file": ("주간 회의.wav", _long_speech(
            fixture_file("audio/jfk.wav"), 30), "audio/wav")})
        assert answer.status_code == 202, answer.text
        meeting_id = answer.json()["meeting"]["id"]
    first.kill()  # type: ignore[attr-defined]
    uploads = tmp_path / "data" / "uploads"
    assert Store(tmp_path / "data" / "edge.db").meeting(meeting_id).status == "processing"

    second = box_process(device="crash-box")
    second.start()  # type: ignore[attr-defined]
    with second.client() as client:  # type: ignore[attr-defined]
        meeting = client.get(f"/meetings/{meeting_id}").json()
        assert client.get("/state").json()["state"] == "idle"
    assert meeting["status"] == "interrupted"
    assert "while it was being transcribed" in meeting["error"] and "upload the file again" in meeting["error"]
    assert meeting["ended_at"]
    assert not any(uploads.iterdir())


def test_files_left_in_the_upload_folder_are_deleted_at_start_and_live_meetings_get_their_reason(
    tmp_path: Path,
) -> None:
    cfg = Config.model_validate({"storage": {"path": str(tmp_path / "data")}, "api": {"enabled": False},
                                 "mqtt": {"enabled": False}})
    store = Store(cfg.database_path)
    upload = store.create_meeting(language="ko", source="file:upload-0123.wav", title="녹음", status="processing")
    store.add_segment(upload.id, t0_ms=0, t1_ms=900, text_raw="첫 문장", language="ko")
    live = store.create_meeting(language="ko", source="pyaudio:default", title="회의")
    store.close()
    uploads = tmp_path / "data" / "uploads"
    uploads.mkdir()
    for name in ("upload-0123.wav", "upload-abcd.part", "upload-feed.mp3"):
        (uploads / name).write_bytes(b"RIFF")
    box = Box(cfg)
    try:
        box.recover()
        ended = box.store.meeting(upload.id)
        assert (ended.status, box.store.segment_count(upload.id)) == ("interrupted", 1)
        assert ended.error is not None and "1 segment" in ended.error
        assert box.store.meeting(live.id).status == "interrupted"
        assert "while recording" in (box.store.meeting(live.id).error or "")
        assert not any(uploads.iterdir())
    finally:
        box.close()
