from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.commands.options import add_config_option
from edge.core.config import load_config
from edge.core.errors import UserError

HELP = "Create a meeting from a transcript file (WebVTT, SRT or an edge JSON export) and print its id."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="Transcript: .vtt, .srt or .json (an edge export).")
    parser.add_argument("--title", help="Meeting title (default: the file's title or name).")
    parser.add_argument("--language", help='Meeting language such as "ko" or "en" (default: from the file).')
    add_config_option(parser)


def run(args: argparse.Namespace) -> int:
    from edge.store import Store
    from edge.transcripts.importing import import_transcript

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {args.file}: {exc.strerror}; pass an existing transcript file") from None
    cfg = load_config(args.config)
    # Outbox rows exactly when the box itself would write them, so a running publisher sends the import.
    store = Store(cfg.database_path, outbox=cfg.mqtt.enabled, publish_imports=cfg.mqtt.publish_imports)
    try:
        result = import_transcript(
            store, data, name=args.file.name, title=args.title, language=args.language,
            max_cues=cfg.meeting.max_import_cues,
        )
    finally:
        store.close()
    meeting = result.meeting
    print(meeting.id)
    print(f"imported {result.segments} segments ({result.format}) into meeting {meeting.id} "
          f"[{meeting.language}]", file=sys.stderr)
    return 0
