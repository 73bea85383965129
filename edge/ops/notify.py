"""systemd service notifications (sd_notify) over $NOTIFY_SOCKET: READY, WATCHDOG, STATUS, STOPPING.

Pure Python: one AF_UNIX datagram per message, as systemd's sd_notify() sends it. Without
NOTIFY_SOCKET (a terminal, a test, a container) every call is a no-op. A failed send is logged, never
raised: a lost notification must not take the box down (systemd's timeouts handle a silent box).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends notifications for this process; use `Notifier.from_environment()` in the app."""

    def __init__(self, address: str | None, *, watchdog_usec: int | None = None) -> None:
        self._address = _socket_address(address) if address else None
        self.watchdog_usec = watchdog_usec
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._warned = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, *, pid: int | None = None) -> Notifier:
        """NOTIFY_SOCKET and WATCHDOG_USEC as systemd sets them for the service's main process.

        WATCHDOG_PID names the process the watchdog is meant for; in any other process (a child that
        inherited the environment) the watchdog is off, as sd_watchdog_enabled() does it.
        """
        environ = os.environ if environ is None else environ
        pid = os.getpid() if pid is None else pid
        watchdog_usec = None
        usec_text = environ.get("WATCHDOG_USEC", "")
        pid_text = environ.get("WATCHDOG_PID", "")
        if usec_text.isdigit() and int(usec_text) > 0 and (not pid_text or pid_text == str(pid)):
            watchdog_usec = int(usec_text)
        return cls(environ.get("NOTIFY_SOCKET") or None, watchdog_usec=watchdog_usec)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds systemd waits for a WATCHDOG=1 before it kills the service (WatchdogSec), if set."""
        return self.watchdog_usec / 1_000_000 if self.watchdog_usec else None

    def send(self, *fields: str) -> bool:
        """Send "KEY=value" fields in one datagram; True when it was handed to the socket."""
        if self._address is None:
            return False
        payload = "\n".join(fields).encode("utf-8")
        with self._lock:
            try:
                if self._socket is None:
                    self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._socket.sendto(payload, self._address)
            except OSError as exc:
                if not self._warned:
                    log.warning("cannot notify systemd at %r: %s", self._address, exc)
                    self._warned = True
                return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """The service finished starting (models loaded, pipeline running)."""
        return self.send("READY=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        """Free text shown by `systemctl status`."""
        return self.send(f"STATUS={_one_line(text)}")

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for more start/stop time (slow model loading on a small board)."""
        return self.send(f"EXTEND_TIMEOUT_USEC={int(seconds * 1_000_000)}")

    def close(self) -> None:
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _socket_address(address: str) -> str | None:
    if address.startswith("@"):
        return "\0" + address[1:]
    if address.startswith("/"):
        return address
    log.warning("NOTIFY_SOCKET=%r is neither an absolute path nor an abstract socket; ignoring it", address)
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())
