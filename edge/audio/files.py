"""Audio files in, float32 mono 16 kHz out.

WAV/FLAC/OGG and friends are read with soundfile (libsndfile); other containers (MP3 where
libsndfile lacks it, M4A, Opus in WebM, ...) go through an `ffmpeg` subprocess. Reading is
streamed block by block with soxr's stream resampler, so a two-hour recording is never held
in memory twice. Every problem becomes one `AudioInputError` line naming the file and the fix.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from edge.audio.sniff import FFMPEG_DEMUXERS, describe, sniff
from edge.core.errors import AudioInputError
from edge.core.events import SAMPLE_RATE

# Containers libsndfile owns: when it cannot read one of these, the file is broken, and handing it
# to ffmpeg's lenient decoding could turn garbage into noise instead of reporting it.
SOUNDFILE_ONLY_CONTAINERS = frozenset({"wav", "flac", "ogg", "aiff", "caf", "au", "w64"})
# Bounds checked before decoding: a header is whatever its sender wrote, and a WAV claiming 1 Hz
# would be resampled into hours of audio (16,000 output samples per input sample).
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 768_000
MAX_CHANNELS = 32
READ_FRAMES = 16_384
FFMPEG_READ_BYTES = 4 * 16_384
FIX_HINT = "pass a WAV/FLAC/MP3/OGG recording, or re-encode it with `ffmpeg -i IN -ac 1 -ar 16000 OUT.wav`"


@dataclass(frozen=True)
class AudioFileInfo:
    path: Path
    reader: str  # "soundfile" or "ffmpeg"
    sample_rate: int | None
    channels: int | None
    frames: int | None  # None when only decoding can tell (ffmpeg)
    container: str = "wav"  # edge.audio.sniff's name for what the file's bytes are
    declared_duration_s: float | None = None  # what ffprobe read from the container, for ffmpeg files

    @property
    def duration_s(self) -> float | None:
        if self.frames is None or not self.sample_rate:
            return self.declared_duration_s
        return self.frames / self.sample_rate


def _reason(text: str) -> str:
    """The last non-empty line of a library's message, without the file name it repeats."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = lines[-1] if lines else "unknown error"
    return re.sub(r"^(Error opening '.*?': |\S+: )", "", line).rstrip(".")


def probe_audio(path: Path, *, max_duration_s: float | None = None) -> AudioFileInfo:
    """Check that `path` is a readable, non-empty audio file within the bounds (sample rate, channels,
    and `max_duration_s` when given), from its headers, before anything is decoded; raise
    AudioInputError otherwise. Its content decides what it is, never its name."""
    path = Path(path)
    if not path.exists():
        raise AudioInputError(f"audio file {path} does not exist; check the path")
    if not path.is_file():
        raise AudioInputError(f"audio path {path} is not a file; pass a WAV/FLAC/MP3/OGG file")
    if path.stat().st_size == 0:
        raise AudioInputError(f"audio file {path} is empty (0 bytes); record or copy it again")
    kind, head = sniff(path)
    if kind is None:
        raise AudioInputError(
            f"audio file {path} is corrupt or not audio: its content is {describe(head)}, whatever its name says; "
            f"{FIX_HINT}"
        )
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        if kind in SOUNDFILE_ONLY_CONTAINERS:
            raise AudioInputError(
                f"audio file {path} is corrupt or not audio ({_reason(str(exc))}); {FIX_HINT}"
            ) from None
        if shutil.which("ffmpeg") is None:
            raise AudioInputError(
                f"audio file {path} cannot be read ({_reason(str(exc))}) and ffmpeg is not installed; "
                f"install ffmpeg or convert it to WAV"
            ) from None
        probed = _ffprobe(path, kind)
        _check_bounds(path, probed.sample_rate, probed.channels, probed.duration_s, max_duration_s)
        return probed
    if info.frames <= 0 or info.samplerate <= 0 or info.channels <= 0:
        raise AudioInputError(f"audio file {path} holds no samples; record or copy it again")
    _check_bounds(path, info.samplerate, info.channels, info.frames / info.samplerate, max_duration_s)
    return AudioFileInfo(path, "soundfile", int(info.samplerate), int(info.channels), int(info.frames), kind)


def _check_bounds(
    path: Path, rate: int | None, channels: int | None, duration_s: float | None, max_duration_s: float | None
) -> None:
    if rate is not None and not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioInputError(
            f"audio file {path} declares a sample rate of {rate} Hz; only {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz "
            f"is speech audio; {FIX_HINT}"
        )
    if channels is not None and channels > MAX_CHANNELS:
        raise AudioInputError(
            f"audio file {path} declares {channels} channels; at most {MAX_CHANNELS} are read; {FIX_HINT}"
        )
    if max_duration_s is not None and duration_s is not None and duration_s > max_duration_s:
        raise AudioInputError(
            f"audio file {path} is {duration_s / 60:.1f} minutes long; at most {max_duration_s / 60:g} minutes "
            "are transcribed at once (api.max_upload_minutes); cut it into parts"
        )


def _ffprobe(path: Path, kind: str) -> AudioFileInfo:
    """Rate, channels and duration of the first audio stream, read by ffprobe with the sniffed demuxer;
    without ffprobe only decoding can tell."""
    if shutil.which("ffprobe") is None:
        return AudioFileInfo(path, "ffmpeg", None, None, None, kind)
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-f", FFMPEG_DEMUXERS[kind], "-select_streams", "a:0",
         "-show_entries", "stream=sample_rate,channels:format=duration", "-of", "json", str(path)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    try:
        probed = json.loads(result.stdout or "{}")
    except ValueError:
        probed = {}
    streams = probed.get("streams") or []
    if result.returncode != 0 or not streams:
        reason = _reason(result.stderr) if result.stderr.strip() else "no audio stream"
        raise AudioInputError(f"audio file {path} is corrupt or not audio (ffprobe: {reason}); {FIX_HINT}")

    rate, channels = _number(streams[0].get("sample_rate")), _number(streams[0].get("channels"))
    duration = _number((probed.get("format") or {}).get("duration"))
    return AudioFileInfo(
        path, "ffmpeg", int(rate) if rate else None, int(channels) if channels else None, None, kind, duration
    )


def _number(value: object) -> float | None:
    """ffprobe's numbers come as strings, and as "N/A" when the container does not say."""
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _mono(block: np.ndarray) -> np.ndarray:
    if block.ndim == 2:
        block = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
    return np.ascontiguousarray(block, dtype=np.float32)


def _soundfile_blocks(info: AudioFileInfo) -> Iterator[np.ndarray]:
    """Mono blocks at the file's rate."""
    try:
        with sf.SoundFile(str(info.path)) as handle:
            while True:
                block = handle.read(READ_FRAMES, dtype="float32", always_2d=True)
                if len(block) == 0:
                    return
                yield _mono(block)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioInputError(f"audio file {info.path} is corrupt ({_reason(str(exc))}); {FIX_HINT}") from None


def _ffmpeg_blocks(info: AudioFileInfo) -> Iterator[np.ndarray]:
    """Mono 16 kHz blocks decoded and resampled by ffmpeg itself."""
    command = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", FFMPEG_DEMUXERS[info.container],
        "-i", str(info.path),
        "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "pipe:1",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    try:
        pending = b""
        while True:
            data = process.stdout.read(FFMPEG_READ_BYTES)
            if not data:
                break
            data = pending + data
            usable = len(data) - len(data) % 4
            pending = data[usable:]
            if usable:
                yield np.frombuffer(data[:usable], dtype="<f4").astype(np.float32)
        stderr = process.stderr.read().decode("utf-8", "replace")
        if process.wait() != 0:
            raise AudioInputError(
                f"audio file {info.path} is corrupt or not audio (ffmpeg: {_reason(stderr)}); {FIX_HINT}"
            )
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()


def resampler_to_16k(rate: int) -> soxr.ResampleStream:
    """A streaming resampler of mono float32 from `rate` to 16 kHz (for files and microphones alike)."""
    return soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")


def write_wav(path: Path, audio: np.ndarray) -> Path:
    """16 kHz mono float32 samples as a 16-bit PCM WAV file (synthetic meetings, benchmarks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, SAMPLE_RATE, subtype="PCM_16")
    return path


@contextmanager
def wav_writer(path: Path) -> Iterator[Callable[[np.ndarray], None]]:
    """Write a 16 kHz mono 16-bit PCM WAV a block of float32 samples at a time (audio too long to hold
    in memory at once, such as a benchmark's hour of speech)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(path, "w", samplerate=SAMPLE_RATE, channels=1, subtype="PCM_16") as out:
        yield out.write


def _resampled(blocks: Iterator[np.ndarray], rate: int) -> Iterator[np.ndarray]:
    if rate == SAMPLE_RATE:
        yield from blocks
        return
    stream = resampler_to_16k(rate)
    for block in blocks:
        out = stream.resample_chunk(block)
        if len(out):
            yield out
    tail = stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
    if len(tail):
        yield tail


def _mono_16k(info: AudioFileInfo) -> Iterator[np.ndarray]:
    if info.reader == "ffmpeg":
        return _ffmpeg_blocks(info)
    assert info.sample_rate is not None
    return _resampled(_soundfile_blocks(info), info.sample_rate)


def _rebatch(blocks: Iterator[np.ndarray], block_samples: int, path: Path) -> Generator[np.ndarray, None, None]:
    pending: list[np.ndarray] = []
    pending_len = 0
    total = 0
    for block in blocks:
        pending.append(block)
        pending_len += len(block)
        if pending_len < block_samples:
            continue
        joined = np.concatenate(pending)
        cut = len(joined) - len(joined) % block_samples
        for start in range(0, cut, block_samples):
            yield np.clip(joined[start : start + block_samples], -1.0, 1.0)
        total += cut
        pending = [joined[cut:]] if cut < len(joined) else []
        pending_len = len(joined) - cut
    if pending_len:
        total += pending_len
        yield np.clip(np.concatenate(pending), -1.0, 1.0)
    if total == 0:
        raise AudioInputError(f"audio file {path} holds no samples; record or copy it again")


def iter_audio_blocks(path: Path, block_samples: int) -> Generator[np.ndarray, None, None]:
    """Stream `path` as float32 mono 16 kHz blocks of `block_samples` (the last may be shorter).

    The file is checked before this returns, so a missing or unreadable file fails here and not
    at the first `next()`; corruption found later while decoding raises from the iterator.
    """
    if block_samples < 1:
        raise ValueError("block_samples must be at least 1")
    info = probe_audio(Path(path))
    return _rebatch(_mono_16k(info), block_samples, info.path)


def decode_audio(path: Path) -> np.ndarray:
    """The whole file as float32 mono 16 kHz in [-1, 1]."""
    blocks = list(iter_audio_blocks(path, 30 * SAMPLE_RATE))
    return np.concatenate(blocks).astype(np.float32, copy=False)


def audio_duration(path: Path) -> float:
    """Length of the file in seconds (checked like `probe_audio`); decodes only when nothing else can tell."""
    info = probe_audio(Path(path))
    if info.duration_s is not None:
        return info.duration_s
    if shutil.which("ffprobe") is not None:
        result = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(info.path)],
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            return float(result.stdout.strip())
        except ValueError:
            pass
    return sum(len(block) for block in iter_audio_blocks(info.path, 30 * SAMPLE_RATE)) / SAMPLE_RATE


def decode_channels(path: Path) -> list[np.ndarray]:
    """Each channel of a 16 kHz WAV/FLAC file apart, float32 in [-1, 1] (for per-channel references; the box
    itself hears the mix)."""
    info = probe_audio(Path(path))
    if info.reader != "soundfile" or info.sample_rate != SAMPLE_RATE:
        raise AudioInputError(f"audio file {path}: channels are read apart only from 16 kHz WAV or FLAC files")
    try:
        data, _ = sf.read(str(info.path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioInputError(f"audio file {info.path} is corrupt ({_reason(str(exc))}); {FIX_HINT}") from None
    return [np.ascontiguousarray(data[:, channel]) for channel in range(data.shape[1])]
