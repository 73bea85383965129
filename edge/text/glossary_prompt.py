"""Layer a: whisper.cpp's `initial_prompt` built from the glossary.

A bare list of terms leaks into the transcript and is echoed on silence; a short, ordinary sentence
in the meeting's language that *uses* the terms biases their spelling without that. Terms used
recently in the meeting come first, then the glossary's order, and sentences are added only while
the prompt fits whisper's budget.

Budget: whisper.cpp keeps at most n_text_ctx / 2 = 224 prompt tokens (the rest is cut from the
front). Whisper's byte-level BPE never makes a token of less than one UTF-8 byte, so the number of
UTF-8 bytes is an upper bound on the tokens: a prompt of at most 224 bytes always fits whole.
Hangul is 3 bytes a syllable, so this is conservative by design (real Korean tokenization is about
1-2 tokens a syllable).
"""

from __future__ import annotations

from collections.abc import Iterable

from edge.text.glossary import Glossary, GlossaryTerm
from edge.text.hangul import with_particle

WHISPER_PROMPT_TOKENS = 224
TERMS_PER_SENTENCE = 3


def estimate_tokens(text: str) -> int:
    """An upper bound on whisper's token count for `text`: its UTF-8 bytes."""
    return len(text.encode("utf-8"))


def build_initial_prompt(
    glossary: Glossary,
    language: str,
    *,
    recent_terms: Iterable[str] = (),
    max_tokens: int = WHISPER_PROMPT_TOKENS,
) -> str:
    """A natural sentence or two in `language` ("ko" gets Korean, anything else English) using as
    many glossary terms as fit in `max_tokens` (estimated by `estimate_tokens`). `recent_terms` are
    term spellings used lately in the meeting; those not in the glossary are ignored. Returns "" for
    an empty glossary or a budget too small for one sentence."""
    ordered: dict[str, GlossaryTerm] = {}
    for spelling in recent_terms:
        term = glossary.get(spelling)
        if term is not None:
            ordered.setdefault(term.term, term)
    for term in glossary:
        ordered.setdefault(term.term, term)
    terms = list(ordered.values())
    korean = language == "ko"
    sentences: list[str] = []
    used = 0
    while used < len(terms):
        sentence = ""
        # The longest group of the next terms that still fits; stop when not even one does.
        for size in range(min(TERMS_PER_SENTENCE, len(terms) - used), 0, -1):
            group = terms[used : used + size]
            make = _korean_sentence if korean else _english_sentence
            attempt = make(group, index=len(sentences))
            if estimate_tokens(" ".join([*sentences, attempt])) <= max_tokens:
                sentence = attempt
                used += size
                break
        if not sentence:
            break
        sentences.append(sentence)
    return " ".join(sentences)


def _korean_list(group: list[GlossaryTerm]) -> str:
    """ "A, B와 C": the particle 와/과 follows the term's Korean reading, so the term before it is one
    whose reading is known when there is such a term."""
    if len(group) == 1:
        return group[0].term
    known = [term for term in group[:-1] if term.reading is not None]
    if known and group[-2].reading is None:
        index = group.index(known[-1])
        group = [*group[:index], *group[index + 1 : -1], known[-1], group[-1]]
    before_last = group[-2]
    if before_last.reading is None:
        return ", ".join(term.term for term in group)
    joined = with_particle(before_last.term, ("과", "와"), before_last.reading)
    return ", ".join([*(term.term for term in group[:-2]), joined]) + " " + group[-1].term


_KOREAN_MORE = ("{}도 함께 확인했습니다.", "{} 관련 작업도 남아 있습니다.")
_ENGLISH_MORE = ("We also checked {}.", "There is still work on {}.")


def _korean_sentence(group: list[GlossaryTerm], *, index: int) -> str:
    if index == 0:
        return f"오늘 회의에서는 {_korean_list(group)} 이야기를 합니다."
    return _KOREAN_MORE[(index - 1) % len(_KOREAN_MORE)].format(_korean_list(group))


def _english_sentence(group: list[GlossaryTerm], *, index: int) -> str:
    names = [term.term for term in group]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    if index == 0:
        return f"In today's meeting we talk about {listed}."
    return _ENGLISH_MORE[(index - 1) % len(_ENGLISH_MORE)].format(listed)
