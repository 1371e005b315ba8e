"""``python -m devkit``: run the project locally without AWS or Docker (development only).

Commands (each has its own ``--help``):

* ``invoke``: run one template function in-process on an event file, the way
  ``sam local invoke <Function> -e <event> --env-vars <file>`` would (minus Docker): Handler,
  CodeUri and Environment come from ``template.yaml``, the env-vars file overrides declared
  variables, every invocation is a cold start, the answer (or Lambda's error document) goes to
  stdout and the function's logs to stderr.
* ``serve``: the local identity provider and the API Gateway emulator wired together, until
  Ctrl-C, with curl commands to paste.
* ``demo``: the same two servers, a scripted walk through 401/403/200, then everything stops.
* ``token``: a development token, from a running ``serve`` IdP or minted in-process under the
  fixtures' development issuer (valid with ``events/env.json``).
* ``fixtures``: regenerate ``events/`` deterministically.

``invoke`` is also a library entry point (:func:`invoke_function`): the fixture replay tests
and the fixture generator use it, so they exercise exactly what the command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from devkit.constants import REGION, is_loopback_url
from devkit.invoke import InvokeError, invoke_function
from devkit.paths import EVENTS_DIR, TEMPLATE
from devkit.runtime import load_env_vars

__all__ = ["DEFAULT_TEMPLATE", "main"]

DEFAULT_TEMPLATE: Final = TEMPLATE
DEFAULT_REGION: Final = REGION




class UsageError(Exception):
    """A problem with the command line or its files (exit status 2), not with the function."""


def _read_event(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"--event: cannot read {path}: {err.strerror}") from err
    try:
        return json.loads(text)
    except ValueError as err:
        raise UsageError(f"--event: {path} is not valid JSON ({err})") from err


def _pairs(values: Sequence[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--parameter-overrides: expected KEY=VALUE, got {item!r}")
        pairs[key] = value
    return pairs


def _cmd_invoke(args: argparse.Namespace) -> int:
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
            parameter_overrides=_pairs(args.parameter_overrides),
            region=args.region,
            log_target=sys.stderr,
        )
    except InvokeError as err:
        raise UsageError(str(err)) from err
    print(json.dumps(invocation.output, indent=2 if args.pretty else None))
    return 0


# --------------------------------------------------------------------------------------------
# token
# --------------------------------------------------------------------------------------------


def _cmd_token(args: argparse.Namespace) -> int:
    from devkit import demo, fixtures

    idp_url: str | None = args.idp
    if idp_url is None and not args.embedded:
        idp_url = demo.running_idp_url()
    if idp_url is not None:
        if not is_loopback_url(idp_url):
            raise UsageError(f"--idp must be a loopback URL (the local IdP), got {idp_url}")
        response = demo.client_credentials(
            idp_url, args.client, secret=args.secret, scope=args.scope
        )
        print(f"token from the local IdP at {idp_url} (client-credentials grant)", file=sys.stderr)
        print(json.dumps(response) if args.json else response["access_token"])
        return 0
    token = fixtures.mint_development_token(
        args.client, scopes=args.scope.split() if args.scope else None, lifetime=args.lifetime
    )
    print(
        f"token minted in-process for {args.client} under the development issuer "
        f"{fixtures.DEV_ISSUER} (accepted with --env-vars events/env.json)",
        file=sys.stderr,
    )
    print(json.dumps({"access_token": token, "token_type": "Bearer"}) if args.json else token)
    return 0


# --------------------------------------------------------------------------------------------
# serve / demo / fixtures
# --------------------------------------------------------------------------------------------


def _cmd_serve(args: argparse.Namespace) -> int:
    from devkit import demo

    return demo.serve(
        profile=args.profile,
        idp_port=args.idp_port,
        rest_port=args.rest_port,
        http_port=args.http_port,
        template=args.template,
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    from devkit import demo

    color = {"auto": None, "always": True, "never": False}[args.color]
    return demo.run_demo(
        profile=args.profile, template=args.template, color=color, verbose=args.verbose
    )


def _cmd_fixtures(args: argparse.Namespace) -> int:
    from devkit import fixtures

    argv = ["--out", str(args.out)] + (["--check"] if args.check else [])
    return fixtures.main(argv + (["--new-key"] if args.new_key else []))


# --------------------------------------------------------------------------------------------
# argument parsing
# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The command line; every command explains itself with ``--help``."""
    parser = argparse.ArgumentParser(
        prog="python -m devkit",
        description=(
            "Run the JWT authorizer locally, without AWS or Docker. Development tooling: the "
            "identity provider and keys it uses must never be deployed."
        ),
        epilog="Run 'python -m devkit <command> --help' for a command's options.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="<command>")

    invoke = commands.add_parser(
        "invoke",
        help="run a template function on an event file, like 'sam local invoke' (no Docker)",
        description=(
            "Run FUNCTION of the SAM template in-process on an event, the way "
            "'sam local invoke FUNCTION -e EVENT --env-vars FILE' would: Handler, CodeUri and "
            "Environment come from the template (with --parameter-overrides), the env-vars file "
            "overrides variables the template declares, and each run is a cold start. The "
            "answer is printed to stdout as JSON; a raised error is printed the way Lambda "
            'reports it, e.g. {"errorMessage": "Unauthorized", "errorType": "Exception"} (an '
            "authorizer's 401). Function logs go to stderr. Exit status 0 whenever the function "
            "ran (answer or error), 2 for a usage problem."
        ),
        epilog="example: python -m devkit invoke AuthorizerFunction "
        "-e events/authorizer/rest-token-allowed.json --env-vars events/env.json",
    )
    invoke.add_argument("function", metavar="FUNCTION", help="logical id, e.g. AuthorizerFunction")
    invoke.add_argument(
        "-e", "--event", required=True, help="event JSON file ('-' reads standard input)"
    )
    invoke.add_argument(
        "-n", "--env-vars", help='SAM env-vars JSON, e.g. {"AuthorizerFunction": {"VAR": "..."}}'
    )
    invoke.add_argument("-t", "--template", type=Path, default=DEFAULT_TEMPLATE)
    invoke.add_argument(
        "--parameter-overrides", nargs="+", default=[], metavar="KEY=VALUE",
        help="template parameter values, as with sam",
    )  # fmt: skip
    invoke.add_argument("--region", default=DEFAULT_REGION)
    invoke.add_argument("--pretty", action="store_true", help="indent the printed JSON")
    invoke.set_defaults(run=_cmd_invoke)

    profiles = ("entra-b2c", "wso2", "entra-id")
    serve = commands.add_parser(
        "serve",
        help="run the local IdP and the API Gateway emulator until Ctrl-C, print curl commands",
        description=(
            "Start the local identity provider (development only) and the API Gateway emulator "
            "on template.yaml, with the authorizer pointed at that IdP (127.0.0.1 only). Prints "
            "the URLs and curl commands to paste, logs requests and function output to stderr, "
            "and runs until Ctrl-C. 'python -m devkit token --client reader-app' then fetches "
            "tokens from this IdP."
        ),
    )
    serve.add_argument("--profile", choices=profiles, default="entra-b2c", help="IdP token shape")
    serve.add_argument("--idp-port", type=int, default=8900, help="0 picks a free port")
    serve.add_argument("--rest-port", type=int, default=3000, help="REST API port (0: free)")
    serve.add_argument("--http-port", type=int, default=3001, help="HTTP API port (0: free)")
    serve.add_argument("-t", "--template", type=Path, default=DEFAULT_TEMPLATE)
    serve.set_defaults(run=_cmd_serve)

    demo = commands.add_parser(
        "demo",
        help="walk through no token / bad token / 403 / 200 on both APIs, then stop",
        description=(
            "Start the local IdP and the emulator on free loopback ports, get tokens for "
            "reader-app (app.read) and writer-app (app.read app.write) with the "
            "client-credentials grant, call both APIs with no, garbage, expired and real tokens "
            "and print what API Gateway answers. Everything started is stopped at the end (also "
            "on Ctrl-C). Exit status 1 if an answer differs from the expected one."
        ),
    )
    demo.add_argument("--profile", choices=profiles, default="entra-b2c", help="IdP token shape")
    demo.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    demo.add_argument("-v", "--verbose", action="store_true", help="show function logs on stderr")
    demo.add_argument("-t", "--template", type=Path, default=DEFAULT_TEMPLATE)
    demo.set_defaults(run=_cmd_demo)

    token = commands.add_parser(
        "token",
        help="print a development access token for a client",
        description=(
            "Print an access token for CLIENT. With --idp (or while 'serve' runs) it is obtained "
            "from that local IdP with the client-credentials grant; otherwise it is minted "
            "in-process with the committed development key under the development issuer, so it "
            "is accepted by 'invoke ... --env-vars events/env.json'. Never a production token."
        ),
    )
    token.add_argument("--client", default="reader-app", help="client id (default %(default)s)")
    token.add_argument("--secret", help="client secret (default: from the devkit clients file)")
    token.add_argument("--scope", help="space-separated scopes (default: all the client may have)")
    token.add_argument("--idp", metavar="URL", help="base URL of a running local IdP (loopback)")
    token.add_argument(
        "--embedded", action="store_true", help="mint in-process even if 'serve' is running"
    )
    token.add_argument("--lifetime", type=int, default=3600, help="seconds (embedded only)")
    token.add_argument("--json", action="store_true", help="print the whole token response")
    token.set_defaults(run=_cmd_token)

    fixtures = commands.add_parser(
        "fixtures",
        help="regenerate events/ (fixtures, env.json, expected answers) deterministically",
        description=(
            "Regenerate every event fixture, events/env.json and the expected answers from the "
            "committed development key and a fixed clock. --check compares instead of writing."
        ),
    )
    fixtures.add_argument("--out", type=Path, default=EVENTS_DIR)
    fixtures.add_argument("--check", action="store_true", help="exit 1 if a file would change")
    fixtures.add_argument(
        "--new-key", action="store_true", help="replace the development key (changes every token)"
    )
    fixtures.set_defaults(run=_cmd_fixtures)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m devkit``."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except UsageError as err:
        print(f"devkit {args.command}: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    raise SystemExit(main())
