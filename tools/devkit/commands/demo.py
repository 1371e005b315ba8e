"""``demo``: the whole flow on 127.0.0.1 (no, bad, expired and real tokens), then stop."""

from __future__ import annotations

import argparse
from typing import Final

from devkit import demo
from devkit.commands.base import (
    Subparsers,
    UsageError,
    add_template_option,
    add_user_config_options,
    user_config,
)
from devkit.idp import PROFILES
from devkit.runtime import FunctionError

NAME: Final = "demo"


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="walk through no token / bad token / 403 / 200 on both APIs, then stop",
        description=(
            "Start the local IdP and the emulator on free loopback ports, get tokens for "
            "reader-app (app.read) and writer-app (app.read app.write) with the "
            "client-credentials grant, call both APIs with no, garbage, expired and real tokens "
            "and print what API Gateway answers. Everything started is stopped at the end (also "
            "on Ctrl-C). Exit status 1 if an answer differs from the expected one."
        ),
    )
    parser.add_argument("--profile", choices=PROFILES, default="entra-b2c", help="IdP token shape")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    parser.add_argument("-v", "--verbose", action="store_true", help="show function logs on stderr")
    add_template_option(parser)
    add_user_config_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    color = {"auto": None, "always": True, "never": False}[args.color]
    try:
        return demo.run_demo(
            profile=args.profile,
            template=args.template,
            color=color,
            verbose=args.verbose,
            parameters=user_config(args),
        )
    except (ValueError, OSError) as err:  # an unreadable document, a missing file
        raise UsageError(f"your configuration: {err}") from err
    except FunctionError as err:  # the function's init refused the configuration
        raise UsageError(
            f"the authorizer cannot initialise with this configuration: {err} (run 'python -m "
            "devkit check' with the same options)"
        ) from err
