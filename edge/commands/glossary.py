"""`edge glossary`: list, import and export the glossary stored in the box's database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.commands.options import add_config_option
from edge.core.config import load_config
from edge.core.errors import UserError
from edge.text.glossary import ALIAS_SEPARATOR, CSV_HEADER, Glossary

HELP = "List, import or export the glossary in the box's database (CSV: term,aliases,note; aliases split by |)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="Print every term with its aliases and note.")
    add_config_option(listing)
    importing = actions.add_parser(
        "import", help="Add the terms of a CSV file (a term already stored is replaced by the file's row)."
    )
    importing.add_argument("file", type=Path, metavar="FILE.csv", help=f"CSV with the header {','.join(CSV_HEADER)}.")
    importing.add_argument(
        "--replace", action="store_true", help="Make the glossary exactly the file: delete terms not in it."
    )
    add_config_option(importing)
    exporting = actions.add_parser("export", help="Write the glossary as CSV to FILE, or to stdout.")
    exporting.add_argument("file", type=Path, nargs="?", metavar="FILE", help="Where to write (default: stdout).")
    add_config_option(exporting)


def run(args: argparse.Namespace) -> int:
    from edge.store import Store

    if args.action == "import":
        # Read and check the file before touching the database: a bad file changes nothing.
        incoming = Glossary.from_csv(args.file)
    cfg = load_config(args.config)
    if not cfg.database_path.is_file():
        # Opening a database creates it: a missing one must not become an empty database in the wrong place.
        if args.config is None:
            raise UserError(
                f"there is no database at {cfg.database_path}; pass the box's configuration with --config FILE "
                "(or set EDGE_CONFIG)"
            )
        if args.action != "import":  # the box has not run yet: its glossary is empty, and stays uncreated
            _show(args, Glossary())
            return 0
    store = Store(cfg.database_path, outbox=cfg.mqtt.enabled)
    try:
        if args.action == "import":
            imported = store.import_glossary(incoming, replace=args.replace)
            print(
                f"imported {_terms(imported)} from {args.file}; the glossary has {_terms(len(store.glossary()))}. "
                "A running box uses them after a restart (the admin page's import applies at once).",
                file=sys.stderr,
            )
        else:
            _show(args, store.glossary())
    finally:
        store.close()
    return 0


def _show(args: argparse.Namespace, glossary: Glossary) -> None:
    if args.action == "list":
        _print_terms(glossary)
    else:
        _export(glossary, args.file)


def _print_terms(glossary: Glossary) -> None:
    if not len(glossary):
        print("the glossary is empty; add terms with `edge glossary import FILE.csv` or in the admin page",
              file=sys.stderr)
        return
    width = min(30, max(len(term.term) for term in glossary))
    for term in glossary:
        line = term.term.ljust(width)
        if term.aliases:
            line += f"  <- {f' {ALIAS_SEPARATOR} '.join(term.aliases)}"
        if term.scope:
            line += f"  [{term.scope}]"
        if term.note:
            line += f"  # {term.note}"
        print(line)
    print(_terms(len(glossary)), file=sys.stderr)


def _export(glossary: Glossary, path: Path | None) -> None:
    if path is None:
        sys.stdout.write(glossary.dumps())
        return
    try:
        glossary.to_csv(path)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}; choose a writable file") from None
    print(f"wrote {_terms(len(glossary))} to {path}", file=sys.stderr)


def _terms(count: int) -> str:
    return f"{count} term" if count == 1 else f"{count} terms"
