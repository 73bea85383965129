"""Extractive minutes: the floor that never comes back empty. No model; rules over the transcript's own
sentences, in Korean and English, each item citing the segments it was taken from.

- Action items: requests ("~해 주세요", "~해 주실 수 있을까요", "can you ...", "please ...") owned by
  the person addressed, or by whoever accepts in the next lines ("네 제가 할게요"); commitments ("제가
  ~하겠습니다", "~까지 올릴게요", "I'll ...") owned by the speaker. Procedural talk ("시작하겠습니다",
  "잠시만 기다려 주세요") is not a task.
- Decisions: "~하기로 했습니다", "~로 가죠", "~는 걸로 하겠습니다", "let's go with ...".
- Due dates: `edge.minutes.due_dates` against the meeting's date; the item shows the date and what
  was said.
- Owners: the name of a segment's speaker when people gave one (`speaker_name`, or a `speaker` that is a
  name; the box's unnamed "S1" is nobody), or its "이름: " label, and names addressed or named with 씨/님 or
  a title; each resolved to one known person (`edge.minutes.owners`) or unassigned.
- Topics from agenda lines ("다음 안건은 ~입니다", "next topic is ..."); the summary lists them with
  the glossary terms said most.

The document has the LLM minutes' schema; `model` is EXTRACTIVE_MODEL and the title and summary say
that the minutes were extracted, so every output (API, Markdown, MQTT) shows it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from edge.minutes.due_dates import Due, find_due
from edge.minutes.owners import Person, is_mentioned, known_people, parse_person, resolve_owner, speaker_name_of
from edge.minutes.schema import UNASSIGNED, ActionItem, Decision, MinutesContent, OpenQuestion, Topic

EXTRACTIVE_MODEL = "extractive"
REPLY_WINDOW = 3  # lines after a request in which an acceptance names its owner
MAX_TASK_CHARS = 160
MAX_SUMMARY_TERMS = 6

_SENTENCE = re.compile(
    r"(?<=[.?!。])\s+|(?<=니다|세요)\s+|(?<=[다요죠까])\s+(?=(?:그리고|그럼|그러면|근데|아|네|또)\s)"
)
_LABEL = re.compile(r"^\s*([^\s:][^:\n]{0,30}?)\s*:\s+(?=\S)")
_LEADING_FILLER = re.compile(
    r"^(?:(?:네|넵|예|음|어|아|자|그럼|그러면|그래서|그리고|좋습니다|좋아요|오케이|알겠습니다|일단|우선|그리고요|"
    r"ok(?:ay)?|so|well|right|alright|and|yes|yeah|sure)[,.!]?\s+)+",
    re.IGNORECASE,
)

# Requests: a verb form + 주세요 / 주실 수 있을까요 / 부탁드립니다 ...
_KO_REQUEST = re.compile(
    r"[가-힣]\s?(?:주세요|주시겠어요|주시겠습니까|주실\s?수\s?있(?:을까요|나요|으실까요|으세요)|주실래요|줄\s?수\s?있어요|"
    r"주시면\s?(?:좋겠|감사|됩니다)|줘요|주셨으면)"
    r"|부탁(?:드립니다|드려요|드릴게요|합니다|해요)|맡아\s?주|가능(?:할까요|하실까요|하세요|하시겠어요)\?"
)
_KO_REQUEST_NOT_TASK = re.compile(
    r"(?:기다려|들어|말씀해|말해|얘기해|이야기해|양해해|이해해|봐|참고해|참석해|들어와|나가|조용히\s?해|음소거해|"
    r"켜|꺼|보여|넘겨|정정해|다시\s?말해|천천히\s?말해)\s?주(?:세요|시겠어요|실래요)"
    r"|(?:창문|에어컨|불|문|커피|물|자리|의자|볼륨|소리)\s?(?:좀\s?)?[가-힣]{1,3}\s?주(?:세요|시겠어요|실래요)"
)
# Commitments: a future form at the end of the sentence.
_KO_COMMIT_END = re.compile(
    r"(?:[가-힣]겠습니다|[가-힣]겠어요|[가-힣]게요|[가-힣]께요|[가-힣]겠음|할게|할께|드릴게요|하려고\s?합니다|할\s?예정입니다)"
    r"[.!]?\s*$"
)
_KO_SELF = re.compile(r"(?<![가-힣])(?:제가|저는|저도|제\s?쪽에서|제쪽에서|내가|저희\s?쪽에서)(?![가-힣])")
_KO_NOT_COMMIT = re.compile(
    r"(?<![가-힣])(?:여기까지\s?하|시작하|마치|끝내|넘어가|넘어가도록\s?하|진행하도록\s?하|말씀드리|설명드리|소개하|공유드리도록\s?하|"
    r"모르|알|좋|같|되|있|없|싶|괜찮|감사하|반갑|정리하면|결정하|확정하|정하|보이|들리|이해하)"
    r"(?:겠습니다|겠어요|겠네요|ㄹ게요|게요|겠음)"
)
_KO_ACCEPT = re.compile(
    r"^(?:네|넵|예|좋아요|좋습니다|알겠습니다|그럴게요|오케이)?[,.!]?\s*"
    r"(?:.*(?:하겠습니다|할게요|할께요|맡을게요|맡겠습니다|그렇게\s?할게요|알겠습니다|그러겠습니다|처리할게요|드릴게요|"
    r"드리겠습니다|[가-힣]겠습니다|[가-힣]게요))[.!]?\s*$"
)
_ACKNOWLEDGE = re.compile(r"^(?:네|넵|예|알겠습니다|좋아요|좋습니다|그럴게요|ok(?:ay)?|sure|got\s+it)\b", re.IGNORECASE)
_KO_DECISION = re.compile(
    r"기로\s?(?:했습니다|했어요|했죠|하죠|합시다|하겠습니다|해요|결정|정했|합의)"
    r"|(?:걸로|것으로)\s?(?:하죠|합시다|하겠습니다|할게요|결정|확정|정하|가죠|갑시다|가겠습니다|하시죠)"
    r"|(?<![가-힣])[가-힣]*(?:으로|로)\s?(?:가죠|갑시다|가겠습니다|가시죠|결정|확정|정하(?:고|겠|죠|기로|자))"
    r"|(?:결정|확정|합의)(?:하겠습니다|했습니다|됐습니다|되었습니다|입니다|할게요)"
)
_KO_NOT_DECISION = re.compile(r"(?:결정|확정|정해지지|정하지)\s?(?:않|안\s|못|해야|할지|됐나요|됐죠\?|인가요)|\?$")

_EN_REQUEST = re.compile(
    r"\b(?:can|could|would|will)\s+you\b(?!\s+(?:hear|see|repeat|say|tell\s+me\s+again))"
    r"|^(?:[A-Z][a-z]+,\s*)?please\b|\bplease\s+(?:send|write|prepare|update|review|check|draft|share|set|fix|"
    r"schedule|book|follow|look|make|clean|file|open|ask|talk|create|add|collect|confirm)\b"
    r"|\bI\s+need\s+you\s+to\b|\bmake\s+sure\s+(?:you|to)\b|\bcan\s+I\s+ask\s+you\s+to\b",
    re.IGNORECASE,
)
_EN_COMMIT = re.compile(
    r"\b(?:I(?:'ll|\s+will)|I\s+can\s+take|I'm\s+going\s+to|I\s+am\s+going\s+to|I'll\s+take|let\s+me|"
    r"I\s+can\s+do|I'll\s+handle|I\s+will\s+handle)\b",
    re.IGNORECASE,
)
_EN_NOT_COMMIT = re.compile(
    r"\b(?:I(?:'ll|\s+will)|let\s+me)\s+(?:share\s+my\s+screen|start|begin|stop|be\s+(?:quick|brief|right)|"
    r"hand\s+(?:it\s+)?over|pass\s+it|turn\s+it|let\s+you|mute|unmute|go\s+ahead|repeat|say|explain|"
    r"just\s+say|think|see\s+you|check\s+if\s+you\s+can\s+hear|summari[sz]e|wrap\s+up)\b",
    re.IGNORECASE,
)
_EN_ACCEPT = re.compile(
    r"^(?:sure|yes|yeah|ok(?:ay)?|will\s+do|got\s+it|no\s+problem|on\s+it|sounds\s+good)\b"
    r"|\b(?:I'll|I\s+will|I\s+can)\s+(?:do\s+(?:it|that)|take\s+(?:it|that|this)|handle\s+(?:it|that))\b",
    re.IGNORECASE,
)
_EN_DECISION = re.compile(
    r"\b(?:let's\s+go\s+with|we(?:'ve|\s+have)?\s+decided|we(?:'ll|\s+will)\s+go\s+with|the\s+decision\s+is|"
    r"we\s+agreed|(?:it's|it\s+is)\s+decided|let's\s+(?:stick\s+with|use|keep|drop|postpone|move)|"
    r"we(?:'re|\s+are)\s+going\s+(?:with|to\s+use)|decided\s+to|agreed\s+to)\b",
    re.IGNORECASE,
)
_EN_VOCATIVE = re.compile(r"^\s*([A-Z][a-z]+(?:\s[A-Z][a-z]+)?),\s")
_KO_AGENDA = re.compile(
    r"(?:(?:첫|두|세|네|다섯|여섯|일곱|여덟|아홉|열|다음|마지막)\s?(?:번째\s?)?)?안건은\s?"
    r"(.{2,40}?)\s?(?:입니다|이에요|예요|인데요|이고요|건입니다)"
)
# "오늘 안건은 모두 열 개입니다", "이 안건은 여기까지": about the agenda, not an item of it.
_NOT_AGENDA = re.compile(
    r"^(?:모두|총|전부|여기까지|이상)|(?:\d+|한|두|세|네|다섯|여섯|일곱|여덟|아홉|열)\s?(?:개|가지)$"
)
_EN_AGENDA = re.compile(
    r"\b(?:next|first|second|third|last|final)\s+(?:topic|item|agenda\s+item)\s+is\s+(.{2,60}?)[.!]?$"
    r"|\b(?:moving\s+on\s+to|let's\s+(?:talk\s+about|move\s+on\s+to|discuss))\s+(.{2,60}?)[.!]?$",
    re.IGNORECASE,
)
_KO_OPEN_QUESTION = re.compile(r"(?:아직|누가|언제|어떻게|어디서|정해지지|결정되지|확인된\s?게|확인이\s?안|필요한지)")
_EN_OPEN_QUESTION = re.compile(r"\b(?:who|when|whether|how|still\s+open|not\s+decided|not\s+sure)\b", re.IGNORECASE)
_HANGUL = re.compile("[가-힣]")


@dataclass(frozen=True)
class Line:
    """One transcript segment as the floor reads it: who said it (or ""), and what."""

    seq: int
    t0_ms: int
    speaker: str
    text: str


@dataclass
class _Action:
    task: str
    evidence: list[int]
    owner_hint: str | None
    due: Due | None
    kind: str  # "request" or "commitment"
    line_index: int
    said_by: str
    confidence: float = 0.6
    accepted_by: str | None = None


@dataclass(frozen=True)
class FloorResult:
    """The extracted minutes and what they rest on (the people known, the meeting day used)."""

    content: MinutesContent
    people: tuple[Person, ...] = ()
    meeting_day: date | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


class TranscriptSegment(Protocol):
    """What the floor reads of a segment (`edge.core.events.Segment` has it); a `speaker` attribute
    is used when present."""

    @property
    def seq(self) -> int: ...

    @property
    def t0_ms(self) -> int: ...

    @property
    def display_text(self) -> str: ...


def speaker_and_text(segment: TranscriptSegment) -> tuple[str, str]:
    """(speaker, text) of a segment: the name of its speaker when it has one (`speaker_name_of`), else a
    leading "이름: " label of its text (imported transcripts), else ("", text)."""
    text = " ".join(segment.display_text.split())
    speaker = speaker_name_of(segment)
    if speaker:
        return speaker, text
    label = _LABEL.match(text)
    if label and parse_person(label.group(1)) is not None:
        return label.group(1).strip(), text[label.end() :]
    return "", text


def lines_of(segments: Iterable[TranscriptSegment]) -> list[Line]:
    lines = []
    for segment in segments:
        speaker, text = speaker_and_text(segment)
        if text:
            lines.append(Line(segment.seq, segment.t0_ms, speaker, text))
    return lines


def meeting_day_of(started_at: str | None) -> date | None:
    if not started_at:
        return None
    try:
        return datetime.fromisoformat(started_at.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE.split(text) if part and part.strip()]


def _clean(sentence: str) -> str:
    return _LEADING_FILLER.sub("", sentence).strip(" ,")


def is_request(sentence: str) -> bool:
    if _HANGUL.search(sentence):
        return bool(_KO_REQUEST.search(sentence)) and not _KO_REQUEST_NOT_TASK.search(sentence)
    return bool(_EN_REQUEST.search(sentence))


def is_commitment(sentence: str, *, reply: bool = False) -> bool:
    """A promise by the speaker. Korean needs "제가" or a deadline or a reply position (a bare
    "확인해 보겠습니다" in passing is not minuted); procedural forms never count."""
    if _HANGUL.search(sentence):
        body = sentence.rstrip(" .!")
        if not _KO_COMMIT_END.search(body) or _KO_NOT_COMMIT.search(body) or body.endswith("?"):
            return False
        return bool(_KO_SELF.search(sentence)) or reply or find_due(sentence, None) is not None
    return bool(_EN_COMMIT.search(sentence)) and not _EN_NOT_COMMIT.search(sentence)


def is_acceptance(sentence: str) -> bool:
    if _HANGUL.search(sentence):
        body = sentence.rstrip(" .!")
        if not _KO_ACCEPT.match(body) or body.endswith("?"):
            return False
        return bool(re.search(r"알겠습니다|맡|그렇게\s?할게요|그러겠습니다", body)) or not _KO_NOT_COMMIT.search(body)
    return bool(_EN_ACCEPT.search(sentence))


def is_decision(sentence: str) -> bool:
    if _HANGUL.search(sentence):
        return bool(_KO_DECISION.search(sentence)) and not _KO_NOT_DECISION.search(sentence.strip())
    return bool(_EN_DECISION.search(sentence))


def agenda_title(sentence: str) -> str | None:
    match = _KO_AGENDA.search(sentence) or _EN_AGENDA.search(sentence)
    if match is None:
        return None
    title = next(group for group in match.groups() if group).strip(" ,.")
    return title if title and not _NOT_AGENDA.search(title) else None


def _addressed(sentence: str, people: Sequence[Person], speaker: str) -> str | None:
    """The one known person a request speaks to: a vocative ("민수 씨, ...", "Alex, can you"), a
    subject with 씨/님/a title, or the only person the sentence names (not the speaker)."""
    vocative = _EN_VOCATIVE.match(sentence)
    if vocative:
        name = resolve_owner(vocative.group(1), people, [sentence])
        if name != UNASSIGNED:
            return name
        person = parse_person(vocative.group(1))
        if person is not None and not _HANGUL.search(vocative.group(1)):
            return person.name
    named = [p for p in people if p.name != speaker and is_mentioned(p, [sentence])]
    if len(named) == 1:
        return named[0].name
    if len(named) > 1:
        # Several names: the one spoken to (before a comma) or the subject (이/가/께서/님이/씨가).
        for person in named:
            forms = "|".join(re.escape(form) for form in person.forms)
            spoken_to = re.search(
                rf"(?<![가-힣])(?:{forms})\s?(?:[가-힣]{{0,3}}님|씨)?\s?(?:,|께서|이|가|님이|씨가|은|는)\s", sentence
            )
            if spoken_to:
                return person.name
    return None


def _speaker_name(speaker: str, people: Sequence[Person]) -> str | None:
    if not speaker:
        return None
    owner = resolve_owner(speaker, people, [speaker])
    return owner if owner != UNASSIGNED else speaker


def _task_text(sentence: str, speaker: str) -> str:
    text = _clean(sentence)
    text = re.sub(r"^(?:[가-힣]{2,4}\s?(?:[가-힣]{1,3}님|님|씨))\s?,\s*", "", text)
    text = re.sub(r"^[A-Z][a-z]+(?:\s[A-Z][a-z]+)?,\s*", "", text)
    text = _KO_SELF.sub("", text, count=1).strip() if text.startswith(("제가", "저는", "저도", "내가")) else text
    text = " ".join(text.split())
    if len(text) > MAX_TASK_CHARS:
        text = text[: MAX_TASK_CHARS - 1].rstrip() + "…"
    return text or sentence


def extract_minutes(
    segments: Sequence[TranscriptSegment],
    *,
    language: str,
    attendees: Sequence[str] = (),
    started_at: str | None = None,
    title: str = "",
    glossary_terms: Sequence[str] = (),
) -> FloorResult:
    """The extractive minutes of a meeting's segments (objects with seq, t0_ms, display_text and,
    optionally, speaker). Never raises for odd text; an empty transcript gives empty lists."""
    lines = lines_of(segments)
    korean = (language or "").lower().startswith("ko")
    day = meeting_day_of(started_at)
    speakers = dict.fromkeys(line.speaker for line in lines if line.speaker)
    people = known_people(attendees, (line.text for line in lines), speakers)

    actions: list[_Action] = []
    decisions: list[Decision] = []
    questions: list[OpenQuestion] = []
    agenda: list[tuple[int, str]] = []  # (line index, title)
    for index, line in enumerate(lines):
        previous_request = _open_request(actions, index, line.speaker)
        accepted: _Action | None = None
        for sentence in sentences(line.text):
            topic = agenda_title(sentence)
            if topic is not None:
                agenda.append((index, topic))
            if previous_request is not None and is_acceptance(sentence):
                _accept(previous_request, line, sentence, day, people)
                accepted, previous_request = previous_request, None
                continue
            if accepted is not None and is_commitment(sentence, reply=True):
                _accept(accepted, line, sentence, day, people)  # "네 알겠습니다. 금요일까지 할게요."
                continue
            promised = _recent_promise(actions, index, line.speaker) if accepted is None else None
            if promised is not None and _ACKNOWLEDGE.match(sentence) and is_acceptance(sentence):
                # "제가 금요일까지 정리하겠습니다." "네 알겠습니다 제가 맡을게요.": the same task, acknowledged.
                promised.accepted_by = line.speaker or "?"
                promised.evidence.append(line.seq)
                accepted = promised
                continue
            if is_request(sentence):
                due = find_due(sentence, day)
                owner = _addressed(sentence, people, line.speaker)
                actions.append(
                    _Action(_task_text(sentence, line.speaker), [line.seq], owner, due, "request", index,
                            line.speaker, 0.6 + (0.2 if owner else 0) + (0.1 if due else 0))
                )  # fmt: skip
            elif is_commitment(sentence):
                due = find_due(sentence, day)
                owner = _speaker_name(line.speaker, people)
                actions.append(
                    _Action(_task_text(sentence, line.speaker), [line.seq], owner, due, "commitment", index,
                            line.speaker, 0.6 + (0.2 if owner else 0) + (0.1 if due else 0))
                )  # fmt: skip
            elif is_decision(sentence):
                decisions.append(Decision(text=_clean(sentence) or sentence, evidence=[line.seq]))
            elif sentence.rstrip().endswith("?") and (
                _KO_OPEN_QUESTION.search(sentence) if _HANGUL.search(sentence) else _EN_OPEN_QUESTION.search(sentence)
            ):
                questions.append(OpenQuestion(text=_clean(sentence) or sentence, evidence=[line.seq]))

    items = []
    for action in actions:
        owner = action.owner_hint or UNASSIGNED
        if owner != UNASSIGNED:
            resolved = resolve_owner(owner, people, [owner])
            owner = resolved if resolved != UNASSIGNED else owner
        items.append(
            ActionItem(
                task=action.task, owner=owner, due=action.due.render() if action.due else None,
                evidence=action.evidence, confidence=round(min(action.confidence, 0.95), 2),
            )
        )  # fmt: skip
    topics = _topics(lines, agenda, glossary_terms, korean)
    terms = _frequent_terms(glossary_terms, [line.text for line in lines])
    content = MinutesContent(
        title=_title(title, topics, korean),
        summary=_summary(topics, terms, len(decisions), len(items), len(lines), korean),
        topics=topics,
        decisions=decisions,
        action_items=items,
        open_questions=_drop_answered(questions, decisions),
    )
    return FloorResult(content, tuple(people), day)


def _open_request(actions: list[_Action], index: int, speaker: str) -> _Action | None:
    """The latest request of the last REPLY_WINDOW lines that another speaker may accept now."""
    for action in reversed(actions):
        if index - action.line_index > REPLY_WINDOW:
            return None
        if action.kind == "request" and action.accepted_by is None and (action.said_by != speaker or not speaker):
            return action
    return None


def _recent_promise(actions: list[_Action], index: int, speaker: str) -> _Action | None:
    """The latest commitment of the last REPLY_WINDOW lines, by someone else and not yet answered."""
    for action in reversed(actions):
        if index - action.line_index > REPLY_WINDOW:
            return None
        if action.kind == "commitment" and action.accepted_by is None and (action.said_by != speaker or not speaker):
            return action
    return None


def _accept(action: _Action, line: Line, sentence: str, day: date | None, people: Sequence[Person]) -> None:
    replier = _speaker_name(line.speaker, people)
    action.accepted_by = replier or "?"
    if line.seq not in action.evidence:
        action.evidence.append(line.seq)
    if action.owner_hint is None and replier:
        action.owner_hint = replier
        action.confidence += 0.2
    if action.due is None:
        action.due = find_due(sentence, day)
        if action.due is not None:
            action.confidence += 0.1
    action.confidence += 0.05


def _drop_answered(questions: list[OpenQuestion], decisions: list[Decision]) -> list[OpenQuestion]:
    decided = {seq for d in decisions for seq in d.evidence}
    return [q for q in questions if not any(seq + 1 in decided or seq + 2 in decided for seq in q.evidence)]


def _frequent_terms(terms: Sequence[str], texts: Sequence[str]) -> list[str]:
    if not terms:
        return []
    joined = "\n".join(texts).casefold()
    counts = Counter({term: joined.count(term.casefold()) for term in terms if term.strip()})
    return [term for term, count in counts.most_common(MAX_SUMMARY_TERMS) if count > 0]


def _topics(
    lines: Sequence[Line], agenda: Sequence[tuple[int, str]], terms: Sequence[str], korean: bool
) -> list[Topic]:
    topics = []
    for number, (index, title) in enumerate(agenda):
        end = agenda[number + 1][0] if number + 1 < len(agenda) else len(lines)
        span = lines[index:end]
        said = _frequent_terms(terms, [line.text for line in span])[:3]
        first, last = span[0].seq, span[-1].seq
        if korean:
            summary = f"#{first}–#{last} 구간 {len(span)}개 발언" + (f", 주요 용어: {', '.join(said)}" if said else "")
        else:
            summary = f"#{first}–#{last}, {len(span)} lines" + (f"; terms: {', '.join(said)}" if said else "")
        topics.append(Topic(title=title, summary=summary, evidence=[lines[index].seq]))
    return topics


def _title(title: str, topics: Sequence[Topic], korean: bool) -> str:
    base = title.strip() or (topics[0].title if topics else "")
    if korean:
        return f"{base} — 추출 회의록" if base else "추출 회의록"
    return f"{base} — extractive minutes" if base else "Extractive minutes"


def _summary(
    topics: Sequence[Topic], terms: Sequence[str], decisions: int, actions: int, lines: int, korean: bool
) -> str:
    names = ", ".join(t.title for t in topics[:8]) + (" 외" if korean and len(topics) > 8 else "")
    if korean:
        parts = [f"LLM 없이 발언 {lines}개에서 규칙으로 뽑은 추출 회의록입니다."]
        if topics:
            parts.append(f"안건 {len(topics)}개: {names}.")
        parts.append(f"결정 {decisions}건, 할 일 {actions}건.")
        if terms:
            parts.append(f"자주 나온 용어: {', '.join(terms)}.")
        parts.append("각 항목의 근거 발언을 확인해 주세요.")
        return " ".join(parts)
    parts = [f"Extractive minutes: taken by rules from {lines} lines, without an LLM."]
    if topics:
        parts.append(f"{len(topics)} topics: {names}{' and more' if len(topics) > 8 else ''}.")
    parts.append(f"{decisions} decisions, {actions} action items.")
    if terms:
        parts.append(f"Terms said most: {', '.join(terms)}.")
    parts.append("Check each item against its cited lines.")
    return " ".join(parts)
