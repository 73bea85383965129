"""When the LLM may run, and what it runs: the correction of committed segments (layer c) in the pauses
of speech or after the meeting, and the minutes once a transcript is complete. Live transcription comes
first: the LLM waits while the ASR stage is behind or, with `llm.schedule = "after_meeting"`, while a
meeting records. Its revisions go into the store, whose listeners publish them."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace

from edge.core.config import Config
from edge.core.events import LiveEvent, MinutesDone, MinutesProgress
from edge.llm.correction_stage import correct_pending
from edge.llm.engine import ChatModel
from edge.llm.failover import FailoverEngine
from edge.llm.remote import RemoteEngine, read_api_key
from edge.llm.worker import LlmWorker, load_local_engine
from edge.minutes.ask import Answer, ask
from edge.minutes.generate import (
    STATUS_GENERATING,
    MinutesOutcome,
    all_segments,
    generate_minutes,
    write_extractive_minutes,
)
from edge.pipeline.current_glossary import CurrentGlossary
from edge.pipeline.current_recording import CurrentRecording
from edge.pipeline.finals import AsrFeed
from edge.store import Store
from edge.text.han import contains_hangul

ASK_WAIT_S = 90.0  # a person waits on the answer; past this the best-matching lines answer alone


@dataclass
class MinutesCounts:
    """Minutes since the box started: `written` by the LLM, `extractive` ones (no LLM, or standing in
    for LLM minutes that failed), `llm_failed` LLM generations that failed, `failed` with no minutes."""

    written: int = 0
    extractive: int = 0
    llm_failed: int = 0
    failed: int = 0

    def count(self, outcome: MinutesOutcome, *, llm: bool) -> None:
        if outcome.status == "failed":
            self.failed += 1
            self.llm_failed += llm
        elif outcome.extractive:
            self.extractive += 1
            self.llm_failed += llm
        else:
            self.written += 1


class LlmSchedule:
    def __init__(
        self,
        cfg: Config,
        store: Store,
        glossary: CurrentGlossary,
        feed: AsrFeed,
        recordings: CurrentRecording,
        publish: Callable[[LiveEvent], None],
    ) -> None:
        self._cfg = cfg
        self._store = store
        self._glossary = glossary
        self._feed = feed
        self._recordings = recordings
        self._publish = publish
        self.failover: FailoverEngine | None = None
        self._redo_minutes: set[str] = set()  # written without the LLM while its server was down
        self.worker = (
            LlmWorker(cfg.llm, quiet=self.quiet, engine_factory=self._load_engine) if cfg.llm.configured else None
        )
        self.minutes_counts = MinutesCounts()

    def _load_engine(self) -> ChatModel:
        """The local model, or the LAN server with the local model (if any) standing in while it is down."""
        llm = self._cfg.llm
        if llm.backend == "local":
            return load_local_engine(llm)
        assert llm.base_url is not None
        remote = RemoteEngine(
            llm.base_url, model=llm.remote_model, api_key=read_api_key(llm.api_key_file),
            verify=str(llm.ca_file) if llm.ca_file else True, timeout_s=llm.timeout_s, n_ctx=llm.n_ctx, seed=llm.seed,
        )  # fmt: skip
        local = (lambda: load_local_engine(llm)) if llm.model_path is not None else None
        self.failover = FailoverEngine(remote, local=local, retry_s=llm.retry_s, on_back=self._server_back)
        return self.failover

    def _server_back(self) -> None:
        """The LLM server answers again: what waited for it, or was done without it, is done with it."""
        for meeting_id in self._store.meetings_awaiting_llm():
            self.correct(meeting_id)
        redo, self._redo_minutes = self._redo_minutes, set()
        for meeting_id in redo:
            self.minutes(meeting_id)

    @property
    def model_name(self) -> str:
        llm = self._cfg.llm
        if llm.backend == "openai":
            return llm.remote_model or (llm.base_url or "")
        return llm.model_path.name if llm.model_path else ""

    def start(self) -> None:
        """Start the worker and resume what a stop or power loss interrupted."""
        if self.worker is None:
            return
        self.worker.start()
        for meeting_id in self._store.meetings_awaiting_llm():
            self.correct(meeting_id)
        for meeting_id in self._store.meetings_with_minutes_status("generating"):
            self.minutes(meeting_id)

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    @contextmanager
    def parked(self) -> Iterator[None]:
        """While the room needs the processor (a meeting stops): the LLM's generation in progress is
        cancelled and no LLM job starts; the parked job resumes in a later quiet moment."""
        worker = self.worker
        if worker is None:
            yield
            return
        worker.park()
        try:
            yield
        finally:
            worker.unpark()

    def quiet(self) -> bool:
        """May the LLM run now without hurting live transcription?"""
        if self._feed.busy:
            return False
        recording = self._recordings.recording
        if self._cfg.llm.schedule == "after_meeting":
            return recording is None
        return recording is None or not recording.in_speech

    def transcript_ready(self, meeting_id: str) -> None:
        """A meeting's transcript is complete: write its minutes (minutes.auto) or correct what is left.
        Without an LLM the minutes are the extractive ones, written at once."""
        if self.worker is None:
            if self._cfg.minutes.auto:
                self.minutes(meeting_id)
            return
        if self._cfg.minutes.auto:
            self.minutes(meeting_id)
        else:
            self.correct(meeting_id)

    def correct(self, meeting_id: str) -> None:
        """Correct the meeting's waiting segments in the next quiet moments."""
        worker = self.worker
        if worker is None or not self._cfg.llm.correction:
            return

        def job(engine: ChatModel) -> None:
            correct_pending(engine, self._store, meeting_id, protected_terms=self._glossary.terms,
                            keep_going=self.quiet)  # fmt: skip
            if self._store.segments_awaiting_llm(meeting_id, limit=1):
                self.correct(meeting_id)  # interrupted by speech or parked: continue in the next pause

        worker.submit(f"correct:{meeting_id}", job)

    def minutes(self, meeting_id: str) -> None:
        """Queue (re)generation of the meeting's minutes, after correcting what is left of it; without
        an LLM, write the extractive minutes now (they take well under a second)."""
        self._store.meeting(meeting_id)
        worker = self.worker
        if worker is None:
            outcome = write_extractive_minutes(
                self._store, meeting_id, config=self._cfg.minutes, glossary=self._glossary.glossary
            )
            self.minutes_counts.count(outcome, llm=False)
            self._publish(MinutesDone(meeting_id, outcome.status, outcome.error))
            return
        if self._store.minutes(meeting_id) is None:
            # Marked at once, so minutes asked for just before a stop are resumed at the next start.
            self._store.save_minutes(meeting_id, status="generating")

        def job(engine: ChatModel) -> None:
            if self._cfg.llm.correction:
                correct_pending(engine, self._store, meeting_id, protected_terms=self._glossary.terms,
                                keep_going=lambda: True)  # fmt: skip
            outcome = generate_minutes(
                self._store, engine, meeting_id, config=self._cfg.minutes, glossary=self._glossary.glossary,
                progress=lambda event: self._publish(MinutesProgress(**event)), model_name=self.model_name,
            )
            if outcome.status == STATUS_GENERATING:
                self.minutes(meeting_id)  # parked: written again in a later quiet moment
                return
            if self.failover is not None and self.failover.answering == "nobody":
                self._redo_minutes.add(meeting_id)
            self.minutes_counts.count(outcome, llm=True)
            self._publish(MinutesDone(meeting_id, outcome.status, outcome.error))

        worker.submit(f"minutes:{meeting_id}", job)

    def ask(self, meeting_id: str, question: str, *, wait_s: float = ASK_WAIT_S) -> Answer:
        """Answer a question from the meeting's lines on the LLM worker: ahead of waiting jobs, in a
        quiet moment (live transcription comes first), for at most `wait_s`; past that, or without an
        LLM, the best-matching lines answer, and the note says why. Raises MeetingNotFound."""
        started_at = self._store.meeting(meeting_id).started_at
        segments = all_segments(self._store, meeting_id)
        worker = self.worker
        if worker is None:
            return ask(segments, question, started_at=started_at)
        model = self.model_name
        answered: Future[Answer] = Future()

        def job(engine: ChatModel) -> None:
            if answered.set_running_or_notify_cancel():
                answered.set_result(ask(segments, question, engine=engine, model=model, started_at=started_at))

        key = f"ask:{meeting_id}:{secrets.token_hex(4)}"
        worker.submit(key, job, first=True)
        try:
            return answered.result(timeout=wait_s)
        except FutureTimeout:
            busy = worker.current
            if worker.discard(key):
                answered.cancel()
            answer = ask(segments, question, started_at=started_at)
            korean = contains_hangul(question)
            if busy is not None:
                why = f"LLM이 다른 작업({busy}) 중입니다" if korean else f"the LLM is busy ({busy})"
            else:
                why = "실시간 전사가 먼저입니다" if korean else "live transcription comes first"
            note = (
                f"{why}; {wait_s:g}초 안에 답하지 못해 가장 관련 있는 발언을 보여 드립니다."
                if korean
                else f"{why}; no answer within {wait_s:g} s, so the best-matching lines answer."
            )
            return replace(answer, model=model, note=note)

    def minutes_queue(self, meeting_id: str) -> dict | None:
        """Where the meeting's minutes stand on the LLM worker: {"running": bool, "ahead": [what runs
        or waits before them], "waiting_for": why they cannot start now or null}; None when they are
        neither waiting nor being written."""
        worker = self.worker
        place = worker.queue(f"minutes:{meeting_id}") if worker is not None else None
        if place is None:
            return None
        ahead, when_quiet = place
        running = not ahead and worker is not None and worker.current == f"minutes:{meeting_id}"
        waiting_for = None
        if not running:
            if ahead:
                waiting_for = "earlier_jobs"
            elif when_quiet and not self.quiet():
                waiting_for = "live_transcription"
        return {"running": running, "ahead": [_job_text(key) for key in ahead], "waiting_for": waiting_for}

    def minutes_health(self) -> dict[str, int]:
        return asdict(self.minutes_counts)

    def health(self) -> dict | None:
        worker = self.worker
        if worker is None:
            return None
        health = {"current": worker.current, "waiting": worker.stats.waiting, "done": worker.stats.jobs_done,
                  "failed": worker.stats.jobs_failed, "parked": worker.stats.parked}  # fmt: skip
        if self.failover is not None:
            health.update(self.failover.health())
        return health


def _job_text(key: str) -> str:
    kind, _, meeting_id = key.partition(":")
    return {"correct": "correcting meeting", "minutes": "minutes of meeting", "ask": "a question on meeting"}.get(
        kind, kind
    ) + f" {meeting_id}"
