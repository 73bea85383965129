"""Diarization error rate, as NIST's md-eval scores it: on 10 ms frames, outside a collar around every
reference boundary, (missed speech + false alarm + speaker confusion) / reference speech, under the
one-to-one mapping of hypothesis speakers to reference speakers that makes the most time agree."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

STEP_S = 0.01


@dataclass(frozen=True)
class Turn:
    start_s: float
    end_s: float
    speaker: str


@dataclass(frozen=True)
class DerResult:
    der: float
    missed_s: float
    false_alarm_s: float
    confusion_s: float
    scored_speech_s: float
    reference_speakers: int
    hypothesis_speakers: int
    mapping: dict[str, str]  # hypothesis -> reference

    def to_dict(self) -> dict:
        return {
            "der": round(self.der, 4),
            "missed_s": round(self.missed_s, 2),
            "false_alarm_s": round(self.false_alarm_s, 2),
            "confusion_s": round(self.confusion_s, 2),
            "scored_speech_s": round(self.scored_speech_s, 2),
            "reference_speakers": self.reference_speakers,
            "hypothesis_speakers": self.hypothesis_speakers,
            "mapping": self.mapping,
        }


def _activity(turns: Sequence[Turn], speakers: list[str], n_frames: int) -> np.ndarray:
    active = np.zeros((len(speakers), n_frames), dtype=bool)
    for turn in turns:
        start, end = round(turn.start_s / STEP_S), round(turn.end_s / STEP_S)
        active[speakers.index(turn.speaker), max(start, 0) : min(end, n_frames)] = True
    return active


def _best_mapping(overlap: np.ndarray) -> list[tuple[int, int]]:
    """(hypothesis, reference) pairs maximising the agreed time: exhaustive for the handful of speakers a
    meeting room has, greedy beyond that."""
    n_hyp, n_ref = overlap.shape
    if min(n_hyp, n_ref) == 0:
        return []
    if max(n_hyp, n_ref) <= 8:
        best: tuple[float, list[tuple[int, int]]] = (-1.0, [])
        if n_hyp <= n_ref:
            for refs in itertools.permutations(range(n_ref), n_hyp):
                score = float(sum(overlap[h, r] for h, r in enumerate(refs)))
                if score > best[0]:
                    best = (score, list(enumerate(refs)))
        else:
            for hyps in itertools.permutations(range(n_hyp), n_ref):
                score = float(sum(overlap[h, r] for r, h in enumerate(hyps)))
                if score > best[0]:
                    best = (score, [(h, r) for r, h in enumerate(hyps)])
        return best[1]
    pairs, used_h, used_r = [], set(), set()
    for flat in np.argsort(overlap, axis=None)[::-1]:
        h, r = np.unravel_index(int(flat), overlap.shape)
        if h not in used_h and r not in used_r and overlap[h, r] > 0:
            pairs.append((int(h), int(r)))
            used_h.add(h)
            used_r.add(r)
    return pairs


def diarization_error(reference: Sequence[Turn], hypothesis: Sequence[Turn], *, collar_s: float = 0.25) -> DerResult:
    end_s = max([t.end_s for t in (*reference, *hypothesis)], default=0.0)
    n_frames = int(np.ceil(end_s / STEP_S)) + 1
    ref_speakers = sorted({t.speaker for t in reference})
    hyp_speakers = sorted({t.speaker for t in hypothesis})
    ref = _activity(reference, ref_speakers, n_frames)
    hyp = _activity(hypothesis, hyp_speakers, n_frames)
    scored = np.ones(n_frames, dtype=bool)
    collar = round(collar_s / STEP_S)
    for turn in reference:
        for boundary in (round(turn.start_s / STEP_S), round(turn.end_s / STEP_S)):
            scored[max(boundary - collar, 0) : boundary + collar] = False
    ref, hyp = ref[:, scored], hyp[:, scored]
    overlap = hyp.astype(np.int64) @ ref.T.astype(np.int64)
    mapping = _best_mapping(overlap)
    n_ref, n_hyp = ref.sum(axis=0), hyp.sum(axis=0)
    correct = np.zeros(ref.shape[1], dtype=np.int64)
    for h, r in mapping:
        correct += hyp[h] & ref[r]
    missed = np.maximum(n_ref - n_hyp, 0).sum() * STEP_S
    false_alarm = np.maximum(n_hyp - n_ref, 0).sum() * STEP_S
    confusion = (np.minimum(n_ref, n_hyp) - correct).sum() * STEP_S
    total = n_ref.sum() * STEP_S
    return DerResult(
        der=float((missed + false_alarm + confusion) / total) if total else 0.0,
        missed_s=float(missed),
        false_alarm_s=float(false_alarm),
        confusion_s=float(confusion),
        scored_speech_s=float(total),
        reference_speakers=len(ref_speakers),
        hypothesis_speakers=len(hyp_speakers),
        mapping={hyp_speakers[h]: ref_speakers[r] for h, r in mapping},
    )
