"""``discover``: an identity provider's settings, from its discovery document and key set."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from devkit.commands.base import Subparsers, UsageError
from devkit.diagnose.discover import discover

NAME: Final = "discover"


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="fetch an identity provider's discovery and keys, print the configuration for it",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Fetch the OpenID Connect discovery document of ISSUER (issuer +\n"
            "/.well-known/openid-configuration) or of the discovery URL given, and its key set,\n"
            "with the function's own transport; recognise the provider (Entra ID B2C per-policy\n"
            "metadata, Entra ID v1/v2 and {tenantid}, Entra External ID, WSO2 IS / Asgardeo,\n"
            "Amazon Cognito, generic OIDC) and print a working issuers[] entry and the matching\n"
            "samconfig.toml parameter overrides. The entry is loaded by the function's\n"
            "configuration loader and its key set fetched by the function's key cache before it\n"
            "is called working. No discovery document names the audience: pass --audience.\n"
            "\n"
            "Exit status: 0 when the entry works, 1 when discovery or the keys fail, 2 a usage\n"
            "error."
        ),
        epilog=(
            "examples:\n"
            "  python -m devkit discover https://login.microsoftonline.com/<tenant>/v2.0\n"
            "  python -m devkit discover 'https://contoso.b2clogin.com/contoso.onmicrosoft.com/"
            "B2C_1_susi/v2.0/.well-known/openid-configuration' --audience <api-client-id>\n"
            "  make discover ISSUER=https://is.example.com:9443/oauth2/token"
        ),
    )
    parser.add_argument("issuer", metavar="ISSUER", help="an issuer (iss) or a discovery URL")
    parser.add_argument(
        "--audience",
        action="append",
        default=[],
        help="an aud value your API accepts (repeat for several)",
    )
    parser.add_argument(
        "--ca-bundle", type=Path, help="PEM of the CA to trust for these fetches (ca_bundle)"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    target: str = args.issuer.strip()
    if not target.startswith(("https://", "http://")):
        raise UsageError(f"expected an https URL (an issuer or a discovery URL), got {target!r}")
    if args.ca_bundle is not None and not args.ca_bundle.is_file():
        raise UsageError(f"--ca-bundle: no file {args.ca_bundle}")
    report, found = discover(
        target,
        audiences=args.audience or None,
        ca_bundle=str(args.ca_bundle) if args.ca_bundle else None,
    )
    print(report.text())
    return 0 if found.ok else 1
