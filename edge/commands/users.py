"""`edge users`: the people who may log in to the admin page, each with a role (viewer, member, admin).

There is no default account: `edge users add NAME --role admin` makes the first admin. A password is asked
twice on a terminal, or read as one line from standard input (for scripts)."""

from __future__ import annotations

import argparse
import getpass
import sys

from edge.commands.options import add_config_option
from edge.core.config import load_config
from edge.core.errors import UserError

HELP = "Add, list and remove the admin page's users and set their passwords (roles: viewer, member, admin)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    adding = actions.add_parser("add", help="Add a user; the password is prompted (or one line on stdin).")
    adding.add_argument("name", help="Login name (letters, Hangul included, digits, . @ - _).")
    adding.add_argument("--role", required=True, choices=("viewer", "member", "admin"),
                        help="viewer reads; member also runs meetings, edits and approves; admin does everything.")
    add_config_option(adding)
    listing = actions.add_parser("list", help="Print every user with their role.")
    add_config_option(listing)
    removing = actions.add_parser("remove", help="Remove a user (their sessions end).")
    removing.add_argument("name")
    add_config_option(removing)
    passwd = actions.add_parser("passwd", help="Set a user's password (their sessions end).")
    passwd.add_argument("name")
    add_config_option(passwd)


def _password() -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise UserError("no password on standard input; send it as one line, or run on a terminal to be asked")
        return line.rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UserError("the two passwords differ; nothing was changed")
    return first


def run(args: argparse.Namespace) -> int:
    from edge.api.accounts import Accounts
    from edge.core.clock import WallClock
    from edge.store import Store

    cfg = load_config(args.config)
    if not cfg.database_path.is_file():
        if args.config is None:
            raise UserError(f"there is no database at {cfg.database_path}; pass the box's configuration with "
                            "--config FILE (or set EDGE_CONFIG)")
        if args.action != "add":
            print("no users yet: `edge users add NAME --role admin` makes the first admin", file=sys.stderr)
            return 0 if args.action == "list" else 1
    password = _password() if args.action in ("add", "passwd") else ""
    clock = WallClock()
    store = Store(cfg.database_path, outbox=cfg.mqtt.enabled, clock=clock)
    try:
        accounts = Accounts(store, clock)
        if args.action == "add":
            user = accounts.add_user(args.name, args.role, password)
            print(f"added {user.name} ({user.role})", file=sys.stderr)
        elif args.action == "passwd":
            accounts.set_password(args.name, password)
            print(f"password of {args.name} set; their sessions ended", file=sys.stderr)
        elif args.action == "remove":
            accounts.remove_user(args.name)
            print(f"removed {args.name}", file=sys.stderr)
        else:
            users = accounts.users()
            if not users:
                print("no users yet: `edge users add NAME --role admin` makes the first admin", file=sys.stderr)
            for user in users:
                print(f"{user.name}\t{user.role}\t{user.created_at}")
    finally:
        store.close()
    return 0
