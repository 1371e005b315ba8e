"""``explain``: why the function accepts or rejects a token, stage by stage."""

from __future__ import annotations

import argparse
import sys
from typing import Final

from devkit.commands.base import Subparsers, UsageError, add_config_options, load_deployment
from devkit.diagnose.explain import explain
from devkit.diagnose.request import RouteRequest, http_route_key

NAME: Final = "explain"


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="why a token is accepted or rejected, stage by stage (denied? run this)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Run the function's own validation on TOKEN and print each stage with the values it\n"
            "compared: the header (alg, kid, typ), which configured issuer matched (or the\n"
            "nearest one, and why it differs), the key, aud against audiences, exp/nbf/iat\n"
            "against the clock and the leeway, tenant and client checks, the permissions per\n"
            "claim and the route rules they satisfy; with --route, the route decision and the\n"
            "answer (and log line) of the function's handler on the REST and the HTTP API.\n"
            "\n"
            "The configuration is loaded exactly as the Lambda function would load it: the\n"
            "samconfig.toml environment (default: [default]) through template.yaml's parameter\n"
            "mapping, or a document (--config). Without --fetch nothing is fetched: inline keys\n"
            "check the signature, remote keys do not (the report says so and judges the rest).\n"
            "The token is never printed (only its length and the token_hash the logs carry).\n"
            "\n"
            "The last line is 'verdict: accept', 'verdict: reject <reason_code>' or\n"
            "'verdict: forbidden <reason_code>' (a valid token the route denies). Exit status:\n"
            "0 accept, 1 reject or forbidden, 2 a usage or configuration error."
        ),
        epilog=(
            "examples:\n"
            '  python -m devkit explain "$TOKEN"                       # samconfig [default]\n'
            "  python -m devkit explain --config-env wso2 --fetch --route 'POST /orders' -\n"
            '  python -m devkit explain --config file:config.json --at 1767229200 "$TOKEN"\n'
            "  make explain TOKEN=\"$TOKEN\" CONFIG_ENV=wso2 ROUTE='GET /orders' FETCH=1"
        ),
    )
    parser.add_argument(
        "token",
        metavar="TOKEN",
        help="the token, an Authorization header value ('Bearer ...'), or - to read stdin",
    )
    add_config_options(parser)
    parser.add_argument(
        "--fetch",
        action="store_true",
        help="fetch discovery documents and key sets, as the function does (network)",
    )
    parser.add_argument(
        "--at", type=float, metavar="EPOCH", help="judge times at this clock (epoch seconds)"
    )
    parser.add_argument(
        "--route", metavar="'METHOD /path'", help="a request to decide, e.g. 'GET /orders/o-1'"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    credential: str = args.token
    if credential == "-":
        credential = sys.stdin.read()
    try:
        route = RouteRequest.parse(args.route) if args.route else None
    except ValueError as err:
        raise UsageError(str(err)) from err
    deployed, config = load_deployment(args)
    key = http_route_key(deployed.template, deployed.parameters, route) if route else None
    report, verdict = explain(
        credential.strip(), config, fetch=args.fetch, at=args.at, route=route, http_route_key=key
    )
    print(report.text())
    print(verdict.line)
    return verdict.status
