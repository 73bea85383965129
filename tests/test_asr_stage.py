"""The ASR stage: ordering, coalescing, draining and error survival (a test double stands in for
whisper, which cannot fail on cue), then the same stage around the real random-weight model."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edge.asr.health import asr_health
from edge.asr.stage import HEARTBEAT_S, AsrStage
from edge.asr.whispercpp import WhisperCppModel
from edge.core.errors import ConfigError, ModelError
from edge.core.events import SAMPLE_RATE, AsrSegment, Utterance

WAIT_S = 30.0


class FakeTranscriber:
    """Records each call; with `gate`, the first call waits until the test opens it."""

    def __init__(self, gate: threading.Event | None = None, fail_on: tuple[int, ...] = (), empty: bool = False):
        self.calls: list[tuple[int, int, str | None]] = []  # (offset_ms, samples, prompt)
        self.options: list[tuple[str | None, int]] = []  # (language, beam_size) of each call
        self.threads: set[int] = set()
        self.entered = threading.Event()
        self.gate = gate
        self.fail_on = fail_on
        self.empty = empty
        self.closed_in: int | None = None

    languages = ("en", "ko", "ja")

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        offset_ms: int,
        prompt: str | None = None,
        language: str | None = None,
        beam_size: int = 0,
        fallback: bool = True,
    ) -> list[AsrSegment]:
        self.calls.append((offset_ms, len(audio), prompt))
        self.options.append((language, beam_size))
        self.threads.add(threading.get_ident())
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(WAIT_S)
        if offset_ms in self.fail_on:
            raise RuntimeError(f"boom at {offset_ms}")
        if self.empty:
            return []
        return [AsrSegment(offset_ms, offset_ms + len(audio) * 1000 // SAMPLE_RATE, self.text(len(audio)), "en")]

    def text(self, samples: int) -> str:
        return f"words {samples}"

    def detect_language(self, audio: np.ndarray) -> dict[str, float]:
        return {}

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def close(self) -> None:
        self.closed_in = threading.get_ident()


class Recorder:
    def __init__(self) -> None:
        self.finals: list[tuple[int, list[AsrSegment]]] = []
        self.partials: list[tuple[int, int, str, str]] = []  # (utterance id, samples, stable, unstable)
        self.errors: list[tuple[int, Exception]] = []

    def on_final(self, utt: Utterance, segments: list[AsrSegment]) -> None:
        self.finals.append((utt.utterance_id, segments))

    def on_partial(self, utt: Utterance, stable: str, unstable: str) -> None:
        self.partials.append((utt.utterance_id, len(utt.audio), stable, unstable))

    def on_error(self, utt: Utterance, exc: Exception) -> None:
        self.errors.append((utt.utterance_id, exc))


def utterance(uid: int, *, final: bool = True, samples: int = 1600) -> Utterance:
    return Utterance(uid, uid * 1000, np.full(samples, 0.1, dtype=np.float32), final)


def make_stage(model: FakeTranscriber, rec: Recorder, **kwargs) -> AsrStage:
    kwargs.setdefault("partial_interval_ms", 0)
    return AsrStage(lambda: model, rec.on_partial, rec.on_final, on_error=rec.on_error, **kwargs)


def test_finals_are_decoded_in_order_in_the_owner_thread():
    model, rec = FakeTranscriber(), Recorder()
    stage = make_stage(model, rec)
    stage.start()
    for uid in range(1, 6):
        stage.submit(utterance(uid))
    assert stage.stop(drain=True, timeout=WAIT_S)
    assert [uid for uid, _ in rec.finals] == [1, 2, 3, 4, 5]
    assert rec.finals[0][1][0].t0_ms == 1000
    assert len(model.threads) == 1 and threading.get_ident() not in model.threads
    assert model.closed_in in model.threads
    stats = stage.stats
    assert (stats.utterances, stats.dropped, stats.errors) == (5, 0, 0)
    assert stats.audio_seconds == pytest.approx(0.5)
    assert stats.compute_seconds > 0 and not stage.alive


def test_the_model_is_created_inside_the_owner_thread():
    created_in: list[int] = []
    model, rec = FakeTranscriber(), Recorder()

    def factory() -> FakeTranscriber:
        created_in.append(threading.get_ident())
        return model

    stage = AsrStage(factory, rec.on_partial, rec.on_final)
    stage.start()
    stage.submit(utterance(1))
    assert stage.stop(timeout=WAIT_S)
    assert created_in and created_in[0] in model.threads and created_in[0] != threading.get_ident()


def test_a_model_that_fails_to_load_fails_start():
    def factory() -> FakeTranscriber:
        raise ModelError("no such model")

    stage = AsrStage(factory, lambda *a: None, lambda *a: None)
    with pytest.raises(ModelError, match="no such model"):
        stage.start()
    assert not stage.alive


def test_stop_with_drain_decodes_every_queued_final():
    gate = threading.Event()
    model, rec = FakeTranscriber(gate), Recorder()
    stage = make_stage(model, rec)
    stage.start()
    stage.submit(utterance(1))
    assert model.entered.wait(WAIT_S)
    for uid in range(2, 6):
        stage.submit(utterance(uid))
    assert stage.backlog == 4
    stopper = threading.Thread(target=stage.stop, kwargs={"drain": True, "timeout": WAIT_S})
    stopper.start()
    wait_until(lambda: not stage.accepting)
    gate.set()
    stopper.join(WAIT_S)
    assert [uid for uid, _ in rec.finals] == [1, 2, 3, 4, 5]
    stage.submit(utterance(6))  # after stop: refused, counted, no exception
    assert stage.stats.dropped == 1


def test_stop_without_drain_drops_and_counts_the_queue():
    gate = threading.Event()
    model, rec = FakeTranscriber(gate), Recorder()
    stage = make_stage(model, rec)
    stage.start()
    stage.submit(utterance(1))
    assert model.entered.wait(WAIT_S)
    for uid in range(2, 5):
        stage.submit(utterance(uid))
    stopper = threading.Thread(target=stage.stop, kwargs={"drain": False, "timeout": WAIT_S})
    stopper.start()
    wait_until(lambda: stage.backlog == 0)
    gate.set()
    stopper.join(WAIT_S)
    assert not stage.alive
    assert [uid for uid, _ in rec.finals] == [1]  # the decode in flight still completes
    assert stage.stats.dropped == 3


def test_a_full_queue_drops_the_oldest_final_and_counts_it():
    gate = threading.Event()
    model, rec = FakeTranscriber(gate), Recorder()
    stage = make_stage(model, rec, max_pending=2)
    stage.start()
    stage.submit(utterance(1))
    assert model.entered.wait(WAIT_S)
    for uid in range(2, 6):
        stage.submit(utterance(uid))
    gate.set()
    assert stage.stop(timeout=WAIT_S)
    assert [uid for uid, _ in rec.finals] == [1, 4, 5]
    assert stage.stats.dropped == 2


def wait_until(predicate) -> None:
    tick = threading.Event()
    for _ in range(int(WAIT_S / 0.01)):
        if predicate():
            return
        tick.wait(0.01)
    raise AssertionError("condition not reached")


def test_snapshots_are_coalesced_and_never_go_before_a_waiting_final():
    gate = threading.Event()
    model, rec = FakeTranscriber(gate), Recorder()
    stage = make_stage(model, rec, partial_interval_ms=1)
    stage.start()
    stage.submit(utterance(1))
    assert model.entered.wait(WAIT_S)
    for samples in (1600, 3200, 4800, 6400):
        stage.submit(utterance(3, final=False, samples=samples))
    stage.submit(utterance(2))  # a final submitted after the snapshots still goes first
    gate.set()
    wait_until(lambda: rec.partials)
    assert stage.stop(drain=True, timeout=WAIT_S)
    assert [(offset // 1000, samples) for offset, samples, _ in model.calls] == [(1, 1600), (2, 1600), (3, 6400)]
    assert rec.partials == [(3, 6400, "", "words 6400")]
    assert stage.stats.partials_superseded == 3
    assert stage.stats.partial_decodes == 1 and stage.stats.utterances == 2


def test_a_snapshot_whose_final_arrived_is_never_decoded():
    gate = threading.Event()
    model, rec = FakeTranscriber(gate), Recorder()
    stage = make_stage(model, rec, partial_interval_ms=1)
    stage.start()
    stage.submit(utterance(1))
    assert model.entered.wait(WAIT_S)
    stage.submit(utterance(4, final=False, samples=800))
    stage.submit(utterance(4))
    stage.submit(utterance(4, final=False, samples=900))  # late snapshot of an ended utterance
    gate.set()
    assert stage.stop(drain=True, timeout=WAIT_S)
    assert [(offset // 1000, samples) for offset, samples, _ in model.calls] == [(1, 1600), (4, 1600)]
    assert rec.partials == []


def test_partial_decodes_wait_for_the_interval_and_track_stable_text():
    model, rec = FakeTranscriber(), Recorder()
    stage = make_stage(model, rec, partial_interval_ms=3_600_000)
    stage.start()
    stage.submit(utterance(1, final=False))
    stage.submit(utterance(1, final=False, samples=3200))
    assert stage.stop(drain=True, timeout=WAIT_S)
    assert model.calls == [] and rec.partials == []  # an hour-long interval: nothing was due yet

    model, rec = FakeTranscriber(), Recorder()
    model.text = lambda samples: "we deploy the cluster"  # type: ignore[method-assign]
    stage = make_stage(model, rec, partial_interval_ms=1)
    stage.start()
    stage.submit(utterance(7, final=False, samples=1600))
    wait_until(lambda: rec.partials)
    stage.submit(utterance(7, final=False, samples=3200))
    wait_until(lambda: len(rec.partials) == 2)
    assert stage.stop(timeout=WAIT_S)
    assert rec.partials == [(7, 1600, "", "we deploy the cluster"), (7, 3200, "we deploy the cluster", "")]


def test_model_errors_and_callback_errors_do_not_kill_the_thread():
    model, rec = FakeTranscriber(fail_on=(2000,)), Recorder()
    calls: list[int] = []

    def on_final(utt: Utterance, segments: list[AsrSegment]) -> None:
        calls.append(utt.utterance_id)
        if utt.utterance_id == 3:
            raise ValueError("consumer bug")

    stage = AsrStage(lambda: model, rec.on_partial, on_final, on_error=rec.on_error)
    stage.start()
    for uid in (1, 2, 3, 4):
        stage.submit(utterance(uid))
    assert stage.stop(timeout=WAIT_S)
    assert calls == [1, 3, 4]
    assert [(uid, str(exc)) for uid, exc in rec.errors] == [(2, "boom at 2000")]
    assert stage.stats.errors == 2 and stage.stats.utterances == 3


def test_empty_results_on_speech_are_soft_errors():
    model, rec = FakeTranscriber(empty=True), Recorder()
    stage = make_stage(model, rec)
    stage.start()
    stage.submit(utterance(1))
    assert stage.stop(timeout=WAIT_S)
    assert rec.finals == [(1, [])]
    assert stage.stats.soft_errors == 1


def test_last_progress_moves_with_work():
    model, rec = FakeTranscriber(), Recorder()
    stage = make_stage(model, rec)
    before = stage.last_progress
    stage.start()
    stage.submit(utterance(1))
    assert stage.stop(timeout=WAIT_S)
    assert stage.last_progress > before


def test_stage_around_the_random_whisper_model(random_whisper_tiny: Path, fixture_file):
    audio = sf.read(fixture_file("audio/jfk.wav"), dtype="float32")[0]
    rec = Recorder()

    def factory() -> WhisperCppModel:
        return WhisperCppModel(random_whisper_tiny, threads=2, language="en", max_tokens=8, temperature_inc=0.0)

    stage = AsrStage(factory, rec.on_partial, rec.on_final, on_error=rec.on_error, partial_interval_ms=0)
    stage.start()
    stage.submit(Utterance(1, 60_000, audio[: 3 * SAMPLE_RATE], final=False))  # partials disabled: ignored
    stage.submit(Utterance(1, 60_000, audio[: 4 * SAMPLE_RATE], final=True))
    stage.submit(Utterance(2, 80_000, audio[: 2 * SAMPLE_RATE], final=True))
    assert stage.stop(drain=True, timeout=120)
    assert rec.errors == []
    assert [uid for uid, _ in rec.finals] == [1, 2]
    for (uid, segments), (start, end) in zip(rec.finals, [(60_000, 64_000), (80_000, 82_000)], strict=True):
        for seg in segments:
            assert start <= seg.t0_ms < seg.t1_ms <= end, (uid, seg)
            assert seg.text and seg.language == "en"
    stats = stage.stats
    assert stats.utterances == 2 and stats.partial_decodes == 0
    assert stats.audio_seconds == pytest.approx(6.0)
    assert stats.compute_seconds > 0


class ScriptedTranscriber(FakeTranscriber):
    """Answers each decode by its (prompt, beam_size) from `script`: text, or the default text."""

    def __init__(self, script: dict[tuple[str | None, int], str], probabilities: list[dict[str, float]] = ()):
        super().__init__()
        self.script = script
        self.probabilities = list(probabilities)
        self.confidence: dict[str | None, float] = {}  # by prompt; 0.9 otherwise
        self.fallbacks: list[bool] = []

    def transcribe(self, audio: np.ndarray, *, offset_ms: int, prompt: str | None = None,
                   language: str | None = None, beam_size: int = 0, fallback: bool = True) -> list[AsrSegment]:
        super().transcribe(audio, offset_ms=offset_ms, prompt=prompt, language=language, beam_size=beam_size)
        self.fallbacks.append(fallback)
        text = self.script.get((prompt, beam_size), self.text(len(audio)))
        return [AsrSegment(offset_ms, offset_ms + 100, text, language or "ko", self.confidence.get(prompt, 0.9))]

    def detect_language(self, audio: np.ndarray) -> dict[str, float]:
        return self.probabilities.pop(0)


def test_replacement_characters_are_counted_retried_with_beam_search_and_never_stripped():
    model = ScriptedTranscriber({(None, 0): "모든 불\ufffd\ufffd 파란색으로 다 바\ufffd줘.",
                                 (None, 5): "모든 불닭 파란색으로 다 바꿔줘."})
    rec = Recorder()
    stage = make_stage(model, rec)
    stage.start()
    stage.submit(utterance(1))
    wait_until(lambda: rec.finals)
    model.script[(None, 5)] = "모든 불\ufffd\ufffd 파란색으로 다 바\ufffd줘!"  # the retry is no better
    stage.submit(utterance(2))
    assert stage.stop(timeout=WAIT_S)
    assert [segments[0].text for _, segments in rec.finals] == [
        "모든 불닭 파란색으로 다 바꿔줘.",
        "모든 불\ufffd\ufffd 파란색으로 다 바\ufffd줘.",  # kept as decoded first, U+FFFD and all
    ]
    assert [beam for _, beam in model.options] == [0, 5, 0, 5]
    stats = stage.stats
    assert (stats.utterances_with_replacement, stats.replacement_chars) == (2, 6)
    assert stats.replacement_retries_improved == 1 and stats.replacement_chars_committed == 3


def test_no_retry_when_turned_off_or_not_needed():
    model, rec = ScriptedTranscriber({(None, 0): "\ufffd"}), Recorder()
    stage = make_stage(model, rec, retry_beam_size=0)
    stage.start()
    stage.submit(utterance(1))
    assert stage.stop(timeout=WAIT_S)
    assert model.options == [(None, 0)] and stage.stats.replacement_chars_committed == 1


def test_each_meeting_is_decoded_with_its_own_context_and_an_echo_is_decoded_again_without_it():
    from edge.asr.context import MeetingContext

    model, rec = ScriptedTranscriber({}), Recorder()
    stage = make_stage(model, rec, context_factory=lambda meeting_id: MeetingContext(["Notion"]))
    stage.start()
    a = lambda uid: Utterance(uid, uid * 1000, np.full(1600, 0.1, np.float32), True, meeting_id="a")  # noqa: E731
    b = lambda uid: Utterance(uid, uid * 1000, np.full(1600, 0.1, np.float32), True, meeting_id="b")  # noqa: E731
    stage.submit(a(1))
    wait_until(lambda: len(rec.finals) == 1)
    stage.note_committed("a", "And so my fellow Americans, ask not")
    stage.note_committed("b", "회의를 시작합니다.")
    model.script[("And so my fellow Americans, ask not", 0)] = "fellow Americans, ask not"  # an echo
    stage.submit(a(2))
    stage.submit(b(3))
    wait_until(lambda: len(rec.finals) == 3)
    stage.forget_meeting("a")
    stage.submit(a(4))
    assert stage.stop(timeout=WAIT_S)
    assert [prompt for _, _, prompt in model.calls] == [
        "", "And so my fellow Americans, ask not", "", "회의를 시작합니다.", "",
    ]
    assert [segments[0].text for _, segments in rec.finals][1] == "words 1600"  # the prompt-free decode
    assert stage.stats.context_retries == 1


def test_a_prompted_decode_skips_the_fallback_ladder_and_an_unsure_one_is_decoded_again_without_the_prompt():
    from edge.asr.context import MeetingContext

    model, rec = ScriptedTranscriber({}), Recorder()
    stage = make_stage(model, rec, context_factory=lambda meeting_id: MeetingContext([]))
    stage.start()
    stage.submit(said("m1", 1))
    wait_until(lambda: len(rec.finals) == 1)
    stage.note_committed("m1", "회의를 시작합니다.")
    model.confidence["회의를 시작합니다."] = 0.2  # whisper was unsure of every word after this prompt
    stage.submit(said("m1", 2))
    wait_until(lambda: len(rec.finals) == 2)
    model.confidence.clear()
    stage.note_committed("m1", "배포 일정입니다.")
    stage.submit(said("m1", 3))
    assert stage.stop(timeout=WAIT_S)
    assert [(prompt, fallback) for (_, _, prompt), fallback in zip(model.calls, model.fallbacks, strict=True)] == [
        ("", True),  # nothing to prompt with yet: the whole ladder
        ("회의를 시작합니다.", False), ("", True),  # unsure: again without the prompt, with the ladder
        ("회의를 시작합니다. 배포 일정입니다.", False),  # sure: one pass
    ]
    assert stage.stats.context_retries == 1


def test_languages_are_chosen_per_meeting_among_the_allowed_and_switches_counted():
    probabilities = [{"ja": 0.6, "ko": 0.3, "en": 0.1}, {"en": 0.9, "ko": 0.1}, {"en": 0.55, "ko": 0.45}]
    model, rec = ScriptedTranscriber({}, probabilities), Recorder()
    stage = make_stage(model, rec, languages=("ko", "en"), partial_interval_ms=3_600_000)
    stage.start()
    for uid in (1, 2, 3):
        stage.submit(utterance(uid, samples=SAMPLE_RATE))
    stage.submit(utterance(4, samples=SAMPLE_RATE // 2))  # "OK.": too short to ask whisper
    assert stage.stop(timeout=WAIT_S)
    assert [language for language, _ in model.options] == ["ko", "en", "en", "en"]
    assert stage.stats.language_switches == 1 and model.probabilities == []


def test_an_utterance_is_prompted_with_its_meetings_text_in_the_language_it_is_decoded_in():
    from edge.asr.context import MeetingContext

    probabilities = [{"ko": 0.9, "en": 0.1}, {"en": 0.9, "ko": 0.1}, {"ko": 0.9, "en": 0.1}]
    model, rec = ScriptedTranscriber({}, probabilities), Recorder()
    stage = make_stage(model, rec, languages=("ko", "en"), partial_interval_ms=3_600_000,
                       context_factory=lambda meeting_id: MeetingContext())
    stage.start()
    for uid, (text, language) in enumerate([("회의를 시작합니다.", "ko"), ("Ask not.", "en")], start=1):
        stage.submit(utterance(uid, samples=SAMPLE_RATE))
        wait_until(lambda uid=uid: len(rec.finals) == uid)
        stage.note_committed(utterance(uid).meeting_id, text, language=language)
    stage.submit(utterance(3, samples=SAMPLE_RATE))
    assert stage.stop(timeout=WAIT_S)
    assert [(language, prompt) for (language, _), (_, _, prompt) in zip(model.options, model.calls, strict=True)] == [
        ("ko", ""), ("en", ""), ("ko", "회의를 시작합니다."),
    ]


def test_an_unknown_language_fails_start():
    stage = make_stage(FakeTranscriber(), Recorder(), languages=("ko", "xx"))
    with pytest.raises(ConfigError, match="xx"):
        stage.start()


def test_partials_are_skipped_when_nobody_watches_or_finals_keep_the_worker_busy(monkeypatch):
    import edge.asr.stage as stage_module

    model, rec = FakeTranscriber(), Recorder()
    watching = threading.Event()
    stage = make_stage(model, rec, partial_interval_ms=1, partials_wanted=watching.is_set)
    stage.start()
    stage.submit(utterance(1, final=False))
    wait_until(lambda: stage.stats.partials_skipped_unseen >= 1)
    assert rec.partials == []
    assert stage.stop(timeout=WAIT_S)

    monkeypatch.setattr(stage_module, "BUSY_WINDOW_S", 3600.0)
    monkeypatch.setattr(stage_module, "MAX_PARTIAL_LOAD", 0.0)  # any work at all counts as busy
    model, rec = FakeTranscriber(), Recorder()
    stage = make_stage(model, rec, partial_interval_ms=1)
    stage.start()
    stage.submit(utterance(1))
    wait_until(lambda: rec.finals)
    stage.submit(utterance(2, final=False))
    wait_until(lambda: stage.stats.partials_skipped_behind >= 1)
    assert stage.stop(timeout=WAIT_S)
    assert rec.partials == [] and stage.stats.partial_decodes == 0


def test_end_of_speech_to_commit_latency_is_reported():
    model, rec = FakeTranscriber(), Recorder()
    stage = make_stage(model, rec, end_of_speech_lag_s=0.5)
    assert stage.stats.latency_p50_s is None
    stage.start()
    for uid in range(1, 5):
        stage.submit(utterance(uid))
    assert stage.stop(timeout=WAIT_S)
    stats = stage.stats
    assert 0.5 <= stats.latency_p50_s <= stats.latency_p95_s
    health = asr_health(stats)
    assert health["latency_p95_s"] == stats.latency_p95_s and health["utterances"] == 4
    assert health["real_time_factor"] is not None and health["replacement_chars"] == 0


def said(
    meeting_id: str, uid: int, *, final: bool = True, samples: int = 1600, start_ms: int | None = None
) -> Utterance:
    """An utterance of a meeting: a live meeting and a file job both number theirs from 0."""
    start = uid * 1000 if start_ms is None else start_ms
    return Utterance(uid, start, np.full(samples, 0.1, dtype=np.float32), final, meeting_id=meeting_id)


def test_finals_evicted_by_a_full_queue_are_accounted_to_their_meeting_and_drain_returns():
    """Issue 17, finding 11: 300 finals into a queue of 256 behind a stuck decode lost 44 that never
    reported back; the meeting's count must still reach 0 and drain() must say so."""
    gate = threading.Event()
    model, rec = FakeTranscriber(gate), Recorder()
    stage = make_stage(model, rec)
    stage.start()
    stage.submit(said("live", 0))
    assert model.entered.wait(WAIT_S)
    for uid in range(1, 300):
        stage.submit(said("live", uid))
    stage.submit(said("upload", 0))  # evicts one more of the live meeting, none of its own
    assert stage.stats.dropped == 44
    assert (stage.pending("live"), stage.pending("upload"), stage.pending()) == (256, 1, 257)
    assert not stage.drain("live", timeout=0)  # always returns, here with finals still to come
    gate.set()
    assert stage.drain("live", timeout=WAIT_S) and stage.drain("upload", timeout=WAIT_S)
    assert (stage.pending("live"), stage.pending()) == (0, 0)
    assert len(rec.finals) == 257
    assert stage.stop(timeout=WAIT_S)


def test_a_failed_partial_decode_does_not_count_as_a_final_and_failed_finals_do():
    gate = threading.Event()
    model, rec = FakeTranscriber(gate, fail_on=(5000, 7000)), Recorder()
    pending_at_errors: list[int] = []
    stage = AsrStage(
        lambda: model, rec.on_partial, rec.on_final, partial_interval_ms=1,
        on_error=lambda utt, exc: pending_at_errors.append(stage.pending("a")),
    )
    stage.start()
    stage.submit(said("a", 1, final=False, start_ms=5000))
    assert model.entered.wait(WAIT_S)  # the partial decode is under way (and will fail)
    stage.submit(said("a", 2, start_ms=6000))
    stage.submit(said("a", 3, start_ms=7000))  # this final fails
    gate.set()
    assert stage.drain("a", timeout=WAIT_S)
    assert pending_at_errors == [2, 1]  # the partial's error left both finals counted
    assert [uid for uid, _ in rec.finals] == [2] and stage.pending() == 0
    assert stage.stop(timeout=WAIT_S)


def test_stop_without_drain_and_finals_after_stop_are_accounted_and_drain_returns():
    gate = threading.Event()
    model, rec = FakeTranscriber(gate), Recorder()
    stage = make_stage(model, rec)
    stage.start()
    stage.submit(said("a", 0))
    assert model.entered.wait(WAIT_S)
    for uid in range(1, 4):
        stage.submit(said("a", uid))
    stopper = threading.Thread(target=stage.stop, kwargs={"drain": False, "timeout": WAIT_S})
    stopper.start()
    wait_until(lambda: stage.backlog == 0)
    stage.submit(said("a", 4))
    gate.set()
    stopper.join(WAIT_S)
    assert stage.drain("a", timeout=None)  # the stage's thread has ended: returns at once
    assert stage.pending() == 0 and stage.stats.dropped == 4


def test_utterances_of_two_meetings_with_the_same_numbers_never_share_partial_text():
    """Issue 17, finding 12: a live meeting and an upload both number utterances from 0; the upload's
    partial must not carry the live meeting's stable words, and a live final must not silence the
    upload's partial of the same number."""
    model, rec = FakeTranscriber(), Recorder()
    model.text = lambda samples: "킥오프 일정 확정" if samples < 5000 else "upload words here"  # type: ignore[method-assign]
    stage = make_stage(model, rec, partial_interval_ms=1)
    stage.start()
    stage.submit(said("live", 0, final=False, samples=1600))
    wait_until(lambda: len(rec.partials) == 1)
    stage.submit(said("live", 0, final=False, samples=3200))
    wait_until(lambda: len(rec.partials) == 2)
    assert rec.partials[1][2] == "킥오프 일정 확정"  # stable for the live meeting
    stage.submit(said("upload", 0, final=False, samples=8000))
    wait_until(lambda: len(rec.partials) == 3)
    stage.submit(said("live", 1))  # a live final numbered like the upload's next utterance
    wait_until(lambda: len(rec.finals) == 1)
    stage.submit(said("upload", 1, final=False, samples=9600))
    wait_until(lambda: len(rec.partials) == 4)
    assert stage.stop(timeout=WAIT_S)
    assert rec.partials[2] == (0, 8000, "", "upload words here")
    assert rec.partials[3] == (1, 9600, "", "upload words here")


def test_closing_a_meeting_after_a_queue_overflow_returns_and_the_box_is_quiet_again():
    """Issue 17, finding 11, through the feed the box closes meetings with: the close used to wait for
    ever for the 44 evicted finals, the box stayed `processing` and LLM work never started."""
    from edge.pipeline.finals import AsrFeed

    gate = threading.Event()
    model, rec = FakeTranscriber(gate), Recorder()
    feed = AsrFeed()
    stage = AsrStage(lambda: model, rec.on_partial, feed.on_final, on_error=feed.on_error, partial_interval_ms=0)
    committed: list[str] = []
    forgotten: list[str] = []
    feed.connect(stage, lambda meeting_id, segments, ms: committed.append(meeting_id), forget=forgotten.append)
    stage.start()
    feed.submit(said("live", 0))
    assert model.entered.wait(WAIT_S)
    for uid in range(1, 300):
        feed.submit(said("live", uid))
    assert feed.busy and stage.stats.dropped == 43
    closer = threading.Thread(target=feed.close_meeting, args=("live",), daemon=True)
    closer.start()
    gate.set()
    closer.join(WAIT_S)
    assert not closer.is_alive() and forgotten == ["live"]
    assert not feed.busy and len(committed) == 257
    assert stage.stop(timeout=WAIT_S)


# Issue 17, finding 1: an upload's finals went into the live meeting's queue; it filled in 40 s and live
# utterances were evicted. Background finals now have their own queue and yield to live ones.


def background(stage: AsrStage, utterances: list[Utterance]) -> threading.Thread:
    """Submits a file job's finals from a reader thread, as the file job's VAD does."""
    reader = threading.Thread(
        target=lambda: [stage.submit(utt, background=True) for utt in utterances], daemon=True
    )
    reader.start()
    return reader


def decoded_order(model: FakeTranscriber) -> list[str]:
    return [("live" if offset >= 500_000 else "up") + str(offset % 1000) for offset, _, _ in model.calls]


def test_a_live_final_goes_before_every_queued_background_final():
    gate = threading.Event()
    model, rec = FakeTranscriber(gate), Recorder()
    stage = make_stage(model, rec)
    stage.start()
    reader = background(stage, [said("upload", uid, start_ms=uid) for uid in range(5)])
    assert model.entered.wait(WAIT_S)  # upload 0 is being decoded, 1-4 wait
    wait_until(lambda: stage.backlog == 4)
    stage.submit(said("live", 0, start_ms=500_000))
    gate.set()
    reader.join(WAIT_S)
    assert stage.drain("live", timeout=WAIT_S) and stage.drain("upload", timeout=WAIT_S)
    assert decoded_order(model) == ["up0", "live0", "up1", "up2", "up3", "up4"]
    assert stage.stop(timeout=WAIT_S)


def test_background_finals_wait_for_room_and_are_never_dropped_while_live_ones_overflow(caplog):
    gate = threading.Event()
    model, rec = FakeTranscriber(gate), Recorder()
    stage = make_stage(model, rec, max_pending=3)
    stage.start()
    reader = background(stage, [said("upload", uid, start_ms=uid) for uid in range(20)])
    assert model.entered.wait(WAIT_S)
    wait_until(lambda: stage.backlog == 4)
    assert reader.is_alive()  # the file's reader waits for room: backpressure, nothing lost
    with caplog.at_level("WARNING", logger="edge.asr.stage"):
        for uid in range(5):
            stage.submit(said("live", uid, start_ms=500_000 + uid))
    assert [r.getMessage() for r in caplog.records] == [
        "asr: live queue full, utterance 0 of meeting live dropped",
        "asr: live queue full, utterance 1 of meeting live dropped",
    ]
    assert (stage.stats.dropped, stage.stats.live_dropped) == (2, 2)
    assert stage.pending("upload") == 6  # one in the decoder, four waiting, one waiting for room
    gate.set()
    reader.join(WAIT_S)
    assert stage.drain("upload", timeout=WAIT_S) and stage.drain("live", timeout=WAIT_S)
    order = decoded_order(model)
    assert order[:4] == ["up0", "live2", "live3", "live4"]
    assert sorted(order[4:], key=lambda name: int(name[2:])) == [f"up{uid}" for uid in range(1, 20)]
    assert order[4:] == sorted(order[4:], key=lambda name: int(name[2:]))  # in the file's order
    assert (stage.stats.dropped, stage.stats.live_dropped, stage.stats.utterances) == (2, 2, 23)
    assert stage.through_ms("upload") == 19 + 100  # the end of its last utterance
    assert stage.stop(timeout=WAIT_S)


def test_no_background_decode_starts_while_a_live_utterance_is_in_progress():
    model, rec = FakeTranscriber(), Recorder()
    stage = make_stage(model, rec, partial_interval_ms=3_600_000)  # snapshots noted, no partial decode due
    stage.start()
    stage.submit(said("live", 0, final=False, start_ms=500_000))
    reader = background(stage, [said("upload", uid, start_ms=uid) for uid in range(3)])
    wait_until(lambda: stage.backlog == 3)
    threading.Event().wait(HEARTBEAT_WAKES * HEARTBEAT_S)  # the worker woke and looked, and did not start one
    assert model.calls == []
    stage.submit(said("live", 0, start_ms=500_000))  # the speaker finished: the room is quiet again
    reader.join(WAIT_S)
    assert stage.drain("upload", timeout=WAIT_S)
    assert decoded_order(model) == ["live0", "up0", "up1", "up2"]
    assert stage.stop(timeout=WAIT_S)


HEARTBEAT_WAKES = 2  # heartbeats the worker gets to start a background decode it must not start


def test_cancel_discards_a_jobs_waiting_finals_refuses_later_ones_and_its_drain_returns():
    gate = threading.Event()
    model, rec = FakeTranscriber(gate), Recorder()
    stage = make_stage(model, rec)
    stage.start()
    reader = background(stage, [said("upload", uid, start_ms=uid) for uid in range(10)])
    assert model.entered.wait(WAIT_S)
    wait_until(lambda: stage.backlog == 4 and stage.pending("upload") == 6)
    stage.submit(said("live", 0, start_ms=500_000))
    assert stage.cancel("upload") == 4
    reader.join(WAIT_S)
    assert not reader.is_alive()  # the blocked reader was let go; its last finals were refused
    assert stage.backlog == 1  # the live final stays
    gate.set()
    assert stage.drain("upload", timeout=WAIT_S) and stage.drain("live", timeout=WAIT_S)
    assert decoded_order(model) == ["up0", "live0"]  # the decode under way finished
    assert stage.stats.cancelled == 9 and stage.stats.dropped == 0 and stage.pending() == 0
    stage.forget_meeting("upload")
    stage.submit(said("upload", 0, start_ms=7), background=True)  # the id may be used again
    assert stage.drain("upload", timeout=WAIT_S)
    assert decoded_order(model)[-1] == "up7"
    assert stage.stop(timeout=WAIT_S)
