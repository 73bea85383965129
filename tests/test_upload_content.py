"""Uploads are judged by their content, not their name, and bounded by their headers before decoding
(issue 17, findings 7 and 8): random bytes, text, a PNG or a playlist named .mp3/.m3u8 are refused with
what they are; a WAV claiming 1 Hz, too many channels or too long is refused before it is resampled; a
file whose damage shows only while decoding ends its meeting `failed` with the reason, never `stopped`.
The real API over a real Store (tests/fake_box.py), and the real box for the job that fails later."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from fake_box import API_TOKEN, AUTH, FakeBox
from mosquitto import wait_until

from edge.api.app import create_app
from edge.api.server import ApiServer
from edge.app import Box
from edge.audio.files import probe_audio
from edge.core.config import ApiConfig, Config
from edge.core.errors import AudioInputError

WAIT_S = 120  # an upper bound for a stuck job, not a performance expectation


def _wav(rate: int, seconds: float, channels: int = 1) -> bytes:
    buffer = io.BytesIO()
    samples = np.zeros((max(1, int(rate * seconds)), channels), dtype=np.float32)
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _lying_wav(rate: int, data_bytes: int) -> bytes:
    """A WAV header declaring `rate` over `data_bytes` of samples (the wave module writes what it is told)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x01\x00" * (data_bytes // 2))
    return buffer.getvalue()


NOT_AUDIO = {
    "random bytes": ("회의.mp3", np.random.default_rng(7).integers(0, 256, 32_000, dtype=np.uint8).tobytes(),
                     "data of no audio format"),
    "text": ("notes.mp3", "회의록 초안\nminutes of the meeting\n".encode() * 200, "its content is text"),
    "png": ("photo.mp3", b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(2000), "a PNG image"),
    "hls playlist": ("live.m3u8", b"#EXTM3U\n#EXT-X-VERSION:3\n#EXTINF:10,\nfile:///etc/passwd\n", "a playlist"),
    "m3u named mp3": ("song.mp3", b"#EXTM3U\n#EXTINF:123,Artist - Title\nhttp://127.0.0.1:1/a.mp3\n", "a playlist"),
}


def _uploads_left(box: FakeBox) -> list[Path]:
    uploads = box.store.path.parent / "uploads"
    return list(uploads.iterdir()) if uploads.exists() else []


@pytest.mark.parametrize("kind", NOT_AUDIO)
def test_what_is_not_audio_is_refused_at_upload_as_what_it_is(client: httpx.Client, box: FakeBox, kind: str) -> None:
    name, data, what = NOT_AUDIO[kind]
    answer = client.post("/transcribe", files={"file": (name, data, "audio/mpeg")})
    assert answer.status_code == 400, answer.text
    detail = answer.json()["detail"]
    assert what in detail and name in detail and "whatever its name says" in detail
    assert not box.submitted and not box.store.meetings() and not _uploads_left(box)


def test_audio_is_recognised_by_its_content_whatever_its_name(
    client: httpx.Client, box: FakeBox, fixture_file: Callable[[str], Path]
) -> None:
    mp3 = fixture_file("audio/jfk.mp3").read_bytes()
    answer = client.post("/transcribe", files={"file": ("녹음 파일.bin", mp3, "application/octet-stream")})
    assert answer.status_code == 202, answer.text
    assert len(box.submitted) == 1


def test_a_wav_declaring_1_hz_is_refused_before_it_is_resampled(client: httpx.Client, box: FakeBox) -> None:
    answer = client.post("/transcribe", files={"file": ("tiny.wav", _lying_wav(1, 32_000), "audio/wav")})
    assert answer.status_code == 400, answer.text
    detail = answer.json()["detail"]
    assert "sample rate of 1 Hz" in detail and "8000" in detail
    assert not box.submitted and not _uploads_left(box)


def test_the_sample_rate_and_channel_bounds(tmp_path: Path) -> None:
    for rate, channels, allowed in ((7_999, 1, False), (8_000, 1, True), (48_000, 32, True), (48_000, 33, False)):
        path = tmp_path / f"{rate}-{channels}.wav"
        path.write_bytes(_wav(rate, 0.05, channels))
        if allowed:
            info = probe_audio(path)
            assert (info.sample_rate, info.channels) == (rate, channels)
        else:
            with pytest.raises(AudioInputError, match=r"sample rate of 7999 Hz|33 channels"):
                probe_audio(path)


@pytest.fixture
def short_uploads(box: FakeBox) -> Iterator[httpx.Client]:
    server = ApiServer(create_app(box, ApiConfig(max_upload_minutes=0.1), API_TOKEN), "127.0.0.1", 0)
    server.start()
    try:
        with httpx.Client(base_url=server.url + "/api/v1", headers=AUTH, timeout=30) as http:
            yield http
    finally:
        server.stop()


def test_audio_longer_than_the_configured_maximum_is_refused(short_uploads: httpx.Client, box: FakeBox) -> None:
    long = short_uploads.post("/transcribe", files={"file": ("long.wav", _wav(8_000, 7.0), "audio/wav")})
    assert long.status_code == 400, long.text
    assert "api.max_upload_minutes" in long.json()["detail"] and "0.1 minutes" in long.json()["detail"]
    short = short_uploads.post("/transcribe", files={"file": ("short.wav", _wav(8_000, 5.0), "audio/wav")})
    assert short.status_code == 202, short.text


def test_a_file_found_damaged_while_decoding_ends_its_meeting_failed_with_the_reason(
    tmp_path: Path, fixture_file: Callable[[str], Path], random_whisper_tiny: Path
) -> None:
    cfg = Config.model_validate({
        "storage": {"path": str(tmp_path / "data")}, "api": {"enabled": False}, "mqtt": {"enabled": False},
        "asr": {"model_path": str(random_whisper_tiny), "threads": 1, "language": "en", "max_tokens": 8,
                "temperature_inc": 0.0},
        "vad": {"model_path": str(fixture_file("models/silero_vad_v6.2.onnx"))},
    })  # fmt: skip
    # MP3s whose first frames are real and the rest random: their headers pass, and decoding either fails
    # (seed 0) or gives up quietly after half a second of the 11 s the header declares (seed 2).
    uploads = tmp_path / "incoming"  # not the box's upload folder, which it empties when it opens
    uploads.mkdir(parents=True)
    damaged = []
    for seed in (0, 2):
        path = uploads / f"upload-damaged-{seed}.mp3"
        noise = np.random.default_rng(seed).integers(0, 256, 60_000, dtype=np.uint8).tobytes()
        path.write_bytes(fixture_file("audio/jfk.mp3").read_bytes()[:4000] + noise)
        probe_audio(path)
        damaged.append(path)
    box = Box(cfg)
    box.open()
    try:
        meetings = [box.submit_file(path, title="손상된 녹음") for path in damaged]
        for meeting, path, reason in zip(meetings, damaged, ("is corrupt", "could be decoded"), strict=True):
            assert wait_until(lambda m=meeting: box.store.meeting(m.id).status != "processing", WAIT_S)
            ended = box.store.meeting(meeting.id)
            assert ended.status == "failed"
            assert ended.error is not None and reason in ended.error and path.name in ended.error, ended.error
            assert str(uploads) not in ended.error
            assert wait_until(lambda p=path: not p.exists(), WAIT_S)
    finally:
        box.close()
