"""Glossary CSV handling and layer b correction (on the repository's case set and its rules)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.core.errors import UserError
from edge.text.glossary import Glossary, GlossaryCorrector, GlossaryError, GlossaryTerm, near_miss_budget

DATA = Path(__file__).parent / "data"
GLOSSARY = Glossary.from_csv(DATA / "glossary.csv")
CORRECTOR = GlossaryCorrector(GLOSSARY)


def _cases() -> list[tuple[int, str, str]]:
    cases = []
    for name in ("glossary_cases.tsv", "glossary_near_miss_cases.tsv"):
        for number, line in enumerate((DATA / name).read_text(encoding="utf-8").splitlines(), start=1):
            if not line or line.startswith("#") or line == "input\texpected":
                continue
            source, expected = line.split("\t")
            cases.append((f"{name}:{number}", source, expected))
    return cases


CASES = _cases()


def test_repository_glossary_and_case_set_are_realistic() -> None:
    assert len(GLOSSARY) >= 40
    for name in ("Kubernetes", "GitHub", "pull request", "Jira", "Notion", "Slack", "Docker", "API", "CI/CD",
                 "Grafana", "PostgreSQL", "Redis", "Kafka", "React", "TypeScript", "sprint", "backlog",
                 "deploy", "rollback", "staging", "hotfix", "OKR"):  # fmt: skip
        assert GLOSSARY.get(name) is not None, name
    unchanged = [case for case in CASES if case[1] == case[2]]
    assert len(CASES) >= 150
    assert len(unchanged) >= 50


@pytest.mark.parametrize(("line", "source", "expected"), CASES, ids=[c[0] for c in CASES])
def test_case(line: str, source: str, expected: str) -> None:
    output, corrections = CORRECTOR.correct(source)
    assert output == expected, f"line {line}"
    # The records describe the change exactly: replaying them on the input gives the output.
    rebuilt, position = [], 0
    for correction in corrections:
        assert source[correction.start : correction.end] == correction.original
        assert correction.start >= position
        rebuilt += [source[position : correction.start], correction.replacement]
        position = correction.end
        assert correction.rule in ("exact", "spacing", "near_miss", "alias", "spelling")
        assert 0.0 < correction.score <= 1.0
    assert "".join([*rebuilt, source[position:]]) == output
    assert (output == source) == (not corrections)
    assert CORRECTOR.correct(output)[0] == output  # idempotent


def test_correction_record_fields() -> None:
    output, (correction,) = CORRECTOR.correct("깃헙을 보세요")
    assert output == "GitHub를 보세요"
    assert correction.to_dict() == {
        "start": 0,
        "end": 3,
        "original": "깃헙을",
        "replacement": "GitHub를",
        "term": "GitHub",
        "rule": "exact",
        "score": 1.0,
        "cost": 0.0,
    }
    _, (fuzzy,) = CORRECTOR.correct("쿠베네티스 노드")
    assert (fuzzy.rule, fuzzy.original, fuzzy.score) == ("near_miss", "쿠베네티스", 0.9)
    _, (spaced,) = CORRECTOR.correct("쿠버 네티스에")
    assert (spaced.rule, spaced.original, spaced.end) == ("spacing", "쿠버 네티스", 6)


def test_short_aliases_take_only_same_sound_near_misses() -> None:
    glossary = Glossary([GlossaryTerm("Notion", ("노션",)), GlossaryTerm("Jira", ("지라",))])
    corrector = GlossaryCorrector(glossary)
    for text in ("노선이 바뀌었어요", "노 션", "지라시", "늦을지라도", "늦을 지라도 와요", "노숀에 올려요"):
        assert corrector.correct(text) == (text, ()), text
    assert corrector.correct("노션에 올려요")[0] == "Notion에 올려요"
    assert corrector.correct("지라도 써요")[0] == "Jira도 써요"  # not after an ㄹ-final word
    assert corrector.correct("노숀에 올려요")[0] == "노숀에 올려요"  # ㅕ/ㅛ costs 0.5, over a 2-syllable budget
    assert near_miss_budget(1) == 0.0 < near_miss_budget(2) < near_miss_budget(3) < near_miss_budget(5)
    assert near_miss_budget(2, supported=True) > near_miss_budget(2)


def test_english_case_rules() -> None:
    glossary = Glossary(
        [
            GlossaryTerm("GitHub"),
            GlossaryTerm("React"),
            GlossaryTerm("sprint"),
            GlossaryTerm("IT"),
            GlossaryTerm("Grafana"),
            GlossaryTerm("Slack", ("slack",)),
            GlossaryTerm("CI/CD"),
        ]
    )
    corrector = GlossaryCorrector(glossary)
    assert corrector.correct("push to github")[0] == "push to GitHub"
    assert corrector.correct("ci-cd 파이프라인")[0] == "CI/CD 파이프라인"  # separators vary where spelled
    assert corrector.correct("Git-Hub 저장소")[0] == "Git-Hub 저장소"  # ... and only there
    spaced = GlossaryCorrector(Glossary([GlossaryTerm("GitHub", ("Git Hub",))]))
    assert spaced.correct("git hub 저장소, Github 이슈")[0] == "GitHub 저장소, GitHub 이슈"
    assert corrector.correct("githubby")[0] == "githubby"
    assert corrector.correct("how did they react")[0] == "how did they react"
    assert corrector.correct("REACT app")[0] == "React app"
    assert corrector.correct("Sprint planning")[0] == "Sprint planning"
    assert corrector.correct("it works")[0] == "it works"
    assert corrector.correct("grafana alerts")[0] == "Grafana alerts"
    assert corrector.correct("ping me on slack")[0] == "ping me on Slack"  # listed: the owner decided


def test_no_glossary_terms_no_changes() -> None:
    assert GlossaryCorrector(Glossary()).correct("쿠버네티스를 github에") == ("쿠버네티스를 github에", ())


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("가나다라마바사아자차카타파하 노선지도늦을을를이가는에서.,?ab")),
        max_size=40,
    )
)
def test_text_without_aliases_never_changes(text: str) -> None:
    glossary = Glossary([GlossaryTerm("Kubernetes", ("쿠버네티스",)), GlossaryTerm("Redis", ("레디스",))])
    assert GlossaryCorrector(glossary).correct(text) == (text, ())


def test_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    GLOSSARY.to_csv(path)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "term,aliases,note"
    assert Glossary.from_csv(path) == GLOSSARY
    scoped = Glossary([GlossaryTerm("Helm", ("헬름",), "charts, releases", "infra")])
    assert scoped.dumps() == 'term,aliases,note,scope\nHelm,헬름,"charts, releases",infra\n'
    assert Glossary.loads(scoped.dumps()) == scoped


def test_term_cleaning_and_reading() -> None:
    term = GlossaryTerm("  pull   request ", ("풀 리퀘스트", "", "pull request", "풀리퀘", "풀리퀘"))
    assert term.term == "pull request"
    assert term.aliases == ("풀 리퀘스트", "풀리퀘")
    assert term.reading == "풀리퀘스트"
    assert GlossaryTerm("API").reading is None
    with pytest.raises(ValueError, match="empty"):
        GlossaryTerm("  ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("name,aliases\nA,b\n", "line 1: header"),
        ("term,aliases,note\nGitHub,깃헙,note,extra\n", "line 2: 4 fields"),
        ("term,aliases,note\nGitHub,깃헙\n,깃랩,\n", "line 3: the term is empty"),
        (
            "term,aliases,note\nGitHub,깃헙\n\nGitLab,깃헙\n",
            "line 4: 'GitLab' repeats a term or alias of line 2",
        ),
        ("term,aliases,note\nGitHub,깃헙\ngithub,\n", "line 3"),
        ('term,aliases,note\nGitHub,"깃헙\n', "malformed CSV"),
    ],
)
def test_bad_csv_names_the_line(text: str, message: str) -> None:
    with pytest.raises(GlossaryError, match=message) as raised:
        Glossary.loads(text, source="team.csv")
    assert isinstance(raised.value, UserError)
    assert "team.csv" in str(raised.value)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(GlossaryError, match="does not exist"):
        Glossary.from_csv(tmp_path / "missing.csv")
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("term,aliases,note\ncafé,,\n".encode("latin-1"))
    with pytest.raises(GlossaryError, match="not UTF-8"):
        Glossary.from_csv(latin1)
    bom = tmp_path / "bom.csv"
    bom.write_bytes("term,aliases,note\nSlack,슬랙,\n".encode("utf-8-sig"))
    assert Glossary.from_csv(bom).get("slack") is not None


def test_conflicting_aliases_in_code() -> None:
    with pytest.raises(GlossaryError, match="already belongs to 'GitHub'"):
        Glossary([GlossaryTerm("GitHub", ("깃헙",)), GlossaryTerm("GitLab", ("깃헙",))])
