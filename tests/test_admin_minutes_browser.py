"""The minutes view of the admin page in headless Chromium, used as a person would: open a meeting, ask
for its minutes and watch the progress and the partial output stream in, read the draft (summary,
decisions, a to-do table whose evidence links scroll to the cited segment), edit it (a bad edit is
refused with the field named), approve it, and see it published; set the attendees.

The minutes are written by the real generator (edge.minutes.generate) with FakeBox's scripted engine, which
holds halfway through its answer until the test lets it go, so the progress can be seen.

Chromium and chromedriver come from the system packages (EDGE_CHROMIUM / EDGE_CHROMEDRIVER override the
paths); selenium is given the driver explicitly so it never tries to download one. Missing browser: the
test fails in CI and is skipped elsewhere. EDGE_SCREENSHOT_DIR keeps copies of the screenshots.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_box import FakeBox, serving

from edge.minutes.due_dates import find_due
from edge.minutes.extractive import meeting_day_of
from edge.minutes.schema import validate_minutes

pytestmark = pytest.mark.browser

TOKEN = "minutes-browser-token-0123456789abcdef"
WAIT_S = 20  # an upper bound for the page to react, not a performance expectation
HOSTILE = '<img src=x onerror="document.title=\'pwned\'">배포는 금요일 & <b>PR</b> 리뷰'
OWN_DECISION = "운영 업그레이드는 재시작 문제 해결 후 진행"
LINES = (
    HOSTILE,
    "Kubernetes 업그레이드는 재시작 문제를 해결한 다음에 진행하겠습니다.",
    "Grafana 대시보드를 보면 메모리 사용량이 늘었어요.",
    "지훈 씨가 다음 주 수요일까지 원인을 정리해 주세요.",
)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[FakeBox]:
    fake = FakeBox(tmp_path / "box")
    yield fake
    fake.close()


def minutes_rows(box: FakeBox) -> list[dict]:
    return [row.payload for row in box.store.pending_outbox(limit=10_000) if row.kind == "minutes"]


def test_a_person_reviews_edits_and_approves_the_minutes(driver, box: FakeBox, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_S)
    screenshots = Path(os.environ.get("EDGE_SCREENSHOT_DIR", "")) if os.environ.get("EDGE_SCREENSHOT_DIR") else None

    def shot(name: str) -> None:
        # The minutes section at the top of the window, below the sticky bar.
        driver.execute_script("document.getElementById('minutes').scrollIntoView(); window.scrollBy(0, -80)")
        path = tmp_path / name
        assert driver.save_screenshot(str(path))
        assert path.stat().st_size > 10_000
        if screenshots is not None:
            shutil.copy(path, screenshots / name)

    def status() -> str:
        return driver.find_element(By.ID, "minutes-status").text

    def table_rows() -> list[list[str]]:
        return driver.execute_script(
            "return [...document.querySelectorAll('#minutes-view table.todo tbody tr')]"
            ".map((tr) => [...tr.cells].map((td) => td.textContent))"
        )

    meeting_id = box.start_meeting(title="주간 인프라 회의").id
    for line in LINES:
        box.inject_segment(line)
    box.stop_meeting()

    with serving(box, TOKEN) as server:
        driver.get(server.url + "/#meetings")
        # This test reads the English texts: the language choice is remembered (the browser says ko-KR).
        driver.execute_script("localStorage.setItem('edge.language', 'en')")
        driver.refresh()
        wait.until(ec.visibility_of_element_located((By.ID, "token-input"))).send_keys(TOKEN, Keys.ENTER)
        # the live stream (in the hidden live panel) brings the minutes' progress
        wait.until(lambda _: driver.execute_script("return document.getElementById('live-connection').textContent")
                   == "connected")  # fmt: skip
        wait.until(ec.text_to_be_present_in_element((By.ID, "meetings-list"), "주간 인프라 회의"))
        driver.find_element(By.CSS_SELECTOR, "#meetings-list button.meeting").click()
        wait.until(lambda _: len(driver.find_elements(By.CSS_SELECTOR, "#detail-segments li")) == len(LINES))
        assert status() == "Not written yet"

        # attendees: owners are resolved against them when the minutes are written
        attendees = driver.find_element(By.ID, "attendees-input")
        attendees.send_keys("박지훈, 이지은,  김민수 ", Keys.ENTER)
        wait.until(ec.text_to_be_present_in_element((By.ID, "attendees-result"), "Saved 3 attendees"))
        assert box.store.attendees(meeting_id) == ["박지훈", "이지은", "김민수"]

        # write them, and watch: the scripted model holds halfway through its answer
        box.minutes_gate = threading.Event()
        driver.find_element(By.ID, "minutes-generate-button").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "minutes-partial"), '{"title": "주간 회의"'))
        assert driver.find_element(By.ID, "minutes-progress").is_displayed()
        assert "Writing the minutes" in driver.find_element(By.ID, "minutes-progress-label").text
        assert status() == "Being written…"
        assert not driver.find_element(By.ID, "minutes-generate-button").is_enabled()
        shot("admin-minutes-progress.png")
        box.minutes_gate.set()

        # the draft, rendered
        wait.until(lambda _: status() == "Draft: awaiting approval")
        assert not driver.find_element(By.ID, "minutes-progress").is_displayed()
        view = driver.find_element(By.ID, "minutes-view")
        assert view.find_element(By.CSS_SELECTOR, "h4").text == "주간 회의"
        assert "4개의 발언을 정리했습니다" in view.find_element(By.CSS_SELECTOR, ".minutes-summary").text
        decisions = view.find_elements(By.CSS_SELECTOR, ".minutes-decisions li")
        assert len(decisions) == 1 and decisions[0].text.startswith(HOSTILE)  # shown as text, never as HTML
        assert driver.find_elements(By.CSS_SELECTOR, "#minutes img, #minutes b") == []
        assert driver.title != "pwned"
        # The scripted model left owner and due open; the cross-check filled them from the cited request.
        day = meeting_day_of(box.store.meeting(meeting_id).started_at)
        due = find_due(LINES[3], day).render()  # type: ignore[union-attr]
        wait.until(lambda _: table_rows() == [["1", LINES[3], "박지훈", due, "#3 00:06", "60%"]])
        assert driver.find_element(By.ID, "minutes-approve-button").is_displayed()
        assert minutes_rows(box) == []

        # an evidence link scrolls to the cited segment and highlights it
        view.find_element(By.CSS_SELECTOR, 'table.todo button.evidence-link[data-seq="3"]').click()
        cited = driver.find_element(By.CSS_SELECTOR, '#detail-segments li[data-seq="3"]')
        wait.until(lambda _: "highlight" in cited.get_attribute("class"))
        shot("admin-minutes-draft.png")

        # edit: a bad evidence number is refused, naming the problem; nothing is published
        driver.find_element(By.ID, "minutes-edit-button").click()
        row = wait.until(
            ec.visibility_of_element_located((By.CSS_SELECTOR, 'li.edit-item[data-list="action_items"]'))
        )
        owner = row.find_element(By.CSS_SELECTOR, 'input[name="owner"]')
        owner.clear()
        owner.send_keys("박지훈")
        due_input = row.find_element(By.CSS_SELECTOR, 'input[name="due"]')
        due_input.clear()
        due_input.send_keys("다음 주 수요일")
        evidence = row.find_element(By.CSS_SELECTOR, 'input[name="evidence"]')
        evidence.clear()
        evidence.send_keys("3, 99")
        driver.find_element(By.ID, "minutes-save-button").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "minutes-error"), "#99"))
        assert box.store.minutes(meeting_id).status == "draft" and minutes_rows(box) == []
        evidence.clear()
        evidence.send_keys("3")
        # a decision of the person's own, citing segment 1
        driver.find_element(By.XPATH, "//button[text()='Add decision']").click()
        added = driver.find_elements(By.CSS_SELECTOR, 'li.edit-item[data-list="decisions"]')[-1]
        added.find_element(By.CSS_SELECTOR, 'input[name="text"]').send_keys(OWN_DECISION)
        added.find_element(By.CSS_SELECTOR, 'input[name="evidence"]').send_keys("1")
        title = driver.find_element(By.ID, "minutes-title-input")
        title.clear()
        title.send_keys("주간 인프라 회의록")
        shot("admin-minutes-edit.png")

        # approve the edited minutes: published once, and the page says so
        driver.find_element(By.ID, "minutes-save-button").click()
        wait.until(lambda _: status() == "Approved and published")
        assert driver.find_element(By.ID, "minutes-error").text == ""
        assert driver.find_element(By.CSS_SELECTOR, "#minutes-view h4").text == "주간 인프라 회의록"
        assert table_rows() == [["1", LINES[3], "박지훈", "다음 주 수요일", "#3 00:06", "60%"]]
        decisions = driver.find_elements(By.CSS_SELECTOR, "#minutes-view .minutes-decisions li")
        assert len(decisions) == 2 and decisions[1].text.startswith(OWN_DECISION)
        assert not driver.find_element(By.ID, "minutes-approve-button").is_displayed()
        record = box.store.minutes(meeting_id)
        assert record.status == "approved"
        document = validate_minutes(record.minutes, meeting_id=meeting_id, known_seqs=range(len(LINES)))
        assert (document.title, document.action_items[0].owner, document.action_items[0].due) == (
            "주간 인프라 회의록", "박지훈", "다음 주 수요일"
        )  # fmt: skip
        assert [(d.text, d.evidence) for d in document.decisions][1:] == [(OWN_DECISION, [1])]
        assert minutes_rows(box) == [record.minutes]
        shot("admin-minutes-approved.png")

        # reopening the meeting shows the stored state
        driver.refresh()
        wait.until(ec.text_to_be_present_in_element((By.ID, "meetings-list"), "주간 인프라 회의"))
        driver.find_element(By.CSS_SELECTOR, "#meetings-list button.meeting").click()
        wait.until(lambda _: status() == "Approved and published")
        assert driver.find_element(By.ID, "attendees-input").get_attribute("value") == "박지훈, 이지은, 김민수"

        refused_edit = "/minutes/approve - Failed to load resource: the server responded with a status of 422"
        errors = [
            entry["message"]
            for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" and refused_edit not in entry["message"]
        ]
        assert errors == []  # no script errors, no blocked resources (the page works offline under its CSP)


def test_a_person_asks_the_meeting_and_follows_a_citation(driver, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    box = FakeBox(tmp_path / "box", llm=False)
    wait = WebDriverWait(driver, WAIT_S)
    box.start_meeting(title="주간 인프라 회의")
    for line in LINES:
        box.inject_segment(line)
    box.stop_meeting()
    try:
        with serving(box, TOKEN) as server:
            driver.get(server.url + "/#meetings")
            wait.until(ec.visibility_of_element_located((By.ID, "token-input"))).send_keys(TOKEN, Keys.ENTER)
            wait.until(ec.text_to_be_present_in_element((By.ID, "meetings-list"), "주간 인프라 회의"))
            driver.find_element(By.CSS_SELECTOR, "#meetings-list button.meeting").click()
            wait.until(lambda _: len(driver.find_elements(By.CSS_SELECTOR, "#detail-segments li")) == len(LINES))
            driver.find_element(By.ID, "ask-input").send_keys("재시작 원인은 누가 언제까지 정리하나요?", Keys.ENTER)
            wait.until(ec.text_to_be_present_in_element((By.ID, "ask-answer-text"), "담당: 지훈"))
            assert "LLM이 설정되지 않았습니다" in driver.find_element(By.ID, "ask-answer-note").text
            link = driver.find_element(By.CSS_SELECTOR, '#ask-citations button.evidence-link[data-seq="3"]')
            link.click()
            cited = driver.find_element(By.CSS_SELECTOR, '#detail-segments li[data-seq="3"]')
            wait.until(lambda _: "highlight" in cited.get_attribute("class"))
    finally:
        box.close()
