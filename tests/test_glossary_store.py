"""The glossary in SQLite: terms, CSV import, suggestions and their decisions, recently used terms."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.core.errors import UserError
from edge.store import MAX_ALIASES, MAX_TERM_CHARS, Store, SuggestionDecided, SuggestionNotFound
from edge.text.glossary import Glossary, GlossaryCorrector, GlossaryError, GlossaryTerm


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    db = Store(tmp_path / "edge.db")
    yield db
    db.close()


def test_terms_are_added_replaced_and_deleted(store: Store) -> None:
    assert len(store.glossary()) == 0
    kubernetes = store.upsert_term(" Kubernetes ", ["쿠버네티스", " 쿠베 네티스 ", "쿠버네티스"], note="k8s")
    assert kubernetes == GlossaryTerm("Kubernetes", ("쿠버네티스", "쿠베 네티스"), "k8s")
    store.upsert_term("Jira", ["지라"])
    assert [t.term for t in store.glossary()] == ["Kubernetes", "Jira"]

    # Same spelling up to case and separators: replaced in place, the new spelling wins, order kept.
    store.upsert_term("github", ["깃헙"])
    store.upsert_term("GitHub", ["깃허브", "깃헙"], scope="dev")
    glossary = store.glossary()
    assert [t.term for t in glossary] == ["Kubernetes", "Jira", "GitHub"]
    assert glossary.get("GITHUB") == GlossaryTerm("GitHub", ("깃허브", "깃헙"), "", "dev")

    assert store.delete_term("jira")
    assert not store.delete_term("Jira")
    assert [t.term for t in store.glossary()] == ["Kubernetes", "GitHub"]

    # What is stored is what corrects.
    corrected, _ = GlossaryCorrector(store.glossary()).correct("깃헙에 쿠버네티스 설정을 올렸어요")
    assert corrected == "GitHub에 Kubernetes 설정을 올렸어요"


def test_bad_terms_are_refused_with_the_reason(store: Store) -> None:
    store.upsert_term("Kubernetes", ["쿠버네티스"])
    for args, reason in [
        (("", []), "term is empty"),
        (("   ", []), "term is empty"),
        (("Slack", ["슬랙", " "]), "alias 2 of 'Slack' is empty"),
        (("Slack", "슬랙"), "list of spellings"),
        (("A|B", []), r"contains '\|'"),
        (("Slack", ["슬|랙"]), "alias separator"),
        (("x" * (MAX_TERM_CHARS + 1), []), f"at most {MAX_TERM_CHARS}"),
        (("Slack", ["y" * (MAX_TERM_CHARS + 1)]), f"at most {MAX_TERM_CHARS}"),
        (("Slack", [f"alias{n}" for n in range(MAX_ALIASES + 1)]), f"at most {MAX_ALIASES} are allowed"),
        (("Slack\x00", []), "control characters"),
        (("K8s", ["쿠버네티스"]), "already belongs to 'Kubernetes'"),
        (("쿠버네티스", []), "'쿠버네티스' of 'Kubernetes' already belongs to"),
    ]:
        with pytest.raises(GlossaryError, match=reason):
            store.upsert_term(*args)
    assert isinstance(GlossaryError("x"), UserError)
    assert [t.term for t in store.glossary()] == ["Kubernetes"]
    with pytest.raises(GlossaryError, match="note of 'Slack' is 1001"):
        store.upsert_term("Slack", [], note="n" * 1001)


def test_import_merges_or_replaces_in_one_transaction(store: Store) -> None:
    store.upsert_term("Kubernetes", ["쿠버네티스"])
    store.upsert_term("Jira", ["지라"])
    store.touch_terms(["Jira"])
    merged = Glossary.loads("term,aliases,note\njira,지라|지이라,tickets\nSlack,슬랙,\n")
    assert store.import_glossary(merged) == 2
    glossary = store.glossary()
    assert [t.term for t in glossary] == ["Kubernetes", "jira", "Slack"]
    assert glossary.get("Jira") == GlossaryTerm("jira", ("지라", "지이라"), "tickets")

    # A conflict with a stored term changes nothing.
    conflicting = Glossary.loads("term,aliases,note\nNotion,노션|쿠버네티스,\n")
    with pytest.raises(GlossaryError, match="'쿠버네티스' of 'Notion' already belongs to 'Kubernetes'"):
        store.import_glossary(conflicting)
    assert [t.term for t in store.glossary()] == ["Kubernetes", "jira", "Slack"]

    # Replace: the file's terms in the file's order; a kept term keeps its history.
    replacing = Glossary.loads("term,aliases,note\nSlack,슬랙,\nJira,지라,\nNotion,노션|쿠버네티스,\n")
    assert store.import_glossary(replacing, replace=True) == 3
    assert [t.term for t in store.glossary()] == ["Slack", "Jira", "Notion"]
    assert store.recent_terms(5) == ["Jira"]
    assert store.glossary().dumps() == replacing.dumps()


def test_suggestions_are_recorded_once_and_accepting_adds_the_alias(store: Store) -> None:
    meeting = store.create_meeting(language="ko", source="test")
    first = store.add_suggestion("쿠베", "Kubernetes", meeting_id=meeting.id, seq=3)
    assert first is not None
    assert store.add_suggestion("쿠베", "Kubernetes", meeting_id=meeting.id, seq=4) is None  # already pending
    assert store.add_suggestion("github", "GitHub") is None  # the term's own spelling
    other = store.add_suggestion("깃헙", "GitHub")
    [newest, oldest] = store.suggestions()
    assert (newest.id, oldest.id) == (other, first)
    assert (oldest.alias, oldest.term, oldest.meeting_id, oldest.seq, oldest.status) == (
        "쿠베", "Kubernetes", meeting.id, 3, "pending"
    )
    assert store.suggestions(meeting_id=meeting.id, seq=3) == [oldest]
    assert store.suggestions(meeting_id=meeting.id, seq=4) == []

    # Accepting creates the term when there is none, in the same transaction as the decision.
    accepted = store.decide_suggestion(first, True)
    assert (accepted.status, accepted.decided_at is not None) == ("accepted", True)
    assert store.glossary().get("Kubernetes") == GlossaryTerm("Kubernetes", ("쿠베",))
    assert store.add_suggestion("쿠베", "kubernetes") is None  # already an alias of the term
    with pytest.raises(SuggestionDecided, match="already accepted"):
        store.decide_suggestion(first, False)

    # Accepting into an existing term keeps its other aliases, note and scope; the stored spelling is used.
    store.upsert_term("GitHub", ["깃허브"], note="code", scope="dev")
    assert store.decide_suggestion(other, True).status == "accepted"
    assert store.glossary().get("GitHub") == GlossaryTerm("GitHub", ("깃허브", "깃헙"), "code", "dev")
    later = store.add_suggestion("깃 헙스", "github")
    assert store.suggestions()[0].term == "GitHub"

    rejected = store.decide_suggestion(later, False)
    assert rejected.status == "rejected"
    assert [s.status for s in store.suggestions(None)] == ["rejected", "accepted", "accepted"]
    assert store.suggestions("accepted")[0].id == other
    assert store.suggestions() == []
    with pytest.raises(SuggestionNotFound):
        store.decide_suggestion(999, True)
    with pytest.raises(UserError, match="not one of pending"):
        store.suggestions("open")


def test_accepting_an_alias_of_another_term_is_refused_and_stays_pending(store: Store) -> None:
    store.upsert_term("Notion", ["노션"])
    suggestion = store.add_suggestion("노션", "Confluence")
    with pytest.raises(GlossaryError, match="already belongs to 'Notion'"):
        store.decide_suggestion(suggestion, True)
    assert [s.id for s in store.suggestions()] == [suggestion]
    assert store.glossary().get("Confluence") is None
    assert store.decide_suggestion(suggestion, False).status == "rejected"


def test_bad_suggestions_are_refused(store: Store) -> None:
    with pytest.raises(GlossaryError, match="term is empty"):
        store.add_suggestion("쿠베", " ")
    with pytest.raises(GlossaryError, match="alias 1 of 'Kubernetes' is empty"):
        store.add_suggestion("", "Kubernetes")
    with pytest.raises(GlossaryError, match="at most"):
        store.add_suggestion("쿠" * 500, "Kubernetes")
    assert store.suggestions(None) == []


def test_recently_used_terms(store: Store) -> None:
    for term in ("Kubernetes", "Jira", "Slack"):
        store.upsert_term(term)
    assert store.recent_terms(10) == []
    store.touch_terms(["slack"])
    store.touch_terms(["JIRA", "Unknown"])
    store.touch_terms([])
    assert store.recent_terms(10) == ["Jira", "Slack"]
    assert store.recent_terms(1) == ["Jira"]


def test_the_glossary_survives_reopening(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    store.upsert_term("PostgreSQL", ["포스트그레스", "postgres"], note="DB")
    store.add_suggestion("포스트그레", "PostgreSQL")
    store.close()
    reopened = Store(tmp_path / "edge.db")
    assert reopened.glossary().get("postgresql") == GlossaryTerm("PostgreSQL", ("포스트그레스", "postgres"), "DB")
    assert [s.alias for s in reopened.suggestions()] == ["포스트그레"]
    reopened.close()
    # The database keeps at most one pending suggestion per (alias, term).
    db = sqlite3.connect(tmp_path / "edge.db")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO glossary_suggestions (alias, term, created_at) VALUES ('포스트그레', 'PostgreSQL', '')")
    db.close()


def test_the_cli_lists_imports_and_exports_the_stored_glossary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edge.commands.cli import main

    config = tmp_path / "edge.toml"
    config.write_text('[storage]\npath = "data"\n', encoding="utf-8")
    team = tmp_path / "team.csv"
    team.write_text('term,aliases,note\nKubernetes,쿠버네티스|쿠베,"컨테이너, k8s"\nJira,지라,\n', encoding="utf-8")

    assert main(["glossary", "list", "--config", str(config)]) == 0
    assert "the glossary is empty" in capsys.readouterr().err
    assert main(["glossary", "import", str(team), "--config", str(config)]) == 0
    assert "imported 2 terms" in capsys.readouterr().err
    assert main(["glossary", "list", "--config", str(config)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed == ["Kubernetes  <- 쿠버네티스 | 쿠베  # 컨테이너, k8s", "Jira        <- 지라"]
    assert main(["glossary", "export", "--config", str(config)]) == 0
    assert capsys.readouterr().out == team.read_text(encoding="utf-8")

    # A bad file is one line naming the line, and changes nothing; --replace makes the glossary the file.
    bad = tmp_path / "bad.csv"
    bad.write_text("term,aliases,note\nSlack,슬랙,\nNotion,노션,a,b\n", encoding="utf-8")
    assert main(["glossary", "import", str(bad), "--config", str(config)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"edge glossary: error: {bad} line 3: 4 fields but the header has 3; quote fields that contain commas"
    )
    only = tmp_path / "only.csv"
    only.write_text("term,aliases,note\nSlack,슬랙,\n", encoding="utf-8")
    assert main(["glossary", "import", str(only), "--replace", "--config", str(config)]) == 0
    out = tmp_path / "out.csv"
    assert main(["glossary", "export", str(out), "--config", str(config)]) == 0
    assert out.read_text(encoding="utf-8") == "term,aliases,note\nSlack,슬랙,\n"
    assert main(["glossary", "export", str(tmp_path / "missing" / "x.csv"), "--config", str(config)]) == 2
    assert "cannot write" in capsys.readouterr().err
    store = Store(tmp_path / "data" / "edge.db")
    assert [t.term for t in store.glossary()] == ["Slack"]
    store.close()
