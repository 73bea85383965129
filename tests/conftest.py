"""Shared test fixtures. Real data comes from ../shared/fixtures (beside the project root):
in CI (CI=true) a missing fixture fails the test; elsewhere it skips with the reason."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = Path(os.environ.get("EDGE_FIXTURES_DIR", PROJECT_ROOT.parent / "shared" / "fixtures"))
DEV_MODELS_DIR = Path(os.environ.get("EDGE_DEV_MODELS_DIR", PROJECT_ROOT / "build" / "models"))


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
def dev_model() -> Callable[[str], Path]:
    """`dev_model("ggml-base.bin")` -> a real model that `make setup` fetched and converted into
    build/models (`edge models dev-weights`); missing: fails in CI, skips elsewhere."""

    def get(name: str) -> Path:
        path = DEV_MODELS_DIR / name
        if not path.exists():
            _missing(f"{path} not found: real development models come from `make setup` (edge models dev-weights)")
        return path

    return get


@pytest.fixture(scope="session")
def charting_library() -> Path:
    """The admin page's charting library as `make setup` installed it (make web); missing: fails in CI,
    skips elsewhere."""
    from edge.api.app import UPLOT_DIR

    path = UPLOT_DIR / "uPlot.iife.min.js"
    if not path.is_file():
        _missing(f"{path} not found: the admin page's charting library comes from `make setup` (make web)")
    return path


@pytest.fixture(scope="session")
def korean_corpus() -> list[str]:
    """Real Korean sentences: LibreOffice's Korean help (Debian's libreoffice-help-ko, MPL-2.0, from
    `make setup`); missing: fails in CI, skips elsewhere."""
    from edge.commands.eval_corpus import HELP_ROOT, korean_sentences

    if not HELP_ROOT.is_dir():
        _missing(f"{HELP_ROOT} not found: the Korean corpus comes from `make setup` (Debian's libreoffice-help-ko)")
    return korean_sentences(HELP_ROOT)


@pytest.fixture(scope="session")
def dev_dependency() -> Callable[[str], object]:
    """`dev_dependency("faster_whisper")` -> the module of an optional dev dependency (pyproject's dev
    extra); not installed: fails in CI, skips elsewhere."""
    import importlib

    def get(module: str) -> object:
        try:
            return importlib.import_module(module)
        except ImportError:
            _missing(f"{module} is not installed (it is in the dev extra: pip install -e '.[dev]')")

    return get


@pytest.fixture(scope="session")
def qwen2_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Qwen2-architecture GGUF (ChatML template, byte-level vocabulary),
    generated once per session: real llama.cpp chat-template and grammar paths, noise output."""
    from edge.ops.synth.qwen_gguf import write_random_qwen2_gguf

    return write_random_qwen2_gguf(tmp_path_factory.mktemp("qwen2") / "qwen2-random.gguf")


@pytest.fixture(scope="session")
def random_whisper_tiny(tmp_path_factory: pytest.TempPathFactory, fixture_file: Callable[[str], Path]) -> Path:
    """A whisper.cpp model of the real tiny shape with random weights (real compute cost, nonsense
    text), generated once per session and checked in a subprocess so a bad file cannot crash pytest.
    Decoding on random weights runs to the token cap: use temperature_inc=0 and a small max_tokens."""
    from edge.ops.synth.whisper_model import verify_whisper_model, write_random_whisper_model

    stub = fixture_file("models/ggml-tiny-vocab-only-stub.bin")
    path = write_random_whisper_model(stub, tmp_path_factory.mktemp("whisper") / "ggml-tiny-random.bin")
    verify_whisper_model(path)
    return path


CHROMIUM = Path(os.environ.get("EDGE_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("EDGE_CHROMEDRIVER", "/usr/bin/chromedriver"))


@pytest.fixture
def chromium_flags() -> list[str]:
    """Command-line flags a test module adds to the `driver`'s Chromium (override this fixture)."""
    return []


@pytest.fixture
def driver(tmp_path: Path, chromium_flags: list[str]) -> Iterator[object]:
    """Headless Chromium from the system packages (EDGE_CHROMIUM / EDGE_CHROMEDRIVER override the paths),
    with the driver given explicitly so selenium never downloads one. Missing: fails in CI, skips elsewhere."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        _missing(f"headless browser test needs {' and '.join(missing)} (Debian: chromium, chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--lang=ko-KR",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        *chromium_flags,
    ):
        options.add_argument(flag)
    # A Korean person's browser (--lang alone does not reach navigator.languages in headless mode).
    options.add_experimental_option("prefs", {"intl.accept_languages": "ko-KR,ko"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[object]:
    """A real mosquitto on a free loopback port, persisting to a tmp dir (see tests/mosquitto.py)."""
    from mosquitto import Broker

    broker = Broker(tmp_path / "broker")
    broker.start()
    yield broker
    broker.close()


@pytest.fixture
def box_process(tmp_path: Path, fixture_file: Callable[[str], Path], random_whisper_tiny: Path):
    """Factory of `edge run` subprocesses (tests/box_process.py); each is killed at teardown."""
    from box_process import BoxProcess

    started: list[BoxProcess] = []

    def make(*, device: str, mqtt_port: int | None = None, extra: str = "", mqtt_settings: str = "") -> BoxProcess:
        box = BoxProcess(
            tmp_path, device=device, vad_model=fixture_file("models/silero_vad_v6.2.onnx"),
            whisper=random_whisper_tiny, mqtt_port=mqtt_port, extra=extra, mqtt_settings=mqtt_settings,
        )
        started.append(box)
        return box

    yield make
    for box in started:
        box.kill()


@pytest.fixture
def box(tmp_path: Path) -> Iterator[object]:
    """An in-memory BoxControl over a real Store (tests/fake_box.py), for API tests."""
    from fake_box import FakeBox

    fake = FakeBox(tmp_path)
    yield fake
    fake.close()


@pytest.fixture
def server(box) -> Iterator[object]:
    """The real API app served by uvicorn on a loopback port, driving `box`."""
    from fake_box import API_TOKEN, serving

    with serving(box, API_TOKEN) as running:
        yield running


@pytest.fixture
def client(server) -> Iterator[object]:
    """An httpx client for /api/v1 with the bearer token."""
    import httpx
    from fake_box import AUTH

    with httpx.Client(base_url=server.url + "/api/v1", headers=AUTH, timeout=10) as http:
        yield http
