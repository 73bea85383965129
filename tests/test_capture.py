"""Capture: file replay, the capture thread and its drop counting, and the microphone source.

No microphone exists on the test machines, so the PyAudio source's reopen, backoff, gap,
mixdown and resampling logic runs against a stand-in for the pyaudio module defined here
(delivering scripted blocks through the real callback); the real pyaudio is still imported
and asked for its devices.
"""

from __future__ import annotations

import itertools
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from edge.audio.capture import (
    CaptureThread,
    FileSource,
    PyAudioSource,
    backoff_delays,
    capture_queue,
    list_input_devices,
    open_source,
)
from edge.audio.files import decode_audio
from edge.core.config import AudioConfig
from edge.core.errors import AudioInputError
from edge.core.events import AudioFrame, CaptureGap
from edge.core.queues import DropOldestQueue, Empty, QueueClosed

PA_INPUT_OVERFLOW = 2


# -- file replay and the capture thread -------------------------------------------------------


def test_fast_replay_gives_continuous_frames_of_the_whole_file(fixture_file):
    path = fixture_file("audio/jfk.wav")
    frames = list(FileSource(path, realtime=False, frame_ms=32).frames())
    assert all(isinstance(f, AudioFrame) for f in frames)
    assert [f.start_ms for f in frames] == [32 * i for i in range(len(frames))]
    assert all(len(f.samples) == 512 for f in frames[:-1])
    np.testing.assert_array_equal(np.concatenate([f.samples for f in frames]), decode_audio(path))


def test_realtime_replay_takes_at_least_the_audio_duration(tmp_path):
    path = tmp_path / "half_second.wav"
    sf.write(path, np.zeros(8000, dtype=np.float32), 16_000)
    started = time.monotonic()
    frames = list(FileSource(path, realtime=True, frame_ms=100).frames())
    assert time.monotonic() - started >= 0.5 - 0.01  # a lower bound only: a busy machine is slower
    assert [f.start_ms for f in frames] == [0, 100, 200, 300, 400]


class BurstSource:
    """A live source (a microphone) delivering 344 frames faster than anyone reads them."""

    def frames(self):
        for i in range(344):
            yield AudioFrame(np.zeros(512, dtype=np.float32), 32 * i)

    def close(self) -> None:
        pass


def test_capture_thread_counts_frames_and_queue_drops_of_a_live_source():
    out: DropOldestQueue = DropOldestQueue(8, name="frames")
    capture = CaptureThread(BurstSource(), out).start()
    capture.join(30)
    stats = capture.stats
    assert not stats.running and stats.error is None
    assert stats.frames == 344
    assert stats.queue_drops == 344 - 8 == out.dropped
    kept = [out.get(timeout=1) for _ in range(8)]
    assert [f.start_ms for f in kept] == [32 * i for i in range(336, 344)]  # the oldest were dropped
    with pytest.raises(QueueClosed):
        out.get(timeout=1)


def test_a_file_replayed_as_fast_as_possible_waits_for_the_reader_and_loses_nothing(fixture_file):
    out: DropOldestQueue = DropOldestQueue(8, name="frames")
    capture = CaptureThread(FileSource(fixture_file("audio/jfk.wav"), realtime=False), out).start()
    received = []
    while True:
        try:
            received.append(out.get(timeout=10))
        except QueueClosed:
            break
    assert [f.start_ms for f in received] == [32 * i for i in range(344)]
    assert capture.stats.queue_drops == 0


def test_stopping_a_realtime_replay_ends_the_thread_and_closes_the_queue(fixture_file):
    out: DropOldestQueue = DropOldestQueue(100)
    capture = CaptureThread(FileSource(fixture_file("audio/jfk.wav"), realtime=True), out).start()
    assert isinstance(out.get(timeout=10), AudioFrame)
    capture.stop(timeout=10)
    assert not capture.is_alive()
    assert out.closed


def test_open_source_parses_the_config(fixture_file, tmp_path):
    source = open_source(AudioConfig(source=f"file:{fixture_file('audio/jfk.wav')}", realtime=False, frame_ms=20))
    assert isinstance(source, FileSource) and source.frame_samples == 320
    with pytest.raises(AudioInputError, match="does not exist"):
        open_source(AudioConfig(source=f"file:{tmp_path / 'missing.wav'}"))
    assert capture_queue(AudioConfig(queue_seconds=3.2, frame_ms=32)).maxsize == 100


def test_backoff_doubles_up_to_the_cap():
    assert list(itertools.islice(backoff_delays(0.5, 30.0), 9)) == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert list(itertools.islice(backoff_delays(0.5, 0.2), 3)) == [0.2, 0.2, 0.2]


# -- the microphone source against a stand-in pyaudio -----------------------------------------


class FakePortAudio:
    """What the stand-in PortAudio sees: the devices plugged in at each PyAudio() start (one plan
    entry per start, the last repeating), and the blocks each opened stream delivers: all at once
    when it starts, or paced like a real device (`realtime`) from PortAudio's own thread."""

    def __init__(
        self,
        plan: list[list[dict]],
        scripts: list[list[tuple[bytes, int]]],
        *,
        realtime: bool = False,
        dying_streams: int = 0,
    ) -> None:
        self.plan = plan
        self.scripts = scripts
        self.realtime = realtime
        self.dying_streams = dying_streams  # the first N streams fail once their script is played
        self.devices: list[dict] = []
        self.starts = 0
        self.opened: list[dict] = []

    def module(self) -> SimpleNamespace:
        world = self

        class Stream:
            def __init__(self, options: dict) -> None:
                self.options = options
                self.active = False

            def start_stream(self) -> None:
                self.active = True
                script = world.scripts.pop(0) if world.scripts else []
                dies = len(world.opened) <= world.dying_streams
                if world.realtime:
                    threading.Thread(target=self.play, args=(script, dies), daemon=True).start()
                else:
                    self.play(script, dies)

            def play(self, script: list[tuple[bytes, int]], dies: bool) -> None:
                callback = self.options["stream_callback"]
                block_s = self.options["frames_per_buffer"] / self.options["rate"]
                for data, status in script:
                    if world.realtime:
                        time.sleep(block_s)
                    if not self.active:
                        return
                    callback(data, self.options["frames_per_buffer"], {}, status)
                if dies:
                    self.active = False

            def is_active(self) -> bool:
                return self.active

            def stop_stream(self) -> None:
                self.active = False

            def close(self) -> None:
                self.active = False

        class PyAudio:
            def __init__(self) -> None:
                world.devices = world.plan[min(world.starts, len(world.plan) - 1)]
                world.starts += 1

            def get_device_count(self) -> int:
                return len(world.devices)

            def get_device_info_by_index(self, index: int) -> dict:
                return {"index": index, **world.devices[index]}

            def get_default_input_device_info(self) -> dict:
                if not world.devices:
                    raise OSError("No Default Input Device Available")
                return self.get_device_info_by_index(0)

            def is_format_supported(self, rate, input_device, input_channels, input_format) -> bool:
                if rate not in world.devices[input_device].get("rates", ()):
                    raise ValueError("Invalid sample rate")
                return True

            def open(self, **options) -> Stream:
                device = world.devices[options["input_device_index"]]
                world.opened.append({"name": device["name"], **options})
                return Stream(options)

            def terminate(self) -> None:
                pass

        return SimpleNamespace(
            PyAudio=PyAudio, paFloat32=1, paContinue=0, paComplete=1, paInputOverflow=PA_INPUT_OVERFLOW
        )


def device(name: str, channels: int = 1, rate: int = 16_000, rates: tuple[int, ...] = (16_000,)) -> dict:
    return {"name": name, "maxInputChannels": channels, "defaultSampleRate": float(rate), "rates": rates}


def mono_blocks(count: int, samples: int = 512, status: int = 0) -> list[tuple[bytes, int]]:
    return [(np.full(samples, 0.1, dtype=np.float32).tobytes(), status) for _ in range(count)]


def collect(out: DropOldestQueue, until, timeout: float = 15.0) -> list:
    """Items from `out` until `until(items)` holds; fails rather than hanging."""
    items: list = []
    deadline = time.monotonic() + timeout
    while not until(items):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"capture did not deliver in {timeout} s: {items[-5:]}"
        try:
            items.append(out.get(timeout=min(remaining, 0.5)))
        except Empty:
            continue
    return items


def frames_after_last_gap(items: list) -> int:
    last_gap = max((i for i, item in enumerate(items) if isinstance(item, CaptureGap)), default=None)
    return 0 if last_gap is None else sum(isinstance(item, AudioFrame) for item in items[last_gap:])


def test_a_48k_stereo_microphone_is_mixed_down_and_resampled_to_16k():
    rate, block = 48_000, 1536  # 32 ms at 48 kHz
    t = np.arange(40 * block) / rate
    left = 0.5 * np.sin(2 * np.pi * 440.0 * t)
    stereo = np.stack([left, np.zeros_like(left)], axis=1).astype(np.float32)
    script = [(stereo[i * block : (i + 1) * block].tobytes(), 0) for i in range(40)]
    world = FakePortAudio([[device("USB Mic Array", channels=2, rate=rate, rates=(rate,))]], [script])
    source = PyAudioSource("usb mic", stall_seconds=30, pyaudio_module=world.module())
    frames = []
    for item in source.frames():
        frames.append(item)
        if len(frames) == 36:
            break
    source.close()
    opened = world.opened[0]
    assert (opened["rate"], opened["channels"], opened["frames_per_buffer"]) == (48_000, 2, 1536)
    assert all(isinstance(f, AudioFrame) and len(f.samples) == 512 for f in frames)
    assert [f.start_ms for f in frames] == [32 * i for i in range(36)]
    audio = np.concatenate([f.samples for f in frames])[2000:]
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    assert abs(np.argmax(spectrum) * 16_000 / len(audio) - 440.0) < 2.0
    assert abs(float(np.sqrt(np.mean(audio**2))) - 0.25 / np.sqrt(2)) < 0.01  # (L + R) / 2


def test_a_stalled_microphone_is_reopened_by_name_with_a_gap_for_the_lost_time():
    mic = device("USB Mic")
    plan = [[mic], [], [], [device("Webcam"), mic]]  # unplugged for two attempts, back at index 1
    world = FakePortAudio(plan, [mono_blocks(10), mono_blocks(10)], realtime=True)
    source = PyAudioSource("mic", stall_seconds=0.3, max_backoff_seconds=0.05, pyaudio_module=world.module())
    out: DropOldestQueue = DropOldestQueue(1000)
    capture = CaptureThread(source, out).start()
    try:
        items = collect(out, lambda items: frames_after_last_gap(items) >= 10)
    finally:
        capture.stop()
    frames = [i for i in items if isinstance(i, AudioFrame)]
    gaps = [i for i in items if isinstance(i, CaptureGap)]
    assert [f.start_ms for f in frames[:10]] == [32 * i for i in range(10)]
    assert gaps[0].start_ms == 320 and "no audio" in gaps[0].reason
    # Gaps and frames tile meeting time without holes or overlaps.
    position = 0
    for item in items:
        assert item.start_ms == position
        position += item.duration_ms if isinstance(item, CaptureGap) else 32
    assert sum(g.duration_ms for g in gaps) >= 300  # at least the stall itself
    assert [o["input_device_index"] for o in world.opened] == [0, 1]
    assert {o["name"] for o in world.opened} == {"USB Mic"}
    assert world.starts == 4 and source.reopens == 1
    stats = capture.stats
    assert stats.reopens == 1 and stats.gaps == len(gaps) and stats.frames >= 20


def test_a_stream_error_reopens_without_waiting_for_the_stall_timeout():
    world = FakePortAudio([[device("USB Mic")]], [mono_blocks(5), mono_blocks(5)], realtime=True, dying_streams=1)
    source = PyAudioSource("default", stall_seconds=3600, max_backoff_seconds=0.05, pyaudio_module=world.module())
    out: DropOldestQueue = DropOldestQueue(1000)
    capture = CaptureThread(source, out).start()
    try:
        items = collect(out, lambda items: frames_after_last_gap(items) >= 5)
    finally:
        capture.stop()
    gaps = [i for i in items if isinstance(i, CaptureGap)]
    assert gaps and "stream stopped" in gaps[0].reason
    assert len(world.opened) == 2


def test_input_overflows_are_counted():
    script = mono_blocks(3) + mono_blocks(3, status=PA_INPUT_OVERFLOW) + mono_blocks(4)
    world = FakePortAudio([[device("USB Mic")]], [script])
    source = PyAudioSource("0", stall_seconds=30, pyaudio_module=world.module())
    out: DropOldestQueue = DropOldestQueue(100)
    capture = CaptureThread(source, out).start()
    try:
        collect(out, lambda items: len(items) >= 10)
    finally:
        capture.stop()
    assert source.overflows == 3 and capture.stats.overflows == 3


def test_blocks_the_reader_could_not_take_in_time_become_a_counted_gap():
    world = FakePortAudio([[device("USB Mic")]], [mono_blocks(10)])
    source = PyAudioSource("USB", stall_seconds=30, buffer_seconds=0.1, pyaudio_module=world.module())
    items = []
    for item in source.frames():
        items.append(item)
        if len(items) == 5:
            break
    source.close()
    assert source.dropped == 6  # 10 blocks arrived before anyone read; the queue holds 4
    assert isinstance(items[0], CaptureGap) and (items[0].start_ms, items[0].duration_ms) == (0, 192)
    assert [f.start_ms for f in items[1:]] == [192, 224, 256, 288]


def test_a_missing_device_is_a_user_error_listing_what_exists():
    world = FakePortAudio([[device("Webcam"), device("HDMI out", channels=0)]], [])
    with pytest.raises(AudioInputError) as caught:
        PyAudioSource("usb mic", pyaudio_module=world.module())
    message = str(caught.value)
    assert '"usb mic" not found' in message and '0: "Webcam"' in message and "HDMI" not in message
    with pytest.raises(AudioInputError, match=r'"default" not found.*none'):
        PyAudioSource("default", pyaudio_module=FakePortAudio([[]], []).module())


# -- the real pyaudio ------------------------------------------------------------------------


def test_real_pyaudio_lists_devices_and_rejects_a_missing_one():
    devices = list_input_devices()  # possibly none: test machines have no microphone
    assert all(d.channels > 0 and d.name for d in devices)
    name = "no-such-microphone-7f3a"
    with pytest.raises(AudioInputError, match=f'"{name}" not found'):
        open_source(AudioConfig(source=f"pyaudio:{name}"))
