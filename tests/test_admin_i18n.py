"""The admin page speaks Korean and English: every text of the page comes from the message catalogues
(static/messages-ko.json and messages-en.json, the same keys in both), the page is Korean when the browser
prefers Korean, a person's choice of language is remembered, and dates follow the language's locale.

The catalogue checks read the files; the page checks use headless Chromium with a Korean browser (the
`driver` fixture). EDGE_SCREENSHOT_DIR keeps a screenshot of the Korean meeting view.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fake_box import FakeBox, serving

from edge.api.app import STATIC_DIR

TOKEN = "i18n-browser-token-0123456789abcdef"
WAIT_S = 20  # an upper bound for the page to react, not a performance expectation
LANGUAGES = ("ko", "en")
LETTER = re.compile(r"[^\W\d_]")  # any letter, Hangul included
PLACEHOLDER = re.compile(r"\{(\w+)\}")
TEXT_ATTRIBUTES = ("placeholder", "aria-label", "title", "alt")


def catalogue(language: str) -> dict[str, object]:
    return json.loads((STATIC_DIR / f"messages-{language}.json").read_text(encoding="utf-8"))


def forms(message: object) -> list[str]:
    return list(message.values()) if isinstance(message, dict) else [message]  # type: ignore[list-item]


def test_both_catalogues_have_every_key_with_the_same_placeholders() -> None:
    ko, en = catalogue("ko"), catalogue("en")
    assert sorted(set(en) - set(ko)) == [], "keys missing in messages-ko.json"
    assert sorted(set(ko) - set(en)) == [], "keys missing in messages-en.json"
    for key in en:
        for language, message in (("ko", ko[key]), ("en", en[key])):
            if isinstance(message, dict):
                assert "other" in message and set(message) <= {"zero", "one", "two", "few", "many", "other"}, key
            assert all(isinstance(form, str) and form.strip() for form in forms(message)), (language, key)
            assert all(form.count("`") % 2 == 0 for form in forms(message)), (language, key)
        names = {language: {n for form in forms(c[key]) for n in PLACEHOLDER.findall(form)} for language, c in
                 (("ko", ko), ("en", en))}  # fmt: skip
        assert names["ko"] == names["en"], key
    assert ko["live.start"] == "회의 시작" and en["live.start"] == "Start meeting"


class _PageText(HTMLParser):
    """Text and text attributes of index.html that do not come from the catalogue, and the keys it uses."""

    def __init__(self) -> None:
        super().__init__()
        self.hard_coded: list[str] = []
        self.keys: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        values = dict(attrs)
        for name, value in values.items():
            if name == "data-i18n" or name.startswith("data-i18n-"):
                self.keys.append(value or "")
            elif name in TEXT_ATTRIBUTES and value and LETTER.search(value):
                self.hard_coded.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and LETTER.search(data):
            self.hard_coded.append(data.strip())


def test_the_page_has_no_hard_coded_text_and_uses_only_known_keys() -> None:
    page = _PageText()
    page.feed((STATIC_DIR / "index.html").read_text(encoding="utf-8"))
    assert page.hard_coded == []
    known = set(catalogue("en"))
    assert page.keys and [key for key in page.keys if key not in known] == []

    script = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("//"))
    used = re.findall(r"\bt\(\"([^\"]+)\"", code)
    assert used and [key for key in used if key not in known] == []
    # Texts handed to the DOM are messages, not literals: text: "...", textContent = "...", errors.
    literal = r"\"[^\"\n]*[A-Za-z가-힣]{2}[^\"\n]*\"|`[^`$\n]*[A-Za-z가-힣]{3}[^`\n]*`"
    for pattern in (
        rf"\btext: ({literal})",
        rf"\.textContent = ({literal})",
        rf"\b(?:placeholder|title|\"aria-label\"): ({literal})",
        rf"showError\(\"[\w-]+\", ({literal})",
        rf"(?:showLogin|logout)\(({literal})",
        rf"new (?:Api)?Error\((?:\d+, )?({literal})",
    ):
        assert re.findall(pattern, code) == [], pattern


@pytest.fixture
def box(tmp_path: Path) -> Iterator[FakeBox]:
    fake = FakeBox(tmp_path / "box")
    yield fake
    fake.close()


@pytest.mark.browser
def test_a_korean_browser_gets_the_korean_page_and_can_switch_to_english(driver, box: FakeBox) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(driver, WAIT_S)
    ko, en = catalogue("ko"), catalogue("en")
    meeting = box.start_meeting(title="주간 인프라 회의", language="ko")
    box.inject_segment("쿠버네티스 업그레이드는 다음 주 수요일까지 마무리하도록 부탁드려요")
    box.stop_meeting()

    def shown_keys() -> list[str]:
        text = driver.execute_script("return document.body.innerText")
        return [key for key in en if key in text]

    with serving(box, TOKEN) as server:
        driver.get(server.url + "/#meetings")
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#login h2"), ko["login.title"]))
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ko"
        assert driver.title == ko["app.title"]
        driver.find_element(By.ID, "token-input").send_keys(TOKEN)
        driver.find_element(By.ID, "login-button").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "meetings-list"), "주간 인프라 회의"))
        tabs = [tab.text for tab in driver.find_elements(By.CSS_SELECTOR, "#tabs .tab")]
        # The token in api.token_file is an admin's: the access tab (users, tokens) is shown too.
        assert tabs == [ko["tab.live"], ko["tab.meetings"], ko["tab.glossary"], ko["tab.health"], ko["tab.access"]]
        listed = driver.find_element(By.CSS_SELECTOR, "#meetings-list .hint").text
        assert "발언 1개" in listed and re.search(r"오전|오후", listed), listed  # ko-KR date and time

        driver.find_element(By.CSS_SELECTOR, "#meetings-list button.meeting").click()
        segment = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, '#detail-segments li[data-seq="0"]')))
        assert segment.find_element(By.CSS_SELECTOR, ".seq").text == "#0"
        text = segment.find_element(By.CSS_SELECTOR, ".text")
        assert text.get_attribute("lang") == "ko"
        assert text.value_of_css_property("word-break") == "keep-all"
        assert ko["meetingStatus.stopped"] in driver.find_element(By.ID, "detail-meta").text
        assert driver.find_element(By.ID, "minutes-status").text == ko["minutes.status.none"]
        assert shown_keys() == []
        if os.environ.get("EDGE_SCREENSHOT_DIR"):
            driver.save_screenshot(str(Path(os.environ["EDGE_SCREENSHOT_DIR"]) / "admin-meeting-ko.png"))

        # A long segment is edited in a text area that shows all of it.
        segment.find_element(By.CSS_SELECTOR, "button.edit").click()
        editor = segment.find_element(By.CSS_SELECTOR, "textarea.edit-input")
        assert editor.get_attribute("value") == box.store.segments(meeting.id)[0].display_text
        assert driver.execute_script("return arguments[0].scrollHeight <= arguments[0].clientHeight + 2", editor)
        segment.find_element(By.CSS_SELECTOR, "button.quiet").click()

        # English, chosen in the page: remembered across a reload of the page.
        Select(driver.find_element(By.ID, "language-select")).select_by_value("en")
        wait.until(ec.text_to_be_present_in_element((By.ID, "tab-meetings"), en["tab.meetings"]))
        driver.refresh()
        wait.until(ec.text_to_be_present_in_element((By.ID, "meetings-list"), "주간 인프라 회의"))
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        assert driver.find_element(By.ID, "tab-live").text == en["tab.live"]
        listed = driver.find_element(By.CSS_SELECTOR, "#meetings-list .hint").text
        assert "1 segment" in listed and "segments" not in listed and re.search(r"AM|PM", listed), listed
        assert driver.find_element(By.ID, "language-select").get_attribute("value") == "en"
        assert shown_keys() == []

        errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []


@pytest.mark.browser
def test_dark_mode_follows_the_system(driver, box: FakeBox) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    def luminance(css_color: str) -> float:
        red, green, blue = (int(part) for part in re.findall(r"\d+", css_color)[:3])
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue

    meeting = box.start_meeting(title="주간 인프라 회의", language="ko")
    box.inject_segment("쿠버네티스 업그레이드는 다음 주 수요일까지 마무리하도록 부탁드려요")
    box.stop_meeting()
    wait = WebDriverWait(driver, WAIT_S)
    with serving(box, TOKEN) as server:
        driver.get(server.url + "/#meetings")
        wait.until(ec.visibility_of_element_located((By.ID, "token-input"))).send_keys(TOKEN)
        driver.find_element(By.ID, "login-button").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "meetings-list"), "주간 인프라 회의"))
        light = luminance(driver.find_element(By.TAG_NAME, "html").value_of_css_property("background-color"))
        driver.execute_cdp_cmd(
            "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
        )
        driver.find_element(By.CSS_SELECTOR, "#meetings-list button.meeting").click()
        wait.until(lambda _: len(driver.find_elements(By.CSS_SELECTOR, "#detail-segments li")) == 1)
        page = driver.find_element(By.TAG_NAME, "html")
        text = driver.find_element(By.CSS_SELECTOR, "#detail-segments .text")
        assert light > 200 and luminance(page.value_of_css_property("background-color")) < 60
        assert luminance(text.value_of_css_property("color")) > 180  # light text on the dark card
        button = driver.find_element(By.ID, "search-button")  # dark text on the light accent
        colors = [luminance(button.value_of_css_property(name)) for name in ("color", "background-color")]
        assert colors[0] < colors[1]
        assert meeting.id in driver.find_element(By.ID, "detail-meta").text
        if os.environ.get("EDGE_SCREENSHOT_DIR"):
            driver.save_screenshot(str(Path(os.environ["EDGE_SCREENSHOT_DIR"]) / "admin-meeting-ko-dark.png"))
