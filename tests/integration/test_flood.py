"""A flood of tokens with random key ids must not turn into a flood of JWKS fetches."""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from typing import Any

from tests.conftest import IdpFactory
from tests.support.signing import SigningKey, b64url

from .conftest import HarnessFactory, auth_config, issuer_entry

FLOOD = 10_000
STEP_SECONDS = 0.1  # fake time between two flood requests: the flood spans 1000 s
VALID_EVERY = 1_000


def _random_header(index: int) -> dict[str, Any]:
    """Mostly random kids; also random thumbprints and, rarely, no identifier at all."""
    if index % 97 == 0:
        return {}
    if index % 4 == 1:
        return {"x5t": b64url(secrets.token_bytes(20))}
    if index % 4 == 2:
        return {"x5t#S256": b64url(secrets.token_bytes(32))}
    return {"kid": secrets.token_urlsafe(18)}


def test_random_kid_flood_stays_within_the_cooldown_budget(
    idp_factory: IdpFactory,
    build_harness: HarnessFactory,
    record_property: Callable[[str, object], None],
) -> None:
    idp = idp_factory(profile="entra-id")
    harness = build_harness(auth_config(issuer_entry(idp)), keep=False)
    valid = idp.mint()
    assert harness.outcome(valid) == "allow"
    warm_fetches = harness.fetch_count
    warm_requests = idp.request_count("jwks")
    assert (warm_fetches, warm_requests) == (1, 1)

    # The attacker's key never reaches verification (the kid lookup rejects first), so a
    # small key keeps signing ten thousand tokens cheap without changing what is tested.
    attacker = SigningKey.generate("RS256", bits=1024)
    payload = {
        "iss": idp.issuer,
        "aud": idp.audience,
        "tid": idp.tenant_id,
        "sub": "attacker",
        "exp": 4102444800,
    }
    tokens = [
        attacker.sign({**payload, "jti": str(i)}, _random_header(i), kid=None) for i in range(FLOOD)
    ]
    assert len(set(tokens)) == FLOOD

    outcomes: dict[str, int] = {}
    started = harness.clock()
    for index, token in enumerate(tokens):
        outcome = harness.outcome(token)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if index % VALID_EVERY == 0:
            assert harness.outcome(valid) == "allow", "the flood must not lock out real tokens"
        harness.clock.advance(STEP_SECONDS)
    span = harness.clock() - started - STEP_SECONDS  # first to last flood request

    assert outcomes == {"unknown_kid": FLOOD}
    settings = harness.config.keys
    assert span < settings.refresh_seconds  # no TTL refresh inside the flood
    # At most one unknown-kid refresh per cooldown window the flood touches.
    budget = 1 + math.floor(span / settings.kid_miss_cooldown_seconds)
    extra_fetches = harness.fetch_count - warm_fetches
    extra_requests = idp.request_count("jwks") - warm_requests
    record_property("flood_extra_fetches", extra_fetches)
    record_property("flood_budget", budget)
    assert budget == 4
    assert 1 <= extra_fetches <= budget
    assert extra_requests == extra_fetches
    assert idp.request_count("discovery") == 1  # a kid miss re-reads the JWKS only


def test_random_kid_flood_during_an_outage_costs_no_more(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    """With the IdP down, misses still cost one attempt per cooldown window at most, and the
    stale keys keep answering: unknown kids are refused, real tokens still pass."""
    idp = idp_factory(profile="wso2")
    harness = build_harness(auth_config(issuer_entry(idp)), keep=False)
    valid = idp.mint()
    idp.set_mode("error", status=503)
    attacker = SigningKey.generate("RS256", bits=1024)
    payload = {"iss": idp.issuer, "aud": idp.audience_for("reader-app"), "exp": 4102444800}
    count, step = 2_000, 0.5  # 1000 s of flood

    outcomes: dict[str, int] = {}
    for index in range(count):
        token = attacker.sign({**payload, "jti": str(index)}, _random_header(index), kid=None)
        outcome = harness.outcome(token)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if index % 100 == 0:
            assert harness.outcome(valid) == "allow"
        harness.clock.advance(step)

    assert outcomes == {"unknown_kid": count}
    span = (count - 1) * step
    budget = 1 + math.floor(span / harness.config.keys.kid_miss_cooldown_seconds)
    assert 1 <= harness.fetch_count - 1 <= budget
    assert harness.observer.counts["KeySetFetchFailures"] == harness.fetch_count - 1
    # Miss refreshes go straight to the known jwks_uri: discovery was read once, at init.
    assert idp.request_count("discovery") == 1
    assert idp.request_count("jwks") == harness.fetch_count
