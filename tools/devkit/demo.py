"""``python -m devkit demo`` (``make demo``): the whole flow on 127.0.0.1, then everything stops.

The local stack (:class:`~devkit.stack.LocalStack`), tokens for reader-app and writer-app from
the IdP's token endpoint, then the calls a client makes to both APIs with no, garbage, expired
and real tokens; each answer is printed with whether API Gateway invoked the authorizer and
whether it was the expected one. Function logs go to ``.demo/demo.log``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Final, TextIO

import requests

from devkit.idp import DpopKey, Profile
from devkit.paths import TEMPLATE, shown_path, state_dir
from devkit.runtime import LogSink
from devkit.stack import LocalStack, client_credentials, http_session, user_parameters

__all__ = ["Style", "run_demo"]


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
        dpop: str | None = None,
    ) -> None:
        s = self.style
        before = stack.authorizer_invocations
        headers = {"Authorization": step.authorization} if step.authorization else {}
        if dpop is not None:
            headers["DPoP"] = dpop
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
    parameters: Mapping[str, str] | None = None,
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
    log_path = state_dir() / "demo.log"
    if verbose:
        log_target: TextIO = sys.stderr
    else:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("w", encoding="utf-8")
        log_target = log_file
    sink = LogSink(log_target)
    handler = logging.StreamHandler(sink)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    emulator_log = logging.getLogger("devkit")
    emulator_log.addHandler(handler)
    emulator_log.setLevel(logging.INFO)
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    stack = LocalStack(
        template=template,
        profile=profile,
        parameters=user_parameters(parameters) if parameters else None,
    )
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
    with http_session() as http:
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
    _dpop_demo(stack, t)


def _dpop_demo(stack: LocalStack, t: _Transcript) -> None:
    """DPoP (RFC 9449) on a second stack with the template's ``Dpop=allowed`` (and TTL 0): a
    DPoP-bound token from the token endpoint, a call with a fresh proof, the same proof again."""
    s = t.style
    t.line(
        s.bold("DPoP")
        + s.dim(" (second stack, Dpop=allowed, TTL 0: a token bound to the client's key)")
    )
    key = DpopKey()
    dpop = LocalStack(template=stack.template, profile=stack.idp.profile, dpop="allowed")
    with dpop as dpop_stack, http_session() as http:
        answer = client_credentials(
            dpop_stack.idp.base_url,
            "reader-app",
            scope=dpop_stack.token_scope() or None,
            session=http,
            dpop=key,
        )
        token = str(answer["access_token"])
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        bound = claims.get("cnf") == {"jkt": key.jkt}
        if not bound:
            t.unexpected.append("DPoP: the token is not bound to the client's key")
        t.line(
            f"  reader-app  token_type {answer.get('token_type')!r}, cnf.jkt = the thumbprint of"
            f" its key [{s.mark(bound)}] (proof sent to the token endpoint)"
        )
        url = dpop_stack.http_url + "/orders"
        proof = key.proof("GET", url, token)
        authorization = f"DPoP {token}"
        for step, headers in (
            (Step("DPoP token + fresh proof", "GET", "/orders", authorization, 200), proof),
            (Step("same token + same proof: replay", "GET", "/orders", authorization, 403), proof),
        ):
            t.call(dpop_stack, http, "HTTP (DPoP)", dpop_stack.http_url, step, dpop=headers)
        t.line()
