"""A reproducible "meeting" made by joining real speech clips with pauses and low room noise, for
benchmarks and end-to-end tests (no long multi-speaker recording exists in the fixtures)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.core.events import SAMPLE_RATE


@dataclass(frozen=True)
class SyntheticMeeting:
    audio: np.ndarray
    speech_spans_s: list[tuple[float, float]]  # where each clip was placed

    @property
    def duration_s(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def build_meeting(
    clips: Sequence[Path],
    *,
    repeats: int = 1,
    pause_s: tuple[float, float] = (1.0, 2.5),
    noise_dbfs: float = -60.0,
    seed: int = 0,
) -> SyntheticMeeting:
    from edge.audio.files import decode_audio

    rng = np.random.default_rng(seed)
    decoded = [decode_audio(Path(clip)) for clip in clips]
    parts: list[np.ndarray] = []
    spans: list[tuple[float, float]] = []
    position = 0
    for _ in range(repeats):
        for clip in decoded:
            pause = np.zeros(int(rng.uniform(*pause_s) * SAMPLE_RATE), dtype=np.float32)
            parts += [pause, clip]
            start = position + len(pause)
            spans.append((start / SAMPLE_RATE, (start + len(clip)) / SAMPLE_RATE))
            position = start + len(clip)
    parts.append(np.zeros(SAMPLE_RATE, dtype=np.float32))
    audio = np.concatenate(parts)
    noise = rng.normal(0.0, 10 ** (noise_dbfs / 20), size=len(audio)).astype(np.float32)
    return SyntheticMeeting(np.clip(audio + noise, -1.0, 1.0).astype(np.float32), spans)
