"""No key fetch holds an invocation past its deadline.

The handler reads the Lambda context's remaining time and keeps 500 ms back: key fetches must
end, from the invocation's point of view, by then. A fetch runs in a worker thread; callers wait
for it up to their own deadline and then go on with the cached keys under the stale rules. The
servers are real and really slow; only the key-cache clock (ages, TTL, pacing) is fake.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.support.servers import Reply, ScriptedServer
from tests.support.signing import SigningKey

from .conftest import (
    Harness,
    HarnessFactory,
    InvocationContext,
    auth_config,
    elapsed,
    settle,
)

ISSUER = "https://login.example.invalid/5b8e2f4a-9c13-4d67-b0a2-7e1f3c9d8a54/v2.0/"
AUDIENCE = "api://orders"
MARGIN = 0.5  # handler._DEADLINE_MARGIN_SECONDS
TOLERANCE = 0.25  # thread wake-up and loopback work after a bound
EARLY = 0.01  # the context counts whole milliseconds: a deadline may come up to 1 ms early


def sign(key: SigningKey, **claims: Any) -> str:
    return key.sign({"iss": ISSUER, "aud": AUDIENCE, "sub": "svc", "exp": 4102444800, **claims})


def jwks_body(*keys: SigningKey) -> bytes:
    return json.dumps({"keys": [key.public_jwk() for key in keys]}).encode()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    ends = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < ends, "timed out"
        time.sleep(0.01)


def idle(harness: Harness) -> bool:
    return not any(source.busy for source in harness.registry.sources())


def test_a_slow_identity_provider_cannot_hold_an_invocation(
    scripted: ScriptedServer,
    build_harness: HarnessFactory,
    record_property: Callable[[str, object], None],
) -> None:
    """The template's timeouts (connect 1 s, read 2 s) and an IdP answering discovery and keys
    3 s late: a TTL refresh used to take two read timeouts and more. With 2000 ms left, the
    invocation answers from the cached keys 1.5 s after it started."""
    key = SigningKey.generate("RS256", kid="k1")
    jwks_uri = scripted.serve("/keys", Reply(body=jwks_body(key)))
    path = "/policy/v2.0/.well-known/openid-configuration"
    discovery = {"issuer": ISSUER, "jwks_uri": jwks_uri}
    discovery_url = scripted.serve_json(path, discovery)
    harness = build_harness(
        auth_config(
            {"issuer": ISSUER, "audiences": [AUDIENCE], "discovery_url": discovery_url},
            refresh_seconds=600,
            connect_timeout_seconds=1.0,
            read_timeout_seconds=2.0,
        )
    )
    token = sign(key)
    assert harness.outcome(token) == "allow"
    scripted.serve(path, Reply(body=json.dumps(discovery).encode(), delay=3.0))
    scripted.serve("/keys", Reply(body=jwks_body(key), delay=3.0))
    harness.clock.advance(601)

    first, outcome = elapsed(lambda: harness.outcome(token, InvocationContext(2000)))
    assert outcome == "allow"  # stale-if-error: the keys are 601 s old
    assert 2.0 - MARGIN - EARLY <= first < 2.0 - MARGIN + TOLERANCE, f"{first:.2f} s"

    # The refresh is still running (discovery ends at its 2 s read timeout): the next
    # invocation waits for it, which is sooner than its own deadline.
    second, outcome = elapsed(lambda: harness.outcome(token, InvocationContext(2000)))
    assert outcome == "allow"
    assert first + second < 2.0 + TOLERANCE, f"{first:.2f} s + {second:.2f} s"
    assert harness.observer.fetches[1:] == [(False, "ttl", f"ReadTimeout fetching {discovery_url}")]

    # The failure is paced: until retry_seconds pass, no fetch and no wait at all.
    third, outcome = elapsed(lambda: harness.outcome(token, InvocationContext(2000)))
    assert outcome == "allow"
    assert third < 0.1, f"{third:.2f} s"
    assert harness.fetch_count == 2
    assert harness.observer.counts["StaleKeysInUse"] == 3
    record_property("longest_invocation_seconds", round(max(first, second, third), 3))
    settle(harness, scripted)


def test_callers_queued_behind_a_fetch_each_wait_until_their_own_deadline(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    """Eight concurrent invocations with 1.0 s to 2.4 s left share one slow fetch (single
    flight); each answers from the cached keys at its own deadline, none later. The answer then
    arrives within the fetch's budget and is applied: the rotated key verifies with no fetch."""
    old, new = SigningKey.generate("RS256", kid="old"), SigningKey.generate("RS256", kid="new")
    url = scripted.serve("/keys", Reply(body=jwks_body(old)))
    harness = build_harness(
        auth_config(
            {"issuer": ISSUER, "audiences": [AUDIENCE], "jwks_uri": url},
            refresh_seconds=600,
            connect_timeout_seconds=0.5,
            read_timeout_seconds=5.0,
        )
    )
    token = sign(old)
    assert harness.outcome(token) == "allow"
    scripted.serve("/keys", Reply(body=jwks_body(old, new), delay=3.0))
    harness.clock.advance(601)

    remaining = [1000 + 200 * index for index in range(8)]
    results: dict[int, tuple[float, object]] = {}
    barrier = threading.Barrier(len(remaining))

    def invoke(ms: int) -> None:
        barrier.wait(timeout=5)
        results[ms] = elapsed(
            lambda: harness.outcome(sign(old, jti=str(ms)), InvocationContext(ms))
        )

    threads = [threading.Thread(target=invoke, args=(ms,)) for ms in remaining]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(results) == remaining
    for ms, (seconds, outcome) in results.items():
        assert outcome == "allow"
        bound = ms / 1000 - MARGIN
        assert bound - EARLY <= seconds < bound + TOLERANCE, f"{ms} ms left: {seconds:.2f} s"
    assert harness.fetch_count == 2
    assert scripted.hits["/keys"] == 2

    wait_until(lambda: idle(harness))  # the answer, 3 s after the fetch began
    assert harness.observer.fetches[1] == (True, "ttl", "2 keys, 0 skipped")
    assert harness.outcome(sign(new), InvocationContext(1000)) == "allow"
    assert harness.fetch_count == 2


def test_a_fetch_past_its_budget_counts_as_failed_and_is_the_only_one_running(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    """Headers trickled for ~1.5 s against a 0.7 s budget (0.3 + 0.3 + 0.1): the fetch is given up
    on at 0.7 s (paced like any failure), and while its worker is still blocked reading no
    second fetch of that key set starts. Once it has returned, the next retry fetches again."""
    key = SigningKey.generate("RS256", kid="k1")
    url = scripted.serve("/keys", Reply(body=jwks_body(key)))
    harness = build_harness(
        auth_config(
            {"issuer": ISSUER, "audiences": [AUDIENCE], "jwks_uri": url},
            refresh_seconds=600,
            connect_timeout_seconds=0.3,
            read_timeout_seconds=0.3,
        )
    )
    token = sign(key)
    assert harness.outcome(token) == "allow"
    scripted.serve("/keys", Reply(body=jwks_body(key), header_trickle=0.01))
    harness.clock.advance(601)

    seconds, outcome = elapsed(lambda: harness.outcome(token))  # no context: the budget bounds
    assert outcome == "allow"
    assert 0.7 <= seconds < 0.7 + TOLERANCE, f"{seconds:.2f} s"
    assert harness.observer.fetches[1:] == [(False, "ttl", "no answer within 0.7 s")]
    assert harness.source.busy

    harness.clock.advance(30)  # retry_seconds: a retry is due, but the worker is still reading
    seconds, outcome = elapsed(lambda: harness.outcome(token))
    assert (outcome, harness.fetch_count) == ("allow", 2)
    assert seconds < 0.1, f"{seconds:.2f} s"

    wait_until(lambda: idle(harness))  # the trickle ends; what it brought is dropped
    assert harness.observer.counts["KeySetFetchFailures"] == 1
    scripted.serve("/keys", Reply(body=jwks_body(key)))
    harness.clock.advance(30)
    assert harness.outcome(token) == "allow"
    assert harness.fetch_count == 3
    assert harness.observer.fetches[-1] == (True, "ttl", "1 keys, 0 skipped")


def test_an_invocation_out_of_time_starts_the_refresh_without_waiting(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    """300 ms left is less than the margin: the deadline has passed. The due refresh starts but
    the invocation answers at once from the cached keys; the next one finds the new keys."""
    old, new = SigningKey.generate("RS256", kid="old"), SigningKey.generate("RS256", kid="new")
    url = scripted.serve("/keys", Reply(body=jwks_body(old)))
    harness = build_harness(
        auth_config(
            {"issuer": ISSUER, "audiences": [AUDIENCE], "jwks_uri": url}, refresh_seconds=600
        )
    )
    assert harness.outcome(sign(old)) == "allow"
    scripted.serve("/keys", Reply(body=jwks_body(new), delay=0.2))
    harness.clock.advance(601)

    seconds, outcome = elapsed(lambda: harness.outcome(sign(old, jti="x"), InvocationContext(300)))
    assert outcome == "allow"
    assert seconds < 0.1, f"{seconds:.2f} s"
    assert harness.fetch_count == 2

    wait_until(lambda: idle(harness))
    assert harness.outcome(sign(new), InvocationContext(300)) == "allow"
    assert harness.fetch_count == 2
    # The withdrawn key: its unknown-kid refetch (one per cooldown) starts, is not waited for.
    assert harness.outcome(sign(old, jti="y"), InvocationContext(300)) == "unknown_kid"
    assert harness.fetch_count == 3
    wait_until(lambda: idle(harness))


def test_no_cached_keys_and_a_slow_identity_provider_is_keys_unavailable_by_the_deadline(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    """Nothing fetched since the cold start (the IdP was down), and now it answers 3 s late:
    with 1000 ms left the invocation fails closed (500) after 0.5 s, not after the fetch."""
    key = SigningKey.generate("RS256", kid="k1")
    url = scripted.serve("/keys", Reply(status=503, body=b"{}"))
    harness = build_harness(
        auth_config(
            {"issuer": ISSUER, "audiences": [AUDIENCE], "jwks_uri": url},
            read_timeout_seconds=2.0,
        )
    )
    assert harness.prefetched == {ISSUER: False}
    scripted.serve("/keys", Reply(body=jwks_body(key), delay=3.0))
    harness.clock.advance(30)  # retry_seconds

    seconds, outcome = elapsed(lambda: harness.outcome(sign(key), InvocationContext(1000)))
    assert outcome == "keys_unavailable"
    assert 1.0 - MARGIN - EARLY <= seconds < 1.0 - MARGIN + TOLERANCE, f"{seconds:.2f} s"
    assert harness.observer.counts["KeysUnavailable"] == 1

    wait_until(lambda: idle(harness))  # the read timeout ends the fetch 2 s after it began
    assert harness.observer.fetches[1] == (False, "initial", f"ReadTimeout fetching {url}")
