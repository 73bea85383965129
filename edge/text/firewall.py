"""Hallucination firewall: decides whether a committed ASR segment is speech or something Whisper made
up on silence or noise. A pure policy, no model.

What is dropped, and why it is safe:

- `empty`: nothing but whitespace or invisible characters.
- `non_speech`: only tags and symbols ("[음악]", "(웃음)", "♪♪", "...", "[BLANK_AUDIO]", "*laughs*").
  Nothing a person said is lost.
- `stock_phrase`: the *whole* line is one or more of Whisper's stock phrases from its subtitle-heavy
  training data (broadcast sign-offs, "시청해주셔서 감사합니다", "구독과 좋아요", subtitle credits,
  "Thanks for watching"). A line that merely *contains* such a phrase is kept, because a full-line
  match is what hallucinations look like and partial matches are how people quote them.
  "감사합니다" and "Thank you." on their own are NOT stock phrases: people end meetings, answer and
  thank each other with exactly these words all the time, and dropping real speech is worse than
  letting a rare hallucinated "감사합니다" through. For the same reason the presenter's
  "들어주셔서 감사합니다" / "Thanks for listening" stay; only the video/broadcast forms
  ("시청해주셔서", "for watching") are stock.
- `prompt_echo`: the line repeats the initial prompt (or one of its sentences), which Whisper
  echoes on silence.
- `repetition_loop`: one unit (a syllable, a word, a phrase, a sentence) repeated back to back: six
  or more repeats of anything, or three or more of a unit whose repeats add up to 25+ letters (the
  same sentence three times). Short natural repeats ("네 네 알겠습니다", "잠깐만요 잠깐만요
  잠깐만요", "감사합니다 감사합니다") stay. A loop is cut, not the line: its first unit stays and
  the repeats go ("태아폼, 뱅뒷와 음룸, 룸, 룸, 룸, 룸, 룸, 룸, 룸." -> "태아폼, 뱅뒷와 음룸"),
  wherever in the line it is, and `Verdict.cuts` says what went. The line is dropped only when
  nothing but loops is left (fewer than 2 letters besides one unit of each).
- `implausible_rate`: with `duration_ms`, 20+ letters at more than 35 letters per second, far beyond
  any speaker (fast Korean is ~10 syllables/s): text the audio cannot have held.
- `repeat_of_previous`: the same text as the previous kept segment, for lines of 8+ letters (short
  answers such as "네." legitimately repeat).

Matching is on a normalized key: NFKC, case-folded, punctuation removed (":" kept, because it
separates a subtitle credit from a sentence that happens to mention subtitles), spaces collapsed.
Korean patterns tolerate any spacing. Phrases of every language are checked whatever the meeting
language, because Whisper emits English and Korean credits regardless of the forced language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

LANGUAGE_PATTERN = re.compile(r"auto|[a-z]{2,3}")

# Regex sources over the normalized key. A space means "optional space"; after every Hangul
# syllable an optional space is allowed too, so Korean matches with any spacing.
STOCK_PHRASES: dict[str, tuple[str, ...]] = {
    "ko": (
        # Broadcast sign-offs: "MBC 뉴스 이덕영입니다", "지금까지 KBS 뉴스 홍길동 기자였습니다".
        r"(?:지금까지 )?(?:mbc|kbs|sbs|ytn|jtbc|mbn|obs|tbs|ebs|연합뉴스|채널 ?a|tv ?조선|뉴스 ?y)"
        r" ?(?:뉴스 )?(?:[가-힣] ?){2,4}(?:기자)?(?:입니다|였습니다|이었습니다)",
        r"(?:지금까지|오늘도|오늘|끝까지|항상|늘|영상 )?(?:시청|청취)(?:해|하여)? ?주셔서 ?"
        r"(?:정말 |진심으로 |너무 )?(?:감사|고맙)(?:합니다|드립니다|드려요|해요|습니다)",
        r"시청 ?(?:감사|고맙)(?:합니다|드립니다|해요|습니다)",
        r"(?:(?:구독|좋아요|알림 ?설정|알림|댓글|공유)(?:과|와|랑|하고|및|그리고|도|까지|,)? ?){1,5}"
        r"(?:눌러 ?|꼭 |많이 )?"
        r"(?:주세요|부탁 ?드립니다|부탁 ?드려요|부탁해요|부탁합니다|해 ?주세요|잊지 ?마세요)",
        r"(?:다음 )?(?:영상|방송|시간)에서 (?:또 )?(?:만나요|뵙겠습니다|만나겠습니다|봬요|뵐게요)",
        r"(?:이|본) 영상은 [가-힣0-9 ]{0,20}(?:포함하고 있습니다|제작되었습니다|지원받아 제작되었습니다)",
        # Subtitle credits need ":" or "by" after them: "자막 제공: 배달의민족", "한글자막 by 한효주".
        r"(?:한국어 |한글 |영어 )?(?:자막|번역)(?: ?(?:제공|제작|편집|번역|협찬))*"
        r"(?: 및 (?:자막 )?(?:제공|제작|편집))? ?(?::|by) ?[^:]{1,20}",
    ),
    "en": (
        r"(?:and )?thank(?:s| you)(?: (?:so|very) much)? for watching(?: (?:this|the|my|our) video)?"
        r"(?: and (?:see you (?:next time|in the next (?:one|video))"
        r"|dont forget to (?:like and )?subscribe))?",
        r"(?:please |dont forget to )(?:like (?:and |comment and )?)?subscribe"
        r"(?: to (?:my|our|the|this) channel)?"
        r"(?: and (?:hit|ring) the (?:notification )?bell(?: icon)?)?",
        r"like and subscribe",
        r"(?:ill )?see you (?:in the )?next (?:video|episode)",
        r"(?:subtitles|subtitle|captions|captioning|subtitled|transcription|transcribed|translated|"
        r"translation|english subtitles)(?: by| :|:) ?\w+(?: \w+){0,3}",
        r"(?:this|todays) video is (?:brought to you|sponsored) by \w+(?: \w+){0,2}",
    ),
    "ja": (
        r"ご視聴ありがとうございました",
        r"チャンネル登録(?:よろしくお願いします|お願いします)",
    ),
    "zh": (
        r"请不吝点赞 ?订阅 ?转发 ?打赏支持明镜与点点栏目",
        r"字幕由 ?amara ?org ?社区提供",
        r"(?:谢谢|感谢)(?:大家)?(?:的)?(?:观看|收看)",
    ),
}

_BRACKETED = re.compile(r"\[[^\]]*\]|\([^)]*\)|\{[^}]*\}|<[^>]*>|【[^】]*】|\*[^*]*\*")


@dataclass(frozen=True)
class LoopCut:
    """Repeats of `unit` removed from a line: `text[start:end]` of the line was `original`."""

    start: int
    end: int
    original: str
    unit: str
    repeats: int

    def to_dict(self) -> dict:
        """As a record in a segment's corrections (the audit of every change to the raw text)."""
        return {
            "start": self.start,
            "end": self.end,
            "original": self.original,
            "replacement": "",
            "rule": "repetition_loop",
            "unit": self.unit,
            "repeats": self.repeats,
        }


@dataclass(frozen=True)
class Verdict:
    """The firewall's decision on one segment; `reason` is set exactly when `dropped`. A kept segment
    whose loops were cut has the remaining `text` and the `cuts` (offsets into the checked text)."""

    dropped: bool
    reason: str | None = None
    text: str | None = None
    cuts: tuple[LoopCut, ...] = ()


KEEP = Verdict(dropped=False)


def _hangul_tolerant(source: str) -> str:
    """Turn a phrase source into a regex: spaces become optional and every Hangul syllable outside a
    character class may be followed by a space."""
    out: list[str] = []
    in_class = escaped = False
    for char in source:
        if escaped:
            out.append(char)
            escaped = False
            continue
        if char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        if char == " " and not in_class:
            out.append(" ?")
        elif "\uac00" <= char <= "\ud7a3" and not in_class:
            out.append(char + " ?")
        else:
            out.append(char)
    return "".join(out)


def compile_phrases(sources: Iterable[str]) -> re.Pattern[str]:
    """One regex that fully matches a key made only of stock phrases (one or more)."""
    alternatives = "|".join(f"(?:{_hangul_tolerant(source)})" for source in sources)
    return re.compile(f"(?:(?:{alternatives}) ?)+")


def normalize(text: str) -> str:
    """NFKC, case-folded, invisible characters gone, punctuation -> space (":" kept, apostrophes
    dropped so "don't" is "dont"), spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    out: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if char in "'’`":
            continue
        if category[0] in "LN" or char == ":":
            out.append(char)
        elif category == "Cf":
            continue
        else:
            out.append(" ")
    return " ".join("".join(out).split())


def letters_of(key: str) -> str:
    return key.replace(" ", "").replace(":", "")


def strip_tags(text: str) -> str:
    """`text` without bracketed non-speech tags ("[음악]", "(웃음)", "*laughs*")."""
    return _BRACKETED.sub(" ", text)


@dataclass(frozen=True)
class LoopPolicy:
    """When back-to-back repeats of one unit count as a loop (see the module doc)."""

    min_repeats: int = 6
    min_sentence_repeats: int = 3
    min_sentence_letters: int = 25
    max_unit_letters: int = 80  # bounds the search to O(80 n); longer looping units are not looked for


@dataclass(frozen=True)
class Loop:
    """`unit` repeated `repeats` times back to back from letter `start` of a key without spaces."""

    unit: str
    repeats: int
    start: int

    @property
    def end(self) -> int:
        return self.start + self.repeats * len(self.unit)


def find_repeats(letters: str, policy: LoopPolicy = LoopPolicy()) -> Loop | None:
    """The loop of the shortest unit in `letters` (a key without spaces) that repeats often enough
    (see `LoopPolicy`), wherever it is."""
    n = len(letters)
    if n < policy.min_sentence_repeats:
        return None
    for unit in range(1, min(n // policy.min_sentence_repeats, policy.max_unit_letters) + 1):
        # Longest stretch where letters[i] == letters[i + unit]: the unit repeats across it.
        best_run = run = best_end = 0
        for i, (a, b) in enumerate(zip(letters, letters[unit:], strict=False)):
            if a == b:
                run += 1
                if run > best_run:
                    best_run, best_end = run, i + 1
            else:
                run = 0
        repeats = (best_run + unit) // unit
        if repeats < 2:
            continue
        covered = repeats * unit
        long_enough = repeats >= policy.min_repeats or (
            repeats >= policy.min_sentence_repeats and covered >= policy.min_sentence_letters
        )
        start = best_end - best_run
        pattern = letters[start : start + unit]
        if long_enough and any(c.isalpha() for c in pattern):
            return Loop(pattern, repeats, start)
    return None


def _letters_with_positions(text: str) -> tuple[str, list[int]]:
    """The letters and digits of `text` as `normalize` + `letters_of` see them (bracketed tags left
    out), each with the offset in `text` of the character it came from."""
    masked = _BRACKETED.sub(lambda match: " " * len(match.group()), text)
    letters: list[str] = []
    positions: list[int] = []
    for index, char in enumerate(masked):
        for folded in unicodedata.normalize("NFKC", char).casefold():
            if unicodedata.category(folded)[0] in "LN":
                letters.append(folded)
                positions.append(index)
    return "".join(letters), positions


def cut_loops(text: str, policy: LoopPolicy = LoopPolicy(), *, max_loops: int = 8) -> tuple[str, list[LoopCut]]:
    """`text` with the repeats of each loop removed (its first unit kept), and what was cut; offsets
    of every cut refer to `text` as given. A loop that ends the line takes the punctuation after it."""
    cuts: list[LoopCut] = []
    current = text
    removed: list[tuple[int, int]] = []  # spans of `text` already cut, to map offsets back
    for _ in range(max_loops):
        letters, positions = _letters_with_positions(current)
        loop = find_repeats(letters, policy)
        if loop is None:
            break
        unit_end = loop.start + len(loop.unit)
        start = positions[unit_end - 1] + 1
        end = positions[loop.end - 1] + 1
        if loop.end == len(letters):
            end = len(current)
        original_start = _original_offset(start, removed)
        original_end = _original_offset(end, removed) if end > start else original_start
        cuts.append(LoopCut(original_start, original_end, text[original_start:original_end], loop.unit, loop.repeats))
        removed.append((original_start, original_end))
        current = current[:start] + current[end:]
    cuts.sort(key=lambda cut: cut.start)
    return current.rstrip() if cuts else current, cuts


def _original_offset(offset: int, removed: list[tuple[int, int]]) -> int:
    """Where `offset` of the text left after the `removed` cuts lies in the original text."""
    for start, end in sorted(removed):
        if offset >= start:
            offset += end - start
    return offset


class HallucinationFirewall:
    """`check(text)` -> Verdict. Stateless: the caller passes the previous segments it kept."""

    def __init__(
        self,
        language: str,
        *,
        extra_phrases: Iterable[str] = (),
        prompt: str = "",
        loop_policy: LoopPolicy = LoopPolicy(),
        max_letters_per_second: float = 35.0,
        min_repeat_letters: int = 8,
    ) -> None:
        language = language.strip().lower() or "auto"  # whisper may report no language
        if not LANGUAGE_PATTERN.fullmatch(language):
            raise ValueError(
                f'language must be a whisper code such as "ko" or "en", or "auto"; got {language!r}'
            )
        self.language = language
        sources = [source for phrases in STOCK_PHRASES.values() for source in phrases]
        sources.extend(re.escape(normalize(phrase)) for phrase in extra_phrases if normalize(phrase))
        self._stock = compile_phrases(sources)
        self._prompt_keys = frozenset(_prompt_keys(prompt))
        self._loop_policy = loop_policy
        self._max_rate = max_letters_per_second
        self._min_repeat_letters = min_repeat_letters

    def check(self, text: str, *, duration_ms: int | None = None, previous: Sequence[str] = ()) -> Verdict:
        if not normalize(text):
            return (
                Verdict(True, "empty")
                if not text.strip() or _invisible_only(text)
                else Verdict(True, "non_speech")
            )
        key = normalize(strip_tags(text))
        letters = letters_of(key)
        if not letters:
            return Verdict(True, "non_speech")
        if self._stock.fullmatch(key):
            return Verdict(True, "stock_phrase")
        if letters in self._prompt_keys:
            return Verdict(True, "prompt_echo")
        text, cuts = cut_loops(text, self._loop_policy)
        if cuts:
            letters = letters_of(normalize(strip_tags(text)))
            if len(letters) - sum(len(cut.unit) for cut in cuts) < 2:
                return Verdict(True, "repetition_loop")
        rate = len(letters) * 1000 / duration_ms if duration_ms and duration_ms > 0 else 0.0
        if len(letters) >= 20 and rate > self._max_rate:
            return Verdict(True, "implausible_rate")
        if (
            previous
            and len(letters) >= self._min_repeat_letters
            and letters == letters_of(normalize(strip_tags(previous[-1])))
        ):
            return Verdict(True, "repeat_of_previous")
        return Verdict(False, None, text, tuple(cuts)) if cuts else KEEP


def _invisible_only(text: str) -> bool:
    return all(char.isspace() or unicodedata.category(char) in ("Cf", "Cc") for char in text)


def _prompt_keys(prompt: str) -> list[str]:
    if not prompt.strip():
        return []
    keys = [letters_of(normalize(prompt))]
    keys.extend(letters_of(normalize(part)) for part in re.split(r"(?<=[.!?。])\s+", prompt))
    return [key for key in keys if len(key) >= 4]
