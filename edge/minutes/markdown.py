"""Minutes as Markdown that reads well: headings, summary, topics, decisions, a to-do table with
owner, due date and evidence links, open questions, uncovered parts, and the cited transcript lines.

Labels are Korean for a Korean meeting, English otherwise. Evidence links look like
`[#12 00:01:02](#seq-12)` and point at the "cited lines" section at the end, where each cited
segment has an anchor, its timestamp and its text. Every piece of meeting or model text is
untrusted: Markdown and HTML syntax in it is escaped and it is kept on one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from edge.core.events import Segment
from edge.minutes.extractive import EXTRACTIVE_MODEL
from edge.minutes.schema import UNASSIGNED, Minutes

LABELS = {
    "ko": {
        "title": "회의록",
        "meeting": "회의",
        "date": "일시",
        "attendees": "참석자",
        "status": "상태",
        "summary": "요약",
        "topics": "논의 주제",
        "decisions": "결정 사항",
        "actions": "할 일",
        "questions": "미해결 질문",
        "gaps": "요약되지 않은 구간",
        "evidence": "근거 발언",
        "none": "없음",
        "unassigned": "미정",
        "no_due": "—",
        "table": ("#", "할 일", "담당", "기한", "근거", "신뢰도"),
        "gap_line": "{range} ({times}) 요약하지 못했습니다: {reason}",
        "draft": "초안 (승인 전)",
        "approved": "승인됨",
        "published": "게시됨",
        "generating": "작성 중",
        "failed": "실패",
        "written_by": "작성",
        "extractive": "추출 방식 (LLM 없이 발언에서 규칙으로 뽑음, 각 항목의 근거를 확인하세요)",
    },
    "en": {
        "title": "Minutes",
        "meeting": "Meeting",
        "date": "Date",
        "attendees": "Attendees",
        "status": "Status",
        "summary": "Summary",
        "topics": "Topics",
        "decisions": "Decisions",
        "actions": "Action items",
        "questions": "Open questions",
        "gaps": "Not summarized",
        "evidence": "Cited lines",
        "none": "None",
        "unassigned": "unassigned",
        "no_due": "—",
        "table": ("#", "Task", "Owner", "Due", "Evidence", "Confidence"),
        "gap_line": "{range} ({times}) could not be summarized: {reason}",
        "draft": "draft (awaiting approval)",
        "approved": "approved",
        "published": "published",
        "generating": "being written",
        "failed": "failed",
        "written_by": "Written by",
        "extractive": "extraction (taken by rules from the transcript, no LLM; check each item's evidence)",
    },
}

_SPECIAL = re.compile(r"([\\`*_\[\]{}<>#|~&!])")
_BLOCK_START = re.compile(r"^(?:[-+=]|\d+(?=[.)]))")


def escape_inline(text: str) -> str:
    """Untrusted text as literal Markdown on one line (also safe inside a table cell)."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def escape_block(text: str) -> str:
    """Like escape_inline, and a paragraph that starts like a list item or rule stays a paragraph."""
    text = escape_inline(text)
    match = _BLOCK_START.match(text)
    if match is None:
        return text
    if match.group().isdigit():
        return text[: match.end()] + "\\" + text[match.end() :]
    return "\\" + text


def clock(ms: int) -> str:
    hours, rest = divmod(max(ms, 0) // 1000, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}"


def _labels(language: str) -> dict:
    return LABELS["ko"] if (language or "").lower().startswith("ko") else LABELS["en"]


def _evidence_links(seqs: Iterable[int], segments: Mapping[int, Segment]) -> str:
    links = []
    for seq in seqs:
        segment = segments.get(seq)
        stamp = f" {clock(segment.t0_ms)}" if segment is not None else ""
        links.append(f"[#{seq}{stamp}](#seq-{seq})")
    return ", ".join(links)


def render_minutes_markdown(
    minutes: Minutes,
    segments: Sequence[Segment] | Mapping[int, Segment] = (),
    *,
    started_at: str | None = None,
    attendees: Sequence[str] = (),
    status: str | None = None,
) -> str:
    """The whole document. `segments` (the meeting's, or at least the cited ones) give timestamps
    and the cited-lines section; `status` adds a status line (for drafts awaiting approval)."""
    by_seq = segments if isinstance(segments, Mapping) else {s.seq: s for s in segments}
    label = _labels(minutes.language)
    out: list[str] = [f"# {escape_inline(minutes.title) or label['title']}", ""]
    meta = [f"- {label['meeting']}: {escape_inline(minutes.meeting_id)}"]
    if started_at:
        meta.append(f"- {label['date']}: {escape_inline(started_at)}")
    if attendees:
        meta.append(f"- {label['attendees']}: {', '.join(escape_inline(name) for name in attendees)}")
    if status:
        meta.append(f"- {label['status']}: {label.get(status, escape_inline(status))}")
    if minutes.model.startswith(EXTRACTIVE_MODEL):
        meta.append(f"- {label['written_by']}: {label['extractive']}")
    out += [*meta, ""]

    out += [f"## {label['summary']}", "", escape_block(minutes.summary), ""]

    out += [f"## {label['topics']}", ""]
    if minutes.topics:
        for topic in minutes.topics:
            detail = f": {escape_inline(topic.summary)}" if topic.summary else ""
            out.append(f"- **{escape_inline(topic.title)}**{detail} ({_evidence_links(topic.evidence, by_seq)})")
    else:
        out.append(f"- {label['none']}")
    out.append("")

    out += [f"## {label['decisions']}", ""]
    if minutes.decisions:
        for number, decision in enumerate(minutes.decisions, start=1):
            out.append(f"{number}. {escape_inline(decision.text)} ({_evidence_links(decision.evidence, by_seq)})")
    else:
        out.append(f"- {label['none']}")
    out.append("")

    out += [f"## {label['actions']}", ""]
    if minutes.action_items:
        header = label["table"]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "|".join(["---:", "---", "---", "---", "---", "---:"]) + "|")
        for number, item in enumerate(minutes.action_items, start=1):
            owner = label["unassigned"] if item.owner == UNASSIGNED else escape_inline(item.owner)
            due = escape_inline(item.due) if item.due else label["no_due"]
            cells = [
                str(number),
                escape_inline(item.task),
                owner,
                due,
                _evidence_links(item.evidence, by_seq),
                f"{item.confidence:.0%}",
            ]
            out.append("| " + " | ".join(cells) + " |")
    else:
        out.append(f"- {label['none']}")
    out.append("")

    out += [f"## {label['questions']}", ""]
    if minutes.open_questions:
        for question in minutes.open_questions:
            out.append(f"- {escape_inline(question.text)} ({_evidence_links(question.evidence, by_seq)})")
    else:
        out.append(f"- {label['none']}")
    out.append("")

    if minutes.gaps:
        out += [f"## {label['gaps']}", ""]
        for gap in minutes.gaps:
            line = label["gap_line"].format(
                range=f"#{gap.first_seq}–#{gap.last_seq}",
                times=f"{clock(gap.t0_ms)}–{clock(gap.t1_ms)}",
                reason=escape_inline(gap.reason),
            )
            out.append(f"- {line}")
        out.append("")

    cited = sorted(minutes.cited_seqs())
    if cited:
        out += [f"## {label['evidence']}", ""]
        for seq in cited:
            segment = by_seq.get(seq)
            if segment is None:
                out.append(f'- <a id="seq-{seq}"></a>**[#{seq}]**')
                continue
            text = escape_inline(segment.display_text)
            out.append(f'- <a id="seq-{seq}"></a>**[#{seq} {clock(segment.t0_ms)}]** {text}')
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
