"""Integration fixtures: real key servers on 127.0.0.1 and an authorizer wired to them.

Nothing here mocks ``requests`` or sockets. Every test talks HTTP(S) to a real server bound to
loopback: the devkit identity provider (:class:`devkit.idp.LocalIdentityProvider`) for the
provider shapes and failure modes, and :class:`ScriptedServer` for the few answers the IdP cannot
give (redirects, byte-exact bodies, bodies trickled byte by byte).

Time is faked only where the product lets it be injected: the key registry takes a monotonic
clock, so a test moves past a TTL, a cooldown or the stale limit by advancing :class:`FakeClock`
instead of sleeping. Token lifetimes use the real wall clock (the IdP mints with ``time.time``).
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from devkit import events
from devkit.idp import LocalIdentityProvider
from jwt_authorizer import Authorizer, KeysUnavailable
from jwt_authorizer.config import Config, load_config
from jwt_authorizer.keys import KeyRegistry, KeySource
from jwt_authorizer.observe import Observer
from jwt_authorizer.validator import TokenValidator
from tests.support.clock import FakeClock
from tests.support.stages import validator_for

METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/GET/orders"

#: Key settings every test starts from (timeouts short: everything is on loopback).
BASE_KEYS: Mapping[str, Any] = {
    "refresh_seconds": 3600,
    "kid_miss_cooldown_seconds": 300,
    "retry_seconds": 30,
    "max_stale_seconds": 86400,
    "connect_timeout_seconds": 0.5,
    "read_timeout_seconds": 0.5,
}

Outcome = Literal["allow", "unauthorized", "keys_unavailable"]


def token_event(token: str) -> dict[str, Any]:
    """A REST API TOKEN-authorizer event carrying ``token`` as a Bearer credential."""
    return events.token_event(f"Bearer {token}", METHOD_ARN)


# --------------------------------------------------------------------------- clock and observer


class RecordingObserver(Observer):
    """The real observer (its key-event logic included) with metrics recorded in memory.

    ``count`` is what :class:`Observer` calls for every metric, including from its own
    ``key_fetch``/``stale_keys`` handlers, so ``counts`` shows exactly what would be emitted.
    Denials are recorded (not logged): the flood test makes ten thousand of them.
    """

    def __init__(self) -> None:
        super().__init__(service="integration-tests", namespace="IntegrationTests")
        self.counts: Counter[str] = Counter()
        self.denials: list[str] = []
        self.fetches: list[tuple[bool, str, str]] = []
        self.empty_sets: list[tuple[str, dict[str, int]]] = []
        self._record_lock = threading.Lock()
        self._local = threading.local()

    def count(self, name: str, value: float = 1) -> None:
        with self._record_lock:
            self.counts[name] += int(value)

    def latency(self, milliseconds: float) -> None:
        return None

    def flush(self) -> None:
        return None

    def denied(self, *, level: int, reason: str, **fields: Any) -> None:
        with self._record_lock:
            self.denials.append(reason)
        self._local.reason = reason

    def allowed(self, **fields: Any) -> None:
        return None

    def key_fetch(self, source: str, *, ok: bool, trigger: str, detail: str) -> None:
        with self._record_lock:
            self.fetches.append((ok, trigger, detail))
        super().key_fetch(source, ok=ok, trigger=trigger, detail=detail)

    def key_set_empty(self, source: str, *, skipped: Mapping[str, int]) -> None:
        with self._record_lock:
            self.empty_sets.append((source, dict(skipped)))
        super().key_set_empty(source, skipped=skipped)

    @property
    def last_reason(self) -> str | None:
        """The reason of the latest denial made by the calling thread."""
        reason: str | None = getattr(self._local, "reason", None)
        return reason


# --------------------------------------------------------------------------- the system under test


@dataclass
class Harness:
    """An authorizer built exactly like ``Authorizer.from_environ``, but on a fake clock."""

    authorizer: Authorizer
    validator: TokenValidator
    registry: KeyRegistry
    observer: RecordingObserver
    clock: FakeClock
    config: Config
    prefetched: dict[str, bool]

    @property
    def source(self) -> KeySource:
        sources = self.registry.sources()
        assert len(sources) == 1, "single-issuer helper used with several key sets"
        return sources[0]

    @property
    def fetch_count(self) -> int:
        return self.source.fetch_count

    def call(self, token: str, context: object = None) -> tuple[Outcome, str | None]:
        """Run one TOKEN event; returns the outcome and, for a denial, its reason code.

        Anything other than an answer, ``Exception("Unauthorized")`` or
        :class:`KeysUnavailable` propagates and fails the test.
        """
        return run_authorizer(self.authorizer, self.observer, token, context)

    def outcome(self, token: str, context: object = None) -> str:
        """``"allow"`` or the denial reason code (``keys_unavailable``, ``unknown_kid``...)."""
        result, reason = self.call(token, context)
        return "allow" if result == "allow" else str(reason)


class InvocationContext:
    """What the authorizer reads of Lambda's context object: the time left, counted on the real
    monotonic clock from creation (as Lambda counts from the start of the invocation)."""

    def __init__(self, remaining_ms: int) -> None:
        self._ends = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._ends - time.monotonic()) * 1000))


def run_authorizer(
    authorizer: Authorizer, observer: RecordingObserver, token: str, context: object = None
) -> tuple[Outcome, str | None]:
    try:
        answer = authorizer(token_event(token), context)
    except KeysUnavailable:
        assert observer.last_reason == "keys_unavailable"
        return "keys_unavailable", "keys_unavailable"
    except Exception as err:
        if type(err) is not Exception or str(err) != "Unauthorized":
            raise
        return "unauthorized", observer.last_reason
    statements = answer["policyDocument"]["Statement"]
    effects = {statement["Effect"] for statement in statements}
    assert effects == {"Allow"}, f"unexpected policy {answer}"
    return "allow", None


def auth_config(*issuers: Mapping[str, Any], **keys: Any) -> dict[str, Any]:
    """An ``AUTH_CONFIG`` document: the issuers plus BASE_KEYS with ``keys`` overrides."""
    return {"issuers": list(issuers), "keys": {**BASE_KEYS, **keys}}


def issuer_entry(idp: LocalIdentityProvider, **overrides: Any) -> dict[str, Any]:
    """The configuration a user would write for ``idp`` (per its profile), plus overrides."""
    entry: dict[str, Any] = {"issuer": idp.issuer, "profile": idp.profile}
    if idp.profile == "entra-b2c":
        # B2C serves discovery only under the per-policy URL: it must be configured explicitly.
        entry["discovery_url"] = idp.discovery_url
    if idp.profile == "wso2":
        entry["audiences"] = sorted(idp.audience_for(client) for client in idp.clients)
    else:
        entry["audiences"] = [idp.audience]
    if idp.ca_bundle_path is not None:
        entry["ca_bundle"] = str(idp.ca_bundle_path)
    entry.update(overrides)
    return {key: value for key, value in entry.items() if value is not None}


HarnessFactory = Callable[..., Harness]


@pytest.fixture
def build_harness() -> HarnessFactory:
    """Build (and prefetch) an authorizer from an AUTH_CONFIG document on a fake clock."""

    def build(document: Mapping[str, Any], clock: FakeClock | None = None) -> Harness:
        clock = clock if clock is not None else FakeClock(0.0)
        config = load_config({"AUTH_CONFIG": json.dumps(document)})
        observer = RecordingObserver()
        registry = KeyRegistry(config.keys, clock=clock, events=observer)
        validator = validator_for(config, registry)
        prefetched = validator.start_prefetch().wait()
        authorizer = Authorizer(config, validator, observer)
        return Harness(authorizer, validator, registry, observer, clock, config, prefetched)

    return build


# --------------------------------------------------------------------------- identity providers


# --------------------------------------------------------------------------- a scripted server


@dataclass
class Reply:
    """One scripted HTTP answer.

    ``chunk`` sends the body with ``Transfer-Encoding: chunked`` in pieces of that many bytes
    (no Content-Length, so the client cannot know the size up front); ``trickle`` waits that
    many seconds between pieces (one byte per piece unless ``chunk`` says otherwise);
    ``header_trickle`` sends the status line and headers one byte every that many seconds;
    ``delay`` waits that many seconds before answering at all (a slow identity provider).
    """

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    chunk: int | None = None
    trickle: float | None = None
    header_trickle: float | None = None
    delay: float | None = None


class ScriptedServer:
    """A loopback HTTP/1.1 server answering GETs from a path -> :class:`Reply` table."""

    def __init__(self) -> None:
        self.routes: dict[str, Reply] = {}
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with server._lock:
                    server.hits[self.path] += 1
                    reply = server.routes.get(self.path, Reply(404, b'{"error":"not_found"}'))
                if reply.delay is not None and server._stop.wait(reply.delay):
                    self.close_connection = True  # stopping: hang up, do not wait for more
                    return
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                if reply.chunk is not None:
                    headers["Transfer-Encoding"] = "chunked"
                else:
                    headers.setdefault("Content-Length", str(len(reply.body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                if reply.header_trickle is not None:
                    head = b"".join(self._headers_buffer) + b"\r\n"
                    self._headers_buffer = []
                    for index in range(len(head)):
                        try:
                            self.wfile.write(head[index : index + 1])
                            self.wfile.flush()
                        except OSError:
                            self.close_connection = True
                            return
                        if server._stop.wait(reply.header_trickle):
                            self.close_connection = True
                            return
                else:
                    self.end_headers()
                size = reply.chunk or (1 if reply.trickle is not None else len(reply.body) or 1)
                try:
                    for start in range(0, len(reply.body), size):
                        piece = reply.body[start : start + size]
                        if reply.chunk is not None:
                            piece = b"%x\r\n%s\r\n" % (len(piece), piece)
                        self.wfile.write(piece)
                        self.wfile.flush()
                        if reply.trickle is not None and server._stop.wait(reply.trickle):
                            self.close_connection = True
                            return
                    if reply.chunk is not None:
                        self.wfile.write(b"0\r\n\r\n")
                except OSError:  # the client gave up: that is what the deadline tests want
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                return None

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                return None

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def serve(self, path: str, reply: Reply) -> str:
        with self._lock:
            self.routes[path] = reply
        return self.base_url + path

    def serve_json(self, path: str, document: object, **headers: str) -> str:
        return self.serve(path, Reply(200, json.dumps(document).encode(), headers))

    def close(self) -> None:
        """Stop serving (again is fine): answers in progress hang up."""
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on (bound then released: connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def settle(harness: Harness, *servers: ScriptedServer, timeout: float = 5.0) -> None:
    """Stop ``servers`` and wait until no key fetch of ``harness`` is still running, so a fetch
    a test left behind (a server trickling its answer) ends inside that test."""
    for server in servers:
        server.close()
    ends = time.monotonic() + timeout
    while any(source.busy for source in harness.registry.sources()):
        assert time.monotonic() < ends, "a key fetch is still running"
        time.sleep(0.01)


def elapsed(function: Callable[[], object]) -> tuple[float, object]:
    """Wall time of one call and its result (an exception is returned, not raised)."""
    started = time.monotonic()
    try:
        result: object = function()
    except Exception as err:
        result = err
    return time.monotonic() - started, result
