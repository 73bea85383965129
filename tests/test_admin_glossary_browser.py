"""The admin page's glossary in headless Chromium, used as a person would: fix a term in a meeting's
transcript, see the suggestion it made, accept it, and see the alias listed under the term; then add,
search, edit and delete terms and import a CSV file.

Chromium and chromedriver come from the system packages (EDGE_CHROMIUM / EDGE_CHROMEDRIVER override the
paths); selenium is given the driver explicitly so it never tries to download one. Missing browser: the
test fails in CI and is skipped elsewhere. EDGE_SCREENSHOT_DIR keeps a copy of the screenshot.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_box import FakeBox, serving

pytestmark = pytest.mark.browser

TOKEN = "glossary-browser-token-0123456789abcdef"
WAIT_S = 20  # an upper bound for the page to react, not a performance expectation
HOSTILE = '<img src=x onerror="document.title=\'pwned\'"> & <b>note</b>'


@pytest.fixture
def box(tmp_path: Path) -> Iterator[FakeBox]:
    fake = FakeBox(tmp_path / "box")
    yield fake
    fake.close()


def test_a_person_teaches_the_glossary_from_a_transcript(driver, box: FakeBox, tmp_path: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_S)

    def visible(element_id: str):
        return wait.until(ec.visibility_of_element_located((By.ID, element_id)))

    def script(code: str):
        # One script call reads a consistent snapshot: the page re-renders lists between calls.
        return driver.execute_script(code)

    def term_rows() -> dict[str, dict]:
        return {
            row["term"]: row
            for row in script(
                "return [...document.querySelectorAll('#glossary-terms li[data-term]')].map((li) => ({"
                "term: li.querySelector('.term').textContent,"
                "aliases: [...li.querySelectorAll('.alias')].map((a) => a.textContent),"
                "note: li.querySelector('.note') ? li.querySelector('.note').textContent : ''}))"
            )
        }

    box.store.upsert_term("Kubernetes", ["쿠버네티스"], note="컨테이너 오케스트레이션")
    box.store.upsert_term("Notion", ["노션"], note=HOSTILE)
    meeting = box.start_meeting(title="인프라 회의")
    box.inject_segment("쿠베 클러스터를 재시작했어요")
    box.inject_segment("노드 두 대가 죽었어요")
    box.stop_meeting()

    with serving(box, TOKEN) as server:
        driver.get(server.url + "/#meetings")
        # This test reads the English texts: the language choice is remembered (the browser says ko-KR).
        driver.execute_script("localStorage.setItem('edge.language', 'en')")
        driver.refresh()
        visible("token-input").send_keys(TOKEN)
        driver.find_element(By.ID, "login-button").click()

        # Fix the term in the meeting's transcript.
        wait.until(ec.text_to_be_present_in_element((By.ID, "meetings-list"), "인프라 회의"))
        driver.find_element(By.CSS_SELECTOR, "#meetings-list button.meeting").click()
        wait.until(lambda _: len(driver.find_elements(By.CSS_SELECTOR, "#detail-segments li")) == 2)
        first = driver.find_element(By.CSS_SELECTOR, '#detail-segments li[data-seq="0"]')
        ActionChains(driver).move_to_element(first).perform()
        first.find_element(By.CSS_SELECTOR, "button.edit").click()
        field = first.find_element(By.CSS_SELECTOR, "textarea.edit-input")
        field.clear()
        field.send_keys("Kubernetes 클러스터를 재시작했어요", Keys.ENTER)
        wait.until(lambda _: box.store.segments(meeting.id)[0].display_text == "Kubernetes 클러스터를 재시작했어요")

        # The page says a suggestion was made, and leads to it.
        visible("toast")
        wait.until(ec.text_to_be_present_in_element((By.ID, "toast-text"), "쿠베 → Kubernetes"))
        if os.environ.get("EDGE_SCREENSHOT_DIR"):
            driver.save_screenshot(str(Path(os.environ["EDGE_SCREENSHOT_DIR"]) / "admin-glossary-hint.png"))
        driver.find_element(By.XPATH, "//div[@id='toast']//button[text()='Review']").click()
        visible("panel-glossary")
        assert driver.find_element(By.ID, "toast").is_displayed() is False
        wait.until(ec.text_to_be_present_in_element((By.ID, "suggestions-list"), "쿠베"))
        suggestion = driver.find_element(By.CSS_SELECTOR, "#suggestions-list li[data-suggestion]")
        assert suggestion.find_element(By.CSS_SELECTOR, ".alias").text == "쿠베"
        assert suggestion.find_element(By.CSS_SELECTOR, ".term").text == "Kubernetes"
        assert f"segment 0 of meeting {meeting.id}" in suggestion.text
        assert driver.find_element(By.ID, "suggestions-count").text == "1 pending"

        # Untrusted text is shown as text.
        wait.until(lambda _: "Notion" in term_rows())
        assert term_rows()["Notion"]["note"] == HOSTILE
        assert driver.find_elements(By.CSS_SELECTOR, "#glossary-terms img, #glossary-terms b") == []
        assert driver.title != "pwned"

        screenshot = tmp_path / "admin-glossary.png"
        assert driver.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 10_000
        if os.environ.get("EDGE_SCREENSHOT_DIR"):
            shutil.copy(screenshot, Path(os.environ["EDGE_SCREENSHOT_DIR"]) / "admin-glossary.png")

        # Accept it: the alias is listed under the term, and the box was told.
        changes = box.glossary_changes
        suggestion.find_element(By.CSS_SELECTOR, "button.accept").click()
        wait.until(lambda _: term_rows().get("Kubernetes", {}).get("aliases") == ["쿠버네티스", "쿠베"])
        wait.until(ec.text_to_be_present_in_element((By.ID, "suggestions-list"), "No pending suggestions."))
        assert box.store.glossary().get("Kubernetes").aliases == ("쿠버네티스", "쿠베")
        assert box.glossary_changes == changes + 1
        assert box.store.suggestions("accepted")[0].alias == "쿠베"

        # Add a term with aliases separated by |, as in the CSV file.
        driver.find_element(By.ID, "glossary-term-input").send_keys("Jira")
        driver.find_element(By.ID, "glossary-aliases-input").send_keys("지라 | 지이라")
        driver.find_element(By.ID, "glossary-note-input").send_keys("이슈 트래커")
        driver.find_element(By.ID, "glossary-save-button").click()
        wait.until(lambda _: "Jira" in term_rows())
        assert term_rows()["Jira"] == {"term": "Jira", "aliases": ["지라", "지이라"], "note": "이슈 트래커"}

        # A bad entry is refused with the server's reason, and changes nothing.
        driver.find_element(By.ID, "glossary-term-input").send_keys("Confluence")
        driver.find_element(By.ID, "glossary-aliases-input").send_keys("노션")
        driver.find_element(By.ID, "glossary-save-button").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "glossary-error"), "already belongs to 'Notion'"))
        assert box.store.glossary().get("Confluence") is None
        driver.find_element(By.ID, "glossary-term-input").clear()
        driver.find_element(By.ID, "glossary-aliases-input").clear()

        # Search.
        driver.find_element(By.ID, "glossary-search").send_keys("지이라")
        wait.until(lambda _: list(term_rows()) == ["Jira"])
        assert driver.find_element(By.ID, "glossary-count").text == "1 of 3 terms"
        driver.find_element(By.ID, "glossary-search").send_keys(Keys.CONTROL, "a", Keys.BACKSPACE)
        wait.until(lambda _: len(term_rows()) == 3)

        # Edit a term: the form is filled with it; saving replaces it.
        jira = driver.find_element(By.CSS_SELECTOR, '#glossary-terms li[data-term="Jira"]')
        jira.find_element(By.CSS_SELECTOR, "button.edit-term").click()
        assert driver.find_element(By.ID, "glossary-aliases-input").get_attribute("value") == "지라 | 지이라"
        note = driver.find_element(By.ID, "glossary-note-input")
        note.clear()
        note.send_keys("티켓")
        driver.find_element(By.ID, "glossary-save-button").click()
        wait.until(lambda _: term_rows()["Jira"]["note"] == "티켓")
        assert box.store.glossary().get("Jira").note == "티켓"

        # Delete a term (the page asks first).
        notion = driver.find_element(By.CSS_SELECTOR, '#glossary-terms li[data-term="Notion"]')
        notion.find_element(By.CSS_SELECTOR, "button.delete-term").click()
        wait.until(ec.alert_is_present())
        driver.switch_to.alert.accept()
        wait.until(lambda _: "Notion" not in term_rows())
        assert box.store.glossary().get("Notion") is None

        # Import a CSV file: merged; then a broken one: the error names the line.
        good = tmp_path / "team.csv"
        good.write_text("term,aliases,note\nSlack,슬랙,메신저\n", encoding="utf-8")
        driver.find_element(By.ID, "glossary-file-input").send_keys(str(good))
        driver.find_element(By.ID, "glossary-import-button").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "glossary-import-result"), "Imported 1 term from team.csv"))
        wait.until(lambda _: list(term_rows()) == ["Kubernetes", "Jira", "Slack"])
        broken = tmp_path / "broken.csv"
        broken.write_text("term,aliases,note\nGrafana,그라파나,\nLoki,로키,a,b\n", encoding="utf-8")
        driver.find_element(By.ID, "glossary-file-input").send_keys(str(broken))
        driver.find_element(By.ID, "glossary-import-button").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "glossary-import-error"), "broken.csv line 3:"))
        assert box.store.glossary().get("Grafana") is None

        errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        # The refused entry (409) and the broken file (400) above were answered so on purpose.
        assert [e for e in errors if "status of 409" not in e and "status of 400" not in e] == []
