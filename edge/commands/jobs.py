from __future__ import annotations

import argparse
import json
import urllib.parse

from edge.commands.box_api import ask_box
from edge.commands.options import add_config_option
from edge.core.config import load_config

HELP = (
    "Uploaded files the running box is transcribing or has waiting, with how much of each is decoded; "
    "cancel one (its meeting keeps what was transcribed and ends 'failed', cancelled by user)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "cancel"), help="list the jobs, or cancel one")
    parser.add_argument("meeting_id", nargs="?", help="The job's meeting id (cancel), as `edge jobs list` shows it.")
    add_config_option(parser)
    parser.add_argument("--url", help="The box's API (default: from api.host and api.port of the configuration).")
    parser.add_argument("--json", action="store_true", help="Print JSON, as the API returns it.")


def run(args: argparse.Namespace) -> int:
    from edge.core.errors import UserError

    if args.action == "cancel" and not args.meeting_id:
        raise UserError("edge jobs cancel needs the job's meeting id; `edge jobs list` shows them")
    if args.action == "list" and args.meeting_id:
        raise UserError("edge jobs list takes no meeting id; to cancel one: edge jobs cancel MEETING_ID")
    cfg = load_config(args.config)
    if args.action == "cancel":
        path = f"/jobs/{urllib.parse.quote(args.meeting_id, safe='')}/cancel"
        meeting = ask_box(cfg, path, method="POST", url=args.url)
        if args.json:
            print(json.dumps(meeting, ensure_ascii=False, indent=1))
        else:
            print(f"{meeting['id']}\t{meeting['status']}\t{meeting['error'] or ''}\t{meeting['segment_count']} segments"
                  "\t" + meeting["title"])  # fmt: skip
        return 0
    jobs = ask_box(cfg, "/jobs", url=args.url)["items"]
    if args.json:
        print(json.dumps(jobs, ensure_ascii=False, indent=1))
        return 0
    for job in jobs:
        duration = "?" if job["duration_s"] is None else f"{job['duration_s']:.0f}"
        print(f"{job['meeting_id']}\t{job['state']}\t{100 * job['progress']:.0f}%\t"
              f"{job['decoded_s']:.0f}/{duration} s\t{job['title']}")  # fmt: skip
    return 0
