"""Each meeting's audio on disk as it arrives (16-bit PCM WAV, 16 kHz mono), before ASR.

Crash-safe: the WAV header's sizes are rewritten after every `flush_seconds` of audio, so a
process killed at any moment leaves a file that plays up to the last flush; `repair_archive`
recovers everything that reached the disk. Capture gaps are written as silence, so a position
in the file is a position in meeting time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import struct
import time
from pathlib import Path
from typing import BinaryIO

import numpy as np

from edge.core.errors import AudioInputError
from edge.core.events import SAMPLE_RATE, AudioFrame, CaptureGap, ms_to_samples, samples_to_ms

log = logging.getLogger(__name__)

BYTES_PER_SAMPLE = 2
HEADER_BYTES = 44
MAX_DATA_BYTES = 0xFFFFFFFF - HEADER_BYTES  # the WAV size fields are 32-bit: about 37 hours here
MEETING_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
SILENCE_BLOCK = SAMPLE_RATE  # write long gaps one second at a time
PRIVATE_FILE_MODE = 0o600


def _header(data_bytes: int) -> bytes:
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        HEADER_BYTES - 8 + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        1,  # mono
        SAMPLE_RATE,
        SAMPLE_RATE * BYTES_PER_SAMPLE,
        BYTES_PER_SAMPLE,
        8 * BYTES_PER_SAMPLE,
        b"data",
        data_bytes,
    )


def archive_path(directory: Path, meeting_id: str) -> Path:
    if not MEETING_ID.fullmatch(meeting_id):
        raise ValueError(f"meeting id {meeting_id!r} is not a safe file name (letters, digits, . _ -)")
    return Path(directory) / f"{meeting_id}.wav"


class MeetingAudioArchive:
    """Appends a meeting's audio to `<directory>/<meeting_id>.wav`; reopening resumes the file.

    `write()` takes capture items: a frame that starts later than the archive's end (frames were
    dropped upstream) and every CaptureGap are filled with silence.
    """

    def __init__(self, directory: Path, meeting_id: str, *, flush_seconds: float = 1.0, fsync: bool = True) -> None:
        self.path = archive_path(directory, meeting_id)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.flush_samples = max(1, int(flush_seconds * SAMPLE_RATE))
        self.fsync = fsync
        self.refused_samples = 0
        if self.path.exists() and self.path.stat().st_size > 0:
            self.samples = repair_archive(self.path)
            self.path.chmod(PRIVATE_FILE_MODE)  # an archive written before this rule
            self._file: BinaryIO | None = open(self.path, "r+b")  # noqa: SIM115 - held open until close()
            self._file.seek(0, os.SEEK_END)
        else:
            self.samples = 0
            # What was said in a meeting: readable by the service user only, like the database.
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
            self._file = os.fdopen(descriptor, "w+b")
            self._file.write(_header(0))
            self._sync()
        self._flushed = self.samples

    @property
    def position_ms(self) -> int:
        return samples_to_ms(self.samples)

    def write(self, item: AudioFrame | CaptureGap) -> None:
        if isinstance(item, CaptureGap):
            self.write_silence(ms_to_samples(item.duration_ms))
            return
        missing = ms_to_samples(item.start_ms) - self.samples
        if missing >= SAMPLE_RATE // 1000:
            self.write_silence(missing)
        self.write_samples(item.samples)

    def write_samples(self, samples: np.ndarray) -> None:
        """Append float32 audio in [-1, 1]."""
        pcm = np.round(np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767).astype("<i2")
        self._append(pcm.tobytes())

    def write_silence(self, n_samples: int) -> None:
        while n_samples > 0:
            block = min(n_samples, SILENCE_BLOCK)
            self._append(bytes(block * BYTES_PER_SAMPLE))
            n_samples -= block

    def flush(self) -> None:
        """Make everything written so far readable from the file, header included."""
        if self._file is None:
            return
        self._file.flush()
        self._file.seek(0)
        self._file.write(_header(self.samples * BYTES_PER_SAMPLE))
        self._file.seek(0, os.SEEK_END)
        self._sync()
        self._flushed = self.samples

    def close(self) -> None:
        if self._file is None:
            return
        self.flush()
        self._file.close()
        self._file = None

    def abandon(self) -> None:
        """Close the file without writing more (after a failed write): reopening repairs what reached the disk."""
        if self._file is None:
            return
        # The buffered rest may not be written either; the descriptor is closed all the same.
        with contextlib.suppress(OSError):
            self._file.close()
        self._file = None

    def __enter__(self) -> MeetingAudioArchive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _append(self, data: bytes) -> None:
        if self._file is None:
            raise ValueError(f"archive {self.path} is closed")
        room = MAX_DATA_BYTES - self.samples * BYTES_PER_SAMPLE
        if len(data) > room:
            if self.refused_samples == 0:
                log.error("archive %s reached the WAV size limit; later audio is not archived", self.path)
            self.refused_samples += (len(data) - max(room, 0)) // BYTES_PER_SAMPLE
            data = data[: max(room, 0)]
        self._file.write(data)
        self.samples += len(data) // BYTES_PER_SAMPLE
        if self.samples - self._flushed >= self.flush_samples:
            self.flush()

    def _sync(self) -> None:
        assert self._file is not None
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())


def _data_chunk(header: bytes, path: Path) -> tuple[int, int]:
    """(offset of the sample data, bytes per sample frame) of a RIFF/WAVE file's head."""
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        raise AudioInputError(f"archive {path} is not a WAV file; it cannot be repaired, move it aside")
    block_align = BYTES_PER_SAMPLE
    offset = 12
    while offset + 8 <= len(header):
        chunk_id, size = struct.unpack_from("<4sI", header, offset)
        if chunk_id == b"data":
            return offset + 8, block_align
        if chunk_id == b"fmt " and offset + 8 + 14 <= len(header):
            block_align = max(1, struct.unpack_from("<H", header, offset + 8 + 12)[0])
        offset += 8 + size + (size & 1)
    raise AudioInputError(f"archive {path} has no audio data chunk; it cannot be repaired, move it aside")


def repair_archive(path: Path) -> int:
    """Make the header of an interrupted WAV match the samples on disk; return the sample count.

    A half-written last sample is cut off. A file that is already consistent is left untouched.
    """
    path = Path(path)
    with open(path, "r+b") as handle:
        header = handle.read(4096)
        data_offset, block_align = _data_chunk(header, path)
        size = os.fstat(handle.fileno()).st_size
        data_bytes = min(max(0, size - data_offset), MAX_DATA_BYTES)
        data_bytes -= data_bytes % block_align
        riff_size = data_offset + data_bytes - 8
        current = struct.unpack_from("<I", header, 4)[0], struct.unpack_from("<I", header, data_offset - 4)[0]
        if size != data_offset + data_bytes:
            handle.truncate(data_offset + data_bytes)
        if current != (riff_size, data_bytes):
            handle.seek(4)
            handle.write(struct.pack("<I", riff_size))
            handle.seek(data_offset - 4)
            handle.write(struct.pack("<I", data_bytes))
            handle.flush()
            os.fsync(handle.fileno())
            log.warning("repaired archive %s: %d bytes of audio", path, data_bytes)
    return data_bytes // block_align


def recover_archives(directory: Path) -> list[Path]:
    """Repair every archive in `directory` (after a crash); returns those that could not be."""
    broken = []
    for path in sorted(Path(directory).glob("*.wav")):
        try:
            repair_archive(path)
        except (AudioInputError, OSError) as exc:
            log.error("%s", exc)
            broken.append(path)
    return broken


def prune_archives(directory: Path, retention_days: int, now: float | None = None) -> list[Path]:
    """Delete archives last written more than `retention_days` ago (0 keeps everything)."""
    directory = Path(directory)
    if retention_days <= 0 or not directory.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - retention_days * 86_400
    deleted = []
    for path in sorted(directory.glob("*.wav")):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                deleted.append(path)
        except FileNotFoundError:
            continue
    return deleted
