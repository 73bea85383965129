"""Shared test fixtures. Real data comes from ../shared/fixtures (beside the project root):
in CI (CI=true) a missing fixture fails the test; elsewhere it skips with the reason."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = Path(os.environ.get("EDGE_FIXTURES_DIR", PROJECT_ROOT.parent / "shared" / "fixtures"))


def _expected_sums() -> dict[str, str]:
    sums_file = FIXTURES_DIR / "SHA256SUMS"
    sums: dict[str, str] = {}
    if sums_file.is_file():
        for line in sums_file.read_text().splitlines():
            digest, _, name = line.strip().partition("  ")
            sums[name.removeprefix("./")] = digest
    return sums


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"fixture missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def fixture_file() -> Callable[[str], Path]:
    """`fixture_file("audio/jfk.wav")` -> verified path to a file in ../shared/fixtures."""
    sums = _expected_sums()
    verified: dict[str, Path] = {}

    def get(relative: str) -> Path:
        if relative in verified:
            return verified[relative]
        path = FIXTURES_DIR / relative
        if not path.is_file():
            _missing(f"{path} not found (the shared fixtures must sit beside the project as ../shared/fixtures)")
        expected = sums.get(relative)
        if expected is None:
            _missing(f"{relative} is not listed in {FIXTURES_DIR / 'SHA256SUMS'}")
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != expected:
            pytest.fail(f"{path} does not match its SHA256SUMS entry (got {actual})", pytrace=False)
        verified[relative] = path
        return path

    return get


@pytest.fixture(scope="session")
def qwen2_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Qwen2-architecture GGUF (ChatML template, byte-level vocabulary),
    generated once per session: real llama.cpp chat-template and grammar paths, noise output."""
    from edge.synth.qwen_gguf import write_random_qwen2_gguf

    return write_random_qwen2_gguf(tmp_path_factory.mktemp("qwen2") / "qwen2-random.gguf")


@pytest.fixture(scope="session")
def random_whisper_tiny(tmp_path_factory: pytest.TempPathFactory, fixture_file: Callable[[str], Path]) -> Path:
    """A whisper.cpp model of the real tiny shape with random weights (real compute cost, nonsense
    text), generated once per session and checked in a subprocess so a bad file cannot crash pytest.
    Decoding on random weights runs to the token cap: use temperature_inc=0 and a small max_tokens."""
    from edge.synth.whisper_model import verify_whisper_model, write_random_whisper_model

    stub = fixture_file("models/ggml-tiny-vocab-only-stub.bin")
    path = write_random_whisper_model(stub, tmp_path_factory.mktemp("whisper") / "ggml-tiny-random.bin")
    verify_whisper_model(path)
    return path
