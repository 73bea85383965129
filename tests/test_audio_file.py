"""Audio decoding: fixture files of every kind we accept, and broken files made here."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edge.audio.files import decode_audio, iter_audio_blocks, probe_audio
from edge.core.errors import AudioInputError

JFK_SECONDS = 11.0


def dominant_hz(samples: np.ndarray, rate: int = 16_000) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


@pytest.mark.parametrize("name", ["audio/jfk.wav", "audio/jfk.mp3", "audio/fw/jfk.flac"])
def test_jfk_in_every_format_decodes_to_the_same_16k_mono_audio(fixture_file, name):
    reference = sf.read(fixture_file("audio/jfk.wav"), dtype="float32")[0]
    audio = decode_audio(fixture_file(name))
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) / 16_000 - JFK_SECONDS) < 0.05
    assert float(np.abs(audio).max()) <= 1.0
    # Same speech: the loudness envelopes (100 ms RMS) agree closely whatever the codec and rate.
    n = min(len(audio), len(reference)) // 1600 * 1600
    envelope = np.sqrt((audio[:n].reshape(-1, 1600) ** 2).mean(axis=1))
    expected = np.sqrt((reference[:n].reshape(-1, 1600) ** 2).mean(axis=1))
    assert np.corrcoef(envelope, expected)[0, 1] > 0.98


def test_flac_fixture_is_44k_stereo_and_gets_resampled(fixture_file):
    info = sf.info(fixture_file("audio/fw/jfk.flac"))
    assert (info.samplerate, info.channels) == (44_100, 2)
    assert probe_audio(fixture_file("audio/fw/jfk.flac")).reader == "soundfile"


def test_stereo_is_mixed_down_to_the_mean_of_the_channels(fixture_file):
    path = fixture_file("audio/fw/stereo_diarization.wav")
    stereo = sf.read(path, dtype="float32")[0]
    assert stereo.shape[1] == 2
    audio = decode_audio(path)
    np.testing.assert_allclose(audio, stereo.mean(axis=1), atol=1e-6)


@pytest.mark.parametrize(("rate", "channels"), [(44_100, 1), (48_000, 2), (8_000, 1)])
def test_any_rate_is_resampled_to_16k_keeping_pitch_and_length(tmp_path, rate, channels):
    seconds = 2.0
    t = np.arange(int(rate * seconds)) / rate
    tone = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    data = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    path = tmp_path / f"tone_{rate}.wav"
    sf.write(path, data, rate, subtype="PCM_16")
    audio = decode_audio(path)
    assert abs(len(audio) - 32_000) <= 2
    assert abs(dominant_hz(audio[4000:28000]) - 440.0) < 2.0
    assert abs(float(np.sqrt(np.mean(audio[4000:28000] ** 2))) - 0.5 / np.sqrt(2)) < 0.01


def test_streaming_blocks_equal_the_whole_file_and_are_block_sized(fixture_file):
    path = fixture_file("audio/fw/jfk.flac")
    blocks = list(iter_audio_blocks(path, 512))
    assert all(len(block) == 512 for block in blocks[:-1])
    assert 0 < len(blocks[-1]) <= 512
    np.testing.assert_array_equal(np.concatenate(blocks), decode_audio(path))


def test_ffmpeg_reads_what_soundfile_cannot(fixture_file, tmp_path):
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    m4a = tmp_path / "jfk.m4a"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(fixture_file("audio/jfk.wav")), "-c:a", "aac", str(m4a)],
        check=True,
    )
    assert probe_audio(m4a).reader == "ffmpeg"
    audio = decode_audio(m4a)
    assert abs(len(audio) / 16_000 - JFK_SECONDS) < 0.1
    assert 0.5 < float(np.abs(audio).max()) <= 1.0


def bad_files(tmp_path: Path, fixture: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    files = {
        "empty": tmp_path / "empty.wav",
        "random": tmp_path / "random.wav",
        "truncated": tmp_path / "truncated.wav",
        "text": tmp_path / "notes.txt",
        "text_as_wav": tmp_path / "notes.wav",
        "random_mp3": tmp_path / "random.mp3",
    }
    files["empty"].write_bytes(b"")
    files["random"].write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    files["truncated"].write_bytes(fixture.read_bytes()[:30])
    files["text"].write_text("minutes of the meeting\nnothing to hear here\n")
    files["text_as_wav"].write_text("minutes of the meeting\n")
    files["random_mp3"].write_bytes(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    return files


@pytest.mark.parametrize("kind", ["empty", "random", "truncated", "text", "text_as_wav", "random_mp3"])
def test_bad_files_raise_one_line_naming_the_file_and_the_fix(fixture_file, tmp_path, kind):
    path = bad_files(tmp_path, fixture_file("audio/jfk.wav"))[kind]
    with pytest.raises(AudioInputError) as caught:
        decode_audio(path)
    message = str(caught.value)
    assert str(path) in message
    assert "\n" not in message
    assert any(word in message for word in ("empty", "corrupt", "not audio", "no samples"))
    assert any(fix in message for fix in ("pass a", "record or copy", "re-encode"))


def test_zero_sample_wav_is_rejected(tmp_path):
    path = tmp_path / "silent.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16_000)
    assert path.stat().st_size > 0
    with pytest.raises(AudioInputError, match="no samples"):
        decode_audio(path)


def test_missing_file_and_directory_are_rejected_before_iteration(tmp_path):
    with pytest.raises(AudioInputError, match="does not exist"):
        iter_audio_blocks(tmp_path / "nope.wav", 512)
    with pytest.raises(AudioInputError, match="not a file"):
        iter_audio_blocks(tmp_path, 512)
