"""``invoke``: run a template function on an event file, like ``sam local invoke`` (no Docker)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Final

from devkit.commands.base import Subparsers, UsageError, add_template_option, pairs
from devkit.constants import REGION
from devkit.invoke import InvokeError, invoke_function
from devkit.runtime import load_env_vars

NAME: Final = "invoke"


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="run a template function on an event file, like 'sam local invoke' (no Docker)",
        description=(
            "Run FUNCTION of the SAM template in-process on an event, the way "
            "'sam local invoke FUNCTION -e EVENT --env-vars FILE' would: Handler, CodeUri and "
            "Environment come from the template (with --parameter-overrides), the env-vars file "
            "overrides variables the template declares, and each run is a cold start. The "
            "answer is printed to stdout as JSON; a raised error is printed the way Lambda "
            'reports it, e.g. {"errorMessage": "Unauthorized", "errorType": "Exception"} (an '
            "authorizer's 401). Function logs go to stderr. Exit status 0 whenever the function "
            "ran (answer or error), 2 for a usage problem. --config-env reads a samconfig.toml "
            "environment's parameter_overrides, as 'sam local invoke --config-env' does "
            "(--parameter-overrides on top)."
        ),
        epilog="example: python -m devkit invoke AuthorizerFunction "
        "-e events/authorizer/rest-token-allowed.json --env-vars events/env.json",
    )
    parser.add_argument("function", metavar="FUNCTION", help="logical id, e.g. AuthorizerFunction")
    parser.add_argument(
        "-e", "--event", required=True, help="event JSON file ('-' reads standard input)"
    )
    parser.add_argument(
        "-n", "--env-vars", help='SAM env-vars JSON, e.g. {"AuthorizerFunction": {"VAR": "..."}}'
    )
    add_template_option(parser)
    parser.add_argument(
        "--parameter-overrides", nargs="+", default=[], metavar="KEY=VALUE",
        help="template parameter values, as with sam",
    )  # fmt: skip
    parser.add_argument(
        "--config-env", metavar="ENV", help="template parameters from a samconfig.toml environment"
    )
    parser.add_argument("--region", default=REGION)
    parser.add_argument("--pretty", action="store_true", help="indent the printed JSON")
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        env_vars = load_env_vars(args.env_vars)
    except ValueError as err:
        raise UsageError(f"--env-vars: {err}") from err
    try:
        invocation = invoke_function(
            args.function,
            _read_event(args.event),
            template=args.template,
            env_vars=env_vars,
            parameter_overrides=_samconfig(args.config_env)
            | pairs(args.parameter_overrides, "--parameter-overrides"),
            region=args.region,
            log_target=sys.stderr,
        )
    except InvokeError as err:
        raise UsageError(str(err)) from err
    print(json.dumps(invocation.output, indent=2 if args.pretty else None))
    return 0


def _samconfig(env: str | None) -> dict[str, str]:
    if env is None:
        return {}
    from devkit.diagnose.source import DeploymentError, samconfig_overrides

    try:
        return samconfig_overrides(env)
    except DeploymentError as err:
        raise UsageError(str(err)) from err


def _read_event(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"--event: cannot read {path}: {err.strerror}") from err
    try:
        return json.loads(text)
    except ValueError as err:
        raise UsageError(f"--event: {path} is not valid JSON ({err})") from err
