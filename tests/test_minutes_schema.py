"""The minutes document: versioned, validated, and checked against the meeting's segments."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edge.minutes.schema import (
    UNASSIGNED,
    ActionItem,
    ChunkNotes,
    Minutes,
    MinutesContent,
    MinutesInvalid,
    validate_minutes,
)


def document(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "v": 1,
        "meeting_id": "m1",
        "language": "ko",
        "title": "주간 인프라 회의",
        "summary": "Kubernetes 업그레이드 일정을 논의했습니다.",
        "topics": [{"title": "클러스터 업그레이드", "summary": "스테이징 완료", "evidence": [2, 1, 2]}],
        "decisions": [{"text": "운영 업그레이드는 재시작 문제 해결 후 진행", "evidence": [4]}],
        "action_items": [
            {
                "task": "재시작 원인 정리",
                "owner": "박지훈",
                "due": "다음 주 수요일",
                "evidence": [5, 6],
                "confidence": 0.8,
            }
        ],
        "open_questions": [{"text": "알림 기준 담당자", "evidence": [8]}],
        "gaps": [],
        "generated_at": "2026-01-01T00:00:00+00:00",
        "model": "qwen2.5-3b-instruct-q4_k_m.gguf",
    }
    data.update(changes)
    return data


def test_a_valid_document_round_trips_with_v_first_and_evidence_normalized() -> None:
    minutes = validate_minutes(document(), meeting_id="m1", known_seqs=range(12))
    assert minutes.topics[0].evidence == [1, 2]
    wire = minutes.to_json_dict()
    assert list(wire)[:5] == ["v", "meeting_id", "language", "title", "summary"]
    assert set(wire) == set(Minutes.model_fields)
    assert validate_minutes(json.dumps(wire, ensure_ascii=False)) == minutes
    assert minutes.cited_seqs() == {1, 2, 4, 5, 6, 8}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"v": 2}, "v"),
        ({"title": "  "}, "title"),
        ({"decisions": [{"text": "x", "evidence": []}]}, "decisions.0.evidence"),
        ({"decisions": [{"text": "x", "evidence": ["4"]}]}, "decisions.0.evidence.0"),
        ({"decisions": [{"text": "x", "evidence": [4], "why": "?"}]}, "decisions.0.why"),
        ({"action_items": [{"task": "t", "evidence": [1], "confidence": 1.5}]}, "action_items.0.confidence"),
        ({"extra": 1}, "extra"),
    ],
)
def test_schema_errors_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(MinutesInvalid) as caught:
        validate_minutes(document(**changes))
    message = str(caught.value)
    assert "\n" not in message
    assert f"minutes do not validate: {field}:" in message


def test_evidence_must_cite_existing_segments_of_the_same_meeting() -> None:
    with pytest.raises(MinutesInvalid, match=r"does not have \(#8\)"):
        validate_minutes(document(), known_seqs=range(8))
    with pytest.raises(MinutesInvalid, match="not 'm2'"):
        validate_minutes(document(), meeting_id="m2")
    with pytest.raises(MinutesInvalid, match="do not validate"):
        validate_minutes("{not json")


def test_item_defaults_owner_unassigned_and_blank_due_is_none() -> None:
    item = ActionItem.model_validate({"task": " 문서 정리 ", "due": "", "evidence": [3]})
    assert (item.task, item.owner, item.due, item.confidence) == ("문서 정리", UNASSIGNED, None, 0.5)
    notes = ChunkNotes.model_validate({})
    assert notes.items() == [] and notes.summary == ""
    with pytest.raises(ValueError):
        MinutesContent.model_validate({"title": "t", "summary": ""})
