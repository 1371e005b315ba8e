"""``token``: a development access token, from a running local IdP or minted in-process."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Final

from devkit import fixtures, stack
from devkit.commands.base import Subparsers, UsageError
from devkit.constants import is_loopback_url

NAME: Final = "token"


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="print a development access token for a client",
        description=(
            "Print an access token for CLIENT. With --idp (or while 'serve' runs) it is obtained "
            "from that local IdP with the client-credentials grant; otherwise it is minted "
            "in-process with the committed development key under the development issuer, so it "
            "is accepted by 'invoke ... --env-vars events/env.json'. Never a production token."
        ),
    )
    parser.add_argument("--client", default="reader-app", help="client id (default %(default)s)")
    parser.add_argument("--secret", help="client secret (default: from the devkit clients file)")
    parser.add_argument("--scope", help="space-separated scopes (default: all the client may have)")
    parser.add_argument("--idp", metavar="URL", help="base URL of a running local IdP (loopback)")
    parser.add_argument(
        "--embedded", action="store_true", help="mint in-process even if 'serve' is running"
    )
    parser.add_argument("--lifetime", type=int, default=3600, help="seconds (embedded only)")
    parser.add_argument("--json", action="store_true", help="print the whole token response")
    return parser


def run(args: argparse.Namespace) -> int:
    idp_url: str | None = args.idp
    if idp_url is None and not args.embedded:
        idp_url = stack.running_idp_url()
    if idp_url is not None:
        if not is_loopback_url(idp_url):
            raise UsageError(f"--idp must be a loopback URL (the local IdP), got {idp_url}")
        response = stack.client_credentials(
            idp_url, args.client, secret=args.secret, scope=args.scope
        )
        print(f"token from the local IdP at {idp_url} (client-credentials grant)", file=sys.stderr)
        print(json.dumps(response) if args.json else response["access_token"])
        return 0
    try:
        token = fixtures.mint_development_token(
            args.client, scopes=args.scope.split() if args.scope else None, lifetime=args.lifetime
        )
    except ValueError as err:
        raise UsageError(str(err)) from err
    print(
        f"token minted in-process for {args.client} under the development issuer "
        f"{fixtures.DEV_ISSUER} (accepted with --env-vars events/env.json)",
        file=sys.stderr,
    )
    print(json.dumps({"access_token": token, "token_type": "Bearer"}) if args.json else token)
    return 0
