"""Composition root: the only module that knows every stage. Builds them from the config, wires the
queues and callbacks, starts and stops them in order.

    capture --frames--> vad --utterances--> asr (one owner thread for the box's lifetime)
        '--> archive (before ASR)                |-- partial --> live bus (API stream, MQTT QoS 0)
                                                 '-- final --> firewall --> store (+ outbox) --> live bus
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from edge.asr.health import asr_health
from edge.core.config import Config
from edge.core.errors import ModelError, UserError
from edge.core.events import AsrSegment, FilteredSegment, Utterance
from edge.core.live import LiveBus
from edge.core.queues import DropOldestQueue, QueueClosed
from edge.llm.worker import LlmWorker
from edge.pipeline.control import BoxBusy, MeetingAlreadyRunning, NoMeetingRunning
from edge.pipeline.recording import Recording
from edge.store import Meeting, Store

log = logging.getLogger(__name__)

MAX_FILE_JOBS = 64


@dataclasses.dataclass
class BoxCounters:
    """Everything counted that a person may need to see: nothing is lost silently."""

    segments: int = 0
    filtered: Counter = dataclasses.field(default_factory=Counter)
    asr_errors: int = 0


class Box:
    """The running box. Implements edge.pipeline.control.BoxControl for the API and MQTT commands."""

    def __init__(self, cfg: Config, *, asr_model_factory: Callable[[], object] | None = None) -> None:
        self.cfg = cfg
        self.started_monotonic = time.monotonic()
        self.store = Store(cfg.database_path, outbox=cfg.mqtt.enabled)
        self.live = LiveBus()
        self.counters = BoxCounters()
        self._lock = threading.RLock()
        self._recording: Recording | None = None
        self._jobs: DropOldestQueue[tuple[Meeting, Path]] = DropOldestQueue(MAX_FILE_JOBS, name="file-jobs")
        self._pending_finals: Counter = Counter()
        self._finals_done = threading.Condition()
        self._final_hooks: list[Callable[[Utterance], None]] = []
        self._asr_model_factory = asr_model_factory or self._whisper_factory
        self._postprocessors: dict[str, object] = {}
        self._glossary = self.store.glossary()
        self._asr = self._build_asr_stage()
        self.llm = LlmWorker(cfg.llm, quiet=self._quiet) if cfg.llm.model_path is not None else None

    # construction

    def _whisper_factory(self) -> object:
        from edge.asr.whispercpp import WhisperCppModel

        asr = self.cfg.asr
        return WhisperCppModel(
            asr.model_path.resolve(),
            threads=asr.threads,
            language=asr.language,
            initial_prompt=asr.initial_prompt,
            max_tokens=asr.max_tokens,
            temperature_inc=asr.temperature_inc,
            fit_audio_ctx=asr.fit_audio_ctx,
            audio_ctx_margin_s=asr.audio_ctx_margin_s,
        )

    def _build_asr_stage(self):
        from edge.asr.stage import AsrStage

        asr = self.cfg.asr
        return AsrStage(
            self._asr_model_factory,
            on_partial=self._on_partial,
            on_final=self._on_final,
            on_error=self._on_asr_error,
            partial_interval_ms=asr.partial_interval_ms,
            context_factory=self._meeting_context if asr.context else None,
            languages=asr.languages,
            retry_beam_size=asr.retry_beam_size,
            end_of_speech_lag_s=self.cfg.vad.min_silence_ms / 1000,
            partials_wanted=lambda: self.live.subscriber_count > 0,
        )

    def _meeting_context(self, meeting_id: str):
        from edge.asr.context import MeetingContext

        return MeetingContext([term.term for term in self._glossary.terms], base_prompt=self.cfg.asr.initial_prompt)

    def check_models(self) -> None:
        """Fail fast, before anything starts, when a configured model file is missing."""
        for what, path in (("asr.model_path", self.cfg.asr.model_path), ("vad.model_path", self.cfg.vad.model_path)):
            if not Path(path).is_file():
                raise ModelError(
                    f"{what} {path} does not exist; fetch it with `edge models fetch NAME` "
                    f"(`edge models list` shows the names) or point {what} at a model file"
                )

    # lifecycle

    def open(self) -> None:
        self.check_models()
        from edge.audio.archive import prune_archives, repair_archive

        for meeting_id in self.store.close_interrupted_meetings():
            log.warning("meeting %s was interrupted by a crash or power loss; closed as 'interrupted'", meeting_id)
            audio_path = self.store.meeting(meeting_id).audio_path
            if audio_path and Path(audio_path).is_file():
                repair_archive(Path(audio_path))
        prune_archives(self.cfg.audio_dir, self.cfg.audio.retention_days)
        self._asr.start()
        if self.llm is not None:
            self.llm.start()
            for meeting_id in self.store.meetings_awaiting_llm():
                self._schedule_correction(meeting_id)
            for meeting_id in self.store.meetings_with_minutes_status("generating"):
                self.request_minutes(meeting_id)
        threading.Thread(target=self._job_worker, name="file-jobs", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            if self._recording is not None:
                self.stop_meeting()
        self._jobs.close()
        self._asr.stop(drain=True)
        if self.llm is not None:
            self.llm.stop()
        self.store.close()

    def add_final_hook(self, hook: Callable[[Utterance], None]) -> None:
        """Called on the ASR thread once a final utterance's segments are committed (or dropped)."""
        self._final_hooks.append(hook)

    def heartbeats(self) -> dict[str, float]:
        """Each running stage's last progress (monotonic seconds), for the systemd watchdog."""
        beats = {"asr": self._asr.last_progress}
        recording = self._recording
        if recording is not None:
            beats["vad"] = recording.last_progress
        return beats

    @property
    def asr_stats(self):
        return self._asr.stats

    # BoxControl

    def start_meeting(self, *, title: str = "", language: str | None = None) -> Meeting:
        with self._lock:
            if self._recording is not None:
                raise MeetingAlreadyRunning(f"meeting {self._recording.meeting.id} is recording; stop it first")
            meeting = self.store.create_meeting(
                language=language or self.cfg.asr.language,
                source=self.cfg.audio.source,
                title=title,
                room=self.cfg.device.room,
            )
            self._recording = Recording(self.cfg, meeting, submit=self._submit, store=self.store)
            self._recording.start()
        log.info("meeting %s started", meeting.id)
        self._publish_state()
        return meeting

    def stop_meeting(self, meeting_id: str | None = None) -> Meeting:
        with self._lock:
            recording = self._recording
            if recording is None or (meeting_id is not None and recording.meeting.id != meeting_id):
                if meeting_id is not None:
                    self.store.meeting(meeting_id)  # MeetingNotFound for an unknown id
                raise NoMeetingRunning("no meeting is recording" if recording is None else
                                       f"meeting {meeting_id} is not the one recording")
            self._recording = None
        recording.stop()
        self._wait_for_finals(recording.meeting.id)
        meeting = self.store.end_meeting(recording.meeting.id)
        self._forget_meeting(meeting.id)
        log.info("meeting %s stopped", meeting.id)
        self._publish_state()
        self.transcript_ready(meeting.id)
        return meeting

    def transcript_ready(self, meeting_id: str) -> None:
        if self.llm is None:
            return
        if self.cfg.minutes.auto:
            self.request_minutes(meeting_id)
        else:
            self._schedule_correction(meeting_id)

    def request_minutes(self, meeting_id: str) -> None:
        from edge.llm.correction_stage import correct_pending
        from edge.minutes.generate import generate_minutes

        self.store.meeting(meeting_id)
        if self.llm is None:
            raise UserError("minutes need an LLM: set llm.model_path to a GGUF model (`edge models list`)")
        if self.store.minutes(meeting_id) is None:
            # Marked at once, so minutes asked for just before a stop are resumed at the next start.
            self.store.save_minutes(meeting_id, status="generating")

        def job(engine: object) -> None:
            if self.cfg.llm.correction:
                correct_pending(
                    engine, self.store, meeting_id, protected_terms=self._protected_terms,
                    on_update=self._published_update, keep_going=lambda: True,
                )
            outcome = generate_minutes(
                self.store, engine, meeting_id, config=self.cfg.minutes, glossary=self._glossary,
                progress=lambda event: self.live.publish("minutes_progress", event),
                model_name=self.cfg.llm.model_path.name if self.cfg.llm.model_path else "",
            )
            self.live.publish("minutes", {"v": 1, "meeting_id": meeting_id, "status": outcome.status,
                                          "error": outcome.error})

        self.llm.submit(f"minutes:{meeting_id}", job)

    def submit_file(self, path: Path, *, title: str = "", language: str | None = None) -> Meeting:
        if len(self._jobs) >= MAX_FILE_JOBS:
            raise BoxBusy(f"{MAX_FILE_JOBS} files are already waiting to be transcribed; try again later")
        meeting = self.store.create_meeting(
            language=language or self.cfg.asr.language,
            source=f"file:{Path(path).name}",
            title=title or Path(path).name,
            room=self.cfg.device.room,
            status="processing",
        )
        self._jobs.put((meeting, Path(path)))
        return meeting

    def glossary_changed(self) -> None:
        glossary = self.store.glossary()
        with self._lock:
            self._glossary = glossary
            self._asr.set_glossary(term.term for term in glossary.terms)
            for postprocessor in self._postprocessors.values():
                postprocessor.set_glossary(glossary)

    def state(self) -> dict:
        with self._lock:
            recording = self._recording
        if recording is not None:
            return {"v": 1, "state": "recording", "meeting_id": recording.meeting.id}
        if len(self._jobs) or self._asr_busy():
            return {"v": 1, "state": "processing", "meeting_id": None}
        return {"v": 1, "state": "idle", "meeting_id": None}

    def health(self) -> dict:
        with self._lock:
            recording = self._recording
        asr = self._asr.stats
        capture = recording.stats() if recording else {}
        return {
            "v": 1,
            "status": "ok",
            "state": self.state()["state"],
            "uptime_s": round(time.monotonic() - self.started_monotonic, 1),
            "rtf": round(asr.compute_seconds / asr.audio_seconds, 3) if asr.audio_seconds else None,
            "queues": {"asr_pending": self._asr.backlog, **capture.get("queues", {})},
            "drops": {"asr_utterances": asr.dropped, **capture.get("drops", {})},
            "capture_gaps": capture.get("gaps", 0),
            "segments": self.counters.segments,
            "filtered": dict(self.counters.filtered),
            "asr_errors": self.counters.asr_errors,
            "asr_soft_errors": asr.soft_errors,
            "asr": asr_health(asr),
            "outbox_backlog": self.store.outbox_backlog() if self.store.outbox_enabled else 0,
            "llm": None if self.llm is None else {
                "current": self.llm.current, "waiting": self.llm.stats.waiting,
                "done": self.llm.stats.jobs_done, "failed": self.llm.stats.jobs_failed,
            },
        }

    @property
    def recording(self) -> Recording | None:
        return self._recording

    # pipeline callbacks (VAD thread and ASR owner thread)

    def _submit(self, utterance: Utterance, wait: bool = False) -> None:
        if utterance.final:
            with self._finals_done:
                self._pending_finals[utterance.meeting_id] += 1
        self._asr.submit(utterance, wait=wait)

    def _asr_busy(self) -> bool:
        with self._finals_done:
            return any(self._pending_finals.values())

    def _finish_final(self, meeting_id: str) -> None:
        with self._finals_done:
            self._pending_finals[meeting_id] -= 1
            if self._pending_finals[meeting_id] <= 0:
                del self._pending_finals[meeting_id]
            self._finals_done.notify_all()

    def _wait_for_finals(self, meeting_id: str) -> None:
        """Block until every final utterance of the meeting has been committed or counted as lost."""
        with self._finals_done:
            while self._pending_finals.get(meeting_id, 0) > 0:
                dropped_before = self._asr.stats.dropped
                if not self._finals_done.wait(timeout=1.0) and self._asr.stats.dropped > dropped_before:
                    # A final evicted from a full ASR queue never reports back; it is counted in drops.
                    self._pending_finals[meeting_id] -= self._asr.stats.dropped - dropped_before

    def _postprocessor(self, meeting_id: str, language: str):
        from edge.text.postprocess import TextPostprocessor

        with self._lock:
            if meeting_id not in self._postprocessors:
                self._postprocessors[meeting_id] = TextPostprocessor(
                    language, self._glossary, prompt=self.cfg.asr.initial_prompt
                )
            return self._postprocessors[meeting_id]

    def _forget_meeting(self, meeting_id: str) -> None:
        with self._lock:
            self._postprocessors.pop(meeting_id, None)
        self._asr.forget_meeting(meeting_id)

    def _quiet(self) -> bool:
        """May the LLM run now without hurting live transcription?"""
        if self._asr_busy():
            return False
        recording = self._recording
        if self.cfg.llm.schedule == "after_meeting":
            return recording is None
        return recording is None or not recording.in_speech

    def _schedule_correction(self, meeting_id: str) -> None:
        from edge.llm.correction_stage import correct_pending

        def job(engine: object) -> None:
            correct_pending(
                engine, self.store, meeting_id, protected_terms=self._protected_terms,
                on_update=self._published_update, keep_going=self._quiet,
            )
            if self.store.segments_awaiting_llm(meeting_id, limit=1):
                self._schedule_correction(meeting_id)  # interrupted by speech: continue in the next pause

        if self.llm is not None and self.cfg.llm.correction:
            self.llm.submit(f"correct:{meeting_id}", job)

    def _protected_terms(self) -> list[str]:
        return [term.term for term in self._glossary.terms]

    def _published_update(self, segment) -> None:
        self.live.publish("segment_update", segment.to_payload())

    def _on_partial(self, utterance: Utterance, stable: str, unstable: str) -> None:
        self.live.publish(
            "partial",
            {
                "v": 1,
                "meeting_id": utterance.meeting_id,
                "utterance_id": utterance.utterance_id,
                "t0_ms": utterance.start_ms,
                "t1_ms": utterance.end_ms,
                "stable": stable,
                "unstable": unstable,
            },
        )

    def _on_final(self, utterance: Utterance, segments: list[AsrSegment]) -> None:
        try:
            self.commit(utterance.meeting_id, segments, utterance_ms=utterance.end_ms - utterance.start_ms)
            for hook in self._final_hooks:
                hook(utterance)
        finally:
            self._finish_final(utterance.meeting_id)

    def _on_asr_error(self, utterance: Utterance, exc: BaseException) -> None:
        self.counters.asr_errors += 1
        log.error("ASR failed on utterance %s of meeting %s: %s", utterance.utterance_id, utterance.meeting_id, exc)
        self._finish_final(utterance.meeting_id)

    def commit(self, meeting_id: str, segments: list[AsrSegment], *, utterance_ms: int | None = None) -> None:
        """Firewall each ASR segment, then store it (with its outbox row) or store why it was dropped."""
        for seg in segments:
            postprocessor = self._postprocessor(meeting_id, seg.language)
            # whisper's own timestamps can collapse (t0 == t1); the VAD's length of a lone segment cannot.
            duration_ms = utterance_ms if len(segments) == 1 and utterance_ms else seg.t1_ms - seg.t0_ms
            processed = postprocessor.process(seg.text, duration_ms=duration_ms)
            if processed.dropped:
                self.counters.filtered[processed.reason] += 1
                item = FilteredSegment(meeting_id, seg.t0_ms, seg.t1_ms, seg.text, processed.reason)
                self.store.add_filtered(item)
                self.live.publish("filtered", {"v": 1, **dataclasses.asdict(item)})
                continue
            text = processed.text if processed.text != seg.text else None
            segment = self.store.add_segment(
                meeting_id,
                t0_ms=seg.t0_ms,
                t1_ms=seg.t1_ms,
                text_raw=seg.text,
                language=seg.language,
                confidence=seg.confidence,
                text=text,
                corrections=processed.corrections,
            )
            self.counters.segments += 1
            used_terms = {c["term"] for c in processed.corrections if c.get("term")}
            if used_terms:
                self.store.touch_terms(sorted(used_terms))
            self._asr.note_committed(meeting_id, segment.display_text, used_terms)
            self.live.publish("segment", segment.to_payload())
            self._schedule_correction(meeting_id)

    def _publish_state(self) -> None:
        self.live.publish("state", self.state())

    # file jobs (API uploads)

    def _job_worker(self) -> None:
        while True:
            try:
                meeting, path = self._jobs.get()
            except QueueClosed:  # the box is closing
                return
            try:
                self._transcribe_job(meeting, path)
            except Exception as exc:
                log.error("transcription of %s failed: %s", path.name, exc)
                self.store.end_meeting(meeting.id, status="failed")
            finally:
                path.unlink(missing_ok=True)
                self._publish_state()

    def _transcribe_job(self, meeting: Meeting, path: Path) -> None:
        cfg = self.cfg.model_copy(deep=True)
        cfg.audio.source = f"file:{path}"
        cfg.audio.realtime = False
        recording = Recording(cfg, meeting, submit=self._submit, store=self.store)
        recording.start()
        recording.wait_source_done()
        recording.stop()
        self._wait_for_finals(meeting.id)
        self.store.end_meeting(meeting.id)
        self._forget_meeting(meeting.id)
        self.transcript_ready(meeting.id)
