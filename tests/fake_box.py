"""A small in-memory BoxControl for API tests: a real Store (SQLite in a tmp dir) and a real LiveBus,
with no audio pipeline. Meetings start and stop as in edge.app.Box; tests inject segments and partials
the way the ASR stage would publish them. `serving()` runs the real API for it on a loopback port.

Minutes are written by the real `edge.minutes.generate.generate_minutes` on a background thread (as the box's LLM
worker does), with `ScriptedMinutesEngine` in place of llama.cpp, so API and page tests are deterministic."""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from edge.api.app import create_app
from edge.api.health_history import DEFAULT_INTERVAL_S
from edge.api.server import ApiServer
from edge.core.clock import WallClock
from edge.core.config import ApiConfig, MinutesConfig
from edge.core.events import PAYLOAD_VERSION, BoxState, LiveEvent, MinutesDone, MinutesProgress, Partial, Segment
from edge.core.live import LiveBus
from edge.core.queues import DropOldestQueue
from edge.llm.engine import LlmResult
from edge.pipeline.control import JobNotFound, MeetingAlreadyRunning, NoMeetingRunning
from edge.pipeline.editing import Editing
from edge.pipeline.file_jobs import CANCELLED
from edge.pipeline.live_relay import LiveRelay
from edge.pipeline.records import Records
from edge.store import Meeting, Store, new_meeting_id

MinutesReply = Mapping[str, Any] | str | Callable[[list[int], list[str]], Mapping[str, Any] | str]


def _unique_meeting_id() -> str:
    # edge.store.new_meeting_id has 16 random bits per second: property tests that create hundreds of
    # meetings a second collide (UNIQUE constraint). Reported; the fake adds bits so API tests test the API.
    return f"{new_meeting_id()}{secrets.token_hex(4)}"


LINE_SEQ = re.compile(r"^\[#(\d+)\] (.*)$", re.M)


def default_minutes_reply(seqs: list[int], texts: list[str]) -> dict[str, Any]:
    """Minutes citing the transcript the prompt showed: what a well-behaved model would answer."""
    return {
        "title": "주간 회의",
        "summary": f"회의에서 {len(seqs)}개의 발언을 정리했습니다.",
        "topics": [{"title": "논의", "summary": texts[0], "evidence": seqs[:6]}],
        "decisions": [{"text": texts[0], "evidence": seqs[:1]}],
        "action_items": [
            {"task": texts[-1], "owner": "unassigned", "due": None, "evidence": seqs[-1:], "confidence": 0.6}
        ],
        "open_questions": [],
    }


class ScriptedMinutesEngine:
    """Stands in for edge.llm.engine.LlmEngine: four characters a token, a context window that fits any test
    meeting, and an answer from `reply` (a document, raw text, or a function of the prompt's seqs and
    texts) streamed three characters at a time. With `gate`, it waits halfway through each answer
    until the gate opens, so a test can watch the progress of a generation."""

    n_ctx = 1_000_000

    def __init__(self, reply: MinutesReply, gate: threading.Event | None = None) -> None:
        self.reply = reply
        self.gate = gate

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def count_prompt_tokens(self, messages: Sequence[Mapping[str, str]]) -> int:
        return sum(self.count_tokens(m["content"]) + 4 for m in messages)

    def chat_json(self, messages: Sequence[Mapping[str, str]], schema: Mapping[str, Any], *, max_tokens: int,
                  temperature: float = 0.0, on_token: Callable[[str], None] | None = None) -> LlmResult:  # fmt: skip
        lines = LINE_SEQ.findall(messages[-1]["content"])
        seqs, texts = [int(seq) for seq, _ in lines], [text for _, text in lines]
        reply = self.reply(seqs, texts) if callable(self.reply) else self.reply
        text = reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)
        pieces = re.findall(".{1,3}", text, re.DOTALL)
        for index, piece in enumerate(pieces):
            if self.gate is not None and index == len(pieces) // 2:
                self.gate.wait()
            if on_token is not None:
                on_token(piece)
        prompt = self.count_prompt_tokens(messages)
        return LlmResult(text, "stop", prompt, len(pieces))


class FakeBox:
    def __init__(
        self,
        storage_dir: Path,
        *,
        language: str = "ko",
        llm: bool = True,
        minutes_auto: bool = False,
        require_approval: bool = True,
        minutes_reply: MinutesReply = default_minutes_reply,
    ) -> None:
        self.clock = WallClock()
        self.store = Store(Path(storage_dir) / "edge.db", clock=self.clock)
        self.live = LiveBus()
        LiveRelay(self.store, self.live)
        self.records: Records = self.store
        self.editing = Editing(self.store, glossary_changed=self.glossary_changed)
        self.language = language
        self.submitted: list[tuple[str, int]] = []  # (file name, bytes) of each submitted upload
        self.glossary_changes = 0
        self.glossary = self.store.glossary()
        self.llm = llm
        self.minutes_auto = minutes_auto
        self.minutes_config = MinutesConfig(require_approval=require_approval)
        self.minutes_reply = minutes_reply
        self.minutes_gate: threading.Event | None = None  # set to an Event to hold generations halfway
        self.transcripts_ready: list[str] = []
        self.minutes_requests: list[str] = []
        self._minutes_threads: list[threading.Thread] = []
        self._minutes_lock = threading.Lock()  # one generation at a time, like the box's LLM worker
        self._recording: str | None = None
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self.file_jobs: dict[str, dict] = {}  # meeting id -> its job, as Box.jobs() gives it
        self.health_overrides: dict = {}  # fields of health() a test sets (a slow ASR, drops)

    def start_meeting(self, *, title: str = "", language: str | None = None) -> Meeting:
        with self._lock:
            if self._recording is not None:
                raise MeetingAlreadyRunning(f"meeting {self._recording} is recording; stop it first")
            meeting = self.store.create_meeting(
                language=language or self.language, source="pyaudio:fake", title=title, meeting_id=_unique_meeting_id()
            )
            self._recording = meeting.id
        self.live.publish(BoxState(**self.state_fields()))
        return meeting

    def stop_meeting(self, meeting_id: str | None = None) -> Meeting:
        with self._lock:
            if self._recording is None or (meeting_id is not None and meeting_id != self._recording):
                if meeting_id is not None:
                    self.store.meeting(meeting_id)
                raise NoMeetingRunning("no meeting is recording")
            meeting_id, self._recording = self._recording, None
        meeting = self.store.end_meeting(meeting_id)
        self.live.publish(BoxState(**self.state_fields()))
        self.transcript_ready(meeting_id)
        return meeting

    def submit_file(self, path: Path, *, title: str = "", language: str | None = None) -> Meeting:
        path = Path(path)
        meeting = self.store.create_meeting(
            language=language or self.language,
            source=f"file:{path.name}",
            title=title,
            status="processing",
            meeting_id=_unique_meeting_id(),
        )
        self.submitted.append((path.name, path.stat().st_size))
        path.unlink()  # the box owns the file and deletes it when done
        with self._lock:
            self.file_jobs[meeting.id] = {
                "meeting_id": meeting.id, "title": meeting.title, "state": "waiting" if self.file_jobs else "running",
                "duration_s": None, "decoded_s": 0.0, "progress": 0.0,
            }  # fmt: skip
        return meeting

    def jobs(self) -> list[dict]:
        with self._lock:
            return [dict(job) for job in self.file_jobs.values()]

    def set_job_progress(self, meeting_id: str, decoded_s: float, duration_s: float) -> None:
        with self._lock:
            self.file_jobs[meeting_id].update(decoded_s=decoded_s, duration_s=duration_s,
                                              progress=decoded_s / duration_s)  # fmt: skip

    def cancel_job(self, meeting_id: str) -> Meeting:
        with self._lock:
            job = self.file_jobs.pop(meeting_id, None)
        if job is None:
            meeting = self.store.meeting(meeting_id)
            raise JobNotFound(f"meeting {meeting_id!r} is {meeting.status}, not being transcribed: nothing to cancel")
        meeting = self.store.end_meeting(meeting_id, status="failed", error=CANCELLED)
        self.live.publish(BoxState(**self.state_fields()))
        return meeting

    def state_fields(self) -> dict:
        with self._lock:
            recording = self._recording
        return {"state": "recording" if recording else "idle", "meeting_id": recording}

    def state(self) -> dict:
        return BoxState(**self.state_fields()).to_payload()

    def health(self) -> dict:
        return {
            "v": PAYLOAD_VERSION,
            "status": "ok",
            "state": self.state()["state"],
            "uptime_s": round(time.monotonic() - self._started, 1),
            "rtf": 0.25,
            "queues": {"asr_pending": 0},
            "drops": {"asr_utterances": 0},
            "outbox_backlog": self.store.outbox_backlog(),
            **self.health_overrides,
        }

    def subscribe_live(self) -> AbstractContextManager[DropOldestQueue[LiveEvent]]:
        return self.live.subscribe()

    def glossary_changed(self) -> None:
        # What the real box does on this call: re-read the glossary from the store.
        self.glossary_changes += 1
        self.glossary = self.store.glossary()

    def transcript_ready(self, meeting_id: str) -> None:
        self.transcripts_ready.append(meeting_id)
        if self.minutes_auto:
            self.request_minutes(meeting_id)

    def request_minutes(self, meeting_id: str) -> None:
        self.store.meeting(meeting_id)
        if not self.llm:  # what the box does without an LLM: the extractive minutes, at once
            from edge.minutes.generate import write_extractive_minutes

            outcome = write_extractive_minutes(
                self.store, meeting_id, config=self.minutes_config, glossary=self.glossary
            )
            self.live.publish(MinutesDone(meeting_id, outcome.status, outcome.error))
            return
        self.minutes_requests.append(meeting_id)
        thread = threading.Thread(target=self._write_minutes, args=(meeting_id,), name="fake-llm", daemon=True)
        self._minutes_threads.append(thread)
        thread.start()

    def ask(self, meeting_id: str, question: str) -> Any:
        """As the box answers without an LLM: the best-matching lines of the real retrieval."""
        from edge.minutes.ask import ask

        started_at = self.store.meeting(meeting_id).started_at
        return ask(self.store.segments(meeting_id, limit=100_000), question, started_at=started_at)

    def minutes_queue(self, meeting_id: str) -> dict | None:
        """As the box's LLM worker reports it: a generation held at the gate is running."""
        if any(t.is_alive() for t in self._minutes_threads) and meeting_id in self.minutes_requests[-1:]:
            return {"running": True, "ahead": [], "waiting_for": None}
        return None

    def _write_minutes(self, meeting_id: str) -> None:
        from edge.minutes.generate import generate_minutes

        with self._minutes_lock:
            outcome = generate_minutes(
                self.store, ScriptedMinutesEngine(self.minutes_reply, self.minutes_gate), meeting_id,  # type: ignore[arg-type]
                config=self.minutes_config, glossary=self.glossary,
                progress=lambda event: self.live.publish(MinutesProgress(**event)), model_name="scripted.gguf",
            )  # fmt: skip
        self.live.publish(MinutesDone(meeting_id, outcome.status, outcome.error))

    def wait_for_minutes(self, timeout: float = 30.0) -> None:
        """Block until every requested generation has finished."""
        for thread in list(self._minutes_threads):
            thread.join(timeout)
            assert not thread.is_alive(), "a scripted minutes generation did not finish"

    # what the pipeline would do

    @property
    def recording_id(self) -> str | None:
        return self._recording

    def inject_partial(self, text: str, *, meeting_id: str | None = None) -> None:
        self.live.publish(Partial(meeting_id or self._recording, 0, 0, 0, "", text))  # type: ignore[arg-type]

    def inject_segment(
        self, text: str, *, meeting_id: str | None = None, t0_ms: int | None = None, speaker: str | None = None
    ) -> Segment:
        meeting_id = meeting_id or self._recording
        if meeting_id is None:
            raise NoMeetingRunning("start a meeting before injecting segments")
        start = t0_ms if t0_ms is not None else self.store.segment_count(meeting_id) * 2000
        return self.store.add_segment(  # the store's change event reaches the live bus through the relay
            meeting_id, t0_ms=start, t1_ms=start + 1500, text_raw=text, language=self.language, confidence=0.9,
            speaker=speaker,
        )

    def close(self) -> None:
        if self.minutes_gate is not None:
            self.minutes_gate.set()
        for thread in self._minutes_threads:
            thread.join(30)
        self.store.close()


@contextmanager
def serving(
    box: FakeBox, token: str, *, max_upload_mb: float = 200.0, health_sample_s: float = DEFAULT_INTERVAL_S
) -> Iterator[ApiServer]:
    """The box's API on a free loopback port, served by uvicorn through ApiServer."""
    app = create_app(box, ApiConfig(max_upload_mb=max_upload_mb), token, health_sample_s=health_sample_s)
    server = ApiServer(app, "127.0.0.1", 0)
    server.start()
    try:
        yield server
    finally:
        server.stop()

API_TOKEN = "api-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def sse_events(response) -> Iterator[tuple[str, dict]]:
    """(event, data) pairs of a Server-Sent Events response (an httpx streaming response)."""
    kind, data = "", []
    for line in response.iter_lines():
        if line.startswith("event:"):
            kind = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").strip())
        elif not line and data:
            yield kind, json.loads("\n".join(data))
            kind, data = "", []
