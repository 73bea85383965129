"""Learning from people's edits: a segment edit becomes glossary suggestions (alias -> term).

`suggest_from_edit(before, after, glossary)` aligns the text before the edit (what the recognizer
and correction made of the speech) with the person's text on spaced words, and proposes, for each
short replaced span, "what was heard -> what was meant" when that is plausibly a term correction:

- The new side looks like a term: Latin letters and digits (with - _ . / + # & ' and spaces between
  at most three words), a term already in the glossary, or a spelling of one (then the suggestion
  names that term's canonical spelling). Korean rewording ("재시작 -> 재부팅") is never a term.
- A Korean particle or ending after the term stays out of both sides: 쿠베를 -> Kubernetes를 gives
  쿠베 -> Kubernetes, and 깃헙을 -> GitHub를 gives 깃헙 -> GitHub (을/를 agree with the sound).
- The old side is not empty, is not the same spelling (case, spaces and - _ . / ignored), and is not
  already a term or an alias of another term (accepting it would be refused).
- A Latin old side (an English misrecognition such as "Cooper Netties") must resemble the term in
  its letters, and the new side must look like a name (a capital or a digit) or join words
  ("get hub" -> GitHub): plain English rewording ("there" -> "their") is not a term.
- Spans are short: at most three words on each side. An edit that rewrites most of a segment is
  rewording, not a term fix, and gives nothing.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from edge.text.glossary import Glossary, match_key
from edge.text.hangul import adjust_particle, is_noun_tail

MAX_SPAN_WORDS = 3
MAX_SIDE_CHARS = 60
# Replacing more words than this in one edit, when that is also most of the segment, is rewording.
MAX_CHANGED_WORDS = 4
MAX_SUGGESTIONS = 5
# Letters in common between an English misrecognition and the term it should have been.
MIN_LATIN_SIMILARITY = 0.6

_TERM_WORD = re.compile(r"[0-9A-Za-z][0-9A-Za-z\-_./+#&']*")
_LATIN_ONLY = re.compile(r"[0-9A-Za-z\s\-_./+#&']+")
_HANGUL = re.compile(r"[가-힣]")
_TERM_AND_TAIL = re.compile(r"(?P<core>.*?[0-9A-Za-z.+#])(?P<space>\s?)(?P<tail>[가-힣]+)")
# Quotes around a term ("쿠베"라고) are not part of it; an apostrophe inside a word may be.
_QUOTES = str.maketrans("", "", "\"“”‘’「」『』")
_OPENING = "'([{<"
_CLOSING = "')]}>.,!?;:…~"
# English function words are never a term, whatever a person typed over them.
_FUNCTION_WORDS = frozenset(
    {
        "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "with", "from",
        "as", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "these", "those", "i",
        "you", "he", "she", "we", "they", "me", "him", "her", "us", "them", "my", "your", "our", "their", "so",
        "not", "no", "yes", "do", "does", "did",
    }
)  # fmt: skip


def _strip_punctuation(text: str) -> str:
    text = text.translate(_QUOTES)
    return text.strip().lstrip(_OPENING).rstrip(_CLOSING).strip()


def _particle_forms(tail: str) -> list[str]:
    """`tail` and its forms after a consonant, a vowel and ㄹ (을/를, 이/가, 으로/로, ...)."""
    forms = [tail]
    for reading in ("각", "가", "갈"):
        form = adjust_particle(tail, reading)
        if form not in forms:
            forms.append(form)
    return forms


class _TermIndex:
    """Canonical spelling of every term, found by the key of the term or of any of its aliases."""

    def __init__(self, glossary: Glossary | None) -> None:
        self.terms: dict[str, str] = {}
        self.owners: dict[str, str] = {}
        self.aliases: dict[str, set[str]] = {}
        for entry in glossary or ():
            key = match_key(entry.term)
            self.terms[key] = entry.term
            self.owners[key] = entry.term
            self.aliases[entry.term] = {match_key(alias) for alias in entry.aliases}
            for alias in entry.aliases:
                self.owners.setdefault(match_key(alias), entry.term)

    def canonical(self, spelling: str) -> str | None:
        return self.owners.get(match_key(spelling))


def _split_new(new: str, index: _TermIndex) -> tuple[str, str] | None:
    """(term, particle tail) of the person's side, or None when it does not look like a term."""
    candidates = [(new, "")]
    match = _TERM_AND_TAIL.fullmatch(new)
    if match and is_noun_tail(match["tail"]):
        candidates.append((match["core"], match["tail"]))
    if _HANGUL.search(new):
        # A Hangul (or mixed) glossary term followed by its particle: 스프린트를, 포스트그레SQL에서.
        last_space = new.rfind(" ") + 1
        for cut in range(len(new) - 1, last_space, -1):
            if is_noun_tail(new[cut:]) and index.canonical(new[:cut]) is not None:
                candidates.append((new[:cut], new[cut:]))
                break
    for core, tail in candidates:
        core = core.strip()
        if core and (index.canonical(core) is not None or _looks_like_term(core)):
            return core, tail
    return None


def _looks_like_term(text: str) -> bool:
    if len(text) > MAX_SIDE_CHARS or not _LATIN_ONLY.fullmatch(text):
        return False
    words = text.split()
    if not 1 <= len(words) <= MAX_SPAN_WORDS or not all(_TERM_WORD.fullmatch(word) for word in words):
        return False
    return not (len(words) == 1 and text.lower() in _FUNCTION_WORDS)


def _strip_tail(old: str, tail: str) -> str | None:
    """The old side without the particle the new side ended in (in any of its forms)."""
    if not tail:
        return old
    for form in _particle_forms(tail):
        if old.endswith(form) and old[: -len(form)].strip():
            return old[: -len(form)].strip()
    return None


def _named(term: str, index: _TermIndex) -> bool:
    """A glossary term, or spelled like a name: a capital or a digit ("Kubernetes", "k8s")."""
    return index.canonical(term) is not None or any(char.isupper() or char.isdigit() for char in term)


def _latin_plausible(old: str, new: str, index: _TermIndex) -> bool:
    old_key, new_key = match_key(old), match_key(new)
    if SequenceMatcher(None, old_key, new_key, autojunk=False).ratio() < MIN_LATIN_SIMILARITY:
        return False
    joined = len(old.split()) != len(new.split())
    return joined or _named(new, index)


def _suggest_span(old: str, new: str, index: _TermIndex) -> tuple[str, str] | None:
    old, new = _strip_punctuation(old), _strip_punctuation(new)
    if not old or not new or len(old) > MAX_SIDE_CHARS or len(new) > MAX_SIDE_CHARS:
        return None
    split = _split_new(new, index)
    if split is None:
        return None
    core, tail = split
    alias = _strip_tail(old, tail)
    if alias is None:
        return None
    alias = _strip_punctuation(alias)
    if not alias or not any(char.isalpha() for char in alias) or len(alias.split()) > MAX_SPAN_WORDS:
        return None
    if "|" in alias or not alias.isprintable():
        return None  # the alias separator, or control characters: never a spelling to learn
    alias_key = match_key(alias)
    if alias_key == match_key(core):
        return None
    term = index.canonical(core) or core
    owner = index.owners.get(alias_key)
    if owner is not None or alias_key in index.aliases.get(term, ()):
        return None  # already a spelling of this term, or of another one
    if not _HANGUL.search(alias) and not _latin_plausible(alias, core, index):
        return None
    return alias, term


def suggest_from_edit(before: str, after: str, glossary: Glossary | None = None) -> list[tuple[str, str]]:
    """(alias, term) pairs that a person's edit of a segment from `before` to `after` suggests, in
    the order of the text, without repeats; [] for rewording. See the module doc for the rules."""
    old_words, new_words = before.split(), after.split()
    if not old_words or not new_words:
        return []
    index = _TermIndex(glossary)
    opcodes = SequenceMatcher(None, old_words, new_words, autojunk=False).get_opcodes()
    changed = sum(i2 - i1 for tag, i1, i2, _, _ in opcodes if tag != "equal")
    if changed > MAX_CHANGED_WORDS and changed * 2 > len(old_words):
        return []
    found: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag != "replace" or i2 - i1 > MAX_SPAN_WORDS or j2 - j1 > MAX_SPAN_WORDS:
            continue
        old_span, new_span = old_words[i1:i2], new_words[j1:j2]
        if len(old_span) == len(new_span) > 1:
            # Word for word ("쿠베 클러스터" -> "Kubernetes cluster") may be a translation ("회의 시작" ->
            # "start meeting"): only names and glossary terms count there, pair by pair, else the span.
            results = [_suggest_span(o, n, index) for o, n in zip(old_span, new_span, strict=True)]
            picked = [result for result in results if result is not None and _named(result[1], index)]
            if not picked:
                whole = _suggest_span(" ".join(old_span), " ".join(new_span), index)
                picked = [whole] if whole and _named(whole[1], index) else []
        else:
            whole = _suggest_span(" ".join(old_span), " ".join(new_span), index)
            picked = [whole] if whole else []
        for suggestion in picked:
            if suggestion not in found:
                found.append(suggestion)
    return found[:MAX_SUGGESTIONS]
