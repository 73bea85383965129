"""`edge eval glossary CASES` and `edge eval firewall CASES`: measure text post-processing on a
case set kept in the repository, print the figures, exit 1 below the thresholds. `edge eval asr`
(edge/commands/eval_asr.py) scores transcripts against the fixtures' references."""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.commands import eval_asr, eval_corpus, eval_minutes, eval_speakers
from edge.core.errors import UserError
from edge.text.firewall import LANGUAGE_PATTERN, HallucinationFirewall
from edge.text.glossary import Glossary, GlossaryCorrector, GlossaryTerm, match_key

HELP = (
    "Evaluate glossary correction (case sets, or false rewrites on a Korean corpus), the hallucination "
    "firewall, ASR accuracy (WER/CER) on the fixtures, or the extractive minutes on a composite meeting."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    suites = parser.add_subparsers(dest="suite", metavar="SUITE", required=True)
    glossary = suites.add_parser(
        "glossary",
        help="Layer b on `input<TAB>expected` lines.",
        description="Layer b on `input<TAB>expected` lines: term recall = share of lines with a term that "
        "come out exactly as expected, also split into lines that exact aliases alone fix and near-miss "
        "lines (the rest); false-rewrite rate = share of lines without a term that changed.",
    )
    glossary.add_argument("cases", type=Path, metavar="CASES", help="TSV file: input<TAB>expected per line.")
    glossary.add_argument(
        "--glossary", type=Path, metavar="CSV", help="Glossary CSV (default: glossary.csv beside CASES)."
    )
    glossary.add_argument(
        "--min-recall",
        type=_fraction,
        default=0.95,
        help="Exit 1 below this term recall (0-1, default 0.95).",
    )
    glossary.add_argument(
        "--max-false-rewrite",
        type=_fraction,
        default=0.0,
        help="Exit 1 above this false-rewrite rate (0-1, default 0).",
    )
    glossary.add_argument(
        "--repeat", type=int, default=20, help="Timing passes over the cases (default 20; 0 skips timing)."
    )
    glossary.add_argument(
        "--extra-terms",
        type=int,
        default=0,
        metavar="N",
        help="Add N synthetic filler terms (seeded, sharing first syllables with real loanwords) to "
        "measure speed and false rewrites with a large glossary.",
    )
    glossary.add_argument(
        "--asr-fixtures", type=Path, metavar="DIR",
        help="Also transcribe the Korean clips with a reference in this fixtures folder with real Whisper "
        "(--model) and run layer b on that output: every rewrite listed, CER before and after.",
    )
    glossary.add_argument(
        "--model", type=Path, default=Path("build/models/ggml-base.bin"),
        help="whisper.cpp model for --asr-fixtures (default: Whisper base from `make setup`).",
    )
    glossary.add_argument("--json", action="store_true", help="Print the figures as one JSON object.")
    glossary.add_argument(
        "-v", "--verbose", dest="show_failures", action="store_true", help="List each failure."
    )

    firewall = suites.add_parser(
        "firewall",
        help="The hallucination firewall on `expected<TAB>language<TAB>text` lines.",
        description="The firewall on `expected<TAB>language<TAB>text` lines "
        "(expected: keep or drop:<reason>).",
    )
    firewall.add_argument("cases", type=Path, metavar="CASES", help="TSV file of firewall cases.")
    firewall.add_argument(
        "--min-accuracy", type=_fraction, default=1.0, help="Exit 1 below this accuracy (0-1, default 1)."
    )
    firewall.add_argument("--json", action="store_true", help="Print the figures as one JSON object.")
    firewall.add_argument(
        "-v", "--verbose", dest="show_failures", action="store_true", help="List each failure."
    )
    eval_asr.add_arguments(suites)
    eval_corpus.add_arguments(suites)
    eval_minutes.add_arguments(suites)
    eval_speakers.add_arguments(suites)


def run(args: argparse.Namespace) -> int:
    if args.suite == "glossary":
        return _run_glossary(args)
    if args.suite == "asr":
        return eval_asr.run(args)
    if args.suite == "corpus":
        return eval_corpus.run(args)
    if args.suite == "minutes":
        return eval_minutes.run(args)
    if args.suite == "speakers":
        return eval_speakers.run(args)
    return _run_firewall(args)


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number between 0 and 1") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is outside 0-1 (write 95% as 0.95)")
    return number


def read_cases(path: Path, columns: int, header: str) -> list[tuple[int, list[str]]]:
    """(line number, fields) of each case; blank lines, `#` comments and the header are skipped."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"case file {path} does not exist") from None
    except IsADirectoryError:
        raise UserError(f"case file {path} is a directory; give a TSV file") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"case file {path} is not UTF-8 (byte {exc.start}); save it as UTF-8") from None
    cases: list[tuple[int, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#") or line == header:
            continue
        fields = line.split("\t")
        if len(fields) != columns:
            raise UserError(
                f"{path} line {number}: {len(fields)} tab-separated fields, expected {columns} ({header!r})"
            )
        cases.append((number, fields))
    if not cases:
        raise UserError(f"{path} holds no cases")
    return cases


@dataclass(frozen=True)
class GlossaryReport:
    with_term: int
    exact: int
    near_miss_lines: int
    near_miss_exact: int
    without_term: int
    changed: int
    failures: tuple[tuple[int, str, str, str], ...]
    median_us: float | None
    p95_us: float | None
    mean_us: float | None
    segments_timed: int
    terms: int

    @property
    def recall(self) -> float:
        return self.exact / self.with_term if self.with_term else 1.0

    @property
    def exact_alias_recall(self) -> float:
        lines = self.with_term - self.near_miss_lines
        return (self.exact - self.near_miss_exact) / lines if lines else 1.0

    @property
    def near_miss_recall(self) -> float:
        return self.near_miss_exact / self.near_miss_lines if self.near_miss_lines else 1.0

    @property
    def false_rewrite_rate(self) -> float:
        return self.changed / self.without_term if self.without_term else 0.0


def evaluate_glossary(
    glossary: Glossary, cases: list[tuple[int, list[str]]], *, repeat: int = 0
) -> GlossaryReport:
    corrector = GlossaryCorrector(glossary)
    exact_only = GlossaryCorrector(glossary, near_misses=False)
    has_term = _term_finder(glossary)
    with_term = exact = near_miss_lines = near_miss_exact = without_term = changed = 0
    failures: list[tuple[int, str, str, str]] = []
    for number, (source, expected) in cases:
        output, _ = corrector.correct(source)
        if source != expected or has_term(expected):
            with_term += 1
            exact += output == expected
            # A near-miss line: one that the exact aliases alone do not turn into the expected text.
            if exact_only.correct(source)[0] != expected:
                near_miss_lines += 1
                near_miss_exact += output == expected
        else:
            without_term += 1
            changed += output != source
        if output != expected:
            failures.append((number, source, expected, output))
    times_us: list[float] = []
    inputs = [fields[0] for _, fields in cases]
    for _ in range(max(0, repeat)):
        for source in inputs:
            start = time.perf_counter_ns()
            corrector.correct(source)
            times_us.append((time.perf_counter_ns() - start) / 1000)
    median_us = statistics.median(times_us) if times_us else None
    mean_us = statistics.fmean(times_us) if times_us else None
    p95_us = statistics.quantiles(times_us, n=20)[-1] if len(times_us) >= 20 else None
    return GlossaryReport(
        with_term,
        exact,
        near_miss_lines,
        near_miss_exact,
        without_term,
        changed,
        tuple(failures),
        median_us,
        p95_us,
        mean_us,
        len(times_us),
        len(glossary),
    )


def with_filler_terms(glossary: Glossary, count: int, *, seed: int = 0) -> Glossary:
    """`glossary` plus `count` made-up terms ("Filler12") whose Hangul aliases begin with syllables
    common in loanwords and continue with random ones: a worst case for the first-syllable index."""
    rng = random.Random(seed)
    starts = "스프레디카포엘리타노젠데센헬엔에큐코컨그"
    taken = {match_key(spelling) for term in glossary for spelling in (term.term, *term.aliases)}
    terms = list(glossary.terms)
    while len(terms) < len(glossary) + count:
        length = rng.randint(2, 6)
        alias = "".join(
            rng.choice(starts) if i < 2 else chr(0xAC00 + rng.randrange(11172)) for i in range(length)
        )
        if match_key(alias) in taken:
            continue
        taken.add(match_key(alias))
        terms.append(GlossaryTerm(f"Filler{len(terms)}", (alias,)))
    return Glossary(terms)


def _term_finder(glossary: Glossary) -> Callable[[str], bool]:
    patterns = []
    for term in glossary:
        escaped = re.escape(term.term)
        patterns.append(
            escaped if re.fullmatch(r"[가-힣 ]+", term.term) else rf"(?<![0-9A-Za-z]){escaped}(?![0-9A-Za-z])"
        )
    regex = re.compile("|".join(patterns)) if patterns else None
    return lambda text: bool(regex and regex.search(text))


def _run_glossary(args: argparse.Namespace) -> int:
    glossary_path = args.glossary if args.glossary is not None else args.cases.parent / "glossary.csv"
    if args.glossary is None and not glossary_path.is_file():
        raise UserError(f"no --glossary given and {glossary_path} does not exist; pass --glossary FILE.csv")
    if args.repeat < 0 or args.extra_terms < 0:
        raise UserError("--repeat and --extra-terms must be 0 or more")
    glossary = Glossary.from_csv(glossary_path)
    if args.extra_terms:
        glossary = with_filler_terms(glossary, args.extra_terms)
    report = evaluate_glossary(glossary, read_cases(args.cases, 2, "input\texpected"), repeat=args.repeat)
    passed = report.recall >= args.min_recall and report.false_rewrite_rate <= args.max_false_rewrite
    on_asr = _glossary_on_asr(args, glossary) if args.asr_fixtures is not None else None
    if args.json:
        print(
            json.dumps(
                {
                    "cases": report.with_term + report.without_term,
                    "with_term": report.with_term,
                    "exact": report.exact,
                    "term_recall": round(report.recall, 4),
                    "exact_alias_lines": report.with_term - report.near_miss_lines,
                    "exact_alias_recall": round(report.exact_alias_recall, 4),
                    "near_miss_lines": report.near_miss_lines,
                    "near_miss_exact": report.near_miss_exact,
                    "near_miss_recall": round(report.near_miss_recall, 4),
                    "without_term": report.without_term,
                    "changed": report.changed,
                    "false_rewrite_rate": round(report.false_rewrite_rate, 4),
                    "terms": report.terms,
                    "correction_us_median": _round(report.median_us),
                    "correction_us_p95": _round(report.p95_us),
                    "correction_us_mean": _round(report.mean_us),
                    "passed": passed,
                    **({"asr_output": on_asr} if on_asr is not None else {}),
                },
                ensure_ascii=False,
            )
        )
    else:
        print(
            f"cases: {report.with_term + report.without_term} ({report.with_term} with a term, "
            f"{report.without_term} without) against {report.terms} glossary terms"
        )
        print(
            f"term recall: {report.exact}/{report.with_term} = {report.recall:.1%} exact "
            f"(threshold {args.min_recall:.1%})"
        )
        alias_lines = report.with_term - report.near_miss_lines
        print(
            f"  exact-alias lines: {report.exact - report.near_miss_exact}/{alias_lines} = "
            f"{report.exact_alias_recall:.1%}; near-miss lines: {report.near_miss_exact}/"
            f"{report.near_miss_lines} = {report.near_miss_recall:.1%}"
        )
        print(
            f"false-rewrite rate: {report.changed}/{report.without_term} = {report.false_rewrite_rate:.1%} "
            f"changed (threshold {args.max_false_rewrite:.1%})"
        )
        if report.median_us is not None and report.mean_us is not None:
            p95 = f", p95 {report.p95_us:.0f} us" if report.p95_us is not None else ""
            print(
                f"layer b time per segment: median {report.median_us:.0f} us{p95}, mean "
                f"{report.mean_us:.0f} us ({report.segments_timed} corrections timed)"
            )
        if on_asr is not None:
            print(f"real Whisper output of the Korean fixtures: {on_asr['segments']} segments, "
                  f"{on_asr['rewrites']} rewrites")
            for clip in on_asr["clips"]:
                print(f"  {clip['clip']}: CER {clip['cer_before']:.1%} -> {clip['cer_after']:.1%}\n"
                      f"    whisper: {clip['whisper']}")
                for rewrite in clip["rewrites"]:
                    print(f"    rewrite: {rewrite['text']} -> {rewrite['corrected']} ({rewrite['rule']})")
    if args.show_failures:
        for number, source, expected, output in report.failures:
            print(f"line {number}: {source}\n  expected: {expected}\n  got:      {output}")
    return 0 if passed else 1


def _glossary_on_asr(args: argparse.Namespace, glossary: Glossary) -> dict:
    from edge.commands.eval_glossary_asr import glossary_on_asr_output, summary
    from edge.core.config import Config

    if not args.model.is_file():
        raise UserError(f"{args.model} not found; run `make setup` (or pass --model)")
    cfg = Config()
    cfg.asr.model_path = args.model.resolve()
    cfg.asr.threads = max(1, min(cfg.asr.threads, os.cpu_count() or 1))
    cfg.vad.model_path = (args.asr_fixtures / "models" / "silero_vad_v6.2.onnx").resolve()
    return summary(glossary_on_asr_output(cfg, args.asr_fixtures, glossary))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _run_firewall(args: argparse.Namespace) -> int:
    cases = read_cases(args.cases, 3, "expected\tlanguage\ttext")
    firewalls: dict[str, HallucinationFirewall] = {}
    correct = 0
    failures: list[tuple[int, str, str, str]] = []
    for number, (expected, language, text) in cases:
        if not LANGUAGE_PATTERN.fullmatch(language):
            raise UserError(
                f"{args.cases} line {number}: language {language!r} is not a whisper code or auto"
            )
        if expected != "keep" and not expected.startswith("drop:"):
            raise UserError(
                f"{args.cases} line {number}: expected {expected!r} must be keep or drop:<reason>"
            )
        firewall = firewalls.setdefault(language, HallucinationFirewall(language))
        verdict = firewall.check(text)
        got = f"drop:{verdict.reason}" if verdict.dropped else "keep"
        if got == expected:
            correct += 1
        else:
            failures.append((number, text, expected, got))
    accuracy = correct / len(cases)
    drops = sum(1 for _, (expected, _, _) in cases if expected != "keep")
    if args.json:
        print(
            json.dumps(
                {"cases": len(cases), "drop_cases": drops, "correct": correct, "accuracy": round(accuracy, 4)}
            )
        )
    else:
        print(f"firewall cases: {len(cases)} ({drops} hallucinations, {len(cases) - drops} speech)")
        print(f"accuracy: {correct}/{len(cases)} = {accuracy:.1%} (threshold {args.min_accuracy:.1%})")
    if args.show_failures:
        for number, text, expected, got in failures:
            print(f"line {number}: {text!r}\n  expected: {expected}\n  got:      {got}")
    return 0 if accuracy >= args.min_accuracy else 1
