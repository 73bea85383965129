"""The admin page in headless Chromium, used as a person would: log in with the token, start a meeting,
watch a partial and then committed segments appear live, edit one inline, browse the meeting, stop it.

Chromium and chromedriver come from the system packages (EDGE_CHROMIUM / EDGE_CHROMEDRIVER override the
paths); selenium is given the driver explicitly so it never tries to download one. Missing browser:
the test fails in CI and is skipped elsewhere. EDGE_SCREENSHOT_DIR keeps a copy of the screenshot.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_box import FakeBox, serving

pytestmark = pytest.mark.browser

TOKEN = "browser-test-token-0123456789abcdef"
WAIT_S = 20  # an upper bound for the page to react, not a performance expectation


@pytest.fixture
def box(tmp_path: Path) -> Iterator[FakeBox]:
    fake = FakeBox(tmp_path / "box")
    yield fake
    fake.close()


def test_a_person_runs_a_meeting_from_the_admin_page(driver, box: FakeBox, tmp_path: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_S)

    def visible(element_id: str):
        return wait.until(ec.visibility_of_element_located((By.ID, element_id)))

    def live_texts() -> list[str]:
        # Read in one script call: the page re-renders items, so element handles can go stale in between.
        return driver.execute_script(
            "return [...document.querySelectorAll('#live-segments li .text')].map((e) => e.textContent)"
        )

    with serving(box, TOKEN) as server:
        driver.get(server.url + "/")

        # log in: a wrong token is refused, the right one opens the page
        visible("token-input").send_keys("not-the-token-at-all")
        driver.find_element(By.ID, "login-button").click()
        # the Korean page: the browser prefers ko-KR
        wait.until(ec.text_to_be_present_in_element((By.ID, "login-error"), "토큰이 맞지 않습니다"))
        driver.find_element(By.ID, "token-input").clear()
        driver.find_element(By.ID, "token-input").send_keys(TOKEN)
        driver.find_element(By.ID, "login-button").click()
        visible("start-button")
        wait.until(ec.text_to_be_present_in_element((By.ID, "live-connection"), "연결됨"))
        assert driver.find_element(By.ID, "state-badge").text == "대기 중"

        # start a meeting
        driver.find_element(By.ID, "meeting-title-input").send_keys("주간 인프라 회의")
        driver.find_element(By.ID, "start-button").click()
        visible("stop-button")
        wait.until(lambda _: box.recording_id is not None)
        wait.until(ec.text_to_be_present_in_element((By.ID, "state-badge"), "녹음 중"))
        meeting_id = box.recording_id
        assert box.store.meeting(meeting_id).title == "주간 인프라 회의"

        # live: a partial (greyed), then committed segments replace it
        box.inject_partial("쿠버네티스 클러스터를 업그레")
        wait.until(ec.text_to_be_present_in_element((By.ID, "live-partial"), "쿠버네티스 클러스터를 업그레"))
        assert driver.find_element(By.CSS_SELECTOR, "#live-partial").value_of_css_property("font-style") == "italic"
        wait.until(lambda _: driver.find_element(By.ID, "live-partial").get_attribute("lang") == "ko")
        box.inject_segment("쿠버네티스 클러스터를 업그레이드합니다")
        wait.until(lambda _: live_texts() == ["쿠버네티스 클러스터를 업그레이드합니다"])
        assert driver.find_element(By.CSS_SELECTOR, "#live-segments li .text").get_attribute("lang") == "ko"
        assert driver.find_element(By.ID, "live-partial").text == ""
        hostile = '<img src=x onerror="document.title=\'pwned\'">배포는 금요일 & <b>PR</b> 리뷰'
        box.inject_segment(hostile)
        box.inject_segment("다음 주까지 Jira 티켓 정리해 주세요")
        wait.until(lambda _: len(live_texts()) == 3)
        assert live_texts()[1] == hostile  # shown as text, never parsed as HTML
        assert driver.find_elements(By.CSS_SELECTOR, "#live-segments img, #live-segments b") == []
        assert driver.title != "pwned"
        assert "null" not in driver.find_element(By.ID, "live-segments").text
        box.inject_partial("그리고 마지막으로")
        wait.until(ec.text_to_be_present_in_element((By.ID, "live-partial"), "그리고 마지막으로"))

        screenshot = tmp_path / "admin-live.png"
        assert driver.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 10_000
        if os.environ.get("EDGE_SCREENSHOT_DIR"):
            shutil.copy(screenshot, Path(os.environ["EDGE_SCREENSHOT_DIR"]) / "admin-live.png")

        # edit a segment inline
        first = driver.find_element(By.CSS_SELECTOR, '#live-segments li[data-seq="0"]')
        ActionChains(driver).move_to_element(first).perform()
        first.find_element(By.CSS_SELECTOR, "button.edit").click()
        field = first.find_element(By.CSS_SELECTOR, "textarea.edit-input")
        field.clear()
        field.send_keys("Kubernetes 클러스터를 업그레이드합니다", Keys.ENTER)
        wait.until(lambda _: box.store.segments(meeting_id)[0].display_text == "Kubernetes 클러스터를 업그레이드합니다")
        wait.until(lambda _: live_texts()[0] == "Kubernetes 클러스터를 업그레이드합니다")
        assert box.store.segments(meeting_id)[0].text_raw == "쿠버네티스 클러스터를 업그레이드합니다"

        # stop it
        driver.find_element(By.ID, "stop-button").click()
        visible("start-button")
        wait.until(ec.text_to_be_present_in_element((By.ID, "state-badge"), "대기 중"))
        assert box.state()["state"] == "idle"
        assert box.store.meeting(meeting_id).status == "stopped"

        # browse it in the meeting list and detail
        driver.find_element(By.ID, "tab-meetings").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "meetings-list"), "주간 인프라 회의"))
        driver.find_element(By.CSS_SELECTOR, "#meetings-list button.meeting").click()
        wait.until(lambda _: len(driver.find_elements(By.CSS_SELECTOR, "#detail-segments li")) == 3)
        assert "종료됨" in driver.find_element(By.ID, "detail-meta").text
        exports = [b.text for b in driver.find_elements(By.CSS_SELECTOR, "#detail-exports button")]
        assert exports == ["txt", "md", "srt", "vtt", "json"]
        if os.environ.get("EDGE_SCREENSHOT_DIR"):
            driver.set_window_size(820, 1180)  # a tablet, portrait
            driver.save_screenshot(str(Path(os.environ["EDGE_SCREENSHOT_DIR"]) / "admin-meetings-tablet.png"))

        # health at a glance: one verdict line, values in words, the header's state, raw counters folded away
        driver.find_element(By.ID, "tab-health").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "health-verdict"), "정상: 박스가 제때 처리하고 있습니다"))
        assert driver.find_element(By.ID, "health-state").text == driver.find_element(By.ID, "state-badge").text
        assert "실시간 배율 0.25 (1보다 작으면 따라잡음)" in driver.find_element(By.ID, "health-summary").text
        assert not driver.find_element(By.ID, "health-list").is_displayed()
        driver.find_element(By.CSS_SELECTOR, ".health-details summary").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "health-list"), "asr_pending"))
        box.health_overrides = {"rtf": 1.6, "queues": {"asr_pending": 9}, "drops": {"asr_utterances": 3}}
        wait.until(ec.text_to_be_present_in_element((By.ID, "health-verdict"), "주의: "))
        verdict = driver.find_element(By.ID, "health-verdict").text
        assert "음성 인식이 말하는 속도보다 느립니다 (실시간 배율 1.6)" in verdict
        assert "발화 9개가 인식을 기다립니다" in verdict and "오디오 3개가 버려졌습니다" in verdict
        warned = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#health-summary dd.warn")]
        assert warned == ["실시간 배율 1.6 (1보다 작으면 따라잡음)", "9개", "3개"]
        if os.environ.get("EDGE_SCREENSHOT_DIR"):
            driver.save_screenshot(str(Path(os.environ["EDGE_SCREENSHOT_DIR"]) / "admin-health-ko.png"))
        # a full disk (issue 17, finding 2): the box's problems in the reader's words, the free space beside them
        disk_full = {"code": "disk_full", "severity": "error", "free_mb": 0.0, "critical_mb": 256,
                     "message": "disk full: 0 MB free under storage.path"}  # fmt: skip
        box.health_overrides = {"status": "error", "problems": [disk_full], "disk": {"free_mb": 0.0, "level": "full"}}
        wait.until(ec.text_to_be_present_in_element((By.ID, "health-verdict"), "동작 안 함: "))
        verdict = driver.find_element(By.ID, "health-verdict").text
        assert "디스크가 찼습니다 (남은 공간 0 MB): 회의 음성은 녹음하지 않고 전사는 계속합니다" in verdict, verdict
        summary = driver.find_element(By.ID, "health-summary").text
        assert "남은 디스크 공간" in summary and "동작 안 함" in summary, summary
        # a health report that disagrees with the header makes the page read the state again; both show it
        box.health_overrides = {"state": "recording"}
        wait.until(ec.text_to_be_present_in_element((By.ID, "health-verdict"), "정상: "))
        assert driver.find_element(By.ID, "health-state").text == driver.find_element(By.ID, "state-badge").text
        assert driver.find_element(By.ID, "state-badge").text == "대기 중"  # /state says idle

        errors = [
            entry["message"]
            for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" and "status of 401" not in entry["message"]  # the wrong token above
        ]
        assert errors == []  # no script errors, no blocked resources (the page works offline under its CSP)
