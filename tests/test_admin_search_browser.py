"""Search across meetings in the admin page (headless Chromium, a Korean browser): a Korean word finds it
with a particle attached, an English term in any case, a two-letter word too; the matched words are
marked in the snippet (as text, never markup); a hit opens its meeting at the segment, a minutes hit at
the minutes. EDGE_SCREENSHOT_DIR keeps screenshots of the results."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_box import FakeBox, serving

from edge.minutes.schema import validate_minutes

pytestmark = pytest.mark.browser

TOKEN = "search-browser-token-0123456789abcdef"
WAIT_S = 20  # an upper bound for the page to react, not a performance expectation
HOSTILE = '<img src=x onerror="document.title=\'pwned\'">쿠버네티스 <b>PR</b>'
FILLER = [f"{n}번째 안건은 예산 검토입니다" for n in range(1, 250)]  # the hit is past the first page of segments


@pytest.fixture
def box(tmp_path: Path) -> Iterator[FakeBox]:
    fake = FakeBox(tmp_path / "box")
    yield fake
    fake.close()


def add_meeting(box: FakeBox, title: str, lines: list[str]) -> str:
    meeting = box.store.create_meeting(language="ko", source="import:test", title=title, status="imported")
    box.store.add_segments(meeting.id, [{"t0_ms": i * 3000, "t1_ms": i * 3000 + 2500, "text_raw": line,
                                         "language": "ko"} for i, line in enumerate(lines)])  # fmt: skip
    return meeting.id


def test_a_person_searches_all_meetings_and_opens_a_hit(driver, box: FakeBox) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_S)
    infra_lines = [*FILLER, "쿠버네티스를 다음 주에 업그레이드합니다", "JIRA 티켓은 지훈 씨가 정리해요"]
    infra = add_meeting(box, "주간 인프라 회의", infra_lines)
    deploy = add_meeting(box, "배포 회의", ["쿠버네티스가 또 재시작됐어요", HOSTILE, "PR 리뷰는 금요일까지"])
    minutes = {"v": 1, "meeting_id": deploy, "title": "배포 회의록", "summary": "Jira로 배포 일정을 관리합니다.",
               "language": "ko"}  # fmt: skip
    box.store.save_minutes(deploy, status="draft", minutes=validate_minutes(minutes).to_json_dict())

    def hits() -> list[tuple[str, str, list[str]]]:
        return driver.execute_script(
            "return [...document.querySelectorAll('#search-results li')].map((li) => [li.dataset.meeting, "
            "li.dataset.seq, [...li.querySelectorAll('mark')].map((m) => m.textContent)])"
        )

    def search(query: str) -> None:
        field = driver.find_element(By.ID, "search-input")
        field.clear()
        field.send_keys(query, Keys.ENTER)

    with serving(box, TOKEN) as server:
        driver.get(server.url + "/#meetings")
        wait.until(ec.visibility_of_element_located((By.ID, "token-input"))).send_keys(TOKEN, Keys.ENTER)
        wait.until(ec.text_to_be_present_in_element((By.ID, "meetings-list"), "주간 인프라 회의"))
        assert driver.find_element(By.ID, "search-input").get_attribute("placeholder").startswith("모든 회의 검색")

        # a Korean word: found with the particles attached, each match marked
        search("쿠버네티스")
        wait.until(lambda _: len(hits()) == 3)
        assert sorted(hits()) == sorted([[infra, "249", ["쿠버네티스"]], [deploy, "0", ["쿠버네티스"]],
                                         [deploy, "1", ["쿠버네티스"]]])  # fmt: skip
        assert driver.find_elements(By.CSS_SELECTOR, "#search-results img, #search-results b") == []
        assert driver.title != "pwned"
        assert "검색 결과 3건" in driver.find_element(By.ID, "search-summary").text
        snippet = driver.find_element(By.CSS_SELECTOR, '#search-results li[data-seq="249"] .snippet')
        assert snippet.text == "쿠버네티스를 다음 주에 업그레이드합니다"
        assert snippet.get_attribute("lang") == "ko"
        if os.environ.get("EDGE_SCREENSHOT_DIR"):
            driver.save_screenshot(str(Path(os.environ["EDGE_SCREENSHOT_DIR"]) / "admin-search-korean.png"))

        # open the hit: its meeting, scrolled to the segment (past the first page), highlighted
        driver.find_element(By.CSS_SELECTOR, '#search-results li[data-seq="249"] button').click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "detail-title"), "주간 인프라 회의"))
        segment = wait.until(
            ec.presence_of_element_located((By.CSS_SELECTOR, '#detail-segments li[data-seq="249"].highlight'))
        )
        assert segment.find_element(By.CSS_SELECTOR, ".text").text == "쿠버네티스를 다음 주에 업그레이드합니다"

        # an English term in another case: the segment and the minutes that mention it
        search("jira")
        wait.until(lambda _: len(hits()) == 2)
        assert hits() == [[deploy, "", ["Jira"]], [infra, "250", ["JIRA"]]]
        assert "회의록" in driver.find_element(By.CSS_SELECTOR, "#search-results li:first-child").text
        if os.environ.get("EDGE_SCREENSHOT_DIR"):
            driver.save_screenshot(str(Path(os.environ["EDGE_SCREENSHOT_DIR"]) / "admin-search-english.png"))
        # (clicked by script: the page may still be scrolling smoothly to the segment opened before)
        driver.execute_script("arguments[0].click()", driver.find_element(By.CSS_SELECTOR, "#search-results button"))
        wait.until(ec.text_to_be_present_in_element((By.ID, "detail-title"), "배포 회의"))
        wait.until(ec.text_to_be_present_in_element((By.ID, "minutes-view"), "Jira로 배포 일정을 관리합니다."))

        # a two-letter word, and nothing found
        search("pr")
        wait.until(lambda _: [hit[:2] for hit in hits()] == [[deploy, "1"], [deploy, "2"]])
        search("없는낱말")
        wait.until(ec.text_to_be_present_in_element((By.ID, "search-summary"), "결과가 없습니다"))
        assert hits() == []
        search(" ,, ")
        wait.until(ec.text_to_be_present_in_element((By.ID, "meetings-error"), "검색할 낱말을 입력하세요"))
        driver.find_element(By.ID, "search-clear").click()
        assert not driver.find_element(By.ID, "search-box").is_displayed()

        errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
