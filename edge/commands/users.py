"""`edge users`: the people who may log in to the admin page, each with a role (viewer, member, admin).

There is no default account: `edge users add NAME --role admin` makes the first admin. A password is asked
twice on a terminal, or read as one line from standard input (for scripts)."""

from __future__ import annotations

import argparse
import getpass
import sys

from edge.commands.box_accounts import box_config, opened_accounts
from edge.commands.options import add_config_option
from edge.core.errors import UserError

NO_USERS = "no users yet: `edge users add NAME --role admin` makes the first admin"
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
    cfg, exists = box_config(args.config)
    if not exists and args.action != "add":
        print(NO_USERS, file=sys.stderr)
        return 0 if args.action == "list" else 1
    password = _password() if args.action in ("add", "passwd") else ""
    with opened_accounts(cfg) as accounts:
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
                print(NO_USERS, file=sys.stderr)
            for user in users:
                print(f"{user.name}\t{user.role}\t{user.created_at}")
    return 0
