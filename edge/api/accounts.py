"""People and integrations allowed into the box, with a role each, kept in the box's database.

Roles, each including the one before: viewer (read), member (run meetings, edit segments, approve
minutes), admin (settings, glossary, users, tokens, delete, the audit log). There is no default account
or password: `edge users add NAME --role admin` makes the first one.

Passwords are stored as argon2id hashes (memory-hard); a login session and an API token are random
secrets of which only the SHA-256 is stored, so a copy of the database opens nothing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, Protocol, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from edge.core.clock import WallClock
from edge.core.errors import UserError

Role = Literal["viewer", "member", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
SESSION_HOURS = 12
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024
NAME_PATTERN = re.compile(r"[\w.@-]{1,64}")
TOKEN_PREFIX = "edge_"


class Transactional(Protocol):
    """The store's transaction API (edge.store.Store.transaction)."""

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...


class AccountError(UserError):
    """A name, role or password that cannot be used; the message says which and why."""


class LastAdmin(AccountError):
    """The change would leave the box without an admin (a conflict with its state: 409)."""


class AccountNotFound(AccountError, LookupError):
    """No user or token of that name."""


class AccountExists(AccountError):
    """A user or token of that name exists already."""


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a person logged in (kind "user") or an integration's token (kind "token")."""

    name: str
    role: Role
    kind: Literal["user", "token"]
    csrf: str | None = None  # a cookie session's CSRF token; None for a bearer token

    def may(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def actor(self) -> str:
        """How the audit log names it."""
        return self.name if self.kind == "user" else f"token:{self.name}"


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class ApiToken:
    name: str
    role: Role
    created_at: str
    created_by: str
    last_used_at: str | None


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def checked_name(name: str, what: str = "user") -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise AccountError(
            f"{what} name {name[:80]!r} is not allowed; use 1-64 letters (Hangul included), digits, '.', '@', '-' "
            "or '_'"
        )
    return name


def checked_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise AccountError(f"role {role[:40]!r} does not exist; use one of {', '.join(ROLES)}")


def checked_password(password: str) -> str:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise AccountError(
            f"a password needs {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters; choose a longer one"
        )
    return password


class Accounts:
    """Users, their login sessions and the integrations' API tokens, in the store's database."""

    def __init__(self, store: Transactional, clock: WallClock) -> None:
        self._store = store
        self._clock = clock
        self._hasher = PasswordHasher()  # argon2id with the library's defaults (RFC 9106, 64 MiB)
        self._dummy_hash: str | None = None

    # users

    def add_user(self, name: str, role: str, password: str) -> User:
        name, checked, hashed = checked_name(name), checked_role(role), self._hasher.hash(checked_password(password))
        now = self._clock.iso()
        with self._store.transaction() as db:
            if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise AccountExists(f"user {name!r} exists already; choose another name or `edge users passwd`")
            db.execute("INSERT INTO users (name, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                       (name, checked, hashed, now, now))
        return User(name, checked, now, now)

    def users(self) -> list[User]:
        with self._store.transaction() as db:
            rows = db.execute("SELECT name, role, created_at, updated_at FROM users ORDER BY name").fetchall()
        return [User(name, checked_role(role), created, updated) for name, role, created, updated in rows]

    def user(self, name: str) -> User:
        for user in self.users():
            if user.name == name:
                return user
        raise AccountNotFound(f"there is no user {name[:80]!r}; `edge users list` shows them")

    def remove_user(self, name: str) -> None:
        with self._store.transaction() as db:
            self._check_not_last_admin(db, name)
            if db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 0:
                raise AccountNotFound(f"there is no user {name[:80]!r}; `edge users list` shows them")

    def set_role(self, name: str, role: str) -> User:
        checked = checked_role(role)
        with self._store.transaction() as db:
            if checked != "admin":
                self._check_not_last_admin(db, name)
            if db.execute("UPDATE users SET role = ?, updated_at = ? WHERE name = ?",
                          (checked, self._clock.iso(), name)).rowcount == 0:
                raise AccountNotFound(f"there is no user {name[:80]!r}; `edge users list` shows them")
        return self.user(name)

    def set_password(self, name: str, password: str) -> None:
        """A new password ends every session of the user."""
        hashed = self._hasher.hash(checked_password(password))
        with self._store.transaction() as db:
            if db.execute("UPDATE users SET password_hash = ?, updated_at = ? WHERE name = ?",
                          (hashed, self._clock.iso(), name)).rowcount == 0:
                raise AccountNotFound(f"there is no user {name[:80]!r}; `edge users list` shows them")
            db.execute("DELETE FROM sessions WHERE user_name = ?", (name,))

    def _check_not_last_admin(self, db: sqlite3.Connection, name: str) -> None:
        admins = [row[0] for row in db.execute("SELECT name FROM users WHERE role = 'admin'")]
        if admins == [name]:
            raise LastAdmin(f"{name!r} is the only admin; make another admin first")

    def verify(self, name: str, password: str) -> User | None:
        """The user when the password is theirs. An unknown name costs the same hash, so timing tells nothing."""
        with self._store.transaction() as db:
            row = db.execute("SELECT password_hash FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
            stored = self._dummy_hash
        else:
            stored = row[0]
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if self._hasher.check_needs_rehash(stored):
            with self._store.transaction() as db:
                db.execute("UPDATE users SET password_hash = ? WHERE name = ?", (self._hasher.hash(password), name))
        return self.user(name)

    # sessions

    def open_session(self, user: User) -> tuple[str, str]:
        """A new session for `user`: (the cookie's secret, its CSRF token)."""
        secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = self._clock.now()
        created = now.isoformat(timespec="milliseconds")
        expires = (now + timedelta(hours=SESSION_HOURS)).isoformat(timespec="milliseconds")
        with self._store.transaction() as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (created,))
            db.execute("INSERT INTO sessions (id_sha256, user_name, csrf, created_at, expires_at) "
                       "VALUES (?, ?, ?, ?, ?)", (_sha256(secret), user.name, csrf, created, expires))
        return secret, csrf

    def session(self, secret: str) -> Principal | None:
        with self._store.transaction() as db:
            row = db.execute(
                "SELECT u.name, u.role, s.csrf FROM sessions s JOIN users u ON u.name = s.user_name "
                "WHERE s.id_sha256 = ? AND s.expires_at > ?", (_sha256(secret), self._clock.iso()),
            ).fetchone()
        return None if row is None else Principal(row[0], checked_role(row[1]), "user", row[2])

    def close_session(self, secret: str) -> None:
        with self._store.transaction() as db:
            db.execute("DELETE FROM sessions WHERE id_sha256 = ?", (_sha256(secret),))

    # API tokens

    def create_token(self, name: str, role: str, *, created_by: str) -> tuple[ApiToken, str]:
        """A new token for an integration: (its record, the secret, shown this once)."""
        name, checked = checked_name(name, "token"), checked_role(role)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self._clock.iso()
        with self._store.transaction() as db:
            if db.execute("SELECT 1 FROM api_tokens WHERE name = ?", (name,)).fetchone():
                raise AccountExists(f"token {name!r} exists already; revoke it first or choose another name")
            db.execute("INSERT INTO api_tokens (name, role, secret_sha256, created_at, created_by) "
                       "VALUES (?, ?, ?, ?, ?)", (name, checked, _sha256(secret), now, created_by))
        return ApiToken(name, checked, now, created_by, None), secret

    def tokens(self) -> list[ApiToken]:
        with self._store.transaction() as db:
            rows = db.execute(
                "SELECT name, role, created_at, created_by, last_used_at FROM api_tokens ORDER BY name").fetchall()
        return [ApiToken(name, checked_role(role), *rest) for name, role, *rest in rows]

    def revoke_token(self, name: str) -> None:
        with self._store.transaction() as db:
            if db.execute("DELETE FROM api_tokens WHERE name = ?", (name,)).rowcount == 0:
                raise AccountNotFound(f"there is no token {name[:80]!r}")

    def token(self, secret: str) -> Principal | None:
        if not secret.startswith(TOKEN_PREFIX):
            return None
        digest = _sha256(secret)  # a lookup by hash: its time says nothing about the secret
        with self._store.transaction() as db:
            row = db.execute("SELECT name, role FROM api_tokens WHERE secret_sha256 = ?", (digest,)).fetchone()
            if row is not None:  # to the minute: not a write on every request
                now = self._clock.iso()
                db.execute("UPDATE api_tokens SET last_used_at = ? WHERE secret_sha256 = ? AND "
                           "(last_used_at IS NULL OR substr(last_used_at, 1, 16) < substr(?, 1, 16))",
                           (now, digest, now))
        return None if row is None else Principal(row[0], checked_role(row[1]), "token")

