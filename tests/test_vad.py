"""VAD: the pure segmenter on made-up probabilities, and the real Silero models on fixture audio."""

from __future__ import annotations

import importlib.util
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.audio.files import decode_audio
from edge.audio.vad import SpeechSegmenter, VadStage, detect_speech, load_vad_model
from edge.audio.vad_onnx import SileroOnnx
from edge.core.config import VadConfig
from edge.core.errors import ModelError
from edge.core.events import AudioFrame, CaptureGap, Utterance

CHUNK = 512
V6 = "models/silero_vad_v6.2.onnx"
V5 = "models/silero_vad_v5.1.2.onnx"


# -- the pure segmenter ------------------------------------------------------------------------


def run_segmenter(segmenter: SpeechSegmenter, probs: list[float], flush: bool = True) -> tuple[list, np.ndarray]:
    """Feed one chunk per probability; chunk audio is the sample index, so slices can be checked."""
    audio = np.arange(len(probs) * CHUNK, dtype=np.float32)
    out: list[Utterance] = []
    for i, prob in enumerate(probs):
        out.extend(segmenter.push(prob, audio[i * CHUNK : (i + 1) * CHUNK]))
    if flush:
        out.extend(segmenter.flush())
    return out, audio


def finals(utterances: list[Utterance]) -> list[Utterance]:
    return [u for u in utterances if u.final]


def span_samples(u: Utterance) -> tuple[int, int]:
    return int(u.audio[0]), int(u.audio[-1]) + 1


def test_speech_gets_pre_roll_and_trailing_pad_and_exact_audio():
    seg = SpeechSegmenter(min_speech_ms=250, min_silence_ms=320, speech_pad_ms=64)  # 10 and 2 chunks
    probs = [0.0] * 10 + [0.9] * 20 + [0.0] * 15
    out, audio = run_segmenter(seg, probs)
    [u] = finals(out)
    assert u.utterance_id == 0
    # Speech chunks 10..29, pre-roll 2 chunks, trailing pad 2 chunks after the silence starts.
    assert span_samples(u) == (8 * CHUNK, 32 * CHUNK)
    assert u.start_ms == 8 * 32 and u.end_ms == 32 * 32
    np.testing.assert_array_equal(u.audio, audio[8 * CHUNK : 32 * CHUNK])


def test_bursts_shorter_than_min_speech_are_dropped():
    seg = SpeechSegmenter(min_speech_ms=250, min_silence_ms=100)
    out, _ = run_segmenter(seg, [0.0] * 5 + [0.9] * 7 + [0.0] * 10 + [0.9] * 3)  # 224 ms, then 96 ms at the end
    assert out == []


def test_probabilities_between_the_thresholds_keep_speech_going():
    seg = SpeechSegmenter(threshold=0.5, min_speech_ms=0, min_silence_ms=160, speech_pad_ms=0)
    assert seg.neg_threshold == pytest.approx(0.35)
    probs = [0.9] * 10 + [0.4] * 30 + [0.1] * 10
    [u] = finals(run_segmenter(seg, probs)[0])
    assert span_samples(u) == (0, 40 * CHUNK)  # ends where the probability first fell below 0.35


def test_a_pause_shorter_than_min_silence_does_not_split_but_a_longer_one_does():
    probs = [0.9] * 20 + [0.0] * 8 + [0.9] * 20 + [0.0] * 20 + [0.9] * 20 + [0.0] * 20
    seg = SpeechSegmenter(min_speech_ms=0, min_silence_ms=500, speech_pad_ms=0)  # 500 ms = 15.6 chunks
    spans = [span_samples(u) for u in finals(run_segmenter(seg, probs)[0])]
    assert spans == [(0, 48 * CHUNK), (68 * CHUNK, 88 * CHUNK)]


def test_pre_roll_never_reaches_back_into_the_previous_utterance():
    seg = SpeechSegmenter(min_speech_ms=0, min_silence_ms=160, speech_pad_ms=320)  # 5 and 10 chunks
    probs = [0.9] * 10 + [0.0] * 6 + [0.9] * 10 + [0.0] * 12
    first, second = finals(run_segmenter(seg, probs)[0])
    assert span_samples(first) == (0, 16 * CHUNK)  # pad limited to what was buffered when it ended
    assert span_samples(second)[0] == 16 * CHUNK
    assert (first.utterance_id, second.utterance_id) == (0, 1)


def test_flush_ends_the_utterance_at_end_of_stream():
    seg = SpeechSegmenter(min_speech_ms=0, speech_pad_ms=0)
    out, _ = run_segmenter(seg, [0.0] * 3 + [0.9] * 10, flush=False)
    assert out == [] and seg.in_speech
    [u] = seg.flush()
    assert u.final and span_samples(u) == (3 * CHUNK, 13 * CHUNK)
    assert seg.flush() == []


def test_gap_ends_the_utterance_and_moves_time_on():
    seg = SpeechSegmenter(min_speech_ms=0, speech_pad_ms=64)
    run_segmenter(seg, [0.9] * 10, flush=False)
    [ended] = seg.gap(2000)
    assert ended.final and ended.end_ms == 320
    assert seg.position == 10 * CHUNK + 32_000
    chunk = np.zeros(CHUNK, dtype=np.float32)
    for _ in range(10):
        seg.push(0.9, chunk)
    [after] = seg.flush()
    # No pre-roll across the gap: the next utterance starts exactly where audio resumed.
    assert after.start_ms == 320 + 2000
    assert after.utterance_id == ended.utterance_id + 1


def test_live_snapshots_every_update_ms_then_one_final_with_the_same_id():
    seg = SpeechSegmenter(min_speech_ms=0, min_silence_ms=320, speech_pad_ms=0, update_ms=320)
    out, _ = run_segmenter(seg, [0.9] * 35 + [0.0] * 12 + [0.9] * 12 + [0.0] * 12)
    partial = [u for u in out if not u.final]
    assert [u.utterance_id for u in finals(out)] == [0, 1]
    assert [len(u.audio) // CHUNK for u in partial if u.utterance_id == 0] == [10, 20, 30]
    assert [len(u.audio) // CHUNK for u in partial if u.utterance_id == 1] == [10]
    # Every snapshot precedes its final and is a prefix of it.
    order = [(u.utterance_id, u.final) for u in out]
    assert order.index((0, True)) > max(i for i, key in enumerate(order) if key == (0, False))
    final0 = finals(out)[0]
    for u in partial:
        if u.utterance_id == 0:
            np.testing.assert_array_equal(u.audio, final0.audio[: len(u.audio)])


def test_update_ms_zero_gives_no_snapshots():
    out, _ = run_segmenter(SpeechSegmenter(min_speech_ms=0, update_ms=0), [0.9] * 100)
    assert all(u.final for u in out) and len(out) == 1


def test_over_long_speech_is_split_at_the_lowest_probability_point():
    seg = SpeechSegmenter(min_speech_ms=0, speech_pad_ms=0, max_segment_s=3.2)  # 100 chunks
    probs = [0.9] * 250
    probs[80] = 0.2  # a short pause inside the last seconds of the first 100 chunks
    probs[150] = 0.3
    out, _ = run_segmenter(seg, probs)
    spans = [span_samples(u) for u in finals(out)]
    assert spans[0] == (0, 80 * CHUNK)
    assert spans[1] == (80 * CHUNK, 150 * CHUNK)
    assert spans[-1][1] == 250 * CHUNK
    assert all(b[0] == a[1] for a, b in itertools.pairwise(spans))  # contiguous: nothing lost or repeated
    assert all(len(u.audio) <= seg.max_samples for u in finals(out))
    assert [u.utterance_id for u in finals(out)] == list(range(len(spans)))


def test_over_long_speech_without_a_dip_is_split_at_the_quietest_chunk_else_hard_cut():
    seg = SpeechSegmenter(min_speech_ms=0, speech_pad_ms=0, max_segment_s=3.2)
    audio = np.full(160 * CHUNK, 0.3, dtype=np.float32)
    audio[90 * CHUNK : 91 * CHUNK] = 0.01  # a quiet breath the model still calls speech
    out = []
    for i in range(160):
        out.extend(seg.push(0.9, audio[i * CHUNK : (i + 1) * CHUNK]))
    out.extend(seg.flush())
    lengths = [len(u.audio) for u in finals(out)]
    assert lengths[0] == 90 * CHUNK
    seg = SpeechSegmenter(min_speech_ms=0, speech_pad_ms=0, max_segment_s=3.2)
    lengths = [len(u.audio) for u in finals(run_segmenter(seg, [0.9] * 250)[0])]
    assert lengths == [100 * CHUNK, 100 * CHUNK, 50 * CHUNK]


# -- VadStage --------------------------------------------------------------------------------


class ScriptedModel:
    """A test double for the Silero model: probability 0.9 wherever the chunk is loud."""

    def __init__(self) -> None:
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def __call__(self, chunk: np.ndarray) -> float:
        return 0.9 if float(np.abs(chunk).max()) > 0.1 else 0.0


def test_stage_cuts_odd_frames_into_chunks_and_treats_a_time_jump_as_a_gap():
    model = ScriptedModel()
    stage = VadStage(model, SpeechSegmenter(min_speech_ms=0, min_silence_ms=320, speech_pad_ms=0))
    loud = np.full(300, 0.5, dtype=np.float32)
    out = []
    position = 0
    for _ in range(40):  # 12000 samples of speech in 300-sample frames (18.75 ms: not whole ms)
        out.extend(stage.feed(AudioFrame(loud, position * 1000 // 16000)))
        position += 300
    assert out == [] and stage.chunks == 12000 // CHUNK
    # Frames dropped upstream: the next frame starts 1 s later than expected.
    out.extend(stage.feed(AudioFrame(np.full(2 * CHUNK, 0.5, dtype=np.float32), 1750)))
    [first] = finals(out)
    # 23 whole chunks (736 ms); the 14 ms left over before the jump never reaches the model.
    assert (first.start_ms, first.end_ms) == (0, 736) and model.resets == 1
    # A gap that starts later than the audio we have (its first frames were dropped) still ends on time.
    out = stage.feed(CaptureGap(start_ms=2000, duration_ms=500, reason="unplugged"))
    [second] = finals(out)
    assert (second.start_ms, second.end_ms) == (1750, 1814)
    out = stage.feed(AudioFrame(np.full(CHUNK * 10, 0.5, dtype=np.float32), 2500)) + stage.flush()
    [third] = finals(out)
    assert third.start_ms == 2500 and third.end_ms == 2820
    assert [first.utterance_id, second.utterance_id, third.utterance_id] == [0, 1, 2]


def test_stage_accepts_a_config_like_the_recording_does(tmp_path):
    stage = VadStage(ScriptedModel(), VadConfig(model_path=tmp_path / "m.onnx"), update_ms=1000)
    assert stage.segmenter.update_samples == 16_000 and stage.segmenter.pad == 3200


# -- the real models on fixture audio ------------------------------------------------------------


def cfg_for(model: Path, **overrides) -> VadConfig:
    return VadConfig(model_path=model, backend="onnx", **overrides)


def coverage(segments: list[tuple[float, float]], start: float, end: float) -> float:
    covered = sum(max(0.0, min(e, end) - max(s, start)) for s, e in segments)
    return covered / (end - start)


def test_jfk_with_default_config_finds_the_speech(fixture_file):
    cfg = cfg_for(fixture_file(V6))
    segments = detect_speech(decode_audio(fixture_file("audio/jfk.wav")), cfg)
    assert 2 <= len(segments) <= 6
    # whisper.cpp's own VAD test expects the speech inside 0.3-10.6 s. The click at 10.91 s must not
    # stretch the last segment to the end of the file.
    assert all(0.3 <= s < e <= 10.6 for s, e in segments), segments
    assert coverage(segments, 0.35, 10.5) > 0.7  # unpadded speech; JFK pauses between phrases


@pytest.mark.parametrize("model", [V6, V5])
def test_jfk_with_whisper_cpp_vad_settings_lies_inside_0_3_to_10_6_s(fixture_file, model):
    # whisper.cpp's VAD defaults: min silence 100 ms, pad 30 ms. Allow one 32 ms chunk of rounding.
    cfg = cfg_for(fixture_file(model), min_silence_ms=100, speech_pad_ms=30, max_segment_s=30)
    segments = detect_speech(decode_audio(fixture_file("audio/jfk.wav")), cfg)
    assert len(segments) >= 3
    assert all(0.3 - 0.032 <= s < e <= 10.6 + 0.032 for s, e in segments)
    assert abs(segments[0][0] - 0.32) < 0.05


def test_v6_with_whisper_cpp_settings_gives_whisper_cpp_segment_count(fixture_file):
    # The fixtures README: whisper.cpp's tests expect 4 speech segments on jfk.wav with v6.2.
    cfg = cfg_for(fixture_file(V6), min_silence_ms=100, speech_pad_ms=30, max_segment_s=30)
    assert len(detect_speech(decode_audio(fixture_file("audio/jfk.wav")), cfg)) == 4


def test_v5_matches_the_segments_whisper_cpp_publishes_for_jfk(fixture_file):
    # whisper.cpp examples/vad-speech-segments README, silero v5.1.2 on samples/jfk.wav (its ggml port).
    published = [(0.29, 2.21), (3.30, 3.77), (4.00, 4.35), (5.38, 7.65), (8.16, 10.59)]
    cfg = cfg_for(fixture_file(V5), min_silence_ms=100, speech_pad_ms=30, max_segment_s=30)
    segments = detect_speech(decode_audio(fixture_file("audio/jfk.wav")), cfg)
    assert len(segments) == len(published)
    pad = 0.03  # whisper.cpp's published segments include its 30 ms padding; ours are the bare speech
    for (start, end), (ref_start, ref_end) in zip(segments, published, strict=True):
        assert abs(start - (ref_start + pad)) < 0.05 and abs(end - (ref_end - pad)) < 0.05


@pytest.mark.parametrize("model", [V6, V5])
def test_no_speech_in_the_empty_recording(fixture_file, model):
    assert detect_speech(decode_audio(fixture_file("audio/leopard/empty.wav")), cfg_for(fixture_file(model))) == []


@pytest.mark.parametrize("model", [V6, V5])
def test_silero_test_wav_has_several_segments_within_the_length_cap(fixture_file, model):
    cfg = cfg_for(fixture_file(model))
    segments = detect_speech(decode_audio(fixture_file("audio/silero_test.wav")), cfg)
    assert len(segments) >= 5
    assert all(e - s <= cfg.max_segment_s + 1e-3 for s, e in segments)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(segments))


def test_max_segment_s_splits_real_speech_without_losing_any(fixture_file):
    audio = decode_audio(fixture_file("audio/silero_test.wav"))
    model = SileroOnnx(fixture_file(V6))
    whole = detect_speech(audio, cfg_for(fixture_file(V6)), model)
    split = detect_speech(audio, cfg_for(fixture_file(V6), max_segment_s=4.0), model)
    assert len(split) > len(whole)
    assert all(e - s <= 4.0 + 1e-3 for s, e in split)
    assert any(a[1] == b[0] for a, b in itertools.pairwise(split))  # split parts touch
    assert abs(sum(e - s for s, e in split) - sum(e - s for s, e in whole)) < 1.0


def test_live_stage_over_32ms_frames_matches_detect_speech(fixture_file):
    model = SileroOnnx(fixture_file(V6))
    cfg = cfg_for(fixture_file(V6))
    audio = decode_audio(fixture_file("audio/jfk.wav"))
    expected = detect_speech(audio, cfg, model)
    model.reset()
    stage = VadStage(model, cfg, update_ms=1000)
    out = []
    for start in range(0, len(audio), 512):
        out.extend(stage.feed(AudioFrame(audio[start : start + 512], start // 16)))
    out.extend(stage.flush())
    assert [(u.speech_start_ms / 1000, u.speech_end_ms / 1000) for u in finals(out)] == expected
    assert any(not u.final for u in out)
    ids = [u.utterance_id for u in finals(out)]
    assert ids == list(range(len(ids)))


def test_onnx_model_probabilities_are_reproducible_after_reset(fixture_file):
    model = SileroOnnx(fixture_file(V6))
    audio = decode_audio(fixture_file("audio/jfk.wav"))[: 512 * 40]
    first = [model(audio[i : i + 512]) for i in range(0, len(audio), 512)]
    model.reset()
    second = [model(audio[i : i + 512]) for i in range(0, len(audio), 512)]
    assert first == second and max(first) > 0.9
    with pytest.raises(ValueError, match="512"):
        model(audio[:480])


def test_missing_or_broken_model_is_a_model_error_naming_the_fix(tmp_path):
    missing = tmp_path / "nope.onnx"
    with pytest.raises(ModelError, match="edge models fetch silero-vad") as caught:
        load_vad_model(VadConfig(model_path=missing))
    assert str(missing) in str(caught.value)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    with pytest.raises(ModelError, match="cannot be loaded"):
        load_vad_model(VadConfig(model_path=broken, backend="onnx"))


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="a TensorRT machine may pick it")
def test_auto_backend_uses_onnxruntime_without_tensorrt(fixture_file):
    assert isinstance(load_vad_model(VadConfig(model_path=fixture_file(V6), backend="auto")), SileroOnnx)


# -- `edge vad` ------------------------------------------------------------------------------

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CLI = (
    "import sys; from edge.commands import cli; "
    "cli.COMMANDS = {'vad': cli.COMMANDS['vad']}; sys.exit(cli.main(sys.argv[1:]))"
)


def edge_vad(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CLI, "vad", *args], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120
    )


def test_edge_vad_prints_json_segments_like_detect_speech(fixture_file):
    result = edge_vad(str(fixture_file("audio/jfk.wav")), "--json", "--model", str(fixture_file(V6)))
    assert result.returncode == 0, result.stderr
    expected = detect_speech(decode_audio(fixture_file("audio/jfk.wav")), cfg_for(fixture_file(V6)))
    assert json.loads(result.stdout) == {"segments": [{"start": round(s, 3), "end": round(e, 3)} for s, e in expected]}


def test_edge_vad_reads_the_config_and_prints_a_table(fixture_file, tmp_path):
    config = tmp_path / "edge.toml"
    model = fixture_file(V6)
    config.write_text(f'[vad]\nmodel_path = "{model}"\nmin_silence_ms = 100\nspeech_pad_ms = 30\n')
    result = edge_vad(str(fixture_file("audio/jfk.wav")), "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "4 segments" in result.stdout and "0.352" in result.stdout


def test_edge_vad_exits_2_with_one_line_for_bad_audio_and_a_missing_model(fixture_file, tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF....WAVEjunk")
    result = edge_vad(str(junk), "--model", str(fixture_file(V6)))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and str(junk) in result.stderr and "Traceback" not in result.stderr
    result = edge_vad(str(fixture_file("audio/jfk.wav")), "--model", str(tmp_path / "none.onnx"))
    assert result.returncode == 2
    assert "edge models fetch silero-vad" in result.stderr and result.stderr.strip().count("\n") == 0


def _run(probs: list[float], **params) -> list:
    segmenter = SpeechSegmenter(min_speech_ms=250, min_silence_ms=500, speech_pad_ms=0, **params)
    out = []
    for prob in probs:
        out.extend(segmenter.push(prob, np.full(512, 0.1 if prob > 0.5 else 0.0, dtype=np.float32)))
    out.extend(segmenter.flush())
    return finals(out)


def test_a_click_after_confirmed_speech_does_not_stretch_the_utterance():
    # 1 s of speech, 320 ms quiet, a 96 ms click, then silence: the utterance ends where speech stopped.
    [utterance] = _run([0.9] * 31 + [0.0] * 10 + [0.9] * 3 + [0.0] * 30)
    assert utterance.speech_start_ms == 0 and utterance.speech_end_ms == 31 * 32


def test_speech_that_resumes_for_min_speech_continues_the_utterance():
    [utterance] = _run([0.9] * 31 + [0.0] * 10 + [0.9] * 10 + [0.0] * 30)
    assert utterance.speech_end_ms == 51 * 32


def test_an_unconfirmed_short_start_is_continued_by_any_speech():
    # 160 ms of speech, a dip, 96 ms more: together long enough, so it is one utterance, not dropped.
    [utterance] = _run([0.9] * 5 + [0.0] * 4 + [0.9] * 5 + [0.0] * 30)
    assert utterance.speech_start_ms == 0 and utterance.speech_end_ms == 14 * 32
