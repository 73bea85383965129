"""`edge eval glossary` and `edge eval firewall` on the repository's case sets and on bad input."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge.commands import eval as eval_command
from edge.core.errors import UserError
from edge.text.glossary import Glossary

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA = PROJECT_ROOT / "tests" / "data"
CLI = (
    "import sys; from edge.commands import cli; "
    "cli.COMMANDS = {'eval': cli.COMMANDS['eval']}; sys.exit(cli.main(sys.argv[1:]))"
)


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    eval_command.add_arguments(parser)
    return eval_command.run(parser.parse_args(argv))


def test_glossary_case_set_meets_the_targets(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["glossary", str(DATA / "glossary_cases.tsv"), "--repeat", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["with_term"] >= 100
    assert report["without_term"] >= 50
    assert report["term_recall"] >= 0.95
    assert report["changed"] == 0
    assert report["passed"] is True
    assert report["correction_us_median"] > 0


def test_near_miss_recall_is_reported_apart_from_exact_aliases(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["glossary", str(DATA / "glossary_near_miss_cases.tsv"), "--repeat", "0", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["near_miss_lines"] >= 40
    assert report["near_miss_recall"] >= 0.95
    assert report["changed"] == 0
    cases = DATA / "glossary_near_miss_cases.tsv"
    assert _run(["glossary", str(cases), "--glossary", str(DATA / "glossary.csv"), "--repeat", "0"]) == 0
    out = capsys.readouterr().out
    assert f"near-miss lines: {report['near_miss_exact']}/{report['near_miss_lines']} = " in out


def test_glossary_failures_exit_1_and_are_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = tmp_path / "cases.tsv"
    cases.write_text(
        "input\texpected\n깃헙에 올렸어요\tGitHub에 올렸어요\n"
        "도커 이미지\t도커 이미지\n노션 정리\t노션 정리\n",
        encoding="utf-8",
    )
    argv = ["glossary", str(cases), "--glossary", str(DATA / "glossary.csv"), "--repeat", "0"]
    assert _run([*argv, "-v"]) == 1
    out = capsys.readouterr().out
    assert "term recall: 1/1 = 100.0% exact" in out
    assert "false-rewrite rate: 2/2 = 100.0% changed" in out
    assert "layer b time" not in out
    assert "line 3: 도커 이미지\n  expected: 도커 이미지\n  got:      Docker 이미지" in out
    # Expectations the glossary cannot meet: 2 of 3 lines with a term fail.
    cases.write_text("input\texpected\n깃헙\tGitHub\n도커\tDock\n노션\tNotions\n", encoding="utf-8")
    assert _run([*argv, "--min-recall", "0.3"]) == 0
    assert "term recall: 1/3 = 33.3% exact (threshold 30.0%)" in capsys.readouterr().out
    assert _run([*argv, "--min-recall", "0.5"]) == 1


def test_false_rewrites_are_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    glossary = tmp_path / "glossary.csv"
    glossary.write_text("term,aliases,note\n노선도,노선,a bad alias\n", encoding="utf-8")
    cases = tmp_path / "cases.tsv"
    cases.write_text(
        "버스 노선이 바뀌었어요\t버스 노선이 바뀌었어요\n오늘 날씨\t오늘 날씨\n", encoding="utf-8"
    )
    assert _run(["glossary", str(cases), "--repeat", "0"]) == 1  # glossary.csv beside CASES
    assert "false-rewrite rate: 1/2 = 50.0% changed" in capsys.readouterr().out
    assert _run(["glossary", str(cases), "--repeat", "0", "--max-false-rewrite", "0.5"]) == 0


def test_firewall_case_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["firewall", str(DATA / "firewall_cases.tsv")]) == 0
    assert "accuracy: " in capsys.readouterr().out


def test_bad_case_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("input\texpected\nno tab here\n", encoding="utf-8")
    with pytest.raises(UserError, match="line 2: 1 tab-separated fields, expected 2"):
        _run(["glossary", str(bad), "--glossary", str(DATA / "glossary.csv")])
    with pytest.raises(UserError, match="does not exist"):
        _run(["glossary", str(tmp_path / "missing.tsv"), "--glossary", str(DATA / "glossary.csv")])
    with pytest.raises(UserError, match="no --glossary given"):
        _run(["glossary", str(bad)])
    bad.write_text("maybe\tko\ttext\n", encoding="utf-8")
    with pytest.raises(UserError, match="line 1: expected 'maybe' must be keep or drop"):
        _run(["firewall", str(bad)])


def test_cli_prints_figures_and_rejects_bad_thresholds() -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", CLI, "eval", *args], capture_output=True, text=True, cwd=PROJECT_ROOT,
            timeout=120, check=False,
        )  # fmt: skip

    result = cli("glossary", "tests/data/glossary_cases.tsv", "--repeat", "2")
    assert result.returncode == 0, result.stderr
    assert "false-rewrite rate: 0/" in result.stdout
    assert "layer b time per segment: median " in result.stdout
    result = cli("glossary", "tests/data/glossary_cases.tsv", "--min-recall", "95")
    assert result.returncode == 2
    assert "outside 0-1" in result.stderr


def test_filler_terms_grow_the_glossary_without_false_rewrites(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["glossary", str(DATA / "glossary_cases.tsv"), "--extra-terms", "300", "--repeat", "0", "--json"]
    assert _run(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["terms"] == len(Glossary.from_csv(DATA / "glossary.csv")) + 300
    assert report["changed"] == 0
    assert report["correction_us_median"] is None
