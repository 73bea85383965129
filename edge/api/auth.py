"""Who may do what: bearer tokens, login sessions, roles, CSRF and the login rate limit.

A request is made by a principal (edge.api.accounts.Principal) found from, in order:
- `Authorization: Bearer <token>`: an integration's API token (each with a role), or the token in
  `api.token_file` (generated on first run, mode 0600), which stays an admin token for upgrades;
- the `edge_session` cookie a login sets (HttpOnly, SameSite=Strict, Secure over HTTPS).

CSRF: a browser attaches cookies on its own, so a state-changing request made with the session cookie
must also carry the session's CSRF token in `X-CSRF-Token` (a page on another site cannot read it), and
an `Origin` or `Sec-Fetch-Site` header naming another site is refused. Bearer tokens are never sent by a
browser on its own and need neither; the app sends no CORS headers.

What each role may do is one table (`required_role`): reading is for viewers, changing for members,
and the glossary, users, tokens, the audit log and deleting for admins.

EventSource cannot send headers, so the live stream also accepts a short-lived, single-use `?ticket=`:
the long-lived token never appears in a URL or a log.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated

from fastapi import HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from edge.api.accounts import Accounts, Principal, Role
from edge.core.errors import UserError

log = logging.getLogger(__name__)

MIN_TOKEN_CHARS = 16
TICKET_TTL_S = 60.0
MAX_OUTSTANDING_TICKETS = 256

bearer_scheme = HTTPBearer(auto_error=False, description="An API token of the box, or the one in api.token_file.")
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]


def load_or_create_token(path: Path) -> tuple[str, bool]:
    """Return (token, created). A missing file is created with a new secret, mode 0600, parents
    included; the caller prints a created token once."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        try:
            # O_EXCL: two processes starting at once cannot overwrite each other's token.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _read_token(path), False
        except OSError as exc:
            raise UserError(f"cannot create the API token file {path}: {exc.strerror}; fix api.token_file") from None
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(token + "\n")
            file.flush()
            os.fsync(file.fileno())
        return token, True
    return _read_token(path), False


def _read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the API token file {path} ({exc}); fix its permissions or delete it") from None
    if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
        raise UserError(
            f"the API token in {path} is empty, too short or contains spaces; delete the file to generate "
            f"a new token, or write one of at least {MIN_TOKEN_CHARS} characters"
        )
    if path.stat().st_mode & 0o077:
        log.warning("API token file %s is readable by other users; run `chmod 600 %s`", path, path)
    return token


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


SESSION_COOKIE = "edge_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FILE_TOKEN_NAME = "api.token_file"
API = "/api/v1"
# Posts that change nothing a viewer may not see: a ticket to read the live stream, a question, logging out.
VIEWER_POSTS = re.compile(rf"{API}/(live/ticket|logout|meetings/[^/]+/ask)")
ADMIN_AREAS = (f"{API}/users", f"{API}/tokens", f"{API}/audit")
ADMIN_CHANGES = (f"{API}/glossary",)


def required_role(method: str, path: str) -> Role:
    """The least role allowed to call `method` on `path` (a request's path, or a route's template)."""
    changing = method not in SAFE_METHODS
    if path.startswith(ADMIN_AREAS) or method == "DELETE" or (changing and path.startswith(ADMIN_CHANGES)):
        return "admin"
    if not changing or VIEWER_POSTS.fullmatch(path):
        return "viewer"
    return "member"


def forbidden(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=detail)


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site (Origin, Sec-Fetch-Site)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


class Authenticator:
    """FastAPI dependency: finds the request's principal, checks its role for the route, and for a cookie
    session the CSRF token of a state-changing request. The principal is left in `request.state.principal`."""

    def __init__(self, accounts: Accounts, file_token: str) -> None:
        self.accounts = accounts
        self._file_token = file_token.encode("utf-8")

    def identify(self, request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
        """The principal, or 401."""
        if credentials is not None:
            candidate = credentials.credentials
            if hmac.compare_digest(candidate.encode("utf-8"), self._file_token):
                return Principal(FILE_TOKEN_NAME, "admin", "token")
            principal = self.accounts.token(candidate)
            if principal is None:
                raise unauthorized("wrong bearer token; use an API token of this box (or the one in api.token_file)")
            return principal
        cookie = request.cookies.get(SESSION_COOKIE)
        principal = self.accounts.session(cookie) if cookie else None
        if principal is None:
            raise unauthorized(
                "not logged in: log in on the admin page, or send `Authorization: Bearer <an API token>` "
                "(such as the one in api.token_file)"
            )
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not same_origin(request) or not hmac.compare_digest(sent.encode(), (principal.csrf or "").encode()):
                raise forbidden(
                    f"cross-site request refused: a change made with the session cookie needs the {CSRF_HEADER} "
                    "header of the page's session and must come from the box's own page"
                )
        return principal

    def authorize(self, request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
        principal = self.identify(request, credentials)
        needed = required_role(request.method, request.scope["path"])
        if not principal.may(needed):
            raise forbidden(f"{principal.name!r} is a {principal.role}; this needs the {needed} role (ask an admin)")
        request.state.principal = principal
        return principal

    def __call__(self, request: Request, credentials: BearerCredentials) -> Principal:
        return self.authorize(request, credentials)


class LoginLimiter:
    """Slows password guessing: after `free` wrong passwords in a row for a user name or from a client
    address, each further try waits `2**(failures - free)` seconds (at most `max_wait_s`) after the last;
    a try in that wait is refused without checking the password. A right password clears its counts."""

    def __init__(self, free: int = 5, max_wait_s: float = 900.0, capacity: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.free = free
        self.max_wait_s = max_wait_s
        self._capacity = capacity
        self._clock = clock
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # key -> (count, last failure)
        self._lock = threading.Lock()

    def wait_s(self, keys: Iterable[str]) -> float:
        """Seconds until the next try is allowed for all of `keys` (0: now)."""
        now = self._clock()
        with self._lock:
            waits = [0.0]
            for key in keys:
                count, last = self._failures.get(key, (0, 0.0))
                if count >= self.free:
                    waits.append(last + min(self.max_wait_s, 2.0 ** (count - self.free)) - now)
            return max(waits)

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                count, _ = self._failures.pop(key, (0, 0.0))
                self._failures[key] = (count + 1, now)
            while len(self._failures) > self._capacity:
                self._failures.popitem(last=False)

    def succeeded(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


class LiveTickets:
    """Short-lived, single-use tickets for the live stream's URL."""

    def __init__(self, ttl_s: float = TICKET_TTL_S, capacity: int = MAX_OUTSTANDING_TICKETS) -> None:
        self.ttl_s = ttl_s
        self._capacity = capacity
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def issue(self) -> str:
        ticket = secrets.token_urlsafe(24)
        with self._lock:
            self._expiry[ticket] = time.monotonic() + self.ttl_s
            while len(self._expiry) > self._capacity:
                self._expiry.popitem(last=False)
        return ticket

    def redeem(self, ticket: str) -> bool:
        now = time.monotonic()
        with self._lock:
            for stale in [t for t, expiry in self._expiry.items() if expiry < now]:
                del self._expiry[stale]
            return self._expiry.pop(ticket, 0.0) >= now
