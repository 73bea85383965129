"""Hangul by Unicode arithmetic: jamo decomposition/composition, a jamo edit distance tuned to how
Whisper misspells English loanwords, and Korean particles (josa) with the batchim rules they follow.

A precomposed syllable is U+AC00 + (initial * 21 + medial) * 28 + final. We decompose to
*compatibility* jamo (ㄱ, ㅏ, ...) and split compound finals (ㄳ -> ㄱㅅ), so a coda and the same
consonant as the next onset compare equal: 깃헙 = ㄱㅣㅅㅎㅓㅂ is one ㅡ away from 깃허브 = ㄱㅣㅅㅎㅓㅂㅡ,
which is exactly the difference between two common spellings of the same English word.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

SYLLABLE_FIRST = 0xAC00
SYLLABLE_LAST = 0xD7A3
INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
MEDIALS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
FINALS = (
    "", "ㄱ", "ㄲ", "ㄳ", "ㄴ", "ㄵ", "ㄶ", "ㄷ", "ㄹ", "ㄺ", "ㄻ", "ㄼ", "ㄽ", "ㄾ", "ㄿ", "ㅀ",
    "ㅁ", "ㅂ", "ㅄ", "ㅅ", "ㅆ", "ㅇ", "ㅈ", "ㅊ", "ㅋ", "ㅌ", "ㅍ", "ㅎ",
)  # fmt: skip
_N_MEDIALS = len(MEDIALS)
_N_FINALS = len(FINALS)
_FINAL_INDEX = {final: index for index, final in enumerate(FINALS)}
# Compound finals as two consonants; composing joins them back.
_FINAL_SPLIT: dict[str, tuple[str, ...]] = {final: tuple(final) for final in FINALS if len(final) <= 1}
_FINAL_SPLIT.update(
    {
        "ㄳ": ("ㄱ", "ㅅ"), "ㄵ": ("ㄴ", "ㅈ"), "ㄶ": ("ㄴ", "ㅎ"), "ㄺ": ("ㄹ", "ㄱ"), "ㄻ": ("ㄹ", "ㅁ"),
        "ㄼ": ("ㄹ", "ㅂ"), "ㄽ": ("ㄹ", "ㅅ"), "ㄾ": ("ㄹ", "ㅌ"), "ㄿ": ("ㄹ", "ㅍ"), "ㅀ": ("ㄹ", "ㅎ"),
        "ㅄ": ("ㅂ", "ㅅ"),
    }
)  # fmt: skip
_COMPOUND_FINAL = {pair: final for final, pair in _FINAL_SPLIT.items() if len(pair) == 2}
_VOWELS = frozenset(MEDIALS)

# Korean particles (josa) and the common particle + particle / copula endings that follow a noun
# inside one spaced word. Pairs list the form after a consonant (batchim) and after a vowel.
PARTICLES: tuple[str, ...] = (
    "을", "를", "이", "가", "은", "는", "의", "에", "에서", "에게", "에다", "에다가", "으로", "로",
    "와", "과", "도", "만", "까지", "부터", "랑", "이랑", "한테", "께", "께서", "보다", "처럼", "같이",
    "마다", "밖에", "조차", "이나", "나", "이든", "든", "이라도", "라도", "하고", "이며", "며", "에서부터",
    "으로서", "로서", "으로써", "로써", "한테서", "이랑은", "이나마", "나마", "요",
)  # fmt: skip
PARTICLE_PAIRS: tuple[tuple[str, str], ...] = (
    ("이에요", "예요"), ("이었", "였"), ("이라고", "라고"), ("이라는", "라는"), ("이라도", "라도"),
    ("이라서", "라서"), ("이라면", "라면"), ("이지만", "지만"), ("이랑", "랑"), ("이나", "나"),
    ("이든", "든"), ("이면", "면"), ("이며", "며"), ("이야", "야"), ("이죠", "죠"), ("이고", "고"),
    ("이란", "란"), ("이다", "다"), ("이라", "라"), ("으로", "로"), ("을", "를"), ("은", "는"),
    ("과", "와"), ("이", "가"),
)  # fmt: skip
_PAIRS_LONGEST_FIRST = tuple(sorted(PARTICLE_PAIRS, key=lambda pair: -max(len(pair[0]), len(pair[1]))))
# Copula and sentence endings that attach directly to a noun ("쿠버네티스인데요", "슬랙이죠").
COPULA_ENDINGS: tuple[str, ...] = (
    "입니다", "입니까", "이에요", "예요", "이야", "야", "이죠", "죠", "이고", "고", "인데", "인데요",
    "이지만", "지만", "이었어요", "였어요", "이었는데", "였는데", "이라서", "라서", "이라고", "라고",
    "이라는", "라는", "이란", "란", "이면", "면", "이다", "다", "인가요", "인지", "일", "이라면", "라면",
    "이네요", "네요", "이잖아요", "잖아요", "이니까", "니까", "로요", "으로요", "에요", "이요",
)  # fmt: skip
_SECOND_PARTICLES = ("는", "은", "도", "만", "의", "요", "이", "가", "를", "을", "에", "서")


def _build_tails() -> frozenset[str]:
    firsts = set(PARTICLES) | {form for pair in PARTICLE_PAIRS for form in pair}
    tails = set(firsts) | set(COPULA_ENDINGS) | {""}
    for first in firsts:
        for second in _SECOND_PARTICLES:
            tails.add(first + second)
        for ending in COPULA_ENDINGS:
            if first in ("에", "에서", "까지", "부터", "으로", "로", "만", "도"):
                tails.add(first + ending)
    return frozenset(tails)


# Everything that may follow a noun in the same spaced word and still leave the noun a whole word.
NOUN_TAILS: frozenset[str] = _build_tails()


# A noun followed in the same word by a form of 하다/되다 is a verb made from it ("롤백해", "배포됐어요").
VERB_STARTS = frozenset("하해했할함합한되돼됐될됨됩된")
# Suffix nouns that attach to a noun before its particle ("풀리퀘들을", "도커용", "큐에이팀에").
NOUN_SUFFIXES = frozenset("들용쪽별팀측")


def is_noun_tail(tail: str) -> bool:
    """True when `tail` may follow a noun inside one spaced word: nothing, particles and copula
    endings, a 하다/되다 verb ending, or a suffix noun with its particles."""
    if tail in NOUN_TAILS:
        return True
    return tail[0] in VERB_STARTS or (tail[0] in NOUN_SUFFIXES and tail[1:] in NOUN_TAILS)


def is_syllable(char: str) -> bool:
    return SYLLABLE_FIRST <= ord(char) <= SYLLABLE_LAST


def is_hangul_text(text: str) -> bool:
    """True when `text` is non-empty and made of precomposed syllables only."""
    return bool(text) and all(is_syllable(char) for char in text)


def split_syllable(char: str) -> tuple[str, str, str]:
    """(initial, medial, final) of one precomposed syllable; final is "" without batchim."""
    index = ord(char) - SYLLABLE_FIRST
    if not 0 <= index <= SYLLABLE_LAST - SYLLABLE_FIRST:
        raise ValueError(f"{char!r} is not a precomposed Hangul syllable")
    initial, rest = divmod(index, _N_MEDIALS * _N_FINALS)
    medial, final = divmod(rest, _N_FINALS)
    return INITIALS[initial], MEDIALS[medial], FINALS[final]


def join_syllable(initial: str, medial: str, final: str = "") -> str:
    """The precomposed syllable of compatibility jamo; `final` may be a compound (ㄳ) or ""."""
    try:
        return chr(
            SYLLABLE_FIRST
            + (INITIALS.index(initial) * _N_MEDIALS + MEDIALS.index(medial)) * _N_FINALS
            + _FINAL_INDEX[final]
        )
    except (ValueError, KeyError):
        raise ValueError(f"cannot compose {initial!r} + {medial!r} + {final!r} into a syllable") from None


def _syllable_jamo(offset: int) -> str:
    initial, rest = divmod(offset, _N_MEDIALS * _N_FINALS)
    medial, final = divmod(rest, _N_FINALS)
    return INITIALS[initial] + MEDIALS[medial] + "".join(_FINAL_SPLIT[FINALS[final]])


# Jamo of every syllable, precomputed once: decomposition is on the hot path of glossary matching.
_SYLLABLE_JAMO: tuple[str, ...] = tuple(
    _syllable_jamo(offset) for offset in range(SYLLABLE_LAST - SYLLABLE_FIRST + 1)
)


def decompose(text: str) -> str:
    """Syllables -> compatibility jamo (compound finals split in two); other characters unchanged."""
    table = _SYLLABLE_JAMO
    return "".join(table[ord(char) - SYLLABLE_FIRST] if "가" <= char <= "힣" else char for char in text)


def jamo_length(syllable: str) -> int:
    """How many jamo `decompose` makes of one character."""
    return len(_SYLLABLE_JAMO[ord(syllable) - SYLLABLE_FIRST]) if "가" <= syllable <= "힣" else 1


def compose(jamo: str) -> str:
    """Inverse of `decompose` for text made of syllables: consonant + vowel (+ coda consonants not
    followed by a vowel) become one syllable; anything that does not fit is kept as it is."""
    out: list[str] = []
    i, n = 0, len(jamo)
    while i < n:
        char = jamo[i]
        if char in INITIALS and i + 1 < n and jamo[i + 1] in _VOWELS:
            initial, medial = char, jamo[i + 1]
            i += 2
            final = ""
            # A consonant is a coda only if no vowel follows it (then it starts the next syllable).
            if i < n and jamo[i] in _FINAL_INDEX and not (i + 1 < n and jamo[i + 1] in _VOWELS):
                final = jamo[i]
                i += 1
                pair = (final, jamo[i]) if i < n else None
                if pair in _COMPOUND_FINAL and not (i + 1 < n and jamo[i + 1] in _VOWELS):
                    final = _COMPOUND_FINAL[pair]
                    i += 1
            out.append(join_syllable(initial, medial, final))
        else:
            out.append(char)
            i += 1
    return "".join(out)


def final_of(word: str) -> str | None:
    """Batchim of the last syllable ("" for none), or None when the word does not end in Hangul."""
    if not word or not is_syllable(word[-1]):
        return None
    return split_syllable(word[-1])[2]


# Coda consonants as the Hangul Jamo block's final letters (ᆫ, ᆼ, ...): a final ㄴ is heard unlike an
# initial ㄴ, and the near-miss costs below treat the two positions differently.
_CODA_OF = {
    consonant: chr(0x11A8 + FINALS.index(consonant) - 1) for consonant in "ㄱㄲㄴㄷㄹㅁㅂㅅㅆㅇㅈㅊㅋㅌㅍㅎ"
}


def _syllable_sounds(offset: int) -> str:
    jamo = _syllable_jamo(offset)
    return jamo[:2] + "".join(_CODA_OF[consonant] for consonant in jamo[2:])


_SYLLABLE_SOUNDS: tuple[str, ...] = tuple(
    _syllable_sounds(offset) for offset in range(SYLLABLE_LAST - SYLLABLE_FIRST + 1)
)


_ONSET_CLASS = {
    "ㄲ": "ㄱ", "ㅋ": "ㄱ", "ㄸ": "ㄷ", "ㅌ": "ㄷ", "ㅃ": "ㅂ", "ㅍ": "ㅂ", "ㅉ": "ㅈ", "ㅊ": "ㅈ", "ㅆ": "ㅅ",
}  # fmt: skip


def onset_class(syllable: str) -> str:
    """The initial consonant of a syllable with plain, tense and aspirated merged (ㅋ, ㄲ -> ㄱ);
    "" for anything that is not a syllable."""
    if not "가" <= syllable <= "힣":
        return ""
    initial = INITIALS[(ord(syllable) - SYLLABLE_FIRST) // (_N_MEDIALS * _N_FINALS)]
    return _ONSET_CLASS.get(initial, initial)


def decompose_sounds(text: str) -> str:
    """Like `decompose`, with coda consonants written as final jamo (U+11A8..U+11C2) so an edit
    distance can tell 젠 (ㅈㅔᆫ) from 제 + ㄴ...; as many characters as `decompose` makes."""
    table = _SYLLABLE_SOUNDS
    return "".join(table[ord(char) - SYLLABLE_FIRST] if "가" <= char <= "힣" else char for char in text)


# How Whisper mishears a Korean loanword, as costs of one jamo edit (any other edit costs 1):
# - 0.25: the same sound in modern Seoul speech (ㅐ/ㅔ, ㅒ/ㅖ, ㅙ/ㅞ/ㅚ; the codas ㄷ/ㅅ/ㅈ/ㅊ/ㅌ/ㅆ/ㅎ
#   all sound [t], ㄱ/ㅋ/ㄲ [k], ㅂ/ㅍ [p]);
# - 0.5: confusable vowels (ㅓ/ㅗ, ㅗ/ㅜ, ㅡ/ㅜ, ㅕ/ㅛ, ㅓ/ㅏ for the English schwa, ㅢ/ㅣ), nasal
#   codas (ㅁ/ㅇ/ㄴ), plain/tense/aspirated initials (ㄱ/ㄲ/ㅋ, ㄷ/ㄸ/ㅌ, ㅂ/ㅃ/ㅍ, ㅈ/ㅉ/ㅊ, ㅅ/ㅆ),
#   and inserting or dropping the ㅡ Korean puts between English consonants (깃헙/깃허브, 슬랙/스랙);
# - 0: a consonant moving between coda and the next initial (깃헙 ㅂ final, 깃허브 ㅂ initial).
_SAME_SOUND_GROUPS = ("ㅐㅔ", "ㅒㅖ", "ㅙㅞㅚ", "ᆮᆺᆽᆾᇀᆻᇂ", "ᆨᆿᆩ", "ᆸᇁ")
_CONFUSABLE_GROUPS = (
    "ㅓㅗ", "ㅗㅜ", "ㅡㅜ", "ㅕㅛ", "ㅓㅏ", "ㅢㅣ", "ᆷᆼᆫ", "ㄱㅋㄲ", "ㄷㅌㄸ", "ㅂㅍㅃ", "ㅈㅊㅉ", "ㅅㅆ",
)  # fmt: skip


def _substitution_table() -> dict[tuple[str, str], float]:
    table: dict[tuple[str, str], float] = {}
    for cost, groups in ((0.5, _CONFUSABLE_GROUPS), (0.25, _SAME_SOUND_GROUPS)):
        for group in groups:
            table.update({(a, b): cost for a in group for b in group if a != b})
    for consonant, coda in _CODA_OF.items():
        table[consonant, coda] = table[coda, consonant] = 0.0
    return table


_SUBSTITUTION = _substitution_table()
# ㅡ is the vowel Korean inserts to break English consonant clusters (깃헙/깃허브, 슬랙/스랙).
_CHEAP_INDEL = frozenset("ㅡ")


def substitution_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return _SUBSTITUTION.get((a, b), 1.0)


def indel_cost(char: str) -> float:
    return 0.5 if char in _CHEAP_INDEL else 1.0


def jamo_prefix_distances(pattern: str, text: str, limit: float) -> list[float] | None:
    """Weighted edit distance between `pattern` and every prefix of `text`: item j is the distance
    to `text[:j]`, or inf where it exceeds `limit`. None when no prefix is within `limit`.

    Banded: every insertion or deletion costs at least 0.5, so an alignment within `limit` never
    strays more than 2 * limit cells from the diagonal. Substitution costs are `substitution_cost`.
    """
    inf = math.inf
    n = len(pattern)
    band = n + len(text) if math.isinf(limit) else int(limit * 2)
    m = min(len(text), n + band)
    previous = [inf] * (m + 1)
    previous[0] = 0.0
    for j in range(1, min(band, m) + 1):
        previous[j] = previous[j - 1] + (0.5 if text[j - 1] in _CHEAP_INDEL else 1.0)
    costs = _SUBSTITUTION
    for i in range(1, n + 1):
        char_p = pattern[i - 1]
        delete = 0.5 if char_p in _CHEAP_INDEL else 1.0
        current = [inf] * (m + 1)
        low = i - band
        if low <= 0:
            current[0] = previous[0] + delete
            low = 1
        for j in range(low, min(m, i + band) + 1):
            char_t = text[j - 1]
            value = previous[j - 1]
            if char_p != char_t:
                value += costs.get((char_p, char_t), 1.0)
            other = previous[j] + delete
            if other < value:
                value = other
            other = current[j - 1] + (0.5 if char_t in _CHEAP_INDEL else 1.0)
            if other < value:
                value = other
            current[j] = value
        if min(current) > limit:
            return None
        previous = current
    return [value if value <= limit else inf for value in previous]


def jamo_distance(a: str, b: str, *, limit: float | None = None) -> float:
    """Weighted edit distance between two jamo strings (see `decompose`).

    Edits cost what `substitution_cost` and `indel_cost` say (sound-alike ones less than 1). With
    `limit`, any result above `limit` is reported as `limit + 1`.
    """
    if a == b:
        return 0.0
    bound = math.inf if limit is None else limit
    row = jamo_prefix_distances(a, b, bound)
    if row is None or len(row) <= len(b) or math.isinf(row[len(b)]):
        return math.inf if limit is None else limit + 1.0
    return row[len(b)]


def hangul_distance(a: str, b: str, *, limit: float | None = None) -> float:
    """`jamo_distance` of two Hangul strings (decomposed with codas marked, `decompose_sounds`)."""
    return jamo_distance(decompose_sounds(a), decompose_sounds(b), limit=limit)


def adjust_particle(tail: str, reading: str) -> str:
    """Make the particle at the start of `tail` agree with the batchim of `reading` (the word it now
    follows): 을/를, 이/가, 은/는, 과/와, 으로/로 (로 after ㄹ), 이랑/랑, 이에요/예요 and the other
    copula pairs. Returns `tail` unchanged when it starts with no such particle or `reading` does not
    end in Hangul."""
    final = final_of(reading)
    if final is None or not tail:
        return tail
    for after_consonant, after_vowel in _PAIRS_LONGEST_FIRST:
        for form in (after_consonant, after_vowel):
            if tail.startswith(form):
                if after_consonant == "으로":
                    chosen = after_vowel if final in ("", "ㄹ") else after_consonant
                else:
                    chosen = after_vowel if final == "" else after_consonant
                return chosen + tail[len(form) :]
    return tail


def with_particle(word: str, pair: tuple[str, str], reading: str | None = None) -> str:
    """`word` followed by the right form of a particle pair, judged on `reading` (default `word`)."""
    final = final_of(reading if reading is not None else word)
    after_consonant, after_vowel = pair
    if final is None:
        return word + after_consonant
    if after_consonant == "으로":
        return word + (after_vowel if final in ("", "ㄹ") else after_consonant)
    return word + (after_vowel if final == "" else after_consonant)


def syllables(text: Iterable[str]) -> int:
    """How many precomposed syllables `text` holds."""
    return sum(1 for char in text if is_syllable(char))
