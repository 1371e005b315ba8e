"""Identity-provider outages and faults: fail closed, never allow, never lose good keys.

Every fault is real: a port nobody listens on, a name that does not resolve, a certificate the
client does not trust, a server that hangs up, stalls, or answers HTML, 500, a 1 MiB document or
keys of the wrong shape.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from devkit.idp import LocalIdentityProvider
from jwt_authorizer.handler import Authorizer
from tests.conftest import IdpFactory
from tests.support.observers import RecordingObserver
from tests.support.signing import SigningKey

from .conftest import (
    HarnessFactory,
    auth_config,
    elapsed,
    issuer_entry,
    run_authorizer,
)

# A fault: given a running IdP, break it (or the configuration) and return the issuer entry.
Fault = Callable[[LocalIdentityProvider], dict[str, Any]]


def _mode(mode: Any, **kwargs: Any) -> Fault:
    def apply(idp: LocalIdentityProvider) -> dict[str, Any]:
        idp.set_mode(mode, **kwargs)
        return issuer_entry(idp)

    return apply


def _refused(idp: LocalIdentityProvider) -> dict[str, Any]:
    entry = issuer_entry(idp)
    idp.close_port()
    return entry


def _dns(idp: LocalIdentityProvider) -> dict[str, Any]:
    # .invalid never resolves (RFC 6761): the lookup fails locally, nothing leaves the machine.
    return issuer_entry(idp, jwks_uri="https://idp.example.invalid/discovery/v2.0/keys")


def _tls_untrusted(idp: LocalIdentityProvider) -> dict[str, Any]:
    return issuer_entry(idp, ca_bundle=None)


def _tls_wrong_ca(idp: LocalIdentityProvider) -> dict[str, Any]:
    return issuer_entry(idp, ca_bundle=str(idp.untrusted_ca_bundle_path()))


JWKS_ONLY = {"targets": ["jwks"]}

# (fault, needs TLS). Modes apply to the JWKS only, so discovery succeeds and the key-set
# parsing is what has to cope; "discovery-*" break the first step instead. The IdP's
# "malformed" key set (a keys list of broken keys) is not a fault: it is applied like any
# published set (tests/integration/test_key_sets.py).
FAULTS: dict[str, tuple[Fault, bool]] = {
    "hang-up": (_mode("down", **JWKS_ONLY), False),
    "http-500": (_mode("error", **JWKS_ONLY), False),
    "http-503": (_mode("error", status=503, **JWKS_ONLY), False),
    "html-page": (_mode("html", **JWKS_ONLY), False),
    "oversized-body": (_mode("oversized", **JWKS_ONLY), False),
    "discovery-html": (_mode("html", targets=["discovery"]), False),
    "discovery-malformed": (_mode("malformed", targets=["discovery"]), False),
    "connection-refused": (_refused, False),
    "dns-failure": (_dns, False),
    "tls-self-signed-no-ca-bundle": (_tls_untrusted, True),
    "tls-wrong-ca": (_tls_wrong_ca, True),
}
WARM_FAULTS = [name for name in FAULTS if not name.startswith(("dns", "tls"))]


@pytest.mark.parametrize("fault_name", list(FAULTS))
def test_fault_at_cold_start_gives_keys_unavailable(
    idp_factory: IdpFactory, fault_name: str
) -> None:
    """Init survives (prefetch never raises), the first request fails closed with a 500."""
    fault, tls = FAULTS[fault_name]
    idp = idp_factory(profile="entra-id", tls=tls)
    entry = fault(idp)
    observer = RecordingObserver()
    document = json.dumps(auth_config(entry))

    seconds, authorizer = elapsed(
        lambda: Authorizer.from_environ({"AUTH_CONFIG": document}, observer=observer)
    )
    assert isinstance(authorizer, Authorizer), authorizer
    assert seconds < 5

    for _ in range(3):
        assert run_authorizer(authorizer, observer, idp.mint()) == (
            "keys_unavailable",
            "keys_unavailable",
        )
    assert observer.counts["KeySetFetchFailures"] == 1, "retries are paced by retry_seconds"
    assert observer.counts["KeysUnavailable"] == 3
    assert observer.counts["Allowed"] == 0
    assert observer.counts["InternalError"] == 0


@pytest.mark.parametrize("fault_name", WARM_FAULTS)
def test_fault_after_warm_up_keeps_the_last_good_keys(
    idp_factory: IdpFactory, build_harness: HarnessFactory, fault_name: str
) -> None:
    fault, _ = FAULTS[fault_name]
    idp = idp_factory(profile="entra-id")
    harness = build_harness(auth_config(issuer_entry(idp), refresh_seconds=600))
    good = harness.source.snapshot
    assert good is not None
    fault(idp)
    harness.clock.advance(601)

    assert harness.outcome(idp.mint()) == "allow"
    assert harness.source.snapshot is good, "a failed refresh must not replace good keys"
    assert harness.fetch_count == 2
    assert harness.observer.counts["KeySetFetchFailures"] == 1
    assert harness.observer.counts["StaleKeysInUse"] == 1
    # The stale keys verify only what they verified before.
    attacker = SigningKey.generate("RS256", kid=idp.signing_kid)
    forged = attacker.sign({"iss": idp.issuer, "aud": idp.audience, "exp": 4102444800})
    assert harness.outcome(forged) == "bad_signature"
    assert harness.outcome(idp.mint(kid=idp.add_key(publish=False))) == "unknown_kid"
    assert harness.observer.counts["InternalError"] == 0


def test_idp_down_at_cold_start_then_back(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    idp = idp_factory(profile="entra-b2c")
    entry = issuer_entry(idp)
    idp.close_port()
    harness = build_harness(auth_config(entry, retry_seconds=30))
    assert harness.prefetched == {idp.issuer: False}
    token = idp.mint()

    assert harness.outcome(token) == "keys_unavailable"
    harness.clock.advance(10)
    assert harness.outcome(token) == "keys_unavailable"
    assert harness.fetch_count == 1, "a down IdP costs one request per retry window"

    idp.reopen_port()
    harness.clock.advance(19.5)
    assert harness.outcome(token) == "keys_unavailable"  # still inside the retry window
    assert harness.fetch_count == 1
    harness.clock.advance(0.5)
    assert harness.outcome(token) == "allow"
    assert harness.fetch_count == 2
    assert idp.request_count("jwks") == 1


def test_idp_down_after_warm_up_serves_stale_keys_then_fails_closed(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    idp = idp_factory(profile="wso2")
    harness = build_harness(
        auth_config(issuer_entry(idp), refresh_seconds=600, max_stale_seconds=3600)
    )
    token = idp.mint()
    assert harness.outcome(token) == "allow"
    idp.set_mode("down")
    observer = harness.observer

    stale_allows = 0
    harness.clock.advance(601)
    while harness.clock() <= 3600:
        assert harness.outcome(token) == "allow"
        stale_allows += 1
        harness.clock.advance(100)
    # 601, 701, ..., 3501: every call is >= retry_seconds after the last, so each one retries.
    assert stale_allows == 30
    assert harness.fetch_count == 1 + 30
    assert observer.counts["KeySetFetchFailures"] == 30
    assert observer.counts["StaleKeysInUse"] == 30

    harness.clock.advance(3600 - harness.clock())  # exactly max_stale_seconds old: still good
    assert harness.outcome(token) == "allow"
    harness.clock.advance(0.5)
    assert harness.outcome(token) == "keys_unavailable"
    assert harness.outcome(idp.mint(kid=idp.add_key(publish=False))) == "keys_unavailable"
    assert observer.counts["KeysUnavailable"] == 2

    idp.set_mode("up")
    harness.clock.advance(30)
    assert harness.outcome(token) == "allow"
    assert observer.counts["StaleKeysInUse"] == 31


def test_slow_idp_fails_within_the_read_timeout(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    idp = idp_factory(profile="entra-id")
    harness = build_harness(
        auth_config(
            issuer_entry(idp, jwks_uri=idp.jwks_uri),
            refresh_seconds=600,
            connect_timeout_seconds=0.3,
            read_timeout_seconds=0.3,
        )
    )
    token = idp.mint()
    idp.set_mode("slow", delay=8.0)
    harness.clock.advance(601)

    seconds, outcome = elapsed(lambda: harness.outcome(token))
    assert outcome == "allow"  # stale-if-error
    assert seconds < 5, f"a 0.3 s read timeout took {seconds:.2f} s"
    assert harness.observer.counts["KeySetFetchFailures"] == 1
    failures = [detail for ok, _, detail in harness.observer.fetches if not ok]
    assert len(failures) == 1
    assert "Timeout" in failures[0]


def test_slow_idp_at_cold_start_does_not_stall_init(idp_factory: IdpFactory) -> None:
    idp = idp_factory(profile="entra-b2c")
    idp.set_mode("slow", delay=8.0)
    document = json.dumps(auth_config(issuer_entry(idp), read_timeout_seconds=0.3))
    observer = RecordingObserver()

    seconds, authorizer = elapsed(
        lambda: Authorizer.from_environ({"AUTH_CONFIG": document}, observer=observer)
    )
    assert isinstance(authorizer, Authorizer), authorizer
    assert seconds < 5, f"init took {seconds:.2f} s"
    assert run_authorizer(authorizer, observer, idp.mint())[0] == "keys_unavailable"
