"""Benchmarks (`make bench`): figures are ratios against the raw library on the same work, or
distributions, never pass/fail thresholds, because the machines are shared and noisy.

The meeting is made from fixture speech clips joined with pauses and low noise; the whisper model is
a random-weight model of a real shape (real compute cost, meaningless text), decoded with
temperature fallback off and a small token cap so the decoder cost is bounded like a real model's.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.config import Config
from edge.events import SAMPLE_RATE, Utterance

MEETING_CLIPS = (
    "audio/jfk.wav",
    "audio/leopard/test_ko.wav",
    "audio/leopard/test.wav",
    "audio/leopard/test_de.wav",
    "audio/leopard/diarization_test.wav",
)
CHUNK = 512


@dataclass(frozen=True)
class BenchSetup:
    fixtures: Path
    whisper_model: Path
    vad_model: Path
    workdir: Path
    threads: int = 2
    max_tokens: int = 32
    repeats: int = 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def bench_vad(vad_model: Path, audio: np.ndarray) -> dict:
    from edge.vad_onnx import SileroOnnx

    model = SileroOnnx(vad_model)
    chunks = [audio[i : i + CHUNK] for i in range(0, len(audio) - CHUNK + 1, CHUNK)]
    for chunk in chunks[:50]:
        model(chunk)
    model.reset()
    start = time.perf_counter()
    for chunk in chunks:
        model(chunk)
    elapsed = time.perf_counter() - start
    return {"chunks": len(chunks), "ms_per_chunk": round(1000 * elapsed / len(chunks), 4), "chunk_ms": 32}


def bench_config(setup: BenchSetup, wav: Path, *, realtime: bool) -> Config:
    cfg = Config()
    cfg.device.id = "bench"
    cfg.audio.source = f"file:{wav}"
    cfg.audio.realtime = realtime
    cfg.audio.archive = True
    cfg.vad.model_path = setup.vad_model
    cfg.asr.model_path = setup.whisper_model
    cfg.asr.language = "en"
    cfg.asr.threads = setup.threads
    cfg.asr.max_tokens = setup.max_tokens
    cfg.asr.temperature_inc = 0.0
    cfg.asr.partial_interval_ms = 0
    cfg.api.enabled = False
    cfg.mqtt.enabled = False
    return cfg


def run_pipeline(cfg: Config) -> tuple[float, list[tuple[Utterance, float]], float, dict]:
    """Whole pipeline on the configured file; (wall seconds, commit times, start time, ASR figures)."""
    from edge.app import Box

    commits: list[tuple[Utterance, float]] = []
    box = Box(cfg)
    box.add_final_hook(lambda utterance: commits.append((utterance, time.monotonic())))
    box.open()
    try:
        started = time.monotonic()
        box.start_meeting()
        box.recording.wait_source_done()
        box.stop_meeting()
        wall = time.monotonic() - started
        stats = box.asr_stats
    finally:
        box.close()
    return wall, commits, started, {"compute_s": stats.compute_seconds, "audio_s": stats.audio_seconds}


def run_benchmarks(setup: BenchSetup, progress: Callable[[str], None] = lambda _: None) -> dict:
    from edge.asr.whispercpp import raw_transcribe_seconds
    from edge.synth.meeting_audio import build_meeting, write_wav
    from edge.vad import detect_speech

    meeting = build_meeting([setup.fixtures / clip for clip in MEETING_CLIPS], repeats=setup.repeats, seed=1)
    wav = write_wav(setup.workdir / "bench-meeting.wav", meeting.audio)
    progress(f"meeting: {meeting.duration_s:.1f} s from {len(MEETING_CLIPS)} fixture clips")

    progress("VAD")
    vad = bench_vad(setup.vad_model, meeting.audio)

    cfg = bench_config(setup, wav, realtime=False)
    spans = detect_speech(meeting.audio, cfg.vad)
    progress(f"raw pywhispercpp on {len(spans)} VAD segments")
    raw_s = raw_transcribe_seconds(
        setup.whisper_model,
        [meeting.audio[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] for a, b in _padded(spans, cfg)],
        threads=setup.threads,
        language=cfg.asr.language,
        max_tokens=setup.max_tokens,
    )
    progress("pipeline on the file, as fast as possible")
    cfg.storage.path = setup.workdir / "fast"
    pipeline_s, commits, _, asr = run_pipeline(cfg)

    progress("pipeline with real-time replay (latency)")
    live_cfg = bench_config(setup, wav, realtime=True)
    live_cfg.storage.path = setup.workdir / "live"
    _, live_commits, live_start, _ = run_pipeline(live_cfg)
    latencies = [
        committed - (live_start + utterance.speech_end_ms / 1000)
        for utterance, committed in live_commits
        if utterance.speech_end_ms is not None
    ]
    return {
        "v": 1,
        "machine_note": "shared machine; compare ratios, not absolute times",
        "whisper_model": f"{setup.whisper_model.name} (random weights, real shape)",
        "threads": setup.threads,
        "max_tokens": setup.max_tokens,
        "meeting_audio_s": round(meeting.duration_s, 2),
        "vad": vad,
        "asr": {
            "utterances": len(commits),
            "vad_segments": len(spans),
            "raw_pywhispercpp_s": round(raw_s, 3),
            "pipeline_s": round(pipeline_s, 3),
            "pipeline_over_raw": round(pipeline_s / raw_s, 3) if raw_s else None,
            "compute_s_per_audio_s": round(asr["compute_s"] / asr["audio_s"], 3) if asr["audio_s"] else None,
            "compute_s_per_meeting_s": round(asr["compute_s"] / meeting.duration_s, 3),
        },
        "latency_end_of_speech_to_commit_s": {
            "n": len(latencies),
            "p50": round(statistics.median(latencies), 3) if latencies else None,
            "p95": round(percentile(latencies, 95), 3) if latencies else None,
            "includes_min_silence_s": cfg.vad.min_silence_ms / 1000,
        },
    }


def _padded(spans: list[tuple[float, float]], cfg: Config) -> list[tuple[float, float]]:
    """The audio the pipeline hands to ASR: each speech span with the VAD's padding around it."""
    pad = cfg.vad.speech_pad_ms / 1000
    return [(max(0.0, a - pad), b + pad) for a, b in spans]
