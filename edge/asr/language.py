"""Which language to decode each utterance in, for meetings that mix a few known languages.

whisper's language detection ranks all of its languages; Korean speech with English terms can
come out as Japanese or Chinese, and forcing "ko" turns English speech into Korean-looking
nonsense. `LanguagePolicy` keeps only the allowed languages' probabilities and sticks to the
meeting's current language unless another one wins clearly (by `margin`) or the utterance is long
enough (`min_switch_s`) for whisper's guess to be trusted: a short "OK." in a Korean meeting does
not flip it to English, a long English sentence does. Under `min_detect_s` of speech ("네.", "OK.")
whisper's guess is not worth its encoder pass (a third of an utterance's ASR cost): the meeting's
current language decodes it without asking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from edge.core.errors import ConfigError

__all__ = ["LanguagePolicy"]

SWITCH_MARGIN = 0.3
SWITCH_MIN_S = 2.5
DETECT_MIN_S = 1.0


class LanguagePolicy:
    """State of one meeting: its current language among `allowed`, and how often it switched."""

    def __init__(
        self,
        allowed: Sequence[str],
        *,
        margin: float = SWITCH_MARGIN,
        min_switch_s: float = SWITCH_MIN_S,
        min_detect_s: float = DETECT_MIN_S,
    ) -> None:
        if len(allowed) < 2 or len(set(allowed)) != len(allowed):
            raise ConfigError(f"asr.languages needs two or more different languages (got {list(allowed)})")
        self.allowed = tuple(allowed)
        self.margin = margin
        self.min_switch_s = min_switch_s
        self.min_detect_s = min_detect_s
        self.current: str | None = None
        self.switches = 0

    def needs_detection(self, duration_s: float) -> bool:
        """Whether an utterance of `duration_s` is worth whisper's language detection."""
        return self.current is None or duration_s >= self.min_detect_s

    def choose(self, probabilities: Mapping[str, float], duration_s: float) -> str:
        """The language to decode an utterance of `duration_s` in, given whisper's `probabilities`."""
        allowed = {code: float(probabilities.get(code, 0.0)) for code in self.allowed}
        total = sum(allowed.values())
        if total <= 0:
            return self.current or self.allowed[0]
        best = max(allowed, key=lambda code: allowed[code])
        if self.current is None:
            self.current = best
        elif best != self.current:
            lead = (allowed[best] - allowed[self.current]) / total
            if lead >= self.margin or duration_s >= self.min_switch_s:
                self.current = best
                self.switches += 1
        return self.current
