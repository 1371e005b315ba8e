"""Many threads validating while the key set refreshes: one fetch, no torn state."""

from __future__ import annotations

import threading
from collections import Counter

from tests.support.signing import SigningKey

from .conftest import HarnessFactory, IdpFactory, auth_config, issuer_entry

THREADS = 32
ROUNDS = 8


def test_concurrent_validations_during_a_refresh_share_one_fetch(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    idp = idp_factory(profile="entra-id")
    harness = build_harness(auth_config(issuer_entry(idp), refresh_seconds=600))
    old_kid = idp.signing_kid
    old_token = idp.mint()
    assert harness.outcome(old_token) == "allow"

    # The provider adds a key and signs with it; only the TTL refresh can reveal it, because
    # every thread arrives after the TTL has passed (the refresh is due for all of them).
    idp.rotate_key()
    new_token = idp.mint()
    forged = SigningKey.generate("RS256", kid=old_kid).sign(
        {**idp_claims(old_token), "sub": "forged"}
    )
    harness.clock.advance(601)
    idp.set_mode("slow", delay=0.25)
    fetches_before = harness.fetch_count
    requests_before = idp.request_count("discovery") + idp.request_count("jwks")

    barrier = threading.Barrier(THREADS)
    results: Counter[tuple[str, str]] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            for round_ in range(ROUNDS):
                plan = [("new", new_token), ("old", old_token), ("forged", forged)]
                rotation = (index + round_) % len(plan)
                for name, token in plan[rotation:] + plan[:rotation]:
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


def idp_claims(token: str) -> dict[str, object]:
    import base64
    import json

    payload = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return decoded
