"""Integration fixtures: real key servers on 127.0.0.1 and an authorizer wired to them.

Nothing here mocks ``requests`` or sockets. Every test talks HTTP(S) to a real server bound to
loopback: the devkit identity provider (:class:`devkit.idp.LocalIdentityProvider`) for the
provider shapes and failure modes, and :class:`tests.support.servers.ScriptedServer` (the
``scripted`` fixture) for the few answers the IdP cannot give (redirects, byte-exact bodies,
bodies trickled byte by byte).

Time is faked only where the product lets it be injected: the key registry takes a monotonic
clock, so a test moves past a TTL, a cooldown or the stale limit by advancing :class:`FakeClock`
instead of sleeping. Token lifetimes use the real wall clock (the IdP mints with ``time.time``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from devkit import events
from devkit.idp import LocalIdentityProvider
from jwt_authorizer import Authorizer, KeysUnavailable
from jwt_authorizer.config import Config, load_config
from jwt_authorizer.keyring import KeyRegistry
from jwt_authorizer.keys import KeySource
from jwt_authorizer.validator import TokenValidator
from tests.support.clock import FakeClock
from tests.support.constants import rest_arn
from tests.support.observers import RecordingObserver
from tests.support.servers import ScriptedServer
from tests.support.stages import validator_for

METHOD_ARN = rest_arn("GET", "/orders")

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
    """Build (and prefetch) an authorizer from an AUTH_CONFIG document on a fake clock;
    ``keep=False`` keeps no per-request records (floods, memory measurements)."""

    def build(
        document: Mapping[str, Any], clock: FakeClock | None = None, *, keep: bool = True
    ) -> Harness:
        clock = clock if clock is not None else FakeClock(0.0)
        config = load_config({"AUTH_CONFIG": json.dumps(document)})
        observer = RecordingObserver(keep=keep)
        registry = KeyRegistry(config.keys, clock=clock, events=observer)
        validator = validator_for(config, registry)
        prefetched = validator.start_prefetch().wait()
        authorizer = Authorizer(config, validator, observer)
        return Harness(authorizer, validator, registry, observer, clock, config, prefetched)

    return build


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
