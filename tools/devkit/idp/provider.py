"""The local identity provider: :class:`LocalIdentityProvider`.

Lifecycle (start, stop, close and reopen the port), URLs per profile, clients, signing keys
(rotation, pre-published and withdrawn keys), tokens (:meth:`LocalIdentityProvider.mint`),
failure modes and request counters. The HTTP endpoints live in :mod:`devkit.idp.server`.
"""

from __future__ import annotations

import logging
import os
import shutil
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, cast
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from devkit.constants import BIND_HOST, LOOPBACK_NAMES
from devkit.idp import tls
from devkit.idp.clients import Client, client_from_mapping, load_clients
from devkit.idp.opaque import TokenStore
from devkit.idp.profiles import (
    B2C_POLICY,
    DEFAULT_API_AUDIENCE,
    DEFAULT_TENANT_ID,
    DEFAULT_TENANT_NAME,
    MODES,
    PATH_KINDS,
    PROFILES,
    Mode,
    PathKind,
    Profile,
    client_scope,
    discovery_document,
    endpoint_paths,
    issuer_host,
    standard_claims,
)
from devkit.idp.server import UP, IdpServer, ModeState
from devkit.idp.tokens import JSONDict, SigningKey, load_rsa_private_key, sign_jws

__all__ = ["LocalIdentityProvider"]

_LOG = logging.getLogger("devkit.idp")


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

        ``audience``: the ``aud`` of issued tokens. Defaults to ``DEFAULT_API_AUDIENCE``; for
        ``wso2`` ``None`` means "the client id", as WSO2 does, and ``cognito`` tokens carry no
        ``aud`` at all (their ``client_id`` is what a configuration's ``audiences`` lists).
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
            audience
            if audience is not None or profile in ("wso2", "cognito")
            else DEFAULT_API_AUDIENCE
        )
        self._requested_port = port
        self._public_url = public_url
        self._now: Callable[[], float] = now if now is not None else time.time
        self._clients = load_clients(clients)
        #: Opaque tokens issued and tokens revoked (introspection, revocation).
        self.tokens: Final = TokenStore(self._now, lambda: tuple(self._keys.values()))

        self._lock = threading.RLock()
        self._keys: dict[str, SigningKey] = {}
        self._published: list[str] = []  # publication order is JWKS order
        self._signing_kid = ""
        self._mode = UP
        self._counts = dict.fromkeys(PATH_KINDS, 0)

        self._server: IdpServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._started = False
        self._shutdown = threading.Event()
        self._tmpdir: Path | None = None
        self._ssl_context: ssl.SSLContext | None = None
        self._ca_bundle_path: Path | None = None
        self._untrusted_ca_path: Path | None = None

        first = (
            load_rsa_private_key(signing_key_pem)
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
                    credentials = tls.write_server_credentials(self._tmp(), hosts)
                    self._ssl_context = tls.server_ssl_context(credentials)
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
        server = IdpServer((bind_host, port), self, self._ssl_context)
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
        hosts = list(LOOPBACK_NAMES)
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
            host = BIND_HOST
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
        return endpoint_paths(
            self.profile, tenant_id=self.tenant_id, tenant_name=self.tenant_name, policy=self.policy
        )

    @property
    def issuer(self) -> str:
        """Exact ``iss`` of issued tokens (B2C: trailing slash; Entra ID v2: none; External ID:
        on the other loopback name than the discovery URL, like its tenant-id host)."""
        parts = urlsplit(self.base_url)
        host = issuer_host(self.profile, parts.hostname or "")
        if host != parts.hostname:
            parts = parts._replace(netloc=host + (f":{parts.port}" if parts.port else ""))
        return parts.geturl() + self._paths()["issuer"]

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
    def introspection_endpoint(self) -> str:
        """RFC 7662 endpoint (WSO2 profile): POST ``token``, with client authentication."""
        return self.base_url + self._paths()["introspect"]

    @property
    def revocation_endpoint(self) -> str:
        """RFC 7009 endpoint (WSO2 profile): POST ``token``, with client authentication."""
        return self.base_url + self._paths()["revoke"]

    @property
    def ca_bundle_path(self) -> Path | None:
        """PEM file with the CA that signed the HTTPS certificate (None without ``tls``)."""
        with self._lock:
            return self._ca_bundle_path

    def untrusted_ca_bundle_path(self) -> Path:
        """A PEM bundle with an unrelated CA: trusting only it must make HTTPS calls fail."""
        with self._lock:
            if self._untrusted_ca_path is None:
                self._untrusted_ca_path = tls.write_ca_bundle(self._tmp() / "untrusted-ca.pem")
            return self._untrusted_ca_path

    def client_scope(self) -> str:
        """The ``scope`` a real client of this provider sends for all of an API's permissions
        (empty for WSO2: no scope parameter, everything the client may have)."""
        return client_scope(self.profile, tenant_name=self.tenant_name, audience=self.audience)

    def audience_for(self, client_id: str) -> str:
        """The ``aud`` a token issued to ``client_id`` carries (WSO2: the client id itself)."""
        return self.audience if self.audience is not None else client_id

    @property
    def clients(self) -> Mapping[str, Client]:
        with self._lock:
            return dict(self._clients)

    def add_client(
        self,
        client_id: str,
        client_secret: str,
        scopes: Iterable[str],
        token_type: str = "jwt",  # noqa: S107
    ) -> None:
        """Register (or replace) a client at run time (``token_type``: ``jwt`` or ``opaque``)."""
        fields = {"client_secret": client_secret, "scopes": list(scopes), "token_type": token_type}
        client = client_from_mapping({"client_id": client_id, **fields}, 0)
        with self._lock:
            self._clients[client.client_id] = client

    # ---- documents ------------------------------------------------------------------------

    def discovery_document(self) -> JSONDict:
        """The OpenID Provider metadata as the real provider would serve it."""
        urls = {name: self.base_url + path for name, path in self._paths().items()}
        urls["issuer"] = self.issuer
        return discovery_document(self.profile, urls)

    def jwks(self) -> JSONDict:
        """The published key set (retired/removed keys are left out)."""
        issuer = self.issuer
        with self._lock:
            return {"keys": [self._keys[k].jwk(self.profile, issuer) for k in self._published]}

    # ---- keys -----------------------------------------------------------------------------

    def _register_key(self, private_key: rsa.RSAPrivateKey, *, publish: bool) -> str:
        key = SigningKey.create(private_key, self.profile)
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

    def _key(self, kid: str | None) -> SigningKey:
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

    def _standard_claims(
        self, client_id: str, scopes: Sequence[str], iat: int, exp: int
    ) -> JSONDict:
        return standard_claims(
            self.profile,
            issuer=self.issuer,
            audience=self.audience_for(client_id),
            client_id=client_id,
            scopes=scopes,
            iat=iat,
            exp=exp,
            tenant_id=self.tenant_id,
            policy=self.policy,
        )

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
        return sign_jws(jose_header, payload, key)

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
        state = ModeState(mode, float(delay), status, frozenset(chosen))
        with self._lock:
            self._mode = UP if mode == "up" else state

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

    # ---- what the HTTP endpoints ask (devkit.idp.server.Provider) -------------------------

    def begin_request(self, path: str) -> tuple[PathKind | None, ModeState]:
        """Count a request to ``path`` and say which endpoint it is and which mode applies."""
        kinds = {path: kind for kind, path in self._paths().items() if kind in PATH_KINDS}
        kind = cast(PathKind | None, kinds.get(path))
        with self._lock:
            if kind is not None:
                self._counts[kind] += 1
            mode = self._mode if kind in self._mode.targets else UP
        return kind, mode

    def wait_stopping(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True (at once) when the provider is stopping."""
        return self._shutdown.wait(seconds)

    def index(self) -> JSONDict:
        """What ``GET /`` answers: the profile and every endpoint's URL."""
        urls = {
            "profile": self.profile,
            "issuer": self.issuer,
            "discovery_url": self.discovery_url,
            "jwks_uri": self.jwks_uri,
            "token_endpoint": self.token_endpoint,
        }
        if "introspect" in self._paths():  # WSO2
            urls["introspection_endpoint"] = self.introspection_endpoint
            urls["revocation_endpoint"] = self.revocation_endpoint
        return urls

    def find_client(self, client_id: str) -> Client | None:
        with self._lock:
            return self._clients.get(client_id)
