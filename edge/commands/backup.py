"""`edge backup`: a consistent copy of the box's database, taken while the box runs."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from edge.commands.options import add_config_option
from edge.core.config import load_config

HELP = "Copy the box's database (safe while the box runs: SQLite's online backup); restore is in the README."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument(
        "--out", type=Path, help="Where to write the copy (default: backups/edge-<UTC time>.db beside the database)."
    )


def run(args: argparse.Namespace) -> int:
    from edge.store import backup_database

    cfg = load_config(args.config)
    source = cfg.database_path
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    target = args.out or source.parent / "backups" / f"edge-{stamp}.db"
    backup_database(source, target)
    print(f"backed up {source} to {target}", file=sys.stderr)
    return 0
