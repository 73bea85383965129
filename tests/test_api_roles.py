"""Accounts and roles (issue 14) through the real API served by uvicorn over a real SQLite store: every
state-changing operation of the OpenAPI document per role (taken from the document, so a new route is
covered), by session cookie and by API token; CSRF; the login cookie; wrong passwords slowed."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from fake_box import FakeBox, serving

from edge.api.accounts import AccountError, Accounts
from edge.api.app import create_app
from edge.api.auth import CSRF_HEADER, SESSION_COOKIE, LoginLimiter
from edge.api.server import ApiServer
from edge.api.tls import server_tls
from edge.core.config import ApiConfig

FILE_TOKEN = "roles-test-file-token-0123456789"
PASSWORD = "비밀번호-correct-horse"
USERS = {"viewer": "열람자", "member": "회의진행", "admin": "관리자"}
CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
PUBLIC = {("POST", "/api/v1/login")}
# The design, written out: what a viewer may post, and what only an admin may change.
VIEWER_MAY = {("POST", "/api/v1/live/ticket"), ("POST", "/api/v1/meetings/{meeting_id}/ask"),
              ("POST", "/api/v1/logout")}
ADMIN_AREAS = ("/api/v1/glossary", "/api/v1/users", "/api/v1/tokens", "/api/v1/audit")


def designed_role(method: str, path: str) -> str:
    if method == "DELETE" or path.startswith(ADMIN_AREAS):
        return "admin"
    return "viewer" if (method, path) in VIEWER_MAY else "member"


RANK = ["viewer", "member", "admin"]


@pytest.fixture
def accounts(box: FakeBox) -> Accounts:
    accounts = Accounts(box.store, box.clock)
    for role, name in USERS.items():
        accounts.add_user(name, role, PASSWORD)
    return accounts


@pytest.fixture
def server(box: FakeBox, accounts: Accounts) -> Iterator[ApiServer]:
    with serving(box, FILE_TOKEN) as running:
        yield running


def login(url: str, name: str, password: str = PASSWORD, **kwargs) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=10, **kwargs)
    answer = client.post("/api/v1/login", json={"name": name, "password": password})
    assert answer.status_code == 200, answer.text
    client.headers[CSRF_HEADER] = answer.json()["csrf"]
    return client


def _concrete(path: str, meeting_id: str) -> str:
    for name, value in (("{meeting_id}", meeting_id), ("{seq}", "0"), ("{name}", "없는-이름"),
                        ("{term}", "없는용어"), ("{suggestion_id}", "999"),
                        ("{label}", "S9")):  # fmt: skip
        path = path.replace(name, value)
    return path


def _changing_operations(url: str) -> list[tuple[str, str]]:
    document = httpx.get(f"{url}/api/v1/openapi.json", timeout=10).json()
    return [(method.upper(), path) for path, item in document["paths"].items() for method in item
            if method.upper() in CHANGING and (method.upper(), path) not in PUBLIC]  # fmt: skip


def test_every_state_changing_operation_per_role(server: ApiServer, box: FakeBox, accounts: Accounts) -> None:
    meeting_id = box.start_meeting(title="역할 시험").id
    box.inject_segment("회의를 시작하겠습니다")
    operations = _changing_operations(server.url)
    assert len(operations) >= 20
    tokens = {role: accounts.create_token(f"{role}-integration", role, created_by="test")[1] for role in RANK}
    anonymous = httpx.Client(base_url=server.url, timeout=10)
    clients = {role: {"session": login(server.url, USERS[role]),
                      "token": httpx.Client(base_url=server.url, timeout=10,
                                            headers={"Authorization": f"Bearer {tokens[role]}"})}
               for role in RANK}  # fmt: skip
    checked = 0
    for method, path in operations:
        if path == "/api/v1/logout":
            continue  # would end the session the loop uses: below
        url = _concrete(path, meeting_id)
        assert anonymous.request(method, url).status_code == 401, (method, path)
        needed = designed_role(method, path)
        for role in RANK:
            allowed = RANK.index(role) >= RANK.index(needed)
            for how, client in clients[role].items():
                status = client.request(method, url).status_code
                if allowed:
                    assert status not in (401, 403), (role, how, method, path, status)
                else:
                    assert status == 403, (role, how, method, path, status)
                checked += 1
    print(f"{len(operations) - 1} state-changing operations x 3 roles x (session, token) checked: {checked}")
    for role in RANK:
        with closing(login(server.url, USERS[role])) as session:
            assert session.post("/api/v1/logout").status_code == 204
            assert session.get("/api/v1/state").status_code == 401  # the session is gone
    # The file token stays an admin token (upgrades).
    admin_file = httpx.Client(base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {FILE_TOKEN}"})
    assert admin_file.get("/api/v1/users").status_code == 200


def test_reading_is_for_viewers_and_admin_areas_for_admins(server: ApiServer, box: FakeBox) -> None:
    box.start_meeting(title="읽기")
    for role in RANK:
        with closing(login(server.url, USERS[role])) as client:
            assert client.get("/api/v1/meetings").status_code == 200
            assert client.get("/api/v1/session").json()["role"] == role
            for area in ("/api/v1/users", "/api/v1/tokens"):
                assert client.get(area).status_code == (200 if role == "admin" else 403)


def test_a_cross_site_form_post_with_a_valid_session_cookie_is_refused(server: ApiServer, box: FakeBox) -> None:
    member = login(server.url, USERS["member"])
    cookie = member.cookies[SESSION_COOKIE]
    with httpx.Client(base_url=server.url, timeout=10, cookies={SESSION_COOKIE: cookie}) as forged:
        # What a form on another site makes a logged-in browser send: the cookie, a form body, its Origin.
        answer = forged.post("/api/v1/meetings", content="title=evil",
                             headers={"Content-Type": "application/x-www-form-urlencoded",
                                      "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
        assert answer.status_code == 403, answer.text
        assert "cross-site request refused" in answer.json()["detail"]
        # Without the page's CSRF token even a same-origin-looking request is refused.
        assert forged.post("/api/v1/meetings", json={"title": "x"}).status_code == 403
        # With another site's Origin, the right token does not help either.
        stolen = {CSRF_HEADER: member.headers[CSRF_HEADER], "Origin": "https://evil.example"}
        assert forged.post("/api/v1/meetings", json={"title": "x"}, headers=stolen).status_code == 403
    assert box.state()["state"] == "idle"
    assert member.post("/api/v1/meetings", json={"title": "주간 회의"}).status_code == 201  # the page's own request
    assert box.state()["state"] == "recording"
    member.close()


def test_a_login_form_from_another_site_is_refused(server: ApiServer) -> None:
    answer = httpx.post(f"{server.url}/api/v1/login", json={"name": USERS["admin"], "password": PASSWORD},
                        headers={"Origin": "https://evil.example"}, timeout=10)
    assert answer.status_code == 403
    assert SESSION_COOKIE not in answer.cookies


def test_twenty_wrong_passwords_in_a_row_are_locked_out(server: ApiServer) -> None:
    statuses = []
    for attempt in range(20):
        answer = httpx.post(f"{server.url}/api/v1/login", json={"name": USERS["admin"], "password": f"틀림-{attempt}"},
                            timeout=10)
        statuses.append(answer.status_code)
    print("20 wrong passwords:", statuses)
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429] * 15
    right = httpx.post(f"{server.url}/api/v1/login", json={"name": USERS["admin"], "password": PASSWORD}, timeout=10)
    assert right.status_code == 429  # locked: even the right password waits
    assert int(right.headers["retry-after"]) >= 1
    assert SESSION_COOKIE not in right.cookies
    other = httpx.post(f"{server.url}/api/v1/login", json={"name": USERS["viewer"], "password": PASSWORD}, timeout=10)
    assert other.status_code == 429  # the same client address is slowed for other names too


def test_the_lockout_doubles_and_ends_and_a_right_password_clears_it() -> None:
    now = [1000.0]
    limiter = LoginLimiter(free=5, max_wait_s=900, clock=lambda: now[0])
    keys = ["user:관리자", "address:192.0.2.1"]
    for _ in range(5):
        assert limiter.wait_s(keys) == 0
        limiter.failed(keys)
    assert limiter.wait_s(keys) == 1.0
    now[0] += 1.0
    limiter.failed(keys)
    assert limiter.wait_s(keys) == 2.0
    for _ in range(30):
        limiter.failed(keys)
    assert limiter.wait_s(keys) == 900.0  # capped
    now[0] += 900.0
    assert limiter.wait_s(keys) == 0
    limiter.succeeded(keys)
    limiter.failed(keys)
    assert limiter.wait_s(keys) == 0


def test_the_session_cookie_is_httponly_strict_and_secure_over_https(box: FakeBox, accounts: Accounts,
                                                                     tmp_path: Path) -> None:
    cfg = ApiConfig(host="127.0.0.1", tls="on", tls_dir=tmp_path / "tls")
    tls = server_tls(cfg, "box")
    assert tls is not None and tls.ca_file is not None
    server = ApiServer(create_app(box, cfg, FILE_TOKEN, tls=tls), "127.0.0.1", 0, tls=tls)
    server.start()
    try:
        trusting = ssl.create_default_context(cafile=str(tls.ca_file))
        answer = httpx.post(f"{server.url}/api/v1/login", json={"name": USERS["member"], "password": PASSWORD},
                            verify=trusting, timeout=10)
        cookie = answer.headers["set-cookie"].lower()
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        for attribute in ("httponly", "secure", "samesite=strict", "path=/"):
            assert attribute in cookie, cookie
    finally:
        server.stop()
    with serving(box, FILE_TOKEN) as plain:  # loopback HTTP: the browser would drop a Secure cookie
        answer = httpx.post(f"{plain.url}/api/v1/login", json={"name": USERS["member"], "password": PASSWORD},
                            timeout=10)
        assert "secure" not in answer.headers["set-cookie"].lower()
        assert "httponly" in answer.headers["set-cookie"].lower()


def test_tokens_per_integration_are_created_listed_used_and_revoked(server: ApiServer) -> None:
    admin = login(server.url, USERS["admin"])
    created = admin.post("/api/v1/tokens", json={"name": "홈어시스턴트", "role": "viewer"})
    assert created.status_code == 201
    secret = created.json()["token"]
    listed = admin.get("/api/v1/tokens").json()["items"]
    assert [(t["name"], t["role"], t["created_by"]) for t in listed] == [("홈어시스턴트", "viewer", USERS["admin"])]
    assert "token" not in listed[0]  # the secret is shown once
    integration = httpx.Client(base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {secret}"})
    assert integration.get("/api/v1/meetings").status_code == 200
    assert integration.post("/api/v1/meetings", json={"title": "x"}).status_code == 403
    assert admin.post("/api/v1/tokens", json={"name": "홈어시스턴트", "role": "admin"}).status_code == 409
    assert admin.delete("/api/v1/tokens/홈어시스턴트").status_code == 204
    assert integration.get("/api/v1/meetings").status_code == 401


def test_users_are_managed_by_admins_and_the_last_admin_stays(server: ApiServer, accounts: Accounts) -> None:
    admin = login(server.url, USERS["admin"])
    park_in = {"name": "박서준", "role": "member", "password": PASSWORD}
    assert admin.post("/api/v1/users", json={**park_in, "password": "short"}).status_code == 422
    assert admin.post("/api/v1/users", json=park_in).status_code == 201
    with closing(login(server.url, "박서준")) as park:
        assert park.get("/api/v1/session").json()["role"] == "member"
        assert admin.patch("/api/v1/users/박서준", json={"password": "새-비밀번호-1234"}).status_code == 200
        assert park.get("/api/v1/session").status_code == 401  # a new password ends the user's sessions
    assert admin.delete(f"/api/v1/users/{USERS['admin']}").status_code == 409  # the only admin: a conflict
    with pytest.raises(AccountError, match="only admin"):
        accounts.set_role(USERS["admin"], "viewer")
    assert admin.delete("/api/v1/users/박서준").status_code == 204
    assert [user.name for user in accounts.users()] == sorted(USERS.values())
