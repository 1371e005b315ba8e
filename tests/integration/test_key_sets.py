"""What a key set says is applied, each key set of an issuer on its own clock.

* A well-formed key set without one usable key is the identity provider's word (every key
  withdrawn, or none for the allowed algorithms): it replaces the cached keys like any rotation,
  and tokens of that issuer get ``no_usable_keys`` (401), not 200s from withdrawn keys.
* An issuer with several key sets (B2C policies) refreshes, goes stale and fails closed per set
  exactly as an issuer with one.

Servers are real (loopback), the key-cache clock is fake.
"""

from __future__ import annotations

import json
import time
import tracemalloc
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
    issuer_entry,
)

ISSUER = "https://login.example.invalid/5b8e2f4a-9c13-4d67-b0a2-7e1f3c9d8a54/v2.0/"
AUDIENCE = "api://orders"


def sign(key: SigningKey, **claims: Any) -> str:
    return key.sign({"iss": ISSUER, "aud": AUDIENCE, "sub": "svc", "exp": 4102444800, **claims})


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [key.public_jwk() for key in keys]}


def entry(**keys_source: Any) -> dict[str, Any]:
    return {"issuer": ISSUER, "audiences": [AUDIENCE], **keys_source}


# --------------------------------------------------------------------------- unusable key sets


def test_an_empty_key_set_is_applied_as_a_rotation(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    """The provider withdraws every key: the next refresh applies that, the withdrawn key stops
    verifying, and a key published later works after the usual unknown-kid refresh."""
    old, new = SigningKey.generate("RS256", kid="old"), SigningKey.generate("RS256", kid="new")
    url = scripted.serve_json("/keys", jwks(old))
    harness = build_harness(auth_config(entry(jwks_uri=url), refresh_seconds=600))
    old_token = sign(old)
    assert harness.outcome(old_token) == "allow"

    scripted.serve_json("/keys", {"keys": []})
    harness.clock.advance(600)
    assert harness.outcome(old_token) == "no_usable_keys"
    assert harness.fetch_count == 2  # the TTL refresh only
    counts = harness.observer.counts
    assert (counts["KeySetEmpty"], counts["KeySetFetchFailures"], counts["StaleKeysInUse"]) == (
        1,
        0,
        0,
    )
    assert harness.observer.empty_sets == [(ISSUER, {})]
    assert harness.observer.fetches[-1] == (True, "ttl", "0 keys, 0 skipped")
    (warning,) = harness.observer.logged("key set holds no usable key")
    assert (
        warning["level"],
        warning["source"],
        warning["skipped"],
        warning["skipped_reasons"],
    ) == (
        "WARNING",
        ISSUER,
        0,
        {},
    )

    # Unknown-kid pacing applies to the empty set: repeats cost nothing.
    harness.clock.advance(1)
    for _ in range(20):
        assert harness.outcome(old_token) == "no_usable_keys"
    assert harness.fetch_count == 2

    scripted.serve_json("/keys", jwks(new))
    harness.clock.advance(1)
    assert harness.outcome(sign(new)) == "allow"  # the first kid-miss refresh of the window
    assert harness.fetch_count == 3
    assert harness.outcome(old_token) == "unknown_kid"
    assert harness.fetch_count == 3  # inside the kid-miss cooldown
    assert scripted.hits["/keys"] == 3


def _private(key: SigningKey) -> dict[str, Any]:
    return key.public_jwk(d="c2VjcmV0", p="AQAB", q="AQAB")


UNUSABLE: dict[str, tuple[Any, dict[str, int]]] = {
    "empty": (list, {}),
    "other-algorithms": (
        lambda: [
            SigningKey.generate("ES256", kid="ec").public_jwk(),
            SigningKey.generate("EdDSA", kid="ed").public_jwk(),
            {"kty": "oct", "kid": "hmac", "alg": "HS256"},
            SigningKey.generate("RS256", kid="pinned").public_jwk(alg="RS512"),
        ],
        {"algorithm_not_allowed": 4},
    ),
    "encryption-only": (
        lambda: [
            SigningKey.generate("RS256", kid="enc").public_jwk(use="enc"),
            SigningKey.generate("RS256", kid="ops").public_jwk(use=None, key_ops=["encrypt"]),
        ],
        {"not_for_signing": 2},
    ),
    "private-members": (
        lambda: [
            _private(SigningKey.generate("RS256", kid="leaked")),
            {"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},
            SigningKey.generate("RS256", kid="oth").public_jwk(oth=[]),
        ],
        {"private_key": 3},
    ),
    "short-rsa": (
        lambda: [SigningKey.generate("RS256", kid="weak", bits=1024).public_jwk()],
        {"rsa_too_short": 1},
    ),
    "malformed": (
        lambda: [
            {"kty": "RSA", "kid": "k", "use": "sig", "n": 12345, "e": None},
            {"kty": 42, "kid": ["not", "a", "string"]},
            "not-a-jwk",
            {"kty": "RSA", "kid": "k2", "n": "!!!", "e": "AQAB"},
        ],
        {"malformed": 4},
    ),
}


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_a_set_of_unusable_keys_is_applied_at_cold_start(
    scripted: ScriptedServer, build_harness: HarnessFactory, case: str
) -> None:
    make_keys, skipped = UNUSABLE[case]
    url = scripted.serve_json("/keys", {"keys": make_keys()})
    harness = build_harness(auth_config(entry(jwks_uri=url)))

    assert harness.prefetched == {ISSUER: True}
    token = sign(SigningKey.generate("RS256", kid="leaked"))
    assert harness.outcome(token) == "no_usable_keys"
    # The unknown kid refetches once, as it would against any set; the answer is the same.
    total = sum(skipped.values())
    detail = f"0 keys, {total} skipped"
    if total:
        detail += " (" + ", ".join(f"{r} {n}" for r, n in skipped.items()) + ")"
    assert harness.observer.fetches == [(True, "prefetch", detail), (True, "unknown_kid", detail)]
    assert harness.observer.empty_sets == [(ISSUER, skipped), (ISSUER, skipped)]
    assert harness.observer.counts["KeySetEmpty"] == 2
    assert harness.observer.counts["KeySetFetchFailures"] == 0
    harness.clock.advance(1)
    assert harness.outcome(token) == "no_usable_keys"
    assert harness.fetch_count == 2


def test_usable_keys_next_to_unusable_ones_still_verify(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    good = SigningKey.generate("RS256", kid="good")
    leaked = SigningKey.generate("RS256", kid="leaked")
    url = scripted.serve_json("/keys", {"keys": [good.public_jwk(), _private(leaked)]})
    harness = build_harness(auth_config(entry(jwks_uri=url)))

    assert harness.outcome(sign(good)) == "allow"
    assert harness.outcome(sign(leaked)) == "unknown_kid"
    assert harness.observer.fetches[0] == (True, "prefetch", "1 keys, 1 skipped (private_key 1)")
    assert harness.observer.counts["KeySetEmpty"] == 0


@pytest.mark.parametrize(
    "body",
    [b"<html>sign in</html>", b'["keys"]', b'{"keys": {}}', b'{"no_keys": []}', b"null", b""],
    ids=["html", "list", "keys-object", "no-keys-member", "null", "empty-body"],
)
def test_a_document_that_is_not_a_key_set_is_still_a_failed_fetch(
    scripted: ScriptedServer, build_harness: HarnessFactory, body: bytes
) -> None:
    """Stale-if-error still covers answers that are not key sets at all."""
    key = SigningKey.generate("RS256", kid="k1")
    url = scripted.serve_json("/keys", jwks(key))
    harness = build_harness(auth_config(entry(jwks_uri=url), refresh_seconds=600))
    scripted.serve("/keys", Reply(200, body))
    harness.clock.advance(601)

    assert harness.outcome(sign(key)) == "allow"
    counts = harness.observer.counts
    assert (counts["KeySetFetchFailures"], counts["StaleKeysInUse"], counts["KeySetEmpty"]) == (
        1,
        1,
        0,
    )


def test_malformed_keys_from_the_identity_provider_are_applied(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    """The devkit IdP's "malformed" key set (200, a keys list of broken keys), after warm-up:
    formerly an outage that kept the old keys for a day; now the provider's word."""
    idp = idp_factory(profile="entra-id")
    harness = build_harness(auth_config(issuer_entry(idp), refresh_seconds=600))
    token = idp.mint()
    assert harness.outcome(token) == "allow"
    idp.set_mode("malformed", targets=["jwks"])
    harness.clock.advance(600)

    assert harness.outcome(token) == "no_usable_keys"
    assert harness.observer.empty_sets == [(idp.issuer, {"malformed": 3})]
    assert harness.observer.counts["KeySetFetchFailures"] == 0
    assert harness.fetch_count == 2


# --------------------------------------------------------------------------- several key sets


def two_policies(
    scripted: ScriptedServer,
    build_harness: HarnessFactory,
    a: list[SigningKey],
    b: list[SigningKey],
    **keys: Any,
) -> Harness:
    """An issuer whose tokens are signed by two B2C policies, each with its own discovery
    document and key set (``discovery_url`` as a list)."""
    urls = []
    for policy, signing in (("a", a), ("b", b)):
        jwks_uri = scripted.serve_json(f"/{policy}/keys", jwks(*signing))
        urls.append(
            scripted.serve_json(
                f"/{policy}/v2.0/.well-known/openid-configuration",
                {"issuer": ISSUER, "jwks_uri": jwks_uri},
            )
        )
    return build_harness(auth_config(entry(discovery_url=urls), **keys))


def fetches(harness: Harness) -> list[int]:
    return [source.fetch_count for source in harness.registry.sources()]


POLICY_PATHS = [f"/{p}/v2.0/.well-known/openid-configuration" for p in "ab"] + [
    "/a/keys",
    "/b/keys",
]


def hits(scripted: ScriptedServer) -> list[int]:
    """Requests per endpoint: discovery a, discovery b, keys a, keys b."""
    return [scripted.hits[path] for path in POLICY_PATHS]


def test_each_key_set_of_an_issuer_refreshes_on_its_ttl(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    """A key withdrawn from one policy's set stops verifying once that set's TTL passed, as it
    would with a single key set (it used to verify for as long as the process lived)."""
    a1, b1, b2 = (SigningKey.generate("RS256", kid=kid) for kid in ("a1", "b1", "b2"))
    harness = two_policies(scripted, build_harness, [a1], [b1], refresh_seconds=600)
    a_token, b_token = sign(a1), sign(b1)
    assert (harness.outcome(a_token), harness.outcome(b_token)) == ("allow", "allow")
    assert fetches(harness) == [1, 1]  # a kid the other policy publishes costs no fetch

    scripted.serve_json("/b/keys", jwks(b2))  # policy B withdraws b1 and signs with b2
    harness.clock.advance(599)
    assert harness.outcome(b_token) == "allow"
    assert harness.outcome(sign(b1, jti="fresh")) == "allow"
    assert fetches(harness) == [1, 1]

    harness.clock.advance(1)  # both sets are refresh_seconds old
    assert harness.outcome(sign(b1, jti="never-seen")) == "unknown_kid"
    assert harness.outcome(b_token) == "unknown_kid"  # verified before: dropped with the key
    # Each set refreshed once (discovery + keys) when consulted; no unknown-kid refetch on top.
    assert fetches(harness) == [2, 2]
    assert hits(scripted) == [2, 2, 2, 2]
    assert harness.outcome(sign(b2)) == "allow"
    assert harness.outcome(a_token) == "allow"
    assert fetches(harness) == [2, 2]
    assert harness.observer.counts["KeySetFetchFailures"] == 0


def test_each_key_set_of_an_issuer_goes_stale_then_fails_closed(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    """The identity provider goes down: each policy's keys serve up to max_stale_seconds, then
    keys_unavailable (they used to answer 200 for as long as the process lived)."""
    a1, b1 = SigningKey.generate("RS256", kid="a1"), SigningKey.generate("RS256", kid="b1")
    harness = two_policies(
        scripted, build_harness, [a1], [b1], refresh_seconds=600, max_stale_seconds=3600
    )
    a_token, b_token = sign(a1), sign(b1)
    assert (harness.outcome(a_token), harness.outcome(b_token)) == ("allow", "allow")
    documents = {path: scripted.routes[path] for path in POLICY_PATHS}
    for path in POLICY_PATHS:
        scripted.serve(path, Reply(503, b'{"error":"unavailable"}'))
    counts = harness.observer.counts

    harness.clock.advance(601)
    assert harness.outcome(a_token) == "allow"  # A: refresh fails, stale keys serve
    assert fetches(harness) == [2, 1]
    assert harness.outcome(b_token) == "allow"  # A: inside its retry pause; B: same as A
    assert fetches(harness) == [2, 2]
    harness.clock.now = 3600  # exactly max_stale_seconds old: still good
    assert harness.outcome(a_token) == "allow"
    assert fetches(harness) == [3, 2]
    assert (counts["StaleKeysInUse"], counts["KeySetFetchFailures"]) == (3, 3)

    harness.clock.now = 3600.5
    assert harness.outcome(a_token) == "keys_unavailable"
    assert harness.outcome(b_token) == "keys_unavailable"
    assert fetches(harness) == [3, 3]
    harness.clock.now = 10 * 86400  # ten days down
    assert harness.outcome(b_token) == "keys_unavailable"
    assert fetches(harness) == [4, 4]
    assert counts["KeysUnavailable"] == 3
    assert counts["Allowed"] == 5

    for path, reply in documents.items():  # back up
        scripted.serve(path, reply)
    harness.clock.advance(30)
    assert (harness.outcome(a_token), harness.outcome(b_token)) == ("allow", "allow")
    assert fetches(harness) == [5, 5]
    assert counts["StaleKeysInUse"] == 3


def test_a_key_set_past_the_stale_limit_is_not_used(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    """Policy A's endpoints fail for longer than max_stale_seconds while B's answer: B's keys
    verify, A's do not (keys_unavailable: A might know the kid), and no unknown kid is a 401."""
    a1, b1 = SigningKey.generate("RS256", kid="a1"), SigningKey.generate("RS256", kid="b1")
    harness = two_policies(
        scripted, build_harness, [a1], [b1], refresh_seconds=600, max_stale_seconds=3600
    )
    scripted.serve("/a/keys", Reply(500, b"{}"))
    harness.clock.advance(3601)

    assert harness.outcome(sign(b1)) == "allow"  # A consulted first: refresh fails, too old
    assert fetches(harness) == [2, 2]
    assert harness.outcome(sign(a1)) == "keys_unavailable"
    assert harness.outcome(sign(SigningKey.generate("RS256", kid="zz"))) == "keys_unavailable"
    # B was refetched once for the unknown kid a1 (then its cooldown), A waits out its retry.
    assert fetches(harness) == [2, 3]
    assert hits(scripted) == [2, 2, 2, 3]


def test_several_key_sets_all_empty_is_no_usable_keys(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    harness = two_policies(scripted, build_harness, [], [])
    assert harness.outcome(sign(SigningKey.generate("RS256", kid="x"))) == "no_usable_keys"
    # Both prefetches, then one unknown-kid refresh per set (the first miss of the cooldown).
    assert harness.observer.counts["KeySetEmpty"] == 4
    assert fetches(harness) == [2, 2]
    harness.clock.advance(1)
    assert harness.outcome(sign(SigningKey.generate("RS256", kid="x"))) == "no_usable_keys"
    assert fetches(harness) == [2, 2]


def test_one_empty_key_set_next_to_a_populated_one(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    key = SigningKey.generate("RS256", kid="b-key")
    harness = two_policies(scripted, build_harness, [], [key])
    assert harness.outcome(sign(key)) == "allow"
    assert fetches(harness) == [1, 1]
    assert harness.outcome(sign(SigningKey.generate("RS256", kid="x"))) == "unknown_kid"
    assert fetches(harness) == [2, 2]
    assert harness.observer.counts["KeySetEmpty"] == 2


# --------------------------------------------------------------------------- unknown-kid cache

KID_BYTES = 9600  # a kid as long as a token under the default max_token_bytes (16 KiB) allows


def test_the_unknown_kid_cache_holds_digests_not_kids(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    """Filling the negative cache needs no signature, only distinct kids: 1500 tokens with
    ~9.6 KB kids leave 1024 entries of 16 bytes, not 1024 kids (9.8 MB per key set)."""
    key = SigningKey.generate("RS256", kid="k1")
    url = scripted.serve_json("/keys", jwks(key))
    harness = build_harness(auth_config(entry(jwks_uri=url)), keep=False)
    assert harness.outcome(sign(key)) == "allow"
    attacker = SigningKey.generate("RS256", bits=1024)
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "svc", "exp": 4102444800}
    kids = [f"{index:06d}".ljust(KID_BYTES, "k") for index in range(1500)]

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for kid in kids:
            assert harness.outcome(attacker.sign(payload, kid=kid)) == "unknown_kid"
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()

    misses = harness.source.misses
    assert (len(misses), misses.size) == (1024, 1024)
    assert {(type(digest), len(digest)) for digest in misses.digests()} == {(bytes, 16)}
    assert retained < 512 * 1024, f"{retained} bytes retained by 1500 unknown kids"
    assert harness.fetch_count == 2  # the first miss refreshed; the cooldown covers the rest

    # A remembered kid costs nothing until its cooldown ends, then one look again.
    harness.clock.advance(299)
    assert harness.outcome(attacker.sign(payload, kid=kids[-1])) == "unknown_kid"
    assert harness.fetch_count == 2
    harness.clock.advance(1)
    assert harness.outcome(attacker.sign(payload, kid=kids[-2])) == "unknown_kid"
    assert harness.fetch_count == 3


# --------------------------------------------------------------------------- clear()


def test_clear_returns_the_key_caches_to_their_just_constructed_state(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    key = SigningKey.generate("RS256", kid="k1")
    url = scripted.serve_json("/keys", jwks(key))
    harness = build_harness(auth_config(entry(jwks_uri=url)))
    token = sign(key)
    assert harness.outcome(token) == "allow"
    assert harness.outcome(sign(SigningKey.generate("RS256", kid="nope"))) == "unknown_kid"
    source = harness.source
    assert (source.fetch_count, source.attempts, len(source.misses)) == (2, 2, 1)

    harness.validator.clear()
    assert (source.snapshot, source.fetch_count, source.attempts) == (None, 0, 0)
    assert (len(source.misses), source.busy) == (0, False)
    assert len(harness.validator.verified_tokens) == 0
    assert harness.outcome(token) == "allow"  # fetched again, as after a cold start
    assert (source.fetch_count, harness.observer.fetches[-1][1]) == (1, "initial")


def test_clear_disowns_a_fetch_in_flight(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    key = SigningKey.generate("RS256", kid="k1")
    url = scripted.serve_json("/keys", jwks(key))
    harness = build_harness(auth_config(entry(jwks_uri=url), refresh_seconds=600))
    scripted.serve("/keys", Reply(200, json.dumps(jwks(key)).encode(), delay=0.3))
    harness.clock.advance(600)
    # Out of time (100 ms left < the 500 ms margin): the refresh starts, nobody waits for it.
    assert harness.outcome(sign(key), InvocationContext(100)) == "allow"
    source = harness.source
    assert (source.fetch_count, source.busy) == (2, True)

    harness.registry.clear()
    time.sleep(0.6)  # the answer arrives: it belongs to the state that was cleared
    assert (source.snapshot, source.fetch_count, source.attempts, source.busy) == (
        None,
        0,
        0,
        False,
    )
    assert len(harness.observer.fetches) == 1  # the prefetch only: the disowned fetch is silent
