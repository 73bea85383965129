"""Memory budget: refusals with reasons, the profile defaults, the formulas against real files and logs."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import gguf
import pytest

from edge.commands import models as models_command
from edge.core.config import Config
from edge.core.errors import ConfigError
from edge.ops.device_profiles import GIB, MIB, PROFILES, detect_profile, parse_l4t_release, resolve_profile
from edge.ops.memory_budget import (
    WHISPER_ARCHS,
    check_fits,
    estimate,
    llm_compute_bytes,
    llm_kv_bytes,
    read_gguf_arch,
    read_gguf_metadata,
    read_whisper_header,
    whisper_compute_bytes,
    whisper_kv_bytes,
)
from edge.ops.model_manifest import load_manifest

NANO = PROFILES["orin-nano-8gb"]


def _cfg(asr: str, llm: str | None, **llm_extra: object) -> Config:
    section: dict[str, object] = {"n_gpu_layers": -1, **llm_extra}
    if llm is not None:
        section["model_path"] = f"/var/lib/edge/models/{llm}"
    return Config.model_validate({"asr": {"model_path": f"/var/lib/edge/models/{asr}"}, "llm": section})


def test_large_v3_and_qwen_7b_are_refused_on_the_orin_nano_with_the_reason():
    cfg = _cfg("ggml-large-v3.bin", "qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf")
    with pytest.raises(ConfigError) as caught:
        check_fits(cfg, profile=NANO)
    message = str(caught.value)
    assert "does not fit in orin-nano-8gb" in message
    assert "whisper large-v3 f16" in message and "qwen2.5-7b-instruct-q4_k_m" in message
    assert "change asr.model_path to ggml-small-q5_1.bin" in message
    assert "change llm.model_path to qwen2.5-1.5b-instruct-q4_k_m.gguf" in message
    assert "\n" not in message  # a user error is one line


def test_the_nano_default_pair_is_accepted_and_printable():
    cfg = _cfg("ggml-small-q5_1.bin", "qwen2.5-1.5b-instruct-q4_k_m.gguf")
    report = check_fits(cfg, profile=NANO)
    text = report.format()
    print(text)
    assert report.fits and report.free > report.required_headroom
    assert "orin-nano-8gb" in text and "-> fits" in text
    assert re.search(r"asr.model_path +whisper small q5_1: weights 181 MiB", text)
    assert re.search(r"llm.model_path +qwen2.5-1.5b-instruct-q4_k_m \(n_ctx 4096\): weights 1066 MiB", text)
    assert "KV cache 112 MiB" in text


def test_qwen_3b_also_fits_the_nano_but_is_flagged_non_commercial():
    report = check_fits(_cfg("ggml-small-q5_1.bin", "qwen2.5-3b-instruct-q4_k_m.gguf"), profile=NANO)
    assert report.fits
    assert any("not for commercial use" in note for note in report.notes)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_default_pair_fits_with_headroom(name):
    profile = PROFILES[name]
    manifest = load_manifest()
    asr, llm = manifest.get(profile.default_asr), manifest.get(profile.default_llm)
    assert asr.kind == "asr" and llm.kind == "llm" and llm.commercial_use
    report = check_fits(
        _cfg(asr.primary.filename, llm.primary.filename, n_ctx=profile.default_n_ctx), profile=profile
    )
    assert report.free >= report.required_headroom


def test_a_long_context_is_refused_and_the_fix_named():
    with pytest.raises(ConfigError, match=r"lower llm.n_ctx to 4096"):
        cfg = _cfg("ggml-small-q5_1.bin", "qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf", n_ctx=32768)
        check_fits(cfg, profile=NANO)


def test_kv_cache_follows_the_architecture_and_context():
    arch = load_manifest().get("qwen2.5-7b-instruct-q4_k_m").llm_arch
    assert arch is not None
    # 28 layers x 4 KV heads x 128 x (K and V) x f16 = 56 KiB per token.
    assert llm_kv_bytes(arch, 4096) == 224 * MIB
    assert llm_kv_bytes(arch, 8192) == 2 * llm_kv_bytes(arch, 4096)


def test_cpu_only_llm_on_a_jetson_is_noted():
    report = estimate(_cfg("ggml-small-q5_1.bin", "qwen2.5-1.5b-instruct-q4_k_m.gguf", n_gpu_layers=0), profile=NANO)
    assert any("n_gpu_layers = 0" in note for note in report.notes)


def test_a_missing_unknown_model_is_a_config_error_naming_the_key(tmp_path):
    cfg = _cfg("ggml-small-q5_1.bin", None)
    cfg.asr.model_path = tmp_path / "my-own-model.bin"
    with pytest.raises(ConfigError, match=r"asr.model_path = .*my-own-model.bin: not in the models manifest"):
        estimate(cfg, profile=NANO)


def test_a_whisper_file_outside_the_manifest_is_read_from_its_header(fixture_file):
    stub = fixture_file("models/ggml-tiny-vocab-only-stub.bin")
    assert read_whisper_header(stub) == WHISPER_ARCHS["tiny"]
    cfg = _cfg("ggml-small-q5_1.bin", None)
    cfg.asr.model_path = stub
    report = estimate(cfg, profile=NANO)
    assert report.models[0].weights == stub.stat().st_size
    assert report.models[0].kv_cache == whisper_kv_bytes(WHISPER_ARCHS["tiny"])


def test_whisper_formulas_match_what_whisper_cpp_allocates(fixture_file):
    """Load the tiny stub with the real pywhispercpp; its state log gives the buffer sizes."""
    stub = fixture_file("models/ggml-tiny-vocab-only-stub.bin")
    script = "import sys; from pywhispercpp.model import Model; Model(sys.argv[1])"
    log = subprocess.run(
        [sys.executable, "-c", script, str(stub)], capture_output=True, text=True, timeout=120, check=True
    ).stderr
    sizes = {
        name.strip(): float(value) * 1e6
        for name, value in re.findall(r"whisper_init_state: ([a-z() ]+?) size\s*=\s*([\d.]+) MB", log)
    }
    buffers = {
        name: float(value) * 1e6 for name, value in re.findall(r"compute buffer \((\w+)\)\s*=\s*([\d.]+) MB", log)
    }
    assert {"kv self", "kv cross", "kv pad"} <= sizes.keys(), log
    assert {"conv", "encode", "cross", "decode"} <= buffers.keys(), log
    tiny = WHISPER_ARCHS["tiny"]
    assert whisper_kv_bytes(tiny) == pytest.approx(sizes["kv self"] + sizes["kv cross"] + sizes["kv pad"], rel=0.01)
    assert whisper_compute_bytes(tiny) == pytest.approx(sum(buffers.values()), rel=0.03)


def test_gguf_metadata_reader_agrees_with_the_gguf_package(fixture_file):
    path = fixture_file("models/stories260K.gguf")
    reader = gguf.GGUFReader(str(path))
    arch = read_gguf_arch(path)
    field = reader.fields["llama.block_count"]
    assert arch.n_layer == int(field.parts[field.data[0]][0])
    tokens = reader.fields["tokenizer.ggml.tokens"]
    assert arch.n_vocab == len(tokens.data)
    assert read_gguf_metadata(path, ["general.architecture"]) == {"general.architecture": "llama"}


def test_a_gguf_outside_the_manifest_is_sized_from_its_metadata(tmp_path):
    import numpy as np

    path = tmp_path / "custom-qwen.gguf"
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_block_count(28)
    writer.add_head_count(12)
    writer.add_head_count_kv(2)
    writer.add_embedding_length(1536)
    writer.add_context_length(32768)
    writer.add_token_list([f"t{i}" for i in range(1000)])
    writer.add_tensor("token_embd.weight", np.zeros((1000, 16), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    cfg = _cfg("ggml-small-q5_1.bin", None)
    cfg.llm.model_path = path
    llm = estimate(cfg, profile=NANO).models[1]
    assert llm.weights == path.stat().st_size
    assert llm.kv_cache == 4096 * 28 * 2 * 128 * 4


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "cannot mmap an empty file"), (b"GGML" + bytes(60), "GGUF magic invalid"), (None, "out of bounds")],
)
def test_a_broken_gguf_outside_the_manifest_is_a_config_error_naming_the_key(fixture_file, tmp_path, content, reason):
    path = tmp_path / "broken.gguf"
    # None: a download cut off inside the metadata of a real GGUF.
    path.write_bytes(fixture_file("models/stories260K.gguf").read_bytes()[:300] if content is None else content)
    cfg = _cfg("ggml-small-q5_1.bin", None)
    cfg.llm.model_path = path
    with pytest.raises(ConfigError, match=rf"llm.model_path = .*broken.gguf is not a readable GGUF file \(.*{reason}"):
        estimate(cfg, profile=NANO)


def test_models_budget_command_prints_or_refuses(tmp_path, capsys):
    config = tmp_path / "edge.toml"
    config.write_text(
        '[device]\nprofile = "orin-nano-8gb"\n[asr]\nmodel_path = "/m/ggml-large-v3.bin"\n'
        '[llm]\nmodel_path = "/m/qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf"\nn_gpu_layers = -1\n',
        encoding="utf-8",
    )
    parser = argparse.ArgumentParser()
    models_command.add_arguments(parser)
    with pytest.raises(ConfigError, match="does not fit"):
        models_command.run(parser.parse_args(["budget", "--config", str(config)]))
    assert models_command.run(parser.parse_args(["budget", "--config", str(config), "--profile", "agx-orin-64gb"])) == 0
    assert "-> fits" in capsys.readouterr().out


# --- device detection --------------------------------------------------------------------------------


def _board(root: Path, model: str, mem_kb: int, release: str = "# R36 (release), REVISION: 4.3, GCID: 1") -> Path:
    (root / "proc" / "device-tree").mkdir(parents=True)
    (root / "proc" / "device-tree" / "model").write_bytes(model.encode() + b"\x00")
    (root / "proc" / "meminfo").write_text(f"MemTotal:       {mem_kb} kB\nMemFree: 1 kB\n")
    (root / "etc").mkdir()
    (root / "etc" / "nv_tegra_release").write_text(release + ", BOARD: generic, EABI: aarch64, DATE: x\n")
    return root


@pytest.mark.parametrize(
    ("model", "mem_kb", "expected"),
    [
        ("NVIDIA Jetson Orin Nano Developer Kit", 7_650_336, "orin-nano-8gb"),
        ("NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super", 7_650_336, "orin-nano-8gb"),
        ("NVIDIA Jetson Orin NX Engineering Reference Developer Kit", 15_662_000, "orin-nx-16gb"),
        ("NVIDIA Jetson AGX Orin Developer Kit", 31_000_000, "agx-orin-32gb"),
        ("NVIDIA Jetson AGX Orin Developer Kit", 63_000_000, "agx-orin-64gb"),
        ("NVIDIA Jetson Orin Nano Developer Kit", 3_500_000, "generic"),
    ],
)
def test_detect_profile_from_the_device_tree(tmp_path, model, mem_kb, expected):
    profile = detect_profile(_board(tmp_path, model, mem_kb))
    assert profile.name == expected
    assert profile.memory_bytes == mem_kb * 1024


def test_auto_off_a_jetson_is_generic_with_this_machines_memory(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "meminfo").write_text("MemTotal:       16384000 kB\n")
    profile = resolve_profile("auto", tmp_path)
    assert profile.name == "generic" and not profile.gpu and profile.memory_bytes == 16_384_000 * 1024


def test_l4t_release_and_jetpack():
    release = parse_l4t_release("# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64")
    assert release is not None and release.version == "36.4.3" and release.jetpack == "6.2" and release.supported
    old = parse_l4t_release("# R35 (release), REVISION: 5.0, GCID: 1")
    assert old is not None and old.jetpack == "5.1.x" and not old.supported
    assert parse_l4t_release("garbage") is None


def test_nano_profile_memory_is_below_eight_gib():
    assert 7 * GIB < NANO.memory_bytes < 8 * GIB


def test_llm_formulas_match_what_llama_cpp_allocates(fixture_file):
    """Load the stories260K fixture with the real llama-cpp-python; its log gives KV and compute sizes."""
    pytest.importorskip("llama_cpp")
    path = fixture_file("models/stories260K.gguf")
    script = (
        "import sys, llama_cpp\n"
        "llama_cpp.Llama(model_path=sys.argv[1], n_ctx=1024, n_gpu_layers=0, verbose=True).close()\n"
    )
    log = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120, check=True
    ).stderr
    kv = re.search(r"llama_kv_cache: +CPU KV buffer size = +([\d.]+) MiB", log)
    compute = re.search(r"CPU compute buffer size = +([\d.]+) MiB", log)
    assert kv and compute, log[-2000:]
    arch = read_gguf_arch(path)
    assert llm_kv_bytes(arch, 1024) / MIB == pytest.approx(float(kv.group(1)), abs=0.01)
    assert llm_compute_bytes(arch, 1024) / MIB == pytest.approx(float(compute.group(1)), rel=0.15)
