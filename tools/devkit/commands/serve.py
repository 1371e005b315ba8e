"""``serve``: the local IdP and the API Gateway emulator until Ctrl-C, with curl commands."""

from __future__ import annotations

import argparse
from typing import Final

from devkit import serve
from devkit.commands.base import (
    Subparsers,
    UsageError,
    add_template_option,
    add_user_config_options,
    user_config,
)
from devkit.idp import PROFILES
from devkit.runtime import FunctionError

NAME: Final = "serve"


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="run the local IdP and the API Gateway emulator until Ctrl-C, print curl commands",
        description=(
            "Start the local identity provider (development only) and the API Gateway emulator "
            "on template.yaml, with the authorizer pointed at that IdP (127.0.0.1 only). Prints "
            "the URLs and curl commands to paste, logs requests and function output to stderr, "
            "and runs until Ctrl-C. 'python -m devkit token --client reader-app' then fetches "
            "tokens from this IdP."
        ),
    )
    parser.add_argument("--profile", choices=PROFILES, default="entra-b2c", help="IdP token shape")
    parser.add_argument("--idp-port", type=int, default=8900, help="0 picks a free port")
    parser.add_argument("--rest-port", type=int, default=3000, help="REST API port (0: free)")
    parser.add_argument("--http-port", type=int, default=3001, help="HTTP API port (0: free)")
    add_template_option(parser)
    add_user_config_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        return serve.serve(
            profile=args.profile,
            idp_port=args.idp_port,
            rest_port=args.rest_port,
            http_port=args.http_port,
            template=args.template,
            parameters=user_config(args),
        )
    except (ValueError, OSError) as err:  # an unreadable document, a missing file
        raise UsageError(f"your configuration: {err}") from err
    except FunctionError as err:  # the function's init refused the configuration
        raise UsageError(
            f"the authorizer cannot initialise with this configuration: {err} (run 'python -m "
            "devkit check' with the same options)"
        ) from err
