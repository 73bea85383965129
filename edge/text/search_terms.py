"""What a search query asks for, and where a text matches it.

A query is words separated by spaces; a text matches when it holds every word (in any case). A Korean
word with a particle or copula ending attached also stands for its bare noun, so "쿠버네티스를" finds
"쿠버네티스가" as well; a text with the whole word ranks first. Matching is by substring, the way the
store's trigram index matches, so "쿠버네티스" finds "쿠버네티스를" by itself.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from edge.text.hangul import NOUN_TAILS, is_syllable

MAX_TERMS = 8
MIN_STEM_CHARS = 2
_EDGE_PUNCTUATION = "\"'`.,!?;:()[]{}<>“”‘’·…"
# What str.split() splits on, spelled out: Python's \s and JavaScript's differ (U+001C-U+001F, U+0085, U+FEFF).
_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_CONTROL_CHARS = "".join(map(chr, range(0x20))) + "\x7f"  # separate words, as spaces do
WORD_PATTERN = "[^" + "".join(f"\\u{ord(char):04x}" for char in _WHITESPACE + _EDGE_PUNCTUATION + _CONTROL_CHARS) + "]"
"""A query has a word when this finds a character in it (the same in Python's and JavaScript's regular
expressions, for the API's schema)."""


@dataclass(frozen=True)
class SearchTerm:
    """One word of a query: its forms, the word as typed first, then its bare noun if it has one."""

    forms: tuple[str, ...]

    @property
    def shortest(self) -> str:
        return min(self.forms, key=len)


def _stem(word: str) -> str | None:
    """The noun of a Korean word with a particle or ending attached ("쿠버네티스를" -> "쿠버네티스")."""
    for cut in range(MIN_STEM_CHARS, len(word)):
        tail = word[cut:]
        if all(is_syllable(char) for char in tail) and tail in NOUN_TAILS:
            return word[:cut]
    return None


_CONTROL = re.compile("[" + re.escape(_CONTROL_CHARS) + "]")

def search_terms(query: str) -> list[SearchTerm]:
    """The words of `query` (at most MAX_TERMS, repeats dropped), with punctuation around them removed;
    control characters separate words (a NUL would end SQLite's query string early)."""
    terms: list[SearchTerm] = []
    seen: set[str] = set()
    for raw in _CONTROL.sub(" ", query).split():
        word = unicodedata.normalize("NFC", raw.strip(_EDGE_PUNCTUATION))
        if not word or word.lower() in seen:
            continue
        seen.add(word.lower())
        stem = _stem(word)
        terms.append(SearchTerm((word, stem) if stem else (word,)))
        if len(terms) == MAX_TERMS:
            break
    return terms


def highlight(text: str, terms: list[SearchTerm], *, window: int = 160) -> list[tuple[str, bool]]:
    """`text` as parts (text, matched), cut to about `window` characters around the first match, with
    "…" where it was cut."""
    needles = sorted({form for term in terms for form in term.forms}, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(needle) for needle in needles), re.IGNORECASE) if needles else None
    matches = list(pattern.finditer(text)) if pattern else []
    start, end = 0, len(text)
    if len(text) > window:
        first = matches[0].start() if matches else 0
        start = max(0, min(first - window // 4, len(text) - window))
        end = start + window
    parts: list[tuple[str, bool]] = [("…", False)] if start > 0 else []
    position = start
    for match in matches:
        if match.end() <= start or match.start() >= end:
            continue
        match_start, match_end = max(match.start(), start), min(match.end(), end)
        if match_start > position:
            parts.append((text[position:match_start], False))
        parts.append((text[match_start:match_end], True))
        position = match_end
    if position < end:
        parts.append((text[position:end], False))
    if end < len(text):
        parts.append(("…", False))
    return parts
