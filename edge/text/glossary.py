"""The team glossary and layer b of correction: deterministic, explainable rewriting of aliases and
their misrecognitions to the canonical term.

CSV: header `term,aliases,note` (an optional fourth column `scope`), aliases separated by `|`.

How `GlossaryCorrector` matches:

- Hangul aliases match on jamo at the start of a spaced word, and the rest of that word must be a
  particle or copula ending, a 하다/되다 ending or a suffix noun (`edge.text.hangul.is_noun_tail`):
  쿠버네티스를 -> Kubernetes를, 롤백해 -> rollback해, but 노션 never matches inside 노선을, 지라 never
  inside 늦을지라도 or 지라시, 도커 never inside 도커스. Aliases of 3+ syllables may also span wrong
  spacing (쿠버 네티스).
- Near-misses: where no alias matches exactly, an alias heard with small jamo changes is accepted
  when the weighted jamo distance (`edge.text.hangul.substitution_cost`: ㅐ/ㅔ 0.25, ㅓ/ㅗ or a
  nasal coda ㅁ/ㅇ/ㄴ 0.5, ...) stays within a budget that is stricter for shorter aliases
  (`near_miss_budget`): 2 syllables 0.25 (only same-sound edits: 슬랙/슬렉), 3 syllables 0.5
  (젱킨스, 스웨가), 4 0.75, 5-6 1.0 (프로메테오스), 7+ 1.5. One of the first two syllables must be
  heard as written and the other keep its initial consonant (up to plain/tense/aspirated).
  Context moves it: another glossary term in the same segment adds 0.25; a 2-syllable near-miss
  must be a whole spaced word (or one with a particle), never spans spacing, never takes a
  하다/되다 ending; a longer one spanning spacing may cost at most 0.5. A heard word that is an
  ordinary Korean word (`ORDINARY_HANGUL`: 센추리 is century, not Sentry), or that word with its
  ending, or an alias of another term, is never rewritten. Each accepted near-miss is recorded
  with its cost.
- After ㄹ-final words, "지라도" is the grammar ending -ㄹ지라도 split by ASR spacing, not Jira.
- Other spellings (Latin, or mixed like 포스트그레SQL) match case-insensitively at word starts and
  word ends, with an optional separator where the spelling has one ("ci-cd" for CI/CD). The
  canonical term's own spelling is fixed too ("Github" -> "GitHub"), except that an all-lowercase
  word is left alone when the term is an ordinary English word (`ORDINARY_WORDS`: "react", "slack")
  or has 1-2 letters ("it"); listing the lowercase form as an alias forces it. The speaker's
  capitals are never lowered ("Sprint" stays for the term "sprint").
- Particles: after a replacement the particle agrees with the term's Korean reading, which is the
  term itself if it is Hangul, else its first Hangul alias (Kubernetes reads 쿠버네티스). So 깃헙을
  -> GitHub를 (깃허브), 포스트그레스를 -> PostgreSQL을 (포스트그레스큐엘). A term with no Hangul alias
  keeps the particle as spoken.

Each change is a `Correction` with the original span (offsets in the input), the rule ("exact",
"spacing", "near_miss", "alias", "spelling"), a score (1.0 exact; 1 - cost / alias jamo length) and
the near-miss cost (0 for the other rules).
"""

from __future__ import annotations

import bisect
import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from edge.core.errors import UserError
from edge.text.hangul import (
    NOUN_TAILS,
    adjust_particle,
    decompose_sounds,
    final_of,
    is_hangul_text,
    is_noun_tail,
    jamo_length,
    jamo_prefix_distances,
    onset_class,
)

CSV_HEADER = ("term", "aliases", "note")
CSV_HEADER_WITH_SCOPE = (*CSV_HEADER, "scope")
ALIAS_SEPARATOR = "|"
# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...) in a term's note):
# exported cells get a leading apostrophe, which spreadsheets show as text, and import takes it off again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_SPAN_WORDS = 4
# ASR often splits the ending -ㄹ지라도 ("늦을 지라도"); after an ㄹ-final word these are grammar.
GRAMMAR_AFTER_RIEUL = frozenset({"지라도", "지언정"})

# Product names that are also ordinary English words: their lowercase spelling is left as it is
# unless the glossary lists it as an alias (then the glossary owner decided).
ORDINARY_WORDS = frozenset(
    {
        "react", "slack", "notion", "sentry", "helm", "swagger", "spark", "go", "rust", "swift", "ruby",
        "jest", "express", "flask", "spring", "docker", "airflow", "vault", "consul", "python", "java",
        "kotlin", "dart", "elixir", "keras", "pandas", "redux", "angular", "ember", "meteor", "chef",
        "puppet", "salt", "ansible", "zoom", "teams", "loom", "linear", "asana", "monday", "box", "drive",
        "sheets", "excel", "word", "outlook", "bamboo", "circle", "travis", "buildkite", "lambda", "edge",
        "sprint", "backlog", "deploy", "rollback", "staging", "hotfix", "standup",
    }
)  # fmt: skip
_SEPARATORS = re.compile(r"[\s\-_./]+")
_HANGUL_RUN = re.compile(r"[가-힣]+")
# Words the corrector looks at: Hangul, Latin letters and digits, and Han (an alias in Han characters
# turns a Chinese word Whisper wrote into the term: 会议 -> 회의).
_RUN = re.compile(r"[가-힣]+|[0-9A-Za-z]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_SIMPLE_ALIAS = re.compile(r"[\w\s\-./]+")
# Ordinary Korean words close to a common IT term's reading. A near-miss is never accepted when the
# heard word is one of these, alone or with its particle ("센추리" is century, not 센트리 Sentry).
ORDINARY_HANGUL = frozenset({"센추리", "센츄리", "노선"})


class GlossaryError(UserError):
    """A glossary file or term that cannot be used."""


def match_key(text: str) -> str:
    """How aliases are compared for identity: NFKC, case-folded, without spaces and - _ . /"""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text).casefold())


def _clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


@dataclass(frozen=True)
class GlossaryTerm:
    """A canonical term with the spellings and readings that should become it."""

    term: str
    aliases: tuple[str, ...] = ()
    note: str = ""
    scope: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.aliases, str):
            raise ValueError(f"aliases of {self.term!r} must be a tuple of strings, not one string")
        term = _clean(self.term)
        if not term:
            raise ValueError("the term is empty")
        aliases = []
        for alias in (_clean(alias) for alias in self.aliases):
            if ALIAS_SEPARATOR in alias:
                raise ValueError(f"alias {alias!r} contains {ALIAS_SEPARATOR!r}, the alias separator")
            if alias and alias != term and alias not in aliases:
                aliases.append(alias)
        if ALIAS_SEPARATOR in term:
            raise ValueError(f"term {term!r} contains {ALIAS_SEPARATOR!r}; aliases go in the second column")
        object.__setattr__(self, "term", term)
        object.__setattr__(self, "aliases", tuple(aliases))
        object.__setattr__(self, "note", _clean(self.note))
        object.__setattr__(self, "scope", _clean(self.scope))

    @property
    def reading(self) -> str | None:
        """How the term is said in Korean: the term if it is Hangul, else its first Hangul alias."""
        for candidate in (self.term, *self.aliases):
            compact = candidate.replace(" ", "")
            if is_hangul_text(compact):
                return compact
        return None


class Glossary:
    """An ordered, validated set of terms. Every alias belongs to exactly one term."""

    def __init__(self, terms: Iterable[GlossaryTerm] = ()) -> None:
        self._terms = tuple(terms)
        owners: dict[str, str] = {}
        for term in self._terms:
            key = match_key(term.term)
            if key in owners:
                raise GlossaryError(
                    f"term {term.term!r} is listed twice (also as {owners[key]!r}); merge the rows"
                )
            owners[key] = term.term
        for term in self._terms:
            for alias in term.aliases:
                owner = owners.setdefault(match_key(alias), term.term)
                if owner != term.term:
                    raise GlossaryError(
                        f"alias {alias!r} of {term.term!r} already belongs to {owner!r}; "
                        "keep it under one term"
                    )
        self._by_key = {match_key(term.term): term for term in self._terms}

    @property
    def terms(self) -> tuple[GlossaryTerm, ...]:
        return self._terms

    def __len__(self) -> int:
        return len(self._terms)

    def __iter__(self) -> Iterator[GlossaryTerm]:
        return iter(self._terms)

    def get(self, term: str) -> GlossaryTerm | None:
        """The term spelled `term` (case and separators ignored), if any."""
        return self._by_key.get(match_key(term))

    @classmethod
    def from_csv(cls, path: str | Path) -> Glossary:
        path = Path(path)
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except FileNotFoundError:
            raise GlossaryError(
                f"glossary file {path} does not exist; give a CSV with the header term,aliases,note"
            ) from None
        except IsADirectoryError:
            raise GlossaryError(f"glossary file {path} is a directory; give a CSV file") from None
        except UnicodeDecodeError as exc:
            raise GlossaryError(
                f"glossary file {path} is not UTF-8 (byte {exc.start}); save it as UTF-8"
            ) from None
        return cls.loads(text, source=str(path))

    @classmethod
    def loads(cls, text: str, *, source: str = "glossary") -> Glossary:
        """Parse CSV text. Errors name `source` and the line."""
        reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), strict=True)
        header: tuple[str, ...] | None = None
        terms: list[GlossaryTerm] = []
        lines: dict[str, int] = {}
        try:
            for row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if header is None:
                    header = tuple(cell.strip().lower() for cell in row)
                    if header not in (CSV_HEADER, CSV_HEADER_WITH_SCOPE):
                        raise GlossaryError(
                            f"{source} line {line}: header is {','.join(row)!r}; it must be "
                            f"{','.join(CSV_HEADER)} (optionally ,scope)"
                        )
                    continue
                if len(row) > len(header):
                    raise GlossaryError(
                        f"{source} line {line}: {len(row)} fields but the header has {len(header)}; "
                        "quote fields that contain commas"
                    )
                cells = [_from_cell(cell) for cell in row] + ["", "", ""]
                aliases = tuple(alias for alias in cells[1].split(ALIAS_SEPARATOR) if alias.strip())
                try:
                    term = GlossaryTerm(cells[0], aliases, cells[2], cells[3] if len(header) == 4 else "")
                except ValueError as exc:
                    raise GlossaryError(f"{source} line {line}: {exc}") from None
                keys = [match_key(term.term), *(match_key(alias) for alias in term.aliases)]
                for key in dict.fromkeys(keys):
                    if key in lines:
                        raise GlossaryError(
                            f"{source} line {line}: {term.term!r} repeats a term or alias of line "
                            f"{lines[key]}; each term and alias may appear once"
                        )
                    lines[key] = line
                terms.append(term)
        except csv.Error as exc:
            raise GlossaryError(f"{source} line {reader.line_num}: malformed CSV ({exc})") from None
        if header is None:
            raise GlossaryError(f"{source} is empty; it needs the header {','.join(CSV_HEADER)}")
        return cls(terms)

    def dumps(self) -> str:
        """CSV text that `loads` reads back to an equal glossary."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        with_scope = any(term.scope for term in self._terms)
        writer.writerow(CSV_HEADER_WITH_SCOPE if with_scope else CSV_HEADER)
        for term in self._terms:
            row = [term.term, ALIAS_SEPARATOR.join(term.aliases), term.note]
            writer.writerow([_to_cell(cell) for cell in ([*row, term.scope] if with_scope else row)])
        return out.getvalue()

    def to_csv(self, path: str | Path) -> None:
        Path(path).write_text(self.dumps(), encoding="utf-8")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Glossary) and self._terms == other._terms

    def __hash__(self) -> int:
        return hash(self._terms)


@dataclass(frozen=True)
class Correction:
    """One replacement: `text[start:end]` of the input was `original` and became `replacement`."""

    start: int
    end: int
    original: str
    replacement: str
    term: str
    rule: str
    score: float
    cost: float = 0.0

    def to_dict(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "original": self.original,
            "replacement": self.replacement,
            "term": self.term,
            "rule": self.rule,
            "score": self.score,
            "cost": self.cost,
        }


@dataclass(frozen=True)
class _HangulAlias:
    text: str
    jamo: str
    term: int
    spans_words: bool
    budget: float
    supported_budget: float


@dataclass(frozen=True)
class _LatinAlias:
    term: int
    canonical: bool
    forced: bool
    ends_in_hangul: bool


@dataclass(frozen=True)
class _Candidate:
    start: int
    end: int
    replacement: str
    term: int
    rule: str
    score: float
    cost: float = 0.0


# Context that earns a near-miss this much more budget: another glossary term in the same segment.
SUPPORT_BONUS = 0.25
# A near-miss across wrong spacing may hold only sound-alike edits: two real words side by side are
# easily one arbitrary edit from a long alias ("스프링 부츠", spring boots, from 스프링 부트).
SPANNING_BUDGET = 0.5


def near_miss_budget(n_syllables: int, *, supported: bool = False) -> float:
    """Largest jamo cost a near-miss of an alias this long may have (see the module doc)."""
    if n_syllables <= 1:
        return 0.0
    base = {2: 0.25, 3: 0.5, 4: 0.75, 5: 1.0, 6: 1.0}.get(n_syllables, 1.5)
    return base + SUPPORT_BONUS if supported else base


class GlossaryCorrector:
    """Layer b. `correct(text)` -> (new_text, corrections). Built once per glossary; thread-safe.

    Indexed so a segment costs a few dict lookups per word: Hangul aliases by their first syllable
    (exact) and by their first and second syllables (near-misses), other spellings by first letter.
    """

    def __init__(self, glossary: Glossary, *, near_misses: bool = True) -> None:
        """`near_misses=False` leaves only exact aliases (to tell what near-miss matching adds)."""
        self.glossary = glossary
        self._terms = glossary.terms
        self._readings = tuple(term.reading for term in self._terms)
        exact: dict[str, list[_HangulAlias]] = {}
        fuzzy: dict[tuple[int, str, str], list[_HangulAlias]] = {}
        latin_sources: dict[str, dict[str, str]] = {}
        hangul_spellings: set[str] = set()
        self._latin: dict[str, _LatinAlias] = {}
        for index, term in enumerate(self._terms):
            term_key = match_key(term.term)
            for spelling in (term.term, *term.aliases):
                compact = spelling.replace(" ", "")
                if is_hangul_text(compact):
                    n = len(compact)
                    alias = _HangulAlias(
                        compact,
                        decompose_sounds(compact),
                        index,
                        n >= 3,
                        near_miss_budget(n),
                        near_miss_budget(n, supported=True),
                    )
                    exact.setdefault(compact[0], []).append(alias)
                    hangul_spellings.add(compact)
                    if near_misses and alias.supported_budget > 0:
                        for slot in _near_miss_slots(compact[0], compact[1]):
                            fuzzy.setdefault(slot, []).append(alias)
                    continue
                key = match_key(spelling)
                canonical = key == term_key
                self._latin[key] = _LatinAlias(
                    index,
                    canonical,
                    canonical and spelling != term.term,
                    bool(re.search("[가-힣]$", spelling)),
                )
                group = latin_sources.setdefault(spelling[0].lower(), {})
                group.setdefault(spelling.casefold(), _latin_pattern(spelling))
        self._exact = {
            first: tuple(sorted(group, key=lambda a: -len(a.text))) for first, group in exact.items()
        }
        self._fuzzy = {slot: tuple(group) for slot, group in fuzzy.items()}
        # Words a near-miss must never rewrite: ordinary Korean and every Hangul spelling in the glossary.
        self._known_words = ORDINARY_HANGUL | frozenset(hangul_spellings)
        self._latin_groups = {
            first: re.compile("|".join(sorted(group.values(), key=len, reverse=True)), re.IGNORECASE)
            for first, group in latin_sources.items()
        }

    def correct(self, text: str) -> tuple[str, tuple[Correction, ...]]:
        """`text` with glossary aliases replaced, and the corrections made (offsets into `text`)."""
        runs = [(match.start(), match.end()) for match in _RUN.finditer(text)]
        if not runs:
            return text, ()
        candidates: list[_Candidate] = []
        if self._latin_groups:
            self._latin_candidates(text, runs, candidates)
        if self._exact:
            self._hangul_candidates(text, runs, candidates)
        if not candidates:
            return text, ()
        candidates.sort(key=lambda c: (c.start, c.start - c.end, -c.score))
        pieces: list[str] = []
        corrections: list[Correction] = []
        position = 0
        for candidate in candidates:
            if candidate.start < position:
                continue
            original = text[candidate.start : candidate.end]
            if original == candidate.replacement:
                continue
            pieces.append(text[position : candidate.start])
            pieces.append(candidate.replacement)
            position = candidate.end
            corrections.append(
                Correction(
                    candidate.start,
                    candidate.end,
                    original,
                    candidate.replacement,
                    self._terms[candidate.term].term,
                    candidate.rule,
                    round(candidate.score, 3),
                    candidate.cost,
                )
            )
        if not corrections:
            return text, ()
        pieces.append(text[position:])
        return "".join(pieces), tuple(corrections)

    def _replacement(self, term: int, tail: str, tail_end: int, end: int) -> tuple[str, int]:
        """The replacement text and where it ends: with the particle adjusted when it has to change."""
        canonical = self._terms[term].term
        reading = self._readings[term]
        if tail and reading is not None:
            adjusted = adjust_particle(tail, reading)
            if adjusted != tail:
                return canonical + adjusted, tail_end
        return canonical, end

    def _latin_candidates(self, text: str, runs: list[tuple[int, int]], out: list[_Candidate]) -> None:
        groups = self._latin_groups
        for start, _ in runs:
            pattern = groups.get(text[start].lower())
            if pattern is None:
                continue
            match = pattern.match(text, start)
            if match is None:
                continue
            end = match.end()
            original = match.group()
            entry = self._latin.get(match_key(original))
            if entry is None:
                continue
            term = self._terms[entry.term].term
            if entry.canonical and original.lower() == term.lower():
                # Only the case differs: never lower-case what the speaker capitalised, and leave a
                # lowercase ordinary English word ("react", "it") unless the glossary lists it.
                if term.islower():
                    continue
                if (
                    not entry.forced
                    and original.islower()
                    and (len(term) <= 2 or term.lower() in ORDINARY_WORDS)
                ):
                    continue
            tail_match = _HANGUL_RUN.match(text, end)
            tail = tail_match.group() if tail_match else ""
            if not is_noun_tail(tail):
                if entry.ends_in_hangul:
                    continue
                tail = ""
            replacement, span_end = self._replacement(entry.term, tail, end + len(tail), end)
            rule = "spelling" if entry.canonical else "alias"
            out.append(_Candidate(start, span_end, replacement, entry.term, rule, 1.0))

    def _hangul_candidates(self, text: str, runs: list[tuple[int, int]], out: list[_Candidate]) -> None:
        words = [run for run in runs if "가" <= text[run[0]] <= "힣"]
        # Near-misses are judged after every exact match: another term in the segment supports them.
        pending: list[tuple[str, list[int], list[int], tuple[_HangulAlias, ...]]] = []
        for k, (word_start, word_end) in enumerate(words):
            first = text[word_start]
            exact = self._exact.get(first, ())
            joinable = k + 1 < len(words) and text[word_end : words[k + 1][0]].isspace()
            second = text[word_start + 1] if word_end - word_start > 1 else ""
            if not second and joinable:
                second = text[words[k + 1][0]]
            slot_first, slot_second = _near_miss_slots(first, second)
            fuzzy = self._fuzzy.get(slot_first, ()) + self._fuzzy.get(slot_second, ())
            if not exact and not fuzzy:
                continue
            if self._grammar_ending(text, words, k):
                continue
            # The word and up to three following ones separated by spaces only, spaces removed.
            parts = [text[word_start:word_end]]
            offsets = list(range(word_start, word_end))
            j = k
            while (
                j + 1 < len(words)
                and len(parts) < MAX_SPAN_WORDS
                and text[words[j][1] : words[j + 1][0]].isspace()
            ):
                j += 1
                parts.append(text[words[j][0] : words[j][1]])
                offsets.extend(range(words[j][0], words[j][1]))
            concat = "".join(parts)
            word_ends: list[int] = []
            for part in parts:
                word_ends.append((word_ends[-1] if word_ends else 0) + len(part))
            candidate = self._exact_match(concat, word_ends, exact, offsets)
            if candidate is not None:
                out.append(candidate)
            elif fuzzy and parts[0] not in self._known_words:
                pending.append((concat, word_ends, offsets, fuzzy))
        supported = bool(out)
        for concat, word_ends, offsets, fuzzy in pending:
            candidate = self._fuzzy_match(concat, word_ends, fuzzy, offsets, supported)
            if candidate is not None:
                out.append(candidate)

    @staticmethod
    def _grammar_ending(text: str, words: list[tuple[int, int]], k: int) -> bool:
        word_start, word_end = words[k]
        if k == 0 or text[word_start:word_end] not in GRAMMAR_AFTER_RIEUL:
            return False
        previous_end = words[k - 1][1]
        return text[previous_end:word_start].isspace() and final_of(text[previous_end - 1]) == "ㄹ"

    @staticmethod
    def _span(concat: str, word_ends: list[int], length: int, spans_words: bool) -> tuple[str, int] | None:
        """(tail, end of its word in concat) when an alias of `length` ends a whole word there."""
        word = bisect.bisect_left(word_ends, length)
        if word > 0 and not spans_words:
            return None
        tail = concat[length : word_ends[word]]
        return (tail, word_ends[word]) if is_noun_tail(tail) else None

    def _candidate(
        self,
        term: int,
        length: int,
        tail: str,
        tail_end: int,
        offsets: list[int],
        rule: str,
        score: float,
        cost: float = 0.0,
    ) -> _Candidate:
        start, end = offsets[0], offsets[length - 1] + 1
        replacement, span_end = self._replacement(term, tail, offsets[tail_end - 1] + 1 if tail else end, end)
        return _Candidate(start, span_end, replacement, term, rule, score, cost)

    def _exact_match(
        self, concat: str, word_ends: list[int], aliases: tuple[_HangulAlias, ...], offsets: list[int]
    ) -> _Candidate | None:
        for alias in aliases:
            length = len(alias.text)
            if not concat.startswith(alias.text):
                continue
            span = self._span(concat, word_ends, length, alias.spans_words)
            if span is None:
                continue
            rule = "spacing" if length > word_ends[0] else "exact"
            return self._candidate(alias.term, length, span[0], span[1], offsets, rule, 1.0)
        return None

    def _fuzzy_match(
        self,
        concat: str,
        word_ends: list[int],
        aliases: tuple[_HangulAlias, ...],
        offsets: list[int],
        supported: bool,
    ) -> _Candidate | None:
        longest = max(len(alias.text) for alias in aliases) + 1
        jamo = decompose_sounds(concat[:longest])
        # bounds[m]: where the jamo of the first m syllables end.
        bounds = [0]
        for syllable in concat[:longest]:
            bounds.append(bounds[-1] + jamo_length(syllable))
        best: tuple[float, int, _HangulAlias, str, int] | None = None
        for alias in dict.fromkeys(aliases):
            budget = alias.supported_budget if supported else alias.budget
            n = len(alias.text)
            # A short alias must be heard with as many syllables, in one spaced word.
            sizes = (n - 1, n, n + 1) if alias.spans_words else (n,)
            # Every inserted or dropped jamo costs at least 0.5.
            lengths = [
                length
                for length in sizes
                if 2 <= length < len(bounds) and abs(bounds[length] - len(alias.jamo)) <= 2 * budget
            ]
            if not lengths:
                continue
            row = jamo_prefix_distances(alias.jamo, jamo[: bounds[lengths[-1]]], budget)
            if row is None:
                continue
            for length in lengths:
                position = bounds[length]
                if position >= len(row) or row[position] > budget:
                    continue
                span = self._span(concat, word_ends, length, alias.spans_words)
                if span is None or not self._near_miss_context(concat[:length], span[0], alias):
                    continue
                distance = row[position]
                if length > word_ends[0] and distance > SPANNING_BUDGET:
                    continue
                if best is None or (distance, -length) < (best[0], -best[1]):
                    best = (distance, length, alias, span[0], span[1])
        if best is None:
            return None
        distance, length, alias, tail, tail_end = best
        score = 1.0 - distance / len(alias.jamo)
        return self._candidate(alias.term, length, tail, tail_end, offsets, "near_miss", score, distance)

    def _near_miss_context(self, heard: str, tail: str, alias: _HangulAlias) -> bool:
        """Whether a near-miss heard as `heard` + `tail` may be rewritten: never an ordinary or
        glossary word (or one with its ending), and a short alias takes only particles after it."""
        known = self._known_words
        if heard in known or heard + tail in known:
            return False
        return alias.spans_words or tail in NOUN_TAILS


def _near_miss_slots(first: str, second: str) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """Index keys of a near-miss: the first syllable as heard with the second's initial sound, or the
    second syllable with the first's. A near-miss keeps one of its first two syllables and the
    initial consonant class (ㄱ/ㅋ/ㄲ, ...) of the other, which keeps the candidates per word few."""
    return (0, first, onset_class(second)), (1, onset_class(first), second)


def _latin_pattern(spelling: str) -> str:
    """Regex for a non-Hangul spelling: letter groups with optional separators between them, not
    followed by another letter or digit of the same word (callers match at word starts)."""
    if _SIMPLE_ALIAS.fullmatch(spelling):
        chunks = [chunk for chunk in re.split(r"[\s\-_./]+", spelling) if chunk]
        body = r"[\s\-_./]?".join(re.escape(chunk) for chunk in chunks)
    else:
        body = r"\s*".join(re.escape(part) for part in spelling.split())
    after = "" if re.search("[가-힣]$", spelling) else r"(?![0-9A-Za-z])"
    return f"(?:{body}){after}"


def _to_cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula (see FORMULA_STARTS)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _from_cell(value: str) -> str:
    """The text `_to_cell` wrote."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value
