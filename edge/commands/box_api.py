"""Commands that ask the running box (`edge retranscribe`, `edge jobs`) reach its API on this machine with
the token from its configuration, and turn what goes wrong into a sentence."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

from edge.core.config import ApiConfig, Config
from edge.core.errors import UserError


def api_url(cfg: ApiConfig) -> str:
    """Where this machine reaches the box's API: a box listening on every address is asked on loopback."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(cfg.host, cfg.host)
    return f"{'https' if cfg.serves_tls else 'http'}://{f'[{host}]' if ':' in host else host}:{cfg.port}"


def tls_context(cfg: ApiConfig) -> ssl.SSLContext | None:
    """What verifies the box's certificate: its own CA (api.tls_dir), else the system's CAs for an
    operator's certificate."""
    from edge.api.tls import CA_CERT

    if not cfg.serves_tls:
        return None
    if cfg.tls_cert_file is not None:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=str(cfg.tls_dir / CA_CERT))


def ask_box(cfg: Config, path: str, *, method: str = "GET", url: str | None = None, timeout: float = 60) -> dict:
    """The JSON answer of the box's API to `method` /api/v1`path`; UserError when the token cannot be read,
    the box cannot be reached or refuses (with its reason)."""
    try:
        token = cfg.api.token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UserError(
            f"cannot read the API token {cfg.api.token_file} ({exc.strerror}); start the box once (edge run) or "
            "point --config at its configuration"
        ) from None
    base = (url or api_url(cfg.api)).rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(f"{base}/api/v1{path}", method=method, headers=headers)
    try:
        context = tls_context(cfg.api) if base.startswith("https:") else None
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("detail", exc.reason)
        except ValueError:
            detail = exc.reason
        raise UserError(f"the box refused: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"cannot reach the box at {base} ({reason}); is it running (edge run)?") from None
