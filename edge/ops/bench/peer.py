"""faster-whisper (CTranslate2) on the same weights and audio: the CPU peer the box's whisper.cpp
figures stand beside. It is an optional dev dependency and the only module that imports it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge.core.events import SAMPLE_RATE


def faster_whisper_available() -> bool:
    try:
        import faster_whisper  # noqa: F401
    except ImportError:
        return False
    return True


def bench_faster_whisper(model_dir: Path, audio: np.ndarray, *, threads: int, compute_type: str = "int8") -> dict:
    """One whole-file pass, greedy like the box, in faster-whisper's own default mode otherwise
    (previous text as context, no VAD filter); loading and the int8 conversion are not counted."""
    from faster_whisper import WhisperModel

    model = WhisperModel(str(model_dir), device="cpu", compute_type=compute_type, cpu_threads=threads)
    started, cpu_started = time.perf_counter(), time.process_time()
    segments, info = model.transcribe(audio, beam_size=1, temperature=0.0)
    text = " ".join(segment.text.strip() for segment in segments)  # the generator does the work
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    audio_s = len(audio) / SAMPLE_RATE
    return {
        "compute_type": compute_type,
        "threads": threads,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cpu_s_per_audio_s": round(cpu / audio_s, 3),
        "wall_s_per_audio_s": round(wall / audio_s, 3),
        "language": info.language,
        "text": text,
    }


def faster_whisper_transcriber(
    model_dir: Path, *, threads: int, compute_type: str = "float32"
) -> Callable[[Path, str | None, int], str]:
    """`transcribe(path, language or None to detect, beam_size) -> text` with faster-whisper in its own
    default mode otherwise, for accuracy beside the box (edge eval asr)."""
    from faster_whisper import WhisperModel

    model = WhisperModel(str(model_dir), device="cpu", compute_type=compute_type, cpu_threads=threads)

    def transcribe(path: Path, language: str | None, beam_size: int) -> str:
        segments, _ = model.transcribe(str(path), language=language, beam_size=beam_size)
        return " ".join(segment.text.strip() for segment in segments)

    return transcribe
