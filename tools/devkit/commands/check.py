"""``check``: a configuration before it is deployed, as the function would load and use it."""

from __future__ import annotations

import argparse
from typing import Final

from devkit.commands.base import ConfigProblem, Subparsers, add_config_options, load_deployment
from devkit.diagnose.check import check

NAME: Final = "check"


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="check a configuration before deploying it (what the function will do with it)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Load the configuration exactly as the Lambda function would (the samconfig.toml\n"
            "environment through template.yaml's parameter mapping, or a document) and say what\n"
            "will happen: the issuers and where their keys come from; with --fetch, every\n"
            "discovery document and key set fetched as the function's init does (the issuer a\n"
            "discovery document names, jwks_uri, kids and algorithms, TLS failures with the\n"
            "reason and the ca_bundle remedy). It warns about configurations that work but\n"
            "surprise: rules that cannot always be one cache-safe policy while answers are\n"
            "cached (lockouts), HTTP simple responses cached without $context.routeKey, unmatched\n"
            "'authenticated' next to rules, rules that are not routes of the template's APIs and\n"
            "API routes no rule governs. --scopes previews the answer per route for a caller\n"
            "holding those permissions.\n"
            "\n"
            "The last line is 'config: ok' (', N warnings' when there are any) or\n"
            "'config: error <field>: <message>'. Exit status: 0 ok, 1 error, 2 a usage error."
        ),
        epilog=(
            "examples:\n"
            "  python -m devkit check                                  # samconfig [default]\n"
            "  python -m devkit check --config-env wso2 --fetch\n"
            "  python -m devkit check --config file:config.json --scopes 'app.read'\n"
            "  make check CONFIG_ENV=wso2 FETCH=1"
        ),
    )
    add_config_options(parser)
    parser.add_argument(
        "--fetch",
        action="store_true",
        help="fetch every discovery document and key set, as the function's init does (network)",
    )
    parser.add_argument(
        "--scopes",
        metavar="'a b'",
        help="preview the answer per route for a token holding these permissions",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        deployed, config = load_deployment(args, config_errors=True)
    except ConfigProblem as err:
        print(f"config: error {err.field}: {err.problem}")
        return 1
    scopes = frozenset(args.scopes.split()) if args.scopes is not None else None
    report, finding = check(deployed, config, fetch=args.fetch, scopes=scopes)
    print(report.text())
    print(finding.line)
    return finding.status
