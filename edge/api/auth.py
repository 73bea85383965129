"""Bearer-token authentication for the API.

The token is a random secret generated on first run and stored in `api.token_file` (mode 0600);
there is no default password. Every request except health, the OpenAPI document and the static
admin page sends `Authorization: Bearer <token>`.

CSRF: browsers never attach an Authorization header on their own (unlike cookies), and the app
sends no CORS headers, so another site cannot make a logged-in browser change state here.

EventSource cannot send headers, so the live stream also accepts a short-lived, single-use
`?ticket=` bought with the bearer token: the long-lived token never appears in a URL or a log.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Annotated

from fastapi import HTTPException, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from edge.core.errors import UserError

log = logging.getLogger(__name__)

MIN_TOKEN_CHARS = 16
TICKET_TTL_S = 60.0
MAX_OUTSTANDING_TICKETS = 256

bearer_scheme = HTTPBearer(auto_error=False, description="The token stored in api.token_file.")
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


class BearerAuth:
    """FastAPI dependency: the request must carry the box's bearer token (constant-time compare)."""

    def __init__(self, token: str) -> None:
        self._token = token.encode("utf-8")

    def check(self, credentials: HTTPAuthorizationCredentials | None) -> None:
        if credentials is None:
            raise unauthorized("missing bearer token; send `Authorization: Bearer <the token in api.token_file>`")
        if not self.matches(credentials.credentials):
            raise unauthorized("wrong bearer token; use the token stored in api.token_file")

    def matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode("utf-8"), self._token)

    async def __call__(self, credentials: BearerCredentials) -> None:
        self.check(credentials)


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
