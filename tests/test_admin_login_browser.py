"""The admin page's login form in headless Chromium (issue 14): a Korean person logs in with a name and
password (a wrong one is refused in Korean), stays logged in across a reload through the session cookie, sees
what their role allows; an admin creates and revokes an integration's token on the page; logging out ends
the session on the box."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_box import FakeBox, serving

from edge.api.accounts import Accounts

pytestmark = pytest.mark.browser

FILE_TOKEN = "login-browser-file-token-0123456789"
PASSWORD = "회의실-비밀번호-2026"
WAIT_S = 20  # an upper bound for the page to react, not a performance expectation


def test_people_log_in_with_a_password_and_see_what_their_role_allows(driver, box: FakeBox, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    accounts = Accounts(box.store, box.clock)
    accounts.add_user("김관리", "admin", PASSWORD)
    accounts.add_user("이열람", "viewer", PASSWORD)
    box.start_meeting(title="주간 회의")
    box.inject_segment("예산안을 검토하겠습니다")
    box.stop_meeting()
    wait = WebDriverWait(driver, WAIT_S)

    def visible(element_id: str):
        return wait.until(ec.visibility_of_element_located((By.ID, element_id)))

    def log_in(name: str, password: str) -> None:
        visible("user-input").clear()
        driver.find_element(By.ID, "user-input").send_keys(name)
        driver.find_element(By.ID, "password-input").clear()
        driver.find_element(By.ID, "password-input").send_keys(password)
        driver.find_element(By.ID, "login-button").click()

    def tabs() -> list[str]:
        return [tab.text for tab in driver.find_elements(By.CSS_SELECTOR, "#tabs .tab") if tab.is_displayed()]

    with serving(box, FILE_TOKEN) as server:
        driver.get(server.url + "/")
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#login"), "비밀번호"))
        log_in("김관리", "틀린-비밀번호-입니다")
        wait.until(ec.text_to_be_present_in_element((By.ID, "login-error"), "이름 또는 비밀번호가 맞지 않습니다"))
        assert driver.get_cookies() == []

        log_in("이열람", PASSWORD)
        wait.until(ec.text_to_be_present_in_element((By.ID, "who"), "이열람 (열람자)"))
        wait.until(ec.text_to_be_present_in_element((By.ID, "live-connection"), "연결됨"))
        assert "접근 관리" not in tabs()
        cookie = next(c for c in driver.get_cookies() if c["name"] == "edge_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert driver.execute_script("return document.cookie") == ""  # the page's script cannot read it
        driver.refresh()  # the cookie keeps the person logged in
        wait.until(ec.text_to_be_present_in_element((By.ID, "who"), "이열람 (열람자)"))
        # A viewer's change is refused by the box (the page sends it with the session's CSRF token).
        stopped = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch('/api/v1/meetings', {method: 'POST', headers: {'Content-Type': 'application/json'},"
            " body: '{}'}).then((r) => done(r.status));"
        )
        assert stopped == 403
        driver.find_element(By.ID, "logout-button").click()
        visible("login")
        assert accounts.session(cookie["value"]) is None  # ended on the box, not only in the page

        log_in("김관리", PASSWORD)
        wait.until(ec.text_to_be_present_in_element((By.ID, "who"), "김관리 (관리자)"))
        assert tabs() == ["실시간", "회의", "용어집", "상태", "접근 관리"]
        driver.find_element(By.ID, "tab-access").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "users-list"), "이열람"))
        visible("new-token-name").send_keys("홈어시스턴트")
        driver.find_element(By.ID, "token-create-button").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "token-secret"), "edge_"))
        secret = driver.find_element(By.ID, "token-secret").text.rsplit(" ", 1)[-1]
        assert accounts.token(secret) is not None and accounts.token(secret).role == "viewer"  # type: ignore[union-attr]
        wait.until(ec.text_to_be_present_in_element((By.ID, "tokens-list"), "홈어시스턴트"))
        driver.find_element(By.CSS_SELECTOR, "#tokens-list [data-token='홈어시스턴트'] button").click()
        driver.switch_to.alert.accept()
        wait.until(ec.text_to_be_present_in_element((By.ID, "tokens-list"), "토큰이 없습니다"))
        assert accounts.token(secret) is None
        driver.find_element(By.ID, "audit-refresh").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "audit-list"), "토큰 변경"))
        assert "김관리" in driver.find_element(By.ID, "audit-list").text

        # An admin deletes a meeting from its page.
        driver.find_element(By.ID, "tab-meetings").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "meetings-list"), "주간 회의"))
        driver.find_element(By.CSS_SELECTOR, "#meetings-list li button, #meetings-list li").click()
        visible("delete-meeting-button").click()
        driver.switch_to.alert.accept()
        wait.until(ec.invisibility_of_element_located((By.ID, "meeting-detail")))
        assert box.store.meetings() == []
        errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        # The wrong password, the viewer's refused change: expected; nothing else.
        assert all("status of 401" in e or "status of 403" in e for e in errors), errors
