"""`edge eval asr`: the box's pipeline scored on the fixture clips with references, beside faster-whisper."""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURES_DIR

from edge.commands.cli import main as cli_main
from edge.commands.eval_asr import load_clips


def test_clips_with_references_once_each(fixture_file):
    fixture_file("references.json")
    clips = load_clips(FIXTURES_DIR, {"ko", "en"})
    assert [(clip.path, clip.language, clip.unit) for clip in clips] == [
        ("audio/jfk.wav", "en", "WER"),  # jfk.mp3 and fw/jfk.flac are the same speech: counted once
        ("audio/leopard/diarization_test.wav", "en", "WER"),
        ("audio/leopard/test.wav", "en", "WER"),
        ("audio/leopard/test_ko.wav", "ko", "CER"),
    ]
    everything = {clip.path: clip.unit for clip in load_clips(FIXTURES_DIR, None)}
    assert everything["audio/leopard/test_ja.wav"] == "CER" and everything["audio/leopard/test_de.wav"] == "WER"
    assert "audio/leopard/empty.wav" not in everything  # no reference text to score


def test_bad_fixtures_folder_or_model_is_one_clear_line(tmp_path, fixture_file, capsys):
    assert cli_main(["eval", "asr", "--fixtures", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "references.json not found" in err and "--fixtures" in err and "Traceback" not in err
    fixture_file("references.json")
    code = cli_main(["eval", "asr", "--fixtures", str(FIXTURES_DIR), "--model", str(tmp_path / "none.bin")])
    assert code == 2 and "none.bin not found; run `make setup`" in capsys.readouterr().err


@pytest.mark.slow
def test_korean_clip_through_the_box_beside_faster_whisper(dev_model, dev_dependency, fixture_file, capsys):
    """The box's Korean CER is bounded and no worse than faster-whisper's on the same weights."""
    dev_dependency("faster_whisper")
    fixture_file("audio/leopard/test_ko.wav")
    argv = [
        "eval", "asr", "--json", "--languages", "ko", "--threads", "2", "--fixtures", str(FIXTURES_DIR),
        "--vad-model", str(fixture_file("models/silero_vad_v6.2.onnx")),
        "--model", str(dev_model("ggml-base.bin")), "--faster-whisper", str(dev_model("faster-whisper-base")),
    ]
    assert cli_main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    (row,) = report["clips"]
    assert row["clip"] == "audio/leopard/test_ko.wav" and row["unit"] == "CER" and row["length"] == 19
    assert "\ufffd" not in row["box"]["text"] and row["box"]["text"].startswith("그는")
    summary = report["summary"]["CER"]
    assert summary["box"] <= 0.25
    assert summary["box"] <= summary["faster_whisper"]
    assert report["settings"]["faster_whisper_beam_size"] == 5
