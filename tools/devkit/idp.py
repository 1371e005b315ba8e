"""A local OAuth 2.0 / OIDC identity provider for development, demos and tests. Never deploy it.

It mimics what the authorizer meets in production closely enough to catch real integration bugs:

* ``entra-b2c``: Azure AD B2C. Discovery is served **only** under the per-policy URL, and that
  document's ``issuer`` is the policy-less GUID form, so "issuer + /.well-known" does not work.
* ``wso2``: WSO2 Identity Server, with its odd ``kid``/``x5t`` values, ``typ: at+jwt``, ``aud`` =
  client id and a ``scope`` string.
* ``entra-id``: Entra ID v2.0 app-only tokens (``roles`` array, ``idtyp: app``, no ``scp``).

The token endpoint implements the client-credentials grant (RFC 6749 §4.4) with
``client_secret_basic`` and ``client_secret_post``. Tests can rotate or withdraw keys, mint
arbitrary tokens, and make the metadata endpoints misbehave (down, slow, 500, HTML, oversized,
malformed) or stop listening.

It deliberately imports nothing from ``jwt_authorizer``: an oracle that shared code with the system
under test would share its bugs.

Run ``python -m devkit.idp --help`` (with ``tools/`` on ``PYTHONPATH``) for the CLI.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import datetime as dt
import hashlib
import hmac
import http.server
import json
import logging
import os
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Final, Literal, Self, cast, get_args
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from devkit import tlsutil
from devkit.constants import BIND_HOST
from devkit.paths import IDP_CLIENTS_FILE

__all__ = [
    "B2C_POLICY",
    "DEFAULT_API_AUDIENCE",
    "DEFAULT_CLIENTS_FILE",
    "DEFAULT_TENANT_ID",
    "DEFAULT_TENANT_NAME",
    "MODES",
    "OVERSIZED_BYTES",
    "PATH_KINDS",
    "PROFILES",
    "Client",
    "LocalIdentityProvider",
    "Mode",
    "PathKind",
    "Profile",
    "load_clients",
    "main",
]

_LOG = logging.getLogger(__name__)

JSONDict = dict[str, Any]
Profile = Literal["entra-b2c", "wso2", "entra-id"]
Mode = Literal["up", "down", "slow", "error", "html", "oversized", "malformed"]
PathKind = Literal["discovery", "jwks", "token"]

PROFILES: Final[tuple[str, ...]] = get_args(Profile)
MODES: Final[tuple[str, ...]] = get_args(Mode)
PATH_KINDS: Final[tuple[str, ...]] = get_args(PathKind)

# Made-up identifiers (no real tenant or app), fixed so fixtures and configs can hard-code them.
DEFAULT_TENANT_ID: Final = "5b8e2f4a-9c13-4d67-b0a2-7e1f3c9d8a54"
DEFAULT_API_AUDIENCE: Final = "c7a4e1d2-3f58-4b90-a6e3-1d9b2c7f0e85"
DEFAULT_TENANT_NAME: Final = "contoso"
B2C_POLICY: Final = "B2C_1A_CLIENTCREDENTIALS"
DEFAULT_CLIENTS_FILE: Final = IDP_CLIENTS_FILE

#: Size the "oversized" mode pads its documents past (1 MiB plus a margin).
OVERSIZED_BYTES: Final = 1024 * 1024 + 4096

_MAX_FORM_BYTES: Final = 64 * 1024
_HANDSHAKE_TIMEOUT_S: Final = 10.0
# Signing certificates get fixed dates and a key-derived serial so the same key always yields the
# same certificate, hence the same x5t/kid: fixtures made from a committed key stay byte-stable.
_SIGNING_CERT_NOT_BEFORE: Final = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
_SIGNING_CERT_NOT_AFTER: Final = dt.datetime(2045, 1, 1, tzinfo=dt.UTC)
_SUBJECT_NAMESPACE: Final = uuid.UUID("0b6a4e8c-2d51-4f3a-9e07-6c1d8b2f4a93")


def _b64url(data: bytes) -> str:
    """Base64url without padding, as JOSE requires (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_uint(value: int) -> str:
    """An unsigned big-endian integer in minimal bytes (RFC 7518 §6.3.1 for ``n``/``e``)."""
    return _b64url(value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def _compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    """A confidential client allowed to use the client-credentials grant."""

    client_id: str
    client_secret: str
    scopes: tuple[str, ...]


def _client_from_mapping(entry: object, index: int) -> Client:
    if not isinstance(entry, Mapping):
        raise ValueError(f"client #{index} must be an object, got {type(entry).__name__}")
    client_id = entry.get("client_id")
    secret = entry.get("client_secret")
    scopes = entry.get("scopes", [])
    if not isinstance(client_id, str) or not client_id or ":" in client_id:
        raise ValueError(f"client #{index}: client_id must be a non-empty string without ':'")
    if not isinstance(secret, str) or not secret:
        raise ValueError(f"client #{index} ({client_id}): client_secret must be a non-empty string")
    if not isinstance(scopes, list) or not all(
        isinstance(s, str) and s and not any(c.isspace() for c in s) and "/" not in s
        for s in scopes
    ):
        raise ValueError(
            f"client #{index} ({client_id}): scopes must be a list of bare scope names "
            "(no spaces, no resource prefix)"
        )
    return Client(client_id=client_id, client_secret=secret, scopes=tuple(dict.fromkeys(scopes)))


def load_clients(
    source: str | os.PathLike[str] | Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
) -> dict[str, Client]:
    """Load clients from a JSON file path, a ``{"clients": [...]}`` mapping or a list of dicts.

    Validation is strict so a typo in a demo's clients file fails loudly at start-up instead of
    surfacing later as a puzzling ``invalid_client``.
    """
    data: object
    if source is None:
        source = DEFAULT_CLIENTS_FILE
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON: {exc}") from exc
    else:
        data = source
    if isinstance(data, Mapping):
        data = data.get("clients")
    if not isinstance(data, Sequence) or isinstance(data, str | bytes):
        raise ValueError('clients must be a list or an object {"clients": [...]}')
    clients: dict[str, Client] = {}
    for index, entry in enumerate(data):
        client = _client_from_mapping(entry, index)
        if client.client_id in clients:
            raise ValueError(f"duplicate client_id {client.client_id!r}")
        clients[client.client_id] = client
    return clients


# --------------------------------------------------------------------------------------------
# Signing keys
# --------------------------------------------------------------------------------------------


def _signing_certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    """Self-signed certificate for a signing key, deterministic for a given key (see above)."""
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    serial = int.from_bytes(hashlib.sha256(spki).digest()[:18], "big") | 1
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "apigw-jwt-authorizer devkit"),
            x509.NameAttribute(NameOID.COMMON_NAME, "local-idp token signing"),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(_SIGNING_CERT_NOT_BEFORE)
        .not_valid_after(_SIGNING_CERT_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


@dataclass(frozen=True)
class _SigningKey:
    """One RSA key with the identifiers each profile derives from it."""

    kid: str
    private_key: rsa.RSAPrivateKey
    cert_der: bytes
    x5t: str  # RFC 7515 x5t: base64url SHA-1 of the DER certificate (Entra ID)
    x5t_s256: str  # RFC 7515 x5t#S256: base64url SHA-256 of the DER certificate
    wso2_x5t: str  # WSO2: base64url of the *hex string* of the SHA-1 thumbprint

    @classmethod
    def create(cls, private_key: rsa.RSAPrivateKey, profile: Profile) -> _SigningKey:
        cert_der = _signing_certificate(private_key).public_bytes(serialization.Encoding.DER)
        sha1 = hashlib.sha1(cert_der, usedforsecurity=False)
        sha256 = hashlib.sha256(cert_der)
        numbers = private_key.public_key().public_numbers()
        if profile == "wso2":
            kid = _b64url(sha256.hexdigest().encode("ascii")) + "_RS256"
        elif profile == "entra-id":
            kid = _b64url(sha1.digest())  # 27 characters, like Entra's thumbprint kids
        else:
            # B2C kids are 43-character base64url strings: use the RFC 7638 JWK thumbprint.
            canonical = _compact_json(
                {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
            )
            kid = _b64url(hashlib.sha256(canonical).digest())
        return cls(
            kid=kid,
            private_key=private_key,
            cert_der=cert_der,
            x5t=_b64url(sha1.digest()),
            x5t_s256=_b64url(sha256.digest()),
            wso2_x5t=_b64url(sha1.hexdigest().encode("ascii")),
        )

    def jwk(self, profile: Profile, issuer: str) -> JSONDict:
        """The JWKS entry in the shape the real provider publishes (member order included)."""
        numbers = self.private_key.public_key().public_numbers()
        n, e = _b64url_uint(numbers.n), _b64url_uint(numbers.e)
        x5c = [base64.b64encode(self.cert_der).decode("ascii")]  # x5c is plain base64 (§4.7)
        if profile == "wso2":
            return {
                "kty": "RSA",
                "e": e,
                "use": "sig",
                "kid": self.kid,
                "x5t#S256": self.x5t_s256,
                "x5c": x5c,
                "alg": "RS256",
                "n": n,
            }
        if profile == "entra-id":
            return {
                "kty": "RSA",
                "use": "sig",
                "kid": self.kid,
                "x5t": self.x5t,
                "n": n,
                "e": e,
                "x5c": x5c,
                "issuer": issuer,
            }
        nbf = int(_SIGNING_CERT_NOT_BEFORE.timestamp())
        return {"kid": self.kid, "nbf": nbf, "use": "sig", "kty": "RSA", "e": e, "n": n}

    def header(self, profile: Profile) -> JSONDict:
        if profile == "wso2":
            return {"x5t": self.wso2_x5t, "kid": self.kid, "typ": "at+jwt", "alg": "RS256"}
        return {"typ": "JWT", "alg": "RS256", "kid": self.kid}

    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")


def _load_rsa_private_key(pem: str | bytes) -> rsa.RSAPrivateKey:
    # Skipping the RSA consistency check saves ~40 ms per load; these are our own dev keys.
    key = serialization.load_pem_private_key(
        pem.encode("ascii") if isinstance(pem, str) else pem,
        password=None,
        unsafe_skip_rsa_key_validation=True,
    )
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("signing_key_pem must hold an RSA private key (the IdP signs RS256)")
    return key


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


class _OAuthError(Exception):
    """An RFC 6749 §5.2 error response."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description


def _grant_scopes(requested: str | None, client: Client) -> list[str]:
    """Scopes to grant for a ``scope`` parameter, or invalid_scope.

    Values may carry a resource prefix (``https://contoso.onmicrosoft.com/api/app.read``,
    ``api://orders/.default``): only the part after the last ``/`` counts. ``.default`` or no
    scope at all means everything the client may have. The result follows the client's order.
    """
    names = [value.rsplit("/", 1)[-1] for value in (requested or "").split()]
    refused = [name for name in names if name != ".default" and name not in client.scopes]
    if refused:
        raise _OAuthError(
            400,
            "invalid_scope",
            f"client {client.client_id!r} may not have: {' '.join(refused) or '(empty scope)'}",
        )
    if not names or ".default" in names:
        return list(client.scopes)
    return [scope for scope in client.scopes if scope in names]


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, value: Any, *headers: tuple[str, str]) -> _Response:
        return cls(status, _compact_json(value), headers=headers)


@dataclass(frozen=True)
class _ModeState:
    name: Mode
    delay: float
    status: int
    targets: frozenset[str]


_UP: Final = _ModeState("up", 0.0, 200, frozenset())
_NO_STORE: Final = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


class _Server(http.server.ThreadingHTTPServer):
    """Threading HTTP(S) server; TLS handshakes run in the worker thread, not the accept loop."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        idp: LocalIdentityProvider,
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
    """Thin adapter: all behaviour lives in LocalIdentityProvider so it can be locked and tested."""

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
        idp = cast(_Server, self.server).idp
        try:
            idp._serve(self, method)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        _LOG.info("%s %s", self.address_string(), format % args)


# --------------------------------------------------------------------------------------------
# The identity provider
# --------------------------------------------------------------------------------------------


class LocalIdentityProvider:
    """An in-process IdP on loopback. Use it as a context manager, or call start()/stop().

    URLs (``base_url``, ``issuer``, ...) are known once the server is bound, i.e. after start(),
    unless a fixed ``port`` or ``public_url`` makes them known up front. All control methods are
    thread-safe; the HTTP server answers from daemon threads.
    """

    def __init__(
        self,
        *,
        profile: Profile = "entra-b2c",
        host: str = BIND_HOST,
        port: int = 0,
        clients: str
        | os.PathLike[str]
        | Sequence[Mapping[str, Any]]
        | Mapping[str, Any]
        | None = None,
        audience: str | None = None,
        token_lifetime: int = 3600,
        tls: bool = False,
        key_size: int = 2048,
        signing_key_pem: str | bytes | None = None,
        tenant_id: str = DEFAULT_TENANT_ID,
        tenant_name: str = DEFAULT_TENANT_NAME,
        policy: str = B2C_POLICY,
        public_url: str | None = None,
        now: Callable[[], float] | None = None,
    ) -> None:
        """Configure the provider; nothing listens until start().

        ``audience``: the ``aud`` of issued tokens. Defaults to ``DEFAULT_API_AUDIENCE`` for the
        Entra profiles; for ``wso2`` ``None`` means "the client id", as WSO2 does.
        ``signing_key_pem``: reuse a (committed, development-only) RSA key for stable fixtures.
        ``public_url``: the base URL clients use when it differs from the bound address (e.g.
        ``http://host.docker.internal:8080`` for a Lambda container); it must have no path.
        ``now``: clock override (epoch seconds) for deterministic ``iat``/``nbf``/``exp``.
        """
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
        if not 0 <= port <= 65535:
            raise ValueError(f"port out of range: {port}")
        if token_lifetime <= 0:
            raise ValueError(
                "token_lifetime must be positive (mint(lifetime=...) makes odd tokens)"
            )
        if public_url is not None:
            parts = urlsplit(public_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"public_url must be an absolute http(s) URL: {public_url!r}")
            if parts.path not in ("", "/") or parts.query or parts.fragment:
                raise ValueError(f"public_url must not carry a path or query: {public_url!r}")
            public_url = public_url.rstrip("/")
        self.profile: Final[Profile] = profile
        self.host: Final = host
        self.tenant_id: Final = tenant_id
        self.tenant_name: Final = tenant_name
        self.policy: Final = policy
        self.token_lifetime: Final = token_lifetime
        self.tls: Final = tls
        self.key_size: Final = key_size
        self.audience: Final[str | None] = (
            audience if audience is not None or profile == "wso2" else DEFAULT_API_AUDIENCE
        )
        self._requested_port = port
        self._public_url = public_url
        self._now: Callable[[], float] = now if now is not None else time.time
        self._clients = load_clients(clients)

        self._lock = threading.RLock()
        self._keys: dict[str, _SigningKey] = {}
        self._published: list[str] = []  # publication order is JWKS order
        self._signing_kid = ""
        self._mode = _UP
        self._counts = dict.fromkeys(PATH_KINDS, 0)

        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._started = False
        self._shutdown = threading.Event()
        self._tmpdir: Path | None = None
        self._ssl_context: ssl.SSLContext | None = None
        self._ca_bundle_path: Path | None = None
        self._untrusted_ca_path: Path | None = None

        first = (
            _load_rsa_private_key(signing_key_pem)
            if signing_key_pem is not None
            else rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        )
        self._signing_kid = self._register_key(first, publish=True)

    # ---- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self._base_url_or_none() or "not started"
        return f"<LocalIdentityProvider {self.profile} {where}>"

    def start(self) -> Self:
        """Bind, create TLS material if asked, and serve from a daemon thread."""
        with self._lock:
            if self._started:
                raise RuntimeError("already started")
            self._shutdown.clear()
            try:
                if self.tls and self._ssl_context is None:
                    hosts = self._tls_hosts()
                    credentials = tlsutil.write_server_credentials(self._tmp(), hosts)
                    self._ssl_context = tlsutil.server_ssl_context(credentials)
                    self._ca_bundle_path = credentials.ca_bundle_path
                self._listen(self._requested_port)
            except BaseException:
                self.stop()  # e.g. port in use: do not leave temporary key files behind
                raise
            self._started = True
        return self

    def stop(self) -> None:
        """Stop serving and delete the temporary TLS files. Safe to call twice."""
        self._shutdown.set()  # wakes handlers sleeping in "slow" mode
        with self._lock:
            self._close_server()
            self._started = False
            self._port = None
            if self._tmpdir is not None:
                shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
            self._ssl_context = None
            self._ca_bundle_path = None
            self._untrusted_ca_path = None

    def close_port(self) -> None:
        """Stop listening, so clients get "connection refused"; reopen_port() undoes it."""
        with self._lock:
            self._require_started()
            self._close_server()

    def reopen_port(self) -> None:
        """Listen again on the same port (same URLs, same keys, same TLS certificate)."""
        with self._lock:
            self._require_started()
            if self._server is None:
                assert self._port is not None
                self._listen(self._port)

    @property
    def is_listening(self) -> bool:
        with self._lock:
            return self._server is not None

    def _listen(self, port: int) -> None:
        bind_host = self.host
        server = _Server((bind_host, port), self, self._ssl_context)
        self._port = server.server_address[1]
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},  # shutdown() waits up to one poll interval
            name=f"local-idp-{self.profile}-{self._port}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        _LOG.info("local IdP (%s) listening on %s", self.profile, self.base_url)

    def _close_server(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError("the identity provider is not started")

    def _tmp(self) -> Path:
        if self._tmpdir is None:
            self._tmpdir = Path(tempfile.mkdtemp(prefix="local-idp-"))
        return self._tmpdir

    def _tls_hosts(self) -> list[str]:
        hosts = ["127.0.0.1", "::1", "localhost"]
        if self.host not in ("0.0.0.0", "::", ""):
            hosts.append(self.host)
        if self._public_url is not None:
            hosts.append(urlsplit(self._public_url).hostname or "")
        return hosts

    # ---- URLs -----------------------------------------------------------------------------

    def _base_url_or_none(self) -> str | None:
        if self._public_url is not None:
            return self._public_url
        port = self._port if self._port is not None else self._requested_port
        if port == 0:
            return None
        host = self.host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    @property
    def base_url(self) -> str:
        """Scheme, host and port, e.g. ``http://127.0.0.1:49152`` (no trailing slash)."""
        url = self._base_url_or_none()
        if url is None:
            raise RuntimeError("URLs are known once start() has bound a port")
        return url

    @property
    def port(self) -> int:
        """The bound port (or the fixed one asked for, before start)."""
        port = self._port if self._port is not None else self._requested_port
        if port == 0:
            raise RuntimeError("the port is known once start() has bound it")
        return port

    def _paths(self) -> dict[str, str]:
        """Path (relative to base_url) of each endpoint for the active profile."""
        if self.profile == "entra-b2c":
            prefix = f"/{self.tenant_name}.onmicrosoft.com/{self.policy}"
            return {
                "issuer": f"/{self.tenant_id}/v2.0/",
                "discovery": f"{prefix}/v2.0/.well-known/openid-configuration",
                "jwks": f"{prefix}/discovery/v2.0/keys",
                "token": f"{prefix}/oauth2/v2.0/token",
                "authorize": f"{prefix}/oauth2/v2.0/authorize",
            }
        if self.profile == "wso2":
            return {
                "issuer": "/oauth2/token",
                "discovery": "/oauth2/token/.well-known/openid-configuration",
                "jwks": "/oauth2/jwks",
                "token": "/oauth2/token",
                "authorize": "/oauth2/authorize",
            }
        return {
            "issuer": f"/{self.tenant_id}/v2.0",
            "discovery": f"/{self.tenant_id}/v2.0/.well-known/openid-configuration",
            "jwks": f"/{self.tenant_id}/discovery/v2.0/keys",
            "token": f"/{self.tenant_id}/oauth2/v2.0/token",
            "authorize": f"/{self.tenant_id}/oauth2/v2.0/authorize",
        }

    @property
    def issuer(self) -> str:
        """Exact ``iss`` of issued tokens (B2C: trailing slash; Entra ID v2: none)."""
        return self.base_url + self._paths()["issuer"]

    @property
    def discovery_url(self) -> str:
        """Where the OpenID configuration is served (for B2C this is *not* issuer + well-known)."""
        return self.base_url + self._paths()["discovery"]

    @property
    def jwks_uri(self) -> str:
        return self.base_url + self._paths()["jwks"]

    @property
    def token_endpoint(self) -> str:
        return self.base_url + self._paths()["token"]

    @property
    def ca_bundle_path(self) -> Path | None:
        """PEM file with the CA that signed the HTTPS certificate (None without ``tls``)."""
        with self._lock:
            return self._ca_bundle_path

    def untrusted_ca_bundle_path(self) -> Path:
        """A PEM bundle with an unrelated CA: trusting only it must make HTTPS calls fail."""
        with self._lock:
            if self._untrusted_ca_path is None:
                self._untrusted_ca_path = tlsutil.write_ca_bundle(self._tmp() / "untrusted-ca.pem")
            return self._untrusted_ca_path

    def audience_for(self, client_id: str) -> str:
        """The ``aud`` a token issued to ``client_id`` carries (WSO2: the client id itself)."""
        return self.audience if self.audience is not None else client_id

    @property
    def clients(self) -> Mapping[str, Client]:
        with self._lock:
            return dict(self._clients)

    def add_client(self, client_id: str, client_secret: str, scopes: Iterable[str]) -> None:
        """Register (or replace) a client at run time."""
        client = _client_from_mapping(
            {"client_id": client_id, "client_secret": client_secret, "scopes": list(scopes)}, 0
        )
        with self._lock:
            self._clients[client.client_id] = client

    # ---- documents ------------------------------------------------------------------------

    def discovery_document(self) -> JSONDict:
        """The OpenID Provider metadata as the real provider would serve it."""
        paths = {name: self.base_url + path for name, path in self._paths().items()}
        common: JSONDict = {
            "issuer": paths["issuer"],
            "authorization_endpoint": paths["authorize"],
            "token_endpoint": paths["token"],
            "jwks_uri": paths["jwks"],
        }
        if self.profile == "wso2":
            return common | {
                "response_types_supported": ["code", "id_token", "token", "code id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid"],
                "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
            }
        microsoft: JSONDict = {
            "response_modes_supported": ["query", "fragment", "form_post"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        }
        if self.profile == "entra-b2c":
            claims = ["sub", "azp", "scp", "tfp", "ver", "iss", "iat", "nbf", "exp", "aud"]
        else:
            claims = ["sub", "azp", "roles", "idtyp", "oid", "tid", "ver", "iss", "aud"]
            microsoft["tenant_region_scope"] = "EU"
        return common | microsoft | {"claims_supported": claims}

    def jwks(self) -> JSONDict:
        """The published key set (retired/removed keys are left out)."""
        issuer = self.issuer
        with self._lock:
            return {"keys": [self._keys[k].jwk(self.profile, issuer) for k in self._published]}

    # ---- keys -----------------------------------------------------------------------------

    def _register_key(self, private_key: rsa.RSAPrivateKey, *, publish: bool) -> str:
        key = _SigningKey.create(private_key, self.profile)
        with self._lock:
            self._keys[key.kid] = key
            if publish and key.kid not in self._published:
                self._published.append(key.kid)
        return key.kid

    def _new_key(self, *, publish: bool) -> str:
        # Generating an RSA key takes tens of ms: do it outside the lock.
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=self.key_size)
        return self._register_key(private_key, publish=publish)

    @property
    def signing_kid(self) -> str:
        """``kid`` of the key new tokens are signed with."""
        with self._lock:
            return self._signing_kid

    @property
    def published_kids(self) -> list[str]:
        with self._lock:
            return list(self._published)

    def rotate_key(self, *, retire_previous: bool = False) -> str:
        """Sign with a brand-new published key; keep publishing the old one unless retired."""
        kid = self._new_key(publish=True)
        with self._lock:
            previous, self._signing_kid = self._signing_kid, kid
            if retire_previous and previous in self._published:
                self._published.remove(previous)
        return kid

    def add_key(self, *, publish: bool = True) -> str:
        """Create a key without signing with it: a pre-published next key, or (``publish=False``)
        a key the JWKS never shows, for "unknown kid" tests via ``mint(kid=...)``."""
        return self._new_key(publish=publish)

    def remove_key(self, kid: str) -> None:
        """Stop publishing ``kid``. Its private key stays available to mint(kid=...); removing the
        current signing key makes the IdP sign with a key it does not publish."""
        with self._lock:
            self._key(kid)
            if kid in self._published:
                self._published.remove(kid)

    def publish_key(self, kid: str) -> None:
        """Publish a key again (appended at the end of the JWKS)."""
        with self._lock:
            self._key(kid)
            if kid not in self._published:
                self._published.append(kid)

    def _key(self, kid: str | None) -> _SigningKey:
        with self._lock:
            wanted = self._signing_kid if kid is None else kid
            try:
                return self._keys[wanted]
            except KeyError:
                raise KeyError(f"unknown kid {wanted!r}") from None

    def private_key_pem(self, kid: str | None = None) -> str:
        """PKCS#8 PEM of a key (default: the signing key), e.g. to commit a development key."""
        return self._key(kid).private_pem()

    def public_jwk(self, kid: str | None = None) -> JSONDict:
        """A key's JWKS entry in the profile's shape, published or not."""
        return self._key(kid).jwk(self.profile, self.issuer)

    # ---- tokens ---------------------------------------------------------------------------

    def _subject_guid(self, client_id: str) -> str:
        """Stable made-up service-principal object id for a client (B2C ``sub``, Entra ``oid``)."""
        return str(uuid.uuid5(_SUBJECT_NAMESPACE, f"{self.tenant_id}/{client_id}"))

    def _standard_claims(
        self, client_id: str, scopes: Sequence[str], iat: int, exp: int
    ) -> JSONDict:
        aud = self.audience_for(client_id)
        if self.profile == "wso2":
            return {
                "sub": client_id,
                "aut": "APPLICATION",
                "iss": self.issuer,
                "client_id": client_id,
                "aud": aud,
                "nbf": iat,
                "azp": client_id,
                "scope": " ".join(scopes),
                "exp": exp,
                "iat": iat,
                "jti": str(uuid.uuid4()),
            }
        if self.profile == "entra-id":
            oid = self._subject_guid(client_id)
            return {
                "aud": aud,
                "iss": self.issuer,
                "iat": iat,
                "nbf": iat,
                "exp": exp,
                "azp": client_id,
                "azpacr": "1",
                "idtyp": "app",
                "oid": oid,
                "roles": list(scopes),
                "sub": oid,
                "tid": self.tenant_id,
                "ver": "2.0",
            }
        return {
            "iss": self.issuer,
            "exp": exp,
            "nbf": iat,
            "iat": iat,
            "aud": aud,
            "sub": self._subject_guid(client_id),
            "azp": client_id,
            "scp": " ".join(scopes),
            "tfp": self.policy,
            "ver": "1.0",
        }

    def mint(
        self,
        *,
        scopes: Iterable[str] | None = None,
        client_id: str | None = None,
        claims: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
        lifetime: int | None = None,
        kid: str | None = None,
        drop_claims: Iterable[str] = (),
        drop_header: Iterable[str] = (),
    ) -> str:
        """Sign a token directly, bypassing the token endpoint and its checks.

        Starts from the profile's standard header and claims for ``client_id`` (default: the first
        configured client) with ``scopes`` (default: all the client may have), then applies
        ``claims``/``header`` overrides and removes ``drop_claims``/``drop_header``. The signature
        is always RS256 with key ``kid`` (default: the signing key), even if ``header`` claims
        another ``alg``: that is how alg-confusion tokens are made. ``lifetime`` may be negative
        to produce an expired token.
        """
        with self._lock:
            if client_id is None:
                client_id = next(iter(self._clients), "local-client")
            client = self._clients.get(client_id)
        granted = list(scopes) if scopes is not None else list(client.scopes if client else ())
        key = self._key(kid)
        iat = int(self._now())
        exp = iat + (self.token_lifetime if lifetime is None else lifetime)
        payload = self._standard_claims(client_id, granted, iat, exp) | dict(claims or {})
        jose_header = key.header(self.profile) | dict(header or {})
        for name in drop_claims:
            payload.pop(name, None)
        for name in drop_header:
            jose_header.pop(name, None)
        signing_input = f"{_b64url(_compact_json(jose_header))}.{_b64url(_compact_json(payload))}"
        signature = key.private_key.sign(
            signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
        return f"{signing_input}.{_b64url(signature)}"

    # ---- failure modes and counters -------------------------------------------------------

    def set_mode(
        self,
        mode: Mode,
        *,
        delay: float = 0.0,
        status: int = 500,
        apply_to_token: bool = False,
        targets: Iterable[PathKind] | None = None,
    ) -> None:
        """Make the metadata endpoints misbehave (``"up"`` restores normal service).

        ``down`` closes the connection without answering; ``slow`` answers normally after
        ``delay`` seconds; ``error`` answers ``status`` (500); ``html`` a 200 HTML page;
        ``oversized`` a valid document padded past 1 MiB; ``malformed`` 200 JSON of the wrong
        shape. By default discovery and JWKS are affected; ``apply_to_token`` adds the token
        endpoint and ``targets`` picks the endpoints explicitly (e.g. ``["jwks"]``).
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if delay < 0:
            raise ValueError("delay must be >= 0")
        if not 100 <= status <= 599:
            raise ValueError(f"not an HTTP status: {status}")
        chosen = set(targets) if targets is not None else {"discovery", "jwks"}
        if apply_to_token:
            chosen.add("token")
        unknown = chosen - set(PATH_KINDS)
        if unknown:
            raise ValueError(f"unknown targets {sorted(unknown)}; expected {PATH_KINDS}")
        state = _ModeState(mode, float(delay), status, frozenset(chosen))
        with self._lock:
            self._mode = _UP if mode == "up" else state

    @property
    def mode(self) -> Mode:
        with self._lock:
            return self._mode.name

    def request_count(self, path_kind: PathKind) -> int:
        """Requests seen on an endpoint kind since start or reset_counts(), whatever the mode."""
        if path_kind not in PATH_KINDS:
            raise ValueError(f"path_kind must be one of {PATH_KINDS}, got {path_kind!r}")
        with self._lock:
            return self._counts[path_kind]

    def reset_counts(self) -> None:
        with self._lock:
            self._counts = dict.fromkeys(PATH_KINDS, 0)

    # ---- request handling (called from server threads) ------------------------------------

    def _serve(self, handler: http.server.BaseHTTPRequestHandler, method: str) -> None:
        """Route one request, applying the failure mode first. Runs in a server thread."""
        path = urlsplit(handler.path).path
        routes = {v: k for k, v in self._paths().items() if k in PATH_KINDS}
        kind = routes.get(path)
        with self._lock:
            if kind is not None:
                self._counts[kind] += 1
            mode = self._mode if kind in self._mode.targets else _UP

        # Read the body first: closing a socket with unread data sends RST instead of our answer.
        body = self._read_body(handler) if kind == "token" and method == "POST" else None

        if mode.name == "down":
            handler.close_connection = True
            return
        if mode.name == "slow" and self._shutdown.wait(mode.delay):
            return  # stopping: do not keep test teardown waiting
        response = self._failure_response(mode, kind) if kind is not None else None
        if response is None:
            response = self._normal_response(kind, method, path, handler.headers, body)
        self._write(handler, response, head_only=method == "HEAD")

    def _failure_response(self, mode: _ModeState, kind: str) -> _Response | None:
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
            document = self._document(kind)
            room = OVERSIZED_BYTES - len(_compact_json(document))
            document["x-padding"] = "A" * max(room, 0) + "A" * 64
            return _Response.json(200, document)
        if mode.name == "malformed":
            if kind == "jwks":
                bad: JSONDict = {
                    "keys": [
                        {
                            "kty": "RSA",
                            "kid": self.signing_kid,
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
            else:
                bad = {"access_token": 42, "token_type": ["Bearer"], "expires_in": "soon"}
            return _Response.json(200, bad)
        return None  # "up" and "slow" answer normally

    def _document(self, kind: str) -> JSONDict:
        if kind == "discovery":
            return self.discovery_document()
        if kind == "jwks":
            return self.jwks()
        return {"access_token": self.mint(), "token_type": "Bearer", "expires_in": 3600}

    def _normal_response(
        self, kind: str | None, method: str, path: str, headers: Message, body: bytes | None
    ) -> _Response:
        if kind is None:
            if path == "/" and method in ("GET", "HEAD"):
                return _Response.json(200, self._index())
            return _Response.json(404, {"error": "not_found", "error_description": path})
        allowed = ("POST",) if kind == "token" else ("GET", "HEAD")
        if method not in allowed:
            return _Response.json(
                405,
                {"error": "invalid_request", "error_description": f"use {' or '.join(allowed)}"},
                ("Allow", ", ".join(allowed)),
            )
        if kind == "token":
            try:
                return self._token_response(headers, body)
            except _OAuthError as exc:
                extra: tuple[tuple[str, str], ...] = _NO_STORE
                if exc.status == 401:
                    extra += (("WWW-Authenticate", 'Basic realm="local-idp"'),)
                error = {"error": exc.error, "error_description": exc.description}
                return _Response.json(exc.status, error, *extra)
        cache = () if self.profile == "wso2" else (("Cache-Control", "max-age=86400, private"),)
        return _Response.json(200, self._document(kind), *cache)

    def _index(self) -> JSONDict:
        return {
            "profile": self.profile,
            "issuer": self.issuer,
            "discovery_url": self.discovery_url,
            "jwks_uri": self.jwks_uri,
            "token_endpoint": self.token_endpoint,
        }

    @staticmethod
    def _read_body(handler: http.server.BaseHTTPRequestHandler) -> bytes | None:
        """The request body, or None when its framing is unusable (reported as invalid_request)."""
        if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
            return None
        try:
            length = int(handler.headers.get("Content-Length", ""))
        except ValueError:
            return None
        if not 0 <= length <= _MAX_FORM_BYTES:
            return None
        return handler.rfile.read(length)

    def _token_response(self, headers: Message, body: bytes | None) -> _Response:
        """Client-credentials grant (RFC 6749 §4.4). Checks run in this order and the first
        failure is answered: request syntax, client authentication, grant type, scope."""
        params = self._form_params(headers, body)
        client = self._authenticate(headers.get("Authorization"), params)
        grant_type = params.get("grant_type")
        if not grant_type:
            raise _OAuthError(400, "invalid_request", "grant_type is required")
        if grant_type != "client_credentials":
            raise _OAuthError(
                400,
                "unsupported_grant_type",
                f"only client_credentials is supported, not {grant_type!r}",
            )
        granted = _grant_scopes(params.get("scope"), client)
        token = self.mint(client_id=client.client_id, scopes=granted)
        answer = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "scope": " ".join(granted),
        }
        return _Response.json(200, answer, *_NO_STORE)

    @staticmethod
    def _form_params(headers: Message, body: bytes | None) -> dict[str, str]:
        if headers.get_content_type() != "application/x-www-form-urlencoded":
            raise _OAuthError(
                400, "invalid_request", "the body must be application/x-www-form-urlencoded"
            )
        if body is None:
            raise _OAuthError(
                400,
                "invalid_request",
                f"a Content-Length of at most {_MAX_FORM_BYTES} bytes is required",
            )
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError) as exc:
            raise _OAuthError(400, "invalid_request", f"unparseable form body: {exc}") from None
        params: dict[str, str] = {}
        for name, value in pairs:
            if name in params:  # RFC 6749 §3.2: parameters MUST NOT repeat
                raise _OAuthError(400, "invalid_request", f"parameter {name!r} is repeated")
            params[name] = value
        return params

    def _authenticate(self, authorization: str | None, params: Mapping[str, str]) -> Client:
        """client_secret_basic or client_secret_post, never both (RFC 6749 §2.3)."""
        form_id, form_secret = params.get("client_id"), params.get("client_secret")
        if authorization is not None:
            scheme, _, credentials = authorization.strip().partition(" ")
            if scheme.lower() != "basic":
                raise _OAuthError(401, "invalid_client", f"unsupported auth scheme {scheme!r}")
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise _OAuthError(401, "invalid_client", "malformed Basic credentials") from None
            raw_id, colon, raw_secret = decoded.partition(":")
            if not colon:
                raise _OAuthError(401, "invalid_client", "malformed Basic credentials")
            # §2.3.1: both parts are form-urlencoded before being joined.
            client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
            if form_secret is not None:
                raise _OAuthError(
                    400, "invalid_request", "use one client authentication method, not two"
                )
            if form_id is not None and form_id != client_id:
                raise _OAuthError(400, "invalid_request", "client_id differs from Basic user")
        elif form_id is not None and form_secret is not None:
            client_id, secret = form_id, form_secret
        else:
            raise _OAuthError(401, "invalid_client", "client authentication is required")
        with self._lock:
            client = self._clients.get(client_id)
        # Compare even for unknown clients so timing does not tell which ids exist.
        expected = client.client_secret if client is not None else "\x00unknown-client"
        if not hmac.compare_digest(secret.encode(), expected.encode()) or client is None:
            raise _OAuthError(401, "invalid_client", "unknown client or wrong secret")
        return client

    @staticmethod
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


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def _sample_curl(idp: LocalIdentityProvider) -> str:
    client = next(iter(idp.clients.values()), None)
    client_id, secret = (client.client_id, client.client_secret) if client else ("ID", "SECRET")
    if idp.profile == "entra-b2c":
        scope = f"https://{idp.tenant_name}.onmicrosoft.com/api/.default"
    elif idp.profile == "entra-id":
        scope = f"api://{idp.audience}/.default"
    else:
        scope = " ".join(client.scopes) if client else "app.read"
    cacert = f" --cacert {idp.ca_bundle_path}" if idp.ca_bundle_path else ""
    return (
        f"curl -sS{cacert} -u {client_id}:{secret} -d grant_type=client_credentials "
        f"--data-urlencode 'scope={scope}' {idp.token_endpoint}"
    )


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devkit.idp",
        description=(
            "Run a local identity provider (development and tests only; never deploy it). "
            "It serves OIDC discovery, a JWKS and a client-credentials token endpoint shaped "
            "like Azure AD B2C, WSO2 IS or Entra ID, and stays in the foreground until Ctrl-C."
        ),
        epilog="Clients file format: "
        '{"clients": [{"client_id": "...", "client_secret": "...", "scopes": ["app.read"]}]}',
    )
    parser.add_argument("--profile", choices=PROFILES, default="entra-b2c")
    parser.add_argument("--host", default=BIND_HOST, help="address to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a fresh local CA")
    parser.add_argument(
        "--clients", type=Path, default=DEFAULT_CLIENTS_FILE, help="clients JSON file"
    )
    parser.add_argument("--audience", help="aud of issued tokens (default depends on profile)")
    parser.add_argument("--tenant-id", default=DEFAULT_TENANT_ID, help="tenant GUID (Entra)")
    parser.add_argument("--tenant-name", default=DEFAULT_TENANT_NAME, help="B2C tenant short name")
    parser.add_argument("--policy", default=B2C_POLICY, help="B2C policy in the URLs and tfp")
    parser.add_argument("--token-lifetime", type=int, default=3600, help="seconds")
    parser.add_argument(
        "--signing-key", type=Path, help="RSA private key PEM to sign with (default: generate)"
    )
    parser.add_argument(
        "--public-url",
        help="base URL clients use if not the bound address, e.g. http://host.docker.internal:8080",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the endpoints as one JSON line instead"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser.parse_args(argv)


def _idp_from_args(args: argparse.Namespace) -> LocalIdentityProvider:
    return LocalIdentityProvider(
        profile=args.profile,
        host=args.host,
        port=args.port,
        clients=args.clients,
        audience=args.audience,
        token_lifetime=args.token_lifetime,
        tls=args.tls,
        signing_key_pem=args.signing_key.read_bytes() if args.signing_key else None,
        tenant_id=args.tenant_id,
        tenant_name=args.tenant_name,
        policy=args.policy,
        public_url=args.public_url,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Foreground server for demos: print the endpoints, then serve until interrupted."""
    args = _parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    try:
        idp = _idp_from_args(args)
    except (OSError, ValueError) as exc:
        print(f"local IdP: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        idp.start()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc} (try --port 0)", file=sys.stderr)
        return 1
    try:
        info = {
            "profile": idp.profile,
            "issuer": idp.issuer,
            "discovery_url": idp.discovery_url,
            "jwks_uri": idp.jwks_uri,
            "token_endpoint": idp.token_endpoint,
            "audience": idp.audience,
            "ca_bundle_path": str(idp.ca_bundle_path) if idp.ca_bundle_path else None,
            "signing_kid": idp.signing_kid,
        }
        if args.json:
            print(json.dumps(info), flush=True)
        else:
            print(f"local IdP ({idp.profile}) - development only, never deploy", flush=True)
            for name, value in info.items():
                if name != "profile":
                    print(f"  {name:<15} {value if value is not None else '-'}")
            print("  clients:")
            for client in idp.clients.values():
                scopes = " ".join(client.scopes)
                print(f"    {client.client_id} / {client.client_secret}  [{scopes}]")
            print(f"get a token:\n  {_sample_curl(idp)}")
            print("Ctrl-C to stop.", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        idp.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
