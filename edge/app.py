"""Composition root: the only module that knows every stage. Builds them from the config, connects them
and starts and stops them in order; it does no work of its own on a segment.

    capture --frames--> vad --utterances--> AsrFeed --> asr (one owner thread for the box's lifetime)
        '--> archive (before ASR)                           |-- partial --> LiveRelay --> live bus
                                                            '-- final --> SegmentCommitter
    SegmentCommitter: firewall + glossary --> store (+ outbox) --> ASR context, LlmSchedule
    store --change events--> LiveRelay --> live bus --> API stream, MQTT (partials, state)
    store --outbox--> MQTT (segments and their revisions, at least once)
    LlmSchedule --corrections--> store (--> the same listeners)
    HealthWatch: free space (archive on/off), held segments retried, problems --> live bus (MQTT error, stats)
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from edge.asr.backends import model_factory
from edge.asr.context import MeetingContext
from edge.asr.health import asr_health
from edge.asr.stage import AsrStage, AsrStats, Transcriber
from edge.audio.archive import prune_archives, repair_archive
from edge.core.clock import WallClock
from edge.core.config import Config
from edge.core.errors import ModelError
from edge.core.events import PAYLOAD_VERSION, BoxState, LiveEvent, Utterance
from edge.core.queues import DropOldestQueue
from edge.minutes.ask import Answer
from edge.ops.disk_space import DiskSpace
from edge.ops.storage_lock import StorageLock
from edge.pipeline.box_health import HealthWatch, Problem, archive_problem, held_problem, stage_problem, verdict
from edge.pipeline.commit import SegmentCommitter
from edge.pipeline.current_glossary import CurrentGlossary
from edge.pipeline.current_recording import CurrentRecording
from edge.pipeline.editing import Editing
from edge.pipeline.file_jobs import FileJobs
from edge.pipeline.finals import AsrFeed
from edge.pipeline.live_relay import LiveRelay
from edge.pipeline.llm_schedule import LlmSchedule
from edge.pipeline.recording import Recording
from edge.pipeline.records import Records
from edge.pipeline.speakers import speaker_attribution, store_refined_speakers
from edge.store import Meeting, Store

log = logging.getLogger(__name__)

RETENTION_INTERVAL_S = 86_400.0


class Box:
    """The running box. Implements edge.pipeline.control.BoxControl for the API and MQTT commands."""

    def __init__(self, cfg: Config, *, asr_model_factory: Callable[[], Transcriber] | None = None) -> None:
        self.cfg = cfg
        self.started_monotonic = time.monotonic()
        self.clock = WallClock()
        self._clock_watch = threading.Event()
        self._pruning_stop = threading.Event()
        # Before the database is touched: a second box would close this one's meeting as interrupted.
        self.storage_lock = StorageLock(cfg.storage.path).acquire()
        try:
            self.store = Store(
                cfg.database_path, outbox=cfg.mqtt.enabled, publish_imports=cfg.mqtt.publish_imports, clock=self.clock
            )
        except BaseException:
            self.storage_lock.release()
            raise
        self.relay = LiveRelay(self.store)
        self.live = self.relay.bus
        self.glossary = CurrentGlossary(self.store)
        self.feed = AsrFeed()
        self.asr = self._build_asr_stage(asr_model_factory or model_factory(cfg.asr))
        self.recordings = CurrentRecording(
            cfg, self.store, self.feed,
            archiving=lambda: self.watch.archiving(), write_later=lambda *held: self.committer.write_later(*held),
        )  # fmt: skip
        self.llm = LlmSchedule(cfg, self.store, self.glossary, self.feed, self.recordings, self.relay.publish)
        self.committer = SegmentCommitter(
            self.store, self.glossary, prompt=cfg.asr.initial_prompt,
            note_committed=self.asr.note_committed, then=self.llm.correct,
        )  # fmt: skip
        self.speakers = speaker_attribution(cfg.speaker) if cfg.speaker.enabled else None
        self.feed.connect(
            self.asr, self.committer.commit, forget=self.committer.forget, speakers=self.speakers,
            relabel=functools.partial(store_refined_speakers, self.store, self.speakers) if self.speakers else None,
        )  # fmt: skip
        disk = DiskSpace(
            cfg.storage.path, warn_free_mb=cfg.storage.warn_free_mb, critical_free_mb=cfg.storage.critical_free_mb
        )
        self.watch = HealthWatch(
            disk, retry_held=self.committer.retry_held, problems=self._pipeline_problems, publish=self.relay.publish
        )
        self._stage_stopped: Problem | None = None  # the last meeting was stopped for it; cleared by the next
        self._running = False  # between open() and close(): the ASR thread should be alive
        self.file_jobs = FileJobs(cfg, self.store, self.feed, then=self.llm.transcript_ready, after=self._publish_state)
        self.records: Records = self.store
        self.editing = Editing(
            self.store, glossary_changed=self.glossary.reload, max_import_cues=cfg.meeting.max_import_cues
        )

    def _build_asr_stage(self, model: Callable[[], Transcriber]) -> AsrStage:
        """The ASR stage and everything it is told: the one place that wires speech recognition."""
        asr = self.cfg.asr
        glossary = self.glossary
        stage = AsrStage(
            model,
            on_partial=self.relay.partial,
            on_final=self.feed.on_final,
            on_error=self.feed.on_error,
            partial_interval_ms=asr.partial_interval_ms,
            context_factory=(lambda _: MeetingContext(glossary.terms(), base_prompt=asr.initial_prompt,
                                                      budget=asr.context_tokens))
            if asr.context else None,
            languages=asr.languages,
            retry_beam_size=asr.retry_beam_size,
            end_of_speech_lag_s=self.cfg.vad.min_silence_ms / 1000,
            partials_wanted=self.relay.partials_wanted,
        )
        glossary.follow(lambda changed: stage.set_glossary(term.term for term in changed.terms))
        return stage

    def check_models(self) -> None:
        """Fail fast, before anything starts, when a configured model file is missing."""
        models = [("asr.model_path", self.cfg.asr.model_path), ("vad.model_path", self.cfg.vad.model_path)]
        if self.cfg.speaker.enabled:
            models.append(("speaker.model_path", self.cfg.speaker.model_path))
        for what, path in models:
            if not Path(path).is_file():
                raise ModelError(
                    f"{what} {path} does not exist; fetch it with `edge models fetch NAME` "
                    f"(`edge models list` shows the names) or point {what} at a model file"
                )

    # lifecycle

    def open(self) -> None:
        self.check_models()
        if self.speakers is not None:
            self.speakers.load()
        self.recover()
        self._prune_records()
        threading.Thread(target=self._prune_daily, name="retention", daemon=True).start()
        self.clock.watch(self._clock_watch)
        self.asr.start()
        self.llm.start()
        self.file_jobs.start()
        self.watch.start()
        self._running = True

    def _prune_records(self) -> None:
        """Retention: meetings past storage.retention_days (records, minutes, audio), archives past
        audio.retention_days."""
        self.editing.prune_meetings(self.cfg.storage.retention_days)
        prune_archives(self.cfg.audio_dir, self.cfg.audio.retention_days)

    def _prune_daily(self) -> None:
        while not self._pruning_stop.wait(RETENTION_INTERVAL_S):
            try:
                self._prune_records()
            except Exception:  # a full disk or a locked file: tried again tomorrow
                log.exception("retention pruning failed")

    def recover(self) -> None:
        """What a crash or power loss left half done: meetings recording or being transcribed end 'interrupted'
        with the reason, their audio archives are repaired, and uploads no job will read are deleted."""
        for meeting_id in self.store.close_interrupted_meetings():
            meeting = self.store.meeting(meeting_id)
            log.warning("meeting %s closed as 'interrupted': %s", meeting_id, meeting.error)
            if meeting.audio_path and Path(meeting.audio_path).is_file():
                repair_archive(Path(meeting.audio_path))
        self.file_jobs.remove_leftovers()

    def close(self) -> None:
        self._running = False
        self.llm.stop()  # first: LLM work is cancelled and stays pending for the next start
        if self.recordings.recording is not None:
            self.stop_meeting()
        self.file_jobs.close()
        self.asr.stop(drain=True)
        self._clock_watch.set()
        self._pruning_stop.set()
        self.watch.stop()
        held = self.committer.retry_held()
        if held:
            log.error("%d segments LOST at shutdown: the database could not take them (disk full?)", held)
        self.store.close()
        self.storage_lock.release()

    def add_final_hook(self, hook: Callable[[Utterance], None]) -> None:
        """Called on the ASR thread once a final utterance's segments are committed (or dropped)."""
        self.feed.add_final_hook(hook)

    def heartbeats(self) -> dict[str, float]:
        """Each running stage's last progress (monotonic seconds), for the systemd watchdog."""
        beats = {"asr": self.asr.last_progress}
        recording = self.recordings.recording
        if recording is not None:
            beats["vad"] = recording.last_progress
        return beats

    @property
    def asr_stats(self) -> AsrStats:
        return self.asr.stats

    @property
    def recording(self) -> Recording | None:
        return self.recordings.recording

    # BoxControl

    def start_meeting(self, *, title: str = "", language: str | None = None) -> Meeting:
        meeting = self.recordings.start(title=title, language=language)
        self._stage_stopped = None
        log.info("meeting %s started", meeting.id)
        self._publish_state()
        return meeting

    def stop_meeting(self, meeting_id: str | None = None, *, failed_stage: tuple[str, str] | None = None) -> Meeting:
        """`failed_stage` (stage, error): the meeting ends 'failed' with it, and health says so until the next."""
        error = None
        if failed_stage is not None:
            self._stage_stopped = stage_problem(*failed_stage)
            error = f"{self._stage_stopped.message}; the meeting was stopped"
        try:
            with self.llm.parked():  # the meeting's last utterances are decoded without the LLM on the cores
                meeting = self.recordings.stop(meeting_id, error=error)
        finally:
            self._publish_state()  # not recording any more, even when the database could not say so yet
        log.info("meeting %s %s", meeting.id, meeting.status)
        self.llm.transcript_ready(meeting.id)
        return meeting

    def transcript_ready(self, meeting_id: str) -> None:
        self.llm.transcript_ready(meeting_id)

    def request_minutes(self, meeting_id: str) -> None:
        self.llm.minutes(meeting_id)

    def minutes_queue(self, meeting_id: str) -> dict | None:
        return self.llm.minutes_queue(meeting_id)

    def ask(self, meeting_id: str, question: str) -> Answer:
        return self.llm.ask(meeting_id, question)

    def submit_file(self, path: Path, *, title: str = "", language: str | None = None) -> Meeting:
        return self.file_jobs.submit(path, title=title, language=language)

    def jobs(self) -> list[dict]:
        return [job.to_dict() for job in self.file_jobs.progress()]

    def cancel_job(self, meeting_id: str) -> Meeting:
        return self.file_jobs.cancel(meeting_id)

    def decoded_ms(self, recording: Recording) -> int:
        """How far into the recording's audio speech recognition is (all before it is committed)."""
        return self.feed.decoded_ms(recording.meeting.id, recording.audio_ms, recording.in_speech)

    def subscribe_live(self) -> AbstractContextManager[DropOldestQueue[LiveEvent]]:
        return self.relay.subscribe()

    def state(self) -> dict:
        return self._state().to_payload()

    def _pipeline_problems(self) -> list[Problem]:
        problems = held_problem(self.committer.held())
        recording = self.recordings.recording
        if recording is not None:
            problems += archive_problem(recording.archive_paused)
            if recording.failed_stage is not None:
                problems.append(stage_problem(*recording.failed_stage))
        if self._stage_stopped is not None:
            problems.append(self._stage_stopped)
        if self._running and not self.asr.alive:
            problems.append(stage_problem("speech recognition", "its thread ended"))
        return problems

    def health(self) -> dict:
        recording = self.recordings.recording
        asr = self.asr.stats
        capture = recording.stats() if recording else {}
        problems = self.watch.problems()
        disk = self.watch.reading
        commits = self.committer.counters
        return {
            "v": PAYLOAD_VERSION,
            "status": verdict(problems),
            "problems": [problem.to_payload() for problem in problems],
            "state": self._state().state,
            "uptime_s": round(time.monotonic() - self.started_monotonic, 1),
            "rtf": round(asr.compute_seconds / asr.audio_seconds, 3) if asr.audio_seconds else None,
            "queues": {"asr_pending": self.asr.backlog, **capture.get("queues", {})},
            "drops": {"asr_utterances": asr.dropped, **capture.get("drops", {})},
            "capture_gaps": capture.get("gaps", 0),
            "segments": self.committer.counters.segments,
            "commits": {"held": self.committer.held(), "write_failures": commits.write_failures, "lost": commits.lost},
            "disk": {"free_mb": disk.free_mb, "level": disk.level, "archiving": disk.archiving},
            "filtered": dict(self.committer.counters.filtered),
            "asr_errors": self.feed.errors,
            "asr_soft_errors": asr.soft_errors,
            "asr": asr_health(asr),
            "outbox_backlog": self.store.outbox_backlog() if self.store.outbox_enabled else 0,
            "llm": self.llm.health(),
            "minutes": self.llm.minutes_health(),
            "clock": {"steps": self.clock.steps, "last_step_s": self.clock.last_step_s},
            "speakers": self.speakers.stats.to_dict() if self.speakers else None,
        }

    def _state(self) -> BoxState:
        recording = self.recordings.recording
        if recording is not None:
            return BoxState("recording", recording.meeting.id)
        return BoxState("processing" if len(self.file_jobs) or self.feed.busy else "idle")

    def _publish_state(self) -> None:
        self.relay.publish(self._state())
