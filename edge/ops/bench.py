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

from edge.core.config import Config
from edge.core.events import Utterance

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
    rounds: int = 3


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def bench_vad(vad_model: Path, audio: np.ndarray) -> dict:
    from edge.audio.vad_onnx import SileroOnnx

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
        assert box.recording is not None
        box.recording.wait_source_done()
        box.stop_meeting()
        wall = time.monotonic() - started
        stats = box.asr_stats
    finally:
        box.close()
    return wall, commits, started, {"compute_s": stats.compute_seconds, "audio_s": stats.audio_seconds}


def run_benchmarks(setup: BenchSetup, progress: Callable[[str], None] = lambda _: None) -> dict:
    from edge.asr.whispercpp import raw_transcribe_seconds
    from edge.audio.files import write_wav
    from edge.ops.synth.meeting_audio import build_meeting

    meeting = build_meeting([setup.fixtures / clip for clip in MEETING_CLIPS], repeats=setup.repeats, seed=1)
    wav = write_wav(setup.workdir / "bench-meeting.wav", meeting.audio)
    progress(f"meeting: {meeting.duration_s:.1f} s from {len(MEETING_CLIPS)} fixture clips")

    progress("VAD")
    vad = bench_vad(setup.vad_model, meeting.audio)

    # The pipeline against the raw library on the very utterances the pipeline decoded (same audio),
    # in alternating order (same machine load on average); the median ratio is reported.
    rounds = []
    utterances: list = []

    def raw() -> float:
        return raw_transcribe_seconds(
            setup.whisper_model, utterances, threads=setup.threads, language="en", max_tokens=setup.max_tokens
        )

    for number in range(-1, setup.rounds):  # round -1 warms caches and allocators and is not reported
        progress(f"round {number + 1}/{setup.rounds}: pipeline on the file as fast as possible, and raw pywhispercpp"
                 + (" (warm-up)" if number < 0 else ""))
        cfg = bench_config(setup, wav, realtime=False)
        cfg.storage.path = setup.workdir / f"fast-{number}"
        raw_first = number % 2 == 1 and utterances
        raw_s = raw() if raw_first else 0.0
        pipeline_s, commits, _, asr = run_pipeline(cfg)
        utterances = [utterance.audio for utterance, _ in commits]
        if not raw_first:
            raw_s = raw()
        if number < 0:
            continue
        rounds.append({"pipeline_s": round(pipeline_s, 3), "raw_s": round(raw_s, 3), "raw_first": bool(raw_first),
                       "ratio": round(pipeline_s / raw_s, 3), "utterances": len(commits), **asr})

    progress("pipeline with real-time replay (latency)")
    live_cfg = bench_config(setup, wav, realtime=True)
    live_cfg.storage.path = setup.workdir / "live"
    _, live_commits, live_start, _ = run_pipeline(live_cfg)
    latencies = [
        committed - (live_start + utterance.speech_end_ms / 1000)
        for utterance, committed in live_commits
        if utterance.speech_end_ms is not None
    ]
    compute = sum(r["compute_s"] for r in rounds)
    audio = sum(r["audio_s"] for r in rounds)
    for r in rounds:
        del r["compute_s"], r["audio_s"]
    return {
        "v": 1,
        "machine_note": "shared machine; compare ratios, not absolute times",
        "whisper_model": f"{setup.whisper_model.name} (random weights, real shape)",
        "threads": setup.threads,
        "max_tokens": setup.max_tokens,
        "meeting_audio_s": round(meeting.duration_s, 2),
        "vad": vad,
        "asr": {
            "pipeline_over_raw_median": round(statistics.median(r["ratio"] for r in rounds), 3),
            "rounds": rounds,
            "compute_s_per_audio_s": round(compute / audio, 3) if audio else None,
        },
        "latency_end_of_speech_to_commit_s": {
            "n": len(latencies),
            "p50": round(statistics.median(latencies), 3) if latencies else None,
            "p95": round(percentile(latencies, 95), 3) if latencies else None,
            "includes_min_silence_s": live_cfg.vad.min_silence_ms / 1000,
        },
    }
