"""Re-transcribing a recorded meeting from its archive (POST /api/v1/meetings/{id}/retranscribe and
`edge retranscribe`): the archive's copy goes to the box's file-job path as a new meeting whose title names
the old one; the old meeting, its segments and its archive stay as they were; a meeting without an
archive, or an unknown one, is refused with the reason."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fake_box import FakeBox, serving
from mosquitto import wait_until

from edge.audio.archive import MeetingAudioArchive
from edge.commands.cli import main

TOKEN = "retranscribe-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SAMPLE_RATE = 16000
WAIT_S = 300  # an upper bound for a stuck job on two shared cores, not a performance expectation


@pytest.fixture
def box(tmp_path: Path) -> Iterator[FakeBox]:
    fake = FakeBox(tmp_path / "box")
    yield fake
    fake.close()


def recorded_meeting(box: FakeBox, tmp_path: Path, *, language: str = "ko", title: str = "주간 인프라 회의") -> str:
    meeting = box.store.create_meeting(language=language, source="pyaudio:test", title=title, status="stopped")
    tone = 0.25 * np.sin(np.arange(2 * SAMPLE_RATE) * 2 * np.pi * 440 / SAMPLE_RATE)
    with MeetingAudioArchive(tmp_path / "audio", meeting.id, fsync=False) as archive:
        archive.write_samples(tone.astype(np.float32))
    box.store.set_audio_path(meeting.id, str(archive.path))
    segment = {"t0_ms": 0, "t1_ms": 1500, "text_raw": "쿠버네티스 업그레이드", "language": "ko"}
    box.store.add_segments(meeting.id, [segment])
    return meeting.id


def snapshot(box: FakeBox, meeting_id: str) -> tuple[dict, list[str], bytes]:
    meeting = box.store.meeting(meeting_id)
    texts = [s.display_text for s in box.store.segments(meeting_id, limit=100)]
    return meeting.to_dict(), texts, Path(meeting.audio_path or "").read_bytes()


def test_the_archive_becomes_a_new_meeting_and_the_old_one_is_untouched(box: FakeBox, tmp_path: Path) -> None:
    old = recorded_meeting(box, tmp_path)
    english = recorded_meeting(box, tmp_path, language="en", title="Weekly sync")
    before = snapshot(box, old)
    with serving(box, TOKEN) as server:
        url = f"{server.url}/api/v1/meetings/{old}/retranscribe"
        assert httpx.post(url, timeout=30).status_code == 401
        response = httpx.post(url, headers=AUTH, timeout=30)
        assert response.status_code == 202, response.text
        body = response.json()
        other = httpx.post(f"{server.url}/api/v1/meetings/{english}/retranscribe", headers=AUTH, timeout=30).json()
        schema = httpx.get(server.url + "/api/v1/openapi.json", timeout=10).json()
    new = body["meeting"]
    assert new["id"] != old and new["status"] == "processing" and new["language"] == "ko"
    assert new["title"] == f"주간 인프라 회의 (다시 전사: {old})"
    assert other["meeting"]["title"] == f"Weekly sync (re-transcribed from {english})"
    archive_bytes = len(before[2])
    assert box.submitted[0][1] == archive_bytes == body["bytes"]  # the whole archive went to the file job
    assert snapshot(box, old) == before and before[1] == ["쿠버네티스 업그레이드"]
    assert list((box.store.path.parent / "uploads").glob("*")) == []  # the job owned the copy and deleted it
    assert "/api/v1/meetings/{meeting_id}/retranscribe" in schema["paths"]


def test_a_meeting_without_an_archive_is_refused_and_nothing_is_made(box: FakeBox, tmp_path: Path) -> None:
    imported = box.store.create_meeting(language="ko", source="import:test", title="가져온 회의", status="imported")
    meetings = len(box.store.meetings())
    with serving(box, TOKEN) as server:
        refused = httpx.post(f"{server.url}/api/v1/meetings/{imported.id}/retranscribe", headers=AUTH, timeout=30)
        unknown = httpx.post(f"{server.url}/api/v1/meetings/no-such-meeting/retranscribe", headers=AUTH, timeout=30)
    assert refused.status_code == 404 and "no audio archive" in refused.json()["detail"]
    assert unknown.status_code == 404
    assert len(box.store.meetings()) == meetings and box.submitted == []


def test_the_command_asks_the_running_box(box: FakeBox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = recorded_meeting(box, tmp_path)
    token_file = tmp_path / "api-token"
    token_file.write_text(TOKEN + "\n")
    with serving(box, TOKEN) as server:
        config = tmp_path / "edge.toml"
        config.write_text(f'[api]\nport = {server.port}\ntoken_file = "{token_file}"\n')
        assert main(["retranscribe", old, "--config", str(config)]) == 0
        new_id, status, title = capsys.readouterr().out.strip().split("\t")
        assert status == "processing" and title == f"주간 인프라 회의 (다시 전사: {old})"
        assert box.store.meeting(new_id).title == title

        assert main(["retranscribe", "no-such-meeting", "--config", str(config)]) != 0
        assert "the box refused" in capsys.readouterr().err
    assert main(["retranscribe", old, "--config", str(config)]) != 0  # the box has stopped
    assert "cannot reach the box" in capsys.readouterr().err


def old_meeting(box, meeting_id: str) -> tuple[dict, list[str]]:
    return box.store.meeting(meeting_id).to_dict(), [s.display_text for s in box.store.segments(meeting_id, limit=10)]


def test_the_real_box_transcribes_the_archive_again_with_its_current_model(
    tmp_path: Path, fixture_file: Callable[[str], Path], dev_model: Callable[[str], Path]
) -> None:
    """The real box (Whisper base through whisper.cpp, the file-job path) makes a new meeting of a recorded
    meeting's archive; the old meeting's lines (written by an older model, say) stay as they were."""
    from edge.api.app import create_app
    from edge.api.server import ApiServer
    from edge.app import Box
    from edge.core.config import ApiConfig, Config

    cfg = Config.model_validate({
        "storage": {"path": str(tmp_path / "data")}, "api": {"enabled": False}, "mqtt": {"enabled": False},
        "asr": {"model_path": str(dev_model("ggml-base.bin")), "threads": 2, "language": "en"},
        "vad": {"model_path": str(fixture_file("models/silero_vad_v6.2.onnx"))},
    })  # fmt: skip
    archive = tmp_path / "archive" / "recorded.wav"  # what the box archived while recording (16 kHz PCM WAV)
    archive.parent.mkdir()
    archive.write_bytes(fixture_file("audio/jfk.wav").read_bytes())
    box = Box(cfg)
    box.open()
    try:
        old = box.store.create_meeting(language="en", source="pyaudio:test", title="Inaugural address",
                                       status="stopped")  # fmt: skip
        box.store.set_audio_path(old.id, str(archive))
        box.store.add_segments(old.id, [{"t0_ms": 0, "t1_ms": 11000, "text_raw": "and so my fellow americas",
                                         "language": "en"}])  # fmt: skip
        before = old_meeting(box, old.id)
        server = ApiServer(create_app(box, ApiConfig(), TOKEN), "127.0.0.1", 0)
        server.start()
        try:
            response = httpx.post(f"{server.url}/api/v1/meetings/{old.id}/retranscribe", headers=AUTH, timeout=60)
        finally:
            server.stop()
        assert response.status_code == 202, response.text
        new_id = response.json()["meeting"]["id"]
        assert wait_until(lambda: box.store.meeting(new_id).status != "processing", WAIT_S)
        new = box.store.meeting(new_id)
        text = " ".join(s.display_text for s in box.store.segments(new_id, limit=100)).lower()
        after = old_meeting(box, old.id)
    finally:
        box.close()
    assert new.status == "stopped" and new.title == f"Inaugural address (re-transcribed from {old.id})", new
    assert "fellow americans" in text and "what your country can do for you" in text
    assert after == before and before[1] == ["and so my fellow americas"]
    assert archive.read_bytes() == fixture_file("audio/jfk.wav").read_bytes()


@pytest.mark.browser
def test_the_page_transcribes_a_recorded_meeting_again(driver, box: FakeBox, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 20)  # an upper bound for the page to react, not a performance expectation
    old = recorded_meeting(box, tmp_path)
    imported = box.store.create_meeting(language="ko", source="import:test", title="가져온 회의", status="imported")
    before = snapshot(box, old)
    with serving(box, TOKEN) as server:
        driver.get(server.url + "/#meetings")
        wait.until(ec.visibility_of_element_located((By.ID, "token-input"))).send_keys(TOKEN, Keys.ENTER)
        wait.until(ec.text_to_be_present_in_element((By.ID, "meetings-list"), imported.title))
        driver.find_element(By.XPATH, "//ul[@id='meetings-list']//button[contains(., '가져온 회의')]").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "detail-title"), "가져온 회의"))
        assert driver.find_elements(By.ID, "retranscribe-button") == []  # no archive, no button

        driver.find_element(By.XPATH, "//ul[@id='meetings-list']//button[contains(., '주간 인프라 회의')]").click()
        button = wait.until(ec.element_to_be_clickable((By.ID, "retranscribe-button")))
        assert button.text == "다시 전사"
        button.click()
        title = f"주간 인프라 회의 (다시 전사: {old})"
        wait.until(ec.text_to_be_present_in_element((By.ID, "detail-title"), title))
        assert driver.find_element(By.ID, "detail-error").text == ""
    [(name, size)] = box.submitted
    assert name.startswith("retranscribe-") and size == len(before[2])
    assert snapshot(box, old) == before
