"""``emulator``: serve a SAM template's REST and HTTP APIs on 127.0.0.1 (no IdP wiring)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading
from pathlib import Path
from typing import Final

from devkit.commands.base import Subparsers, UsageError, pairs
from devkit.constants import ACCOUNT_ID, REGION
from devkit.emulator import Emulator
from devkit.paths import TEMPLATE
from devkit.template import TemplateError

NAME: Final = "emulator"


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="serve a SAM template's REST and HTTP APIs on 127.0.0.1 until Ctrl-C",
        description=(
            "Serve the REST and HTTP APIs of a SAM template on 127.0.0.1, one port per API, "
            "the way API Gateway would: identity sources, Lambda authorizers and their cache, "
            "IAM policy evaluation, gateway responses, Lambda proxy integrations. The "
            "template's functions run in-process with their declared environment (unlike "
            "'serve', nothing points the authorizer at a local IdP). Prints one line per API, "
            "'<LogicalId>: <URL>', then serves until Ctrl-C."
        ),
    )
    parser.add_argument(
        "template", type=Path, nargs="?", default=TEMPLATE, help="default: template.yaml"
    )
    parser.add_argument("--parameter-overrides", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--port",
        nargs="+",
        default=[],
        metavar="API=PORT",
        help="fixed port per API logical id (default: ephemeral)",
    )
    parser.add_argument("--region", default=REGION)
    parser.add_argument("--account-id", default=ACCOUNT_ID)
    parser.add_argument("--http-unauthorized-status", type=int, choices=(401, 500), default=401)
    parser.add_argument("--log-level", default="INFO")
    return parser


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(message)s")
    try:
        ports = {api: int(port) for api, port in pairs(args.port, "--port").items()}
    except ValueError as err:
        raise UsageError(f"--port: {err}") from err
    try:
        emulator = Emulator(
            args.template,
            parameter_overrides=pairs(args.parameter_overrides, "--parameter-overrides"),
            region=args.region,
            account_id=args.account_id,
            http_unauthorized_status=args.http_unauthorized_status,
            ports=ports,
        )
    except (OSError, TemplateError) as err:
        raise UsageError(f"{args.template}: {err}") from err
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with emulator:
        for logical_id in emulator.api_ids:
            print(f"{logical_id}: {emulator.url(logical_id)}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0
