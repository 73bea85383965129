"""`edge postprocess`: the firewall and glossary correction over stdin lines, JSON lines out."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import BinaryIO

from edge.core.errors import UserError
from edge.text.glossary import Glossary
from edge.text.postprocess import TextPostprocessor

HELP = "Filter Whisper hallucinations and apply the glossary to UTF-8 lines on stdin; JSON lines out."

_LANGUAGE = re.compile(r"auto|[a-z]{2,3}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--language", default="ko", help='Meeting language: a whisper code such as "ko" or "en", or "auto".'
    )
    parser.add_argument(
        "--glossary", type=Path, metavar="FILE.csv", help="Glossary CSV (header term,aliases,note) to apply."
    )


def run(args: argparse.Namespace) -> int:
    if not _LANGUAGE.fullmatch(args.language):
        raise UserError(
            f'--language {args.language!r} is not a whisper language code such as "ko" or "en", or "auto"'
        )
    glossary = Glossary.from_csv(args.glossary) if args.glossary is not None else None
    processor = TextPostprocessor(args.language, glossary)
    return process_stream(processor, sys.stdin.buffer, sys.stdout.buffer)


def process_stream(processor: TextPostprocessor, source: BinaryIO, sink: BinaryIO) -> int:
    """Process every line of `source`, writing one JSON line each to `sink`, flushed as it goes."""
    for number, raw in enumerate(source, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UserError(
                f"stdin line {number} is not valid UTF-8 (byte {exc.start + 1} of the line); send UTF-8 text"
            ) from None
        if number == 1:
            line = line.removeprefix("\ufeff")
        result = processor.process(line.rstrip("\r\n"))
        sink.write(json.dumps(result.to_json_dict(), ensure_ascii=False).encode("utf-8") + b"\n")
        sink.flush()
    return 0
