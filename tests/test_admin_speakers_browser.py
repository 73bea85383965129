"""Speakers in the admin page, in headless Chromium with a Korean browser, used as a person would: a meeting
whose segments carry speaker labels (inserted through the real store) shows a chip per line, one colour per
label; the speakers panel names S2 "이지은" (a PUT the box stores), and every chip of S2 follows at once; a
name given elsewhere (API, MQTT) arrives by the live stream's `speakers` event and renames the chips without a
reload; a voice heard for the first time joins the panel, and leaves it when the regrouping at the end of the
meeting relabels its lines. EDGE_SCREENSHOT_DIR keeps a screenshot.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_box import FakeBox, serving

from edge.api.app import STATIC_DIR

pytestmark = pytest.mark.browser

TOKEN = "speakers-browser-token-0123456789abcdef"
WAIT_S = 20  # an upper bound for the page to react, not a performance expectation
SAID = [
    ("S1", "이번 주 배포 일정부터 보겠습니다"),
    ("S2", "제가 금요일까지 보고서 올리겠습니다"),
    ("S1", "좋습니다 <b>확인</b> & 다음 안건입니다"),
    ("S3", "I'll check the Grafana dashboard"),
    (None, "(박수)"),
]


@pytest.fixture
def box(tmp_path: Path) -> Iterator[FakeBox]:
    fake = FakeBox(tmp_path / "box", llm=False)
    yield fake
    fake.close()


def test_a_person_names_a_speaker_and_every_chip_follows(driver, box: FakeBox, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    ko = json.loads((STATIC_DIR / "messages-ko.json").read_text(encoding="utf-8"))
    wait = WebDriverWait(driver, WAIT_S)
    meeting_id = box.start_meeting(title="화자 회의", language="ko").id
    for label, text in SAID:
        box.inject_segment(text, speaker=label)
    box.editing.set_speaker_name(meeting_id, "S3", "Alex Kim")

    def chips(list_id: str) -> list[tuple[str, str | None, str | None]]:
        """(seq, label, shown) of every line of a transcript list."""
        return driver.execute_script(
            "return [...document.querySelectorAll(`#${arguments[0]} li`)].map((li) => {"
            " const chip = li.querySelector('.speaker');"
            " return [li.dataset.seq, chip ? chip.dataset.speaker : null, chip ? chip.textContent : null]; })",
            list_id,
        )

    def colour(list_id: str, seq: int) -> str:
        return driver.execute_script(
            "return getComputedStyle(document.querySelector("
            "`#${arguments[0]} li[data-seq=\"${arguments[1]}\"] .speaker`)).backgroundColor",
            list_id, seq,
        )  # fmt: skip

    with serving(box, TOKEN) as server:
        driver.get(server.url + "/#meetings")
        wait.until(ec.visibility_of_element_located((By.ID, "token-input"))).send_keys(TOKEN, Keys.ENTER)
        wait.until(lambda _: driver.execute_script("return document.getElementById('live-connection').textContent")
                   == ko["live.connected"])  # fmt: skip
        wait.until(ec.text_to_be_present_in_element((By.ID, "meetings-list"), "화자 회의"))
        driver.find_element(By.CSS_SELECTOR, "#meetings-list button.meeting").click()
        expected = [["0", "S1", "S1"], ["1", "S2", "S2"], ["2", "S1", "S1"], ["3", "S3", "Alex Kim"],
                    ["4", None, None]]  # fmt: skip
        wait.until(lambda _: chips("detail-segments") == expected)
        # The recording meeting's live transcript shows the same chips.
        assert chips("live-segments") == expected
        # One colour per label, the same on every line of it.
        assert colour("detail-segments", 0) == colour("detail-segments", 2) != colour("detail-segments", 1)
        assert len({colour("detail-segments", seq) for seq in (0, 1, 3)}) == 3
        # Transcript text stays text.
        assert driver.find_elements(By.CSS_SELECTOR, "#detail-segments b") == []

        # The speakers panel: one row per label, in order, in Korean.
        panel = wait.until(ec.visibility_of_element_located((By.ID, "speakers")))
        assert panel.find_element(By.TAG_NAME, "h3").text == ko["speakers.title"]
        rows = panel.find_elements(By.CSS_SELECTOR, "form.speaker-row")
        assert [row.get_attribute("data-speaker") for row in rows] == ["S1", "S2", "S3"]
        assert [row.find_element(By.TAG_NAME, "input").get_attribute("value") for row in rows] == ["", "", "Alex Kim"]
        assert rows[0].find_element(By.CSS_SELECTOR, ".speaker-stats").text == "발언 2개 · 00:03"

        # Name S2: stored by the box (the PUT), and every S2 chip says so at once.
        name_input = rows[1].find_element(By.TAG_NAME, "input")
        name_input.send_keys("이지은", Keys.ENTER)
        wait.until(ec.text_to_be_present_in_element((By.ID, "speakers-result"), "S2의 이름을 저장했습니다."))
        assert [(s.label, s.name) for s in box.store.speakers(meeting_id)] == [("S1", ""), ("S2", "이지은"),
                                                                               ("S3", "Alex Kim")]  # fmt: skip
        renamed = [["0", "S1", "S1"], ["1", "S2", "이지은"], ["2", "S1", "S1"], ["3", "S3", "Alex Kim"],
                   ["4", None, None]]  # fmt: skip
        wait.until(lambda _: chips("detail-segments") == renamed and chips("live-segments") == renamed)

        # Named elsewhere (another browser, the API, MQTT): the live stream's `speakers` event renames S1.
        box.editing.set_speaker_name(meeting_id, "S1", "김민수")
        shown = ["김민수", "이지은", "김민수", "Alex Kim", None]
        wait.until(lambda _: [c[2] for c in chips("detail-segments")] == shown)
        assert [c[2] for c in chips("live-segments")] == shown
        assert rows[0].find_element(By.TAG_NAME, "input").get_attribute("value") == "김민수"

        # A new line of S2 carries the name; a voice heard for the first time joins the panel.
        box.inject_segment("네 그렇게 하겠습니다", speaker="S2")
        box.inject_segment("저도 한 가지 말씀드리겠습니다", speaker="S4")
        wait.until(lambda _: chips("detail-segments")[5:] == [["5", "S2", "이지은"], ["6", "S4", "S4"]])
        wait.until(lambda _: [r.get_attribute("data-speaker") for r in
                              panel.find_elements(By.CSS_SELECTOR, "form.speaker-row")] == ["S1", "S2", "S3", "S4"])

        # The end-of-meeting regrouping finds S4 was Alex Kim: the line is relabelled, S4 leaves the panel.
        assert box.store.relabel_segments(meeting_id, {6: "S3"}) == 1
        wait.until(lambda _: chips("detail-segments")[6] == ["6", "S3", "Alex Kim"])
        wait.until(lambda _: [r.get_attribute("data-speaker") for r in
                              panel.find_elements(By.CSS_SELECTOR, "form.speaker-row")] == ["S1", "S2", "S3"])
        assert panel.find_elements(By.CSS_SELECTOR, ".speaker-stats")[2].text == "발언 2개 · 00:03"

        # Clearing a name shows the label again.
        name_input.clear()
        name_input.send_keys(Keys.ENTER)
        wait.until(ec.text_to_be_present_in_element((By.ID, "speakers-result"), "S2의 이름을 지웠습니다."))
        wait.until(lambda _: chips("detail-segments")[1] == ["1", "S2", "S2"])
        name_input.send_keys("이지은", Keys.ENTER)
        wait.until(lambda _: chips("detail-segments")[1] == ["1", "S2", "이지은"])

        driver.execute_script("document.getElementById('speakers').scrollIntoView(); window.scrollBy(0, -80)")
        path = tmp_path / "admin-speakers.png"
        assert driver.save_screenshot(str(path)) and path.stat().st_size > 10_000
        if os.environ.get("EDGE_SCREENSHOT_DIR"):
            shutil.copy(path, Path(os.environ["EDGE_SCREENSHOT_DIR"]) / path.name)
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
    assert driver.title != "pwned"
