"""The composite two-hour Korean meeting (`edge synth transcript`) and `edge eval minutes` on it: the
document is reproducible and as large as promised, `edge import` reads it (with its meeting date),
and the extractive minutes find the planted action items with their owners and due dates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.commands.cli import main
from edge.commands.eval_minutes import read_composite, score
from edge.core.config import MinutesConfig
from edge.core.errors import UserError
from edge.minutes.generate import write_extractive_minutes
from edge.ops.synth.minutes_meeting import STARTED_AT, compose_meeting
from edge.store import Store
from edge.transcripts.importing import import_transcript


def test_the_composite_is_reproducible_and_as_large_as_promised() -> None:
    document = compose_meeting(seed=13)
    assert document == compose_meeting(seed=13) and document != compose_meeting(seed=14)
    segments, truth = document["segments"], document["truth"]
    assert len(segments) >= 1500 and segments[-1]["t1_ms"] >= 2 * 3600 * 1000
    assert len({s["speaker"] for s in segments}) >= 5
    assert all(s["text"].startswith(s["speaker"] + ": ") for s in segments)
    assert len(truth["action_items"]) >= 20 and len(truth["decisions"]) >= 8
    assert {a["form"] for a in truth["action_items"]} == {"request", "promise", "open"}
    assert sum(a["due"] is None for a in truth["action_items"]) >= 1  # some have no deadline
    assert "composite" in document and "(합성)" in document["meeting"]["title"]


@pytest.mark.parametrize("seed", [13, 1, 2])
def test_the_floor_meets_its_goals_on_composites(seed: int) -> None:
    result = score(compose_meeting(seed=seed))
    assert result.recall >= 0.9 and result.precision >= 0.85, result.problems
    figures = result.to_dict()
    assert figures["action_items"]["owner_accuracy"] >= 0.9 and figures["action_items"]["due_accuracy"] >= 0.9
    assert figures["decisions"]["recall"] >= 0.9 and figures["decisions"]["precision"] >= 0.85


def test_synth_then_eval_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "meeting.json"
    assert main(["synth", "transcript", "--out", str(out)]) == 0
    assert "composite Korean meeting, 1599 segments" in capsys.readouterr().out
    assert main(["eval", "minutes", str(out), "--json", "--repeat", "1"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["action_items"]["planted"] == 30 and figures["segments"] == 1599
    assert main(["eval", "minutes", str(out), "--min-recall", "1.01", "--repeat", "1"]) == 1
    capsys.readouterr()
    (tmp_path / "plain.json").write_text('{"v": 1, "segments": []}', encoding="utf-8")
    with pytest.raises(UserError, match="has no planted truth"):
        read_composite(tmp_path / "plain.json")


def test_imported_composite_keeps_its_date_and_gets_the_same_items(tmp_path: Path) -> None:
    document = compose_meeting(seed=13)
    store = Store(tmp_path / "edge.db")
    try:
        imported = import_transcript(store, json.dumps(document, ensure_ascii=False), name="composite.json")
        assert imported.meeting.started_at == STARTED_AT and imported.segments == len(document["segments"])
        outcome = write_extractive_minutes(store, imported.meeting.id, config=MinutesConfig())
        assert outcome.status == "published" and outcome.minutes is not None
        planted = {(a["seqs"][0], a["owner"], a["due"]) for a in document["truth"]["action_items"]}
        got = {(a.evidence[0], a.owner, a.due[:10] if a.due and a.due[:4].isdigit() else None)
               for a in outcome.minutes.action_items}  # fmt: skip
        assert len(planted & got) >= 0.9 * len(planted)
    finally:
        store.close()
