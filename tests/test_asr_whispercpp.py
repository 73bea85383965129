"""whisper.cpp through pywhispercpp, for real: the vocab-only stub (loads, returns nothing) and a
random-weight model of the real tiny shape (real compute, nonsense text, odd timestamps)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edge.asr.whispercpp import (
    RawCall,
    RawCost,
    WhisperCppModel,
    clamp_times,
    decode_segment_texts,
    fit_audio_ctx,
    raw_replay,
)
from edge.core.errors import ConfigError, ModelError
from edge.core.events import SAMPLE_RATE

STUB = "models/ggml-tiny-vocab-only-stub.bin"
FAST = {"threads": 2, "max_tokens": 8, "temperature_inc": 0.0}


@pytest.fixture(scope="module")
def jfk(fixture_file) -> np.ndarray:
    return sf.read(fixture_file("audio/jfk.wav"), dtype="float32")[0]


@pytest.mark.parametrize("name", ["tiny", "ggml-tiny.bin", "models/ggml-tiny.bin"])
def test_a_relative_path_or_bare_name_is_refused_before_pywhispercpp_could_download(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "ggml-tiny.bin").write_bytes(b"lmgg")
    with pytest.raises(ModelError, match="absolute path"):
        WhisperCppModel(Path(name), threads=1, language="en")


def test_missing_directory_and_non_ggml_files_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        WhisperCppModel(tmp_path / "nope.bin", threads=1, language="en")
    with pytest.raises(ModelError, match="not found"):
        WhisperCppModel(tmp_path, threads=1, language="en")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"RIFF" + bytes(200))
    with pytest.raises(ModelError, match=r"not a whisper\.cpp ggml model"):
        WhisperCppModel(junk, threads=1, language="en")
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match=r"not a whisper\.cpp ggml model"):
        WhisperCppModel(empty, threads=1, language="en")


def test_a_truncated_model_fails_to_load_with_whisper_cpps_reason(random_whisper_tiny, tmp_path):
    truncated = tmp_path / "truncated.bin"
    with open(random_whisper_tiny, "rb") as f:
        truncated.write_bytes(f.read(20_000_000))
    with pytest.raises(ModelError, match="not all tensors loaded"):
        WhisperCppModel(truncated, threads=1, language="en")


def test_an_unknown_language_is_a_config_error(fixture_file):
    with pytest.raises(ConfigError, match="not a whisper language"):
        WhisperCppModel(fixture_file(STUB), threads=1, language="xx")


def test_the_stub_loads_and_returns_nothing_counting_soft_errors_on_speech_only(fixture_file, jfk):
    with WhisperCppModel(fixture_file(STUB), threads=1, language="ko") as model:
        assert model.empty
        assert model.transcribe(jfk, offset_ms=0) == []
        assert model.soft_errors == 1
        assert model.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32), offset_ms=0) == []
        assert model.transcribe(np.zeros(0, dtype=np.float32), offset_ms=0) == []
        assert model.soft_errors == 1


def test_random_tiny_gives_clean_segments_inside_the_clip_in_meeting_time(random_whisper_tiny, jfk):
    with WhisperCppModel(random_whisper_tiny, language="en", **FAST) as model:
        assert not model.empty
        segments = model.transcribe(jfk[: 3 * SAMPLE_RATE], offset_ms=5_000)
    assert segments, "the random model always emits something for speech"
    for seg in segments:
        # Its raw timestamps run past the clip (to the end of whisper's 30 s window).
        assert 5_000 <= seg.t0_ms < seg.t1_ms <= 8_000
        assert seg.text == seg.text.strip() and seg.text and "\ufffd" not in seg.text
        assert seg.language == "en"
        assert seg.confidence is not None and 0.0 <= seg.confidence <= 1.0
    assert [s.t0_ms for s in segments] == sorted(s.t0_ms for s in segments)


def test_auto_language_is_reported_and_native_output_silenced(random_whisper_tiny, jfk, capfd):
    with WhisperCppModel(random_whisper_tiny, language="auto", **FAST) as model:
        segments = model.transcribe(jfk[: 2 * SAMPLE_RATE], offset_ms=0)
    assert segments
    assert all(s.language in model.languages for s in segments)
    # whisper.cpp logs the detected language and its load report; none of it reaches the terminal.
    out, err = capfd.readouterr()
    assert out == ""
    assert "whisper" not in err and "progress" not in err


def test_language_and_prompt_are_set_on_every_call(fixture_file):
    # pywhispercpp keeps parameters between calls: a per-call prompt must not stick, and the
    # default empty prompt must clear it.
    with WhisperCppModel(fixture_file(STUB), threads=1, language="ko") as model:
        params = model._model._params
        quiet = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)
        model.transcribe(quiet, offset_ms=0, prompt="Kubernetes 배포 회의")
        assert (params.initial_prompt, params.language) == ("Kubernetes 배포 회의", "ko")
        model.transcribe(quiet, offset_ms=0)
        assert (params.initial_prompt, params.language) == ("", "ko")


def test_only_the_first_thread_that_transcribes_may_use_the_model(fixture_file):
    quiet = np.zeros(1600, dtype=np.float32)
    errors: list[BaseException] = []
    with WhisperCppModel(fixture_file(STUB), threads=1, language="en") as model:
        model.transcribe(quiet, offset_ms=0)

        def other() -> None:
            try:
                model.transcribe(quiet, offset_ms=0)
            except RuntimeError as exc:
                errors.append(exc)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert len(errors) == 1 and "thread" in str(errors[0])


def test_a_closed_model_refuses_to_transcribe(fixture_file):
    model = WhisperCppModel(fixture_file(STUB), threads=1, language="en")
    model.close()
    model.close()
    with pytest.raises(RuntimeError, match="closed"):
        model.transcribe(np.zeros(1600, dtype=np.float32), offset_ms=0)


def test_multichannel_audio_is_refused(fixture_file):
    with (
        WhisperCppModel(fixture_file(STUB), threads=1, language="en") as model,
        pytest.raises(ValueError, match="mono"),
    ):
        model.transcribe(np.zeros((1600, 2), dtype=np.float32), offset_ms=0)


def test_odd_timestamps_are_clamped_into_the_clip():
    clip = 3_000
    assert clamp_times([(-50, 1_000), (1_000, 2_000)], clip) == [(0, 1_000), (1_000, 2_000)]
    # An empty segment stretches to the next start, or to the clip end for the last one.
    assert clamp_times([(500, 500), (1_200, 1_200)], clip) == [(500, 1_200), (1_200, 3_000)]
    # Beyond the clip (whisper's 30 s window) is cut at the clip end.
    assert clamp_times([(940, 28_860)], clip) == [(940, 3_000)]
    # A start at or past the end goes back to the previous end, keeping some duration...
    assert clamp_times([(0, 2_000), (3_500, 3_600)], clip) == [(0, 2_000), (2_000, 3_000)]
    # ...or takes the last 10 ms when the previous segment already reaches the end.
    assert clamp_times([(0, 3_000), (3_000, 3_000)], clip) == [(0, 3_000), (2_990, 3_000)]
    # Starts never go back in time.
    assert clamp_times([(1_000, 2_000), (400, 2_500)], clip) == [(1_000, 2_000), (1_000, 2_500)]
    fixed = clamp_times([(-10, -5), (5_000, 4_000), (10, 10), (-3, 9_999)], clip)
    assert all(0 <= t0 < t1 <= clip for t0, t1 in fixed)
    assert [t0 for t0, _ in fixed] == sorted(t0 for t0, _ in fixed)


def test_a_character_split_between_segments_is_rejoined_and_invalid_bytes_kept_visible():
    data = " 쿠버네티스 배포".encode()
    assert decode_segment_texts([data[:5], data[5:11], data[11:]]) == ["쿠", "버네", "티스 배포"]
    # Never stripped: a lost syllable shows as U+FFFD for the stage to count and retry.
    assert decode_segment_texts([b" ok \xff\xfe bad ", "\ufffd".encode(), b"\xea\xb0"]) == [
        "ok \ufffd\ufffd bad",
        "\ufffd",
        "\ufffd",
    ]


@pytest.mark.parametrize(
    ("seconds", "margin", "flash_attn", "expected"),
    [
        (2.0, 1.0, False, 160),  # 150 positions, rounded up to a step of 32
        (4.0, 1.0, False, 256),  # 250
        (4.2, 1.0, False, 288),  # 260
        (0.1, 0.0, False, 160),  # never under the window language detection needs
        (20.0, 1.0, False, 1056),  # 1050
        (28.8, 1.0, False, 0),  # 1490 rounds to 1504, past the 1500 of the window: the whole window
        (2.0, 1.0, True, 256),  # flash attention: steps of 256
        (4.2, 1.0, True, 512),
        (20.0, 1.0, True, 1280),
        (28.0, 1.0, True, 0),  # 1450 rounds to 1536
    ],
)
def test_audio_ctx_follows_the_audio_in_steps_safe_for_the_attention(seconds, margin, flash_attn, expected):
    assert fit_audio_ctx(int(seconds * SAMPLE_RATE), margin, 1500, flash_attn=flash_attn) == expected


def test_the_stub_counts_tokens_with_whisper_cpps_tokenizer_and_detects_nothing(fixture_file):
    with WhisperCppModel(fixture_file(STUB), threads=1, language="en") as model:
        assert model.count_tokens("") == 0
        short, long = model.count_tokens("hello"), model.count_tokens("hello world, and so my fellow Americans")
        assert 0 < short < long
        assert model.detect_language(np.zeros(SAMPLE_RATE, dtype=np.float32)) == {}
        with pytest.raises(ConfigError, match="xx"):
            model.transcribe(np.zeros(1600, dtype=np.float32), offset_ms=0, language="xx")


def test_random_tiny_gives_language_probabilities_and_decodes_with_beam_search(random_whisper_tiny, jfk):
    with WhisperCppModel(random_whisper_tiny, language="en", fit_audio_ctx=True, **FAST) as model:
        probabilities = model.detect_language(jfk[: 3 * SAMPLE_RATE])
        assert set(probabilities) == set(model.languages)
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-3)
        params = model._model._params
        model.transcribe(jfk[: 2 * SAMPLE_RATE], offset_ms=0, language="ko", beam_size=3)
        assert (params.language, params.beam_search["beam_size"], params.audio_ctx) == ("ko", 3, 160)
        assert params.strategy == params.strategy.WHISPER_SAMPLING_BEAM_SEARCH
        model.transcribe(jfk[: 2 * SAMPLE_RATE], offset_ms=0)
        assert params.language == "en" and params.strategy == params.strategy.WHISPER_SAMPLING_GREEDY


def test_raw_baseline_times_bare_pywhispercpp_calls(random_whisper_tiny, jfk):
    assert raw_replay(random_whisper_tiny, [], threads=1) == RawCost(0.0, 0.0)
    second = jfk[:SAMPLE_RATE]
    calls = [
        RawCall(second, language="en"),
        RawCall(second, prompt="회의", language="ko", beam_size=2, audio_ctx_margin_s=1.0),
        RawCall(second, detect_only=True),
    ]
    cost = raw_replay(random_whisper_tiny, calls, threads=1, max_tokens=4)
    assert cost.wall_s > 0 and cost.cpu_s > 0
    with pytest.raises(ModelError, match="absolute path"):
        raw_replay(Path("tiny"), [], threads=1)
