"""The validation pipeline: token -> issuer -> key -> signature -> claims -> principal, on
tokens shaped like each identity provider's, and the verified-token cache it owns.

Each stage's own rules are tested in its module (test_tokens, test_issuers, test_signature,
test_claims, test_principal); here, that they are composed, in order, with nothing fetched that
need not be.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from jwt_authorizer.config import parse_config
from jwt_authorizer.errors import (
    BadSignature,
    Expired,
    FirstPartyToken,
    TokenRejected,
    UnknownIssuer,
    UnknownKid,
    UnsupportedAlgorithm,
)
from jwt_authorizer.keyring import KeyRegistry
from jwt_authorizer.validator import TokenValidator
from tests.support.clock import FakeClock
from tests.support.constants import (
    AUDIENCE,
    CLIENT_ID,
    ENTRA_TEMPLATE,
    ENTRA_TENANT,
    ISSUER,
    SUBJECT,
)
from tests.support.fetchers import NoNetworkFetcher, ServingFetcher
from tests.support.profiles import ProviderCase, cases
from tests.support.signing import SigningKey, claims
from tests.support.stages import issuer_entry, make_validator, validator_for

KEYS_URL = "https://idp.example/keys"


def rejection(validator: TokenValidator, token: str) -> TokenRejected:
    with pytest.raises(TokenRejected) as caught:
        validator.validate(token)
    return caught.value


def served(*keys: SigningKey) -> tuple[TokenValidator, ServingFetcher, FakeClock]:
    """A validator whose issuer publishes ``keys`` at KEYS_URL, prefetched on a fake clock."""
    fetcher = ServingFetcher({KEYS_URL: {"keys": [key.public_jwk() for key in keys]}})
    clock = FakeClock()
    config = parse_config(
        {"issuers": [{"issuer": ISSUER, "audiences": [AUDIENCE], "jwks_uri": KEYS_URL}]}
    )
    validator = validator_for(config, KeyRegistry(config.keys, fetcher=fetcher, clock=clock))
    assert validator.start_prefetch().wait() == {ISSUER: True}
    return validator, fetcher, clock


@pytest.mark.parametrize("case", cases(), ids=lambda case: case.name)
def test_each_provider_shape_is_accepted_and_normalised(case: ProviderCase) -> None:
    key = SigningKey.generate("RS256", kid=case.header["kid"])
    key.extra_jwk.update(case.jwk_extra)
    validator = make_validator(
        {"issuers": [{**case.issuer_config, "jwks": {"keys": [key.public_jwk()]}}]}
    )
    principal = validator.validate(key.sign(case.payload, case.header))
    assert (
        principal.permissions,
        principal.client_id,
        principal.subject,
        principal.issuer,
    ) == (
        case.expected_permissions,
        case.expected_client,
        case.expected_subject,
        case.payload["iss"],
    )


def test_a_valid_token_gives_its_principal(rsa_key: SigningKey) -> None:
    validator = make_validator({"issuers": [issuer_entry(rsa_key)]})
    principal = validator.validate(rsa_key.sign(claims(exp=2000000000)))
    assert (
        principal.subject,
        principal.client_id,
        principal.issuer,
        principal.configured_issuer,
        principal.permissions,
        principal.expires_at,
    ) == (SUBJECT, CLIENT_ID, ISSUER, ISSUER, frozenset({"app.read", "app.write"}), 2000000000.0)


def test_the_algorithm_must_be_allowed_for_the_issuer() -> None:
    key = SigningKey.generate("RS384", kid="k")
    validator = make_validator({"issuers": [issuer_entry(key)]})  # RS256 only (the default)
    assert type(rejection(validator, key.sign(claims()))) is UnsupportedAlgorithm


def test_a_graph_token_with_a_header_nonce_has_its_own_reason() -> None:
    key = SigningKey.generate("RS256", kid="k")
    iss = f"https://sts.windows.net/{ENTRA_TENANT}/"
    validator = make_validator(
        {"issuers": [issuer_entry(key, issuer=iss, profile="entra-id", audiences=["api://orders"])]}
    )
    token = key.sign(
        claims(iss=iss, aud="00000003-0000-0000-c000-000000000000", tid=ENTRA_TENANT),
        {"nonce": "abc"},
    )
    assert type(rejection(validator, token)) is FirstPartyToken


def test_an_unknown_issuer_is_rejected_without_any_fetch(rsa_key: SigningKey) -> None:
    fetcher = NoNetworkFetcher()
    config = parse_config(
        {"issuers": [{"issuer": ISSUER, "audiences": [AUDIENCE], "jwks_uri": KEYS_URL}]}
    )
    validator = validator_for(config, KeyRegistry(config.keys, fetcher=fetcher))
    for iss in (ISSUER.rstrip("/"), None):
        err = rejection(validator, rsa_key.sign(claims(iss=iss)))
        assert type(err) is UnknownIssuer
    assert fetcher.calls == []


def test_a_rejection_names_the_tokens_issuer_and_kid(rsa_key: SigningKey) -> None:
    validator = make_validator({"issuers": [issuer_entry(rsa_key)]})
    err = rejection(validator, rsa_key.sign(claims(exp=int(time.time()) - 3600)))
    assert (type(err), err.issuer, err.kid) == (Expired, ISSUER, "rsa-1")
    err = rejection(validator, rsa_key.sign(claims(iss="https://evil.example/\n"), kid="x" * 99))
    assert (type(err), err.issuer, err.kid) == (
        UnknownIssuer,
        "https://evil.example/\\u000a",
        "x" * 64,
    )


def test_a_templated_issuers_tenant_reaches_the_principal(rsa_key: SigningKey) -> None:
    entry = issuer_entry(
        rsa_key,
        issuer=ENTRA_TEMPLATE,
        profile="entra-id",
        tenants=[ENTRA_TENANT],
        jwks={"keys": [rsa_key.public_jwk(issuer=ENTRA_TEMPLATE)]},
    )
    validator = make_validator({"issuers": [entry]})
    iss = ENTRA_TEMPLATE.replace("{tenantid}", ENTRA_TENANT)
    principal = validator.validate(rsa_key.sign(claims(iss=iss, tid=ENTRA_TENANT)))
    assert (principal.tenant, principal.issuer, principal.configured_issuer) == (
        ENTRA_TENANT,
        iss,
        ENTRA_TEMPLATE,
    )


# --------------------------------------------------------------------------- verified tokens
# The per-process cache of verified tokens never outlives what made the token valid.


def test_a_cached_token_still_expires(rsa_key: SigningKey) -> None:
    wall = {"now": time.time()}
    validator = make_validator({"issuers": [issuer_entry(rsa_key)]}, now=lambda: wall["now"])
    token = rsa_key.sign(claims(exp=int(wall["now"]) + 100))
    validator.validate(token)
    validator.validate(token)
    assert len(validator.verified_tokens) == 1
    wall["now"] += 200
    assert type(rejection(validator, token)) is Expired


def test_a_key_removed_at_refresh_invalidates_cached_tokens() -> None:
    key = SigningKey.generate("RS256", kid="rotating")
    validator, fetcher, clock = served(key)
    token = key.sign(claims())
    validator.validate(token)
    validator.validate(token)
    assert fetcher.calls == [KEYS_URL]
    fetcher.documents[KEYS_URL] = {"keys": [SigningKey.generate("RS256", kid="next").public_jwk()]}
    clock.advance(3601)
    assert type(rejection(validator, token)) is UnknownKid
    assert fetcher.calls == [KEYS_URL, KEYS_URL]  # the TTL refresh; not again for the kid
    assert len(validator.verified_tokens) == 0


def test_a_cached_token_verifies_again_after_a_refresh_that_kept_its_key() -> None:
    key = SigningKey.generate("RS256", kid="stays")
    validator, fetcher, clock = served(key)
    token = key.sign(claims())
    validator.validate(token)
    clock.advance(3601)
    assert validator.validate(token).subject == SUBJECT
    assert (fetcher.calls, len(validator.verified_tokens)) == ([KEYS_URL, KEYS_URL], 1)


def test_the_cache_can_be_disabled_and_is_bounded(rsa_key: SigningKey) -> None:
    document: dict[str, Any] = {"issuers": [issuer_entry(rsa_key)], "verified_token_cache_size": 2}
    validator = make_validator(document)
    tokens = [rsa_key.sign(claims(jti=str(i))) for i in range(5)]
    for token in tokens:
        validator.validate(token)
    assert len(validator.verified_tokens) == 2
    assert [validator.verified_tokens.get(token) is not None for token in tokens] == [
        False,
        False,
        False,
        True,
        True,
    ]
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
    assert type(rejection(validator, tampered)) is BadSignature


def test_clear_forgets_verified_tokens_and_fetched_keys() -> None:
    key = SigningKey.generate("RS256", kid="k")
    validator, fetcher, _ = served(key)
    validator.validate(key.sign(claims()))
    validator.clear()
    assert len(validator.verified_tokens) == 0
    assert validator.validate(key.sign(claims())).subject == SUBJECT
    assert fetcher.calls == [KEYS_URL, KEYS_URL]  # fetched again, as a new validator would
