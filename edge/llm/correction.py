"""Layer c of the glossary: a local LLM corrects committed segments, and guards decide whether
its output may replace layer b's text.

The model sees a small batch of segments (layer b's text: glossary terms already canonical) plus a
few earlier segments as context, and must answer with JSON constrained by a schema. Each item of
its answer passes through pure guard functions; an item that fails any guard keeps layer b's text
and records why. The guards, in order: the answer is complete JSON of the requested structure with
every seq; the text is not empty; it adds no Han characters (unless the language is Chinese or
Japanese); every protected term in the input is still there, spelled the same; no content is
dropped (weighted length, word coverage, and for Korean the share of Hangul syllables kept) or
added (weighted length). Rejected items are retried once more (by default) with feedback.
Models without a chat template get the same request as a plain completion prompt with the schema
as a grammar (`LlmEngine.chat_json` does that).

`correct()` blocks its caller while the engine's owner thread works; scheduling it off the live
path is the application's job.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from edge.llm.engine import (
    FINISH_CANCELLED,
    FINISH_LENGTH,
    ChatModel,
    ContextOverflow,
    LlmUnavailable,
    parse_json_output,
)
from edge.text.han import added_han, hangul_syllables, is_korean

# Reasons recorded when an item keeps layer b's text.
REASON_CANCELLED = "cancelled"
REASON_TRUNCATED = "truncated"
REASON_INVALID_JSON = "invalid_json"
REASON_BAD_STRUCTURE = "bad_structure"
REASON_MISSING_SEQ = "missing_seq"
REASON_EMPTY = "empty"
REASON_ADDED_HAN = "added_han"
REASON_PROTECTED_TERM = "protected_term"
REASON_CONTENT_DROPPED = "content_dropped"
REASON_CONTENT_ADDED = "content_added"
REASON_CONTEXT_OVERFLOW = "context_overflow"
REASON_EMPTY_INPUT = "empty_input"
REASON_LLM_ERROR = "llm_error"

# Content guards work on a weighted length: a Hangul syllable or Han/kana character carries about
# as much as two Latin letters, so 쿠버네티스 (5) -> Kubernetes (10 x 0.5) keeps its length.
MIN_LENGTH_RATIO = 0.6
MAX_LENGTH_RATIO = 1.6
LENGTH_SLACK = 4.0
# Below this weighted length the ratios say nothing useful (one-word segments).
MIN_LENGTH_FOR_RATIO = 4.0
# Share of the input's words (case and punctuation ignored) that must reappear in the output,
# spacing ignored; checked for inputs of at least MIN_WORDS_FOR_COVERAGE words.
MIN_WORD_COVERAGE = 0.5
MIN_WORDS_FOR_COVERAGE = 4
# Korean input: share of its Hangul syllables the output must keep, where each glossary term the
# output adds stands for the Hangul spelling it replaced (half its letters, at least 2 syllables).
# Stops a Korean segment from being replaced by an English "translation" of any length.
MIN_HANGUL_RETENTION = 0.5
MIN_HANGUL_FOR_RETENTION = 2
# How many glossary terms the prompt lists at most (those in the batch come first).
MAX_PROMPT_TERMS = 40
RETRY_TEMPERATURE = 0.4

_WIDE = re.compile("[\uac00-\ud7a3\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_NOT_WORD = re.compile(r"[^\w]", re.UNICODE)
_SPACE = re.compile(r"\s+")


class SegmentText(NamedTuple):
    seq: int
    text: str


@dataclass(frozen=True)
class CorrectionResult:
    """The text to store as corrected: the LLM's when `accepted`, otherwise layer b's, with `reason`."""

    seq: int
    text: str
    accepted: bool
    reason: str | None = None


# -- pure guards ------------------------------------------------------------------------------


def weighted_length(text: str) -> float:
    """Non-space characters, Hangul/Han/kana counting 1 and everything else 0.5."""
    wide = len(_WIDE.findall(text))
    narrow = len(_SPACE.sub("", text)) - wide
    return wide + 0.5 * narrow


def word_coverage(source: str, output: str) -> float | None:
    """Share of the source's words found in the output (case, punctuation and spacing ignored),
    or None when the source has fewer than MIN_WORDS_FOR_COVERAGE words."""
    words = [w for w in (_NOT_WORD.sub("", w).casefold() for w in source.split()) if w]
    if len(words) < MIN_WORDS_FOR_COVERAGE:
        return None
    compact = _NOT_WORD.sub("", output).casefold()
    return sum(1 for w in words if w in compact) / len(words)


def hangul_retention(source: str, output: str, terms: Sequence[str]) -> float | None:
    """Share of the source's Hangul syllables kept in the output (as a multiset), crediting
    glossary terms the output adds; None when the source has fewer than MIN_HANGUL_FOR_RETENTION."""
    syllables = Counter(hangul_syllables(source))
    total = sum(syllables.values())
    if total < MIN_HANGUL_FOR_RETENTION:
        return None
    kept = sum((syllables & Counter(hangul_syllables(output))).values())
    credit = sum(
        max(2, (len(term) + 1) // 2) * (output.count(term) - source.count(term))
        for term in terms
        if term and output.count(term) > source.count(term)
    )
    return min(1.0, (kept + credit) / total)


def changed_protected_terms(source: str, output: str, terms: Sequence[str]) -> list[str]:
    """Protected terms that occur in `source` more often than in `output` (changed or dropped)."""
    return [t for t in terms if t and source.count(t) > output.count(t)]


def check_correction(source: str, output: str, *, language: str, protected_terms: Sequence[str]) -> str | None:
    """Why `output` may not replace `source` (a REASON_* string, with detail after a colon), or None."""
    if not output.strip():
        return REASON_EMPTY
    if not _writes_han(language):
        han = added_han(source, output)
        if han:
            return f"{REASON_ADDED_HAN}:{''.join(sorted(han))}"
    changed = changed_protected_terms(source, output, protected_terms)
    if changed:
        return f"{REASON_PROTECTED_TERM}:{changed[0]}"
    source_length, output_length = weighted_length(source), weighted_length(output)
    if source_length >= MIN_LENGTH_FOR_RATIO and output_length < MIN_LENGTH_RATIO * source_length:
        return f"{REASON_CONTENT_DROPPED}:length {output_length:g}/{source_length:g}"
    coverage = word_coverage(source, output)
    if coverage is not None and coverage < MIN_WORD_COVERAGE:
        return f"{REASON_CONTENT_DROPPED}:words {coverage:.2f}"
    if is_korean(source, language):
        retention = hangul_retention(source, output, protected_terms)
        if retention is not None and retention < MIN_HANGUL_RETENTION:
            return f"{REASON_CONTENT_DROPPED}:hangul {retention:.2f}"
    if output_length > MAX_LENGTH_RATIO * source_length + LENGTH_SLACK:
        return f"{REASON_CONTENT_ADDED}:length {output_length:g}/{source_length:g}"
    return None


def _writes_han(language: str) -> bool:
    """Chinese and Japanese text legitimately gains Han characters; Korean and the rest do not."""
    return (language or "").lower().startswith(("zh", "ja"))


def parse_corrections(text: str, finish_reason: str) -> tuple[dict[int, str], str | None]:
    """(seq -> corrected text, None), or ({}, reason) when the whole answer is unusable.

    Items that are not {"seq": int, "text": str} are skipped (their seqs then count as missing);
    the first item for a seq wins.
    """
    if finish_reason == FINISH_CANCELLED:
        return {}, REASON_CANCELLED
    parsed = parse_json_output(text)
    if parsed is None:
        return {}, REASON_TRUNCATED if finish_reason == FINISH_LENGTH else REASON_INVALID_JSON
    items = parsed.get("segments")
    if not isinstance(items, list):
        return {}, REASON_BAD_STRUCTURE
    texts: dict[int, str] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        seq, value = item.get("seq"), item.get("text")
        if isinstance(seq, int) and not isinstance(seq, bool) and isinstance(value, str):
            texts.setdefault(seq, value)
    return texts, None


# -- the request --------------------------------------------------------------------------------


def correction_schema(seqs: Sequence[int]) -> dict[str, Any]:
    """One object per segment, in order, each with its fixed seq."""
    return {
        "type": "object",
        "properties": {
            "segments": {
                "type": "array",
                "prefixItems": [
                    {
                        "type": "object",
                        "properties": {"seq": {"const": seq}, "text": {"type": "string"}},
                        "required": ["seq", "text"],
                        "additionalProperties": False,
                    }
                    for seq in seqs
                ],
                "minItems": len(seqs),
                "maxItems": len(seqs),
            }
        },
        "required": ["segments"],
        "additionalProperties": False,
    }


def prompt_terms(terms: Sequence[str], texts: Sequence[str]) -> list[str]:
    """Glossary terms for the prompt: those occurring in `texts` first, at most MAX_PROMPT_TERMS."""
    joined = "\n".join(texts)
    present = [t for t in terms if t and t in joined]
    others = [t for t in terms if t and t not in joined]
    return (present + others)[:MAX_PROMPT_TERMS]


def retry_feedback(reasons: Sequence[str]) -> str:
    """One sentence telling the model why its previous answer was rejected."""
    kinds = sorted({reason.split(":")[0] for reason in reasons})
    problems = [_FEEDBACK.get(kind, "it was not usable") for kind in kinds]
    return "Your previous answer was rejected because " + "; ".join(problems) + ". Follow the rules exactly."


_FEEDBACK = {
    REASON_TRUNCATED: "it was cut off",
    REASON_INVALID_JSON: "it was not valid JSON",
    REASON_BAD_STRUCTURE: "it did not have the requested structure",
    REASON_MISSING_SEQ: "a segment was missing",
    REASON_EMPTY: "a segment was empty",
    REASON_ADDED_HAN: "it added Chinese characters",
    REASON_PROTECTED_TERM: "it changed or dropped a protected term",
    REASON_CONTENT_DROPPED: "it dropped or rewrote what the speaker said",
    REASON_CONTENT_ADDED: "it added words the speaker did not say",
}


def build_messages(
    batch: Sequence[SegmentText],
    context_before: Sequence[str],
    *,
    language: str,
    terms: Sequence[str],
    feedback: str | None = None,
) -> list[dict[str, str]]:
    korean = (language or "").lower().startswith("ko")
    rules = [
        "You correct speech-recognition (ASR) errors in meeting transcript segments.",
        (
            "The meeting is in Korean; speakers mix in English technical terms."
            if korean
            else f"The meeting language is {language or 'unknown'}."
        ),
        "Rules:",
        "- Fix only clear recognition errors: misheard words, wrong spacing, and English terms "
        "written in Hangul (for example 쿠버네티스 -> Kubernetes).",
        "- Keep the speaker's wording, meaning and length. Do not summarize, translate, explain, "
        "answer, or add or remove sentences. If a segment is fine, return it unchanged.",
    ]
    if korean:
        rules += [
            "- Write Korean in Hangul and keep Korean particles and endings (Kubernetes를, GitHub에서).",
            "- Never use Chinese characters (漢字/Hanja) and never switch to Chinese or Japanese.",
        ]
    if terms:
        rules.append(
            "- Protected glossary terms: copy them exactly as written, never respell, translate or drop them: "
            + ", ".join(terms)
        )
    rules.append(
        'Answer with JSON only: {"segments": [{"seq": <seq>, "text": "<corrected text>"}]}, '
        "one item per segment to correct, same seq numbers, same order."
    )
    if feedback:
        rules.append(feedback)
    user = []
    if context_before:
        user.append("Earlier segments (context only, do not return them):")
        user += [f"- {line}" for line in context_before]
        user.append("")
    user.append("Segments to correct:")
    user.append(json.dumps({"segments": [{"seq": s.seq, "text": s.text} for s in batch]}, ensure_ascii=False))
    return [{"role": "system", "content": "\n".join(rules)}, {"role": "user", "content": "\n".join(user)}]


# -- the corrector -----------------------------------------------------------------------------


class LlmCorrector:
    def __init__(
        self,
        engine: ChatModel,
        *,
        language: str,
        protected_terms: Callable[[], list[str]],
        batch_size: int = 4,
        context_segments: int = 2,
        max_attempts: int = 2,
    ) -> None:
        if batch_size < 1 or max_attempts < 1 or context_segments < 0:
            raise ValueError("batch_size and max_attempts must be >= 1, context_segments >= 0")
        self.engine = engine
        self.language = language
        self.protected_terms = protected_terms
        self.batch_size = batch_size
        self.context_segments = context_segments
        self.max_attempts = max_attempts

    def correct(self, batch: Sequence[SegmentText], context_before: Sequence[str]) -> list[CorrectionResult]:
        """One result per input item, in input order. Never raises for model trouble: an item the
        model cannot improve safely keeps its input text, with the reason."""
        items = [SegmentText(int(seq), text) for seq, text in batch]
        terms = [t for t in self.protected_terms() if t]
        results: dict[int, CorrectionResult] = {}
        context = list(context_before)
        todo = []
        for item in items:
            if item.text.strip():
                todo.append(item)
            else:
                results[item.seq] = CorrectionResult(item.seq, item.text, False, REASON_EMPTY_INPUT)
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            window = context[-self.context_segments :] if self.context_segments else []
            for result in self._correct_chunk(chunk, window, terms):
                results[result.seq] = result
            context += [item.text for item in chunk]
        return [results[item.seq] for item in items]

    def _correct_chunk(self, chunk: list[SegmentText], context: list[str], terms: list[str]) -> list[CorrectionResult]:
        try:
            request = self._fit(chunk, context, terms)
        except LlmUnavailable:
            return [CorrectionResult(item.seq, item.text, False, REASON_CANCELLED) for item in chunk]
        except Exception as exc:
            reason = f"{REASON_LLM_ERROR}:{type(exc).__name__}"
            return [CorrectionResult(item.seq, item.text, False, reason) for item in chunk]
        if request is None:
            if len(chunk) == 1:
                return [CorrectionResult(chunk[0].seq, chunk[0].text, False, REASON_CONTEXT_OVERFLOW)]
            half = len(chunk) // 2
            later_context = [*context, *(item.text for item in chunk[:half])][-self.context_segments :]
            return self._correct_chunk(chunk[:half], context, terms) + self._correct_chunk(
                chunk[half:], later_context if self.context_segments else [], terms
            )
        messages, max_tokens = request
        schema = correction_schema([item.seq for item in chunk])
        accepted: dict[int, CorrectionResult] = {}
        reasons: dict[int, str] = {}
        for attempt in range(self.max_attempts):
            pending = [item for item in chunk if item.seq not in accepted]
            if not pending:
                break
            try:
                if attempt:
                    feedback = retry_feedback([reasons[item.seq] for item in pending if item.seq in reasons])
                    messages, max_tokens = self._fit(pending, context, terms, feedback) or (messages, max_tokens)
                    schema = correction_schema([item.seq for item in pending])
                result = self.engine.chat_json(
                    messages, schema, max_tokens=max_tokens, temperature=RETRY_TEMPERATURE if attempt else 0.0
                )
            except ContextOverflow:
                reasons.update({item.seq: REASON_CONTEXT_OVERFLOW for item in pending})
                break
            except LlmUnavailable:  # not a verdict on the text: it waits, as after a cancel
                reasons.update({item.seq: REASON_CANCELLED for item in pending})
                break
            except Exception as exc:
                reasons.update({item.seq: f"{REASON_LLM_ERROR}:{type(exc).__name__}" for item in pending})
                continue
            texts, whole = parse_corrections(result.text, result.finish_reason)
            for item in pending:
                if whole is not None:
                    reasons[item.seq] = whole
                elif item.seq not in texts:
                    reasons[item.seq] = REASON_MISSING_SEQ
                else:
                    issue = check_correction(item.text, texts[item.seq], language=self.language, protected_terms=terms)
                    if issue is None:
                        accepted[item.seq] = CorrectionResult(item.seq, texts[item.seq], True, None)
                    else:
                        reasons[item.seq] = issue
            if whole == REASON_CANCELLED:
                break
        return [
            accepted.get(item.seq) or CorrectionResult(item.seq, item.text, False, reasons.get(item.seq))
            for item in chunk
        ]

    def _fit(
        self, chunk: list[SegmentText], context: list[str], terms: list[str], feedback: str | None = None
    ) -> tuple[list[dict[str, str]], int] | None:
        """(messages, max_tokens) that fit the context window, dropping the context if needed."""
        listed = prompt_terms(terms, [item.text for item in chunk])
        # Room for each text to grow a little, plus the JSON around it.
        max_tokens = sum(2 * self.engine.count_tokens(item.text) + 24 for item in chunk) + 16
        for window in (context, []) if context else ([],):
            messages = build_messages(chunk, window, language=self.language, terms=listed, feedback=feedback)
            if self.engine.count_prompt_tokens(messages) + max_tokens <= self.engine.n_ctx:
                return messages, max_tokens
        return None
