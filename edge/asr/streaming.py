"""Commit policy for live transcription: pure, no model.

Rules:
- The VAD ends every utterance (at a pause, or at its length cap below whisper's 30 s window).
  The committed text of an utterance is one final decode of its whole audio; it never depends on
  the live partials, so a wrong partial can never reach the store.
- While an utterance goes on, its growing audio is re-decoded now and then. `PartialTracker`
  splits each hypothesis into a stable prefix and an unstable tail with LocalAgreement-2: a
  token is stable once two consecutive hypotheses agree on it and on everything before it.
- Stable text never retracts within an utterance: a later hypothesis that disagrees only changes
  the unstable tail. A final resets the tracker.
- Tokens are whitespace-separated words; Chinese and Japanese characters (written without
  spaces) are one token each. Korean is spaced, so it is compared word by word. Comparison
  ignores case and surrounding punctuation ("store" agrees with "Store.").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["PartialTracker", "Token", "tokenize"]

# Han (CJK ideographs), kana and half-width katakana: scripts written without spaces.
_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
_TOKEN = re.compile(rf"(\s*)([{_UNSPACED}]|[^\s{_UNSPACED}]+)")


@dataclass(frozen=True)
class Token:
    text: str
    space_before: bool

    @property
    def key(self) -> str:
        """What agreement compares: case-folded, without leading or trailing punctuation."""
        stripped = _strip_punctuation(self.text)
        return (stripped or self.text).casefold()


def _strip_punctuation(text: str) -> str:
    start, end = 0, len(text)
    while start < end and unicodedata.category(text[start]).startswith("P"):
        start += 1
    while end > start and unicodedata.category(text[end - 1]).startswith("P"):
        end -= 1
    return text[start:end]


def tokenize(text: str) -> list[Token]:
    return [Token(word, bool(space)) for space, word in _TOKEN.findall(text)]


def join_tokens(tokens: list[Token], *, leading: bool = False) -> str:
    """Text of `tokens`; `leading` keeps the space before the first one (for a tail after a prefix)."""
    parts = [(" " if t.space_before and (i or leading) else "") + t.text for i, t in enumerate(tokens)]
    return "".join(parts)


def _agreed(a: list[Token], b: list[Token]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x.key != y.key:
            break
        n += 1
    return n


class PartialTracker:
    """Stable/unstable split of successive hypotheses of one utterance (LocalAgreement-2).

    `update(text)` returns `(stable, unstable)`; `stable + unstable` is what to show (the
    unstable tail keeps its leading space when it has one).
    """

    def __init__(self) -> None:
        self._stable: list[Token] = []
        self._previous: list[Token] | None = None

    @property
    def stable(self) -> str:
        return join_tokens(self._stable)

    def update(self, hypothesis: str) -> tuple[str, str]:
        tokens = tokenize(hypothesis)
        if self._previous is not None:
            agreed = _agreed(self._previous, tokens)
            if agreed > len(self._stable):
                self._stable.extend(tokens[len(self._stable) : agreed])
        self._previous = tokens
        # Stable tokens stay as first agreed, even if this hypothesis now reads them differently.
        tail = tokens[len(self._stable) :]
        return join_tokens(self._stable), join_tokens(tail, leading=bool(self._stable))

    def reset(self) -> None:
        """Forget the utterance (call on its final decode, before the next one's partials)."""
        self._stable = []
        self._previous = None
