from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.core.config import Config, describe_fields, load_config
from edge.core.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_validate_and_every_field_is_described() -> None:
    cfg = load_config(None, environ={})
    assert cfg.asr.language == "ko"
    assert cfg.api.host == "127.0.0.1"
    rows = describe_fields()
    assert all(description for _, _, description in rows), [key for key, _, d in rows if not d]


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    cfg = load_config(
        write(tmp_path, '[asr]\nmodel_path = "m/w.bin"\n[audio]\nsource = "file:a.wav"\n'), environ={}
    )
    assert cfg.asr.model_path == tmp_path / "m/w.bin"
    assert cfg.audio.source == f"file:{tmp_path / 'a.wav'}"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[asr]\nthreads = 2\nlanguage = "en"\n')
    cfg = load_config(path, environ={"EDGE_ASR__THREADS": "6", "EDGE_AUDIO__SOURCE": "pyaudio:USB", "EDGE_X": "1"})
    assert cfg.asr.threads == 6
    assert cfg.asr.language == "en"
    assert cfg.audio.source == "pyaudio:USB"


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        ('[asr]\nlanguage = "Korean"\n', {}, "asr.language = 'Korean' (in "),
        ("[asr]\nthreads = 0\n", {}, "asr.threads = 0"),
        ("[asr]\nbeam = 5\n", {}, "asr.beam: unknown key"),
        ("[nonsense]\nx = 1\n", {}, "nonsense: unknown section"),
        ('[audio]\nsource = "mic"\n', {}, 'must be "pyaudio:<device name or index>" or "file:<path>"'),
        ("", {"EDGE_MQTT__PORT": "99999"}, "mqtt.port = '99999' (from $EDGE_MQTT__PORT)"),
        ("[asr\n", {}, "is not valid TOML"),
    ],
)
def test_bad_config_names_key_value_and_what_is_allowed(
    tmp_path: Path, text: str, environ: dict, expected: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text), environ=environ)
    assert expected in str(error.value)


def test_check_config_command_exit_codes(tmp_path: Path) -> None:
    good = write(tmp_path, '[device]\nid = "room-1"\n')
    ok = subprocess.run([sys.executable, "-m", "edge", "check-config", str(good)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "valid" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[device]\nid = "Room 1"\n')
    result = subprocess.run([sys.executable, "-m", "edge", "check-config", str(bad)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "device.id = 'Room 1'" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_asr_backend_names_the_known_ones() -> None:
    from edge.asr.backends import BACKENDS, model_factory

    assert Config().asr.backend in BACKENDS
    with pytest.raises(ConfigError, match=r"asr\.backend .faster-whisper. is unknown; use one of whispercpp"):
        model_factory(Config.model_validate({"asr": {"backend": "faster-whisper"}}).asr)
