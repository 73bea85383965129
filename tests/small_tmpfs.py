"""A REAL small tmpfs for full-disk tests, and a filler that takes its last byte. Mounting needs root: as root
the test mounts it itself; elsewhere run pytest under `unshare -rm` (a user and mount namespace), or the test
skips with that reason."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_tmpfs(directory: Path, size_mb: float) -> Iterator[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root: run as root, or run pytest under `unshare -rm`")
    size_kb = int(size_mb * 1024)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(directory)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"a {size_mb} MB tmpfs cannot be mounted here ({mounted.stderr.strip()}); run as root")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def fill(path: Path) -> int:
    """Write zeros into `path` until the file system refuses another byte; returns the bytes written."""
    written = 0
    block = bytes(1 << 20)
    with open(path, "wb", buffering=0) as handle:
        while block:
            try:
                written += handle.write(block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                block = block[: len(block) // 2]
    return written
