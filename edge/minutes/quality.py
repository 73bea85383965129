"""Quality gates for the LLM's minutes: what schema validation lets through but a person would not
accept. Each returns a problem kind the generator retries with feedback on, and that
`edge.minutes.reasons` explains in plain words:

- `echo`: the title or summary copies the prompt's instructions ("Two to four sentences. Topics: the
  subjects discussed.") rather than the meeting;
- `first_line`: the title and summary only repeat the transcript's first line;
- `nothing_checkable`: no topic, decision, action item or question, so nothing cites the meeting
  (on a transcript of at least MIN_LINES_FOR_ITEMS lines).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from edge.minutes.schema import MinutesContent

ECHO_WORDS = 4  # this many words in a row from the instructions (and not from the meeting) are an echo
ECHO_MIN_CHARS = 14
MIN_LINES_FOR_ITEMS = 3
_WORD = re.compile(r"[\w/+#.-]+", re.UNICODE)


def _words(text: str) -> list[str]:
    return [word.strip(".-").casefold() for word in _WORD.findall(text) if word.strip(".-")]


def _windows(words: Sequence[str], size: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def echoes_instructions(text: str, instructions: str, transcript: str) -> bool:
    """True when `text` holds ECHO_WORDS words in a row that the instructions have and the transcript
    does not."""
    words = _words(text)
    copied = _windows(words, ECHO_WORDS) & _windows(_words(instructions), ECHO_WORDS)
    copied -= _windows(_words(transcript), ECHO_WORDS)
    return any(len(" ".join(window)) >= ECHO_MIN_CHARS for window in copied)


def _compact(text: str) -> str:
    return "".join(_words(text))


def repeats_first_line(content: MinutesContent, first_line: str) -> bool:
    first = _compact(first_line)
    if not first:
        return False
    heads = [_compact(content.summary), _compact(content.title)]
    return all(head and head in first for head in heads)


def gate_problem(content: MinutesContent, *, instructions: str, lines: Sequence[str]) -> str | None:
    """The first gate `content` fails, as "kind: detail", or None."""
    transcript = "\n".join(lines)
    for name, text in (("summary", content.summary), ("title", content.title)):
        if echoes_instructions(text, instructions, transcript):
            return f"echo: the {name} copies the instructions"
    if lines and repeats_first_line(content, lines[0]):
        return "first_line: the title and summary only repeat the first line"
    if len(lines) >= MIN_LINES_FOR_ITEMS and not content.items():
        return "nothing_checkable: no topic, decision, action item or question"
    return None
