"""Online speaker clustering, the end-of-meeting pass, attribution of an utterance's segments and the DER
scorer, on synthetic embeddings (unit vectors around one direction per voice). The real encoder's seam is
tested in tests/test_speaker_model.py and, through the box, in tests/test_speaker_box.py."""

from __future__ import annotations

import numpy as np
import pytest

from edge.core.events import AsrSegment, Utterance
from edge.speaker.attribution import SpeakerAttribution
from edge.speaker.clustering import MeetingSpeakers, nme_spectral_clusters
from edge.speaker.der import Turn, diarization_error

DIM = 256


def voices(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(n, DIM))
    return directions / np.linalg.norm(directions, axis=1, keepdims=True)


def said(voice: np.ndarray, rng: np.random.Generator, noise: float = 0.35) -> np.ndarray:
    vector = voice + rng.normal(scale=noise / np.sqrt(DIM), size=DIM)
    return vector / np.linalg.norm(vector)


def test_labels_stay_with_their_voices_and_a_new_voice_is_a_new_speaker():
    rng = np.random.default_rng(1)
    a, b, c = voices(3)
    speakers = MeetingSpeakers()
    order = [a, b, a, a, b, c, a, c, b]
    labels = [speakers.assign((i, i + 1), said(v, rng), 2.0) for i, v in enumerate(order)]
    assert labels == ["S1", "S2", "S1", "S1", "S2", "S3", "S1", "S3", "S2"]


def test_short_speech_never_founds_a_speaker_nor_moves_one():
    rng = np.random.default_rng(2)
    a, b = voices(2)
    speakers = MeetingSpeakers()
    speakers.assign((0, 1), said(a, rng), 3.0)
    before = speakers._speakers[0].total.copy()
    assert speakers.assign((1, 2), said(b, rng), 0.6) == "S1"  # "네": too short to tell
    assert speakers.labels == ["S1"]
    np.testing.assert_array_equal(speakers._speakers[0].total, before)
    assert speakers.assign((2, 3), said(b, rng), 2.0) == "S2"


def test_speakers_and_remembered_stretches_are_bounded():
    rng = np.random.default_rng(3)
    speakers = MeetingSpeakers(max_speakers=4, max_kept=50)
    many = voices(10)
    for i in range(200):
        speakers.assign((i, i + 1), said(many[i % 10], rng), 2.0)
    assert len(speakers.labels) == 4
    assert len(speakers.stretches) == 50
    assert len(speakers.refine()) == 50


def test_the_end_of_meeting_pass_mends_early_mistakes_and_keeps_labels():
    rng = np.random.default_rng(4)
    four = voices(4, seed=4)
    truth = [int(v) for v in rng.integers(0, 4, 80)]
    speakers = MeetingSpeakers(assign_similarity=0.97)  # far too strict: the online pass splits voices
    online = [speakers.assign((i, i + 1), said(four[v], rng, noise=0.6), 2.0) for i, v in enumerate(truth)]
    assert len(set(online)) > 4
    refined = speakers.refine()
    final = [refined[(i, i + 1)] for i in range(len(truth))]
    assert len(set(final)) == 4
    pairs = {(t, f) for t, f in zip(truth, final, strict=True)}
    assert len(pairs) == 4  # one label per voice, one voice per label
    assert final[0] == online[0] == "S1"  # the first speaker stays S1


def test_a_short_meeting_is_refined_by_merging_close_speakers():
    rng = np.random.default_rng(5)
    a, b = voices(2, seed=5)
    speakers = MeetingSpeakers(assign_similarity=0.995, merge_similarity=0.8)
    keys = [(i, i + 1) for i in range(6)]
    online = [speakers.assign(k, said(v, rng, noise=0.3), 2.0) for k, v in zip(keys, [a, a, b, a, b, b], strict=True)]
    refined = speakers.refine()
    assert len(set(online)) > 2
    assert [refined[k] for k in keys] == ["S1", "S1", refined[keys[2]], "S1", refined[keys[2]], refined[keys[2]]]
    assert refined[keys[2]] != "S1"


@pytest.mark.parametrize("n_voices", [1, 2, 3, 5])
def test_spectral_clustering_finds_how_many_people_spoke(n_voices):
    rng = np.random.default_rng(n_voices)
    directions = voices(n_voices, seed=10 + n_voices)
    truth = [i % n_voices for i in range(60)]
    points = np.stack([said(directions[t], rng, noise=0.6) for t in truth])
    found = nme_spectral_clusters(points, max_speakers=8)
    assert len(set(found.tolist())) == n_voices
    assert len(set(zip(truth, found.tolist(), strict=True))) == n_voices


class _Directions:
    """A stand-in encoder for attribution's own logic: the voice is the audio's constant value."""

    def __init__(self, table: dict[int, np.ndarray]) -> None:
        self.table = table

    def embed(self, audio: np.ndarray) -> np.ndarray:
        return self.table[round(float(np.median(audio)))]


def _attribution(table) -> SpeakerAttribution:
    return SpeakerAttribution(lambda: _Directions(table), meeting_speakers=MeetingSpeakers)


def test_a_long_utterance_with_two_voices_is_labelled_segment_by_segment():
    table = dict(enumerate(voices(2, seed=6)))
    audio = np.concatenate([np.zeros(16_000 * 4), np.ones(16_000 * 4)]).astype(np.float32)
    utterance = Utterance(1, 10_000, audio, True, meeting_id="m", speech_start_ms=10_000, speech_end_ms=18_000)
    segments = [AsrSegment(10_000, 14_000, "첫째", "ko"), AsrSegment(14_000, 18_000, "둘째", "ko"),
                AsrSegment(17_900, 18_000, "네", "ko")]  # fmt: skip
    labelled = _attribution(table).label(utterance, segments)
    assert [s.speaker for s in labelled] == ["S1", "S2", "S2"]
    assert [s.text for s in labelled] == ["첫째", "둘째", "네"]


def test_a_short_utterance_is_one_speaker_and_finish_forgets_the_meeting():
    table = dict(enumerate(voices(2, seed=7)))
    attribution = _attribution(table)
    utterance = Utterance(1, 0, np.zeros(16_000 * 3, dtype=np.float32), True, meeting_id="m")
    segments = [AsrSegment(0, 1_500, "안녕하세요", "ko"), AsrSegment(1_500, 3_000, "hello", "en")]
    assert [s.speaker for s in attribution.label(utterance, segments)] == ["S1", "S1"]
    assert attribution.finish("m") == {(0, 1_500): "S1", (1_500, 3_000): "S1"}
    assert attribution.finish("m") == {}
    assert attribution.stats.stretches == 1 and attribution.stats.audio_s == pytest.approx(3.0)


def test_der_is_zero_for_the_truth_under_any_names_and_counts_each_error():
    reference = [Turn(0, 10, "kim"), Turn(12, 20, "lee")]
    assert diarization_error(reference, [Turn(0, 10, "S2"), Turn(12, 20, "S1")]).der == 0.0
    confused = diarization_error(reference, [Turn(0, 20, "S1")], collar_s=0)
    assert confused.confusion_s == pytest.approx(8.0) and confused.false_alarm_s == pytest.approx(2.0)
    assert confused.der == pytest.approx(10 / 18)
    missed = diarization_error(reference, [Turn(0, 10, "S1")], collar_s=0)
    assert missed.missed_s == pytest.approx(8.0) and missed.der == pytest.approx(8 / 18)
    assert missed.mapping == {"S1": "kim"}


def test_the_collar_forgives_boundaries_only():
    reference = [Turn(0, 10, "kim"), Turn(10, 20, "lee")]
    late = [Turn(0, 10.2, "S1"), Turn(10.2, 20, "S2")]
    assert diarization_error(reference, late, collar_s=0.25).der == 0.0
    assert diarization_error(reference, late, collar_s=0).der > 0
