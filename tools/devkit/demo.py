"""The local stack (identity provider + API Gateway emulator) behind ``make demo``/``make serve``.

:class:`LocalStack` starts the development IdP on 127.0.0.1, points the template's authorizer at
it through parameter overrides (issuer, audience, and the per-policy discovery URL B2C needs),
builds the authorizer the way its Lambda init does (``Authorizer.from_environ`` on the
function's resolved environment) and serves ``template.yaml`` with the emulator. The end-to-end
tests use the same class, so the demo and the tests cannot drift apart.

Only loopback addresses are ever configured: :class:`LocalStack` refuses an IdP whose URLs are
not on 127.0.0.1, because the authorizer fetches whatever it is pointed at.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Final, Self, TextIO

import requests

from devkit.constants import require_loopback
from devkit.emulator import Emulator
from devkit.idp import DEFAULT_CLIENTS_FILE, LocalIdentityProvider, Profile, load_clients
from devkit.paths import TEMPLATE, shown_path, state_dir
from devkit.runtime import FunctionError, Handler, LambdaRuntime, LogSink
from devkit.template import load_template

__all__ = [
    "AUTHORIZER",
    "STATE_FILE",
    "LocalStack",
    "client_credentials",
    "run_demo",
    "running_idp_url",
    "serve",
    "stack_parameters",
]

AUTHORIZER: Final = "AuthorizerFunction"
#: Where ``demo`` writes its log and ``serve`` its state (``DEVKIT_STATE_DIR`` overrides it).
STATE_DIR: Final = state_dir()
#: Written by ``serve`` so that ``python -m devkit token`` finds the running IdP.
STATE_FILE: Final = STATE_DIR / "serve.json"

AuthorizerFactory = Callable[[Mapping[str, str]], Handler]


def _default_authorizer(environment: Mapping[str, str]) -> Handler:
    """What ``jwt_authorizer.app`` does at init, on an explicit environment."""
    from jwt_authorizer.handler import Authorizer

    return Authorizer.from_environ(environment)


def stack_parameters(idp: LocalIdentityProvider) -> dict[str, str]:
    """Template parameter overrides that make the authorizer trust ``idp`` (and only it)."""
    if idp.profile == "wso2":  # WSO2's aud is the client id
        audience = ",".join(sorted(idp.audience_for(client) for client in idp.clients))
    else:
        audience = idp.audience or ""
    require_loopback(idp.issuer, idp.discovery_url)
    return {
        "Issuer": idp.issuer,
        "Audience": audience,
        "IssuerProfile": idp.profile,
        # B2C publishes discovery only under the per-policy URL: it must be given explicitly.
        "DiscoveryUrl": idp.discovery_url,
    }


class LocalStack:
    """The local IdP and the emulator, wired together on 127.0.0.1; a context manager.

    ``parameters`` adds template parameter overrides (e.g. ``AuthConfig``) on top of
    :func:`stack_parameters`; ``authorizer_factory`` builds the authorizer from the function's
    resolved environment (tests inject one with a fake key-cache clock).
    """

    def __init__(
        self,
        *,
        template: str | Path = TEMPLATE,
        profile: Profile = "entra-b2c",
        idp_port: int = 0,
        ports: Mapping[str, int] | None = None,
        parameters: Callable[[LocalIdentityProvider], Mapping[str, str]] | None = None,
        authorizer_factory: AuthorizerFactory = _default_authorizer,
        signing_key_pem: str | bytes | None = None,
        emulator_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.template = Path(template)
        self.idp = LocalIdentityProvider(
            profile=profile, port=idp_port, signing_key_pem=signing_key_pem
        )
        self._ports = dict(ports or {})
        self._parameters = parameters
        self._factory = authorizer_factory
        self._clock = emulator_clock
        self.environment: dict[str, str] = {}
        self.parameter_overrides: dict[str, str] = {}
        self._emulator: Emulator | None = None

    @property
    def emulator(self) -> Emulator:
        if self._emulator is None:
            raise RuntimeError("the stack is not started")
        return self._emulator

    def start(self) -> Self:
        """Start the IdP, build the authorizer (prefetching keys from it), then the emulator."""
        self.idp.start()
        try:
            overrides = stack_parameters(self.idp)
            if self._parameters is not None:
                overrides.update(self._parameters(self.idp))
            self.parameter_overrides = overrides
            function = load_template(self.template, parameter_overrides=overrides).functions[
                AUTHORIZER
            ]
            # The authorizer's init phase, done now: it prefetches the IdP's keys.
            runtime = LambdaRuntime(function, init=self._factory)
            error = runtime.initialise()
            if error is not None:
                raise FunctionError(error["errorType"], error["errorMessage"])
            self.environment = dict(runtime.environment)
            self._emulator = Emulator(
                self.template,
                parameter_overrides=overrides,
                functions={AUTHORIZER: runtime},
                ports=self._ports,
                clock=self._clock,
            ).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop whatever was started; safe to call twice."""
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None
        self.idp.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def rest_url(self) -> str:
        return self.emulator.url("RestApi")

    @property
    def http_url(self) -> str:
        return self.emulator.url("HttpApi")

    @property
    def authorizer_invocations(self) -> int:
        return self.emulator.invocation_count(AUTHORIZER)

    def token_scope(self) -> str:
        """The ``scope`` a real client of this provider sends for the API's permissions."""
        return self.idp.client_scope()

    def get_token(self, client_id: str, session: requests.Session | None = None) -> str:
        """An access token for ``client_id`` through the token endpoint (client credentials)."""
        answer = client_credentials(
            self.idp.base_url, client_id, scope=self.token_scope() or None, session=session
        )
        return str(answer["access_token"])


# --------------------------------------------------------------------------------------------
# Talking to a local IdP over HTTP
# --------------------------------------------------------------------------------------------


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback only: never through a proxy
    return session


def client_credentials(
    idp_url: str,
    client_id: str,
    *,
    secret: str | None = None,
    scope: str | None = None,
    session: requests.Session | None = None,
) -> dict[str, Any]:
    """The client-credentials grant against a local IdP (its index names the token endpoint)."""
    require_loopback(idp_url)
    if secret is None:
        clients = load_clients(DEFAULT_CLIENTS_FILE)
        if client_id not in clients:
            raise ValueError(f"unknown client {client_id!r}; pass its secret")
        secret = clients[client_id].client_secret
    http = session if session is not None else _session()
    index = http.get(idp_url.rstrip("/") + "/", timeout=5).json()
    endpoint = str(index["token_endpoint"])
    require_loopback(endpoint)
    form = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
    response = http.post(endpoint, data=form, auth=(client_id, secret), timeout=5)
    document: dict[str, Any] = response.json()
    if response.status_code != 200:
        raise ValueError(f"token endpoint answered {response.status_code}: {document}")
    return document


def running_idp_url() -> str | None:
    """The IdP of a running ``serve``, if its state file exists and it answers."""
    try:
        state = json.loads(STATE_FILE.read_text(encoding="utf-8"))
        url = str(state["idp"])
        require_loopback(url)
        with _session() as http:
            http.get(url + "/", timeout=0.5).raise_for_status()
    except (OSError, ValueError, KeyError, requests.RequestException):
        return None
    return url


# --------------------------------------------------------------------------------------------
# The demo transcript
# --------------------------------------------------------------------------------------------


class Style:
    """ANSI colours when enabled (a terminal, no NO_COLOR); plain text otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def cyan(self, text: str) -> str:
        return self._wrap("36", text)

    def status(self, code: int, text: str) -> str:
        colour = "32" if code < 400 else "33" if code < 500 else "31"
        return self._wrap(f"1;{colour}", text)

    def mark(self, ok: bool) -> str:
        return self._wrap("32", "ok") if ok else self._wrap("1;31", "UNEXPECTED")


@dataclass(frozen=True)
class Step:
    """One scripted call: who calls what, and the status API Gateway must answer."""

    label: str
    method: str
    path: str
    authorization: str | None
    expect: int


_REASONS: Final = {200: "OK", 201: "Created", 401: "Unauthorized", 403: "Forbidden", 500: "Error"}


def _trim(text: str, width: int = 110) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _body_summary(status: int, body: str) -> str:
    """Errors as sent (trimmed); successes as the caller the backend echoes."""
    try:
        document = json.loads(body)
    except ValueError:
        return _trim(body.strip())
    if status < 300 and isinstance(document, dict) and isinstance(document.get("caller"), dict):
        caller = document["caller"]
        shown = {"caller": {key: caller.get(key) for key in ("client_id", "scopes", "sub")}}
        if isinstance(document.get("order"), dict):
            shown["order"] = {key: document["order"].get(key) for key in ("id", "status")}
        return _trim(json.dumps(shown, separators=(", ", ": ")), 150)
    return _trim(json.dumps(document, separators=(",", ":")))


def _relevant_header(status: int, headers: Mapping[str, str]) -> str | None:
    if status in (401, 403) and "WWW-Authenticate" in headers:
        return f"WWW-Authenticate: {headers['WWW-Authenticate']}"
    if status == 201 and "Location" in headers:
        return f"Location: {headers['Location']}"
    return None


class _Transcript:
    def __init__(self, out: TextIO, style: Style) -> None:
        self.out = out
        self.style = style
        self.unexpected: list[str] = []
        self.calls = 0

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def call(
        self,
        stack: LocalStack,
        http: requests.Session,
        api: str,
        base: str,
        step: Step,
        note_403: str = "",
    ) -> None:
        s = self.style
        before = stack.authorizer_invocations
        headers = {"Authorization": step.authorization} if step.authorization else {}
        body = {"item": "coffee beans", "quantity": 1} if step.method == "POST" else None
        response = http.request(step.method, base + step.path, headers=headers, json=body)
        invoked = stack.authorizer_invocations - before
        self.calls += 1
        ok = response.status_code == step.expect
        if not ok:
            self.unexpected.append(
                f"{api} {step.method} {step.path} ({step.label}): "
                f"{response.status_code}, expected {step.expect}"
            )
        if invoked:
            how = "authorizer invoked"
        elif step.authorization:
            how = "cached authorizer answer reused"
            if response.status_code == 403:
                how = "cached authorizer answer reused: its policy denies this route"
        else:
            how = "rejected by API Gateway, authorizer not invoked"
        reason = _REASONS.get(response.status_code, response.reason)
        self.line(f"  {s.bold(f'{step.method:<4} {step.path:<16}')} {step.label}")
        status = s.status(response.status_code, f"{response.status_code} {reason}")
        expected = "" if ok else f" (expected {step.expect})"
        self.line(f"       {status}  {s.dim(how)}  [{s.mark(ok)}{expected}]")
        header = _relevant_header(response.status_code, response.headers)
        if header:
            self.line(f"       {s.cyan(header)}")
        elif response.status_code == 403 and note_403:
            self.line(f"       {s.dim(note_403)}")
        self.line(f"       {s.dim(_body_summary(response.status_code, response.text))}")


def _scenario(tokens: Mapping[str, str], *, http_api: bool) -> list[Step]:
    """The calls of one API; HTTP APIs answer isAuthorized=false with 403 (no 401 after init)."""
    denied = 403 if http_api else 401
    bearer = {name: f"Bearer {token}" for name, token in tokens.items()}
    return [
        Step("no token", "GET", "/orders", None, 401),
        Step("garbage token", "GET", "/orders", "Bearer not-a-jwt", denied),
        Step("expired token", "GET", "/orders", bearer["expired"], denied),
        Step("reader-app (app.read)", "GET", "/orders", bearer["reader"], 200),
        Step("reader-app: needs app.write", "POST", "/orders", bearer["reader"], 403),
        Step("writer-app (app.read app.write)", "POST", "/orders", bearer["writer"], 201),
    ]


def _color_default(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def run_demo(
    *,
    profile: Profile = "entra-b2c",
    template: str | Path = TEMPLATE,
    color: bool | None = None,
    verbose: bool = False,
    out: TextIO | None = None,
) -> int:
    """Start both servers, print the transcript, stop everything; 0 if every answer was right.

    Function logs (the authorizer's JSON lines, its metrics) and the emulator's request log go to
    ``.demo/demo.log`` (stderr with ``verbose``), so the transcript stays readable.
    """
    real_out = out if out is not None else sys.stdout
    style = Style(_color_default(real_out) if color is None else color)
    transcript = _Transcript(real_out, style)
    started = time.monotonic()
    log_file: TextIO | None = None
    if verbose:
        log_target: TextIO = sys.stderr
    else:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        log_file = (STATE_DIR / "demo.log").open("w", encoding="utf-8")
        log_target = log_file
    sink = LogSink(log_target)
    handler = logging.StreamHandler(sink)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    emulator_log = logging.getLogger("devkit")
    emulator_log.addHandler(handler)
    emulator_log.setLevel(logging.INFO)
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    stack = LocalStack(template=template, profile=profile)
    try:
        with contextlib.redirect_stdout(sink):
            _demo_body(stack, transcript)
    except KeyboardInterrupt:
        transcript.line(style.dim("interrupted"))
        return 130
    finally:
        stack.stop()
        signal.signal(signal.SIGTERM, previous_term)
        emulator_log.removeHandler(handler)
        if log_file is not None:
            log_file.close()
    elapsed = time.monotonic() - started
    log_path = STATE_DIR / "demo.log"
    where = "stderr" if verbose else shown_path(log_path)
    transcript.line(
        f"Stopped the IdP and the emulator. {transcript.calls} calls in {elapsed:.1f} s; "
        f"function logs: {where}"
    )
    if transcript.unexpected:
        transcript.line(style.status(500, "Unexpected answers:"))
        for item in transcript.unexpected:
            transcript.line(f"  - {item}")
        return 1
    transcript.line(style.status(200, "Every answer was the expected one."))
    return 0


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _demo_body(stack: LocalStack, t: _Transcript) -> None:
    s = t.style
    t.line(s.bold("JWT authorizer demo") + s.dim(" - local IdP + API Gateway emulator, 127.0.0.1"))
    stack.start()
    idp = stack.idp
    t.line(f"  identity provider  {idp.profile} at {idp.base_url} (development only)")
    t.line(f"    issuer           {idp.issuer}")
    t.line(f"    discovery        {idp.discovery_url}")
    t.line(
        f"  REST API           {stack.rest_url}  TOKEN authorizer, REQUEST on GET /orders/{{id}}"
    )
    t.line(f"  HTTP API           {stack.http_url}  payload 2.0 authorizer, simple responses")
    t.line()
    t.line(s.bold("Tokens") + " (client-credentials grant at the token endpoint, HTTP Basic)")
    with _session() as http:
        tokens: dict[str, str] = {}
        for name, client in (("reader", "reader-app"), ("writer", "writer-app")):
            answer = client_credentials(
                idp.base_url, client, scope=stack.token_scope() or None, session=http
            )
            tokens[name] = str(answer["access_token"])
            granted = answer.get("scope") or " ".join(idp.clients[client].scopes)
            t.line(f"  {client:<11} scopes {granted!r:<24} expires_in {answer.get('expires_in')} s")
        tokens["expired"] = idp.mint(client_id="reader-app", lifetime=-300)
        t.line(f"  {'expired':<11} minted by the IdP for reader-app with a lifetime of -300 s")
        t.line()
        t.line(s.bold("REST API") + s.dim(" (answers cached per token for the template's TTL)"))
        for step in _scenario(tokens, http_api=False):
            t.call(stack, http, "REST", stack.rest_url, step)
        t.line()
        t.line(
            s.bold("HTTP API")
            + s.dim(" (isAuthorized: false is a 403 on HTTP APIs; cache key: token + route)")
        )
        for step in _scenario(tokens, http_api=True):
            t.call(
                stack,
                http,
                "HTTP",
                stack.http_url,
                step,
                note_403="(HTTP APIs have no gateway responses: no WWW-Authenticate header)",
            )
        t.line()


# --------------------------------------------------------------------------------------------
# serve
# --------------------------------------------------------------------------------------------


def _curl_commands(stack: LocalStack) -> list[str]:
    idp = stack.idp
    scope = stack.token_scope()
    scope_arg = f" \\\n    --data-urlencode 'scope={scope}'" if scope else ""
    extract = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"
    rest, http = stack.rest_url, stack.http_url
    bearer = '-H "Authorization: Bearer $TOKEN"'
    post = f"-X POST {bearer} -H 'Content-Type: application/json' -d '{{\"item\":\"tea\"}}'"
    return [
        "# 1. a token for reader-app (app.read) with the client-credentials grant",
        f"TOKEN=$(curl -s -u reader-app:reader-secret -d grant_type=client_credentials{scope_arg}"
        f" \\\n    {idp.token_endpoint} | {extract})",
        "#    (or: TOKEN=$(PYTHONPATH=tools .venv/bin/python -m devkit token --client reader-app))",
        "# 2. the REST API (TOKEN authorizer; REQUEST authorizer on GET /orders/{id})",
        f"curl -i {rest}/orders                          # 401, no token",
        f"curl -i {bearer} {rest}/orders         # 200",
        f"curl -i {post} {rest}/orders   # 403: needs app.write",
        f"curl -i {bearer} {rest}/orders/o-1001  # 200 via the REQUEST authorizer",
        "# 3. the HTTP API (payload 2.0, simple responses: a refusal is a 403)",
        f"curl -i {bearer} {http}/orders",
        f"curl -i {post} {http}/orders",
        "# other clients: writer-app/writer-secret (app.read app.write), "
        "admin-app/admin-secret (+ app.admin for /admin/...)",
    ]


def serve(
    *,
    profile: Profile = "entra-b2c",
    idp_port: int = 8900,
    rest_port: int = 3000,
    http_port: int = 3001,
    template: str | Path = TEMPLATE,
) -> int:
    """Run both servers until Ctrl-C/SIGTERM; requests and function logs go to stderr."""
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    stack = LocalStack(
        template=template,
        profile=profile,
        idp_port=idp_port,
        ports={"RestApi": rest_port, "HttpApi": http_port},
    )
    sink = LogSink(sys.stderr)
    logging.basicConfig(stream=sink, level=logging.INFO, format="%(asctime)s %(message)s")
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with contextlib.redirect_stdout(sink):
            try:
                stack.start()
            except OSError as err:
                print(f"devkit serve: cannot listen: {err} (pick other ports)", file=sys.stderr)
                return 1
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        STATE_FILE.write_text(json.dumps({"idp": stack.idp.base_url, "pid": os.getpid()}))
        idp = stack.idp
        lines = [
            f"local IdP ({idp.profile}, development only)  {idp.base_url}",
            f"  issuer     {idp.issuer}",
            f"  discovery  {idp.discovery_url}",
            f"  token      {idp.token_endpoint}",
            f"REST API     {stack.rest_url}",
            f"HTTP API     {stack.http_url}",
            "",
            *_curl_commands(stack),
            "",
            "Requests and function logs follow on stderr. Ctrl-C stops both servers.",
        ]
        print("\n".join(lines), flush=True)
        with contextlib.redirect_stdout(sink):
            while not stop.wait(0.5):
                pass
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        with contextlib.suppress(OSError):
            STATE_FILE.unlink()
    print("stopped", file=sys.stderr)
    return 0
