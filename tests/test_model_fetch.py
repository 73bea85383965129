"""`edge models fetch|verify|list` against a real HTTP server on loopback, and the real manifest.

The server speaks HTTP/1.1 with Range support and can be told to cut the connection part-way or to
serve corrupted bytes, so the real download code is exercised: progress, resume, rejection.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import io
import random
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from edge.commands import models as models_command
from edge.core.errors import ModelError
from edge.ops.model_fetch import fetch_file
from edge.ops.model_manifest import ManifestFile, load_manifest

PAYLOAD = random.Random(7).randbytes(3 * 1024 * 1024 + 123)
SHA = hashlib.sha256(PAYLOAD).hexdigest()


@dataclass
class Behaviour:
    data: bytes = PAYLOAD
    cut_after: int | None = None
    """Close the connection after this many bytes of the file (once)."""
    corrupt_at: int | None = None
    honour_range: bool = True
    ranges: list[str | None] = field(default_factory=list)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        behaviour: Behaviour = self.server.behaviour  # type: ignore[attr-defined]
        data = bytearray(behaviour.data)
        if behaviour.corrupt_at is not None:
            data[behaviour.corrupt_at] ^= 0xFF
        header = self.headers.get("Range")
        behaviour.ranges.append(header)
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", header or "")
        if match and behaviour.honour_range:
            start = int(match.group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        end = len(data)
        if behaviour.cut_after is not None and behaviour.cut_after > start:
            end = behaviour.cut_after
            behaviour.cut_after = None
            self.close_connection = True
        self.wfile.write(bytes(data[start:end]))
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, Behaviour]]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.behaviour = Behaviour()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/model.bin", httpd.behaviour  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()


def _manifest(tmp_path: Path, url: str, *, sha256: str = SHA, size: int = len(PAYLOAD)) -> Path:
    path = tmp_path / "manifest.toml"
    path.write_text(
        f"""
[[model]]
name = "test-model"
kind = "vad"
runtime = "onnxruntime"
license = "MIT"
[[model.file]]
filename = "model.bin"
url = "{url}"
sha256 = "{sha256}"
size = {size}
""",
        encoding="utf-8",
    )
    return path


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="edge models")
    models_command.add_arguments(parser)
    return models_command.run(parser.parse_args(list(argv)))


def test_fetch_downloads_verifies_and_shows_progress(server, tmp_path, capsys):
    url, behaviour = server
    dest = tmp_path / "models"
    assert _cli("--manifest", str(_manifest(tmp_path, url)), "fetch", "test-model", "--dest", str(dest)) == 0
    out, err = capsys.readouterr()
    assert (dest / "model.bin").read_bytes() == PAYLOAD
    assert not (dest / "model.bin.part").exists()
    assert "model.bin:" in err and "100%" in err, err
    assert "downloaded and verified" in out
    # Already there and verified: nothing is downloaded again.
    assert _cli("--manifest", str(_manifest(tmp_path, url)), "fetch", "test-model", "--dest", str(dest)) == 0
    assert "already installed and verified" in capsys.readouterr().out
    assert behaviour.ranges == [None]


def test_progress_in_a_log_is_a_line_per_tenth_never_a_redrawn_one(server, tmp_path):
    url, _ = server
    log_file = io.StringIO()  # not a terminal, like the journal under systemd
    fetch_file(ManifestFile("model.bin", url, SHA, len(PAYLOAD)), tmp_path, progress_stream=log_file)
    text = log_file.getvalue()
    assert "\r" not in text and text.endswith("\n"), repr(text)
    lines = text.splitlines()
    assert 2 <= len(lines) <= 11, lines
    assert all(line.startswith("model.bin:") for line in lines), lines
    assert lines[0].startswith("model.bin:   0%") and lines[-1].startswith("model.bin: 100%"), lines


def test_interrupted_download_is_kept_as_part_and_resumed(server, tmp_path):
    url, behaviour = server
    behaviour.cut_after = 1_000_000
    file = ManifestFile("model.bin", url, SHA, len(PAYLOAD))
    with pytest.raises(ModelError, match=r"interrupted after 1000000 of .*run the same command again to resume"):
        fetch_file(file, tmp_path, retries=0, backoff_seconds=0)
    assert not (tmp_path / "model.bin").exists(), "a partial download must never be in place"
    assert (tmp_path / "model.bin.part").stat().st_size == 1_000_000

    result = fetch_file(file, tmp_path, retries=0, backoff_seconds=0)
    assert result.downloaded and result.path.read_bytes() == PAYLOAD
    assert behaviour.ranges == [None, "bytes=1000000-"]
    assert not (tmp_path / "model.bin.part").exists()


def test_retries_resume_within_one_fetch(server, tmp_path):
    url, behaviour = server
    behaviour.cut_after = 2_000_000
    result = fetch_file(ManifestFile("model.bin", url, SHA, len(PAYLOAD)), tmp_path, retries=2, backoff_seconds=0)
    assert result.path.read_bytes() == PAYLOAD
    assert behaviour.ranges == [None, "bytes=2000000-"]


def test_corrupted_download_is_deleted_and_not_installed(server, tmp_path):
    url, behaviour = server
    behaviour.corrupt_at = 1234
    with pytest.raises(ModelError, match=r"sha256 mismatch.*corrupted download was deleted"):
        fetch_file(ManifestFile("model.bin", url, SHA, len(PAYLOAD)), tmp_path, retries=0)
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_partial_file_is_not_trusted(server, tmp_path):
    url, behaviour = server
    (tmp_path / "model.bin.part").write_bytes(b"\0" * 4096)  # left by some other, broken download
    with pytest.raises(ModelError, match="sha256 mismatch"):
        fetch_file(ManifestFile("model.bin", url, SHA, len(PAYLOAD)), tmp_path, retries=0)
    assert behaviour.ranges == ["bytes=4096-"]
    assert list(tmp_path.iterdir()) == []
    # The next attempt starts from zero and succeeds.
    assert fetch_file(ManifestFile("model.bin", url, SHA, len(PAYLOAD)), tmp_path).path.read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    url, behaviour = server
    behaviour.honour_range = False
    (tmp_path / "model.bin.part").write_bytes(PAYLOAD[:5000])
    result = fetch_file(ManifestFile("model.bin", url, SHA, len(PAYLOAD)), tmp_path, retries=0)
    assert result.path.read_bytes() == PAYLOAD


def test_more_bytes_than_the_manifest_size_is_rejected(server, tmp_path):
    url, _ = server
    with pytest.raises(ModelError, match="more than the manifest"):
        fetch_file(ManifestFile("model.bin", url, SHA, len(PAYLOAD) - 10), tmp_path, retries=0)
    assert list(tmp_path.iterdir()) == []


def test_an_entry_without_sha256_is_refused_unless_allowed(server, tmp_path, capsys):
    url, _ = server
    manifest = _manifest(tmp_path, url, sha256="")
    with pytest.raises(ModelError, match=r"no sha256.*--allow-unverified"):
        _cli("--manifest", str(manifest), "fetch", "test-model", "--dest", str(tmp_path / "m"))
    assert not (tmp_path / "m" / "model.bin").exists()
    dest = str(tmp_path / "m")
    assert _cli("--manifest", str(manifest), "fetch", "test-model", "--dest", dest, "--allow-unverified") == 0


def test_verify_reports_a_tampered_file(server, tmp_path, capsys):
    url, _ = server
    manifest = str(_manifest(tmp_path, url))
    dest = tmp_path / "models"
    _cli("--manifest", manifest, "fetch", "test-model", "--dest", str(dest))
    capsys.readouterr()
    assert _cli("--manifest", manifest, "verify", "--dest", str(dest)) == 0
    assert "OK        test-model: model.bin" in capsys.readouterr().out
    data = bytearray(PAYLOAD)
    data[-1] ^= 1
    (dest / "model.bin").write_bytes(bytes(data))
    assert _cli("--manifest", manifest, "verify", "test-model", "--dest", str(dest)) == 1
    out, err = capsys.readouterr()
    assert "MISMATCH  test-model: model.bin: sha256" in out and "must not use them" in err


def test_list_shows_installed_partial_and_missing(server, tmp_path, capsys):
    url, _ = server
    manifest = str(_manifest(tmp_path, url))
    dest = tmp_path / "models"
    dest.mkdir()
    (dest / "model.bin.part").write_bytes(b"x")
    assert _cli("--manifest", manifest, "list", "--dest", str(dest)) == 0
    assert re.search(r"test-model .* partial", capsys.readouterr().out)


def test_unknown_name_suggests_close_names(tmp_path):
    with pytest.raises(ModelError, match="did you mean whisper-small"):
        load_manifest().get("small")


# --- the real manifest -----------------------------------------------------------------------------


def test_real_manifest_is_complete_and_pinned():
    manifest = load_manifest()
    kinds = {model.kind for model in manifest}
    assert kinds == {"asr", "llm", "vad"}
    for model in manifest:
        assert model.license, model.name
        for file in model.files:
            assert re.fullmatch(r"[0-9a-f]{64}", file.sha256), f"{model.name} has no sha256"
            assert file.size > 100_000, model.name
            # Pinned to a commit or tag, never a moving branch.
            assert "/resolve/main/" not in file.url and "/raw/master/" not in file.url, file.url
    names = set(manifest.names())
    for size in ("tiny", "base", "small", "medium", "large-v3-turbo"):
        assert f"whisper-{size}" in names
    for params in ("0.5b", "1.5b", "3b", "7b"):
        assert f"qwen2.5-{params}-instruct-q4_k_m" in names
    assert {"whisper-small-q5_1", "whisper-large-v3-turbo-q5_0", "whisper-large-v3-turbo-q8_0"} <= names
    assert not manifest.get("qwen2.5-3b-instruct-q4_k_m").commercial_use


@pytest.mark.parametrize(
    ("name", "fixture"),
    [("silero-vad", "models/silero_vad_v6.2.onnx"), ("silero-vad-ggml", "models/ggml-silero-v6.2.0.bin")],
)
def test_manifest_silero_entries_match_the_real_files(fixture_file, name, fixture):
    path = fixture_file(fixture)
    entry = load_manifest().get(name).primary
    assert entry.size == path.stat().st_size
    assert entry.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
