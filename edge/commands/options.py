"""Options that many commands share."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """`--config FILE`, defaulting to $EDGE_CONFIG: the box's TOML configuration."""
    parser.add_argument(
        "--config", type=Path, default=os.environ.get("EDGE_CONFIG"), help="TOML configuration file ($EDGE_CONFIG)."
    )
