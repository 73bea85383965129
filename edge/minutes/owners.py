"""Who owns an action item: the model's guess is accepted only when it clearly names one known person.

Known people are the meeting's attendees (set in the admin page or API), the speakers people named in
the meeting (its S1, S2, ... given a name), plus the names the transcript itself marks as names: a
speaker label of an imported transcript ("김민수: ..."), or a Hangul name followed by an honorific or a
job title (민수 씨, 김민수님, 지은 팀장님). A speaker nobody named ("S1") is nobody in particular.

`resolve_owner` maps the model's owner text to one known person, and only when (1) it matches
exactly one person by full name, given name (민수 씨, 민수님 -> 김민수) or surname with a title
(김 팀장님, when one known 김 has that title or is the only 김), and (2) that person is mentioned in the
text the item cites as evidence. Pronouns (제가, 저희, we), teams, several candidates, unknown names
and unmentioned people all become "unassigned": an owner is never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from edge.minutes.schema import UNASSIGNED

HONORIFICS = ("님", "씨")
TITLES = (
    "본부장", "팀장", "부장", "차장", "과장", "대리", "주임", "사원", "실장", "이사", "상무", "전무", "대표",
    "사장", "매니저", "책임", "선임", "수석", "연구원", "리더", "프로", "인턴", "교수", "박사", "선배", "PM", "PO",
)  # fmt: skip
# Two-syllable surnames first: 남궁민 is 남궁 + 민, not 남 + 궁민.
DOUBLE_SURNAMES = frozenset({"남궁", "황보", "제갈", "선우", "독고", "사공", "서문", "동방"})
# Common single-syllable surnames, one string (each character is one surname).
SURNAMES = frozenset(
    "김이박최정강조윤장임한오서신권황안송류유전홍고문양손배백허남심노하곽성차주우구민진나지엄채원천방공현함변염여추"
    "도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예경봉사부가복태목형피두감음빈동온호범좌시상라"
)
# Owner texts that name nobody in particular.
NOBODY = frozenset(
    {
        "", "unassigned", "unknown", "none", "n/a", "na", "tbd", "-", "?", "someone", "everyone", "all",
        "team", "the team", "we", "us", "i", "me", "you", "they", "미정", "없음", "미지정", "담당자", "누군가",
        "모두", "다들", "전원", "전체", "우리", "저희", "우리 팀", "팀", "팀원", "나", "저", "제가", "내가", "본인",
        "당신", "그쪽", "참석자", "모든 참석자",
    }
)  # fmt: skip
# Words that take 씨/님 but are not names (고객님, 아저씨, 마음씨, 선생님, ...).
NOT_NAMES = frozenset(
    {
        "고객", "선생", "사장", "회장", "여러분", "아저", "아가", "아주머니", "마음", "솜", "말", "글", "날",
        "부모", "어머", "아버", "어머니", "아버지", "할머", "할머니", "할아버", "할아버지", "형", "누나",
        "언니", "오빠", "동료", "팀원", "담당자", "관계자", "개발자", "기획자", "디자이너", "환자", "기사",
        "작가", "감독", "손", "님", "여러", "모든", "다른", "그분", "이분", "저분", "손님", "따님", "아드님",
        "하느", "하나", "주인", "선배님", "임금", "스승", "사모", "부처", "교수", "박사", "원장",
    }
)  # fmt: skip
_PARTICLES = (
    "께서는", "께서", "에게는", "에게", "한테는", "한테", "이랑", "하고", "이가", "이는", "이도", "이를",
    "이의", "이요", "께", "랑", "와", "과", "이", "가", "은", "는", "을", "를", "도", "만", "의", "요",
)  # fmt: skip
_TITLES_LONGEST_FIRST = tuple(sorted(TITLES, key=len, reverse=True))
_PARTICLE = "(?:" + "|".join(_PARTICLES) + ")?"
_TITLE = "(?:" + "|".join(_TITLES_LONGEST_FIRST) + ")"
_HONORIFIC_MENTION = re.compile(
    rf"(?<![가-힣])([가-힣]{{2,4}})\s?(?:({_TITLE})\s?)?(?:님|씨){_PARTICLE}(?![가-힣])"
    rf"|(?<![가-힣])([가-힣]{{2,4}})\s?({_TITLE}){_PARTICLE}(?![가-힣])"
)
_SPEAKER_LABEL = re.compile(r"^\s*([^\s:][^:\n]{0,30}?)\s*:\s+\S")
# The box's own label of a voice it told apart ("S1", "S12"): a label, not a person's name.
_MACHINE_LABEL = re.compile(r"^S\d+$")
_SPLIT_OWNERS = re.compile(r"\s*(?:,|/|&|·|\band\b|및)\s*|\s*(?<=[씨님])(?:와|과|하고|랑|이랑)\s+")
_HANGUL = re.compile("^[가-힣]+$")
_LATIN_NAME = re.compile(r"^[A-Za-z][A-Za-z.'-]*(?:\s+[A-Za-z][A-Za-z.'-]*){0,2}$")


@dataclass(frozen=True)
class Person:
    """A known person. `name` is how minutes show them; `given` and `surname` are "" when unknown."""

    name: str
    given: str = ""
    surname: str = ""
    titles: frozenset[str] = field(default_factory=frozenset)

    @property
    def forms(self) -> tuple[str, ...]:
        """Spellings that refer to this person on their own (full name, given name)."""
        return tuple(dict.fromkeys(form for form in (self.name, self.given) if form))


@dataclass(frozen=True)
class _Parsed:
    core: str
    titles: frozenset[str]
    honorific: bool


def _strip_decorations(text: str) -> _Parsed:
    """Split "김민수 팀장님" into the core "김민수", its titles and whether an honorific was there."""
    titles: set[str] = set()
    honorific = False
    core_words: list[str] = []
    for word in text.replace("\u00a0", " ").split():
        while word:
            suffix = next((h for h in HONORIFICS if word.endswith(h)), None)
            if suffix is not None:
                word, honorific = word[: -len(suffix)], True
                continue
            title = next((t for t in _TITLES_LONGEST_FIRST if word.endswith(t) and (word == t or t >= "가")), None)
            if title is None:
                break
            titles.add(title)
            word = word[: -len(title)]
        if word:
            core_words.append(word)
    return _Parsed(" ".join(core_words), frozenset(titles), honorific)


def split_korean_name(name: str) -> tuple[str, str]:
    """(surname, given) of a Hangul full name of 3-4 syllables; ("", name) when it is not one."""
    if not _HANGUL.match(name):
        return "", name
    if len(name) == 4 and name[:2] in DOUBLE_SURNAMES:
        return name[:2], name[2:]
    if len(name) == 3 and name[:2] in DOUBLE_SURNAMES:
        return name[:2], name[2:]
    if len(name) in (3, 4) and name[0] in SURNAMES:
        return name[0], name[1:]
    return "", name


def parse_person(text: str) -> Person | None:
    """A person from an attendee entry such as "김민수", "김민수 팀장", "민수님" or "Alex Kim"."""
    parsed = _strip_decorations(" ".join(text.split()))
    core = parsed.core
    if not core or core.casefold() in NOBODY or core in NOT_NAMES:
        return None
    if _HANGUL.match(core) and 2 <= len(core) <= 5:
        surname, given = split_korean_name(core)
        return Person(core, given, surname, parsed.titles)
    if _LATIN_NAME.match(core):
        parts = core.split()
        return Person(core, parts[0], parts[-1] if len(parts) > 1 else "", parsed.titles)
    return None


def is_machine_label(text: str) -> bool:
    return bool(_MACHINE_LABEL.match(text.strip()))


def speaker_name_of(segment: object) -> str:
    """The name of whoever said a segment: the name people gave its speaker (`speaker_name`), else its
    `speaker` when that is a name and not the box's unnamed label ("S1"); "" when nobody is named."""
    for attribute in ("speaker_name", "speaker"):
        value = getattr(segment, attribute, None)
        if isinstance(value, str) and value.strip():
            name = " ".join(value.split())
            return "" if is_machine_label(name) else name
    return ""


def names_in_transcript(texts: Iterable[str]) -> list[Person]:
    """People the transcript marks as named: speaker labels and Hangul names with 씨/님 or a title."""
    found: list[Person] = []
    for text in texts:
        label = _SPEAKER_LABEL.match(text)
        if label:
            person = parse_person(label.group(1))
            if person is not None:
                found.append(person)
        for match in _HONORIFIC_MENTION.finditer(text):
            core = match.group(1) or match.group(3)
            title = match.group(2) or match.group(4)
            if core in NOT_NAMES or core in TITLES or any(core.endswith(t) for t in TITLES):
                continue
            if match.group(3) and len(core) < 3:
                continue  # "민수 팀장" without 님/씨 is too weak for a two-syllable word.
            surname, given = split_korean_name(core)
            found.append(Person(core, given, surname, frozenset({title}) if title else frozenset()))
    return found


def known_people(
    attendees: Sequence[str], transcript_texts: Iterable[str] = (), speakers: Iterable[str] = ()
) -> list[Person]:
    """Attendees first, then the named speakers, then names from the transcript; a given name alone ("민수")
    merges into the one full name with that given name ("김민수"), titles are merged, duplicates removed.
    Unnamed speaker labels ("S1") are nobody."""
    people: dict[str, Person] = {}
    named = [s for s in speakers if not is_machine_label(s)]
    candidates = [p for p in (parse_person(a) for a in [*attendees, *named]) if p is not None]
    candidates += names_in_transcript(transcript_texts)
    full = [p for p in candidates if p.surname]
    for person in sorted(candidates, key=lambda p: not p.surname):
        key = person.name
        if not person.surname:
            owners = {p.name for p in full if p.given == person.given}
            if len(owners) == 1:
                key = owners.pop()
            elif len(owners) > 1:
                continue  # "민수" with two 민수s known: no person of its own either.
        existing = people.get(key)
        if existing is None:
            people[key] = person if key == person.name else Person(key, person.given, "", person.titles)
        else:
            people[key] = Person(existing.name, existing.given, existing.surname, existing.titles | person.titles)
    return list(people.values())


def _candidates(text: str, people: Sequence[Person]) -> list[Person]:
    parsed = _strip_decorations(" ".join(text.split()))
    core = parsed.core
    if not core:
        if parsed.titles:
            return [p for p in people if p.titles & parsed.titles]
        return []
    folded = core.casefold().replace(" ", "")
    exact = [p for p in people if p.name.casefold().replace(" ", "") == folded]
    if exact:
        return exact
    given = [p for p in people if p.given and p.given.casefold() == core.casefold()]
    if given:
        return given
    if core in SURNAMES or core in DOUBLE_SURNAMES:
        same = [p for p in people if p.surname == core]
        if parsed.titles:
            titled = [p for p in same if p.titles & parsed.titles]
            return titled or (same if all(not p.titles for p in same) else [])
        return []  # "김" alone names nobody.
    return []


def _mention_pattern(person: Person) -> re.Pattern[str]:
    forms = [re.escape(form) for form in person.forms]
    if person.surname and person.titles:
        forms += [re.escape(person.surname) + r"\s?" + re.escape(title) for title in person.titles]
    alternatives = "|".join(sorted(forms, key=len, reverse=True))
    if _HANGUL.match(person.name.replace(" ", "")):
        # A Hangul name stands alone or before an honorific, title, particle or punctuation.
        tail = rf"(?:\s?(?:{_TITLE}))?(?:님|씨)?{_PARTICLE}"
        return re.compile(rf"(?<![가-힣])(?:{alternatives}){tail}(?![가-힣])")
    return re.compile(rf"(?<![A-Za-z])(?:{alternatives})(?![A-Za-z])", re.IGNORECASE)


def is_mentioned(person: Person, texts: Iterable[str]) -> bool:
    pattern = _mention_pattern(person)
    return any(pattern.search(text) for text in texts)


def resolve_owner(proposed: str | None, people: Sequence[Person], evidence_texts: Sequence[str]) -> str:
    """The owner to record: a known person's name (several joined by ", " when the model named
    several and each resolves), or "unassigned"."""
    text = " ".join((proposed or "").split()).strip(" \"'.")
    if text.casefold() in NOBODY:
        return UNASSIGNED
    parts = [part for part in _SPLIT_OWNERS.split(text) if part and part.strip()]
    owners: list[str] = []
    for part in parts or [text]:
        if part.strip().casefold() in NOBODY:
            return UNASSIGNED
        candidates = _candidates(part, people)
        if len(candidates) != 1 or not is_mentioned(candidates[0], evidence_texts):
            return UNASSIGNED
        if candidates[0].name not in owners:
            owners.append(candidates[0].name)
    return ", ".join(owners) if owners else UNASSIGNED
