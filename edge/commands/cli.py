"""`edge` command line. Each subcommand lives in `edge.commands.<name>` with `HELP`,
`add_arguments(parser)` and `run(args) -> int`; command modules import heavy libraries lazily."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from edge import __version__
from edge.core.errors import UserError

COMMANDS: dict[str, str] = {
    "run": "edge.commands.run",
    "transcribe": "edge.commands.transcribe",
    "vad": "edge.commands.vad",
    "postprocess": "edge.commands.postprocess",
    "eval": "edge.commands.eval",
    "check-config": "edge.commands.check_config",
    "models": "edge.commands.models",
    "import": "edge.commands.import_transcript",
    "bench": "edge.commands.bench",
    "synth": "edge.commands.synth",
    "minutes": "edge.commands.minutes",
    "ask": "edge.commands.ask",
    "glossary": "edge.commands.glossary",
    "backup": "edge.commands.backup",
    "building": "edge.commands.building",
    "retranscribe": "edge.commands.retranscribe",
    "jobs": "edge.commands.jobs",
    "users": "edge.commands.users",
    "tokens": "edge.commands.tokens",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge", description="The meeting-room box.")
    parser.add_argument("--version", action="version", version=f"edge {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="More logging (-vv for debug).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"edge {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
