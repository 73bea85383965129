"""An imported transcript's cue count is bounded (issue 17, finding 9): every cue becomes a segment and an
MQTT message, so 100,000 cues would queue 100,000 messages ahead of the live meeting. The real API over a
real Store, and `edge import` with the bound from the configuration."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from edge.commands.cli import main
from edge.store import Store
from edge.transcripts.importing import MAX_IMPORT_CUES


def _srt(cues: int) -> bytes:
    lines = []
    for n in range(cues):
        seconds = n * 2
        start = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d},000"
        end = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d},900"
        lines.append(f"{n + 1}\n{start} --> {end}\n회의 {n}번째 발언\n")
    return "\n".join(lines).encode("utf-8")


def test_an_upload_with_more_cues_than_the_bound_is_refused_and_changes_nothing(client: httpx.Client) -> None:
    answer = client.post("/import", files={"file": ("긴 회의.srt", _srt(MAX_IMPORT_CUES + 1), "application/x-subrip")})
    assert answer.status_code == 400, answer.text
    detail = answer.json()["detail"]
    assert f"{MAX_IMPORT_CUES + 1} cues" in detail and f"at most {MAX_IMPORT_CUES}" in detail
    assert "meeting.max_import_cues" in detail and "split the file" in detail
    assert client.get("/meetings").json()["items"] == []


def test_an_upload_at_the_bound_is_imported(client: httpx.Client) -> None:
    answer = client.post("/import", files={"file": ("회의.srt", _srt(50), "application/x-subrip")})
    assert answer.status_code == 201, answer.text
    assert answer.json()["segments"] == 50


def test_edge_import_takes_the_bound_from_the_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EDGE_CONFIG", raising=False)
    config = tmp_path / "edge.toml"
    config.write_text('[storage]\npath = "data"\n[meeting]\nmax_import_cues = 10\n', encoding="utf-8")
    transcript = tmp_path / "board.srt"
    transcript.write_bytes(_srt(11))
    assert main(["import", str(transcript), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "board.srt has 11 cues; at most 10" in err and "Traceback" not in err
    transcript.write_bytes(_srt(10))
    assert main(["import", str(transcript), "--config", str(config)]) == 0
    store = Store(tmp_path / "data" / "edge.db")
    assert [m.status for m in store.meetings()] == ["imported"]
    store.close()
