"""`edge eval corpus`: layer b over real Korean sentences that hold no glossary term, every rewrite
listed. The sentences are LibreOffice's Korean help (Debian package libreoffice-help-ko, MPL-2.0,
installed by `make setup`): some 17,000 distinct sentences of real, edited Korean prose."""

from __future__ import annotations

import argparse
import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from edge.core.errors import UserError
from edge.text.glossary import Glossary, GlossaryCorrector

HELP_ROOT = Path("/usr/share/libreoffice/help/ko")
MIN_SYLLABLES = 8  # shorter paragraphs are menu names and labels, not sentences

_PARAGRAPH = re.compile(r"<p[^>]*>(.*?)</p>", re.DOTALL)
_SCRIPT = re.compile(r"<script.*?</script>|<style.*?</style>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
_SYLLABLE = re.compile("[가-힣]")


def add_arguments(suites: argparse._SubParsersAction) -> None:
    corpus = suites.add_parser(
        "corpus",
        help="Layer b over real Korean sentences without glossary terms; every rewrite is a false one.",
        description="Layer b over the Korean sentences of LibreOffice's help (libreoffice-help-ko, installed "
        "by `make setup`) that contain no spelling of any glossary term; lists every rewrite.",
    )
    corpus.add_argument("--glossary", type=Path, required=True, metavar="CSV", help="Glossary CSV.")
    corpus.add_argument(
        "--help-root", type=Path, default=HELP_ROOT, help=f"Korean help folder (default {HELP_ROOT})."
    )
    corpus.add_argument("--json", action="store_true", help="Print the figures as one JSON object.")


def korean_sentences(root: Path = HELP_ROOT) -> list[str]:
    """The distinct sentences of 8+ Hangul syllables in the HTML pages under `root`, sorted."""
    if not root.is_dir():
        raise UserError(
            f"{root} not found: the Korean corpus is Debian's libreoffice-help-ko; run `make setup` "
            "(or apt-get install libreoffice-help-ko)"
        )
    sentences: set[str] = set()
    for page in sorted(root.rglob("*.html")):
        text = _SCRIPT.sub("", page.read_text(encoding="utf-8", errors="replace"))
        for paragraph in _PARAGRAPH.findall(text):
            plain = " ".join(html.unescape(_TAG.sub("", paragraph)).split())
            sentences.update(s for s in _SENTENCE_END.split(plain) if len(_SYLLABLE.findall(s)) >= MIN_SYLLABLES)
    return sorted(sentences)


def mentions_a_term(glossary: Glossary) -> re.Pattern[str]:
    """Any spelling of any term, anywhere (case-insensitive; Latin spellings as whole words)."""
    spellings = {spelling for term in glossary for spelling in (term.term, *term.aliases)}
    parts = [
        re.escape(s) if _SYLLABLE.search(s) else rf"(?<![0-9A-Za-z]){re.escape(s)}(?![0-9A-Za-z])"
        for s in sorted(spellings, key=len, reverse=True)
    ]
    return re.compile("|".join(parts), re.IGNORECASE)


@dataclass(frozen=True)
class Rewrite:
    sentence: str
    output: str
    corrections: tuple[dict, ...]


def false_rewrites(glossary: Glossary, sentences: list[str]) -> Iterator[Rewrite]:
    corrector = GlossaryCorrector(glossary)
    for sentence in sentences:
        output, corrections = corrector.correct(sentence)
        if corrections:
            yield Rewrite(sentence, output, tuple(c.to_dict() for c in corrections))


def run(args: argparse.Namespace) -> int:
    glossary = Glossary.from_csv(args.glossary)
    sentences = korean_sentences(args.help_root)
    mentions = mentions_a_term(glossary)
    clean = [s for s in sentences if not mentions.search(s)]
    rewrites = list(false_rewrites(glossary, clean))
    if args.json:
        print(
            json.dumps(
                {
                    "sentences": len(sentences),
                    "without_term": len(clean),
                    "terms": len(glossary),
                    "rewrites": [
                        {"sentence": r.sentence, "output": r.output, "corrections": list(r.corrections)}
                        for r in rewrites
                    ],
                },
                ensure_ascii=False,
            )
        )
    else:
        print(
            f"corpus: {len(sentences)} Korean sentences, {len(clean)} without any spelling of the "
            f"{len(glossary)} glossary terms"
        )
        print(f"false rewrites: {len(rewrites)}")
        for rewrite in rewrites:
            changes = ", ".join(f"{c['original']} -> {c['replacement']} ({c['rule']})" for c in rewrite.corrections)
            print(f"  {rewrite.sentence}\n    {changes}")
    return 0 if not rewrites else 1
