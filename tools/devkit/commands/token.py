"""``token``: a development access token, from a running local IdP or minted in-process."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Final

import requests

from devkit import fixtures, stack
from devkit.commands.base import Subparsers, UsageError, pairs
from devkit.constants import is_loopback_url
from devkit.idp import PROFILES

NAME: Final = "token"
#: Options that shape an in-process token (a running IdP issues its own shape).
SHAPING: Final = ("iss", "aud", "sub", "claim", "header", "alg", "kid", "profile", "at")


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="print a development access token for a client (shaped like any provider's)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Print an access token for CLIENT. With --idp (or while 'serve' runs) it is obtained\n"
            "from that local IdP with the client-credentials grant; otherwise it is minted\n"
            "in-process with the committed development key under the development issuer, so it\n"
            "is accepted by 'invoke ... --env-vars events/env.json'. Never a production token.\n"
            "\n"
            "In-process tokens can be shaped like a provider's (--profile) and changed member by\n"
            "member, to reproduce a rejection with 'explain': --iss, --aud, --sub, --claim and\n"
            "--header set members (a VALUE that parses as JSON is used as JSON: --claim\n"
            "'roles=[\"a\"]', --claim exp=1), --alg and --kid set the header's (the signature is\n"
            "always RS256 with the development key; --alg none leaves it off). A scope the\n"
            "client is not granted is minted with a note (the IdP would refuse it)."
        ),
        epilog=(
            "examples:\n"
            "  python -m devkit token                                   # reader-app, app.read\n"
            "  python -m devkit token --client writer-app --scope 'app.read app.write'\n"
            "  python -m devkit token --aud api://other | python -m devkit explain -\n"
            "  python -m devkit token --profile entra-id --claim tid=11111111-2222-3333-4444-5555"
            "55555555\n"
            "  python -m devkit token --alg none --lifetime -60"
        ),
    )
    parser.add_argument("--client", default="reader-app", help="client id (default %(default)s)")
    parser.add_argument("--secret", help="client secret (default: from the devkit clients file)")
    parser.add_argument("--scope", help="space-separated scopes (default: all the client may have)")
    parser.add_argument("--idp", metavar="URL", help="base URL of a running local IdP (loopback)")
    parser.add_argument(
        "--embedded", action="store_true", help="mint in-process even if 'serve' is running"
    )
    parser.add_argument(
        "--lifetime", type=int, default=3600, help="seconds, negative for an expired token"
    )
    parser.add_argument("--json", action="store_true", help="print the whole token response")
    shaping = parser.add_argument_group("shaping (in-process tokens only)")
    shaping.add_argument(
        "--profile",
        choices=PROFILES,
        help="the provider whose token shape to mint (default entra-b2c: the development issuer)",
    )
    shaping.add_argument("--iss", help="the iss claim")
    shaping.add_argument("--aud", help='the aud claim (JSON for a list: \'["a","b"]\')')
    shaping.add_argument("--sub", help="the sub claim")
    shaping.add_argument(
        "--claim", action="append", default=[], metavar="K=V", help="a claim (repeat)"
    )
    shaping.add_argument(
        "--header", action="append", default=[], metavar="K=V", help="a header member (repeat)"
    )
    shaping.add_argument("--alg", help="the header's alg (none: unsigned)")
    shaping.add_argument("--kid", help="the header's kid")
    shaping.add_argument(
        "--at", type=float, metavar="EPOCH", help="mint at this clock (iat, nbf; epoch seconds)"
    )
    return parser


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _shape(args: argparse.Namespace) -> fixtures.Shape:
    claims = {k: _json_or_text(v) for k, v in pairs(args.claim, "--claim").items()}
    header = {k: _json_or_text(v) for k, v in pairs(args.header, "--header").items()}
    for name in ("iss", "aud", "sub"):
        value = getattr(args, name)
        if value is not None:
            claims[name] = _json_or_text(value) if name == "aud" else value
    if args.alg is not None:
        header["alg"] = args.alg
    if args.kid is not None:
        header["kid"] = args.kid
    return fixtures.Shape(profile=args.profile or "entra-b2c", claims=claims, header=header)


def run(args: argparse.Namespace) -> int:
    idp_url: str | None = args.idp
    shaped = [name for name in SHAPING if getattr(args, name) not in (None, [])]
    if idp_url is None and not args.embedded and not shaped:
        idp_url = stack.running_idp_url()
    if idp_url is not None:
        if shaped:
            raise UsageError(f"--{shaped[0]} shapes in-process tokens: drop --idp")
        if not is_loopback_url(idp_url):
            raise UsageError(f"--idp must be a loopback URL (the local IdP), got {idp_url}")
        try:
            response = stack.client_credentials(
                idp_url, args.client, secret=args.secret, scope=args.scope
            )
        except (ValueError, requests.RequestException) as err:
            raise UsageError(str(err)) from err
        print(f"token from the local IdP at {idp_url} (client-credentials grant)", file=sys.stderr)
        print(json.dumps(response) if args.json else response["access_token"])
        return 0
    scopes = args.scope.split() if args.scope else None
    try:
        token = fixtures.mint_development_token(
            args.client, scopes=scopes, lifetime=args.lifetime, shape=_shape(args), now=args.at
        )
    except ValueError as err:
        raise UsageError(str(err)) from err
    ungranted = fixtures.ungranted_scopes(args.client, scopes or [])
    if ungranted:
        print(
            f"note: {args.client} is not granted {' '.join(ungranted)}: the IdP would refuse "
            "this scope (invalid_scope); minted anyway",
            file=sys.stderr,
        )
    if shaped:
        note = f"shaped with --{', --'.join(shaped)} (explain it with: python -m devkit explain -)"
    else:
        note = (
            f"under the development issuer {fixtures.DEV_ISSUER} "
            "(accepted with --env-vars events/env.json)"
        )
    print(f"token minted in-process for {args.client} {note}", file=sys.stderr)
    print(json.dumps({"access_token": token, "token_type": "Bearer"}) if args.json else token)
    return 0
