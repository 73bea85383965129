"""Download model files named in the manifest: resumable, verified, and moved into place atomically.

A download goes to `<file>.part`; an interrupted one is resumed with an HTTP Range request. Only a
`.part` whose size and sha256 match the manifest is renamed to its final name, so a partial or
corrupted file is never where the box looks for models. Used by `edge models`, never at run time.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TextIO

from tqdm import tqdm

from edge.core.errors import ModelError
from edge.ops.model_manifest import ManifestFile, ManifestModel

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
USER_AGENT = "edge-models/1"
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class _LogLinesBar(tqdm):
    """tqdm for a log rather than a terminal: a whole line per tenth of the file, never a redrawn one."""

    _last_tenth = -1

    def display(self, msg: str | None = None, pos: int | None = None) -> None:
        if msg == "":
            return  # tqdm clearing its line on close (a falsy answer: no carriage return): a log keeps its lines
        tenth = min(10, int(self.n * 10 // max(self.total or 1, 1)))
        if tenth != self._last_tenth:
            self._last_tenth = tenth
            self.fp.write(str(self) + "\n")
            self.fp.flush()


def progress_bar(label: str, total: int, stream: TextIO | None = None) -> tqdm:
    """Download progress on `stream` (stderr): a redrawn bar on a terminal, a line per 10 % otherwise."""
    stream = sys.stderr if stream is None else stream
    if stream.isatty():
        return tqdm(total=total, desc=label, file=stream, unit="B", unit_scale=True, ascii=True)
    # Every update reaches display(), which writes only when a new tenth is reached.
    return _LogLinesBar(
        total=total, desc=label, file=stream, unit="B", unit_scale=True, ascii=True, mininterval=0, miniters=1,
        leave=False,
    )


def _show(bar: tqdm, done: int) -> None:
    """Move the bar to `done` bytes (it can go back when a server ignores the resume range)."""
    bar.update(done - bar.n)


@dataclass(frozen=True)
class FetchResult:
    path: Path
    downloaded: bool
    """False when a verified copy was already in place."""


def sha256_of(path: Path, chunk: int = CHUNK_BYTES) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_file(path: Path, expected: ManifestFile) -> str | None:
    """None when `path` has the manifest's size and sha256, else what is wrong with it."""
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if size != expected.size:
        return f"size {size} bytes, manifest says {expected.size}"
    if expected.sha256:
        actual = sha256_of(path)
        if actual != expected.sha256:
            return f"sha256 {actual}, manifest says {expected.sha256}"
    return None


def fetch_model(
    model: ManifestModel,
    dest_dir: Path,
    *,
    allow_unverified: bool = False,
    retries: int = 3,
    backoff_seconds: float = 2.0,
    timeout: float = 60.0,
    progress_stream: TextIO | None = None,
) -> list[FetchResult]:
    """Fetch every file of `model` into `dest_dir` (see `fetch_file`)."""
    return [
        fetch_file(
            file,
            dest_dir,
            allow_unverified=allow_unverified,
            retries=retries,
            backoff_seconds=backoff_seconds,
            timeout=timeout,
            progress_stream=progress_stream,
        )
        for file in model.files
    ]


def fetch_file(
    file: ManifestFile,
    dest_dir: Path,
    *,
    allow_unverified: bool = False,
    retries: int = 3,
    backoff_seconds: float = 2.0,
    timeout: float = 60.0,
    progress_stream: TextIO | None = None,
) -> FetchResult:
    """Download one file, resuming `<name>.part`, retrying `retries` times, verifying before the rename."""
    if not file.verified and not allow_unverified:
        raise ModelError(
            f"{file.filename}: the manifest has no sha256 for it, so a download could not be verified; "
            "add its sha256 to the manifest, or pass --allow-unverified to accept it unchecked"
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / file.filename
    if final.is_file() and check_file(final, file) is None:
        return FetchResult(final, downloaded=False)
    part = final.with_name(final.name + ".part")
    with progress_bar(file.filename, file.size, progress_stream) as bar:
        attempt = 0
        while True:
            try:
                digest = _download_into(part, file, bar, timeout)
                break
            except _Interrupted as exc:
                attempt += 1
                have = part.stat().st_size if part.exists() else 0
                if attempt > retries:
                    kept = (
                        f"the partial file {part} is kept: run the same command again to resume"
                        if have else "nothing was kept: check the network and run the same command again"
                    )
                    raise ModelError(
                        f"{file.filename}: download interrupted after {have} of {file.size} bytes ({exc}); {kept}"
                    ) from None
                log.warning(
                    "%s: %s; resuming from byte %d (attempt %d of %d)", file.filename, exc, have, attempt, retries
                )
                time.sleep(backoff_seconds * 2 ** (attempt - 1))
        _show(bar, file.size)
    if file.sha256 and digest != file.sha256:
        part.unlink(missing_ok=True)
        raise ModelError(
            f"{file.filename}: sha256 mismatch (downloaded {digest}, manifest says {file.sha256}); "
            "the corrupted download was deleted and nothing was installed; run the command again, "
            "and if it repeats, the server or the manifest is wrong"
        )
    _install(part, final)
    return FetchResult(final, downloaded=True)


class _Interrupted(Exception):
    """The transfer stopped early; the .part file is kept for a resume."""


def _download_into(part: Path, file: ManifestFile, bar: tqdm, timeout: float) -> str:
    """Bring `part` to the full size of `file` and return its sha256."""
    digest = hashlib.sha256()
    offset = part.stat().st_size if part.exists() else 0
    if offset > file.size:
        log.warning("%s is larger than the manifest's size; starting over", part)
        part.unlink()
        offset = 0
    if offset:
        with part.open("rb") as existing:
            while block := existing.read(CHUNK_BYTES):
                digest.update(block)
    if offset == file.size:
        return digest.hexdigest()
    request = urllib.request.Request(file.url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            # The server says our partial file is past its end: it is not a prefix of this file.
            part.unlink()
            raise _Interrupted("the server rejected the resume range; restarting from zero") from None
        if exc.code >= 500:
            raise _Interrupted(f"server error HTTP {exc.code}") from None
        raise ModelError(f"{file.filename}: {file.url} answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Interrupted(f"cannot connect: {reason}") from None
    with response:
        if offset and response.status == 206:
            _check_content_range(response.headers.get("Content-Range", ""), offset, file)
            mode = "ab"
        else:
            if offset:
                log.info("%s: the server ignored the resume range; downloading from the start", file.filename)
                digest = hashlib.sha256()
                offset = 0
            mode = "wb"
        with part.open(mode) as out:
            done = _copy(response, out, digest, offset, file, bar)
    if done < file.size:
        raise _Interrupted(f"connection closed at byte {done}")
    return digest.hexdigest()


def _check_content_range(header: str, offset: int, file: ManifestFile) -> None:
    match = _CONTENT_RANGE.fullmatch(header.strip())
    if match is None or int(match.group(1)) != offset:
        raise ModelError(f"{file.filename}: the server resumed at the wrong place (Content-Range {header!r})")
    if match.group(3) != "*" and int(match.group(3)) != file.size:
        raise ModelError(
            f"{file.filename}: the server's file is {match.group(3)} bytes, the manifest says {file.size}; "
            "the manifest or the URL is wrong"
        )


def _copy(
    response: http.client.HTTPResponse,
    out: IO[bytes],
    digest: hashlib._Hash,
    offset: int,
    file: ManifestFile,
    bar: tqdm,
) -> int:
    done = offset
    _show(bar, done)
    try:
        while block := response.read(CHUNK_BYTES):
            if done + len(block) > file.size:
                out.close()
                Path(out.name).unlink(missing_ok=True)
                raise ModelError(
                    f"{file.filename}: the server sent more than the manifest's {file.size} bytes; "
                    "the download was deleted; the manifest or the URL is wrong"
                )
            out.write(block)
            digest.update(block)
            done += len(block)
            _show(bar, done)
    except (http.client.IncompleteRead, ConnectionError, TimeoutError, OSError) as exc:
        out.flush()
        raise _Interrupted(f"connection lost at byte {done}: {exc.__class__.__name__}") from None
    out.flush()
    os.fsync(out.fileno())
    return done


def _install(part: Path, final: Path) -> None:
    os.replace(part, final)
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
