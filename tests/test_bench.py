"""The bench's parts on small real models (random-weight whisper tiny, the stories260K GGUF); the whole
`make bench` runs the real Whisper base and Gemma 3 270M and is not a test (it measures, never asserts)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edge.core.events import SAMPLE_RATE


def test_whisper_model_is_named_from_its_header_and_random_only_when_the_bench_made_it(random_whisper_tiny):
    from edge.ops.bench.model_names import whisper_model_name

    digest = hashlib.sha256(random_whisper_tiny.read_bytes()).hexdigest()[:12]
    assert whisper_model_name(random_whisper_tiny) == {
        "name": "Whisper tiny (multilingual), whisper.cpp ggml f16",
        "file": random_whisper_tiny.name,
        "sha256": digest,
    }
    assert whisper_model_name(random_whisper_tiny, random_weights=True)["name"].endswith(
        ", random weights of the real shape"
    )


def test_gguf_model_is_named_from_its_metadata(fixture_file):
    from edge.ops.bench.model_names import gguf_model_name

    path = fixture_file("models/stories260K.gguf")
    named = gguf_model_name(path)
    assert named["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    assert named["name"] and named["file"] == "stories260K.gguf"


def test_metered_model_records_calls_that_bare_pywhispercpp_repeats(random_whisper_tiny, fixture_file):
    from edge.asr.whispercpp import WhisperCppModel, raw_replay
    from edge.ops.bench.asr import MeteredTranscriber

    audio = sf.read(fixture_file("audio/jfk.wav"), dtype="float32")[0][: 2 * SAMPLE_RATE]
    model = WhisperCppModel(random_whisper_tiny, threads=1, language="en", initial_prompt="회의",
                            max_tokens=4, temperature_inc=0.0, fit_audio_ctx=True)
    metered = MeteredTranscriber(model)
    try:
        metered.detect_language(audio)
        metered.transcribe(audio, offset_ms=0)
        metered.transcribe(audio, offset_ms=0, prompt="", language="ko", beam_size=2)
    finally:
        metered.close()
    detect, first, retry = metered.calls
    assert detect.detect_only
    assert (first.prompt, first.language, first.beam_size, first.audio_ctx_margin_s) == ("회의", "en", 0, 1.0)
    assert (retry.prompt, retry.language, retry.beam_size) == ("", "ko", 2)
    assert metered.cpu_s > 0 and metered.wall_s > 0
    assert raw_replay(random_whisper_tiny, metered.calls, threads=1, max_tokens=4).cpu_s > 0


def test_llm_figures_compare_the_engine_with_bare_llama_cpp_on_the_same_requests(fixture_file):
    from edge.ops.bench.llm import bench_llm

    lines: list[str] = []
    figures = bench_llm(fixture_file("models/stories260K.gguf"), threads=1, prompts=2, progress=lines.append)
    assert figures["prompt_tokens"] >= 400
    for side in ("engine", "raw_llama_cpp"):
        assert figures[side]["prompt_tokens_per_s"] > 0 and figures[side]["generation_tokens_per_s"] > 0
        json_figures = figures["json_correction_requests"][side]
        assert json_figures["requests"] == 3 and 0 <= json_figures["valid"] <= 3
    assert all(ratio > 0 for ratio in figures["engine_over_raw"].values())
    assert lines


def test_table_shows_each_figure_beside_its_goal():
    from edge.ops.bench.report import table

    live = {
        "threads": 2, "utterances": 6, "whisper_calls": 12, "asr_cpu_s_per_audio_s": 0.4, "real_time_factor": 0.3,
        "asr_cpu_s_by_call": {"language_detection": 3.0, "decode": 9.0, "beam_retry": 0.0},
        "latency_s": {"p50": 1.1, "p95": 2.0}, "box_reported_latency_s": {"p50": 1.0, "p95": 1.9},
    }
    text = table({
        "whisper_model": {"name": "Whisper base (multilingual), whisper.cpp ggml f16", "file": "ggml-base.bin",
                          "sha256": "4cc6f22b1ea7"},
        "meeting": {"audio_s": 54.8},
        "pipeline_over_raw": {"threads": 2, "pipeline_over_raw_cpu": 1.02, "box_cpu_over_its_whisper_calls": 1.01,
                              "whisper_layer_over_raw_cpu": 1.01},
        "live_asr_over_whole_file": {"live_over_whole_file_cpu": 0.9, "whole_file": {
            "cpu_s_per_audio_s": 0.45, "cpu_s_by_flash_attn": {"on": 20.1, "off": 24.4}}},
        "live": [live],
        "faster_whisper": {"compute_type": "int8", "cpu_s_per_audio_s": 0.2, "threads": 2},
    })
    assert "Whisper base (multilingual), whisper.cpp ggml f16 (ggml-base.bin, sha256 4cc6f22b1ea7)" in text
    assert "random" not in text
    assert "goal <= 1.05" in text and "goal <= 1.3" in text and "goal p95 <= 2.5 s" in text
    assert "1.1 / 2.0" in text and "faster-whisper int8" in text and "language_detection" in text
    assert "flash attention on / off: 20.1 / 24.4 CPU-s" in text


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--latency-threads", "one,two"], "--latency-threads"),
        (["--threads", "0"], "at least 1"),
        (["--whisper-model", "missing.bin"], "make setup"),
    ],
)
def test_bench_cli_rejects_bad_input_in_one_line(arguments, expected, fixture_file, tmp_path):
    fixtures = Path(fixture_file("models/silero_vad_v6.2.onnx")).parent.parent
    result = subprocess.run(
        [sys.executable, "-m", "edge", "bench", "--fixtures", str(fixtures), *arguments],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_live_figures_measure_each_commit_from_the_end_of_its_speech(random_whisper_tiny):
    from edge.asr.whispercpp import WhisperCppModel
    from edge.core.events import Utterance
    from edge.ops.bench.asr import BoxRun, MeteredTranscriber, live_figures

    second = np.zeros(SAMPLE_RATE, dtype=np.float32)
    first = Utterance(0, start_ms=1000, audio=second, final=True, speech_end_ms=1800)
    padded = Utterance(1, start_ms=5000, audio=second, final=True)  # no speech end: the audio's end counts
    metered = MeteredTranscriber(WhisperCppModel(random_whisper_tiny, threads=1, language="en"))
    metered.close()
    run = BoxRun(wall_s=10.0, cpu_s=3.0, started=100.0, commits=[(first, 103.0), (padded, 107.5)], asr=metered,
                 health={"asr": {"latency_p50_s": 1.2, "latency_p95_s": 1.5, "real_time_factor": 0.4}})
    figures = live_figures(run, audio_s=10.0, threads=2)
    assert [each["latency_s"] for each in figures["latency_s"]["each"]] == [1.2, 1.5]
    assert (figures["latency_s"]["p50"], figures["latency_s"]["p95"]) == (1.2, 1.5)
    assert figures["real_time_factor"] == 0.4 and figures["utterances"] == 2


def test_the_upload_priority_files_are_whole_passes_of_the_clips_and_reproducible(fixture_file, tmp_path):
    from edge.ops.bench.suite import MEETING_CLIPS
    from edge.ops.bench.upload_priority import write_speech_file
    from edge.ops.synth.meeting_audio import build_meeting

    clips = [fixture_file(clip) for clip in MEETING_CLIPS]
    one_pass = build_meeting(clips, seed=5).duration_s
    first = write_speech_file(clips, tmp_path / "a.wav", seconds=one_pass + 1, seed=5)
    again = write_speech_file(clips, tmp_path / "b.wav", seconds=one_pass + 1, seed=5)
    assert first == again == pytest.approx(one_pass + build_meeting(clips, seed=6).duration_s)  # never cut in a clip
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    info = sf.info(str(tmp_path / "a.wav"))
    assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 1, "PCM_16")
