"""Ask the meeting: a question answered from the meeting's own lines, each answer citing the segments
it rests on.

1. Retrieval: the meeting's segments in an in-memory SQLite FTS5 index ranked by BM25. Korean words
   carry particles and endings ("정리는", "정리해"), so Hangul is indexed as syllable bigrams (정리,
   리는) and Latin text as lowercase words; the question is tokenized the same way.
2. With an LLM, the best lines (`[#seq] text`) and the question go to the model, which answers in the
   question's language as JSON {"answer", "citations"} (citations constrained to the lines shown).
   An answer is rejected, like invalid minutes, when it cites nothing or a segment it was not shown,
   is empty, copies the instructions, is not in the question's language, or shares no word with the
   lines it cites; then the next attempt, then the retrieved lines stand alone with the reason.
3. Without an LLM the answer is the best-matching lines.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from edge.llm.engine import FINISH_CANCELLED, LlmResult, parse_json_output
from edge.minutes.extractive import TranscriptSegment, extract_minutes
from edge.minutes.quality import echoes_instructions
from edge.minutes.schema import UNASSIGNED, MinutesContent
from edge.text.han import contains_hangul

TOP_K = 8
MAX_QUESTION_CHARS = 500
ANSWER_TOKENS = 256
MAX_ATTEMPTS = 2
REJECTED_SHOWN = 120  # characters of a rejected answer kept with the reason
_HANGUL_RUN = re.compile("[가-힣]+")
_LATIN_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9+#./-]*")
# Question words and endings that match nearly every line.
_STOP = frozenset(
    {"누가", "언제", "무엇", "어떻게", "어디", "왜", "했나", "했나요", "하나요", "인가", "인가요", "습니", "니다",
     "the", "a", "an", "is", "are", "was", "who", "what", "when", "how", "does", "did", "do", "of", "to", "and",
     "by", "for", "in", "on", "it", "this", "that", "which", "will", "be"}
)  # fmt: skip


_ENDINGS = tuple(sorted(
    ("인가요", "하나요", "했나요", "됐나요", "됐어요", "인지", "나요", "는지", "은지", "에서", "으로", "까지",
     "부터", "에게", "한테", "이랑", "하고", "예요", "이에요", "은", "는", "이", "가", "을", "를", "의", "에", "로",
     "도", "만", "요"),
    key=len, reverse=True,
))  # fmt: skip
_QUESTION_WORDS = frozenset(
    ("누구", "누구예", "무엇", "무엇인", "어떻게", "언제", "어디", "얼마", "담당", "하나", "것은", "것이", "뭔가")
)


class AskEngine(Protocol):
    """What answering needs from the LLM (`edge.llm.engine.LlmEngine` provides it)."""

    def chat_json(
        self, messages: Sequence[Mapping[str, str]], schema: Mapping[str, Any], *, max_tokens: int,
        temperature: float = 0.0,
    ) -> LlmResult: ...  # fmt: skip


@dataclass(frozen=True)
class Hit:
    seq: int
    t0_ms: int
    text: str
    score: float


@dataclass(frozen=True)
class Answer:
    """`source`: "llm" (the model's answer, checked) or "retrieval" (the best lines alone, with
    `note` saying why: no LLM, or the model's answers were rejected; `rejected` has each reason and
    the start of the answer it rejected)."""

    question: str
    answer: str
    citations: tuple[int, ...]
    hits: tuple[Hit, ...]
    source: str
    model: str = ""
    note: str | None = None
    attempts: int = 0
    rejected: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["citations"] = list(self.citations)
        data["hits"] = [asdict(hit) for hit in self.hits]
        data["rejected"] = list(self.rejected)
        return data


def tokens(text: str) -> list[str]:
    """Index terms: Hangul syllable bigrams (a one-syllable word stays whole), lowercase Latin words."""
    out: list[str] = []
    for run in _HANGUL_RUN.findall(text):
        out += [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]
    out += [word.casefold().strip("./-") for word in _LATIN_WORD.findall(text)]
    return [token for token in out if token]


def retrieve(segments: Sequence[TranscriptSegment], question: str, *, k: int = TOP_K) -> list[Hit]:
    """The `k` segments that best match `question` (BM25 over FTS5), best first."""
    terms = [t for t in dict.fromkeys(tokens(question)) if t not in _STOP]
    if not terms or not segments:
        return []
    db = sqlite3.connect(":memory:")
    try:
        db.execute("CREATE VIRTUAL TABLE lines USING fts5(terms, tokenize = 'unicode61')")
        db.executemany(
            "INSERT INTO lines (rowid, terms) VALUES (?, ?)",
            ((s.seq, " ".join(tokens(s.display_text))) for s in segments),
        )
        query = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
        rows = db.execute(
            "SELECT rowid, bm25(lines) FROM lines WHERE lines MATCH ? ORDER BY bm25(lines), rowid LIMIT ?", (query, k)
        ).fetchall()
    finally:
        db.close()
    by_seq = {s.seq: s for s in segments}
    return [Hit(seq, by_seq[seq].t0_ms, " ".join(by_seq[seq].display_text.split()), -score) for seq, score in rows]


def _schema(seqs: Sequence[int]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "answer": {"type": "string"},
            "citations": {"type": "array", "items": {"enum": sorted(seqs)}, "minItems": 1, "maxItems": 4},
        },
        "required": ["answer", "citations"],
        "additionalProperties": False,
    }


def messages(question: str, hits: Sequence[Hit], korean: bool, feedback: str | None = None) -> list[dict[str, str]]:
    language = "Korean (Hangul)" if korean else "English"
    system = [
        "You answer a question about a meeting using only the transcript lines given. Each line starts with "
        "its segment number, like [#12].",
        f"Answer in {language}, in one or two sentences. If the lines do not say, answer that the meeting "
        "did not say.",
        "citations: the segment numbers of the lines your answer rests on (numbers only).",
    ]
    if feedback:
        system.append(f"Your previous answer was rejected because {feedback}.")
    user = "Lines:\n" + "\n".join(f"[#{h.seq}] {h.text}" for h in sorted(hits, key=lambda h: h.seq))
    user += f"\n\nQuestion: {question}"
    return [{"role": "system", "content": "\n".join(system)}, {"role": "user", "content": user}]


def _words(text: str) -> set[str]:
    """Content words of a text: Hangul bigrams and Latin words of 3+ letters (a speaker label counts:
    "최영호" answers "who" from the line "최영호: ... 챙길게요")."""
    return {t for t in tokens(text) if t not in _STOP and (len(t) >= 3 or contains_hangul(t))}


def check_answer(
    raw: dict[str, Any] | None, hits: Sequence[Hit], instructions: str, korean: bool, question: str = ""
) -> str | None:
    """Why an answer is rejected, or None. With `question`, some cited line must share a word with
    the answer and one with the question (a name alone is grounded only by a line on the subject)."""
    if raw is None:
        return "it was not valid JSON"
    answer, citations = raw.get("answer"), raw.get("citations")
    if not isinstance(answer, str) or not answer.strip():
        return "the answer was empty"
    if not isinstance(citations, list) or not citations:
        return "it cited no segment"
    shown = {h.seq: h for h in hits}
    unknown = [c for c in citations if not isinstance(c, int) or c not in shown]
    if unknown:
        return f"it cited segments it was not shown ({', '.join(f'#{c}' for c in unknown[:4])})"
    if echoes_instructions(answer, instructions, "\n".join(h.text for h in hits)):
        return "it copied the instructions"
    if korean and not contains_hangul(answer):
        return "it was not written in Korean"
    if answer.rstrip().endswith("?"):
        return "it answered with a question"
    said = _words(answer)
    supporting = [_words(shown[c].text) for c in citations if said & _words(shown[c].text)]
    if not supporting:
        return "it shares no word with the lines it cites"
    asked = _stems(question)
    texts = [shown[c].text.casefold() for c in citations if said & _words(shown[c].text)]
    if asked and not any(stem in text for text in texts for stem in asked):
        return "the lines it rests on are not about the question"
    return None


def _stems(question: str) -> set[str]:
    """The question's subject words: Latin words of 3+ letters, Hangul words without their particle
    or ending ("정리는" -> "정리"), question words left out."""
    stems = {w.casefold() for w in _LATIN_WORD.findall(question) if len(w) >= 3 and w.casefold() not in _STOP}
    for word in _HANGUL_RUN.findall(question):
        for ending in _ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= 2:
                word = word[: -len(ending)]
                break
        if len(word) >= 2 and word not in _STOP and word not in _QUESTION_WORDS:
            stems.add(word)
    return stems


def _lines_answer(hits: Sequence[Hit], korean: bool, floor: MinutesContent | None) -> tuple[str, tuple[int, ...]]:
    """The answer without the model: the extractive minutes' action items and decisions on the best
    three lines (owner and due date included), else the best lines themselves."""
    found: list[tuple[str, list[int]]] = []
    for hit in hits[:3]:
        for item in floor.action_items if floor is not None else ():
            if hit.seq in item.evidence:
                owner = item.owner if item.owner != UNASSIGNED else ("미정" if korean else "unassigned")
                due = item.due or ("기한 없음" if korean else "no due date")
                said = f"담당: {owner}, 기한: {due}" if korean else f"owner: {owner}, due: {due}"
                found.append((f"{item.task} — {said}", item.evidence))
        for decision in floor.decisions if floor is not None else ():
            if hit.seq in decision.evidence:
                found.append(((f"결정: {decision.text}" if korean else f"Decided: {decision.text}"), decision.evidence))
    if found:
        unique = list(dict.fromkeys(text for text, _ in found))
        cited = sorted({seq for _, evidence in found for seq in evidence})
        return " / ".join(unique), tuple(cited)
    lead = "가장 관련 있는 발언입니다" if korean else "The best-matching lines"
    best = hits[:3]
    return f"{lead}: " + " / ".join(f"[#{h.seq}] {h.text}" for h in best), tuple(h.seq for h in best)


def ask(
    segments: Sequence[TranscriptSegment], question: str, *, engine: AskEngine | None = None, model: str = "",
    k: int = TOP_K, started_at: str | None = None,
) -> Answer:  # fmt: skip
    """Answer `question` from `segments` (see the module docstring); never raises for model trouble.
    `started_at`, the meeting's start, dates the due dates of an answer without the model."""
    question = " ".join(question.split())[:MAX_QUESTION_CHARS]
    korean = contains_hangul(question)
    hits = tuple(retrieve(segments, question, k=k))
    if not hits:
        note = "회의에서 이 질문과 맞는 발언을 찾지 못했습니다." if korean else "No line of the meeting matches it."
        return Answer(question, note, (), (), "retrieval", note=note)
    if engine is None:
        note = "LLM이 설정되지 않았습니다" if korean else "No LLM is configured"
        text, cited = _lines_answer(hits, korean, _floor(segments, started_at))
        return Answer(question, text, cited, _with(hits, cited, segments), "retrieval", note=note)
    rejected: list[str] = []
    feedback: str | None = None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        prompt = messages(question, hits, korean, feedback)
        try:
            result = engine.chat_json(prompt, _schema([h.seq for h in hits]), max_tokens=ANSWER_TOKENS,
                                      temperature=0.0 if attempt == 1 else 0.4)  # fmt: skip
        except Exception as exc:  # model trouble never takes the question down
            rejected.append(f"the LLM failed: {type(exc).__name__}: {exc}")
            break
        if result.finish_reason == FINISH_CANCELLED:
            rejected.append("the LLM was stopped")
            break
        raw = parse_json_output(result.text)
        problem = check_answer(raw, hits, prompt[0]["content"], korean, question)
        if problem is None and raw is not None:
            citations = tuple(sorted(dict.fromkeys(int(c) for c in raw["citations"])))
            return Answer(question, " ".join(str(raw["answer"]).split()), citations, hits, "llm", model,
                          attempts=attempt, rejected=tuple(rejected))  # fmt: skip
        shown = " ".join(str(raw.get("answer", "")).split())[:REJECTED_SHOWN] if raw is not None else result.text[:80]
        rejected.append(f"{problem or 'unusable'}: {shown!r}")
        feedback = problem
    why = rejected[-1].split(": ", 1)[0] if rejected else "unknown"
    note = (
        f"모델의 답을 쓰지 않았습니다({why}); 가장 관련 있는 발언을 보여 드립니다."
        if korean
        else f"The model's answer was rejected ({why}); showing the best-matching lines."
    )
    text, cited = _lines_answer(hits, korean, _floor(segments, started_at))
    return Answer(question, text, cited, _with(hits, cited, segments), "retrieval", model, note, len(rejected),
                  tuple(rejected))  # fmt: skip


def _floor(segments: Sequence[TranscriptSegment], started_at: str | None) -> MinutesContent | None:
    language = "ko" if any(contains_hangul(s.display_text) for s in segments[:50]) else "en"
    return extract_minutes(segments, language=language, started_at=started_at).content


def _with(hits: tuple[Hit, ...], cited: Sequence[int], segments: Sequence[TranscriptSegment]) -> tuple[Hit, ...]:
    """The hits, and every cited segment among them (a reply next to a hit, cited by its item)."""
    have = {h.seq for h in hits}
    by_seq = {s.seq: s for s in segments}
    extra = [Hit(seq, by_seq[seq].t0_ms, " ".join(by_seq[seq].display_text.split()), 0.0)
             for seq in cited if seq not in have and seq in by_seq]  # fmt: skip
    return hits + tuple(extra)
