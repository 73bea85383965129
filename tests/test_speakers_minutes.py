"""Minutes owners from speakers (issue 11): a named speaker who promises something owns it, an unnamed label
("S2") is nobody, and the LLM reads each line after its speaker's name. Real SQLite store, the real extractive
floor and minutes generator (the scripted engine stands in for llama.cpp only)."""

from __future__ import annotations

from pathlib import Path

from fake_box import ScriptedMinutesEngine

from edge.core.config import MinutesConfig
from edge.core.events import Segment
from edge.minutes.extractive import speaker_and_text
from edge.minutes.generate import generate_minutes, transcript_lines, write_extractive_minutes
from edge.minutes.owners import known_people, speaker_name_of
from edge.minutes.schema import UNASSIGNED
from edge.store import Store

SAID = [
    ("S1", "이번 주 보고서 건을 정리하겠습니다"),
    ("S1", "제가 금요일까지 보고서 올리겠습니다"),
    ("S2", "제가 다음 주 월요일까지 회고 문서를 쓰겠습니다"),
    (None, "네 좋습니다"),
]


def _meeting(store: Store) -> str:
    meeting = store.create_meeting(language="ko", source="pyaudio:test", title="주간 회의",
                                   started_at="2026-12-01T01:00:00.000+00:00")  # fmt: skip
    for seq, (label, text) in enumerate(SAID):
        store.add_segment(meeting.id, t0_ms=seq * 5000, t1_ms=seq * 5000 + 4000, text_raw=text, language="ko",
                          speaker=label)  # fmt: skip
    store.set_speaker_name(meeting.id, "S1", "김민수")
    store.end_meeting(meeting.id)
    return meeting.id


def test_a_named_speaker_owns_what_they_promise_and_an_unnamed_label_owns_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    meeting_id = _meeting(store)
    assert store.attendees(meeting_id) == []  # the owner comes from the speaker alone
    outcome = write_extractive_minutes(store, meeting_id, config=MinutesConfig(require_approval=True))
    assert outcome.minutes is not None
    items = [(item.task, item.owner, item.evidence) for item in outcome.minutes.action_items]
    assert ("금요일까지 보고서 올리겠습니다", "김민수", [1]) in [(t, o, e) for t, o, e in items], items
    [monday] = [item for item in outcome.minutes.action_items if item.evidence == [2]]
    assert monday.owner == UNASSIGNED  # "S2" is a label, not a person
    assert "S2" not in {item.owner for item in outcome.minutes.action_items}
    # Renamed later, the next minutes name that speaker too.
    store.set_speaker_name(meeting_id, "S2", "이지은")
    outcome = write_extractive_minutes(store, meeting_id, config=MinutesConfig(require_approval=True))
    assert outcome.minutes is not None
    assert {tuple(item.evidence): item.owner for item in outcome.minutes.action_items}[(2,)] == "이지은"


def test_the_floor_reads_the_name_and_never_the_label() -> None:
    named = Segment("m", 0, 0, 1000, "제가 하겠습니다", "ko", speaker="S1", speaker_name="김민수")
    unnamed = Segment("m", 1, 0, 1000, "박지훈: 제가 하겠습니다", "ko", speaker="S2")
    assert speaker_and_text(named) == ("김민수", "제가 하겠습니다")
    assert speaker_and_text(unnamed) == ("박지훈", "제가 하겠습니다")  # the text's own label, as before
    assert speaker_name_of(Segment("m", 2, 0, 1, "x", "ko", speaker="S12")) == ""
    assert [p.name for p in known_people(["이지은"], [], ["김민수", "S3", "S1"])] == ["이지은", "김민수"]


def test_the_llm_reads_each_line_after_its_speakers_name_and_its_owner_is_resolved(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    meeting_id = _meeting(store)
    assert [line.render() for line in transcript_lines(store.segments(meeting_id))] == [
        "[#0] 김민수: 이번 주 보고서 건을 정리하겠습니다", "[#1] 김민수: 제가 금요일까지 보고서 올리겠습니다",
        "[#2] 제가 다음 주 월요일까지 회고 문서를 쓰겠습니다", "[#3] 네 좋습니다",
    ]  # fmt: skip
    prompts: list[list[str]] = []

    def reply(seqs: list[int], texts: list[str]) -> dict:
        prompts.append(texts)
        return {
            "title": "주간 회의", "summary": "보고서 일정을 정했습니다.",
            "topics": [{"title": "보고서", "summary": "금요일까지 올립니다", "evidence": [0, 1]}],
            "decisions": [],
            "action_items": [
                {"task": "보고서 올리기", "owner": "김민수", "due": "금요일", "evidence": [1], "confidence": 0.9},
                {"task": "회고 문서 쓰기", "owner": "S2", "due": None, "evidence": [2], "confidence": 0.7},
            ],
            "open_questions": [],
        }  # fmt: skip

    outcome = generate_minutes(store, ScriptedMinutesEngine(reply), meeting_id,  # type: ignore[arg-type]
                               config=MinutesConfig(require_approval=True), model_name="scripted")  # fmt: skip
    assert prompts and prompts[0][1] == "김민수: 제가 금요일까지 보고서 올리겠습니다"
    assert outcome.minutes is not None and not outcome.extractive
    owners = {item.task: item.owner for item in outcome.minutes.action_items}
    assert owners["보고서 올리기"] == "김민수"
    assert owners.get("회고 문서 쓰기", UNASSIGNED) == UNASSIGNED
