"""Markdown export of minutes: reads well for a Korean meeting, links evidence, escapes untrusted text."""

from __future__ import annotations

import re
from typing import Any

from synth_korean_meeting import small_meeting_fields

from edge.core.events import Segment
from edge.minutes.markdown import escape_block, escape_inline, render_minutes_markdown
from edge.minutes.schema import Minutes

SEGMENTS = [
    Segment("m1", seq, f["t0_ms"], f["t1_ms"], f["text_raw"], "ko") for seq, f in enumerate(small_meeting_fields())
]


def minutes(**changes: Any) -> Minutes:
    data: dict[str, Any] = {
        "meeting_id": "m1",
        "language": "ko",
        "title": "주간 인프라 회의",
        "summary": "Kubernetes 업그레이드 현황을 점검했습니다.",
        "topics": [{"title": "클러스터 업그레이드", "summary": "스테이징은 1.30 완료", "evidence": [1, 2]}],
        "decisions": [{"text": "운영 업그레이드는 재시작 문제 해결 후 진행", "evidence": [4]}],
        "action_items": [
            {"task": "파드 재시작 원인 정리", "owner": "박지훈", "due": "다음 주 수요일", "evidence": [5, 6]},
            {"task": "알림 기준 검토", "owner": "unassigned", "due": None, "evidence": [7], "confidence": 0.4},
        ],
        "open_questions": [{"text": "알림 기준은 누가 정하나?", "evidence": [8]}],
    }
    data["action_items"][0]["confidence"] = 0.9
    data.update(changes)
    return Minutes.model_validate(data)


def test_korean_minutes_have_korean_headings_a_todo_table_and_evidence_links() -> None:
    text = render_minutes_markdown(minutes(), SEGMENTS, attendees=["김민수", "이지은", "박지훈"], status="draft")
    lines = text.splitlines()
    assert lines[0] == "# 주간 인프라 회의"
    for heading in ("## 요약", "## 논의 주제", "## 결정 사항", "## 할 일", "## 미해결 질문", "## 근거 발언"):
        assert heading in lines
    assert "- 참석자: 김민수, 이지은, 박지훈" in lines
    assert "- 상태: 초안 (승인 전)" in lines
    assert "| # | 할 일 | 담당 | 기한 | 근거 | 신뢰도 |" in lines
    assert (
        "| 1 | 파드 재시작 원인 정리 | 박지훈 | 다음 주 수요일 | [#5 00:00:30](#seq-5), [#6 00:00:36](#seq-6) | 90% |"
        in lines
    )
    assert "| 2 | 알림 기준 검토 | 미정 | — | [#7 00:00:41](#seq-7) | 40% |" in lines
    assert "1. 운영 업그레이드는 재시작 문제 해결 후 진행 ([#4 00:00:23](#seq-4))" in lines
    # Every cited segment is quoted once at the end, with the anchor the links point to.
    cited = [line for line in lines if line.startswith('- <a id="seq-')]
    assert [line.split('"')[1] for line in cited] == [f"seq-{n}" for n in (1, 2, 4, 5, 6, 7, 8)]
    assert cited[4].endswith("네 다음 주 수요일까지 정리해서 GitHub 이슈로 올리겠습니다.")
    assert "## 요약되지 않은 구간" not in lines


def test_english_labels_empty_lists_and_gaps() -> None:
    gap = {"first_seq": 3, "last_seq": 9, "t0_ms": 16000, "t1_ms": 66000, "reason": "notes failed: truncated"}
    text = render_minutes_markdown(
        minutes(language="en", topics=[], decisions=[], action_items=[], open_questions=[], gaps=[gap]), SEGMENTS
    )
    assert "## Decisions\n\n- None\n" in text
    assert "## Action items\n\n- None\n" in text
    assert "## Not summarized\n\n- #3–#9 (00:00:16–00:01:06) could not be summarized: notes failed: truncated\n" in text
    assert "Cited lines" not in text


def test_untrusted_text_is_escaped_and_kept_on_one_line() -> None:
    hostile = '<script>alert(1)</script> | [x](http://evil) **b** # h\n\n## 가짜 제목 `code` &lt;'
    text = render_minutes_markdown(
        minutes(
            title=hostile,
            summary="- 목록처럼 보이는 요약",
            action_items=[{"task": hostile, "owner": "a|b", "evidence": [1], "confidence": 1}],
        ),
        [Segment("m1", 1, 0, 1000, "<img src=x onerror=alert(1)>", "ko")],
    )
    ours = re.sub(r'<a id="seq-\d+"></a>', "", text)
    assert not re.search(r"(?<!\\)<", ours), "an unescaped < would let HTML through"
    assert not re.search(r"(?<!\\)\]\(http", text), "an unescaped ](...) would make a link"
    assert "\\<script\\>" in text and "\\[x\\](http://evil)" in text
    assert "## 가짜 제목" not in text.splitlines()
    assert "\\&lt;" in text
    assert "\n\\- 목록처럼 보이는 요약\n" in text
    row = next(line for line in text.splitlines() if line.startswith("| 1 |"))
    assert row.count(" | ") == 5  # the cell's own | are escaped
    assert "a\\|b" in row


def test_escape_helpers() -> None:
    assert escape_inline("a_b*c\n d") == "a\\_b\\*c d"
    assert escape_block("1. 첫째") == "1\\. 첫째"
    assert escape_block("  + 항목") == "\\+ 항목"
