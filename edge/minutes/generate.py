"""Writing a meeting's minutes with the local LLM, within its context window, with every claim
linked to the transcript segments it comes from.

How a meeting becomes minutes (`MinutesGenerator.generate`):

1. The transcript is rendered one segment per line, `[#seq] text`, and every line is measured with
   the model's own tokenizer. If the instructions, the whole transcript and the output budget
   (`minutes.output_tokens`) fit `llm.n_ctx`, one call writes the minutes.
2. Otherwise map-reduce: the lines are packed into chunks of whole segments (a single segment too
   long for a chunk is clipped, never split across chunks); each chunk becomes notes (map); notes
   are merged in groups until they fit one final call (reduce); the final call writes the minutes.
   Every item carries `evidence` seqs at every stage; a stage may cite only seqs present in its
   input (a chunk's segments, or the seqs its input notes cite), enforced by the output grammar
   where the set is small and by validation always.
3. Every answer is schema-constrained JSON (llama.cpp grammar), then validated. Repairs that are
   sound are made in place: evidence citing a seq the input lacks is dropped, and an item left
   without evidence, with added Han characters in a Korean meeting, or invalid on its own is
   dropped. Anything else (truncated, not JSON, wrong structure, Han in the title or summary, a
   Korean meeting's summary without Hangul, most items ungrounded) is regenerated with feedback, a
   higher temperature and, after truncation, fewer items, up to `minutes.max_attempts` times.
4. A chunk whose notes still fail becomes a gap (its segments are listed as not summarized); a
   merge or final call that still fails, every chunk failing, a cancelled generation or an engine
   error ends in a failure with a one-line reason. Model trouble never raises.
5. Owners are resolved against attendees and names in the transcript (`edge.minutes.owners`);
   a due date the cited segments do not mention is dropped; an owner or due date that contradicts
   what the extractive rules read in the cited lines is repaired (`edge.minutes.crosscheck`);
   glossary terms are spelled canonically. The final answer also passes quality gates
   (`edge.minutes.quality`: no copied instructions, not just the first line, something checkable).

`generate_minutes` runs this for a stored meeting and saves the result: published (minutes row and
"minutes" outbox row in one transaction) or, with `minutes.require_approval` or gaps, a draft
that `Store.approve_minutes` publishes; or failed, with the reason.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ValidationError

from edge.llm.engine import FINISH_CANCELLED, FINISH_LENGTH, ContextOverflow, LlmResult, parse_json_output
from edge.minutes.crosscheck import cross_check
from edge.minutes.extractive import extract_minutes
from edge.minutes.floor import save_floor_minutes
from edge.minutes.owners import known_people, resolve_owner, speaker_name_of
from edge.minutes.quality import gate_problem
from edge.minutes.schema import (
    MAX_EVIDENCE,
    UNASSIGNED,
    ActionItem,
    ChunkNotes,
    Decision,
    Gap,
    Minutes,
    MinutesContent,
    MinutesInvalid,
    OpenQuestion,
    Topic,
    first_error,
    validate_minutes,
)
from edge.text.han import added_han, contains_hangul, han_characters, is_korean

if TYPE_CHECKING:
    from edge.core.config import MinutesConfig
    from edge.core.events import Segment
    from edge.store import Store
    from edge.text.glossary import Glossary

log = logging.getLogger(__name__)

STAGE_MAP = "map"
STAGE_REDUCE = "reduce"
STAGE_FINAL = "final"
STAGE_REPAIR = "repair"

STATUS_GENERATING = "generating"
STATUS_DRAFT = "draft"
STATUS_PUBLISHED = "published"
STATUS_FAILED = "failed"
CANCELLED = "minutes generation was cancelled"

# Evidence is constrained by the grammar to the input's seqs up to this many (a longer alternation
# slows grammar sampling on large vocabularies); beyond it validation alone drops foreign seqs.
ENUM_EVIDENCE_LIMIT = 96
# Tokens kept free besides the measured prompt and output budget (tokenizer boundary effects).
SAFETY_TOKENS = 16
# Smallest transcript room per map call that is worth a call.
MIN_CHUNK_TOKENS = 48
MAX_PROMPT_TERMS = 40
PROGRESS_EVERY_PIECES = 8

ProgressCallback = Callable[[dict[str, Any]], None]
Messages = list[dict[str, str]]
LIST_KEYS = ("topics", "decisions", "action_items", "open_questions")
_ITEM_MODELS: dict[str, type[BaseModel]] = {
    "topics": Topic,
    "decisions": Decision,
    "action_items": ActionItem,
    "open_questions": OpenQuestion,
}
_LANGUAGE_NAMES = {
    "ko": "Korean", "en": "English", "ja": "Japanese", "zh": "Chinese", "de": "German", "fr": "French",
    "es": "Spanish", "it": "Italian", "pt": "Portuguese", "ru": "Russian", "vi": "Vietnamese",
}  # fmt: skip
_NO_DUE = frozenset({"", "none", "null", "n/a", "na", "tbd", "-", "없음", "미정", "未定"})
_DUE_TOKEN = re.compile(r"[0-9]+|[가-힣A-Za-z]+")
_DUE_SUFFIXES = ("까지는", "까지", "전까지", "안에", "내로", "중으로", "중에", "쯤", "경", "에는", "에")


class MinutesEngine(Protocol):
    """What minutes need from the LLM (`edge.llm.engine.LlmEngine` provides it)."""

    @property
    def n_ctx(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def count_prompt_tokens(self, messages: Sequence[Mapping[str, str]]) -> int: ...

    def chat_json(
        self,
        messages: Sequence[Mapping[str, str]],
        schema: Mapping[str, Any],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        on_token: Callable[[str], None] | None = None,
    ) -> LlmResult: ...


# -- the transcript and planning (pure) ---------------------------------------------------------


@dataclass(frozen=True)
class TranscriptLine:
    seq: int
    t0_ms: int
    t1_ms: int
    text: str

    @property
    def display_text(self) -> str:
        return self.text

    def render(self) -> str:
        return f"[#{self.seq}] {self.text}"


def transcript_lines(segments: Sequence[Segment]) -> list[TranscriptLine]:
    """One line per segment with text (corrected text where there is one), newlines flattened, after
    "Name: " when people named its speaker (an unnamed label such as "S1" names nobody, so it is left out)."""
    lines = []
    for segment in segments:
        text = " ".join(segment.display_text.split())
        if text:
            name = speaker_name_of(segment)
            lines.append(TranscriptLine(segment.seq, segment.t0_ms, segment.t1_ms, f"{name}: {text}" if name else text))
    return lines


def _greedy(costs: Sequence[int], limit: int) -> list[tuple[int, int]]:
    ranges, start, total = [], 0, 0
    for index, cost in enumerate(costs):
        if index > start and total + cost > limit:
            ranges.append((start, index))
            start, total = index, 0
        total += cost
    if start < len(costs):
        ranges.append((start, len(costs)))
    return ranges


def pack(costs: Sequence[int], budget: int) -> list[tuple[int, int]]:
    """Consecutive [start, end) index ranges, each within `budget` (an item over budget stands
    alone), as few as greedy packing gives but with sizes evened out (no tiny last chunk)."""
    if not costs:
        return []
    fewest = _greedy(costs, budget)
    total = sum(costs)
    limit = max(max(costs), math.ceil(total / len(fewest)))
    step = max(1, budget // 64)
    while limit < budget:
        ranges = _greedy(costs, limit)
        if len(ranges) <= len(fewest):
            return ranges
        limit += step
    return fewest


def language_name(language: str) -> str:
    return _LANGUAGE_NAMES.get((language or "").lower().split("-")[0], language or "the meeting's language")


def resolve_language(configured: str, meeting_language: str, texts: Sequence[str]) -> str:
    """The minutes' language: the configured override, the meeting's, or (for "auto" or blank)
    Korean when most lines contain Hangul, else English."""
    for language in (configured, meeting_language):
        if language and language != "auto":
            return language
    hangul = sum(1 for text in texts if contains_hangul(text))
    return "ko" if texts and hangul * 2 >= len(texts) else "en"


def due_was_said(due: str, texts: Sequence[str]) -> bool:
    """True when the cited text says this deadline: every number in it and every word (endings
    like 까지 dropped, spacing ignored) occur there. Guards against invented due dates."""
    tokens = _DUE_TOKEN.findall(due)
    if not tokens:
        return False
    joined = " ".join(texts)
    numbers = [t for t in tokens if t.isdigit()]
    words = []
    for token in (t for t in tokens if not t.isdigit()):
        for suffix in _DUE_SUFFIXES:
            if token.endswith(suffix) and len(token) > len(suffix):
                token = token[: -len(suffix)]
                break
        words.append(token.casefold())
    if any(number not in re.findall(r"[0-9]+", joined) for number in numbers):
        return False
    compact = "".join(joined.casefold().split())
    return all(word in compact for word in words)


# -- output schema and validation (pure) ---------------------------------------------------------


def output_schema(kind: str, *, evidence: Sequence[int] | None, max_items: int) -> dict[str, Any]:
    """JSON schema for the model's answer: kind "final" (title + summary + lists) or "notes".
    `evidence`: the seqs it may cite (an enum when small), or None for any integer."""
    seq_schema: dict[str, Any] = {"type": "integer"}
    if evidence is not None and len(evidence) == 0:
        # Nothing to cite, so no items; never an empty enum: its empty grammar rule crashes llama.cpp.
        max_items = 0
    elif evidence is not None and len(evidence) <= ENUM_EVIDENCE_LIMIT:
        seq_schema = {"enum": sorted(set(evidence))}
    evidence_schema = {"type": "array", "items": seq_schema, "minItems": 1, "maxItems": MAX_EVIDENCE}

    def obj(properties: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }

    def array(item: dict[str, Any]) -> dict[str, Any]:
        return {"type": "array", "items": item, "maxItems": max_items}

    text = {"type": "string"}
    lists = {
        "topics": array(obj({"title": text, "summary": text, "evidence": evidence_schema})),
        "decisions": array(obj({"text": text, "evidence": evidence_schema})),
        "action_items": array(
            obj(
                {
                    "task": text,
                    "owner": text,
                    "due": text,
                    "evidence": evidence_schema,
                    "confidence": {"type": "number"},
                }
            )
        ),
        "open_questions": array(obj({"text": text, "evidence": evidence_schema})),
    }
    head = {"title": text, "summary": text} if kind == "final" else {"summary": text}
    return obj({**head, **lists})


@dataclass(frozen=True)
class Checked:
    """A validated answer (`value`), or why it was rejected (`problem`); `repairs` lists what was
    dropped; `weak` marks a value accepted only when no better attempt comes (most items dropped)."""

    value: BaseModel | None
    problem: str | None = None
    repairs: tuple[str, ...] = ()
    weak: bool = False


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def repair_items(
    raw: dict[str, Any], *, allowed: set[int], source_han: set[str], korean: bool
) -> tuple[dict[str, Any], list[str], int, int]:
    """Drop what cannot stand: evidence outside `allowed`, then items with no evidence left, with
    Han characters the source lacks (Korean), or invalid on their own. Confidence is clamped to
    [0, 1]. Returns (repaired dict, repairs, items dropped, items kept)."""
    repaired = dict(raw)
    repairs: list[str] = []
    dropped = kept = 0
    for key in LIST_KEYS:
        items = raw.get(key, [])
        if not isinstance(items, list):
            continue
        good: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            where = f"{key}[{index}]"
            if not isinstance(item, dict):
                dropped += 1
                repairs.append(f"{where}: dropped, not an object")
                continue
            item = dict(item)
            evidence = item.get("evidence")
            if isinstance(evidence, list):
                cited = [s for s in evidence if isinstance(s, int) and not isinstance(s, bool)]
                valid = list(dict.fromkeys(s for s in cited if s in allowed))
                if len(valid) < len(evidence):
                    bad = [s for s in evidence if s not in valid]
                    repairs.append(f"{where}: dropped evidence {bad} not in the input")
                item["evidence"] = valid[:MAX_EVIDENCE]
                if not valid:
                    dropped += 1
                    repairs.append(f"{where}: dropped, no valid evidence")
                    continue
            if korean:
                han = set().union(*(added_han("".join(source_han), s) for s in _strings(item)))
                if han:
                    dropped += 1
                    repairs.append(f"{where}: dropped, added Han characters {''.join(sorted(han))}")
                    continue
            if key == "action_items" and not (isinstance(item.get("owner"), str) and item["owner"].strip()):
                item["owner"] = UNASSIGNED
            confidence = item.get("confidence")
            if isinstance(confidence, (int, float)) and not isinstance(confidence, bool):
                item["confidence"] = min(1.0, max(0.0, float(confidence))) if math.isfinite(confidence) else 0.5
            try:
                _ITEM_MODELS[key].model_validate(item)
            except ValidationError as exc:
                dropped += 1
                repairs.append(f"{where}: dropped, {first_error(exc)}")
                continue
            good.append(item)
            kept += 1
        repaired[key] = good
    return repaired, repairs, dropped, kept


def check_answer(
    result: LlmResult,
    model: type[BaseModel],
    *,
    allowed: set[int],
    source_han: set[str],
    korean: bool,
    require_language: bool,
) -> Checked:
    """Validate one answer: complete JSON of `model`'s shape, items repaired, then the head checks
    (no added Han in title or summary; for `require_language` in a Korean meeting, Hangul in the
    summary). Cancellation is reported as the problem "cancelled"."""
    if result.finish_reason == FINISH_CANCELLED:
        return Checked(None, "cancelled")
    raw = parse_json_output(result.text)
    if raw is None:
        return Checked(None, "truncated" if result.finish_reason == FINISH_LENGTH else "invalid_json")
    repaired, repairs, dropped, kept = repair_items(raw, allowed=allowed, source_han=source_han, korean=korean)
    try:
        value = model.model_validate(repaired)
    except ValidationError as exc:
        return Checked(None, f"bad_structure: {first_error(exc)}", tuple(repairs))
    head = " ".join(s for s in (getattr(value, "title", ""), getattr(value, "summary", "")) if s)
    if korean:
        han = added_han("".join(source_han), head)
        if han:
            return Checked(None, f"added_han: {''.join(sorted(han))}", tuple(repairs))
        if require_language and not contains_hangul(getattr(value, "summary", "")):
            return Checked(None, "not_korean: the summary has no Korean", tuple(repairs))
    weak = dropped >= 2 and dropped > kept
    return Checked(value, None, tuple(repairs), weak)


_FEEDBACK = {
    "truncated": "it was cut off before the JSON was complete: write fewer and shorter items",
    "invalid_json": "it was not valid JSON",
    "bad_structure": "it did not have the requested structure",
    "added_han": "it used Chinese characters (Hanja); write Korean in Hangul only",
    "not_korean": "it was not written in Korean",
    "ungrounded": "most items cited segment numbers that are not in the input; cite only the numbers shown",
    "echo": "it copied these instructions instead of describing the meeting",
    "first_line": "it only repeated the first line of the transcript; summarize the whole meeting",
    "nothing_checkable": "it listed no topic, decision or action item citing the transcript",
}


def feedback_for(problem: str) -> str:
    kind = problem.split(":")[0]
    return f"Your previous answer was rejected because {_FEEDBACK.get(kind, 'it was not usable')}."


# Planning measures prompts with the longest feedback, so a retry fits wherever the first try did.
LONGEST_FEEDBACK = max((feedback_for(kind) for kind in _FEEDBACK), key=len)


# -- prompts --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptContext:
    language: str
    attendees: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    max_items: int = 8


def _language_rules(language: str) -> list[str]:
    if is_korean("", language):
        return [
            "Write every text field in Korean (Hangul), the meeting's language; keep English technical terms "
            "in English as spoken. Never use Chinese characters (Hanja)."
        ]
    return [f"Write every text field in {language_name(language)}, the meeting's language."]


def _common_rules(context: PromptContext, feedback: str | None) -> list[str]:
    rules = [
        "- Use only what the input says; never invent facts, names, owners or dates.",
        "- Every item has evidence: the segment numbers (numbers only, e.g. [12, 15]) it comes from.",
        "- decisions: only what was agreed. open_questions: questions raised and left unanswered.",
        "- action_items: task; owner = the one person who agreed or was asked to do it, named as in the input, "
        'or "unassigned" when that is not clear; due = the deadline exactly as said, or "" if none was said; '
        "confidence from 0 to 1.",
        f"- At most {context.max_items} items per list; fewer is fine. Answer with the JSON only.",
    ]
    if context.attendees:
        rules.append("Attendees: " + ", ".join(context.attendees))
    if context.terms:
        rules.append("Glossary terms, spell exactly so: " + ", ".join(context.terms))
    if feedback:
        rules.append(feedback)
    return rules


def final_messages_from_transcript(
    lines: Sequence[TranscriptLine], context: PromptContext, feedback: str | None = None
) -> Messages:
    system = [
        "You write the minutes of a meeting from its transcript. Each transcript line starts with its "
        "segment number, like [#12].",
        *_language_rules(context.language),
        "title: a short title of the meeting. summary: two to four sentences. topics: the subjects discussed.",
        *_common_rules(context, feedback),
    ]
    user = "Transcript:\n" + "\n".join(line.render() for line in lines)
    return [{"role": "system", "content": "\n".join(system)}, {"role": "user", "content": user}]


def map_messages(lines: Sequence[TranscriptLine], context: PromptContext, feedback: str | None = None) -> Messages:
    # The system message is the same for every chunk, so llama.cpp reuses its cached prefix.
    first, last = (lines[0].seq, lines[-1].seq) if lines else (0, 0)
    system = [
        "You take notes on one part of a long meeting; the notes of all parts are merged into the minutes "
        "later. Each transcript line starts with its segment number, like [#12].",
        *_language_rules(context.language),
        "summary: one to three sentences on this part. topics: the subjects discussed in it.",
        *_common_rules(context, feedback),
    ]
    user = f"Transcript part (segments #{first} to #{last}):\n" + "\n".join(line.render() for line in lines)
    return [{"role": "system", "content": "\n".join(system)}, {"role": "user", "content": user}]


@dataclass(frozen=True)
class Notes:
    """Notes on the consecutive segments first_seq..last_seq."""

    first_seq: int
    last_seq: int
    notes: ChunkNotes

    def render(self) -> str:
        def cite(seqs: Sequence[int]) -> str:
            return "[" + ", ".join(f"#{seq}" for seq in seqs) + "]"

        n = self.notes
        lines = [f"Part #{self.first_seq}-#{self.last_seq}:"]
        if n.summary:
            lines.append(f"summary: {n.summary}")
        lines += [f"topic: {t.title}: {t.summary} {cite(t.evidence)}" for t in n.topics]
        lines += [f"decision: {d.text} {cite(d.evidence)}" for d in n.decisions]
        lines += [
            f"action: {a.task} | owner: {a.owner} | due: {a.due or '-'} {cite(a.evidence)}" for a in n.action_items
        ]
        lines += [f"question: {q.text} {cite(q.evidence)}" for q in n.open_questions]
        return "\n".join(" ".join(line.split()) for line in lines)


def _notes_rules() -> str:
    return (
        "Each note line ends with its evidence, like [#12, #15]. Keep it: a merged item's evidence is the "
        "evidence of the items it merges (numbers only). Merge duplicates; keep every decision and action item."
    )


def reduce_messages(notes: Sequence[Notes], context: PromptContext, feedback: str | None = None) -> Messages:
    system = [
        "You merge notes on consecutive parts of a meeting into one set of notes.",
        _notes_rules(),
        *_language_rules(context.language),
        "summary: two to four sentences on these parts together. topics: the subjects discussed.",
        *_common_rules(context, feedback),
    ]
    user = "Notes:\n" + "\n\n".join(n.render() for n in notes)
    return [{"role": "system", "content": "\n".join(system)}, {"role": "user", "content": user}]


def final_messages_from_notes(notes: Sequence[Notes], context: PromptContext, feedback: str | None = None) -> Messages:
    system = [
        "You write the minutes of a meeting from notes on its consecutive parts.",
        _notes_rules(),
        *_language_rules(context.language),
        "title: a short title of the meeting. summary: two to four sentences. topics: the subjects discussed.",
        *_common_rules(context, feedback),
    ]
    user = "Notes:\n" + "\n\n".join(n.render() for n in notes)
    return [{"role": "system", "content": "\n".join(system)}, {"role": "user", "content": user}]


# -- the generator ---------------------------------------------------------------------------------


class _Abort(Exception):
    """Ends the whole generation (cancelled, engine error, context too small) with its message."""


class _Overflow(Exception):
    """The request did not fit after all; the caller splits its input."""


@dataclass
class Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def add(self, result: LlmResult) -> None:
        self.calls += 1
        self.prompt_tokens += result.prompt_tokens
        self.completion_tokens += result.completion_tokens
        self.seconds += result.seconds


@dataclass(frozen=True)
class GenerationResult:
    """What `MinutesGenerator.generate` produced: `content` or `error` (never both)."""

    content: MinutesContent | None
    error: str | None
    gaps: tuple[Gap, ...] = ()
    attempts: int = 0
    usage: Usage = field(default_factory=Usage)
    chunks: int = 0
    reduce_rounds: int = 0
    repairs: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.content is not None


@dataclass(frozen=True)
class MinutesSettings:
    """The knobs of generation (from `[minutes]`; see MinutesConfig for their meaning)."""

    max_attempts: int = 3
    output_tokens: int = 1024
    chunk_output_tokens: int = 384
    max_items: int = 8
    retry_temperature: float = 0.4

    @classmethod
    def from_config(cls, config: MinutesConfig) -> MinutesSettings:
        return cls(
            max_attempts=config.max_attempts,
            output_tokens=config.output_tokens,
            chunk_output_tokens=config.chunk_output_tokens,
            max_items=config.max_items,
            retry_temperature=config.retry_temperature,
        )


class MinutesGenerator:
    """One meeting's generation. Construct per meeting; `generate()` never raises for model trouble."""

    def __init__(
        self,
        engine: MinutesEngine,
        settings: MinutesSettings,
        *,
        meeting_id: str = "",
        progress: ProgressCallback | None = None,
        glossary: Glossary | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.meeting_id = meeting_id
        self._progress = progress
        self._glossary = glossary
        self.usage = Usage()
        self.repairs: list[str] = []
        self._final_attempts = 0
        self._texts: list[str] = []
        self._language = ""
        self._started_at: str | None = None
        self._chunks = 0
        self._rounds = 0

    # progress

    def _emit(self, stage: str, done: int, total: int, partial: str = "", attempt: int = 1) -> None:
        if self._progress is None:
            return
        event = {
            "meeting_id": self.meeting_id,
            "stage": stage,
            "done": done,
            "total": total,
            "partial": partial,
            "attempt": attempt,
        }
        try:
            self._progress(event)
        except Exception:  # a broken listener must not break the minutes
            log.exception("minutes progress callback failed")

    # one request with its attempts

    def _ask(
        self,
        stage: str,
        done: int,
        total: int,
        build: Callable[[str | None, int], Messages],
        kind: str,
        allowed: set[int],
        max_tokens: int,
        *,
        source_han: set[str],
        korean: bool,
        require_language: bool = False,
        gate: Callable[[BaseModel, Messages], str | None] | None = None,
    ) -> tuple[BaseModel | None, str | None, int]:
        """(value, None, attempts) or (None, last problem, attempts). `gate` may reject a valid value
        (a quality problem, retried with feedback like any other). Raises _Abort or _Overflow."""
        model: type[BaseModel] = MinutesContent if kind == "final" else ChunkNotes
        feedback: str | None = None
        max_items = self.settings.max_items
        fallback: Checked | None = None
        problem = "no attempt"
        for attempt in range(1, self.settings.max_attempts + 1):
            messages = build(feedback, max_items)
            schema = output_schema(kind, evidence=sorted(allowed), max_items=max_items)
            shown = STAGE_REPAIR if attempt > 1 else stage
            self._emit(shown, done, total, "", attempt)
            pieces: list[str] = []

            def on_token(piece: str, shown: str = shown, pieces: list[str] = pieces, attempt: int = attempt) -> None:
                pieces.append(piece)
                if len(pieces) % PROGRESS_EVERY_PIECES == 0:
                    self._emit(shown, done, total, "".join(pieces), attempt)

            try:
                result = self.engine.chat_json(
                    messages,
                    schema,
                    max_tokens=max_tokens,
                    temperature=self.settings.retry_temperature if attempt > 1 else 0.0,
                    on_token=on_token,
                )
            except ContextOverflow:
                raise _Overflow from None
            except Exception as exc:
                raise _Abort(f"the LLM failed: {type(exc).__name__}: {exc}") from None
            self.usage.add(result)
            self._emit(shown, done, total, result.text, attempt)
            checked = check_answer(
                result, model, allowed=allowed, source_han=source_han, korean=korean,
                require_language=require_language,
            )  # fmt: skip
            if checked.problem == "cancelled":
                raise _Abort(CANCELLED)
            gated = gate(checked.value, messages) if gate is not None and checked.value is not None else None
            if gated is not None:
                checked = Checked(None, gated, checked.repairs)
            if checked.value is not None and not checked.weak:
                self.repairs += [f"{stage} {done + 1}/{total}: {r}" for r in checked.repairs]
                return checked.value, None, attempt
            if checked.value is not None:
                fallback = fallback or checked
                problem = "ungrounded: most items cited segments not in the input"
            else:
                problem = checked.problem or "unusable"
            if problem.startswith("truncated"):
                max_items = max(1, max_items // 2)
            feedback = feedback_for(problem)
        if fallback is not None:
            self.repairs += [f"{stage} {done + 1}/{total}: {r}" for r in fallback.repairs]
            return fallback.value, None, self.settings.max_attempts
        return None, problem, self.settings.max_attempts

    # planning helpers

    def _room(self, messages: Messages, output_tokens: int) -> int:
        """Tokens left for input text in a request whose empty form is `messages`."""
        return self.engine.n_ctx - self.engine.count_prompt_tokens(messages) - output_tokens - SAFETY_TOKENS

    def _clip(self, line: TranscriptLine, budget: int) -> tuple[TranscriptLine, int]:
        """A line cut down to fit `budget` tokens (a single segment longer than a whole chunk)."""
        text = line.text
        cost = self.engine.count_tokens(line.render()) + 1
        while cost > budget and len(text) > 1:
            text = text[: max(1, int(len(text) * budget / cost * 0.9))]
            cost = self.engine.count_tokens(TranscriptLine(line.seq, line.t0_ms, line.t1_ms, text + "…").render()) + 1
        self.repairs.append(f"segment #{line.seq} clipped to fit a chunk")
        return TranscriptLine(line.seq, line.t0_ms, line.t1_ms, text + "…"), cost

    # the stages

    def generate(
        self,
        segments: Sequence[Segment],
        *,
        language: str,
        attendees: Sequence[str] = (),
        started_at: str | None = None,
    ) -> GenerationResult:
        """The minutes of `segments`; `started_at` (the meeting's start) dates the due dates said."""
        lines = transcript_lines(segments)
        self._language, self._started_at = language, started_at
        try:
            if not lines:
                raise _Abort("the meeting has no transcript text to write minutes from")
            return self._generate(lines, language, attendees)
        except _Abort as exc:
            return self._result(None, " ".join(str(exc).split()))
        except Exception as exc:  # a bug must not take the LLM worker down with it
            log.exception("minutes generation failed unexpectedly")
            return self._result(None, " ".join(f"internal error: {type(exc).__name__}: {exc}".split()))

    def _result(self, content: MinutesContent | None, error: str | None, gaps: Sequence[Gap] = ()) -> GenerationResult:
        return GenerationResult(
            content, error, tuple(gaps), self._final_attempts, self.usage, self._chunks, self._rounds,
            tuple(self.repairs),
        )  # fmt: skip

    def _generate(self, lines: list[TranscriptLine], language: str, attendees: Sequence[str]) -> GenerationResult:
        korean = is_korean("", language)
        texts = [line.text for line in lines]
        self._texts = texts
        source_han = set(han_characters("".join(texts)))
        terms = tuple(self._prompt_terms(texts))
        context = PromptContext(language, tuple(attendees), terms, self.settings.max_items)
        costs = [self.engine.count_tokens(line.render()) + 1 for line in lines]
        seqs = {line.seq for line in lines}

        direct_room = self._room(
            final_messages_from_transcript([], context, LONGEST_FEEDBACK), self.settings.output_tokens
        )
        if sum(costs) <= direct_room:
            try:
                content = self._final(
                    lambda fb, n: final_messages_from_transcript(lines, _with_items(context, n), fb),
                    seqs, source_han, korean,
                )  # fmt: skip
                return self._result(self._finish(content, lines, attendees), None)
            except _Overflow:
                pass  # the estimate was short: summarize in chunks instead

        notes, gaps = self._map(lines, costs, context, source_han, korean)
        if not notes:
            raise _Abort(f"no part of the transcript could be summarized ({gaps[0].reason})")
        notes = self._reduce(notes, context, source_han, korean)
        allowed = set().union(*(n.notes.cited_seqs() for n in notes))
        try:
            content = self._final(
                lambda fb, n: final_messages_from_notes(notes, _with_items(context, n), fb), allowed, source_han, korean
            )
        except _Overflow:
            raise _Abort(
                "the merged notes do not fit llm.n_ctx; raise llm.n_ctx or lower minutes.output_tokens"
            ) from None
        return self._result(self._finish(content, lines, attendees), None, gaps)

    def _prompt_terms(self, texts: Sequence[str]) -> list[str]:
        if self._glossary is None:
            return []
        from edge.llm.correction import prompt_terms

        return prompt_terms([t.term for t in self._glossary.terms], texts)[:MAX_PROMPT_TERMS]

    def _final(
        self, build: Callable[[str | None, int], Messages], allowed: set[int], source_han: set[str], korean: bool
    ) -> MinutesContent:
        texts = self._texts

        def gate(value: BaseModel, messages: Messages) -> str | None:
            assert isinstance(value, MinutesContent)
            return gate_problem(value, instructions=messages[0]["content"], lines=texts)

        value, problem, attempts = self._ask(
            STAGE_FINAL, 0, 1, build, "final", allowed, self.settings.output_tokens,
            source_han=source_han, korean=korean, require_language=True, gate=gate,
        )  # fmt: skip
        self._final_attempts = attempts
        if value is None:
            raise _Abort(f"the minutes failed validation after {attempts} attempts: {problem}")
        self._emit(STAGE_FINAL, 1, 1, "", attempts)
        assert isinstance(value, MinutesContent)
        return value

    def _map(
        self, lines: list[TranscriptLine], costs: list[int], context: PromptContext, source_han: set[str], korean: bool
    ) -> tuple[list[Notes], list[Gap]]:
        out_tokens = self.settings.chunk_output_tokens
        budget = self._room(map_messages([], context, LONGEST_FEEDBACK), out_tokens)
        if budget < MIN_CHUNK_TOKENS:
            raise _Abort(
                f"llm.n_ctx = {self.engine.n_ctx} leaves no room for transcript chunks with "
                f"minutes.chunk_output_tokens = {out_tokens}; raise llm.n_ctx or lower it"
            )
        lines, costs = list(lines), list(costs)
        for index, cost in enumerate(costs):
            if cost > budget:
                lines[index], costs[index] = self._clip(lines[index], budget)
        pending = [lines[start:end] for start, end in pack(costs, budget)]
        notes: list[Notes] = []
        gaps: list[Gap] = []
        done = 0
        while pending:
            chunk = pending.pop(0)
            total = done + 1 + len(pending)
            allowed = {line.seq for line in chunk}

            def map_request(fb: str | None, n: int, chunk: Sequence[TranscriptLine] = chunk) -> Messages:
                return map_messages(chunk, _with_items(context, n), fb)

            try:
                value, problem, _ = self._ask(
                    STAGE_MAP, done, total, map_request, "notes", allowed, out_tokens, source_han=source_han,
                    korean=korean,
                )
            except _Overflow:
                if len(chunk) == 1:
                    value, problem = None, "the segment does not fit llm.n_ctx"
                else:
                    half = len(chunk) // 2
                    pending[:0] = [chunk[:half], chunk[half:]]
                    continue
            done += 1
            self._chunks = done
            if value is None:
                gaps.append(Gap(
                    first_seq=chunk[0].seq, last_seq=chunk[-1].seq, t0_ms=chunk[0].t0_ms, t1_ms=chunk[-1].t1_ms,
                    reason=f"notes failed after {self.settings.max_attempts} attempts: {problem}",
                ))  # fmt: skip
                continue
            assert isinstance(value, ChunkNotes)
            notes.append(Notes(chunk[0].seq, chunk[-1].seq, value))
        self._emit(STAGE_MAP, done, done, "")
        return notes, _merge_gaps(gaps)

    def _reduce(
        self, notes: list[Notes], context: PromptContext, source_han: set[str], korean: bool
    ) -> list[Notes]:
        """Merge notes in groups until all of them fit one final request."""
        while True:
            costs = [self.engine.count_tokens(n.render()) + 2 for n in notes]
            final_room = self._room(
                final_messages_from_notes([], context, LONGEST_FEEDBACK), self.settings.output_tokens
            )
            if sum(costs) <= final_room or len(notes) == 1:
                return notes
            empty = reduce_messages([], context, LONGEST_FEEDBACK)
            available = self.engine.n_ctx - self.engine.count_prompt_tokens(empty)
            available -= SAFETY_TOKENS
            out_tokens = min(self.settings.output_tokens, available // 3)
            room = available - out_tokens
            groups = pack(costs, room)
            if len(groups) >= len(notes) or out_tokens < MIN_CHUNK_TOKENS:
                raise _Abort(
                    f"llm.n_ctx = {self.engine.n_ctx} is too small to merge the notes of {len(notes)} parts; "
                    "raise llm.n_ctx or lower minutes.chunk_output_tokens"
                )
            self._rounds += 1
            merged: list[Notes] = []
            for index, (start, end) in enumerate(groups):
                group = notes[start:end]
                if len(group) == 1:
                    merged.append(group[0])
                    continue
                allowed = set().union(*(n.notes.cited_seqs() for n in group))

                def reduce_request(fb: str | None, n: int, group: Sequence[Notes] = group) -> Messages:
                    return reduce_messages(group, _with_items(context, n), fb)

                try:
                    value, problem, attempts = self._ask(
                        STAGE_REDUCE, index, len(groups), reduce_request, "notes", allowed, out_tokens,
                        source_han=source_han, korean=korean,
                    )
                except _Overflow:
                    raise _Abort("merging notes did not fit llm.n_ctx; raise llm.n_ctx") from None
                if value is None:
                    raise _Abort(
                        f"merging the notes of segments #{group[0].first_seq}-#{group[-1].last_seq} failed after "
                        f"{attempts} attempts: {problem}"
                    )
                assert isinstance(value, ChunkNotes)
                merged.append(Notes(group[0].first_seq, group[-1].last_seq, value))
            notes = merged

    # after the final answer

    def _finish(
        self, content: MinutesContent, lines: Sequence[TranscriptLine], attendees: Sequence[str]
    ) -> MinutesContent:
        """Owners resolved, unsaid due dates dropped, glossary spelling applied."""
        by_seq = {line.seq: line.text for line in lines}
        order = [line.seq for line in lines]
        previous = {seq: by_seq[order[i - 1]] for i, seq in enumerate(order) if i > 0}
        people = known_people(attendees, by_seq.values())
        items = []
        for index, item in enumerate(content.action_items):
            texts = [by_seq.get(s, "") for s in item.evidence] + [previous.get(s, "") for s in item.evidence]
            owner = resolve_owner(item.owner, people, texts)
            due = item.due if item.due and item.due.strip().casefold() not in _NO_DUE else None
            if due is not None and not due_was_said(due, [by_seq.get(s, "") for s in item.evidence]):
                self.repairs.append(f"action_items[{index}]: due {due!r} is not in its evidence, dropped")
                due = None
            if owner != item.owner:
                self.repairs.append(f"action_items[{index}]: owner {item.owner!r} -> {owner!r}")
            items.append(item.model_copy(update={"owner": owner, "due": due}))
        floor = extract_minutes(lines, language=self._language, attendees=attendees, started_at=self._started_at)
        claimed = [item.owner for item in content.action_items]
        content = content.model_copy(update={"action_items": items})
        content, crossed = cross_check(content, floor.content, floor.meeting_day, claimed)
        self.repairs += [f"cross-check: {repair}" for repair in crossed]
        if self._glossary is not None:
            content = _apply_glossary(content, self._glossary)
        return content


def _with_items(context: PromptContext, max_items: int) -> PromptContext:
    return PromptContext(context.language, context.attendees, context.terms, max_items)


def _merge_gaps(gaps: list[Gap]) -> list[Gap]:
    merged: list[Gap] = []
    for gap in sorted(gaps, key=lambda g: g.first_seq):
        last = merged[-1] if merged else None
        if last is not None and last.reason == gap.reason and gap.first_seq == last.last_seq + 1:
            merged[-1] = last.model_copy(update={"last_seq": gap.last_seq, "t1_ms": gap.t1_ms})
        else:
            merged.append(gap)
    return merged


def _apply_glossary(content: MinutesContent, glossary: Glossary) -> MinutesContent:
    from edge.text.glossary import GlossaryCorrector

    corrector = GlossaryCorrector(glossary)

    def fix(value: Any) -> Any:
        if isinstance(value, str):
            return corrector.correct(value)[0]
        if isinstance(value, list):
            return [fix(v) for v in value]
        if isinstance(value, dict):
            return {k: (v if k in ("owner", "evidence") else fix(v)) for k, v in value.items()}
        return value

    return MinutesContent.model_validate(fix(content.model_dump()))


# -- a stored meeting --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MinutesOutcome:
    """The result of `generate_minutes`, as saved: status "published", "draft" or "failed"; "generating"
    when the LLM was parked or stopped mid-way (nothing saved, the minutes are to be written again)."""

    meeting_id: str
    status: str
    minutes: Minutes | None
    error: str | None
    attempts: int
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    chunks: int = 0
    reduce_rounds: int = 0
    repairs: tuple[str, ...] = ()
    extractive: bool = False  # the extractive minutes stand in for LLM minutes that failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "meeting_id": self.meeting_id,
            "status": self.status,
            "minutes": self.minutes.to_json_dict() if self.minutes else None,
            "error": self.error,
            "attempts": self.attempts,
            "llm_calls": self.llm_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "seconds": round(self.seconds, 3),
            "chunks": self.chunks,
            "reduce_rounds": self.reduce_rounds,
            "repairs": list(self.repairs),
            "extractive": self.extractive,
        }


def all_segments(store: Store, meeting_id: str, page: int = 1000) -> list[Segment]:
    segments: list[Segment] = []
    while True:
        batch = store.segments(meeting_id, after_seq=segments[-1].seq if segments else -1, limit=page)
        segments += batch
        if len(batch) < page:
            return segments


def generate_minutes(
    store: Store,
    engine: MinutesEngine,
    meeting_id: str,
    *,
    config: MinutesConfig,
    glossary: Glossary | None = None,
    progress: ProgressCallback | None = None,
    model_name: str = "",
    fallback: bool = True,
) -> MinutesOutcome:
    """Write, validate and save the minutes of a stored meeting; blocks while the LLM works (run it
    on a background worker). Raises MeetingNotFound for an unknown meeting; model trouble never
    raises: with `fallback` the extractive minutes are saved as a draft whose note says in plain
    words why (`edge.minutes.floor`), else status "failed" with the reason. Publishing follows
    `config.require_approval`."""
    meeting = store.meeting(meeting_id)
    started = time.monotonic()
    previous = store.minutes(meeting_id)
    kept_json = previous.minutes if previous is not None else None
    store.save_minutes(meeting_id, status=STATUS_GENERATING, minutes=kept_json)
    segments = all_segments(store, meeting_id)
    attendees = store.attendees(meeting_id)
    language = resolve_language(config.language, meeting.language, [s.display_text for s in segments])
    generator = MinutesGenerator(
        engine, MinutesSettings.from_config(config), meeting_id=meeting_id, progress=progress, glossary=glossary
    )
    result = generator.generate(segments, language=language, attendees=attendees, started_at=meeting.started_at)
    minutes: Minutes | None = None
    error = result.error
    if result.content is not None:
        document = {
            **result.content.model_dump(),
            "meeting_id": meeting_id,
            "language": language,
            "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "model": model_name,
            "gaps": [gap.model_dump() for gap in result.gaps],
        }
        try:
            minutes = validate_minutes(document, meeting_id=meeting_id, known_seqs={s.seq for s in segments})
        except MinutesInvalid as exc:
            error = f"the generated minutes do not validate: {exc}"
    if minutes is None and error == CANCELLED:
        # The LLM was parked or stopped: no outcome yet. The record stays "generating", so the minutes
        # are written again in a later quiet moment or at the next start.
        return MinutesOutcome(
            meeting_id, STATUS_GENERATING, None, error, result.attempts, result.usage.calls,
            result.usage.prompt_tokens, result.usage.completion_tokens, time.monotonic() - started,
        )  # fmt: skip
    extractive = False
    if minutes is None and fallback and segments and "cancelled" not in (error or ""):
        minutes, status, error = save_floor_minutes(
            store, meeting, segments, language=language, config=config, glossary=glossary,
            llm_error=error or "unknown", attempts=result.attempts, llm_calls=result.usage.calls,
        )  # fmt: skip
        extractive = True
    elif minutes is None:
        status = STATUS_FAILED
        store.save_minutes(
            meeting_id, status=status, minutes=kept_json, error=error, attempts=result.attempts,
            llm_calls=result.usage.calls,
        )  # fmt: skip
    else:
        if result.gaps:
            covered = sum(g.last_seq - g.first_seq + 1 for g in result.gaps)
            error = f"about {covered} segments could not be summarized (see gaps); review and approve to publish"
        publish = not config.require_approval and not result.gaps
        status = STATUS_PUBLISHED if publish else STATUS_DRAFT
        store.save_minutes(
            meeting_id, status=status, minutes=minutes.to_json_dict(), error=error, attempts=result.attempts,
            llm_calls=result.usage.calls, publish=publish,
        )  # fmt: skip
    return MinutesOutcome(
        meeting_id=meeting_id,
        status=status,
        minutes=minutes,
        error=error,
        attempts=result.attempts,
        llm_calls=result.usage.calls,
        prompt_tokens=result.usage.prompt_tokens,
        completion_tokens=result.usage.completion_tokens,
        seconds=time.monotonic() - started,
        chunks=result.chunks,
        reduce_rounds=result.reduce_rounds,
        repairs=result.repairs,
        extractive=extractive,
    )


def write_extractive_minutes(
    store: Store, meeting_id: str, *, config: MinutesConfig, glossary: Glossary | None = None
) -> MinutesOutcome:
    """The extractive minutes of a stored meeting where no LLM is configured: fast (no model), saved
    and published as LLM minutes are (`config.require_approval`). A meeting without transcript text
    ends "failed" with that reason. Raises MeetingNotFound for an unknown meeting."""
    meeting = store.meeting(meeting_id)
    started = time.monotonic()
    segments = [s for s in all_segments(store, meeting_id) if s.display_text.strip()]
    language = resolve_language(config.language, meeting.language, [s.display_text for s in segments])
    if not segments:
        error = "the meeting has no transcript text to write minutes from"
        store.save_minutes(meeting_id, status=STATUS_FAILED, error=error)
        return MinutesOutcome(meeting_id, STATUS_FAILED, None, error, 0, 0, 0, 0, time.monotonic() - started)
    minutes, status, note = save_floor_minutes(
        store, meeting, segments, language=language, config=config, glossary=glossary
    )
    return MinutesOutcome(
        meeting_id, status, minutes, note, 0, 0, 0, 0, time.monotonic() - started, extractive=True
    )
