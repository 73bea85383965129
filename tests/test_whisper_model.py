"""Random-weight whisper.cpp models of the real tiny and base shapes, built from the vocab-only
stub: exact file layout, reproducibility, loading in pywhispercpp (in a subprocess, since a bad
file can abort the process) and the `edge synth whisper` command."""

from __future__ import annotations

import argparse
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from edge.commands import synth as synth_command
from edge.core.errors import ModelError, UserError
from edge.ops.synth.whisper_model import HPARAM_NAMES, verify_whisper_model, write_random_whisper_model

STUB = "models/ggml-tiny-vocab-only-stub.bin"


def read_model(path: Path) -> tuple[dict[str, int], int, dict[str, tuple[tuple[int, ...], int, int]]]:
    """(hparams, end of the vocabulary, {name: (ggml dims, type, data offset)}); the records must end at EOF."""
    data = path.read_bytes()
    assert struct.unpack_from("<I", data, 0)[0] == 0x67676D6C
    hparams = dict(zip(HPARAM_NAMES, struct.unpack_from("<11i", data, 4), strict=True))
    offset = 48
    n_mel, n_fft = struct.unpack_from("<2i", data, offset)
    offset += 8 + 4 * n_mel * n_fft
    (n_words,) = struct.unpack_from("<i", data, offset)
    offset += 4
    for _ in range(n_words):
        offset += 4 + struct.unpack_from("<i", data, offset)[0]
    vocab_end = offset
    tensors = {}
    while offset < len(data):
        n_dims, name_len, ttype = struct.unpack_from("<3i", data, offset)
        offset += 12
        dims = struct.unpack_from(f"<{n_dims}i", data, offset)
        offset += 4 * n_dims
        name = data[offset : offset + name_len].decode()
        offset += name_len
        tensors[name] = (dims, ttype, offset)
        offset += int(np.prod(dims)) * (2 if ttype == 1 else 4)
    assert offset == len(data), "tensor records must end exactly at the end of the file"
    return hparams, vocab_end, tensors


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tiny_has_every_tensor_of_the_real_shape_with_the_stubs_vocabulary(random_whisper_tiny, fixture_file):
    hparams, vocab_end, tensors = read_model(random_whisper_tiny)
    stub_hparams, stub_end, stub_tensors = read_model(fixture_file(STUB))
    assert stub_tensors == {}
    assert hparams == stub_hparams  # the stub already has tiny's hparams
    assert random_whisper_tiny.read_bytes()[48:vocab_end] == fixture_file(STUB).read_bytes()[48:stub_end]
    assert len(tensors) == 167
    assert 77_000_000 < random_whisper_tiny.stat().st_size < 78_500_000
    assert tensors["encoder.conv1.weight"][:2] == ((3, 80, 384), 1)
    assert tensors["encoder.conv1.bias"][:2] == ((1, 384), 0)
    assert tensors["encoder.positional_embedding"][:2] == ((384, 1500), 0)
    assert tensors["decoder.positional_embedding"][:2] == ((384, 448), 0)
    assert tensors["decoder.token_embedding.weight"][:2] == ((384, 51865), 1)
    assert tensors["decoder.blocks.3.cross_attn.out.weight"][:2] == ((384, 384), 1)
    assert tensors["encoder.blocks.0.mlp.0.weight"][:2] == ((384, 1536), 1)
    for name, (dims, ttype, _) in tensors.items():
        assert ".key.bias" not in name
        matrix = len(dims) >= 2 and "positional" not in name and "conv1.bias" not in name and "conv2.bias" not in name
        assert ttype == (1 if matrix else 0), name
    for i in range(4):
        assert f"encoder.blocks.{i}.attn.key.weight" in tensors
        assert f"decoder.blocks.{i}.cross_attn.key.weight" in tensors


def test_weights_are_finite_and_sensibly_scaled(random_whisper_tiny):
    _, _, tensors = read_model(random_whisper_tiny)
    data = random_whisper_tiny.read_bytes()
    for name in ("decoder.token_embedding.weight", "encoder.blocks.2.mlp.2.weight", "encoder.conv2.weight"):
        dims, _, offset = tensors[name]
        values = np.frombuffer(data, dtype=np.float16, count=int(np.prod(dims)), offset=offset).astype(np.float32)
        assert np.isfinite(values).all()
        fan_in = dims[0] * (dims[1] if name.startswith("encoder.conv") else 1)
        assert values.std() == pytest.approx(fan_in**-0.5, rel=0.05), name
    dims, _, offset = tensors["decoder.ln.weight"]
    assert (np.frombuffer(data, dtype=np.float32, count=dims[0], offset=offset) == 1.0).all()


def test_the_same_seed_gives_the_same_bytes(random_whisper_tiny, fixture_file, tmp_path):
    again = write_random_whisper_model(fixture_file(STUB), tmp_path / "again.bin", "tiny", seed=0)
    assert sha256(again) == sha256(random_whisper_tiny)
    other = write_random_whisper_model(fixture_file(STUB), tmp_path / "other.bin", "tiny", seed=1)
    assert other.stat().st_size == again.stat().st_size and sha256(other) != sha256(again)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.bin", "other.bin"]  # no temporary left


def test_base_shape_loads_and_transcribes_in_pywhispercpp(fixture_file, tmp_path):
    path = write_random_whisper_model(fixture_file(STUB), tmp_path / "nested" / "base.bin", "base", seed=7)
    hparams, _, tensors = read_model(path)
    assert (hparams["n_audio_state"], hparams["n_audio_head"], hparams["n_audio_layer"]) == (512, 8, 6)
    assert (hparams["n_text_state"], hparams["n_text_head"], hparams["n_text_layer"]) == (512, 8, 6)
    assert len(tensors) == 245
    assert 147_000_000 < path.stat().st_size < 149_000_000
    verify_whisper_model(path)


def test_verify_reports_a_model_that_aborts_whisper_cpp(random_whisper_tiny, tmp_path):
    # All-f32 weights with ftype 0 load cleanly, then a ggml assertion aborts the first transcribe.
    _, vocab_end, tensors = read_model(random_whisper_tiny)
    data = random_whisper_tiny.read_bytes()
    broken = tmp_path / "all-f32.bin"
    with open(broken, "wb") as f:
        f.write(data[:44] + struct.pack("<i", 0) + data[48:vocab_end])
        for name, (dims, ttype, offset) in tensors.items():
            count = int(np.prod(dims))
            values = np.frombuffer(data, dtype=np.float16 if ttype == 1 else np.float32, count=count, offset=offset)
            f.write(struct.pack("<3i", len(dims), len(name), 0) + struct.pack(f"<{len(dims)}i", *dims) + name.encode())
            f.write(values.astype("<f4").tobytes())
    with pytest.raises(ModelError, match=r"crashed \(SIGABRT\)"):
        verify_whisper_model(broken)


def test_verify_reports_load_failures_and_empty_models(random_whisper_tiny, fixture_file, tmp_path):
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(random_whisper_tiny.read_bytes()[:30_000_000])
    with pytest.raises(ModelError, match="not all tensors loaded"):
        verify_whisper_model(truncated)
    with pytest.raises(ModelError, match="no weights"):
        verify_whisper_model(fixture_file(STUB))
    verify_whisper_model(fixture_file(STUB), allow_empty=True)


def test_a_bad_stub_or_shape_is_a_clear_error_and_writes_nothing(fixture_file, tmp_path):
    out = tmp_path / "model.bin"
    with pytest.raises(ModelError, match="--stub"):
        write_random_whisper_model(tmp_path / "missing.bin", out)
    not_ggml = tmp_path / "not-ggml.bin"
    not_ggml.write_bytes(b"\x00" * 1000)
    with pytest.raises(ModelError, match=r"not a whisper\.cpp ggml file"):
        write_random_whisper_model(not_ggml, out)
    truncated = tmp_path / "truncated-stub.bin"
    truncated.write_bytes(fixture_file(STUB).read_bytes()[:100_000])
    with pytest.raises(ModelError, match="truncated"):
        write_random_whisper_model(truncated, out)
    with pytest.raises(UserError, match="unknown whisper shape"):
        write_random_whisper_model(fixture_file(STUB), out, shape="large")
    with pytest.raises(UserError, match="is a directory"):
        write_random_whisper_model(fixture_file(STUB), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-ggml.bin", "truncated-stub.bin"]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="edge synth")
    synth_command.add_arguments(parser)
    return parser.parse_args(argv)


def test_synth_whisper_command_writes_and_verifies(fixture_file, tmp_path, capsys):
    out = tmp_path / "tiny-seed3.bin"
    args = parse(["whisper", "--shape", "tiny", "--out", str(out), "--stub", str(fixture_file(STUB)), "--seed", "3"])
    assert synth_command.run(args) == 0
    printed = capsys.readouterr().out
    assert "random-weight whisper tiny" in printed and "seed 3" in printed and "verified" in printed
    assert len(read_model(out)[2]) == 167

    with pytest.raises(ModelError, match="--stub"):
        synth_command.run(parse(["whisper", "--out", str(tmp_path / "x.bin"), "--stub", str(tmp_path / "nope")]))
    with pytest.raises(SystemExit):
        parse(["whisper", "--shape", "large", "--out", str(out)])
