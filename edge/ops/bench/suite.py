"""`make bench` in one run: every figure on one Korean and English meeting made from the fixtures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edge.core.config import Config

# A composite meeting: real Korean and English speech clips joined with pauses and low room noise
# (the fixtures hold no long meeting recording).
MEETING_CLIPS = (
    "audio/leopard/test_ko.wav",
    "audio/jfk.wav",
    "audio/leopard/test_ko.wav",
    "audio/leopard/test.wav",
    "audio/leopard/diarization_test.wav",
)
VAD_MODEL = "models/silero_vad_v6.2.onnx"


@dataclass(frozen=True)
class BenchSetup:
    fixtures: Path
    whisper_model: Path
    workdir: Path
    threads: int = 2
    latency_threads: Sequence[int] = (1, 2)
    faster_whisper_model: Path | None = None  # a CTranslate2 folder of the same weights
    llm_model: Path | None = None
    random_weights: bool = False  # whisper_model is a random-weight model of a real shape
    live_minutes: float = 3.0  # the live meeting of the upload-priority figure
    upload_mb: float = 100.0  # the upload it runs beside
    only_upload_priority: bool = False


def asr_base_config(setup: BenchSetup) -> Config:
    """The box's ASR settings (context, languages, fitted encoder window) for the meeting."""
    cfg = Config()
    cfg.vad.model_path = (setup.fixtures / VAD_MODEL).resolve()
    cfg.asr.model_path = setup.whisper_model.resolve()
    cfg.asr.languages = ["ko", "en"]
    if setup.random_weights:
        # Random weights never stop on their own: bound the decoder like a real model's sentence.
        cfg.asr.max_tokens = 32
        cfg.asr.temperature_inc = 0.0
    return cfg


def run_benchmarks(setup: BenchSetup, progress: Callable[[str], None] = lambda _: None) -> dict:
    from edge.audio.files import write_wav
    from edge.ops.bench.asr import bench_live, bench_pipeline_over_raw, bench_whole_file, live_figures
    from edge.ops.bench.model_names import gguf_model_name, whisper_model_name
    from edge.ops.synth.meeting_audio import build_meeting

    if setup.only_upload_priority:
        return {
            "v": 2,
            "machine_note": "shared machine: compare ratios, not absolute wall times",
            "whisper_model": whisper_model_name(setup.whisper_model, random_weights=setup.random_weights),
            "upload_priority": _upload_priority(setup, progress),
        }
    meeting = build_meeting([setup.fixtures / clip for clip in MEETING_CLIPS], seed=1)
    wav = write_wav(setup.workdir / "bench-meeting.wav", meeting.audio)
    audio_s = meeting.duration_s
    base = asr_base_config(setup)
    progress(f"meeting: {audio_s:.1f} s, Korean and English clips from the fixtures")
    figures: dict = {
        "v": 2,
        "machine_note": "shared machine: compare ratios and CPU seconds, not absolute wall times",
        "whisper_model": whisper_model_name(setup.whisper_model, random_weights=setup.random_weights),
        "meeting": {"audio_s": round(audio_s, 2), "clips": list(MEETING_CLIPS), "languages": ["ko", "en"]},
        "asr_settings": {
            "languages": base.asr.languages, "context": base.asr.context, "fit_audio_ctx": base.asr.fit_audio_ctx,
            "flash_attn": base.asr.flash_attn,
            "partials": "only while someone watches the live text (nobody does here)",
        },
    }
    figures["pipeline_over_raw"] = bench_pipeline_over_raw(base, wav, setup.workdir, threads=setup.threads,
                                                           progress=progress)
    progress("ASR: one whole-file pass of the same model with bare pywhispercpp")
    whole = bench_whole_file(base, meeting.audio, threads=setup.threads)
    live = {}
    for threads in setup.latency_threads:
        progress(f"ASR: the box on the meeting replayed in real time, {threads} thread(s) ({audio_s:.0f} s)")
        live[threads] = bench_live(base, wav, setup.workdir, threads=threads)
    figures["live"] = [live_figures(run, audio_s, threads=threads) for threads, run in live.items()]
    reference = live.get(setup.threads)
    figures["live_asr_over_whole_file"] = {
        "threads": setup.threads,
        "whole_file": whole,
        "live_over_whole_file_cpu": round(reference.asr.cpu_s / whole["cpu_s"], 3) if reference else None,
    }
    if setup.faster_whisper_model is not None:
        from edge.ops.bench.peer import bench_faster_whisper

        progress("faster-whisper int8, one whole-file pass on the same weights")
        figures["faster_whisper"] = {
            "model": str(setup.faster_whisper_model.name),
            **bench_faster_whisper(setup.faster_whisper_model, meeting.audio, threads=setup.threads),
        }
    figures["upload_priority"] = _upload_priority(setup, progress)
    if setup.llm_model is not None:
        from edge.ops.bench.llm import bench_llm

        figures["llm_model"] = gguf_model_name(setup.llm_model)
        figures["llm"] = bench_llm(setup.llm_model, threads=setup.threads, progress=progress)
    return figures


def _upload_priority(setup: BenchSetup, progress: Callable[[str], None]) -> dict:
    from edge.ops.bench.upload_priority import bench_upload_priority

    return bench_upload_priority(
        asr_base_config(setup), [setup.fixtures / clip for clip in MEETING_CLIPS], setup.workdir / "upload-priority",
        threads=setup.threads, live_s=setup.live_minutes * 60, upload_mb=setup.upload_mb, progress=progress,
    )
