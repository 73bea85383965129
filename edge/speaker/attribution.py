"""Speaker labels for a final utterance's segments, before they are committed.

An utterance is embedded once (its speech, without the VAD's padding), and all its segments get that
speaker. A long utterance whisper split into several segments may hold a change of speaker with no pause
between them: there each segment long enough to carry a voice is embedded on its own, and the shorter
ones take the label of their longer neighbour.

Runs on the ASR owner thread; `finish` may run on another thread (the encoder holds no state between calls).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from edge.core.events import SAMPLE_RATE, AsrSegment, Utterance, ms_to_samples
from edge.speaker.clustering import MeetingSpeakers

SPLIT_UTTERANCE_S = 6.0  # only utterances this long are embedded segment by segment
MIN_SEGMENT_S = 1.5  # a segment shorter than this takes its neighbour's label


class Embedder(Protocol):
    """What attribution needs of an encoder (edge.speaker.encoder.SpeakerEncoder)."""

    def embed(self, audio: np.ndarray, /) -> np.ndarray: ...


@dataclass
class SpeakerStats:
    stretches: int = 0
    audio_s: float = 0.0
    cpu_s: float = 0.0  # thread CPU time spent embedding
    errors: int = 0
    relabelled: int = 0  # segments given another speaker by the end-of-meeting pass

    def to_dict(self) -> dict:
        return {
            "stretches": self.stretches,
            "audio_s": round(self.audio_s, 1),
            "cpu_s": round(self.cpu_s, 3),
            "cpu_per_audio_s": round(self.cpu_s / self.audio_s, 4) if self.audio_s else None,
            "errors": self.errors,
            "relabelled": self.relabelled,
        }


class SpeakerAttribution:
    def __init__(self, encoder: Callable[[], Embedder], *, meeting_speakers: Callable[[], MeetingSpeakers]) -> None:
        """`encoder()` is called once, on the first utterance's thread; `meeting_speakers()` makes each meeting's
        clustering (with the configured thresholds)."""
        self._encoder_factory = encoder
        self._encoder: Embedder | None = None
        self._new_meeting = meeting_speakers
        self._lock = threading.Lock()
        self._meetings: dict[str, MeetingSpeakers] = {}
        self._segment_stretch: dict[str, dict[tuple[int, int], tuple[int, int]]] = {}
        self.stats = SpeakerStats()

    def load(self) -> None:
        """Load the encoder now (a missing or wrong model file raises ModelError before a meeting starts)."""
        if self._encoder is None:
            self._encoder = self._encoder_factory()

    def label(self, utterance: Utterance, segments: Sequence[AsrSegment]) -> list[AsrSegment]:
        if not segments:
            return list(segments)
        self.load()
        with self._lock:
            speakers = self._meetings.setdefault(utterance.meeting_id, self._new_meeting())
            stretches = self._segment_stretch.setdefault(utterance.meeting_id, {})
        labels = [self._assign(speakers, utterance, span) for span in self._spans(utterance, segments)]
        labelled = []
        for seg, (span, label) in zip(segments, _per_segment(utterance, segments, labels), strict=True):
            with self._lock:
                stretches[(seg.t0_ms, seg.t1_ms)] = span
            labelled.append(dataclasses.replace(seg, speaker=label))
        return labelled

    def finish(self, meeting_id: str) -> dict[tuple[int, int], str]:
        """The meeting has ended: its refined labels by segment (t0_ms, t1_ms), and its state dropped."""
        with self._lock:
            speakers = self._meetings.pop(meeting_id, None)
            stretches = self._segment_stretch.pop(meeting_id, {})
        if speakers is None:
            return {}
        refined = speakers.refine()
        return {segment: refined[span] for segment, span in stretches.items() if span in refined}

    def forget(self, meeting_id: str) -> None:
        with self._lock:
            self._meetings.pop(meeting_id, None)
            self._segment_stretch.pop(meeting_id, None)

    def _spans(self, utterance: Utterance, segments: Sequence[AsrSegment]) -> list[tuple[int, int]]:
        """The stretches to embed, in meeting ms: the utterance's speech, or each long segment of a long one."""
        start = utterance.speech_start_ms if utterance.speech_start_ms is not None else utterance.start_ms
        end = utterance.speech_end_ms if utterance.speech_end_ms is not None else utterance.end_ms
        if len(segments) < 2 or (end - start) / 1000 < SPLIT_UTTERANCE_S:
            return [(start, end)]
        long = [(max(s.t0_ms, start), min(s.t1_ms, end)) for s in segments if _long(s)]
        return long or [(start, end)]

    def _assign(
        self, speakers: MeetingSpeakers, utterance: Utterance, span: tuple[int, int]
    ) -> tuple[tuple[int, int], str]:
        first = ms_to_samples(max(span[0] - utterance.start_ms, 0))
        last = ms_to_samples(max(span[1] - utterance.start_ms, 0))
        audio = utterance.audio[first:last] if last > first else utterance.audio
        began = time.thread_time()
        try:
            assert self._encoder is not None
            embedding = self._encoder.embed(audio)
        finally:
            self.stats.cpu_s += time.thread_time() - began
        duration_s = len(audio) / SAMPLE_RATE
        self.stats.stretches += 1
        self.stats.audio_s += duration_s
        with self._lock:
            return span, speakers.assign(span, embedding, duration_s)


def _long(segment: AsrSegment) -> bool:
    return (segment.t1_ms - segment.t0_ms) / 1000 >= MIN_SEGMENT_S


def _per_segment(
    utterance: Utterance, segments: Sequence[AsrSegment], labels: list[tuple[tuple[int, int], str]]
) -> list[tuple[tuple[int, int], str]]:
    """Each segment's (stretch, label): its own stretch when it was embedded alone, else the nearest one's."""
    if len(labels) == 1:
        return [labels[0]] * len(segments)
    centres = [(span[0] + span[1]) / 2 for span, _ in labels]
    return [labels[int(np.argmin([abs((s.t0_ms + s.t1_ms) / 2 - c) for c in centres]))] for s in segments]
