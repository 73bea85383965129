"""The FastAPI app factory: the routers of every area under /api/v1, the admin page at /, error
handling that answers every user mistake with JSON {"detail": ...}, and body limits.

Adding an area (glossary, minutes, ...) means one `routes_<area>.py` with `build_router(...)` and one
`include_router` line here, plus its panel in static/app.js.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import cast

from fastapi import APIRouter, FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge import __version__
from edge.api import (
    routes_about,
    routes_ask,
    routes_audio,
    routes_audit,
    routes_glossary,
    routes_jobs,
    routes_live,
    routes_meetings,
    routes_minutes,
    routes_retranscribe,
    routes_search,
    routes_session,
    routes_speakers,
    routes_status,
    routes_transcribe,
    routes_users,
)
from edge.api.accounts import Accounts, Transactional
from edge.api.audit import AuditLog, AuditTrail
from edge.api.auth import Authenticator, LiveTickets, LoginLimiter
from edge.api.health_history import DEFAULT_INTERVAL_S, HealthHistory
from edge.api.limits import MIB, BodySizeLimit, HostCheck, JsonBodyCheck, allowed_host_names
from edge.api.tls import TlsFiles
from edge.core.config import ApiConfig
from edge.core.errors import UserError
from edge.pipeline.control import BoxBusy, BoxControl, JobNotFound, MeetingAlreadyRunning, NoMeetingRunning
from edge.pipeline.records import upload_dir
from edge.store import MeetingInUse, MeetingNotFound, StoreWriteFailed

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
STATIC_DIR = Path(__file__).resolve().parent / "static"
# Browser libraries installed by `make setup` (web/package-lock.json), served from the box, never a CDN.
WEB_LIBRARIES_DIR = Path(__file__).resolve().parents[2] / "build" / "web" / "node_modules"
UPLOT_DIR = WEB_LIBRARIES_DIR / "uplot" / "dist"
JSON_BODY_MAX_BYTES = 1 * MIB

SECURITY_HEADERS = {
    # The page loads only its own files; transcript text can never become script or markup. A segment's
    # audio plays from a blob the page made of the bytes it fetched (media-src blob:).
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    # Keeps a live-stream ticket in a URL out of Referer headers.
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}

API_DESCRIPTION = """Local API of the meeting-room box.

Every endpoint except `/api/v1/health`, `/api/v1/about`, `/api/v1/login` and this document needs either
`Authorization: Bearer <token>` (an API token an admin created, each with a role, or the admin token in the
file named by `api.token_file`) or the session cookie `POST /api/v1/login` sets. Roles: viewer reads,
member also runs meetings, edits segments, names speakers and approves minutes, admin also changes the
glossary, users and tokens, deletes and reads the audit log (403 otherwise). A change made with the session
cookie needs the session's `X-CSRF-Token` header (from the login or `GET /api/v1/session`); cross-site requests
are refused.
The live stream (`/api/v1/live`) also accepts a single-use `?ticket=` for EventSource.
"""


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if scope["path"].startswith(API_PREFIX):
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _error(code: int):
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=code)

    return handler


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        {"detail": "internal error; the box's log has the details"}, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's 422, rendered so that any input it quotes (a lone surrogate in a path or query) stays
    ASCII-escaped JSON: its own handler fails to encode such input and the connection is reset."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else [{"msg": str(exc)}]
    body = json.dumps({"detail": jsonable_encoder(errors)}, ensure_ascii=True, default=repr)
    return Response(body, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, media_type="application/json")


def create_app(
    control: BoxControl, cfg: ApiConfig, token: str, *, health_sample_s: float = DEFAULT_INTERVAL_S,
    device_id: str = "edge-box", tls: TlsFiles | None = None,
) -> FastAPI:
    """The API and admin page for one box. `app.state.start_background()` starts the health sampler and
    `app.state.stopping` ends it and open live streams (ApiServer.start and stop). `tls`: the certificate
    the box serves, shown by /about."""
    # The records of the box are its Store (edge.store), whose transactions the accounts share.
    store = cast(Transactional, control.records)
    auth = Authenticator(Accounts(store, control.clock), token)
    audit = AuditLog(store, control.clock, cfg.audit_retention_days)
    stopping = threading.Event()
    history = HealthHistory(
        control.health, control.records.path.parent, interval_s=health_sample_s, clock=control.clock
    )
    max_upload_bytes = int(cfg.max_upload_mb * MIB)

    app = FastAPI(
        title="Meeting-room box",
        version=__version__,
        description=API_DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN; the box works offline
        redoc_url=None,
    )
    app.state.stopping = stopping
    app.state.health_history = history

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(routes_status.build_router(control, auth, history))
    api.include_router(routes_about.build_router(device_id, tls))
    api.include_router(routes_session.build_router(auth, LoginLimiter(), audit))
    api.include_router(routes_users.build_router(auth))
    api.include_router(routes_audit.build_router(auth, audit))
    api.include_router(routes_meetings.build_router(control, auth))
    api.include_router(routes_speakers.build_router(control, auth))
    api.include_router(routes_glossary.build_router(control, auth))
    api.include_router(routes_minutes.build_router(control, auth))
    api.include_router(routes_search.build_router(control, auth))
    api.include_router(routes_audio.build_router(control, auth))
    api.include_router(routes_ask.build_router(control, auth))
    api.include_router(routes_live.build_router(control, auth, LiveTickets(), stopping))
    api.include_router(
        routes_transcribe.build_router(
            control, auth, upload_dir=upload_dir(control.records), max_upload_bytes=max_upload_bytes,
            max_upload_minutes=cfg.max_upload_minutes,
        )
    )
    api.include_router(routes_jobs.build_router(control, auth))
    api.include_router(routes_retranscribe.build_router(control, auth, upload_dir=upload_dir(control.records)))
    app.include_router(api)

    for exc_type, code in (
        (MeetingNotFound, status.HTTP_404_NOT_FOUND),
        (MeetingInUse, status.HTTP_409_CONFLICT),
        (LookupError, status.HTTP_404_NOT_FOUND),
        (MeetingAlreadyRunning, status.HTTP_409_CONFLICT),
        (NoMeetingRunning, status.HTTP_409_CONFLICT),
        (JobNotFound, status.HTTP_409_CONFLICT),
        (BoxBusy, status.HTTP_503_SERVICE_UNAVAILABLE),
        (StoreWriteFailed, status.HTTP_507_INSUFFICIENT_STORAGE),  # a full disk: the message says what to free
        (UserError, status.HTTP_400_BAD_REQUEST),
    ):
        app.add_exception_handler(exc_type, _error(code))
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _internal_error)

    @app.get("/", include_in_schema=False)
    def admin_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    if UPLOT_DIR.is_dir():  # without it the Health tab says how to install it (make setup)
        app.mount("/static/vendor/uplot", StaticFiles(directory=UPLOT_DIR), name="uplot")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    app.add_middleware(AuditTrail, audit=audit)
    app.add_middleware(JsonBodyCheck, max_bytes=JSON_BODY_MAX_BYTES)
    app.add_middleware(
        BodySizeLimit,
        default_bytes=JSON_BODY_MAX_BYTES,
        path_bytes={
            f"{API_PREFIX}/transcribe": max_upload_bytes,
            f"{API_PREFIX}/import": routes_transcribe.IMPORT_MAX_BYTES,
        },
    )
    allowed = allowed_host_names(cfg.host, cfg.allowed_hosts)
    if allowed is not None:
        app.add_middleware(HostCheck, allowed=allowed)
    app.add_middleware(SecurityHeaders)
    # Started by ApiServer.start, so an app that is never served (a test client) samples nothing.
    app.state.audit = audit

    def start_background() -> None:
        history.start(stopping)
        audit.start_pruning(stopping)  # at start, then daily

    app.state.start_background = start_background
    return app
