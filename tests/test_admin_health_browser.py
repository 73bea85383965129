"""The Health tab's plots of the last hour (headless Chromium, a Korean browser): one plot per series of
/api/v1/health/history drawn by the charting library the box serves itself, with the latest value in its
caption, and a series the platform does not expose said so instead of drawn. EDGE_SCREENSHOT_DIR keeps a
screenshot of the tab."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_box import FakeBox, serving
from mosquitto import wait_until

pytestmark = pytest.mark.browser

TOKEN = "health-browser-token-0123456789abcdef"
WAIT_S = 20  # an upper bound for the page to react, not a performance expectation
SAMPLES = 60  # an hour, one a minute


@pytest.fixture
def box(tmp_path: Path) -> Iterator[FakeBox]:
    fake = FakeBox(tmp_path / "box")
    yield fake
    fake.close()


def test_health_tab_plots_the_last_hour(driver, box: FakeBox, charting_library: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_S)
    def hour(n: int) -> dict:  # recognition falls behind for a while in the middle of the hour
        behind = 20 <= n < 35
        return {"rtf": 1.3 if behind else 0.3 + n % 5 * 0.05, "queues": {"asr_pending": n - 18 if behind else 0},
                "drops": {"asr_utterances": 4 if n >= 30 else 0}, "outbox_backlog": n % 7}  # fmt: skip

    box.health_overrides = hour(SAMPLES)  # what the box's own sampler finds now, at its start
    with serving(box, TOKEN) as server:
        history = server.app.state.health_history
        assert wait_until(lambda: len(history.series()["t"]) == 1, WAIT_S)  # the box's own sample, taken at start
        start = time.time() - 3600
        for n in range(SAMPLES):
            box.health_overrides = hour(n)
            history.record(at=start + n * 60)
        box.health_overrides = hour(SAMPLES)

        driver.get(server.url + "/#health")
        wait.until(ec.visibility_of_element_located((By.ID, "token-input"))).send_keys(TOKEN, Keys.ENTER)
        wait.until(lambda _: len(driver.find_elements(By.CSS_SELECTOR, "#health-plots .plot canvas")) >= 6)

        plots = driver.execute_script(
            "return Object.fromEntries([...document.querySelectorAll('#health-plots .plot')].map((f) => "
            "[f.dataset.series, [Number(f.dataset.points), f.querySelector('figcaption').textContent, "
            "!!f.querySelector('.uplot canvas'), f.querySelector('.unavailable')?.textContent ?? null]]))"
        )
        drawn = {name: points for name, (points, _, canvas, _) in plots.items() if canvas}
        assert {"rtf", "asr_backlog", "drops", "outbox_backlog", "memory_mb", "disk_free_gb"} <= set(drawn)
        assert all(points >= SAMPLES for points in drawn.values())
        _, caption, canvas, note = plots["rtf"]
        assert caption.startswith("실시간 배율") and canvas and note is None
        assert plots["asr_backlog"][1].startswith("인식을 기다리는 발화")
        temperature = plots["temperature_c"]
        if temperature[0] == 0:  # no thermal zone on this machine: said, not drawn as zero
            assert temperature[3] == "이 장치에서는 알 수 없음" and not temperature[2]
        assert driver.find_element(By.CSS_SELECTOR, ".plots-title").text == "지난 1시간"
        assert not driver.find_element(By.ID, "health-plots-missing").is_displayed()
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        if os.environ.get("EDGE_SCREENSHOT_DIR"):
            driver.set_window_size(1280, 1400)
            driver.save_screenshot(str(Path(os.environ["EDGE_SCREENSHOT_DIR"]) / "admin-health-plots-ko.png"))
