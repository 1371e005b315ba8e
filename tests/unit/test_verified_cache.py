"""The per-process cache of verified tokens never outlives what made the token valid."""

from __future__ import annotations

import time
from typing import Any

import pytest

from jwt_authorizer.config import parse_config
from jwt_authorizer.errors import TokenRejected
from jwt_authorizer.keys import KeyRegistry
from tests.support.clock import FakeClock
from tests.support.constants import AUDIENCE, ISSUER
from tests.support.signing import SigningKey, claims
from tests.support.stages import issuer_entry, make_validator, validator_for


class ServedKeys:
    """An in-memory key server (the Fetcher seam); real HTTP servers are in tests/integration."""

    def __init__(self, *keys: SigningKey) -> None:
        self.keys = list(keys)
        self.fetches = 0

    def get_json(self, url: str, *, ca_bundle: str | None) -> object:
        self.fetches += 1
        return {"keys": [key.public_jwk() for key in self.keys]}


def test_cached_token_still_expires(rsa_key: SigningKey) -> None:
    wall = {"now": time.time()}
    validator = make_validator({"issuers": [issuer_entry(rsa_key)]}, now=lambda: wall["now"])
    token = rsa_key.sign(claims(exp=int(wall["now"]) + 100))
    validator.validate(token)
    validator.validate(token)
    wall["now"] += 200
    with pytest.raises(TokenRejected) as caught:
        validator.validate(token)
    assert caught.value.reason == "expired"


def test_key_removed_at_refresh_invalidates_cached_tokens() -> None:
    key = SigningKey.generate("RS256", kid="rotating")
    server = ServedKeys(key)
    clock = FakeClock()
    document = {
        "issuers": [
            {"issuer": ISSUER, "audiences": [AUDIENCE], "jwks_uri": "https://idp.example/keys"}
        ]
    }
    config = parse_config(document)
    validator = validator_for(config, KeyRegistry(config.keys, fetcher=server, clock=clock))
    validator.start_prefetch().wait()
    token = key.sign(claims())
    validator.validate(token)
    validator.validate(token)
    server.keys = [SigningKey.generate("RS256", kid="next")]
    clock.now += config.keys.refresh_seconds + 1
    with pytest.raises(TokenRejected) as caught:
        validator.validate(token)
    assert caught.value.reason == "unknown_kid"
    assert server.fetches >= 2


def test_cache_can_be_disabled_and_is_bounded(rsa_key: SigningKey) -> None:
    document: dict[str, Any] = {"issuers": [issuer_entry(rsa_key)], "verified_token_cache_size": 2}
    validator = make_validator(document)
    tokens = [rsa_key.sign(claims(jti=str(i))) for i in range(5)]
    for token in tokens:
        validator.validate(token)
    assert len(validator.verified_tokens) == 2
    disabled = make_validator({**document, "verified_token_cache_size": 0})
    disabled.validate(tokens[0])
    assert len(disabled.verified_tokens) == 0


def test_a_modified_token_is_not_a_cache_hit(rsa_key: SigningKey) -> None:
    validator = make_validator({"issuers": [issuer_entry(rsa_key)]})
    token = rsa_key.sign(claims())
    validator.validate(token)
    header, payload, signature = token.split(".")
    tampered = (
        f"{header}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    )
    with pytest.raises(TokenRejected):
        validator.validate(tampered)


class PolicyKeys:
    """Two B2C policies under one issuer, each with its own key set (URL -> keys)."""

    def __init__(self, sets: dict[str, list[SigningKey]]) -> None:
        self.sets = sets
        self.fetched: list[str] = []

    def get_json(self, url: str, *, ca_bundle: str | None) -> object:
        self.fetched.append(url)
        return {"keys": [key.public_jwk() for key in self.sets[url]]}


def test_one_issuer_can_take_keys_from_several_policies() -> None:
    user_flow = SigningKey.generate("RS256", kid="user-flow-key")
    custom = SigningKey.generate("RS256", kid="custom-policy-key")
    urls = ["https://b2c.example/B2C_1_susi/keys", "https://b2c.example/B2C_1A_CC/keys"]
    server = PolicyKeys({urls[0]: [user_flow], urls[1]: [custom]})
    config = parse_config(
        {"issuers": [{"issuer": ISSUER, "audiences": [AUDIENCE], "jwks_uri": urls}]}
    )
    validator = validator_for(config, KeyRegistry(config.keys, fetcher=server, clock=FakeClock()))
    assert validator.start_prefetch().wait() == {ISSUER: True}
    assert sorted(server.fetched) == sorted(urls)
    assert validator.validate(user_flow.sign(claims())).subject
    assert validator.validate(custom.sign(claims(jti="x"))).subject
    with pytest.raises(TokenRejected) as caught:
        validator.validate(SigningKey.generate("RS256", kid="nowhere").sign(claims()))
    assert caught.value.reason == "unknown_kid"
    assert len(server.fetched) == 2 + 2  # one kid-miss refresh per key set, then the cooldown


def test_unknown_kid_with_one_policy_down_is_unavailable_not_401() -> None:
    from jwt_authorizer.errors import KeysUnavailable

    good = SigningKey.generate("RS256", kid="good")
    urls = ["https://b2c.example/up/keys", "https://b2c.example/down/keys"]

    class HalfDown(PolicyKeys):
        def get_json(self, url: str, *, ca_bundle: str | None) -> object:
            if "down" in url:
                from jwt_authorizer.keys import FetchError

                raise FetchError("down")
            return super().get_json(url, ca_bundle=ca_bundle)

    server = HalfDown({urls[0]: [good]})
    config = parse_config(
        {"issuers": [{"issuer": ISSUER, "audiences": [AUDIENCE], "jwks_uri": urls}]}
    )
    validator = validator_for(config, KeyRegistry(config.keys, fetcher=server, clock=FakeClock()))
    validator.start_prefetch().wait()
    assert validator.validate(good.sign(claims())).subject
    with pytest.raises(KeysUnavailable):
        validator.validate(SigningKey.generate("RS256", kid="maybe-in-the-down-set").sign(claims()))
