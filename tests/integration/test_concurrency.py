"""Many threads validating while the key set refreshes: one fetch, no torn state."""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from collections.abc import Sequence

from tests.conftest import IdpFactory
from tests.support.signing import SigningKey

from .conftest import Harness, HarnessFactory, auth_config, issuer_entry

THREADS = 32
ROUNDS = 8


def stampede(harness: Harness, plan: Sequence[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """Release THREADS threads at once; each validates every token of ``plan`` ROUNDS times
    (each thread in a different order). Returns (plan name, outcome) counts; any exception
    raised by the authorizer other than the expected rejections fails the test."""
    barrier = threading.Barrier(THREADS)
    results: Counter[tuple[str, str]] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            for round_ in range(ROUNDS):
                start = (index + round_) % len(plan)
                for name, token in [*plan[start:], *plan[:start]]:
                    outcome = harness.outcome(token)
                    with lock:
                        results[(name, outcome)] += 1
        except BaseException as err:  # any exception at all is a failure of the test
            with lock:
                errors.append(err)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    return results


def payload_of(token: str) -> dict[str, object]:
    segment = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(segment + "=="))
    return decoded


def test_concurrent_validations_during_a_ttl_refresh_share_one_fetch(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    idp = idp_factory(profile="entra-id")
    harness = build_harness(auth_config(issuer_entry(idp), refresh_seconds=600))
    old_kid = idp.signing_kid
    old_token = idp.mint()
    assert harness.outcome(old_token) == "allow"

    # The provider adds a key and signs with it; every thread arrives after the TTL has
    # passed, so the refresh is due for all of them and only it can reveal the new key.
    idp.rotate_key()
    new_token = idp.mint()
    forged = SigningKey.generate("RS256", kid=old_kid).sign(
        {**payload_of(old_token), "sub": "forged"}
    )
    harness.clock.advance(601)
    idp.set_mode("slow", delay=0.25)
    fetches_before = harness.fetch_count
    requests_before = idp.request_count("discovery") + idp.request_count("jwks")

    results = stampede(harness, [("new", new_token), ("old", old_token), ("forged", forged)])

    total = THREADS * ROUNDS
    assert results == {
        ("new", "allow"): total,
        ("old", "allow"): total,
        ("forged", "bad_signature"): total,
    }
    assert harness.fetch_count - fetches_before == 1, "single flight: one refresh for all"
    # One refresh = one discovery + one JWKS request (the TTL refresh re-reads discovery).
    assert idp.request_count("discovery") + idp.request_count("jwks") - requests_before == 2
    assert harness.observer.counts["KeySetFetchFailures"] == 0


def test_concurrent_first_sight_of_a_new_kid_shares_one_fetch(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    idp = idp_factory(profile="entra-b2c")
    harness = build_harness(auth_config(issuer_entry(idp)))
    idp.rotate_key()
    tokens = [(f"new-{i}", idp.mint(claims={"jti": str(i)})) for i in range(4)]
    idp.set_mode("slow", delay=0.25, targets=["jwks"])
    harness.clock.advance(1)

    results = stampede(harness, tokens)

    assert results == {(name, "allow"): THREADS * ROUNDS for name, _ in tokens}
    assert harness.fetch_count == 2
    assert idp.request_count("jwks") == 2


def test_concurrent_requests_after_a_cold_start_outage_share_one_fetch(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    idp = idp_factory(profile="wso2")
    entry = issuer_entry(idp)
    idp.close_port()
    harness = build_harness(auth_config(entry, retry_seconds=30))
    assert harness.fetch_count == 1
    idp.reopen_port()
    idp.set_mode("slow", delay=0.25)
    harness.clock.advance(30)

    results = stampede(
        harness, [("valid", idp.mint()), ("other-client", idp.mint(client_id="admin-app"))]
    )

    assert results == {
        ("valid", "allow"): THREADS * ROUNDS,
        ("other-client", "allow"): THREADS * ROUNDS,
    }
    assert harness.fetch_count == 2
    assert (idp.request_count("discovery"), idp.request_count("jwks")) == (1, 1)
