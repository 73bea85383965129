from __future__ import annotations

import argparse
from pathlib import Path

from edge.core.config import describe_fields, load_config

HELP = "Validate a configuration file (and EDGE_* overrides) without starting anything."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, nargs="?", help="TOML configuration file.")
    parser.add_argument("--list", action="store_true", help="List every setting with its default and meaning.")


def run(args: argparse.Namespace) -> int:
    if args.list:
        for key, default, description in describe_fields():
            print(f"{key} = {default}\n    {description}")
        return 0
    from edge.ops.memory_budget import check_fits

    cfg = load_config(args.config)
    print(check_fits(cfg).format())
    print(f"{args.config or 'defaults'}: valid (device {cfg.device.id}, audio {cfg.audio.source}, "
          f"asr {cfg.asr.model_path} [{cfg.asr.language}])")
    return 0
