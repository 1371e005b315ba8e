"""The local IdP's HTTP endpoints: discovery, JWKS, token, introspection, revocation, and the
failure modes.

:class:`IdpServer` (HTTP or HTTPS, TLS handshakes in worker threads) answers for a
:class:`Provider` (the :class:`~devkit.idp.LocalIdentityProvider`): the failure mode the
provider is in is applied first (down, slow, error, HTML, oversized, malformed), then the
endpoint answers normally; the token, introspection (RFC 7662) and revocation (RFC 7009)
endpoints authenticate the client with :mod:`devkit.idp.oauth`.
"""

from __future__ import annotations

import contextlib
import http.server
import logging
import socket
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any, Final, Protocol, cast
from urllib.parse import unquote, urlsplit

from devkit.constants import CLIENT_CERT_HEADER
from devkit.idp.clients import Client
from devkit.idp.dpop import certificate_thumbprint, token_request_jkt
from devkit.idp.oauth import MAX_FORM_BYTES, OAuthError, authenticate, form_params, grant_scopes
from devkit.idp.opaque import RevocationRefused, TokenStore
from devkit.idp.profiles import OVERSIZED_BYTES, Mode, PathKind, Profile
from devkit.idp.tokens import JSONDict, compact_json

__all__ = ["UP", "IdpServer", "ModeState", "Provider"]

_LOG = logging.getLogger("devkit.idp")
_HANDSHAKE_TIMEOUT_S: Final = 10.0


@dataclass(frozen=True)
class ModeState:
    """A failure mode and the endpoints it applies to."""

    name: Mode
    delay: float
    status: int
    targets: frozenset[str]


UP: Final = ModeState("up", 0.0, 200, frozenset())
_NO_STORE: Final = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))
#: Endpoints that take a POSTed form with client authentication.
_FORM_KINDS: Final = frozenset({"token", "introspect", "revoke"})


class Provider(Protocol):
    """What the endpoints need of the identity provider they serve."""

    @property
    def profile(self) -> Profile: ...
    @property
    def signing_kid(self) -> str: ...
    @property
    def token_lifetime(self) -> int: ...
    @property
    def tokens(self) -> TokenStore: ...
    def begin_request(self, path: str) -> tuple[PathKind | None, ModeState]: ...
    def wait_stopping(self, seconds: float) -> bool: ...
    def discovery_document(self) -> JSONDict: ...
    def jwks(self) -> JSONDict: ...
    def index(self) -> JSONDict: ...
    def find_client(self, client_id: str) -> Client | None: ...
    @property
    def token_endpoint(self) -> str: ...
    def mint(
        self,
        *,
        scopes: Iterable[str] | None = None,
        client_id: str | None = None,
        claims: Mapping[str, Any] | None = None,
    ) -> str: ...


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, value: Any, *headers: tuple[str, str]) -> _Response:
        return cls(status, compact_json(value), headers=headers)


class IdpServer(http.server.ThreadingHTTPServer):
    """Threading HTTP(S) server; TLS handshakes run in the worker thread, not the accept loop."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        idp: Provider,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.idp = idp
        self.ssl_context = ssl_context
        super().__init__(address, _Handler)

    def finish_request(
        self,
        request: socket.socket | tuple[bytes, socket.socket],
        client_address: Any,
    ) -> None:
        if self.ssl_context is None or not isinstance(request, socket.socket):
            super().finish_request(request, client_address)
            return
        request.settimeout(_HANDSHAKE_TIMEOUT_S)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except OSError as exc:  # includes ssl.SSLError: e.g. a client that distrusts our CA
            _LOG.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            with contextlib.suppress(OSError):
                tls.shutdown(socket.SHUT_WR)
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; a client hanging up is not worth that.
        _LOG.debug("error while serving %s", client_address, exc_info=True)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Thin adapter: the behaviour lives in the functions below and the provider."""

    server_version = "local-idp/1.0"
    sys_version = ""
    timeout = 30  # seconds a client may take to send its request

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def _dispatch(self, method: str) -> None:
        idp = cast(IdpServer, self.server).idp
        try:
            _serve(idp, self, method)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        _LOG.info("%s %s", self.address_string(), format % args)


def _serve(idp: Provider, handler: http.server.BaseHTTPRequestHandler, method: str) -> None:
    """Route one request, applying the failure mode first. Runs in a server thread."""
    path = urlsplit(handler.path).path
    kind, mode = idp.begin_request(path)

    # Read the body first: closing a socket with unread data sends RST instead of our answer.
    body = _read_body(handler) if kind in _FORM_KINDS and method == "POST" else None

    if mode.name == "down":
        handler.close_connection = True
        return
    if mode.name == "slow" and idp.wait_stopping(mode.delay):
        return  # stopping: do not keep test teardown waiting
    response = _failure_response(idp, mode, kind) if kind is not None else None
    if response is None:
        response = _normal_response(idp, kind, method, path, handler.headers, body)
    _write(handler, response, head_only=method == "HEAD")


def _failure_response(idp: Provider, mode: ModeState, kind: str) -> _Response | None:
    if mode.name == "error":
        return _Response.json(
            mode.status, {"error": "server_error", "error_description": "simulated failure"}
        )
    if mode.name == "html":
        page = (
            "<!DOCTYPE html><html><head><title>Sign in to continue</title></head>"
            "<body><h1>Network login required</h1>"
            "<p>This is the local IdP pretending to be a captive portal.</p></body></html>"
        )
        return _Response(200, page.encode(), "text/html; charset=utf-8")
    if mode.name == "oversized":
        document = _document(idp, kind)
        room = OVERSIZED_BYTES - len(compact_json(document))
        document["x-padding"] = "A" * max(room, 0) + "A" * 64
        return _Response.json(200, document)
    if mode.name == "malformed":
        if kind == "jwks":
            bad: JSONDict = {
                "keys": [
                    {
                        "kty": "RSA",
                        "kid": idp.signing_kid,
                        "use": "sig",
                        "n": 12345,
                        "e": None,
                    },
                    {"kty": 42, "kid": ["not", "a", "string"]},
                    "not-a-jwk",
                ]
            }
        elif kind == "discovery":
            bad = {"issuer": 42, "jwks_uri": ["not", "a", "url"], "token_endpoint": None}
        elif kind == "introspect":
            bad = {"active": "true", "scope": ["app.read", 7], "exp": "tomorrow"}
        else:
            bad = {"access_token": 42, "token_type": ["Bearer"], "expires_in": "soon"}
        return _Response.json(200, bad)
    return None  # "up" and "slow" answer normally


def _document(idp: Provider, kind: str) -> JSONDict:
    if kind == "discovery":
        return idp.discovery_document()
    if kind == "jwks":
        return idp.jwks()
    if kind in ("introspect", "revoke"):
        return {"active": False}
    return {"access_token": idp.mint(), "token_type": "Bearer", "expires_in": 3600}


def _normal_response(
    idp: Provider, kind: str | None, method: str, path: str, headers: Message, body: bytes | None
) -> _Response:
    if kind is None:
        if path == "/" and method in ("GET", "HEAD"):
            return _Response.json(200, idp.index())
        return _Response.json(404, {"error": "not_found", "error_description": path})
    allowed = ("POST",) if kind in _FORM_KINDS else ("GET", "HEAD")
    if method not in allowed:
        return _Response.json(
            405,
            {"error": "invalid_request", "error_description": f"use {' or '.join(allowed)}"},
            ("Allow", ", ".join(allowed)),
        )
    if kind in _FORM_KINDS:
        try:
            if kind == "introspect":
                return _introspection_response(idp, headers, body)
            if kind == "revoke":
                return _revocation_response(idp, headers, body)
            return _token_response(idp, headers, body)
        except OAuthError as exc:
            extra: tuple[tuple[str, str], ...] = _NO_STORE
            if exc.status == 401:
                extra += (("WWW-Authenticate", 'Basic realm="local-idp"'),)
            error = {"error": exc.error, "error_description": exc.description}
            return _Response.json(exc.status, error, *extra)
    cache = () if idp.profile == "wso2" else (("Cache-Control", "max-age=86400, private"),)
    return _Response.json(200, _document(idp, kind), *cache)


def _read_body(handler: http.server.BaseHTTPRequestHandler) -> bytes | None:
    """The request body, or None when its framing is unusable (reported as invalid_request)."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        return None
    try:
        length = int(handler.headers.get("Content-Length", ""))
    except ValueError:
        return None
    if not 0 <= length <= MAX_FORM_BYTES:
        return None
    return handler.rfile.read(length)


def _token_response(idp: Provider, headers: Message, body: bytes | None) -> _Response:
    """Client-credentials grant (RFC 6749 §4.4). Checks run in this order and the first
    failure is answered: request syntax, client authentication, grant type, scope."""
    params = form_params(headers, body)
    client = authenticate(headers.get("Authorization"), params, idp.find_client)
    grant_type = params.get("grant_type")
    if not grant_type:
        raise OAuthError(400, "invalid_request", "grant_type is required")
    if grant_type != "client_credentials":
        raise OAuthError(
            400,
            "unsupported_grant_type",
            f"only client_credentials is supported, not {grant_type!r}",
        )
    granted = grant_scopes(params.get("scope"), client)
    # RFC 9449 section 5: a token request with a DPoP proof gets a token bound to its key.
    proofs = headers.get_all("DPoP") or []
    if len(proofs) > 1:
        raise OAuthError(400, "invalid_dpop_proof", "more than one DPoP header")
    cnf = {"jkt": token_request_jkt(proofs[0], url=idp.token_endpoint)} if proofs else {}
    # RFC 8705 section 3, with the development stand-in for the mutual-TLS connection.
    certificate = headers.get(CLIENT_CERT_HEADER)
    if certificate:
        cnf["x5t#S256"] = certificate_thumbprint(unquote(certificate))
    if client.token_type == "opaque":  # noqa: S105 - a token format, not a secret
        if cnf:
            raise OAuthError(
                400, "invalid_request", "this IdP binds JWT access tokens only, not opaque ones"
            )
        token = idp.tokens.issue(client.client_id, granted, idp.token_lifetime)
    else:
        token = idp.mint(
            client_id=client.client_id, scopes=granted, claims={"cnf": cnf} if cnf else {}
        )
    answer = {
        "access_token": token,
        "token_type": "DPoP" if proofs else "Bearer",
        "expires_in": idp.token_lifetime,
        "scope": " ".join(granted),
    }
    return _Response.json(200, answer, *_NO_STORE)


def _introspection_response(idp: Provider, headers: Message, body: bytes | None) -> _Response:
    """RFC 7662: any registered client may ask (WSO2 IS 7 also wants the application authorized
    for the introspection API); a missing ``token`` is invalid_request."""
    params = form_params(headers, body)
    authenticate(headers.get("Authorization"), params, idp.find_client)
    token = params.get("token")
    if not token:
        raise OAuthError(400, "invalid_request", "token is required")
    return _Response.json(200, idp.tokens.introspect(token), *_NO_STORE)


def _revocation_response(idp: Provider, headers: Message, body: bytes | None) -> _Response:
    """RFC 7009: 200 for any token, known or not, except one issued to another client."""
    params = form_params(headers, body)
    client = authenticate(headers.get("Authorization"), params, idp.find_client)
    token = params.get("token")
    if not token:
        raise OAuthError(400, "invalid_request", "token is required")
    try:
        idp.tokens.revoke(token, client_id=client.client_id)
    except RevocationRefused as exc:
        raise OAuthError(400, "unauthorized_client", str(exc)) from None
    return _Response(200, b"", headers=_NO_STORE)


def _write(
    handler: http.server.BaseHTTPRequestHandler, response: _Response, *, head_only: bool
) -> None:
    handler.send_response(response.status)
    handler.send_header("Content-Type", response.content_type)
    handler.send_header("Content-Length", str(len(response.body)))
    for name, value in response.headers:
        handler.send_header(name, value)
    handler.end_headers()
    if not head_only:
        handler.wfile.write(response.body)
