"""The real box (edge.app.Box) writes minutes with real llama.cpp (the fixture model stories260K) on its
LLM worker when a transcript is ready: progress is published on the live bus while it works, and the
end is a schema-valid record or a clear failure with its reason. Minutes cut off by a stop are written
at the next start. The API and MQTT are off; whisper (a random-weight tiny model) only has to load."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from english_meeting import VTT

from edge.app import Box
from edge.core.config import Config
from edge.core.live import LiveEvent
from edge.core.queues import DropOldestQueue
from edge.minutes.schema import validate_minutes
from edge.transcripts.importing import import_transcript

PROGRESS_KEYS = {"meeting_id", "stage", "done", "total", "partial", "attempt"}
WAIT_S = 120  # an upper bound for a stuck worker, not a performance expectation


def box_config(tmp_path: Path, fixture_file: Callable[[str], Path], whisper: Path, **minutes: Any) -> Config:
    return Config.model_validate(
        {
            "storage": {"path": str(tmp_path / "data")},
            "api": {"enabled": False},
            "mqtt": {"enabled": False},
            "asr": {"model_path": str(whisper), "threads": 1, "language": "en"},
            "vad": {"model_path": str(fixture_file("models/silero_vad_v6.2.onnx"))},
            # Correction off: these tests are about minutes; stories260K's "corrections" are noise.
            "llm": {"model_path": str(fixture_file("models/stories260K.gguf")), "threads": 1, "n_ctx": 2048,
                    "correction": False},
            "minutes": minutes,
        }
    )  # fmt: skip


@pytest.fixture
def make_box(
    tmp_path: Path, fixture_file: Callable[[str], Path], random_whisper_tiny: Path
) -> Iterator[Callable[..., Box]]:
    boxes: list[Box] = []

    def make(**minutes: Any) -> Box:
        box = Box(box_config(tmp_path / f"box{len(boxes)}", fixture_file, random_whisper_tiny, **minutes))
        boxes.append(box)
        return box

    yield make
    for box in boxes:
        box.close()


def until_minutes_done(queue: DropOldestQueue[LiveEvent], count: int) -> tuple[list[dict], list[dict]]:
    """(progress events, end events) from the live bus until `count` generations have ended."""
    progress: list[dict] = []
    ends: list[dict] = []
    while len(ends) < count:
        event = queue.get(timeout=WAIT_S)
        if event.kind == "minutes_progress":
            progress.append(event.to_payload())
        elif event.kind == "minutes":
            ends.append(event.to_payload())
    assert queue.dropped == 0
    return progress, ends


def assert_valid(box: Box, meeting_id: str, status: str) -> None:
    """stories260K writes schema-valid JSON that says nothing checkable: the quality gate rejects it and
    the extractive minutes stand in, with the reason."""
    record = box.store.minutes(meeting_id)
    assert record is not None and record.status == status, record
    assert record.llm_calls >= 1 and record.error is not None
    assert "the model's minutes said nothing that can be checked" in record.error
    known = {segment.seq for segment in box.store.segments(meeting_id)}
    minutes = validate_minutes(record.minutes, meeting_id=meeting_id, known_seqs=known)
    assert minutes.cited_seqs() <= known
    assert (minutes.model, minutes.language) == ("extractive", "en")


def test_a_ready_transcript_gets_minutes_with_live_progress(make_box: Callable[..., Box]) -> None:
    box = make_box(require_approval=True)
    # A generation cut off by a stop (power loss, restart) is left 'generating'; the next start redoes it.
    interrupted = import_transcript(box.store, VTT, name="interrupted.vtt", language="en").meeting.id
    box.store.save_minutes(interrupted, status="generating")
    with box.live.subscribe() as queue:
        box.open()
        meeting_id = import_transcript(box.store, VTT, name="weekly.vtt", language="en").meeting.id
        box.transcript_ready(meeting_id)
        progress, ends = until_minutes_done(queue, 2)

    assert sorted(end["meeting_id"] for end in ends) == sorted([interrupted, meeting_id])
    assert all(set(end) == {"v", "meeting_id", "status", "error"} and end["status"] == "draft" for end in ends)
    for meeting in (interrupted, meeting_id):
        events = [p for p in progress if p["meeting_id"] == meeting]
        assert events and all(set(p) == PROGRESS_KEYS for p in events)
        assert {p["stage"] for p in events} <= {"final", "repair"}
        assert any(p["partial"].lstrip().startswith("{") for p in events)  # the output, while it is written
        assert_valid(box, meeting, "draft")
    assert box.health()["llm"]["failed"] == 0


def test_minutes_the_llm_cannot_write_become_the_extractive_draft_with_the_reason(
    make_box: Callable[..., Box],
) -> None:
    box = make_box(output_tokens=32, max_attempts=2)  # too few tokens for any document: always truncated
    with box.live.subscribe() as queue:
        box.open()
        meeting_id = import_transcript(box.store, VTT, name="weekly.vtt", language="en").meeting.id
        box.request_minutes(meeting_id)
        progress, [end] = until_minutes_done(queue, 1)
    record = box.store.minutes(meeting_id)
    assert record is not None and record.status == "draft" and record.minutes["model"] == "extractive"
    assert "the model's answer was cut off; these are the extractive minutes instead" in record.error
    assert record.error.endswith("[detail: the minutes failed validation after 2 attempts: truncated]")
    assert [(a["owner"], a["evidence"]) for a in record.minutes["action_items"]] == [("Tom", [4, 5])]
    assert end == {"v": 1, "meeting_id": meeting_id, "status": "draft", "error": record.error}
    assert [p["attempt"] for p in progress if p["partial"] == "" and p["stage"] == "repair"] == [2]
    assert box.health()["minutes"] == {"written": 0, "extractive": 1, "llm_failed": 1, "failed": 0}


def test_without_an_llm_the_extractive_minutes_are_written_at_once(
    tmp_path: Path, fixture_file: Callable[[str], Path], random_whisper_tiny: Path
) -> None:
    config = box_config(tmp_path, fixture_file, random_whisper_tiny)
    config.llm.model_path = None
    box = Box(config)
    try:
        with box.live.subscribe() as queue:
            meeting_id = import_transcript(box.store, VTT, name="weekly.vtt", language="en").meeting.id
            box.transcript_ready(meeting_id)  # minutes.auto: the extractive minutes, no LLM
            _, [end] = until_minutes_done(queue, 1)
        record = box.store.minutes(meeting_id)
        assert record is not None and record.status == "published" == end["status"]
        assert record.minutes["model"] == "extractive" and record.minutes["decisions"]
        assert record.error is not None and record.error.startswith("LLM이 설정되지 않았습니다.")
        assert box.health()["minutes"] == {"written": 0, "extractive": 1, "llm_failed": 0, "failed": 0}
    finally:
        box.close()


def test_asking_a_box_runs_on_its_llm_worker_and_cites_the_meeting(make_box: Callable[..., Box]) -> None:
    box = make_box(auto=False)
    box.open()
    meeting_id = import_transcript(box.store, VTT, name="weekly.vtt", language="en").meeting.id
    answer = box.ask(meeting_id, "Who finds the cause of the restarts?")
    known = {segment.seq for segment in box.store.segments(meeting_id)}
    assert answer.citations and set(answer.citations) <= {hit.seq for hit in answer.hits} <= known
    assert answer.model == "stories260K.gguf" and answer.attempts >= 1  # the model was asked
    assert answer.source == "llm" or answer.rejected
    assert box.health()["llm"]["done"] >= 1


def test_asking_a_box_without_an_llm_gives_the_best_lines(
    tmp_path: Path, fixture_file: Callable[[str], Path], random_whisper_tiny: Path
) -> None:
    config = box_config(tmp_path, fixture_file, random_whisper_tiny)
    config.llm.model_path = None
    box = Box(config)
    try:
        meeting_id = import_transcript(box.store, VTT, name="weekly.vtt", language="en").meeting.id
        answer = box.ask(meeting_id, "Who finds the cause of the restarts?")
        assert answer.source == "retrieval" and answer.note == "No LLM is configured"
        assert answer.citations[0] == 4 and "owner: Tom" in answer.answer
    finally:
        box.close()


def test_a_question_the_busy_llm_cannot_take_in_time_gets_the_best_lines_saying_why(
    make_box: Callable[..., Box],
) -> None:
    box = make_box(auto=False)
    box.open()
    meeting_id = import_transcript(box.store, VTT, name="weekly.vtt", language="en").meeting.id
    gate = threading.Event()
    assert box.llm.worker is not None
    running = threading.Event()
    box.llm.worker.submit("minutes:other", lambda engine: (running.set(), gate.wait(WAIT_S)), when_quiet=False)
    assert running.wait(WAIT_S)
    try:
        answer = box.llm.ask(meeting_id, "Who finds the cause of the restarts?", wait_s=0.5)
    finally:
        gate.set()
    assert answer.source == "retrieval" and answer.model == "stories260K.gguf" and answer.attempts == 0
    assert answer.note == (
        "the LLM is busy (minutes:other); no answer within 0.5 s, so the best-matching lines answer."
    )
    assert answer.citations[0] == 4
