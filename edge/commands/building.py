"""`edge building`: every box on the building's broker, from retained topics only."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from edge.commands.options import add_config_option
from edge.core.config import load_config

HELP = "List every box seen on the MQTT broker (room, availability, state, health), from retained topics."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument("--wait", type=float, default=2.0, help="Seconds to collect retained messages (default 2).")
    parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")


def run(args: argparse.Namespace) -> int:
    from edge.core.errors import UserError
    from edge.publish.building import building_view, render_table, topic_filters
    from edge.publish.mqtt import read_retained

    cfg = load_config(args.config)
    if args.wait <= 0:
        raise UserError(f"--wait {args.wait} must be a positive number of seconds")
    messages = read_retained(cfg.mqtt, topic_filters(cfg.mqtt.topic_prefix), wait_s=args.wait)
    boxes = building_view(messages, cfg.mqtt.topic_prefix)
    if args.json:
        print(json.dumps([asdict(box) for box in boxes], ensure_ascii=False, indent=2))
    else:
        print(render_table(boxes) if boxes else f"no box seen under {cfg.mqtt.topic_prefix}/ on "
              f"{cfg.mqtt.host}:{cfg.mqtt.port}")  # fmt: skip
    return 0
