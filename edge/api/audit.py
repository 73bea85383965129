"""The audit log: who (a user, or `token:<name>` for an integration) exported, deleted, edited, approved or
changed the glossary, users or tokens, and when (the box's wall clock), kept for `api.audit_retention_days`.

`AuditTrail` records from the requests themselves: an operation of `AUDITED` that succeeded (status below
400) is written with the principal the authenticator found, so a new route is audited by one line here.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.api.accounts import Principal, Transactional
from edge.core.clock import WallClock

log = logging.getLogger(__name__)

PRUNE_INTERVAL_S = 86_400.0
API = "/api/v1"
MEETING = r"(?P<target>[^/]+)"
# (method, path pattern, action): the target is the pattern's `target` group.
AUDITED: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(API + pattern), action)
    for method, pattern, action in (
        ("GET", rf"/meetings/{MEETING}/export", "export"),
        ("GET", rf"/meetings/{MEETING}/minutes\.md", "export"),
        ("GET", r"/glossary/export\.csv(?P<target>)", "export"),
        ("DELETE", rf"/meetings/{MEETING}", "delete"),
        ("PATCH", r"/meetings/(?P<target>[^/]+/segments/[^/]+)", "edit"),
        ("PUT", rf"/meetings/{MEETING}/attendees", "edit"),
        ("PUT", r"/meetings/(?P<target>[^/]+/speakers/[^/]+)", "edit"),
        ("POST", rf"/meetings/{MEETING}/minutes/approve", "approve"),
        ("POST", r"/meetings(?P<target>)", "start"),
        ("POST", rf"/meetings/{MEETING}/stop", "stop"),
        ("POST", r"/(?P<target>transcribe|import)", "upload"),
        ("POST", rf"/meetings/{MEETING}/retranscribe", "upload"),
        ("POST", rf"/jobs/{MEETING}/cancel", "cancel"),
        ("PUT", r"/glossary/terms/(?P<target>.+)", "glossary"),
        ("DELETE", r"/glossary/terms/(?P<target>.+)", "glossary"),
        ("POST", r"/glossary/(?P<target>import)", "glossary"),
        ("POST", r"/glossary/suggestions/(?P<target>\d+/(accept|reject))", "glossary"),
        ("POST", r"/users(?P<target>)", "users"),
        ("PATCH", r"/users/(?P<target>[^/]+)", "users"),
        ("DELETE", r"/users/(?P<target>[^/]+)", "users"),
        ("POST", r"/tokens(?P<target>)", "tokens"),
        ("DELETE", r"/tokens/(?P<target>[^/]+)", "tokens"),
    )
)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    actor: str
    action: str
    target: str
    detail: str


def audited_action(method: str, path: str) -> tuple[str, str] | None:
    """(action, target) when `method` `path` (an ASGI path: percent-decoded) is audited."""
    for audited_method, pattern, action in AUDITED:
        if method == audited_method:
            match = pattern.fullmatch(path)
            if match:
                return action, match.group("target")
    return None


class AuditLog:
    def __init__(self, store: Transactional, clock: WallClock, retention_days: int) -> None:
        self._store = store
        self._clock = clock
        self.retention_days = retention_days

    def record(self, actor: str, action: str, target: str = "", detail: str = "") -> None:
        with self._store.transaction() as db:
            db.execute("INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
                       (self._clock.iso(), actor, action, target[:500], detail[:1000]))

    def entries(self, *, limit: int = 100, before_id: int | None = None) -> list[AuditEntry]:
        """Newest first; `before_id` pages on."""
        with self._store.transaction() as db:
            rows = db.execute(
                "SELECT id, at, actor, action, target, detail FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?",
                (before_id if before_id is not None else 2**63 - 1, limit),
            ).fetchall()
        return [AuditEntry(*row) for row in rows]

    def prune(self) -> int:
        """Delete entries older than the retention; returns how many."""
        cutoff = (self._clock.now() - timedelta(days=self.retention_days)).isoformat(timespec="milliseconds")
        with self._store.transaction() as db:
            deleted = db.execute("DELETE FROM audit_log WHERE at < ?", (cutoff,)).rowcount
        if deleted:
            log.info("audit log: deleted %d entries older than %d days", deleted, self.retention_days)
        return deleted

    def start_pruning(self, stopping: threading.Event) -> threading.Thread:
        """Prunes now and then daily until `stopping` is set."""

        def loop() -> None:
            while True:
                try:
                    self.prune()
                except Exception:  # a locked or full disk: try again tomorrow, never stop the API
                    log.exception("audit log pruning failed")
                if stopping.wait(PRUNE_INTERVAL_S):
                    return

        thread = threading.Thread(target=loop, name="audit-prune", daemon=True)
        thread.start()
        return thread


class AuditTrail:
    """ASGI middleware: records each audited operation that succeeded, with its principal."""

    def __init__(self, app: ASGIApp, *, audit: AuditLog) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        audited = audited_action(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if audited is None:
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, send_status)
        principal = scope.get("state", {}).get("principal")
        if status and status[0] < 400 and isinstance(principal, Principal):
            action, target = audited
            detail = scope.get("query_string", b"").decode("latin-1")
            try:
                await run_in_threadpool(self.audit.record, principal.actor, action, target, detail)
            except Exception:  # the operation is done and answered; a full disk must not hide that it was
                log.exception("audit log: could not record %s %s by %s", action, target, principal.actor)
