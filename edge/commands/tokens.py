"""`edge tokens`: API tokens for integrations (Home Assistant, scripts), each with a role. The secret is printed
once, when made; the box keeps only its SHA-256. The same as the page's Access tab and /api/v1/tokens."""

from __future__ import annotations

import argparse
import getpass
import sys

from edge.commands.box_accounts import box_config, opened_accounts
from edge.commands.options import add_config_option

NO_TOKENS = "no tokens yet: `edge tokens add NAME --role viewer` makes one"
HELP = "Create, list and revoke the API tokens of integrations, each with a role (viewer, member, admin)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    adding = actions.add_parser("add", help="Create a token and print its secret (shown this once).")
    adding.add_argument("name", help="The integration's name, such as home-assistant.")
    adding.add_argument("--role", required=True, choices=("viewer", "member", "admin"),
                        help="Give the least the integration needs: viewer reads, member also runs meetings.")
    add_config_option(adding)
    listing = actions.add_parser("list", help="Print every token's name, role, maker and last use (never secrets).")
    add_config_option(listing)
    revoking = actions.add_parser("revoke", help="Revoke a token: the integration using it is refused from now on.")
    revoking.add_argument("name")
    add_config_option(revoking)


def run(args: argparse.Namespace) -> int:
    cfg, exists = box_config(args.config)
    if not exists and args.action == "list":
        print(NO_TOKENS, file=sys.stderr)
        return 0
    with opened_accounts(cfg) as accounts:
        if args.action == "add":
            token, secret = accounts.create_token(args.name, args.role, created_by=f"cli:{getpass.getuser()}")
            print(f"token {token.name} ({token.role}); send it as `Authorization: Bearer <token>`, shown once:",
                  file=sys.stderr)
            print(secret)
        elif args.action == "revoke":
            accounts.revoke_token(args.name)
            print(f"revoked {args.name}", file=sys.stderr)
        else:
            tokens = accounts.tokens()
            if not tokens:
                print(NO_TOKENS, file=sys.stderr)
            for token in tokens:
                print(f"{token.name}\t{token.role}\t{token.created_by}\t{token.created_at}\t"
                      f"{token.last_used_at or 'never used'}")
    return 0
