"""The HTTP rules of key fetching: size cap, no redirects, a total deadline per fetch."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from tests.conftest import IdpFactory
from tests.support.servers import Reply, ScriptedServer
from tests.support.signing import SigningKey

from .conftest import (
    Harness,
    HarnessFactory,
    InvocationContext,
    auth_config,
    elapsed,
    issuer_entry,
    settle,
)

ISSUER = "https://issuer.example.invalid/tenant/v2.0"
AUDIENCE = "api://orders"
CAP = 4096


def padded_jwks(key: SigningKey, size: int) -> bytes:
    """A valid JWKS document of exactly ``size`` bytes (padding in an ignored member)."""
    document: dict[str, Any] = {"keys": [key.public_jwk()], "x-padding": ""}
    room = size - len(json.dumps(document).encode())
    assert room >= 0
    document["x-padding"] = "A" * room
    body = json.dumps(document).encode()
    assert len(body) == size
    return body


def entry(jwks_uri: str, **overrides: Any) -> dict[str, Any]:
    return {"issuer": ISSUER, "audiences": [AUDIENCE], "jwks_uri": jwks_uri, **overrides}


def sign(key: SigningKey) -> str:
    return key.sign({"iss": ISSUER, "aud": AUDIENCE, "sub": "svc", "exp": 4102444800})


@pytest.mark.parametrize(("size", "expected"), [(CAP, "allow"), (CAP + 1, "keys_unavailable")])
def test_response_size_cap_is_exact(
    scripted: ScriptedServer, build_harness: HarnessFactory, size: int, expected: str
) -> None:
    key = SigningKey.generate("RS256", kid="k1")
    url = scripted.serve("/keys", Reply(body=padded_jwks(key, size)))
    harness = build_harness(auth_config(entry(url), max_response_bytes=CAP))

    assert harness.outcome(sign(key)) == expected
    assert scripted.hits["/keys"] == 1


@pytest.mark.parametrize(("size", "expected"), [(2000, "allow"), (1024 * 1024, "keys_unavailable")])
def test_size_cap_applies_to_the_decompressed_body(
    scripted: ScriptedServer, build_harness: HarnessFactory, size: int, expected: str
) -> None:
    """A gzip body a few KiB long that inflates to 1 MiB is over the 512 KiB cap."""
    key = SigningKey.generate("RS256", kid="k1")
    compressed = gzip.compress(padded_jwks(key, size))
    assert len(compressed) < 8 * 1024
    url = scripted.serve("/keys", Reply(body=compressed, headers={"Content-Encoding": "gzip"}))
    harness = build_harness(auth_config(entry(url)))

    assert harness.outcome(sign(key)) == expected


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("endpoint", ["jwks", "discovery"])
def test_redirects_are_not_followed(
    idp_factory: IdpFactory,
    scripted: ScriptedServer,
    build_harness: HarnessFactory,
    status: int,
    endpoint: str,
) -> None:
    """A redirect to the genuine endpoint is still refused: keys come from the configured URL."""
    idp = idp_factory(profile="entra-id")
    target = idp.jwks_uri if endpoint == "jwks" else idp.discovery_url
    moved = scripted.serve("/moved", Reply(status, b"", {"Location": target}))
    config = issuer_entry(idp, **{"jwks_uri" if endpoint == "jwks" else "discovery_url": moved})
    harness = build_harness(auth_config(config))

    assert harness.outcome(idp.mint()) == "keys_unavailable"
    assert scripted.hits["/moved"] == 1
    assert idp.request_count("jwks") + idp.request_count("discovery") == 0
    failures = [detail for ok, _, detail in harness.observer.fetches if not ok]
    assert failures == [f"HTTP {status} from {moved}"]


def test_a_trickled_body_cannot_outlast_the_fetch_deadline(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    """Each byte arrives well inside the read timeout, the whole body far outside the deadline.

    The body is a valid key set: if the deadline were not enforced the fetch would succeed
    after ~8 s instead of failing after connect + read timeout (0.6 s).
    """
    key = SigningKey.generate("ES256", kid="ec1")
    body = json.dumps({"keys": [key.public_jwk()]}).encode()
    trickle = 8.0 / len(body)
    assert trickle < 0.3 / 4
    url = scripted.serve("/keys", Reply(body=body, trickle=trickle))
    document = auth_config(
        entry(url, algorithms=["ES256"]), connect_timeout_seconds=0.3, read_timeout_seconds=0.3
    )

    seconds, harness = elapsed(lambda: build_harness(document))
    assert seconds < 5, f"the fetch took {seconds:.2f} s"
    assert isinstance(harness, Harness), harness
    assert harness.prefetched == {ISSUER: False}
    assert harness.outcome(sign(key)) == "keys_unavailable"


def test_a_body_that_arrives_in_time_is_accepted(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    """Control for the deadline test: the same trickle, short enough, succeeds."""
    key = SigningKey.generate("ES256", kid="ec1")
    body = json.dumps({"keys": [key.public_jwk()]}).encode()
    url = scripted.serve("/keys", Reply(body=body, trickle=0.2 / len(body)))
    harness = build_harness(auth_config(entry(url, algorithms=["ES256"]), read_timeout_seconds=1.0))
    assert harness.outcome(sign(key)) == "allow"


@pytest.mark.parametrize(("size", "expected"), [(CAP, "allow"), (CAP + 1, "keys_unavailable")])
def test_size_cap_holds_without_a_content_length(
    scripted: ScriptedServer, build_harness: HarnessFactory, size: int, expected: str
) -> None:
    """Chunked transfer encoding: the size is only known by reading, and reading stops."""
    key = SigningKey.generate("RS256", kid="k1")
    url = scripted.serve("/keys", Reply(body=padded_jwks(key, size), chunk=1000))
    harness = build_harness(auth_config(entry(url), max_response_bytes=CAP))

    assert harness.outcome(sign(key)) == expected


def test_a_trickled_chunked_body_cannot_outlast_the_fetch_deadline(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    key = SigningKey.generate("ES256", kid="ec1")
    body = json.dumps({"keys": [key.public_jwk()]}).encode()
    url = scripted.serve("/keys", Reply(body=body, chunk=1, trickle=8.0 / len(body)))
    document = auth_config(
        entry(url, algorithms=["ES256"]), connect_timeout_seconds=0.3, read_timeout_seconds=0.3
    )

    seconds, harness = elapsed(lambda: build_harness(document))
    assert seconds < 5, f"the fetch took {seconds:.2f} s"
    assert isinstance(harness, Harness), harness
    assert harness.prefetched == {ISSUER: False}


# How late a caller may come back after its bound: thread wake-up and loopback work only.
TOLERANCE = 0.25


def test_trickled_headers_cannot_outlast_the_fetch_budget(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    """http.client reads the status line and headers with the per-read timeout alone, so headers
    trickled byte by byte (~2.3 s here) would hold a fetch until they end. The fetch runs in a
    worker thread; the prefetch stops waiting when the fetch's budget ends: connect + read
    timeout of its one document, plus 0.1 s."""
    key = SigningKey.generate("ES256", kid="ec1")
    body = json.dumps({"keys": [key.public_jwk()]}).encode()
    # About 150 bytes of status line and headers at 15 ms a byte: ~2.3 s.
    url = scripted.serve("/keys", Reply(body=body, header_trickle=0.015))
    document = auth_config(
        entry(url, algorithms=["ES256"]), connect_timeout_seconds=0.3, read_timeout_seconds=0.3
    )

    seconds, harness = elapsed(lambda: build_harness(document))
    budget = 0.3 + 0.3 + 0.1
    assert budget <= seconds < budget + TOLERANCE, f"the prefetch took {seconds:.2f} s"
    assert isinstance(harness, Harness), harness
    assert harness.prefetched == {ISSUER: False}
    assert harness.observer.fetches == [(False, "prefetch", "no answer within 0.7 s")]
    assert harness.outcome(sign(key)) == "keys_unavailable"  # retry pause: no second fetch
    assert harness.fetch_count == 1
    settle(harness, scripted)


def test_trickled_headers_cannot_hold_an_invocation_past_its_deadline(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    """A TTL refresh meets headers trickled for ~7.5 s. The invocation has 1500 ms left, so its
    deadline is 1.0 s away (500 ms are kept back for the answer): it answers from the cached keys
    by then. Its fetch budget (0.5 + 2.0 + 0.1 s) is not what bounds it."""
    key = SigningKey.generate("ES256", kid="ec1")
    body = json.dumps({"keys": [key.public_jwk()]}).encode()
    url = scripted.serve("/keys", Reply(body=body))
    harness = build_harness(
        auth_config(
            entry(url, algorithms=["ES256"]),
            refresh_seconds=600,
            connect_timeout_seconds=0.5,
            read_timeout_seconds=2.0,
        )
    )
    token = sign(key)
    assert harness.outcome(token) == "allow"
    scripted.serve("/keys", Reply(body=body, header_trickle=0.05))
    harness.clock.advance(601)

    seconds, outcome = elapsed(lambda: harness.outcome(token, InvocationContext(1500)))
    assert outcome == "allow"  # the cached keys, 601 s old: stale but within the limit
    # The context counts whole milliseconds: the deadline may come up to 1 ms early.
    assert 1.0 - 0.01 <= seconds < 1.0 + TOLERANCE, f"the invocation took {seconds:.2f} s"
    assert harness.fetch_count == 2
    assert harness.observer.counts["StaleKeysInUse"] == 1
    settle(harness, scripted)
