"""Word and character error rates of a transcript against a reference.

English is scored by words (WER) after lowercasing and removing punctuation; Korean by characters
(CER) with spaces and punctuation removed, since Korean spacing varies between writers and models.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_PUNCTUATION = re.compile(r"[^\w\s']|_|(?<!\w)'|'(?!\w)")
# Languages scored by characters: no reliable word boundaries, or spacing that varies by writer.
CHARACTER_LANGUAGES = frozenset({"ko", "ja", "zh", "th"})


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance (substitutions, insertions and deletions all cost 1)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_item in enumerate(reference, start=1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp_item in enumerate(hypothesis, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_item != hyp_item))
        previous = current
    return previous[-1]


def normalised_words(text: str) -> list[str]:
    """Lowercase words without punctuation ("Americans," -> "americans"; "it's" stays)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _PUNCTUATION.sub(" ", text).split()


def normalised_characters(text: str) -> list[str]:
    """Characters without spaces or punctuation, NFC so a Hangul syllable is one character."""
    text = unicodedata.normalize("NFC", text)
    return [ch for ch in text if not ch.isspace() and not unicodedata.category(ch).startswith(("P", "S"))]


def word_error_rate(reference: str, hypothesis: str) -> float:
    words = normalised_words(reference)
    if not words:
        raise ValueError("the reference has no words")
    return edit_distance(words, normalised_words(hypothesis)) / len(words)


def character_error_rate(reference: str, hypothesis: str) -> float:
    chars = normalised_characters(reference)
    if not chars:
        raise ValueError("the reference has no characters")
    return edit_distance(chars, normalised_characters(hypothesis)) / len(chars)


def error_rate(language: str, reference: str, hypothesis: str) -> tuple[str, float]:
    """("CER", rate) for Korean and other character-scored languages, ("WER", rate) otherwise."""
    if language in CHARACTER_LANGUAGES:
        return "CER", character_error_rate(reference, hypothesis)
    return "WER", word_error_rate(reference, hypothesis)
