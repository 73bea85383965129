from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from edge.core.config import ApiConfig, load_config
from edge.core.errors import UserError

HELP = (
    "Transcribe a recorded meeting again from its audio archive, with the running box's current model and "
    "glossary, into a new meeting (its title names the old one; the old meeting is left as it is)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("meeting_id", help="The recorded meeting's id (as the admin page or `GET /meetings` shows).")
    parser.add_argument(
        "--config", type=Path, default=os.environ.get("EDGE_CONFIG"), help="TOML configuration file ($EDGE_CONFIG)."
    )
    parser.add_argument("--url", help="The box's API (default: from api.host and api.port of the configuration).")
    parser.add_argument("--json", action="store_true", help="Print the new meeting as JSON (as the API returns it).")


def api_url(cfg: ApiConfig) -> str:
    """Where this machine reaches the box's API: a box listening on every address is asked on loopback."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(cfg.host, cfg.host)
    return f"http://{f'[{host}]' if ':' in host else host}:{cfg.port}"


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    try:
        token = cfg.api.token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UserError(
            f"cannot read the API token {cfg.api.token_file} ({exc.strerror}); start the box once (edge run) or "
            "point --config at its configuration"
        ) from None
    base = (args.url or api_url(cfg.api)).rstrip("/")
    url = f"{base}/api/v1/meetings/{urllib.parse.quote(args.meeting_id, safe='')}/retranscribe"
    request = urllib.request.Request(url, method="POST", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:  # the archive is copied before it answers
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("detail", exc.reason)
        except ValueError:
            detail = exc.reason
        raise UserError(f"the box refused: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"cannot reach the box at {base} ({reason}); is it running (edge run)?") from None
    meeting = body["meeting"]
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=1))
    else:
        print(f"{meeting['id']}\t{meeting['status']}\t{meeting['title']}")
    return 0
