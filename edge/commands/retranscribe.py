from __future__ import annotations

import argparse
import json
import urllib.parse

from edge.commands.box_api import ask_box
from edge.commands.options import add_config_option
from edge.core.config import load_config

HELP = (
    "Transcribe a recorded meeting again from its audio archive, with the running box's current model and "
    "glossary, into a new meeting (its title names the old one; the old meeting is left as it is)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("meeting_id", help="The recorded meeting's id (as the admin page or `GET /meetings` shows).")
    add_config_option(parser)
    parser.add_argument("--url", help="The box's API (default: from api.host and api.port of the configuration).")
    parser.add_argument("--json", action="store_true", help="Print the new meeting as JSON (as the API returns it).")


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    path = f"/meetings/{urllib.parse.quote(args.meeting_id, safe='')}/retranscribe"
    body = ask_box(cfg, path, method="POST", url=args.url, timeout=600)  # the archive is copied before it answers
    meeting = body["meeting"]
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=1))
    else:
        print(f"{meeting['id']}\t{meeting['status']}\t{meeting['title']}")
    return 0
