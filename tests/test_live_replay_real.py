"""The live box with the real Whisper base model (from `make setup`): `edge run` as a subprocess replays
a Korean and English meeting in real time at 2 threads, as a microphone would deliver it.

The meeting is a composite made here from the fixtures: jfk.wav, the Korean leopard clip, three
seconds of digital silence, three seconds of synthetic noise and the English leopard clip, with
pauses. One replay is shared by the tests: the box keeps up (its own real-time factor), silence and
noise give nothing, and each clip's live words map word for word onto one decode of the whole clip
(nothing lost or doubled where the VAD cut it into utterances). The browser test shows what `make run`
shows a first-time user and keeps a screenshot of it.
"""
from __future__ import annotations

import difflib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from edge.audio.files import write_wav
from edge.core.events import SAMPLE_RATE
from edge.ops.synth.meeting_audio import build_meeting

pytestmark = pytest.mark.slow

THREADS = 2
CLIPS = ("audio/jfk.wav", "audio/leopard/test_ko.wav", "SILENCE", "NOISE", "audio/leopard/test.wav")
LANGUAGES = {"audio/jfk.wav": "en", "audio/leopard/test_ko.wav": "ko", "audio/leopard/test.wav": "en"}
EXPECTED = {
    "audio/jfk.wav": ["ask", "not", "what", "your", "country", "can", "do", "for", "you"],
    "audio/leopard/test_ko.wav": ["피하면서", "옆으로", "걸어갔다"],
    "audio/leopard/test.wav": ["apostle", "middle", "classes", "gospel"],
}
WAIT_S = 300  # an upper bound for the replay to finish, not a performance expectation
PAD_S = 0.3  # segment times may reach a little past the clip (VAD padding)


def words(text: str) -> list[str]:
    """Lower-case words without punctuation (Hangul kept as written)."""
    text = unicodedata.normalize("NFC", text).lower()
    return re.findall(r"[\w']+", text.replace("\u2019", "'"))


def lost_or_doubled(whole: list[str], live: list[str]) -> list[tuple[str, list[str], list[str]]]:
    """Where `live` does not map word for word onto `whole`: words missing, added, or merged."""
    matcher = difflib.SequenceMatcher(a=whole, b=live, autojunk=False)
    return [
        (tag, whole[i1:i2], live[j1:j2])
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal" and not (tag == "replace" and i2 - i1 == j2 - j1)
    ]


def write_composite(tmp_path: Path, fixture_file: Callable[[str], Path]) -> tuple[Path, list[tuple[str, float, float]]]:
    rng = np.random.default_rng(7)
    silence = write_wav(tmp_path / "silence.wav", np.zeros(3 * SAMPLE_RATE, dtype=np.float32))
    # Pink-ish noise (white noise through a one-pole low-pass) at about -30 dBFS: a fan or a projector.
    white = rng.normal(0, 1, 3 * SAMPLE_RATE).astype(np.float32)
    pink = np.empty_like(white)
    acc = 0.0
    for i, sample in enumerate(white):
        acc = 0.97 * acc + 0.03 * sample
        pink[i] = acc
    noise = write_wav(tmp_path / "noise.wav", (pink / np.abs(pink).max() * 10 ** (-30 / 20)).astype(np.float32))
    paths = [silence if c == "SILENCE" else noise if c == "NOISE" else fixture_file(c) for c in CLIPS]
    meeting = build_meeting(paths, pause_s=(1.2, 1.8), seed=5)
    wav = write_wav(tmp_path / "meeting.wav", meeting.audio)
    return wav, [(clip, a, b) for clip, (a, b) in zip(CLIPS, meeting.speech_spans_s, strict=True)]


def write_config(box, *, audio: Path, vad_model: Path, whisper: Path, auto_start: bool) -> None:
    box.config.write_text(
        f"""
[device]
id = "live-real"
[audio]
source = "file:{audio}"
realtime = true
[vad]
model_path = "{vad_model}"
[asr]
model_path = "{whisper}"
languages = ["ko", "en"]
threads = {THREADS}
[meeting]
auto_start = {str(auto_start).lower()}
[storage]
path = "{box.data}"
[api]
port = {box.port}
token_file = "{box.token_file}"
""",
        encoding="utf-8",
    )


def rows(db: Path, sql: str) -> list[tuple]:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def whole_clip_words(whisper: Path, clip: Path, language: str) -> list[str]:
    from edge.asr.whispercpp import WhisperCppModel
    from edge.audio.files import decode_audio

    with WhisperCppModel(whisper.absolute(), threads=THREADS, language=language) as model:
        return words(" ".join(s.text for s in model.transcribe(decode_audio(clip), offset_ms=0)))


def start_box(
    workdir: Path, audio: Path, vad_model: Path, whisper: Path, *, auto_start: bool, env: dict[str, str] | None = None
):
    """An `edge run` replaying `audio` with the real Whisper base, started and healthy; `env` is added to its
    environment."""
    from box_process import BoxProcess

    box = BoxProcess(workdir, device="live-real", vad_model=vad_model, whisper=whisper, mqtt_port=None)
    box.env = env or {}
    write_config(box, audio=audio, vad_model=vad_model, whisper=whisper, auto_start=auto_start)
    box.start()
    return box


@dataclass(frozen=True)
class Replay:
    health: dict  # the box's own health once the replayed meeting was committed
    segments: list[tuple[int, int, str, str]]  # t0_ms, t1_ms, text_raw, language
    spans: list[tuple[str, float, float]]  # where each clip lies in the meeting, seconds
    whisper: Path
    log: str

    def inside(self, a: float, b: float) -> list[tuple[int, int, str, str]]:
        return [s for s in self.segments if a - PAD_S <= s[0] / 1000 and s[1] / 1000 <= b + PAD_S]


@pytest.fixture(scope="module")
def replay(tmp_path_factory, fixture_file: Callable[[str], Path], dev_model: Callable[[str], Path]):
    """One real-time replay of the composite meeting, shared by the tests below."""
    workdir = tmp_path_factory.mktemp("live-real")
    whisper = dev_model("ggml-base.bin")
    audio, spans = write_composite(workdir, fixture_file)
    box = start_box(workdir, audio, fixture_file("models/silero_vad_v6.2.onnx"), whisper, auto_start=True)
    try:
        health_url = f"http://127.0.0.1:{box.port}/api/v1/health"
        deadline = time.monotonic() + WAIT_S
        recorded = False
        health: dict = {}
        while time.monotonic() < deadline:
            try:
                health = httpx.get(health_url, timeout=30).json()
            except httpx.TimeoutException:
                continue  # a busy box answers late; the deadline bounds the wait
            recorded = recorded or health["state"] == "recording"
            if recorded and health["state"] == "idle":
                break
            time.sleep(0.5)
        log = box.log.read_text()
        assert recorded and health["state"] == "idle", log[-3000:]
        segments = rows(box.data / "edge.db", "SELECT t0_ms, t1_ms, text_raw, language FROM segments ORDER BY seq")
    finally:
        box.kill()
    return Replay(health, segments, spans, whisper, log)


def test_the_box_keeps_up_with_the_room(replay: Replay) -> None:
    """ASR time per second of speech, as the box reports it in its health."""
    rtf = replay.health["asr"]["real_time_factor"]
    assert rtf is not None and rtf < 1, replay.health["asr"]


def test_silence_and_noise_give_no_segment_and_nothing_lies_outside_speech(replay: Replay) -> None:
    assert replay.segments, replay.log[-3000:]
    for clip, a, b in replay.spans:
        if clip in ("SILENCE", "NOISE"):
            assert replay.inside(a - 1, b + 1) == [], f"{clip.lower()} gave a segment"
    in_speech = sum(len(replay.inside(a, b)) for clip, a, b in replay.spans if clip in LANGUAGES)
    assert in_speech == len(replay.segments), (replay.spans, replay.segments)
    assert not any("\ufffd" in text for _, _, text, _ in replay.segments)


def check_clip(replay: Replay, clip: str, fixture_file: Callable[[str], Path]) -> None:
    [(a, b)] = [(a, b) for name, a, b in replay.spans if name == clip]
    live = replay.inside(a, b)
    live_words = words(" ".join(text for _, _, text, _ in live))
    for word in EXPECTED[clip]:
        assert word in live_words, (clip, live)
    assert {language for *_, language in live} == {LANGUAGES[clip]}, (clip, live)
    # Word for word against one decode of the whole clip: a word may be spelled differently (the
    # live decode has context and a shorter encoder window), none lost or doubled at utterance cuts.
    whole = whole_clip_words(replay.whisper, fixture_file(clip), LANGUAGES[clip])
    assert lost_or_doubled(whole, live_words) == [], (clip, whole, live_words)


@pytest.mark.parametrize("clip", ["audio/jfk.wav", "audio/leopard/test.wav"])
def test_english_clips_keep_every_word_across_utterance_cuts(replay: Replay, clip: str, fixture_file) -> None:
    check_clip(replay, clip, fixture_file)


def test_korean_clip_after_english_keeps_its_words(replay: Replay, fixture_file) -> None:
    check_clip(replay, "audio/leopard/test_ko.wav", fixture_file)


@pytest.mark.browser
def test_admin_page_shows_the_real_korean_and_english_words(
    driver, fixture_file, dev_model, tmp_path: Path, request
) -> None:
    """What `make run` shows a first-time user: the dev meeting (`edge synth meeting`) live in the page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    fixtures = fixture_file("audio/jfk.wav").parents[1]
    meeting = tmp_path / "dev-meeting.wav"
    made = subprocess.run([sys.executable, "-m", "edge", "synth", "meeting", "--fixtures", str(fixtures),
                           "--out", str(meeting)], capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    box = start_box(tmp_path, meeting, fixture_file("models/silero_vad_v6.2.onnx"), dev_model("ggml-base.bin"),
                    auto_start=False)
    request.addfinalizer(box.kill)
    wait = WebDriverWait(driver, WAIT_S)
    driver.get(f"http://127.0.0.1:{box.port}/")
    wait.until(ec.visibility_of_element_located((By.ID, "token-input"))).send_keys(box.token_file.read_text().strip())
    driver.find_element(By.ID, "login-button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "live-connection"), "연결됨"))  # the Korean page
    driver.find_element(By.ID, "meeting-title-input").send_keys("주간 회의 (실제 모델)")
    driver.find_element(By.ID, "start-button").click()

    def live_text(_: object) -> str:
        return driver.execute_script(
            "return [...document.querySelectorAll('#live-segments li .text')].map((e) => e.textContent).join(' ')"
        )

    wait.until(lambda d: "country" in live_text(d).lower() and "걸어갔다" in live_text(d))
    screenshot = tmp_path / "admin-real-words.png"
    assert driver.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
    if os.environ.get("EDGE_SCREENSHOT_DIR"):
        shutil.copy(screenshot, Path(os.environ["EDGE_SCREENSHOT_DIR"]) / "admin-real-words.png")
    driver.find_element(By.ID, "stop-button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "state-badge"), "대기 중"))
