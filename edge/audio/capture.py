"""Audio sources: a microphone through PyAudio, or a file replayed as if it were one.

Every source yields `AudioFrame`s of float32 mono 16 kHz audio and `CaptureGap`s for time in
which no audio arrived, so that meeting time (the frames' `start_ms`) follows the wall clock.
This is the only module that imports pyaudio, and only when a microphone is opened.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edge.audio.files import iter_audio_blocks, probe_audio, resampler_to_16k
from edge.core.config import AudioConfig
from edge.core.errors import AudioInputError
from edge.core.events import SAMPLE_RATE, AudioFrame, CaptureGap, ms_to_samples, samples_to_ms
from edge.core.queues import DropOldestQueue, Empty, QueueClosed

log = logging.getLogger(__name__)

CaptureItem = AudioFrame | CaptureGap

MAX_CHANNELS = 8  # virtual ALSA/Pulse devices report 32+ channels that only repeat the same signal
FIRST_BACKOFF_S = 0.5
POLL_S = 0.1


class AudioSource(Protocol):
    """Frames and gaps of one capture; `close()` (from any thread) makes `frames()` end soon."""

    def frames(self) -> Iterator[CaptureItem]: ...

    def close(self) -> None: ...


def capture_queue(cfg: AudioConfig) -> DropOldestQueue[CaptureItem]:
    """The bounded queue between capture and VAD, holding `queue_seconds` of frames."""
    return DropOldestQueue(max(1, round(cfg.queue_seconds * 1000 / cfg.frame_ms)), name="capture")


def open_source(cfg: AudioConfig) -> AudioSource:
    """The source named by `cfg.source`: "file:<path>" or "pyaudio:<name substring|index|default>"."""
    scheme, _, rest = cfg.source.partition(":")
    if scheme == "file":
        return FileSource(Path(rest), realtime=cfg.realtime, frame_ms=cfg.frame_ms)
    if scheme == "pyaudio":
        return PyAudioSource(
            rest,
            frame_ms=cfg.frame_ms,
            stall_seconds=cfg.stall_seconds,
            max_backoff_seconds=cfg.reopen_max_backoff_seconds,
        )
    raise AudioInputError(f'audio.source "{cfg.source}" is not "file:<path>" or "pyaudio:<device>"; fix the config')


class FileSource:
    """Replays a file as a microphone would deliver it: paced on the monotonic clock without drift
    when `realtime`, else as fast as it decodes. `start_ms` runs continuously from 0."""

    overflows = 0
    dropped = 0
    reopens = 0

    def __init__(self, path: Path, realtime: bool = True, frame_ms: int = 32) -> None:
        self.info = probe_audio(Path(path))
        self.path = Path(path)
        self.realtime = realtime
        self.frame_samples = ms_to_samples(frame_ms)
        self._closed = threading.Event()

    def frames(self) -> Iterator[CaptureItem]:
        position = 0
        started = time.monotonic()
        with contextlib.closing(iter_audio_blocks(self.path, self.frame_samples)) as blocks:
            for block in blocks:
                if self._closed.is_set():
                    return
                if self.realtime:
                    # A microphone hands over a block once it has been recorded: at its end time.
                    delay = started + (position + len(block)) / SAMPLE_RATE - time.monotonic()
                    if delay > 0 and self._closed.wait(delay):
                        return
                yield AudioFrame(block, samples_to_ms(position))
                position += len(block)

    def close(self) -> None:
        self._closed.set()


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    channels: int
    default_rate: int


def _import_pyaudio() -> Any:
    try:
        import pyaudio
    except ImportError:
        raise AudioInputError(
            "pyaudio is not installed, so no microphone can be opened; install it (it needs PortAudio) "
            'or set audio.source to "file:<path>"'
        ) from None
    return pyaudio


def _input_devices(pa: Any) -> list[InputDevice]:
    devices = []
    for index in range(pa.get_device_count()):
        try:
            info = pa.get_device_info_by_index(index)
        except (OSError, ValueError):
            continue
        if int(info.get("maxInputChannels", 0)) > 0:
            devices.append(
                InputDevice(
                    index,
                    str(info.get("name", f"device {index}")),
                    int(info["maxInputChannels"]),
                    int(info.get("defaultSampleRate", SAMPLE_RATE)),
                )
            )
    return devices


def list_input_devices(pyaudio_module: Any = None) -> list[InputDevice]:
    """Microphones PortAudio can see now (possibly none)."""
    module = pyaudio_module or _import_pyaudio()
    pa = module.PyAudio()
    try:
        return _input_devices(pa)
    finally:
        pa.terminate()


def _find_device(pa: Any, spec: str, identity: str | None) -> InputDevice | None:
    """The device named `identity` (its exact name, once known), else the one `spec` selects."""
    devices = _input_devices(pa)
    if identity is not None:
        for device in devices:
            if device.name == identity:
                return device
        if spec != "default":
            return None
    if spec == "default":
        try:
            index = int(pa.get_default_input_device_info()["index"])
        except (OSError, KeyError, ValueError):
            return None
        return next((device for device in devices if device.index == index), None)
    if spec.isdigit():
        return next((device for device in devices if device.index == int(spec)), None)
    wanted = spec.casefold()
    return next((device for device in devices if wanted in device.name.casefold()), None)


def backoff_delays(first: float, longest: float) -> Iterator[float]:
    """first, 2*first, 4*first, ... capped at `longest`."""
    delay = min(first, longest)
    while True:
        yield delay
        delay = min(delay * 2, longest)


class PyAudioSource:
    """A microphone, for "pyaudio:<name substring|index|default>".

    Opened at 16 kHz if the device supports it, else at its default rate, then mixed down and
    resampled. PortAudio calls back on its own thread; the callback only puts the raw block into
    a drop-oldest queue, so capture never blocks. When no audio arrives for `stall_seconds`, or
    the stream reports an error, the device is reopened by its name (indices change on replug)
    with exponential backoff, and the lost time is emitted as CaptureGaps.
    """

    def __init__(
        self,
        device: str = "default",
        frame_ms: int = 32,
        stall_seconds: float = 3.0,
        max_backoff_seconds: float = 30.0,
        *,
        buffer_seconds: float = 2.0,
        pyaudio_module: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = device.strip() or "default"
        self.frame_ms = frame_ms
        self.frame_samples = ms_to_samples(frame_ms)
        self.stall_seconds = stall_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self._pa_module = pyaudio_module or _import_pyaudio()
        self._clock = clock
        self._raw: DropOldestQueue[tuple[int, bytes]] = DropOldestQueue(
            max(4, round(buffer_seconds * 1000 / frame_ms)), name="microphone"
        )
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pa: Any = None
        self._stream: Any = None
        self._generation = 0
        self._identity: str | None = None
        self._channels = 1
        self._rate = SAMPLE_RATE
        self._resampler: Any = None
        self._pending = np.zeros(0, dtype=np.float32)
        self._timeline = 0  # samples of meeting time handed out, frames and gaps
        self._drops_reported = 0
        self.overflows = 0
        self.reopens = 0
        self.device: InputDevice | None = None
        with self._lock:
            problem = self._open()
        if problem is not None:
            raise AudioInputError(problem)
        self._started = self._clock()
        self._last_audio = self._started

    @property
    def dropped(self) -> int:
        """Raw blocks lost because the reader fell behind the microphone."""
        return self._raw.dropped

    def frames(self) -> Iterator[CaptureItem]:
        try:
            while not self._stop.is_set():
                try:
                    generation, data = self._raw.get(timeout=POLL_S)
                except Empty:
                    if self._clock() - self._last_audio >= self.stall_seconds:
                        yield from self._recover(f"no audio for {self.stall_seconds:g} s")
                    elif not self._stream_ok():
                        yield from self._recover("the audio stream stopped")
                    continue
                except QueueClosed:
                    return
                if generation != self._generation:
                    continue  # left over from a stream that has been replaced
                self._last_audio = self._clock()
                lost = self._raw.dropped - self._drops_reported
                if lost:
                    self._drops_reported += lost
                    self._pending = np.zeros(0, dtype=np.float32)
                    yield self._gap(lost * self.frame_ms, "capture fell behind; oldest audio dropped")
                yield from self._convert(data)
        finally:
            self._shutdown()

    def close(self) -> None:
        self._stop.set()
        self._raw.close()
        self._shutdown()

    # -- conversion and time ---------------------------------------------------------------

    def _convert(self, data: bytes) -> Iterator[AudioFrame]:
        samples = np.frombuffer(data, dtype=np.float32)
        if self._channels > 1:
            samples = samples[: len(samples) - len(samples) % self._channels]
            samples = samples.reshape(-1, self._channels).mean(axis=1, dtype=np.float32)
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        pending = np.concatenate((self._pending, samples)) if len(self._pending) else samples
        usable = len(pending) - len(pending) % self.frame_samples
        for offset in range(0, usable, self.frame_samples):
            block = np.clip(pending[offset : offset + self.frame_samples], -1.0, 1.0).astype(np.float32)
            yield AudioFrame(block, samples_to_ms(self._timeline))
            self._timeline += self.frame_samples
        self._pending = pending[usable:].copy()

    def _gap(self, duration_ms: int, reason: str) -> CaptureGap:
        gap = CaptureGap(samples_to_ms(self._timeline), int(duration_ms), reason)
        self._timeline += ms_to_samples(int(duration_ms))
        return gap

    def _gap_to_now(self, reason: str) -> CaptureGap | None:
        """The wall-clock time since the last frame that no frame covers, as one gap."""
        elapsed_ms = int((self._clock() - self._started) * 1000)
        missing_ms = elapsed_ms - samples_to_ms(self._timeline)
        return self._gap(missing_ms, reason) if missing_ms >= 1 else None

    # -- device handling --------------------------------------------------------------------

    def _recover(self, reason: str) -> Iterator[CaptureGap]:
        log.warning("microphone %s lost (%s); reopening", self._identity or self.spec, reason)
        with self._lock:
            self._close_stream()
        self._pending = np.zeros(0, dtype=np.float32)
        gap = self._gap_to_now(f"microphone lost: {reason}")
        if gap is not None:
            yield gap
        for delay in backoff_delays(FIRST_BACKOFF_S, self.max_backoff_seconds):
            if self._stop.wait(delay):
                return
            with self._lock:
                if self._stop.is_set():
                    return
                problem = self._open()
            gap = self._gap_to_now(f"microphone lost: {reason}")
            if gap is not None:
                yield gap
            if problem is None:
                self.reopens += 1
                self._last_audio = self._clock()
                log.warning("microphone %s reopened", self._identity)
                return
            log.info("microphone not back yet: %s", problem)

    def _stream_ok(self) -> bool:
        with self._lock:
            if self._stream is None:
                return False
            try:
                return bool(self._stream.is_active())
            except OSError:
                return False

    def _open(self) -> str | None:
        """Open the device (call with the lock held); return what went wrong, or None."""
        module = self._pa_module
        try:
            pa = module.PyAudio()
        except OSError as exc:
            return f"PortAudio cannot start ({exc}); check the audio system"
        device = _find_device(pa, self.spec, self._identity)
        if device is None:
            names = ", ".join(f'{d.index}: "{d.name}"' for d in _input_devices(pa)) or "none"
            pa.terminate()
            wanted = self._identity or self.spec
            return (
                f'microphone "{wanted}" not found (input devices: {names}); plug it in or set audio.source '
                'to "pyaudio:<name substring|index|default>"'
            )
        rate = self._supported_rate(pa, device)
        channels = min(device.channels, MAX_CHANNELS)
        self._generation += 1
        try:
            stream = pa.open(
                format=module.paFloat32,
                channels=channels,
                rate=rate,
                input=True,
                input_device_index=device.index,
                frames_per_buffer=max(1, round(rate * self.frame_ms / 1000)),
                stream_callback=self._callback(self._generation),
                start=False,
            )
            self._stream, self._pa = stream, pa
            self._channels, self._rate = channels, rate
            self._resampler = None if rate == SAMPLE_RATE else resampler_to_16k(rate)
            self._identity, self.device = device.name, device
            stream.start_stream()
        except (OSError, ValueError) as exc:
            self._close_stream()
            with contextlib.suppress(Exception):
                pa.terminate()
            return f'microphone "{device.name}" cannot be opened ({exc}); check that no other program holds it'
        return None

    def _supported_rate(self, pa: Any, device: InputDevice) -> int:
        try:
            if pa.is_format_supported(
                SAMPLE_RATE,
                input_device=device.index,
                input_channels=min(device.channels, MAX_CHANNELS),
                input_format=self._pa_module.paFloat32,
            ):
                return SAMPLE_RATE
        except ValueError:
            pass
        return device.default_rate

    def _callback(self, generation: int) -> Callable[[bytes | None, int, Any, int], tuple[None, int]]:
        raw, module = self._raw, self._pa_module
        overflow_flag = int(module.paInputOverflow)

        def on_audio(in_data: bytes | None, frame_count: int, time_info: Any, status: int) -> tuple[None, int]:
            # PortAudio's real-time thread: no locks, no logging, nothing that can block.
            if status & overflow_flag:
                self.overflows += 1
            if in_data:
                try:
                    raw.put((generation, in_data))
                except QueueClosed:
                    return None, module.paComplete
            return None, module.paContinue

        return on_audio

    def _close_stream(self) -> None:
        """Stop and release the stream and PortAudio (call with the lock held)."""
        stream, pa = self._stream, self._pa
        self._stream = self._pa = None
        self._generation += 1
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.stop_stream()
            with contextlib.suppress(Exception):
                stream.close()
        if pa is not None:
            with contextlib.suppress(Exception):
                pa.terminate()

    def _shutdown(self) -> None:
        with self._lock:
            self._close_stream()


@dataclass(frozen=True)
class CaptureStats:
    frames: int
    gaps: int
    gap_ms: int
    overflows: int
    queue_drops: int
    reopens: int
    running: bool
    error: str | None


class CaptureThread:
    """Pumps a source into the capture queue on its own thread; `stop()` ends it cleanly.

    The queue is closed when the source ends (a replayed file) or fails, so the reader sees
    QueueClosed after the last item.
    """

    def __init__(self, source: AudioSource, out: DropOldestQueue[CaptureItem], name: str = "capture") -> None:
        self.source = source
        self.out = out
        self.error: BaseException | None = None
        self._frames = 0
        self._gaps = 0
        self._gap_ms = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        # A file read faster than real time can wait for the pipeline; a microphone cannot.
        self.lossless = isinstance(source, FileSource) and not source.realtime

    def start(self) -> CaptureThread:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.source.close()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.out.close()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def stats(self) -> CaptureStats:
        return CaptureStats(
            frames=self._frames,
            gaps=self._gaps,
            gap_ms=self._gap_ms,
            overflows=int(getattr(self.source, "overflows", 0)),
            queue_drops=self.out.dropped + int(getattr(self.source, "dropped", 0)),
            reopens=int(getattr(self.source, "reopens", 0)),
            running=self._thread.is_alive(),
            error=None if self.error is None else str(self.error),
        )

    def _run(self) -> None:
        try:
            for item in self.source.frames():
                if isinstance(item, CaptureGap):
                    self._gaps += 1
                    self._gap_ms += item.duration_ms
                else:
                    self._frames += 1
                if self.lossless:
                    self.out.put_wait(item)
                else:
                    self.out.put(item)
        except QueueClosed:
            pass
        except Exception as exc:  # the reader must learn that capture ended, whatever ended it
            self.error = exc
            log.exception("capture failed")
        finally:
            self.out.close()
