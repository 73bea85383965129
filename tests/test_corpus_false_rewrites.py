"""Layer b at corpus scale: the 300-term IT glossary over some 17,000 real Korean sentences (LibreOffice's
Korean help) that contain no spelling of any term. Every rewrite there is a false one; none is allowed,
and each one ever found becomes a case in tests/data/glossary_near_miss_cases.tsv."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from edge.commands import eval_corpus
from edge.core.errors import UserError
from edge.text.glossary import Glossary

IT_GLOSSARY = Path(__file__).parent / "data" / "it_glossary.csv"


def test_the_it_glossary_and_the_corpus_are_large_enough(korean_corpus: list[str]) -> None:
    assert len(Glossary.from_csv(IT_GLOSSARY)) >= 300
    assert len(korean_corpus) >= 10_000
    assert all(sum("가" <= c <= "힣" for c in s) >= eval_corpus.MIN_SYLLABLES for s in korean_corpus)


def test_no_rewrite_of_sentences_without_a_term(korean_corpus: list[str]) -> None:
    glossary = Glossary.from_csv(IT_GLOSSARY)
    mentions = eval_corpus.mentions_a_term(glossary)
    clean = [sentence for sentence in korean_corpus if not mentions.search(sentence)]
    assert len(clean) >= 10_000
    assert [(r.sentence, r.output) for r in eval_corpus.false_rewrites(glossary, clean)] == []


def test_the_corpus_check_finds_a_near_miss_that_is_there(korean_corpus: list[str]) -> None:
    # A glossary whose alias is one ㅐ/ㅔ from an ordinary word shows the check can fail.
    glossary = Glossary.loads("term,aliases,note\nTextX,택스트,\n")
    rewrites = list(eval_corpus.false_rewrites(glossary, korean_corpus[:3000]))
    assert rewrites and all(r.corrections[0]["rule"] == "near_miss" for r in rewrites)
    assert all(r.corrections[0]["original"].startswith("텍스트") for r in rewrites)


def test_eval_corpus_command(korean_corpus: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(glossary=IT_GLOSSARY, help_root=eval_corpus.HELP_ROOT, json=False)
    assert eval_corpus.run(args) == 0
    out = capsys.readouterr().out
    assert f"corpus: {len(korean_corpus)} Korean sentences" in out
    assert "false rewrites: 0" in out


def test_a_missing_corpus_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="libreoffice-help-ko"):
        eval_corpus.korean_sentences(tmp_path / "missing")
