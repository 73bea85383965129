"""`edge models convert`: Whisper checkpoints (CTranslate2, transformers) to whisper.cpp ggml files.

Format checks run on small random checkpoints written by tests/whisper_checkpoints.py; the real
checks run on Whisper base as `make setup` fetches and converts it, against faster-whisper on the
same CTranslate2 weights.
"""

from __future__ import annotations

import argparse
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from whisper_checkpoints import (
    N_HEAD,
    N_STATE,
    N_VOCAB,
    ct2_variables,
    random_weights,
    tokens,
    write_ct2_model,
    write_tokenizer_json,
    write_transformers_model,
)

from edge.commands import models as models_command
from edge.commands.cli import main as cli_main
from edge.core.errors import ModelError, UserError
from edge.ops.byte_bpe import byte_to_unicode, token_bytes
from edge.ops.mel import mel_filters
from edge.ops.whisper_convert import convert_whisper, expected_shapes, load_checkpoint, read_vocabulary
from edge.ops.whisper_ggml import (
    GGML_TYPE_F16,
    GGML_TYPE_F32,
    GGML_TYPE_Q8_0,
    quantize_q8_0,
    read_whisper_ggml,
    tensor_values,
)
from edge.text.error_rates import character_error_rate, normalised_words

STUB = "models/ggml-tiny-vocab-only-stub.bin"
REPLACEMENT = "\ufffd".encode()


@pytest.fixture(scope="module")
def weights() -> dict[str, np.ndarray]:
    return random_weights()


@pytest.fixture(scope="module")
def ct2_folder(tmp_path_factory, weights) -> Path:
    return write_ct2_model(tmp_path_factory.mktemp("ct2"), ct2_variables(weights))


# --- file format --------------------------------------------------------------------------------------


def test_ct2_conversion_round_trips_every_tensor_with_the_split_projections(ct2_folder, weights, tmp_path):
    out = tmp_path / "model.bin"
    convert_whisper(ct2_folder, out)
    model = read_whisper_ggml(out)
    hp = model.hparams
    assert (hp.n_vocab, hp.n_audio_state, hp.n_audio_head, hp.n_audio_layer) == (N_VOCAB, N_STATE, N_HEAD, 1)
    assert (hp.n_audio_ctx, hp.n_text_ctx, hp.n_text_head, hp.n_mels, model.file_type) == (1500, 448, N_HEAD, 80, 1)
    assert set(model.tensors) == set(expected_shapes(hp)) == set(weights)
    for name, values in weights.items():
        info = model.tensors[name]
        expected = values.reshape(-1, 1) if name.endswith(("conv1.bias", "conv2.bias")) else values
        assert info.shape == expected.shape, name
        # f16 in, f16 (matrices) or f32 out: both exact.
        np.testing.assert_array_equal(tensor_values(out, info), expected.astype(np.float32), err_msg=name)
        matrix = values.ndim >= 2 and "positional" not in name
        assert info.ggml_type == (GGML_TYPE_F16 if matrix else GGML_TYPE_F32), name
    assert "encoder.blocks.0.attn.key.bias" not in model.tensors
    np.testing.assert_array_equal(model.filters, mel_filters(80))
    assert model.vocabulary == [token_bytes(token) for token in tokens()]


@pytest.mark.parametrize(
    ("shards", "prefix"), [(1, "model."), (3, "model."), (1, "")], ids=["single", "sharded", "WhisperModel-names"]
)
def test_transformers_checkpoint_gives_the_same_file_as_ctranslate2(ct2_folder, weights, tmp_path, shards, prefix):
    from_ct2 = tmp_path / "ct2.bin"
    from_hf = tmp_path / "hf.bin"
    convert_whisper(ct2_folder, from_ct2)
    source = write_transformers_model(tmp_path / "hf", weights, shards=shards, prefix=prefix)
    checkpoint = convert_whisper(source, from_hf)
    assert checkpoint.format == "transformers"
    assert from_hf.read_bytes() == from_ct2.read_bytes()


def test_transformers_problems_are_reported(weights, tmp_path):
    folder = write_transformers_model(tmp_path / "hf", weights, shards=2)
    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(UserError, match="lists 1 missing shard"):
        load_checkpoint(folder)
    single = write_transformers_model(tmp_path / "single", weights)
    (single / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelError, match="model_type is 'bert', not 'whisper'"):
        load_checkpoint(single)
    (single / "config.json").unlink()
    with pytest.raises(UserError, match=r"config\.json is missing"):
        load_checkpoint(single)


def test_q8_0_file_quantises_matrices_and_keeps_the_rest(ct2_folder, weights, tmp_path):
    out = tmp_path / "q8.bin"
    convert_whisper(ct2_folder, out, file_type="q8_0")
    model = read_whisper_ggml(out)
    assert model.file_type == 7
    assert struct.unpack_from("<i", out.read_bytes(), 4 + 4 * 10)[0] == 2007  # quantisation version 2
    types = {name: info.ggml_type for name, info in model.tensors.items()}
    assert types["decoder.token_embedding.weight"] == types["encoder.blocks.0.mlp.0.weight"] == GGML_TYPE_Q8_0
    assert types["encoder.conv1.weight"] == GGML_TYPE_F16  # whisper.cpp keeps convolutions in f16
    assert types["encoder.positional_embedding"] == types["decoder.ln.weight"] == GGML_TYPE_F32
    matrix = weights["decoder.blocks.0.cross_attn.key.weight"].astype(np.float32)
    restored = tensor_values(out, model.tensors["decoder.blocks.0.cross_attn.key.weight"])
    assert np.abs(restored - matrix).max() <= np.abs(matrix).max() / 127


def test_q8_0_is_byte_for_byte_ggmls_reference_quantisation():
    from gguf import GGMLQuantizationType
    from gguf.quants import quantize

    rng = np.random.default_rng(3)
    values = rng.standard_normal((16, 256)).astype(np.float32)
    values[0, :32] = 0.0  # an all-zero block: scale 0
    values[1, :32] = np.arange(32, dtype=np.float32) - 15.5  # halves: rounded away from zero
    values[2, :32] = 1e-8
    ours = quantize_q8_0(values).tobytes()
    assert ours == quantize(values, GGMLQuantizationType.Q8_0).tobytes()
    with pytest.raises(ValueError, match="multiple of 32"):
        quantize_q8_0(np.ones((2, 48), dtype=np.float32))


def test_mel_filters_are_whispers_own(fixture_file):
    """whisper.cpp's files carry OpenAI's mel_filters.npz (librosa's Slaney filters); ours are computed."""
    reference = read_whisper_ggml(fixture_file(STUB), tensors=False).filters
    ours = mel_filters(80)
    assert ours.shape == reference.shape == (80, 201)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-8)
    # Slaney normalisation: each filter is a triangle of area ~2 / (bandwidth in Hz) over 50 Hz bins.
    assert (ours >= 0).all() and (ours.max(axis=1) > 0).all()
    assert mel_filters(128).shape == (128, 201)  # large-v3's bank


def test_int8_ctranslate2_weights_are_dequantised(weights, tmp_path):
    variables = ct2_variables(weights)
    name = "encoder/layer_0/ffn/linear_0/weight"
    matrix = variables[name].astype(np.float32)
    scale = 127.0 / np.abs(matrix).max(axis=1)
    variables[name] = np.round(matrix * scale[:, None]).astype(np.int8)
    variables[name.replace("weight", "weight_scale")] = scale.astype(np.float16)
    checkpoint = load_checkpoint(write_ct2_model(tmp_path / "int8", variables))
    restored = checkpoint.tensors["encoder.blocks.0.mlp.0.weight"]
    assert np.abs(restored - matrix).max() < 0.01 * np.abs(matrix).max()


def test_converted_model_loads_and_runs_in_whisper_cpp(ct2_folder, tmp_path, capsys):
    out = tmp_path / "converted.bin"
    args = argparse.Namespace(
        action="convert", source=ct2_folder, out=out, file_type="q8_0", tokenizer=None, no_verify=False, manifest=None
    )
    assert models_command.run(args) == 0  # verification loads and transcribes it in a subprocess
    printed = capsys.readouterr().out
    assert "q8_0 from CTranslate2" in printed and "verified" in printed


# --- vocabulary ---------------------------------------------------------------------------------------


def test_vocabulary_comes_from_the_tokenizer_in_id_order(tmp_path):
    vocabulary = read_vocabulary(write_tokenizer_json(tmp_path / "tokenizer.json"))
    assert len(vocabulary) == len(tokens())
    assert vocabulary[: 256] == [bytes([b]) for b in byte_to_unicode()]
    assert vocabulary[256] == "한".encode()


def test_real_tokenizer_gives_every_byte_and_no_replacement_characters(dev_model, fixture_file):
    """The vocab-only stub has byte tokens replaced by U+FFFD (Hangul spanning them is lost); the
    vocabulary read from Whisper base's own tokenizer.json has every byte, like OpenAI's."""
    vocabulary = read_vocabulary(dev_model("faster-whisper-base") / "tokenizer.json")
    assert len(vocabulary) == 50257
    assert {bytes([b]) for b in range(256)} <= set(vocabulary)
    # Four GPT-2 tokens spell the replacement character itself ("�", " �", "��", ".�"): nothing else has it.
    assert [token for token in vocabulary if REPLACEMENT in token] == [
        b"\xef\xbf\xbd", b" \xef\xbf\xbd", b"\xef\xbf\xbd\xef\xbf\xbd", b".\xef\xbf\xbd"
    ]
    stub = read_whisper_ggml(fixture_file(STUB), tensors=False).vocabulary
    assert sum(REPLACEMENT in token for token in stub) > 1000
    assert all(ours == theirs for ours, theirs in zip(vocabulary, stub, strict=True) if REPLACEMENT not in theirs)
    converted = read_whisper_ggml(dev_model("ggml-base.bin"), tensors=False)
    assert converted.vocabulary == vocabulary


# --- bad input ----------------------------------------------------------------------------------------


def _convert_cli(capsys, *argv: str) -> tuple[int, str]:
    code = cli_main(["models", "convert", *argv])
    return code, capsys.readouterr().err


def test_missing_or_unknown_source_is_one_clear_line(tmp_path, capsys):
    out = tmp_path / "out.bin"
    code, err = _convert_cli(capsys, str(tmp_path / "nowhere"), "--out", str(out), "--no-verify")
    assert code == 2 and "does not exist" in err and "Traceback" not in err
    (tmp_path / "empty").mkdir()
    code, err = _convert_cli(capsys, str(tmp_path / "empty"), "--out", str(out), "--no-verify")
    assert code == 2 and "neither model.bin" in err and "model.safetensors" in err
    assert not out.exists()


def test_ctranslate2_parse_errors_name_the_problem(ct2_folder, weights, tmp_path):
    broken = tmp_path / "truncated"
    broken.mkdir()
    (broken / "model.bin").write_bytes((ct2_folder / "model.bin").read_bytes()[:5000])
    (broken / "tokenizer.json").write_bytes((ct2_folder / "tokenizer.json").read_bytes())
    with pytest.raises(ModelError, match="truncated or not a CTranslate2"):
        load_checkpoint(broken)

    (broken / "model.bin").write_bytes(b"\x63\x00\x00\x00" + b"\0" * 64)
    with pytest.raises(ModelError, match="binary version 99"):
        load_checkpoint(broken)
    (broken / "model.bin").write_bytes(b"lmgg" + b"\0" * 64)
    with pytest.raises(UserError, match=r"already a whisper\.cpp ggml model"):
        load_checkpoint(broken)
    (broken / "model.bin").write_bytes(b"PK\x03\x04" + b"\0" * 64)
    with pytest.raises(UserError, match="PyTorch checkpoint, not CTranslate2; save the model as safetensors"):
        load_checkpoint(broken)

    other = write_ct2_model(tmp_path / "other", {"x": np.zeros(2, np.float16)}, spec="TransformerSpec")
    with pytest.raises(ModelError, match="CTranslate2 TransformerSpec model, not Whisper"):
        load_checkpoint(other)

    variables = ct2_variables(weights)
    del variables["decoder/layer_0/ffn/linear_1/weight"]
    with pytest.raises(ModelError, match="lacks the variable decoder/layer_0/ffn/linear_1/weight"):
        load_checkpoint(write_ct2_model(tmp_path / "incomplete", variables))

    variables = ct2_variables(weights)
    variables["encoder/layer_0/self_attention/linear_0/bias"][N_STATE] = 1.0
    with pytest.raises(ModelError, match="key bias"):
        load_checkpoint(write_ct2_model(tmp_path / "keybias", variables))


def test_tokenizer_problems_are_reported(ct2_folder, tmp_path):
    folder = tmp_path / "no-tokenizer"
    folder.mkdir()
    (folder / "model.bin").write_bytes((ct2_folder / "model.bin").read_bytes())
    with pytest.raises(UserError, match=r"no tokenizer\.json or vocab\.json"):
        load_checkpoint(folder)
    (folder / "tokenizer.json").write_text(json.dumps({"model": {"type": "BPE", "vocab": {"a": 0}}}))
    with pytest.raises(ModelError, match="no <\\|endoftext\\|> token"):
        load_checkpoint(folder)
    (folder / "tokenizer.json").write_text(json.dumps({"a": 0, "<|endoftext|>": 2}))
    with pytest.raises(ModelError, match="token id 1 is missing"):
        load_checkpoint(folder)
    (folder / "tokenizer.json").write_text("{not json")
    with pytest.raises(ModelError, match="not a readable JSON tokenizer"):
        load_checkpoint(folder)
    (folder / "tokenizer.json").write_text(json.dumps({"a": 0, "<|endoftext|>": 1}))
    with pytest.raises(ModelError, match="has 50257; use the tokenizer that belongs to this model"):
        load_checkpoint(folder)


def test_a_directory_as_output_is_refused(ct2_folder, tmp_path):
    with pytest.raises(UserError, match="is a directory"):
        convert_whisper(ct2_folder, tmp_path)


# --- real weights ---------------------------------------------------------------------------------------

JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
KOREAN_REFERENCE = "그는 이리저리 피하면서 길 한 옆으로 걸어갔다."


@pytest.fixture(scope="module")
def whisper_base(dev_model):
    from edge.asr.whispercpp import WhisperCppModel

    # 4 threads: "Americans, ask" and "Americans ask" are a near tie that ggml's summation order
    # (which follows the thread count) decides; with 4 it is the reference's comma.
    with WhisperCppModel(dev_model("ggml-base.bin").absolute(), threads=4, language="auto") as model:
        yield model


@pytest.fixture(scope="module")
def faster_whisper_base(dev_model, dev_dependency):
    faster_whisper = dev_dependency("faster_whisper")
    return faster_whisper.WhisperModel(
        str(dev_model("faster-whisper-base")), device="cpu", compute_type="float32", cpu_threads=2
    )


def _whisper_cpp_text(model, path: Path) -> tuple[str, str]:
    from edge.audio.files import decode_audio

    segments = model.transcribe(decode_audio(path), offset_ms=0)
    return " ".join(segment.text for segment in segments), segments[0].language


def _faster_whisper_text(model, path: Path) -> tuple[str, str]:
    segments, info = model.transcribe(str(path), beam_size=1, temperature=0.0, condition_on_previous_text=False)
    return " ".join(segment.text.strip() for segment in segments), info.language


@pytest.mark.slow
def test_jfk_gives_the_exact_words(whisper_base, fixture_file):
    text, language = _whisper_cpp_text(whisper_base, fixture_file("audio/jfk.wav"))
    assert (text, language) == (JFK, "en")


@pytest.mark.slow
def test_english_words_equal_faster_whisper_on_the_same_weights(whisper_base, faster_whisper_base, fixture_file):
    for clip in ("audio/jfk.wav", "audio/leopard/test.wav"):
        ours, language = _whisper_cpp_text(whisper_base, fixture_file(clip))
        theirs, their_language = _faster_whisper_text(faster_whisper_base, fixture_file(clip))
        # Words, not commas: a comma can be a near tie decided by floating-point summation order.
        assert normalised_words(ours) == normalised_words(theirs), clip
        assert language == their_language == "en"


@pytest.mark.slow
def test_korean_equals_faster_whisper_with_no_syllable_lost(whisper_base, faster_whisper_base, fixture_file):
    clip = fixture_file("audio/leopard/test_ko.wav")
    ours, language = _whisper_cpp_text(whisper_base, clip)
    theirs, their_language = _faster_whisper_text(faster_whisper_base, clip)
    assert language == their_language == "ko"
    assert ours == theirs  # base hears "이리저리" as "1위절이": "그는 1위절이 피하면서 길 한 옆으로 걸어갔다."
    assert "\ufffd" not in ours
    assert character_error_rate(KOREAN_REFERENCE, ours) <= 0.25


@pytest.mark.slow
def test_q8_0_conversion_of_real_base_keeps_the_words(dev_model, fixture_file, tmp_path):
    from edge.asr.whispercpp import WhisperCppModel

    out = tmp_path / "ggml-base-q8_0.bin"
    convert_whisper(dev_model("faster-whisper-base"), out, file_type="q8_0")
    assert out.stat().st_size < 0.6 * dev_model("ggml-base.bin").stat().st_size
    with WhisperCppModel(out, threads=2, language="auto") as model:
        english, _ = _whisper_cpp_text(model, fixture_file("audio/jfk.wav"))
        korean, language = _whisper_cpp_text(model, fixture_file("audio/leopard/test_ko.wav"))
    assert normalised_words(english) == normalised_words(JFK)
    assert language == "ko" and "\ufffd" not in korean
    assert character_error_rate(KOREAN_REFERENCE, korean) <= 0.25
