"""Listening to a segment: GET /api/v1/meetings/{id}/audio serves the meeting's archive (written by the
real MeetingAudioArchive) with HTTP range requests, behind the token like the rest; in the admin page
(headless Chromium) a segment's play button fetches exactly that segment's bytes, plays them, and the
following segments play after it with the playing one marked (follow-along). EDGE_SCREENSHOT_DIR keeps a
screenshot of a segment playing."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fake_box import AUTH, FakeBox, serving

from edge.audio.archive import HEADER_BYTES, MeetingAudioArchive
from edge.core.events import SAMPLE_RATE

TOKEN = "audio-browser-token-0123456789abcdef"
WAIT_S = 20  # an upper bound for the page to react, not a performance expectation
LINES = ("회의를 시작하겠습니다", "쿠버네티스 업그레이드는 다음 주에 합니다", "Jira 티켓은 지훈 씨가 정리해 주세요")
SEGMENT_MS = 1200


@pytest.fixture
def box(tmp_path: Path) -> Iterator[FakeBox]:
    fake = FakeBox(tmp_path / "box")
    yield fake
    fake.close()


def recorded_meeting(box: FakeBox, tmp_path: Path, *, seconds: float = 4.0) -> tuple[str, np.ndarray]:
    """A meeting with an archive of `seconds` of a 440 Hz tone, and one segment every SEGMENT_MS; returns
    its id and the 16-bit samples the archive holds."""
    tone = 0.25 * np.sin(np.arange(int(seconds * SAMPLE_RATE)) * 2 * np.pi * 440 / SAMPLE_RATE)
    meeting = box.store.create_meeting(language="ko", source="pyaudio:test", title="주간 인프라 회의", status="stopped")
    with MeetingAudioArchive(tmp_path / "audio", meeting.id, fsync=False) as archive:
        archive.write_samples(tone.astype(np.float32))
    samples = np.round(tone * 32767).astype(np.int16)  # what the archive stores
    box.store.set_audio_path(meeting.id, str(archive.path))
    segments = [{"t0_ms": i * SEGMENT_MS, "t1_ms": (i + 1) * SEGMENT_MS - 200, "text_raw": line, "language": "ko"}
                for i, line in enumerate(LINES)]  # fmt: skip
    box.store.add_segments(meeting.id, segments)
    return meeting.id, samples


def test_the_archive_is_served_by_range_behind_the_token(box: FakeBox, tmp_path: Path) -> None:
    meeting_id, samples = recorded_meeting(box, tmp_path)
    imported = box.store.create_meeting(language="ko", source="import:test", status="imported")
    with serving(box, TOKEN) as server:
        url = f"{server.url}/api/v1/meetings/{meeting_id}/audio"
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.get(url, timeout=10).status_code == 401
        assert httpx.get(url, headers=AUTH, timeout=10).status_code == 401  # another box's token

        whole = httpx.get(url, headers=auth, timeout=10)
        assert whole.status_code == 200 and whole.headers["content-type"] == "audio/wav"
        assert whole.headers["accept-ranges"] == "bytes"
        assert len(whole.content) == HEADER_BYTES + 2 * len(samples)

        first, last = HEADER_BYTES + 2 * 16000, HEADER_BYTES + 2 * 19200 - 1  # 1.0 s to 1.2 s
        part = httpx.get(url, headers={**auth, "Range": f"bytes={first}-{last}"}, timeout=10)
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes {first}-{last}/{len(whole.content)}"
        assert np.array_equal(np.frombuffer(part.content, dtype="<i2"), samples[16000:19200])

        beyond = httpx.get(url, headers={**auth, "Range": f"bytes={len(whole.content) + 10}-"}, timeout=10)
        assert beyond.status_code == 416
        meetings = httpx.get(f"{server.url}/api/v1/meetings", headers=auth, timeout=10).json()["items"]
        assert {m["id"]: m["has_audio"] for m in meetings} == {meeting_id: True, imported.id: False}
        missing = httpx.get(f"{server.url}/api/v1/meetings/{imported.id}/audio", headers=auth, timeout=10)
        assert missing.status_code == 404 and "has no audio archive" in missing.json()["detail"]
        assert httpx.get(f"{server.url}/api/v1/meetings/nope/audio", headers=auth, timeout=10).status_code == 404
        operation = httpx.get(f"{server.url}/api/v1/openapi.json", timeout=10).json()["paths"][
            "/api/v1/meetings/{meeting_id}/audio"]["get"]  # fmt: skip
        assert "Range" in operation["description"] and "206" in operation["responses"]


@pytest.mark.browser
def test_a_person_listens_to_a_segment_and_the_next_ones_follow(
    driver, box: FakeBox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    caplog.set_level(logging.INFO, logger="edge.api.routes_audio")
    wait = WebDriverWait(driver, WAIT_S)
    recorded_meeting(box, tmp_path)
    box.store.create_meeting(language="ko", source="import:test", title="가져온 회의", status="imported")

    def playing() -> list[str]:
        return driver.execute_script(
            "return [...document.querySelectorAll('#detail-segments li.playing')].map((li) => li.dataset.seq)"
        )

    def ranges() -> list[str]:
        return [m.group(1) for r in caplog.records if (m := re.search(r"bytes=(\S+)", r.getMessage()))]

    with serving(box, TOKEN) as server:
        driver.get(server.url + "/#meetings")
        wait.until(ec.visibility_of_element_located((By.ID, "token-input"))).send_keys(TOKEN, Keys.ENTER)

        # an imported meeting has no archive: no play buttons
        wait.until(ec.text_to_be_present_in_element((By.ID, "meetings-list"), "가져온 회의"))
        driver.find_element(By.XPATH, "//ul[@id='meetings-list']//button[contains(., '가져온 회의')]").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "detail-title"), "가져온 회의"))
        assert driver.find_elements(By.CSS_SELECTOR, "#detail-segments .play") == []

        driver.find_element(By.XPATH, "//ul[@id='meetings-list']//button[contains(., '주간 인프라 회의')]").click()
        wait.until(lambda _: len(driver.find_elements(By.CSS_SELECTOR, "#detail-segments .play")) == 3)
        button = driver.find_element(By.CSS_SELECTOR, '#detail-segments li[data-seq="1"] .play')
        assert button.get_attribute("aria-label") == "1번 발언 듣기"
        caplog.clear()
        button.click()
        wait.until(lambda _: playing() == ["1"])
        if os.environ.get("EDGE_SCREENSHOT_DIR"):
            driver.save_screenshot(str(Path(os.environ["EDGE_SCREENSHOT_DIR"]) / "admin-segment-playing.png"))
        # only segment 1's bytes were fetched: 1200 ms to 2200 ms at 16 kHz, 2 bytes a sample (the button
        # shows "playing" at the click; the request may be logged a moment later on a busy machine)
        wait.until(lambda _: ranges())
        assert ranges()[0] == f"{HEADER_BYTES + 2 * 19200}-{HEADER_BYTES + 2 * 35200 - 1}"
        # follow-along: segment 2 plays after it, then the end of the transcript stops
        wait.until(lambda _: playing() == ["2"] and len(ranges()) >= 2)
        assert ranges()[1] == f"{HEADER_BYTES + 2 * 38400}-{HEADER_BYTES + 2 * 54400 - 1}"
        wait.until(lambda _: playing() == [])
        assert len(ranges()) == 2
        assert driver.find_element(By.ID, "detail-error").text == ""

        # stopping: the same button, now "■"
        driver.find_element(By.CSS_SELECTOR, '#detail-segments li[data-seq="0"] .play').click()
        wait.until(lambda _: playing() == ["0"])
        stop = driver.find_element(By.CSS_SELECTOR, '#detail-segments li[data-seq="0"] .play')
        assert stop.text == "■"
        stop.click()
        wait.until(lambda _: playing() == [])

        errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
