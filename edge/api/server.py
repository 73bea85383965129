"""Run the API with uvicorn in a background thread, with a graceful stop.

The listening socket is bound in the caller's thread, so a taken port or a wrong address is a clear
UserError at start-up instead of a log line from a dying thread.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import TYPE_CHECKING

from edge.core.errors import UserError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from edge.api.tls import TlsFiles

log = logging.getLogger(__name__)


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise UserError(f"api.host {host!r} cannot be used ({exc}); set api.host to an address of this box") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UserError(
            f"the API cannot listen on {host}:{port} ({exc.strerror}); choose another api.port or stop the "
            "program using it"
        ) from None
    sock.setblocking(False)
    return sock


class ApiServer:
    """`ApiServer(app, host, port).start()` serves until `.stop()`. Port 0 picks a free port (`.port`).
    With `tls` it serves HTTPS only."""

    def __init__(
        self, app: FastAPI, host: str, port: int, *, tls: TlsFiles | None = None, shutdown_timeout_s: float = 5.0
    ) -> None:
        import uvicorn

        self.app = app
        self.host = host
        self.tls = tls
        self._requested_port = port
        self._shutdown_timeout_s = shutdown_timeout_s
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            lifespan="off",
            log_config=None,  # keep the box's logging configuration
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=max(1, round(shutdown_timeout_s)),
            ssl_certfile=str(tls.cert_file) if tls else None,
            ssl_keyfile=str(tls.key_file) if tls else None,
        )
        self._server = uvicorn.Server(config)
        self._socket: socket.socket | None = None
        self._bound_port = 0
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def port(self) -> int:
        return self._bound_port or self._requested_port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def start(self, timeout_s: float = 15.0) -> None:
        if self._thread is not None:
            raise RuntimeError("ApiServer.start() called twice")
        self._socket = _bind(self.host, self._requested_port)
        self._bound_port = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._run, args=(self._socket,), name="api-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise UserError(f"the API server did not start on {self.url} ({self._failure or 'timed out'})")
            time.sleep(0.01)
        start_background = getattr(self.app.state, "start_background", None)
        if start_background is not None:
            start_background()
        log.info("API listening on %s", self.url)

    def _run(self, sock: socket.socket) -> None:
        try:
            self._server.run(sockets=[sock])
        except BaseException as exc:  # SystemExit from uvicorn included: report it, never kill the box
            self._failure = exc
            log.error("API server stopped: %s", exc)

    def stop(self) -> None:
        """Ends live streams, lets running requests finish (bounded by shutdown_timeout_s), closes."""
        stopping = getattr(self.app.state, "stopping", None)
        if stopping is not None:
            stopping.set()
        self._server.should_exit = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self._shutdown_timeout_s + 5)
            if self._thread.is_alive():
                log.warning("API server thread did not stop within %.0f s", self._shutdown_timeout_s + 5)
        if self._socket is not None:
            self._socket.close()
