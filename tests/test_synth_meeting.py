"""`edge synth meeting`: the Korean + English composite that `make run` replays."""

from __future__ import annotations

from conftest import FIXTURES_DIR, PROJECT_ROOT

from edge.commands.cli import main as cli_main
from edge.core.config import load_config


def test_composite_is_reproducible_and_holds_every_clip(tmp_path, fixture_file, capsys):
    for clip in ("audio/leopard/test_ko.wav", "audio/jfk.wav", "audio/leopard/test.wav"):
        fixture_file(clip)
    first, second = tmp_path / "a.wav", tmp_path / "b.wav"
    assert cli_main(["synth", "meeting", "--fixtures", str(FIXTURES_DIR), "--out", str(first)]) == 0
    assert cli_main(["synth", "meeting", "--fixtures", str(FIXTURES_DIR), "--out", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    printed = capsys.readouterr().out
    assert "composite of 3 clips, 26.2 s" in printed


def test_missing_clip_is_one_clear_line(tmp_path, capsys):
    assert cli_main(["synth", "meeting", "--out", str(tmp_path / "x.wav"), str(tmp_path / "nope.wav")]) == 2
    err = capsys.readouterr().err
    assert "nope.wav not found" in err and "Traceback" not in err
    assert not (tmp_path / "x.wav").exists()


def test_dev_config_replays_the_composite_with_real_base_in_korean_and_english():
    cfg = load_config(PROJECT_ROOT / "config" / "dev.toml")
    assert cfg.audio.source.endswith("build/out/dev-meeting.wav")
    assert cfg.asr.model_path.name == "ggml-base.bin"
    assert cfg.asr.languages == ["ko", "en"]
