"""`edge eval speakers` on the real fixtures with the real speaker encoder: diarization error rate and
speaker count (the figures of issue 11; `--mode box` with Whisper is for `make bench` and the note)."""

from __future__ import annotations

import json

from edge.commands.cli import main as cli_main


def test_diarization_of_the_fixtures_and_a_composite_meeting(dev_model, fixture_file, capsys):
    fixtures = fixture_file("audio/leopard/diarization_test.wav").parents[2]
    fixture_file("audio/fw/stereo_diarization.wav")
    model = dev_model("speaker_resemblyzer.onnx")
    code = cli_main(["eval", "speakers", "--fixtures", str(fixtures), "--model", str(model), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    leopard = next(row for row in report["cases"] if row["case"].startswith("leopard"))
    assert leopard["refined"]["hypothesis_speakers"] == leopard["refined"]["reference_speakers"] == 3
    assert leopard["refined"]["der"] <= 0.05
    composite = next(row for row in report["cases"] if row["composite"])
    assert composite["refined"]["hypothesis_speakers"] == composite["refined"]["reference_speakers"] == 5
    assert composite["refined"]["der"] <= 0.20
    assert composite["refined"]["der"] <= composite["online"]["der"]
    stereo = next(row for row in report["cases"] if row["case"].startswith("faster-whisper"))
    assert stereo["refined"]["reference_speakers"] == 2  # overlapping voices: scored, not asserted
    assert len(report["cases"]) == 3


def test_a_missing_speaker_model_is_named_with_the_fix(tmp_path, capsys):
    assert cli_main(["eval", "speakers", "--model", str(tmp_path / "none.onnx")]) == 2
    error = capsys.readouterr().err
    assert "none.onnx not found" in error and "convert-speaker" in error and "Traceback" not in error
