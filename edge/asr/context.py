"""The prompt of each utterance: what this meeting has already said, never what it might say.

whisper continues its prompt, so a prompt listing glossary terms makes it write them into speech
that does not contain them ("ask not" became "Ask Notion." with a glossary holding Notion). The
prompt here holds only the meeting's own recent committed text in the language the utterance is
decoded in (an English sentence before Korean speech makes whisper translate or loop: 20 CPU-seconds
on a 3 s Korean clip, then English words), plus the glossary terms already heard in this meeting that
fell out of that text, in a token budget counted with the model's tokenizer (whisper.cpp keeps at
most 224 and cuts a longer prompt from the front; every prompt token costs decoder time on each
utterance, so the box's default is smaller). The first utterance of a meeting gets only the
configured base prompt.

`looks_like_echo` is the guard for the other failure of a prompt: whisper repeating it (or looping)
on audio it cannot read. The stage then decodes the utterance once more without the prompt.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable
from itertools import pairwise

__all__ = ["PROMPT_TOKENS", "MeetingContext", "looks_like_echo"]

PROMPT_TOKENS = 224  # whisper.cpp keeps n_text_ctx / 2 prompt tokens
RECENT_SEGMENTS = 12  # more than ever fits the budget
# An output this long (letters) that the prompt already contains is an echo, not speech.
ECHO_MIN_LETTERS = 12
# The same word group this many times in a row is a decoding loop.
LOOP_REPEATS = 4

_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+")


class MeetingContext:
    """Prompt state of one meeting. `note_committed` and `set_glossary` may come from any thread;
    `prompt` runs on the ASR thread with the model's token counter."""

    def __init__(self, glossary_terms: Iterable[str] = (), *, base_prompt: str = "", budget: int = PROMPT_TOKENS):
        self._lock = threading.Lock()
        self._terms = _unique(glossary_terms)
        self._heard: list[str] = []  # glossary terms in the order first heard
        self._recent: deque[tuple[str, str | None]] = deque(maxlen=RECENT_SEGMENTS)  # (text, language)
        self.base_prompt = base_prompt.strip()
        self.budget = budget

    def set_glossary(self, terms: Iterable[str]) -> None:
        """A changed glossary: a term removed from it is no longer offered, even if heard."""
        with self._lock:
            self._terms = _unique(terms)
            keys = {t.casefold() for t in self._terms}
            self._heard = [t for t in self._heard if t.casefold() in keys]

    def note_committed(self, text: str, used_terms: Iterable[str] = (), language: str | None = None) -> None:
        """A segment was committed: `text` as stored (after correction) in `language` (None: any),
        `used_terms` the glossary terms a correction put in it. Terms the text spells out count as
        heard as well."""
        text = " ".join(text.split())
        if not text:
            return
        with self._lock:
            self._recent.append((text, language))
            folded = text.casefold()
            heard = {t.casefold() for t in self._heard}
            candidates = [*used_terms, *(t for t in self._terms if _contains_term(folded, t.casefold()))]
            known = {t.casefold(): t for t in self._terms}
            for term in candidates:
                key = term.casefold()
                if key in known and key not in heard:
                    self._heard.append(known[key])
                    heard.add(key)

    @property
    def heard_terms(self) -> list[str]:
        with self._lock:
            return list(self._heard)

    def prompt(self, count_tokens: Callable[[str], int], language: str | None = None) -> str:
        """Base prompt, heard terms not in the chosen recent text (at most half the budget), then
        as much recent text in `language` (None: in any) as fits, newest last."""
        with self._lock:
            recent = [text for text, said_in in self._recent if language is None or said_in in (None, language)]
            heard = list(self._heard)
        fits = lambda text: count_tokens(text) <= self.budget  # noqa: E731
        head = self.base_prompt if fits(self.base_prompt) else ""
        chosen: list[str] = []
        for segment in reversed(recent):
            if not fits(_join(head, segment, *chosen)):
                if not chosen:  # the newest segment alone is too long: keep its end
                    tail = _fitting_tail(segment, lambda text: fits(_join(head, text)))
                    chosen = [tail] if tail else []
                break
            chosen.insert(0, segment)
        window = " ".join(chosen).casefold()
        terms: list[str] = []
        for term in reversed(heard):  # the most recently heard first
            if _contains_term(window, term.casefold()):
                continue
            line = _term_line([*terms, term])
            if count_tokens(line) > self.budget // 2:
                break
            while chosen and not fits(_join(head, line, *chosen)):
                chosen.pop(0)
            if not fits(_join(head, line, *chosen)):
                break
            terms.append(term)
        return _join(head, _term_line(terms), *chosen)


def looks_like_echo(output: str, prompt: str) -> bool:
    """True when `output`, or one of its sentences, repeats a stretch of `prompt`, when a sentence is
    said twice in a row, or when it loops on one word group."""
    words = [w.casefold() for w in _WORD.findall(output)]
    if _loops(words):
        return True
    sentences = ["".join(w.casefold() for w in _WORD.findall(part)) for part in _SENTENCE_END.split(output)]
    sentences = [letters for letters in sentences if letters]
    if any(a == b and len(a) >= ECHO_MIN_LETTERS // 2 for a, b in pairwise(sentences)):
        return True
    if not prompt:
        return False
    prompt_letters = "".join(w.casefold() for w in _WORD.findall(prompt))
    stretches = ["".join(words), *sentences]
    return any(len(letters) >= ECHO_MIN_LETTERS and letters in prompt_letters for letters in stretches)


def _loops(words: list[str]) -> bool:
    n = len(words)
    for size in range(1, n // LOOP_REPEATS + 1):
        for start in range(0, n - size * LOOP_REPEATS + 1):
            unit = words[start : start + size]
            if all(words[start + k * size : start + (k + 1) * size] == unit for k in range(1, LOOP_REPEATS)):
                return True
    return False


def _contains_term(folded_text: str, folded_term: str) -> bool:
    """`folded_term` in `folded_text`, not inside a longer Latin word (Korean particles may follow)."""
    start = folded_text.find(folded_term)
    while start >= 0:
        end = start + len(folded_term)
        before = folded_text[start - 1] if start else " "
        after = folded_text[end] if end < len(folded_text) else " "
        if not (_latin(before) and _latin(folded_term[0])) and not (_latin(after) and _latin(folded_term[-1])):
            return True
        start = folded_text.find(folded_term, start + 1)
    return False


def _latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _term_line(terms: list[str]) -> str:
    return ", ".join(terms) + "." if terms else ""


def _join(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def _fitting_tail(text: str, fits: Callable[[str], bool]) -> str:
    words = text.split()
    for start in range(1, len(words)):
        tail = " ".join(words[start:])
        if fits(tail):
            return tail
    return ""


def _unique(terms: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for term in terms:
        term = unicodedata.normalize("NFC", term.strip())
        if term:
            seen.setdefault(term.casefold(), term)
    return list(seen.values())
