"""Deadlines as people say them ("이번 주 금요일까지", "다음 주 수요일", "내일 오전", "by Friday",
"end of the month"), found in a line and turned into a calendar date against the meeting's date.

Weeks run Monday to Sunday. "이번 주 X요일" / "this X" is X of the meeting's week; "다음 주 X요일" /
"next X" is X of the following week; a weekday alone ("금요일까지", "by Friday") is the next such day
on or after the meeting day. "이번 주까지" / "this week" means its Friday, "다음 주 중" / "next week"
the Friday after. A deadline that names no day ("다음 스프린트 전") is kept as said, without a date.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

KO_WEEKDAYS = {"월": 0, "화": 1, "수": 2, "목": 3, "금": 4, "토": 5, "일": 6}
EN_WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2, "thursday": 3,
    "thu": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5, "sunday": 6, "sun": 6,
}  # fmt: skip
EN_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
KO_COUNTS = {"하루": 1, "이틀": 2, "사흘": 3, "나흘": 4, "닷새": 5, "일주일": 7, "열흘": 10, "보름": 15}
FRIDAY = 4

_KO_DAY_PART = r"(?:\s?(?:오전|오후|아침|점심|저녁|밤|중|안|내|까지|전|퇴근\s?전))*"
_KO_END = r"(?:\s?(?:까지는|까지|전까지|안에|안으로|내로|중으로|중에|중|쯤|에))?"
_KO_WEEK = r"(이번\s?주|금주|다음\s?주|차주|담주|다다음\s?주)"
_KO_ENDING_NEXT = r"(?=\s|까지|전|에|$|[.,])"
_EN_DAY_PART = r"(?:\s+(?:morning|afternoon|evening|noon|eod))?"
_EN_DAY = "|".join(sorted(EN_WEEKDAYS, key=len, reverse=True))
_EN_MONTH = "|".join(sorted(EN_MONTHS, key=len, reverse=True))

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("ko_month_day", r"(?:(\d{4})년\s?)?(\d{1,2})\s?월\s?(\d{1,2})\s?일(?:\s?\([월화수목금토일]\))?" + _KO_END),
        ("ko_slash_date", r"(?<![\d/])(\d{1,2})/(\d{1,2})(?![\d/])" + _KO_END),
        ("ko_week_day", _KO_WEEK + r"\s?([월화수목금토일])요일?" + _KO_DAY_PART + _KO_END),
        ("ko_week", _KO_WEEK + r"\s?(?:말|중|안|내|까지)" + _KO_END),
        ("ko_weekday", r"(?<![가-힣])([월화수목금토일])요일" + _KO_DAY_PART + _KO_END),
        ("ko_relative_day", r"(?<![가-힣])(오늘|내일|모레|글피)" + _KO_DAY_PART + _KO_END),
        ("ko_month_end", r"(?:(이번\s?달|이달|다음\s?달)\s?(말|초)|(?<![가-힣])(월말))" + _KO_ENDING_NEXT + _KO_END),
        ("ko_count", r"(\d+)\s?(일|주)\s?(?:안에|내로|이내|내에|뒤|후)"),
        ("ko_count_word", r"(하루|이틀|사흘|나흘|닷새|일주일|열흘|보름)\s?(?:안에|내로|이내|내에|뒤|후|만에)"),
        ("en_month_day", rf"\b(?:by\s+|on\s+|before\s+)?({_EN_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b"),
        ("en_day_month", rf"\b(?:by\s+|on\s+|before\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_EN_MONTH})\b"),
        ("en_week_day", rf"\b(?:by\s+|on\s+|before\s+)?(this|next|coming)\s+({_EN_DAY})\b"),
        ("en_weekday", rf"\b(?:by|on|before|until|till)\s+({_EN_DAY})\b" + _EN_DAY_PART),
        ("en_relative_day", r"\b(?:by\s+)?(today|tonight|tomorrow|end of (?:the )?day|eod)\b" + _EN_DAY_PART),
        ("en_week", r"\b(?:by\s+)?(?:the\s+)?(end of (?:the |this )?week|end of next week|eow|next week|this week)\b"),
        ("en_month", r"\b(?:by\s+)?(?:the\s+)?(end of (?:the |this )?month|end of next month|next month)\b"),
        ("en_count", r"\b(?:in|within)\s+(\d+|one|two|three|four|five|a)\s+(days?|weeks?)\b"),
    )
)
_EN_NUMBERS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_PART_OF_DAY = re.compile(r"오전|오후|아침|점심|저녁|morning|afternoon|evening|noon", re.IGNORECASE)


@dataclass(frozen=True)
class Due:
    """A deadline: `said` as it was said (trimmed), `date` when it names a day, `part` of that day."""

    said: str
    date: date | None
    start: int
    end: int
    part: str = ""

    def render(self) -> str:
        """The minutes' `due` text: the date and what was said, e.g. "2026-12-11 (이번 주 금요일까지)"."""
        if self.date is None:
            return self.said
        part = f" {self.part}" if self.part else ""
        return f"{self.date.isoformat()}{part} ({self.said})"


def _week_monday(day: date, weeks_ahead: int) -> date:
    return day - timedelta(days=day.weekday()) + timedelta(weeks=weeks_ahead)


def _weeks_ahead(word: str) -> int:
    word = word.replace(" ", "").casefold()
    if word.startswith("다다음"):
        return 2
    if word in ("다음주", "차주", "담주", "next"):
        return 1
    return 0


def _next_weekday(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _month_end(day: date, months_ahead: int) -> date:
    year, month = day.year + (day.month - 1 + months_ahead) // 12, (day.month - 1 + months_ahead) % 12 + 1
    return date(year, month, calendar.monthrange(year, month)[1])


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _on_or_after(meeting: date, month: int, day: int, year: int | None = None) -> date | None:
    """The date month/day in the meeting's year, or the next year's when it has passed long ago."""
    if year is not None:
        return _safe_date(year, month, day)
    found = _safe_date(meeting.year, month, day)
    if found is not None and found < meeting - timedelta(days=60):
        found = _safe_date(meeting.year + 1, month, day)
    return found


def _resolve(kind: str, groups: tuple[str | None, ...], meeting: date) -> date | None:
    g = [value or "" for value in groups]
    if kind == "ko_month_day":
        return _on_or_after(meeting, int(g[1]), int(g[2]), int(g[0]) if g[0] else None)
    if kind == "ko_slash_date":
        return _on_or_after(meeting, int(g[0]), int(g[1]))
    if kind == "ko_week_day":
        return _week_monday(meeting, _weeks_ahead(g[0])) + timedelta(days=KO_WEEKDAYS[g[1]])
    if kind == "ko_week":
        return _week_monday(meeting, _weeks_ahead(g[0])) + timedelta(days=FRIDAY)
    if kind == "ko_weekday":
        return _next_weekday(meeting, KO_WEEKDAYS[g[0]])
    if kind == "ko_relative_day":
        return meeting + timedelta(days={"오늘": 0, "내일": 1, "모레": 2, "글피": 3}[g[0]])
    if kind == "ko_month_end":
        ahead = 1 if g[0].replace(" ", "") == "다음달" else 0
        if g[1] == "초":
            return _month_end(meeting, ahead - 1) + timedelta(days=5)
        return _month_end(meeting, ahead)
    if kind == "ko_count":
        return meeting + timedelta(days=int(g[0]) * (7 if g[1] == "주" else 1))
    if kind == "ko_count_word":
        return meeting + timedelta(days=KO_COUNTS[g[0]])
    if kind == "en_month_day":
        return _on_or_after(meeting, EN_MONTHS[g[0].casefold()], int(g[1]))
    if kind == "en_day_month":
        return _on_or_after(meeting, EN_MONTHS[g[1].casefold()], int(g[0]))
    if kind == "en_week_day":
        weekday = EN_WEEKDAYS[g[1].casefold()]
        if g[0].casefold() == "coming":
            return _next_weekday(meeting, weekday)
        return _week_monday(meeting, _weeks_ahead(g[0])) + timedelta(days=weekday)
    if kind == "en_weekday":
        return _next_weekday(meeting, EN_WEEKDAYS[g[0].casefold()])
    if kind == "en_relative_day":
        return meeting + timedelta(days=1 if g[0].casefold() == "tomorrow" else 0)
    if kind == "en_week":
        phrase = g[0].casefold()
        return _week_monday(meeting, 1 if "next" in phrase else 0) + timedelta(days=FRIDAY)
    if kind == "en_month":
        return _month_end(meeting, 1 if "next" in g[0].casefold() else 0)
    if kind == "en_count":
        count = int(g[0]) if g[0].isdigit() else _EN_NUMBERS[g[0].casefold()]
        return meeting + timedelta(days=count * (7 if g[1].casefold().startswith("week") else 1))
    return None


_UNDATED = re.compile(
    r"(다음\s?스프린트|이번\s?스프린트|스프린트\s?(?:시작|끝|종료)|다음\s?회의|릴리스|출시|배포)\s?(?:시작\s?)?(?:전까지|전에|전|까지|때까지)"
    r"|\b(?:before|by)\s+(?:the\s+)?(next\s+(?:sprint|meeting|release)|release|launch)\b",
    re.IGNORECASE,
)


def find_due(text: str, meeting_day: date | None) -> Due | None:
    """The first deadline in `text` (the earliest-starting, longest match), or None. Without a
    meeting day, what was said is kept and no date is computed."""
    found: list[tuple[int, int, str, re.Match[str]]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            found.append((match.start(), -(match.end() - match.start()), kind, match))
    if not found:
        undated = _UNDATED.search(text)
        if undated is None:
            return None
        return Due(" ".join(undated.group().split()), None, undated.start(), undated.end())
    start, _, kind, match = min(found, key=lambda f: (f[0], f[1]))
    said = " ".join(match.group().split()).strip(" ,.")
    when = _resolve(kind, match.groups(), meeting_day) if meeting_day is not None else None
    part = _PART_OF_DAY.search(said)
    return Due(said, when, start, match.end(), part.group() if part else "")


def due_date_of(due_text: str, meeting_day: date) -> date | None:
    """The date a `due` text names: an ISO date in it (the floor's form), else the date its words
    say against the meeting day, else None."""
    iso = re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", due_text)
    if iso:
        return _safe_date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
    due = find_due(due_text, meeting_day)
    return due.date if due is not None else None
