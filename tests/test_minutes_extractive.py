"""The extractive minutes (the floor): action items from Korean and English requests and commitments,
owners from the person addressed, the speaker or whoever accepts, due dates normalised against the
meeting day, decisions, topics; procedural talk is not minuted. Real Store in a temp dir for the
saved document and its publishing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from synth_korean_meeting import SMALL_MEETING

from edge.core.config import MinutesConfig
from edge.core.events import Segment
from edge.minutes.due_dates import due_date_of, find_due
from edge.minutes.extractive import EXTRACTIVE_MODEL, extract_minutes, speaker_and_text
from edge.minutes.generate import write_extractive_minutes
from edge.minutes.markdown import render_minutes_markdown
from edge.minutes.schema import UNASSIGNED, validate_minutes
from edge.store import Store

WEDNESDAY = date(2026, 12, 2)
STARTED = "2026-12-02T10:00:00+09:00"


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("지훈 씨 이번 주 금요일까지 부탁해요", date(2026, 12, 4)),
        ("다음 주 수요일에 공유해 주세요", date(2026, 12, 9)),
        ("내일 오전까지 보내 드릴게요", date(2026, 12, 3)),
        ("금요일까지 할게요", date(2026, 12, 4)),
        ("월요일까지 할게요", date(2026, 12, 7)),
        ("월말까지 정리하겠습니다", date(2026, 12, 31)),
        ("다음 달 말까지 끝내죠", date(2027, 1, 31)),
        ("12월 15일까지 올려 주세요", date(2026, 12, 15)),
        ("3월 15일까지 마무리하겠습니다", date(2027, 3, 15)),
        ("다음 주 중으로 해 주세요", date(2026, 12, 11)),
        ("다다음 주 화요일 오후", date(2026, 12, 15)),
        ("모레까지", date(2026, 12, 4)),
        ("이틀 안에 확인하겠습니다", date(2026, 12, 4)),
        ("Can you update it by Friday?", date(2026, 12, 4)),
        ("I'll send it next Tuesday", date(2026, 12, 8)),
        ("by the end of the month", date(2026, 12, 31)),
        ("tomorrow morning", date(2026, 12, 3)),
        ("within two weeks", date(2026, 12, 16)),
        ("by December 18th", date(2026, 12, 18)),
    ],
)
def test_due_expressions_become_dates_against_the_meeting_day(said: str, expected: date) -> None:
    due = find_due(said, WEDNESDAY)
    assert due is not None and due.date == expected, due
    assert due_date_of(due.render(), WEDNESDAY) == expected


def test_a_deadline_without_a_day_is_kept_as_said_and_no_deadline_is_none() -> None:
    due = find_due("다음 스프린트 시작 전까지 정리해 주세요", WEDNESDAY)
    assert due is not None and due.date is None and due.render() == "다음 스프린트 시작 전까지"
    assert find_due("이건 좀 더 데이터를 모아서 보면 좋겠어요", WEDNESDAY) is None
    assert find_due("내일 오전까지", None) is not None and find_due("내일 오전까지", None).date is None  # type: ignore[union-attr]


def segments(lines: list[tuple[str, str]], language: str = "ko") -> list[Segment]:
    return [
        Segment("m", seq, seq * 5000, seq * 5000 + 4000, f"{speaker}: {text}" if speaker else text, language)
        for seq, (speaker, text) in enumerate(lines)
    ]


def test_korean_requests_commitments_and_decisions_with_owners_and_dues() -> None:
    floor = extract_minutes(
        segments([(speaker, text) for speaker, _, text in SMALL_MEETING]),
        language="ko", started_at=STARTED, title="주간 인프라 회의", glossary_terms=["Kubernetes", "Jira", "GitHub"],
    )  # fmt: skip
    content = floor.content
    items = [(a.owner, a.due, a.evidence) for a in content.action_items]
    assert items == [
        ("박지훈", "2026-12-09 (다음 주 수요일까지)", [5, 6]),  # asked by name, accepted in the next line
        ("이지은", "2026-12-04 (이번 주 금요일까지)", [10, 11]),
    ]
    assert [d.evidence for d in content.decisions] == [[4]]
    assert [t.title for t in content.topics] == ["Kubernetes 클러스터 업그레이드", "Jira 티켓 정리"]
    assert [q.evidence for q in content.open_questions] == [[8]]
    assert content.title == "주간 인프라 회의 — 추출 회의록" and "추출 회의록" in content.summary


def test_owner_is_the_speaker_of_a_commitment_or_whoever_accepts_an_open_request() -> None:
    content = extract_minutes(
        segments([
            ("김민수", "네 그럼 시작하겠습니다."),
            ("박지훈", "제가 내일 오전까지 배포 스크립트를 고쳐 놓겠습니다."),
            ("김민수", "잠시만 기다려 주세요 화면 공유가 안 되네요."),
            ("김민수", "고객사 견적서는 누가 좀 월말까지 정리해 주세요."),
            ("정수진", "네 제가 맡을게요."),
            ("이지은", "음 그 부분은 저도 잘 모르겠네요 확인해 보겠습니다."),
            ("최영호", "그럼 로그 보관 기간은 90일로 가죠."),
            ("김민수", "네 좋습니다 다음 안건으로 넘어가겠습니다."),
        ]),
        language="ko", started_at=STARTED,
    ).content  # fmt: skip
    assert [(a.owner, a.due, a.evidence) for a in content.action_items] == [
        ("박지훈", "2026-12-03 오전 (내일 오전까지)", [1]),
        ("정수진", "2026-12-31 (월말까지)", [3, 4]),
    ]
    assert [d.evidence for d in content.decisions] == [[6]]


def test_english_requests_commitments_and_decisions() -> None:
    content = extract_minutes(
        segments([
            ("Alex", "Okay, let's start. First topic is the release checklist."),
            ("Alex", "Maria, can you update the checklist by Friday?"),
            ("Maria", "Sure, will do."),
            ("Ben", "I'll send the invoice to the customer tomorrow morning."),
            ("Ben", "I'll share my screen."),
            ("Alex", "Let's go with the blue-green deployment."),
            ("Alex", "Could you repeat that?"),
        ], "en"),
        language="en", started_at=STARTED,
    ).content  # fmt: skip
    assert [(a.owner, a.due, a.evidence) for a in content.action_items] == [
        ("Maria", "2026-12-04 (by Friday)", [1, 2]),
        ("Ben", "2026-12-03 morning (tomorrow morning)", [3]),
    ]
    assert [d.text for d in content.decisions] == ["Let's go with the blue-green deployment."]
    assert content.title.endswith("extractive minutes")


@dataclass(frozen=True)
class SpokenSegment:
    """A segment with a speaker of its own (diarized), no label in the text."""

    seq: int
    t0_ms: int
    display_text: str
    speaker: str


def test_a_speaker_field_names_the_owner_and_unknown_people_stay_unassigned() -> None:
    spoken = [
        SpokenSegment(0, 0, "제가 다음 주 월요일까지 회고 문서를 쓰겠습니다.", "이지은"),
        SpokenSegment(1, 5000, "이 보고서는 금요일까지 누가 좀 정리해 주세요.", "김민수"),
    ]
    assert speaker_and_text(spoken[0]) == ("이지은", "제가 다음 주 월요일까지 회고 문서를 쓰겠습니다.")
    content = extract_minutes(spoken, language="ko", attendees=["김민수", "이지은"], started_at=STARTED).content
    assert [(a.owner, a.due) for a in content.action_items] == [
        ("이지은", "2026-12-07 (다음 주 월요일까지)"),
        (UNASSIGNED, "2026-12-04 (금요일까지)"),
    ]


def test_saved_as_minutes_of_the_same_schema_draft_then_published_on_approval(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    try:
        meeting = store.create_meeting(language="ko", source="test", title="주간 인프라 회의")
        store.add_segments(meeting.id, [
            {"t0_ms": s * 1000, "t1_ms": s * 1000 + 4000, "text_raw": f"{who}: {text}", "language": "ko"}
            for who, s, text in SMALL_MEETING
        ])  # fmt: skip
        outcome = write_extractive_minutes(store, meeting.id, config=MinutesConfig(require_approval=True))
        record = store.minutes(meeting.id)
        assert record is not None and record.status == "draft" == outcome.status and outcome.extractive
        assert record.error is not None and record.error.startswith("LLM이 설정되지 않았습니다")
        minutes = validate_minutes(record.minutes, meeting_id=meeting.id, known_seqs=range(len(SMALL_MEETING)))
        assert minutes.model == EXTRACTIVE_MODEL and len(minutes.action_items) == 2
        assert store.pending_outbox() == [] or all(m.kind != "minutes" for m in store.pending_outbox())

        store.approve_minutes(meeting.id)
        [published] = [m.payload for m in store.pending_outbox(limit=1000) if m.kind == "minutes"]
        assert published["model"] == EXTRACTIVE_MODEL and published["action_items"][0]["owner"] == "박지훈"
        markdown = render_minutes_markdown(minutes, store.segments(meeting.id))
        assert "- 작성: 추출 방식" in markdown and "| 박지훈 | 2026-12-09 (다음 주 수요일까지) |" in markdown
    finally:
        store.close()


def test_an_empty_meeting_fails_with_its_reason(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    try:
        meeting = store.create_meeting(language="ko", source="test")
        outcome = write_extractive_minutes(store, meeting.id, config=MinutesConfig())
        assert outcome.status == "failed"
        assert outcome.error == "the meeting has no transcript text to write minutes from"
    finally:
        store.close()


def test_an_acknowledged_promise_stays_one_item_of_the_one_who_promised() -> None:
    content = extract_minutes(
        segments([
            ("최영호", "제가 다음 주 월요일까지 Grafana 알림 규칙을 정리하겠습니다."),
            ("정수진", "네 알겠습니다 제가 맡을게요."),
            ("김민수", "네 좋습니다."),
        ]),
        language="ko", started_at=STARTED,
    ).content  # fmt: skip
    assert [(a.owner, a.due, a.evidence) for a in content.action_items] == [
        ("최영호", "2026-12-07 (다음 주 월요일까지)", [0, 1])
    ]


def test_agenda_lines_name_topics_and_talk_about_the_agenda_does_not() -> None:
    content = extract_minutes(
        segments([
            ("김민수", "네 그럼 시작하겠습니다 오늘 안건은 모두 10개입니다."),
            ("김민수", "첫 번째 안건은 배포 파이프라인 개선입니다."),
            ("김민수", "그럼 이 안건은 여기까지 하겠습니다."),
            ("김민수", "네 그럼 다음 안건으로 넘어가겠습니다."),
            ("김민수", "다음 안건은 보안 점검입니다."),
        ]),
        language="ko", started_at=STARTED,
    ).content  # fmt: skip
    assert [(t.title, t.evidence) for t in content.topics] == [("배포 파이프라인 개선", [1]), ("보안 점검", [4])]
    assert content.action_items == [] and content.decisions == []
