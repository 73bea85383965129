"""Parking and stopping the LLM with real llama.cpp (the fixture model stories260K) through the
project's engine: a stop or shutdown while the LLM generates cancels the generation between tokens,
the job's later calls come back cancelled without generating, and what it had not finished stays
pending (segments awaiting correction, minutes 'generating') and is done again later (issue 17,
finding 13)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from english_meeting import VTT

from edge.core.config import LlmConfig, MinutesConfig
from edge.llm.correction_stage import correct_pending
from edge.llm.engine import LlmEngine, LlmResult
from edge.llm.worker import LlmWorker
from edge.minutes.generate import STATUS_GENERATING, generate_minutes
from edge.store import Store
from edge.transcripts.importing import import_transcript

WAIT_S = 60.0  # an upper bound for a stuck worker, not a performance expectation
PROMPT = "Once upon a time"


def story_engine(fixture_file: Callable[[str], Path]) -> Callable[[], LlmEngine]:
    path = fixture_file("models/stories260K.gguf")
    return lambda: LlmEngine(path, n_ctx=2048, threads=1, seed=1)


class StoryJob:
    """Generates a long story, then calls the model once more; the test acts at its second token.
    A run whose first generation was cancelled queues the job again (its work is still to do)."""

    def __init__(self, worker: LlmWorker, at_second_token: Callable[[], None]) -> None:
        self.worker = worker
        self.at_second_token = at_second_token
        self.runs: list[tuple[LlmResult, LlmResult, int]] = []  # (story, later call, tokens seen)
        self.done = threading.Condition()

    def __call__(self, engine: LlmEngine) -> None:
        pieces: list[str] = []

        def on_token(piece: str) -> None:
            pieces.append(piece)
            if len(pieces) == 2 and not self.runs:
                self.at_second_token()

        story = engine.complete(PROMPT, max_tokens=400, on_token=on_token)
        later = engine.complete(PROMPT, max_tokens=400)
        with self.done:
            self.runs.append((story, later, len(pieces)))
            self.done.notify_all()
        if story.finish_reason == "cancelled":
            self.worker.submit("story", self)

    def wait_runs(self, count: int) -> None:
        with self.done:
            assert self.done.wait_for(lambda: len(self.runs) >= count, WAIT_S)


def test_parking_cancels_the_generation_between_tokens_and_the_job_resumes_after_unpark(fixture_file) -> None:
    worker = LlmWorker(LlmConfig(), quiet=lambda: True, engine_factory=story_engine(fixture_file))
    parked: list[str | None] = []
    job = StoryJob(worker, lambda: parked.append(worker.park()))  # on the model's owner thread
    worker.submit("story", job)
    worker.start()
    try:
        job.wait_runs(1)
        story, later, tokens = job.runs[0]
        assert parked == ["story"] and worker.stats.parked == 1
        assert story.finish_reason == "cancelled" and tokens == 2  # not one token after the park
        assert later.finish_reason == "cancelled" and later.completion_tokens == 0
        assert worker.queue("story") == ([], True)  # queued again, and waits while parked
        worker.unpark()
        job.wait_runs(2)
        story, later, tokens = job.runs[1]
        assert story.finish_reason != "cancelled" and tokens > 2
        assert later.finish_reason != "cancelled" and later.completion_tokens >= 1
    finally:
        worker.stop()


def test_stopping_the_worker_while_it_generates_cancels_the_job_and_ends_the_thread(fixture_file) -> None:
    worker = LlmWorker(LlmConfig(), quiet=lambda: True, engine_factory=story_engine(fixture_file))
    second_token = threading.Event()
    stopped = threading.Event()

    def at_second_token() -> None:
        second_token.set()
        assert stopped.wait(WAIT_S)  # the owner thread holds here until stop() began

    job = StoryJob(worker, at_second_token)
    worker.submit("story", job)
    worker.start()
    assert second_token.wait(WAIT_S)
    stopper = threading.Thread(target=worker.stop)
    stopper.start()
    tick = threading.Event()
    while True:  # stop() began once the worker refuses new jobs
        worker.submit("probe", lambda engine: None, when_quiet=False)
        if worker.queue("probe") is None:
            break
        tick.wait(0.01)
    stopped.set()
    stopper.join(WAIT_S)
    assert not stopper.is_alive()
    story, later, tokens = job.runs[0]
    assert story.finish_reason == "cancelled" and tokens == 2
    assert later.finish_reason == "cancelled" and later.completion_tokens == 0
    assert len(job.runs) == 1  # queued again is refused while stopping: its work waits for the next start


def test_minutes_cancelled_mid_way_stay_generating_with_the_earlier_minutes_kept(
    tmp_path: Path, fixture_file
) -> None:
    store = Store(tmp_path / "edge.db", outbox=False)
    meeting_id = import_transcript(store, VTT, name="weekly.vtt", language="en").meeting.id
    store.save_minutes(meeting_id, status="draft", minutes={"kept": "주간 회의록 초안"})
    with story_engine(fixture_file)() as engine:
        engine.hold()  # as a park or a stop leaves it
        outcome = generate_minutes(store, engine, meeting_id, config=MinutesConfig())
    record = store.minutes(meeting_id)
    assert outcome.status == STATUS_GENERATING and outcome.minutes is None
    assert record is not None and record.status == STATUS_GENERATING and record.minutes == {"kept": "주간 회의록 초안"}
    store.close()


def test_corrections_cancelled_mid_way_leave_the_segments_waiting(tmp_path: Path, fixture_file) -> None:
    store = Store(tmp_path / "edge.db", outbox=False)
    meeting_id = import_transcript(store, VTT, name="weekly.vtt", language="en").meeting.id
    waiting = [s.seq for s in store.segments_awaiting_llm(meeting_id, limit=100)]
    assert waiting
    with story_engine(fixture_file)() as engine:
        engine.hold()
        looked_at = correct_pending(engine, store, meeting_id, protected_terms=list, keep_going=lambda: True)
        assert looked_at <= 4  # one batch, then the pass ends
        assert [s.seq for s in store.segments_awaiting_llm(meeting_id, limit=100)] == waiting
        engine.release()
        correct_pending(engine, store, meeting_id, protected_terms=list, keep_going=lambda: True)
    assert store.segments_awaiting_llm(meeting_id, limit=100) == []
    store.close()
