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
import contextlib
import importlib
import io
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO, cast

from devkit.constants import ACCOUNT_ID, REGION, is_loopback_url
from devkit.paths import EVENTS_DIR, REPO_ROOT, TEMPLATE
from devkit.template import FunctionDef, TemplateError, load_template

__all__ = [
    "DEFAULT_TEMPLATE",
    "REPO_ROOT",
    "Invocation",
    "LogSink",
    "function_environment",
    "invoke_function",
    "load_env_vars",
    "main",
]

DEFAULT_TEMPLATE: Final = TEMPLATE
DEFAULT_REGION: Final = REGION
#: Host variables a Lambda sandbox also has; nothing else leaks into an invocation.
_PASSTHROUGH: Final = ("PATH", "SYSTEMROOT", "TMPDIR", "TEMP", "TMP")

Handler = Callable[[Any, Any], Any]


# --------------------------------------------------------------------------------------------
# Logs: Lambda functions print to stdout; `invoke` keeps stdout for the answer
# --------------------------------------------------------------------------------------------


class LogSink(io.TextIOBase):
    """A stdout stand-in that forwards to a switchable target.

    Powertools' Logger binds the stream it sees when the first logger of a service is created
    and keeps it for the life of the process, so redirecting to a temporary buffer would leave
    later invocations writing into a dead buffer. One long-lived sink, retargeted per
    invocation, captures every invocation's logs instead.
    """

    def __init__(self, target: TextIO | None = None) -> None:
        super().__init__()
        #: None: whatever ``sys.stdout`` is at the time, as if there were no sink.
        self.target: TextIO | None = target

    def _stream(self) -> TextIO:
        if self.target is not None:
            return self.target
        current = sys.stdout
        return current if current is not self else (sys.__stderr__ or sys.stderr)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._stream().write(text)
        return len(text)

    def flush(self) -> None:
        self._stream().flush()


_SINK: Final = LogSink()


@contextlib.contextmanager
def _logs_to(target: TextIO) -> Iterator[None]:
    previous = _SINK.target
    _SINK.target = target
    try:
        with contextlib.redirect_stdout(_SINK):
            yield
    finally:
        _SINK.target = previous


# --------------------------------------------------------------------------------------------
# invoke
# --------------------------------------------------------------------------------------------


class UsageError(Exception):
    """A problem with the command line or its files (exit status 2), not with the function."""


@dataclass(frozen=True)
class Invocation:
    """One invocation's outcome: ``output`` is what ``invoke`` prints (answer or error)."""

    answer: Any
    error: dict[str, str] | None
    logs: str

    @property
    def output(self) -> Any:
        return self.error if self.error is not None else self.answer


def load_env_vars(path: str | Path | None) -> dict[str, dict[str, str]]:
    """Read a ``sam local invoke --env-vars`` file.

    Shape: ``{"<LogicalId>": {"VAR": "value"}, "Parameters": {...}}`` (Parameters: all functions).
    """
    if path is None:
        return {}
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise UsageError(f"--env-vars: cannot read {path}: {err.strerror}") from err
    except ValueError as err:
        raise UsageError(f"--env-vars: {path} is not valid JSON ({err})") from err
    if not isinstance(document, dict):
        raise UsageError('--env-vars: expected {"FunctionLogicalId": {"VAR": "value"}, ...}')
    result: dict[str, dict[str, str]] = {}
    for scope, variables in document.items():
        if not isinstance(variables, dict):
            raise UsageError(f"--env-vars: {scope!r} must map variable names to values")
        converted: dict[str, str] = {}
        for name, value in variables.items():
            if isinstance(value, dict | list) or value is None:
                raise UsageError(f"--env-vars: {scope}.{name} must be a string, number or bool")
            converted[name] = (
                ("true" if value else "false") if isinstance(value, bool) else str(value)
            )
        result[scope] = converted
    return result


def function_environment(
    fn: FunctionDef,
    env_vars: Mapping[str, Mapping[str, str]],
    *,
    region: str = DEFAULT_REGION,
    warn: Callable[[str], None] | None = None,
) -> dict[str, str]:
    """The environment a Lambda sandbox gives ``fn`` under ``sam local invoke``.

    As in SAM CLI, the file's ``Parameters`` apply to every function and the function's own
    section wins; a variable the template does not declare is ignored (and reported), because
    a deployed function would not have it either.
    """
    declared = dict(fn.environment)
    overrides = {**env_vars.get("Parameters", {}), **env_vars.get(fn.logical_id, {})}
    for name, value in overrides.items():
        if name in declared:
            declared[name] = value
        elif warn is not None:
            warn(f"{fn.logical_id}: {name} is not declared in the template; ignored (as SAM does)")
    base = {name: os.environ[name] for name in _PASSTHROUGH if name in os.environ}
    runtime = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(fn.timeout),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local/[$LATEST]devkit",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.runtime or 'python3.13'}",
        "AWS_SAM_LOCAL": "true",
        "LAMBDA_TASK_ROOT": str(fn.code_uri or ""),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "_HANDLER": fn.handler or "",
    }
    return {**base, **runtime, **declared}


@contextlib.contextmanager
def _sandbox_environment(values: Mapping[str, str]) -> Iterator[None]:
    """Exactly ``values`` in ``os.environ`` for the duration (the host's are put back after)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _fresh_handler(fn: FunctionDef) -> Handler:
    """Import the handler module anew (a cold start), leaving other importers' copy in place.

    Importing is the function's init phase (the authorizer reads its environment and loads keys
    then), so every invocation re-imports; the previously imported module, if any, is restored
    afterwards so that an emulator or test in the same process keeps its own instance.
    """
    if not fn.handler or fn.code_uri is None:
        raise UsageError(f"{fn.logical_id}: needs Handler and a local CodeUri")
    module_name, _, attribute = fn.handler.rpartition(".")
    if not module_name:
        raise UsageError(f"{fn.logical_id}: malformed Handler {fn.handler!r}")
    root = str(fn.code_uri)
    if root not in sys.path:
        sys.path.insert(0, root)
    parent_name, _, child = module_name.rpartition(".")
    previous = sys.modules.pop(module_name, None)
    try:
        module = importlib.import_module(module_name)
    finally:
        if previous is not None:
            sys.modules[module_name] = previous
        else:
            sys.modules.pop(module_name, None)
        parent = sys.modules.get(parent_name) if parent_name else None
        if parent is not None and previous is not None:
            setattr(parent, child, previous)
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise AttributeError(f"Handler '{attribute}' missing on module '{module_name}'")
    return handler  # type: ignore[no-any-return]


def _lambda_error(exc: BaseException, *, init: bool) -> dict[str, str]:
    """The document Lambda reports for an exception (stack trace and request id left out)."""
    if init and isinstance(exc, ImportError):
        return {
            "errorMessage": f"Unable to import module: {exc}",
            "errorType": "Runtime.ImportModuleError",
        }
    if init and isinstance(exc, AttributeError):
        return {"errorMessage": str(exc), "errorType": "Runtime.HandlerNotFound"}
    return {"errorMessage": str(exc), "errorType": type(exc).__name__}


def invoke_function(
    function_id: str,
    event: Any,
    *,
    template: str | Path = DEFAULT_TEMPLATE,
    env_vars: Mapping[str, Mapping[str, str]] | None = None,
    parameter_overrides: Mapping[str, str] | None = None,
    region: str = DEFAULT_REGION,
    log_target: TextIO | None = None,
) -> Invocation:
    """Run ``function_id`` of ``template`` on ``event`` like ``sam local invoke`` (in-process).

    Logs are collected (and also written to ``log_target`` when given). Raises
    :class:`UsageError` for problems that are not the function's (unknown function...).
    """
    from devkit.emulator import LambdaContext

    try:
        model = load_template(
            template,
            parameter_overrides=parameter_overrides,
            region=region,
            account_id=ACCOUNT_ID,
        )
    except (OSError, TemplateError) as err:
        raise UsageError(f"{template}: {err}") from err
    fn = model.functions.get(function_id)
    if fn is None:
        known = ", ".join(sorted(model.functions)) or "none"
        raise UsageError(f"{function_id} is not a function of {template} (functions: {known})")
    notes: list[str] = []
    environment = function_environment(fn, env_vars or {}, region=region, warn=notes.append)
    captured = io.StringIO()
    target = cast(TextIO, _Tee(captured, log_target)) if log_target is not None else captured
    for note in notes:
        target.write(f"devkit: {note}\n")
    payload = json.loads(json.dumps(event))
    context = LambdaContext(
        function_name=fn.function_name,
        invoked_function_arn=fn.arn,
        memory_limit_in_mb=fn.memory_size,
        aws_request_id=str(uuid.uuid4()),
        timeout_seconds=fn.timeout,
    )
    answer: Any = None
    error: dict[str, str] | None = None
    with _logs_to(target), _sandbox_environment(environment):
        try:
            handler = _fresh_handler(fn)
        except UsageError:
            raise
        except Exception as exc:
            error = _lambda_error(exc, init=True)
        else:
            try:
                answer = json.loads(json.dumps(handler(payload, context)))
            except (TypeError, ValueError) as exc:
                error = {
                    "errorMessage": f"Unable to marshal response: {exc}",
                    "errorType": "Runtime.MarshalError",
                }
            except Exception as exc:
                error = _lambda_error(exc, init=False)
    return Invocation(answer=answer, error=error, logs=captured.getvalue())


class _Tee(io.TextIOBase):
    """Write to two streams (collect the logs and show them as they happen)."""

    def __init__(self, first: TextIO, second: TextIO) -> None:
        super().__init__()
        self._streams = (first, second)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        for stream in self._streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self._streams:
            stream.flush()


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
    invocation = invoke_function(
        args.function,
        _read_event(args.event),
        template=args.template,
        env_vars=load_env_vars(args.env_vars),
        parameter_overrides=_pairs(args.parameter_overrides),
        region=args.region,
        log_target=sys.stderr,
    )
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
