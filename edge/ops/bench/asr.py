"""The ASR figures: the whole pipeline against bare pywhispercpp on the same whisper.cpp calls, the
live pipeline's ASR cost against one whole-file pass, and end-of-speech -> commit latency in a
real-time replay.

The box runs with its own whisper model wrapped in `MeteredTranscriber`, which records every call
the pipeline makes (audio, prompt, language, beam, encoder window, language detections) with the
process CPU time it took; `edge.asr.whispercpp.raw_replay` then makes exactly those calls with bare
pywhispercpp. CPU time is the primary figure because the machines are shared: other tenants change
wall time much more than the CPU time a piece of work needs. Wall time is given beside it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.asr.whispercpp import RawCall, RawCost, WhisperCppModel, raw_replay
from edge.core.config import Config
from edge.core.events import SAMPLE_RATE, AsrSegment, Utterance


class MeteredTranscriber:
    """The box's whisper model with each call recorded as a `RawCall` and its cost counted."""

    def __init__(self, model: WhisperCppModel) -> None:
        self.model = model
        self.languages = model.languages
        self.calls: list[RawCall] = []
        self.wall_s = 0.0
        self.cpu_s = 0.0

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        offset_ms: int,
        prompt: str | None = None,
        language: str | None = None,
        beam_size: int = 0,
    ) -> list[AsrSegment]:
        model = self.model
        self.calls.append(
            RawCall(
                audio,
                prompt=model.initial_prompt if prompt is None else prompt,
                language=model.language if language is None else language,
                beam_size=beam_size,
                audio_ctx_margin_s=model.audio_ctx_margin_s if model.fit_audio_ctx else None,
            )
        )
        return self._timed(lambda: model.transcribe(audio, offset_ms=offset_ms, prompt=prompt, language=language,
                                                    beam_size=beam_size))

    def detect_language(self, audio: np.ndarray) -> dict[str, float]:
        self.calls.append(RawCall(audio, detect_only=True))
        return self._timed(lambda: self.model.detect_language(audio))

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def close(self) -> None:
        self.model.close()

    def _timed(self, call: Callable):
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            return call()
        finally:
            self.wall_s += time.perf_counter() - started
            self.cpu_s += time.process_time() - cpu_started


@dataclass
class BoxRun:
    """One meeting replayed through the box: wall and process CPU from start to the last commit."""

    wall_s: float
    cpu_s: float
    started: float  # monotonic time the replay began (meeting time 0)
    commits: list[tuple[Utterance, float]]  # each final utterance and when it was committed
    asr: MeteredTranscriber
    health: dict = field(default_factory=dict)

    def latencies(self) -> list[float]:
        """End of speech -> commit, seconds, for every committed utterance."""
        return [
            committed - (self.started + utterance.speech_end_ms / 1000)
            for utterance, committed in self.commits
            if utterance.speech_end_ms is not None
        ]


def run_box(cfg: Config) -> BoxRun:
    """The whole box (capture, VAD, ASR, firewall, store) on cfg's file source, until every
    utterance is committed."""
    from edge.app import Box
    from edge.asr.backends import model_factory

    load = model_factory(cfg.asr)
    metered: list[MeteredTranscriber] = []

    def factory() -> MeteredTranscriber:
        metered.append(MeteredTranscriber(load()))
        return metered[0]

    commits: list[tuple[Utterance, float]] = []
    box = Box(cfg, asr_model_factory=factory)
    box.add_final_hook(lambda utterance: commits.append((utterance, time.monotonic())))
    box.open()
    try:
        started, cpu_started = time.monotonic(), time.process_time()
        box.start_meeting()
        box.recording.wait_source_done()
        box.stop_meeting()
        wall, cpu = time.monotonic() - started, time.process_time() - cpu_started
        health = box.health()
    finally:
        box.close()
    return BoxRun(wall, cpu, started, commits, metered[0], health)


def box_config(base: Config, wav: Path, workdir: Path, *, threads: int, realtime: bool) -> Config:
    cfg = base.model_copy(deep=True)
    cfg.device.id = "bench"
    cfg.audio.source = f"file:{wav}"
    cfg.audio.realtime = realtime
    cfg.asr.threads = threads
    cfg.api.enabled = False
    cfg.mqtt.enabled = False
    cfg.storage.path = workdir
    return cfg


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, int(q / 100 * len(ordered) + 0.5) - 1))]


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def bench_pipeline_over_raw(
    base: Config, wav: Path, workdir: Path, *, threads: int, rounds: int, progress: Callable[[str], None]
) -> dict:
    """The pipeline as fast as the file can be read, against bare pywhispercpp making the same calls,
    in alternating order (the same machine load on average). Models load before the clock starts."""
    model_path = base.asr.model_path.resolve()

    def raw(calls: list[RawCall]) -> RawCost:
        return raw_replay(model_path, calls, threads=threads, max_tokens=base.asr.max_tokens,
                          temperature_inc=base.asr.temperature_inc)

    measured = []
    calls: list[RawCall] = []
    for number in range(1, rounds + 1):
        progress(f"ASR round {number}/{rounds}: the pipeline on the file as fast as it reads, and bare pywhispercpp")
        raw_first = number % 2 == 0  # the calls of the previous round: the same audio gives the same calls
        before = raw(calls) if raw_first else None
        run = run_box(box_config(base, wav, workdir / f"fast-{number}", threads=threads, realtime=False))
        calls = run.asr.calls
        cost = before if before is not None else raw(calls)
        measured.append({
            "pipeline_cpu_s": round(run.cpu_s, 2), "raw_cpu_s": round(cost.cpu_s, 2),
            "pipeline_wall_s": round(run.wall_s, 2), "raw_wall_s": round(cost.wall_s, 2),
            "raw_first": raw_first, "whisper_calls": len(calls), "utterances": len(run.commits),
        })
    return {
        "threads": threads,
        "pipeline_over_raw_cpu": round(statistics.median(r["pipeline_cpu_s"] / r["raw_cpu_s"] for r in measured), 3),
        "pipeline_over_raw_wall": round(statistics.median(r["pipeline_wall_s"] / r["raw_wall_s"] for r in measured), 3),
        "rounds": measured,
        "what": "the whole box (capture, VAD, ASR, firewall, SQLite) on the meeting file, against bare pywhispercpp "
        "repeating the whisper.cpp calls the pipeline made (same audio, prompt, language, encoder window)",
    }


def bench_live(base: Config, wav: Path, workdir: Path, *, threads: int) -> BoxRun:
    return run_box(box_config(base, wav, workdir / f"live-{threads}", threads=threads, realtime=True))


def live_figures(run: BoxRun, audio_s: float, *, threads: int) -> dict:
    latencies = run.latencies()
    asr = run.health.get("asr", {})
    return {
        "threads": threads,
        "utterances": len(run.commits),
        "latency_s": {
            "p50": _rounded(percentile(latencies, 50)),
            "p95": _rounded(percentile(latencies, 95)),
            "max": _rounded(max(latencies, default=None)),
            "measured": "commit time minus the end of speech in the replayed file (the VAD's closing silence included)",
        },
        "box_reported_latency_s": {"p50": asr.get("latency_p50_s"), "p95": asr.get("latency_p95_s")},
        "real_time_factor": asr.get("real_time_factor", run.health.get("rtf")),
        "asr_cpu_s": round(run.asr.cpu_s, 2),
        "asr_wall_s": round(run.asr.wall_s, 2),
        "asr_cpu_s_per_audio_s": round(run.asr.cpu_s / audio_s, 3),
        "whisper_calls": len(run.asr.calls),
        "language_detections": sum(call.detect_only for call in run.asr.calls),
    }


def bench_whole_file(base: Config, audio: np.ndarray, *, threads: int) -> dict:
    """One whole-file pass of the same model with bare pywhispercpp: whisper.cpp's own 30 s windows,
    greedy, language detected once."""
    cost = raw_replay(base.asr.model_path.resolve(), [RawCall(audio)], threads=threads,
                      max_tokens=base.asr.max_tokens, temperature_inc=base.asr.temperature_inc)
    audio_s = len(audio) / SAMPLE_RATE
    return {
        "threads": threads,
        "cpu_s": round(cost.cpu_s, 2),
        "wall_s": round(cost.wall_s, 2),
        "cpu_s_per_audio_s": round(cost.cpu_s / audio_s, 3),
    }
