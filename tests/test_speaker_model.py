"""The speaker encoder: Resemblyzer's voice encoder converted to ONNX by the project (no PyTorch), and the numpy
features it takes, give Resemblyzer's own embeddings (tests/data/resemblyzer_reference.json, made with PyTorch
by tests/make_speaker_reference.py); the checkpoint reader refuses anything but tensors."""

from __future__ import annotations

import itertools
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from edge.audio.files import decode_audio
from edge.commands.cli import main as cli_main
from edge.core.errors import ModelError
from edge.ops.dev_weights import DEFAULT_CACHE
from edge.ops.speaker_convert import _state
from edge.ops.torch_checkpoint import LEGACY_MAGIC, LEGACY_PROTOCOL, read_legacy_checkpoint
from edge.speaker.encoder import SpeakerEncoder, window_starts

REFERENCE = Path(__file__).parent / "data" / "resemblyzer_reference.json"


@pytest.fixture(scope="module")
def encoder(dev_model) -> SpeakerEncoder:
    return SpeakerEncoder(dev_model("speaker_resemblyzer.onnx"))


@pytest.fixture(scope="module")
def checkpoint() -> Path:
    path = DEFAULT_CACHE / "resemblyzer" / "pretrained.pt"
    if not path.is_file():
        from conftest import _missing

        _missing(f"{path} not found: `make setup` takes it out of the pinned Resemblyzer wheel")
    return path


def test_the_converted_encoder_gives_resemblyzers_own_embeddings(encoder, fixture_file):
    reference = json.loads(REFERENCE.read_text())["embeddings"]
    for clip, expected in reference.items():
        ours = encoder.embed(decode_audio(fixture_file(clip)))
        expected = np.array(expected, dtype=np.float32)
        assert ours.shape == (256,)
        assert float(ours @ expected) > 0.99999, clip
        assert np.abs(ours - expected).max() < 1e-5, clip


def test_convert_speaker_command_writes_a_model_that_embeds_alike(checkpoint, encoder, fixture_file, tmp_path, capsys):
    out = tmp_path / "speaker.onnx"
    assert cli_main(["models", "convert-speaker", str(checkpoint), "--out", str(out)]) == 0
    assert "speaker.enabled = true" in capsys.readouterr().out
    audio = decode_audio(fixture_file("audio/leopard/test_ko.wav"))
    np.testing.assert_allclose(SpeakerEncoder(out).embed(audio), encoder.embed(audio), atol=1e-6)


def test_voices_of_different_people_are_further_apart_than_one_voice(encoder, fixture_file):
    jfk = decode_audio(fixture_file("audio/jfk.wav"))
    korean = decode_audio(fixture_file("audio/leopard/test_ko.wav"))
    first_half, second_half = encoder.embed(jfk[: len(jfk) // 2]), encoder.embed(jfk[len(jfk) // 2 :])
    assert float(first_half @ second_half) > float(first_half @ encoder.embed(korean)) + 0.1


def test_any_length_of_speech_has_an_embedding(encoder):
    rng = np.random.default_rng(0)
    for samples in (1, 800, 16_000, 16_000 * 7 + 3):
        embedding = encoder.embed((rng.normal(0, 0.05, samples)).astype(np.float32))
        assert embedding.shape == (256,) and np.isfinite(embedding).all()
    assert np.isfinite(encoder.embed(np.zeros(16_000, dtype=np.float32))).all()


def test_windows_cover_the_speech_as_resemblyzer_cuts_it():
    assert window_starts(16_000) == [0]  # shorter than a window: one, padded
    starts = window_starts(16_000 * 11)
    assert starts[0] == 0 and all(b - a == 77 for a, b in itertools.pairwise(starts))
    assert (starts[-1] + 160) * 160 >= 16_000 * 11 * 0.75


def test_a_model_made_for_other_features_is_refused(fixture_file):
    with pytest.raises(ModelError, match="expects features"):
        SpeakerEncoder(fixture_file("models/silero_vad_v6.2.onnx"))
    with pytest.raises(ModelError, match=r"not found.*convert-speaker"):
        SpeakerEncoder(Path("no/such/speaker.onnx"))


def _legacy_file(path: Path, body: bytes) -> Path:
    items = (LEGACY_MAGIC, LEGACY_PROTOCOL, {"little_endian": True})
    header = b"".join(pickle.dumps(item, protocol=2) for item in items)
    path.write_bytes(header + body)
    return path


def test_the_checkpoint_reader_never_runs_what_a_file_asks_for(tmp_path):
    marker = tmp_path / "ran"
    command = f"touch {marker}".encode()
    # GLOBAL os.system, (command,), REDUCE: what a hostile "checkpoint" would hold.
    body = b"\x80\x02cos\nsystem\nX" + len(command).to_bytes(4, "little") + command + b"\x85R."
    with pytest.raises(ModelError, match=r"os\.system"):
        read_legacy_checkpoint(_legacy_file(tmp_path / "evil.pt", body))
    assert not marker.exists()


def test_damaged_checkpoints_are_named_not_crashed_on(tmp_path, checkpoint):
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(checkpoint.read_bytes()[:200_000])
    with pytest.raises(ModelError, match=r"truncated|not a readable"):
        read_legacy_checkpoint(truncated)
    (tmp_path / "zip.pt").write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(ModelError, match="not a legacy PyTorch checkpoint"):
        read_legacy_checkpoint(tmp_path / "zip.pt")
    with pytest.raises(ModelError, match="cannot read"):
        read_legacy_checkpoint(tmp_path / "missing.pt")


def test_the_real_checkpoint_reads_as_resemblyzers_state_dict(checkpoint):
    state = read_legacy_checkpoint(checkpoint)["model_state"]
    assert state["lstm.weight_ih_l0"].shape == (1024, 40)
    assert state["linear.weight"].dtype == np.float32
    wrong = dict(state, **{"lstm.weight_hh_l1": np.zeros((1024, 128), dtype=np.float32)})
    with pytest.raises(ModelError, match=r"lstm.weight_hh_l1 is shape \(1024, 128\)"):
        _state({"model_state": wrong}, checkpoint)
