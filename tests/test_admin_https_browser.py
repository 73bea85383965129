"""The admin page over the box's own HTTPS in headless Chromium (issue 14): Chromium is told to accept exactly
the box's key (its SPKI pin, as a person who checked the fingerprint would), sees the fingerprints on the
login form before logging in, and gets a Secure, HttpOnly, SameSite=Strict session cookie."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fake_box import FakeBox

from edge.api.accounts import Accounts
from edge.api.app import create_app
from edge.api.server import ApiServer
from edge.api.tls import TlsFiles, server_tls
from edge.core.config import ApiConfig

pytestmark = pytest.mark.browser

PASSWORD = "보안-접속-비밀번호"
WAIT_S = 20  # an upper bound for the page to react, not a performance expectation


@pytest.fixture
def tls(tmp_path: Path) -> TlsFiles:
    files = server_tls(ApiConfig(host="127.0.0.1", tls="on", tls_dir=tmp_path / "tls"), "room-301")
    assert files is not None
    return files


@pytest.fixture
def chromium_flags(tls: TlsFiles) -> list[str]:
    cert = x509.load_pem_x509_certificates(tls.cert_file.read_bytes())[0]
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return [f"--ignore-certificate-errors-spki-list={base64.b64encode(hashlib.sha256(spki).digest()).decode()}"]


@pytest.fixture
def https(box: FakeBox, tls: TlsFiles, tmp_path: Path) -> Iterator[ApiServer]:
    cfg = ApiConfig(host="127.0.0.1", tls="on", tls_dir=tmp_path / "tls")
    server = ApiServer(create_app(box, cfg, "https-browser-file-token-0123456789", tls=tls), "127.0.0.1", 0, tls=tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_person_checks_the_fingerprint_and_logs_in_over_https(driver, box: FakeBox, https: ApiServer,
                                                                tls: TlsFiles) -> None:  # fmt: skip
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    Accounts(box.store, box.clock).add_user("김민지", "member", PASSWORD)
    wait = WebDriverWait(driver, WAIT_S)
    driver.get(https.url + "/")
    assert driver.current_url.startswith("https://127.0.0.1:")
    wait.until(ec.visibility_of_element_located((By.ID, "login-fingerprint")))
    shown = driver.find_element(By.ID, "login-fingerprint").text
    assert "인증서 지문(SHA-256)" in shown and tls.ca_sha256 in shown  # type: ignore[operator]
    driver.find_element(By.ID, "user-input").send_keys("김민지")
    driver.find_element(By.ID, "password-input").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "who"), "김민지 (구성원)"))
    wait.until(ec.text_to_be_present_in_element((By.ID, "live-connection"), "연결됨"))
    cookie = next(c for c in driver.get_cookies() if c["name"] == "edge_session")
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    # A member starts a meeting from the page: the change carries the session's CSRF token.
    driver.find_element(By.ID, "meeting-title-input").send_keys("보안 점검 회의")
    driver.find_element(By.ID, "start-button").click()
    wait.until(lambda _: box.state()["state"] == "recording")
