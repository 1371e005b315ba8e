"""Signature stage: an issuer's key sources, the keys a token names across them, and the
verification. Inline keys, or a serving fetcher on a fake clock: every fetch is counted."""

from __future__ import annotations

from typing import Any

import pytest

from jwt_authorizer.errors import (
    BadSignature,
    KeysUnavailable,
    NoUsableKeys,
    TokenRejected,
    UnknownKid,
    UnsupportedAlgorithm,
)
from jwt_authorizer.issuers import IssuerConfig
from jwt_authorizer.keyring import KeyRegistry
from jwt_authorizer.keys import KeySettings, SourceSpec
from jwt_authorizer.signature import KeySources, Verified, source_specs, verify_signature
from jwt_authorizer.tokens import UnverifiedJwt, decompose_unverified
from tests.support.clock import FakeClock
from tests.support.constants import ENTRA_ISSUER, ENTRA_TEMPLATE, ENTRA_TENANT, ISSUER, OTHER_TENANT
from tests.support.fetchers import NoNetworkFetcher, ServingFetcher
from tests.support.signing import SigningKey, claims
from tests.support.stages import issuer_config

KEY = SigningKey.generate("RS256", kid="k1")
NOW = 1_700_000_000.0
POLICIES = ("https://b2c.example/B2C_1_susi/keys", "https://b2c.example/B2C_1A_CC/keys")


def jwt_of(token: str) -> UnverifiedJwt:
    return decompose_unverified(token, max_bytes=16384)


def inline(*keys: dict[str, Any], **fields: Any) -> IssuerConfig:
    return issuer_config(jwks={"keys": list(keys)}, **fields)


def sources_of(
    entry: IssuerConfig, fetcher: Any = None, tenant: str | None = None
) -> tuple[KeySources, KeyRegistry]:
    registry = KeyRegistry(
        KeySettings(), fetcher=fetcher or NoNetworkFetcher(), clock=FakeClock(0.0)
    )
    return KeySources((entry,), registry), registry


def verify(
    token: str,
    entry: IssuerConfig,
    *,
    fetcher: Any = None,
    now: float = NOW,
    tenant: str | None = None,
) -> Verified:
    jwt = jwt_of(token)
    sources, _ = sources_of(entry, fetcher)
    return verify_signature(
        jwt, entry, sources.of(entry, tenant), now=lambda: now, deadline=None, seen=None
    )


def rejection(token: str, entry: IssuerConfig, **kwargs: Any) -> tuple[type[TokenRejected], str]:
    with pytest.raises(TokenRejected) as caught:
        verify(token, entry, **kwargs)
    return type(caught.value), caught.value.detail


# --------------------------------------------------------------------------- where keys come from


def spec_fields(spec: SourceSpec) -> tuple[object, ...]:
    return (
        spec.name,
        spec.jwks_uri,
        spec.discovery_url,
        spec.expected_issuers,
        spec.ca_bundle,
        spec.inline_id,
    )


def test_an_inline_key_set_is_its_own_source() -> None:
    entry = inline(KEY.public_jwk())
    assert [spec_fields(s) for s in source_specs(entry, None)] == [
        (ISSUER, None, None, frozenset(), None, id(entry.jwks))
    ]


def test_one_source_per_key_set_url() -> None:
    entry = issuer_config(jwks_uris=POLICIES, ca_bundle="/ca.pem")
    assert [spec_fields(s) for s in source_specs(entry, None)] == [
        (ISSUER, POLICIES[0], None, frozenset(), "/ca.pem", None),
        (ISSUER, POLICIES[1], None, frozenset(), "/ca.pem", None),
    ]


def test_discovery_defaults_to_the_issuers_well_known_document() -> None:
    assert [spec_fields(s) for s in source_specs(issuer_config(), None)] == [
        (
            ISSUER,
            None,
            ISSUER + ".well-known/openid-configuration",
            frozenset({ISSUER}),
            None,
            None,
        )
    ]


def test_a_templated_issuer_has_sources_per_tenant() -> None:
    entry = issuer_config(
        "entra-id",
        issuer=ENTRA_TEMPLATE,
        tenants={ENTRA_TENANT},
        discovery_urls=("https://login.example/{tenantid}/.well-known/openid-configuration",),
    )
    assert [spec_fields(s) for s in source_specs(entry, ENTRA_TENANT)] == [
        (
            ENTRA_ISSUER,
            None,
            f"https://login.example/{ENTRA_TENANT}/.well-known/openid-configuration",
            frozenset({ENTRA_TEMPLATE, ENTRA_ISSUER}),
            None,
            None,
        )
    ]
    sources, registry = sources_of(entry)
    (source,) = sources.of(entry, ENTRA_TENANT)
    assert sources.of(entry, ENTRA_TENANT) == (source,)
    assert registry.sources() == (source,)
    with pytest.raises(KeyError):
        sources.of(entry, OTHER_TENANT)  # only allow-listed tenants have sources


# --------------------------------------------------------------------------- verification


def test_a_good_signature_names_what_it_depended_on() -> None:
    entry = inline(KEY.public_jwk())
    verified = verify(KEY.sign(claims()), entry)
    assert verified.key.kid == "k1"
    assert verified.snapshot is verified.source.snapshot


def test_a_signature_from_another_key_with_the_trusted_kid() -> None:
    attacker = SigningKey.generate("RS256", kid=KEY.kid)
    assert rejection(attacker.sign(claims()), inline(KEY.public_jwk())) == (BadSignature, "")


def test_a_modified_payload_is_a_bad_signature() -> None:
    header, _, signature = KEY.sign(claims()).split(".")
    other_payload = KEY.sign(claims(sub="someone-else")).split(".")[1]
    spoiled = f"{header}.{other_payload}.{signature}"
    assert rejection(spoiled, inline(KEY.public_jwk())) == (BadSignature, "")


def test_the_key_type_must_fit_the_algorithm() -> None:
    ec_key = SigningKey.generate("ES256", kid=KEY.kid)
    entry = inline(KEY.public_jwk(), algorithms={"RS256", "ES256"})
    assert rejection(ec_key.sign(claims()), entry) == (
        UnsupportedAlgorithm,
        "algorithm does not fit the key",
    )


def test_the_jwk_alg_member_pins_the_algorithm() -> None:
    entry = inline(KEY.public_jwk(alg="RS512"), algorithms={"RS256", "RS512"})
    assert rejection(KEY.sign(claims()), entry) == (
        UnsupportedAlgorithm,
        "algorithm does not fit the key",
    )
    assert verify(KEY.sign(claims(), alg="RS512"), entry).key.kid == "k1"


@pytest.mark.parametrize(("now", "usable"), [(999.0, False), (1000.0, True), (2000.0, False)])
def test_a_keys_own_validity_window_is_honoured(now: float, usable: bool) -> None:
    """B2C custom-policy keys publish ``nbf`` and ``exp``."""
    entry = inline(KEY.public_jwk(nbf=1000, exp=2000))
    if usable:
        assert verify(KEY.sign(claims()), entry, now=now).key.kid == "k1"
    else:
        assert rejection(KEY.sign(claims()), entry, now=now) == (
            UnknownKid,
            "key outside its validity window or for another issuer",
        )


def test_a_keys_issuer_member_binds_it_to_its_tenant() -> None:
    """Entra v2 key sets name the issuer each key signs for; a template works for any tenant."""
    other = f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0"
    token = KEY.sign(claims(iss=ENTRA_ISSUER))
    single = {"issuer": ENTRA_ISSUER}
    assert verify(token, inline(KEY.public_jwk(issuer=ENTRA_ISSUER), **single)).key.kid == "k1"
    template = {"issuer": ENTRA_TEMPLATE, "tenants": {ENTRA_TENANT}}
    entry = inline(KEY.public_jwk(issuer=ENTRA_TEMPLATE), **template)
    assert verify(token, entry, tenant=ENTRA_TENANT).key.kid == "k1"
    assert rejection(token, inline(KEY.public_jwk(issuer=other), **single)) == (
        UnknownKid,
        "key outside its validity window or for another issuer",
    )


def test_the_x5t_thumbprint_finds_a_key_the_kid_does_not() -> None:
    entry = inline(KEY.public_jwk(x5t="thumb"))
    token = KEY.sign(claims(), {"x5t": "thumb"}, kid="rotated-name")
    assert verify(token, entry).key.kid == "k1"
    assert rejection(KEY.sign(claims(), kid="rotated-name"), entry) == (UnknownKid, "")


# --------------------------------------------------------------------------- several key sets


class TestSeveralKeySets:
    """Two B2C policies under one issuer, each with its own key set."""

    USER_FLOW = SigningKey.generate("RS256", kid="user-flow-key")
    CUSTOM = SigningKey.generate("RS256", kid="custom-policy-key")
    ENTRY = issuer_config(jwks_uris=POLICIES)

    def documents(self) -> dict[str, object]:
        return {
            POLICIES[0]: {"keys": [self.USER_FLOW.public_jwk()]},
            POLICIES[1]: {"keys": [self.CUSTOM.public_jwk()]},
        }

    def test_a_kid_is_found_in_whichever_set_publishes_it(self) -> None:
        fetcher = ServingFetcher(self.documents())
        sources, registry = sources_of(self.ENTRY, fetcher)
        assert sources.start_prefetch().wait() == {ISSUER: True}
        assert sorted(fetcher.calls) == sorted(POLICIES)
        pair = sources.of(self.ENTRY, None)
        for key in (self.USER_FLOW, self.CUSTOM):
            jwt = jwt_of(key.sign(claims()))
            verified = verify_signature(
                jwt, self.ENTRY, pair, now=lambda: NOW, deadline=None, seen=None
            )
            assert verified.key.kid == key.kid
        assert len(fetcher.calls) == 2  # a kid another set publishes costs no fetch
        assert [source.fetch_count for source in registry.sources()] == [1, 1]

    def test_an_unknown_kid_refreshes_each_set_once(self) -> None:
        fetcher = ServingFetcher(self.documents())
        sources, registry = sources_of(self.ENTRY, fetcher)
        sources.start_prefetch().wait()
        stranger = SigningKey.generate("RS256", kid="nowhere").sign(claims())
        pair = sources.of(self.ENTRY, None)
        for _ in range(2):
            with pytest.raises(UnknownKid):
                verify_signature(
                    jwt_of(stranger), self.ENTRY, pair, now=lambda: NOW, deadline=None, seen=None
                )
        assert [source.fetch_count for source in registry.sources()] == [2, 2]

    def test_an_unknown_kid_with_one_set_down_is_unavailable_not_401(self) -> None:
        documents = self.documents()
        del documents[POLICIES[1]]
        sources, _ = sources_of(self.ENTRY, ServingFetcher(documents))
        assert sources.start_prefetch().wait() == {ISSUER: False}
        pair = sources.of(self.ENTRY, None)
        good = jwt_of(self.USER_FLOW.sign(claims()))
        verified = verify_signature(
            good, self.ENTRY, pair, now=lambda: NOW, deadline=None, seen=None
        )
        assert verified.key.kid == self.USER_FLOW.kid
        maybe = jwt_of(SigningKey.generate("RS256", kid="maybe-in-the-down-set").sign(claims()))
        with pytest.raises(KeysUnavailable):
            verify_signature(maybe, self.ENTRY, pair, now=lambda: NOW, deadline=None, seen=None)

    def test_sets_without_a_usable_key(self) -> None:
        empty: dict[str, object] = {POLICIES[0]: {"keys": []}, POLICIES[1]: {"keys": []}}
        sources, _ = sources_of(self.ENTRY, ServingFetcher(empty))
        sources.start_prefetch().wait()
        pair = sources.of(self.ENTRY, None)
        jwt = jwt_of(self.USER_FLOW.sign(claims()))
        with pytest.raises(NoUsableKeys):
            verify_signature(jwt, self.ENTRY, pair, now=lambda: NOW, deadline=None, seen=None)
        one_empty = {**self.documents(), POLICIES[1]: {"keys": []}}
        sources, _ = sources_of(self.ENTRY, ServingFetcher(one_empty))
        sources.start_prefetch().wait()
        pair = sources.of(self.ENTRY, None)
        stranger = jwt_of(SigningKey.generate("RS256", kid="nowhere").sign(claims()))
        with pytest.raises(UnknownKid):
            verify_signature(stranger, self.ENTRY, pair, now=lambda: NOW, deadline=None, seen=None)

    def test_clear_forgets_the_fetched_keys(self) -> None:
        fetcher = ServingFetcher(self.documents())
        sources, registry = sources_of(self.ENTRY, fetcher)
        sources.start_prefetch().wait()
        sources.clear()
        assert [source.snapshot for source in registry.sources()] == [None, None]
