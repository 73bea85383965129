"""Which script a piece of text is written in, for the guards on LLM output.

Qwen sometimes answers Korean in Chinese, or slips single Han characters (漢字) into Hangul text;
Korean transcripts from Whisper never contain them unless the speaker's words did. These helpers
let correction and minutes detect Han that the model added, and tell Korean text from the rest.
"""

from __future__ import annotations

import re

# Unicode's Han script: CJK radicals, ideographic marks and every CJK Unified/Compatibility
# Ideographs block, including the supplementary-plane extensions.
_HAN_CLASS = (
    "\u2e80-\u2e99\u2e9b-\u2ef3\u2f00-\u2fd5\u3005\u3007\u3021-\u3029\u3038-\u303b"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufa6d\ufa70-\ufad9"
    "\U00020000-\U0002a6df\U0002a700-\U0002ebef\U0002ebf0-\U0002ee5f"
    "\U0002f800-\U0002fa1f\U00030000-\U000323af"
)
_HAN = re.compile(f"[{_HAN_CLASS}]")
_HAN_RUN = re.compile(f"[{_HAN_CLASS}](?:[{_HAN_CLASS} ]*[{_HAN_CLASS}])?")
_HANGUL_SYLLABLE = re.compile("[\uac00-\ud7a3]")
# Syllables plus the conjoining and compatibility jamo (ㅋㅋ, ㅠㅠ are Korean too).
_HANGUL_ANY = re.compile("[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\ud7b0-\ud7ff]")


def han_characters(text: str) -> list[str]:
    """The Han characters in `text`, in order, repeats kept."""
    return _HAN.findall(text)


def han_runs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each stretch of Han characters in `text`, spaces between them included."""
    return [match.span() for match in _HAN_RUN.finditer(text)]


def contains_han(text: str) -> bool:
    return _HAN.search(text) is not None


def added_han(source: str, output: str) -> set[str]:
    """Han characters present in `output` but not anywhere in `source`."""
    return set(han_characters(output)) - set(han_characters(source))


def hangul_syllables(text: str) -> list[str]:
    """The precomposed Hangul syllables (가-힣) in `text`, in order, repeats kept."""
    return _HANGUL_SYLLABLE.findall(text)


def contains_hangul(text: str) -> bool:
    return _HANGUL_ANY.search(text) is not None


def is_korean(text: str, language: str | None = None) -> bool:
    """True for text of a Korean meeting, or any text that contains Hangul."""
    return (language or "").lower().startswith("ko") or contains_hangul(text)
