"""A damaged database is refused at start with the fix named, never opened silently (issue 17, finding 5),
and `edge backup` copies a database in use with SQLite's online backup API. Real SQLite files in tmp dirs."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from edge.commands.cli import main
from edge.store import DatabaseDamaged, Store


def _filled(path: Path, segments: int = 300) -> str:
    store = Store(path)
    meeting = store.create_meeting(language="ko", source="test", title="주간 회의")
    for i in range(segments):
        store.add_segment(meeting.id, t0_ms=i * 1000, t1_ms=i * 1000 + 900, text_raw="회의 내용입니다 " * 20,
                          language="ko")
    store.close()
    return meeting.id


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "edge.toml"
    config.write_text('[storage]\npath = "data"\n', encoding="utf-8")
    return config


def test_a_zero_length_database_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    path.write_bytes(b"")
    with pytest.raises(DatabaseDamaged) as refused:
        Store(path)
    message = str(refused.value)
    assert str(path) in message and "empty" in message
    assert "edge backup" in message and "move it aside" in message
    assert path.stat().st_size == 0  # nothing was written into it


def test_a_database_missing_its_tail_is_refused_before_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    _filled(path)
    data = path.read_bytes()
    path.write_bytes(data[:-608])
    with pytest.raises(DatabaseDamaged) as refused:
        Store(path)
    message = str(refused.value)
    assert "damaged" in message and "missing" in message
    assert "restore it from a backup" in message and "move it aside" in message
    assert path.read_bytes() == data[:-608]


def test_edge_run_refuses_a_damaged_database_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EDGE_CONFIG", raising=False)
    config = _config(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "edge.db").write_bytes(b"")
    assert main(["glossary", "list", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "empty" in err and "Traceback" not in err


def test_edge_backup_copies_a_database_in_use_and_the_copy_restores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EDGE_CONFIG", raising=False)
    config = _config(tmp_path)
    meeting_id = _filled(tmp_path / "data" / "edge.db", segments=50)
    running = Store(tmp_path / "data" / "edge.db")  # the box, still open, with a write not yet checkpointed
    running.add_segment(meeting_id, t0_ms=99_000, t1_ms=99_500, text_raw="마지막 문장", language="ko")
    out = tmp_path / "backups" / "edge-copy.db"
    assert main(["backup", "--config", str(config), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().err
    running.close()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not list(out.parent.glob("*.part"))
    copy = sqlite3.connect(out)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copy.close()
    restored = Store(out)
    assert restored.segment_count(meeting_id) == 51
    assert restored.segments(meeting_id)[-1].text_raw == "마지막 문장"
    restored.close()


def test_edge_backup_by_default_writes_beside_the_database_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EDGE_CONFIG", raising=False)
    config = _config(tmp_path)
    _filled(tmp_path / "data" / "edge.db", segments=3)
    assert main(["backup", "--config", str(config)]) == 0
    made = list((tmp_path / "data" / "backups").glob("edge-*.db"))
    assert len(made) == 1
    capsys.readouterr()
    assert main(["backup", "--config", str(config), "--out", str(made[0])]) == 2
    assert "already exists" in capsys.readouterr().err


def test_edge_backup_of_a_missing_database_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EDGE_CONFIG", raising=False)
    assert main(["backup", "--config", str(_config(tmp_path))]) == 2
    assert "no database" in capsys.readouterr().err
    assert not (tmp_path / "data" / "edge.db").exists()


def test_a_database_with_a_damaged_page_is_refused_by_the_quick_check(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    _filled(path)
    data = bytearray(path.read_bytes())
    data[4096 * 3 + 8 : 4096 * 3 + 4096] = b"\xa5" * (4096 - 8)  # page 4's cells, its header kept
    path.write_bytes(bytes(data))
    with pytest.raises(DatabaseDamaged) as refused:
        Store(path)
    assert "quick_check" in str(refused.value) and "restore it from a backup" in str(refused.value)
