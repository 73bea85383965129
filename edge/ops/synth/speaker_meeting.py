"""A reproducible multi-speaker "meeting" with known turns, for diarization figures and tests: each voice's
clip is cut into its phrases (where the VAD finds pauses), and the phrases of all voices take turns with
short pauses and low room noise. When a voice has said all its phrases it says them again, a few dB
louder or quieter, under fresh noise. It is a composite of real speech, not a recorded meeting: the
voices never overlap and never meet in one room.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge.core.events import SAMPLE_RATE
from edge.speaker.der import Turn

MIN_PHRASE_S = 0.8


@dataclass(frozen=True)
class SpeakerMeeting:
    audio: np.ndarray
    turns: list[Turn]  # who spoke when: the reference of a diarization score

    @property
    def duration_s(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def phrases(audio: np.ndarray, spans_s: Sequence[tuple[float, float]]) -> list[np.ndarray]:
    cuts = [audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)] for start, end in spans_s]
    return [cut for cut in cuts if len(cut) >= MIN_PHRASE_S * SAMPLE_RATE]


def build_speaker_meeting(
    voices: Sequence[tuple[str, list[np.ndarray]]],
    *,
    turns: int,
    pause_s: tuple[float, float] = (0.4, 1.5),
    noise_dbfs: float = -55.0,
    seed: int = 0,
) -> SpeakerMeeting:
    """`voices`: (name, phrases) each; `turns` phrases in all, the speaker of each drawn at random but never
    the one who just spoke."""
    if len(voices) < 2 or any(not said for _, said in voices):
        raise ValueError("a speaker meeting needs two or more voices, each with a phrase")
    rng = np.random.default_rng(seed)
    spoken = [0] * len(voices)
    parts: list[np.ndarray] = []
    result: list[Turn] = []
    position, last = 0, -1
    for _ in range(turns):
        who = int(rng.choice([i for i in range(len(voices)) if i != last]))
        name, said = voices[who]
        phrase = said[spoken[who] % len(said)]
        if spoken[who] >= len(said):
            phrase = phrase * 10 ** (rng.uniform(-4.0, 4.0) / 20)
        spoken[who] += 1
        pause = np.zeros(int(rng.uniform(*pause_s) * SAMPLE_RATE), dtype=np.float32)
        parts += [pause, phrase.astype(np.float32)]
        start = position + len(pause)
        result.append(Turn(start / SAMPLE_RATE, (start + len(phrase)) / SAMPLE_RATE, name))
        position, last = start + len(phrase), who
    parts.append(np.zeros(SAMPLE_RATE, dtype=np.float32))
    audio = np.concatenate(parts)
    noise = rng.normal(0.0, 10 ** (noise_dbfs / 20), size=len(audio)).astype(np.float32)
    return SpeakerMeeting(np.clip(audio + noise, -1.0, 1.0).astype(np.float32), result)
