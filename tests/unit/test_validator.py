"""The validation pipeline end to end on tokens shaped like each identity provider's."""

from __future__ import annotations

import time
from typing import Any

import pytest

from jwt_authorizer.config import parse_config
from jwt_authorizer.errors import TokenRejected
from jwt_authorizer.keys import KeyRegistry
from jwt_authorizer.validator import TokenValidator
from tests.support.constants import AUDIENCE, ISSUER
from tests.support.fetchers import ServingFetcher
from tests.support.profiles import ENTRA_TENANT, ProviderCase, cases
from tests.support.signing import SigningKey, claims
from tests.support.stages import issuer_entry, make_validator, validator_for


def reason_of(validator: Any, token: str) -> str:
    with pytest.raises(TokenRejected) as caught:
        validator.validate(token)
    return caught.value.reason


@pytest.mark.parametrize("case", cases(), ids=lambda case: case.name)
def test_each_provider_shape_is_accepted_and_normalised(case: ProviderCase) -> None:
    key = SigningKey.generate("RS256", kid=case.header["kid"])
    key.extra_jwk.update(case.jwk_extra)
    validator = make_validator(
        {"issuers": [{**case.issuer_config, "jwks": {"keys": [key.public_jwk()]}}]}
    )
    principal = validator.validate(key.sign(case.payload, case.header))
    assert principal.permissions == case.expected_permissions
    assert principal.client_id == case.expected_client
    assert principal.subject == case.expected_subject
    assert principal.issuer == case.payload["iss"]


def test_permissions_are_the_union_of_every_scope_claim() -> None:
    case = next(c for c in cases() if c.name == "auth0-permissions-array")
    key = SigningKey.generate("RS256", kid=case.header["kid"])
    validator = make_validator(
        {"issuers": [{**case.issuer_config, "jwks": {"keys": [key.public_jwk()]}}]}
    )
    principal = validator.validate(key.sign(case.payload, case.header))
    assert principal.permissions == frozenset({"read:orders", "write:orders"})


def test_entra_roles_are_not_read_for_b2c_profile(rsa_key: SigningKey) -> None:
    validator = make_validator({"issuers": [issuer_entry(rsa_key)]})
    principal = validator.validate(rsa_key.sign(claims(scp=None, roles=["app.read"])))
    assert principal.permissions == frozenset()


@pytest.mark.parametrize(
    "alg",
    ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"],
)
def test_every_supported_algorithm_verifies(alg: str) -> None:
    key = SigningKey.generate(alg, kid=f"k-{alg}")
    validator = make_validator({"issuers": [issuer_entry(key, algorithms=[alg])]})
    assert validator.validate(key.sign(claims())).subject == claims()["sub"]


def test_algorithm_must_be_allowed_for_the_issuer() -> None:
    key = SigningKey.generate("RS384", kid="k")
    validator = make_validator({"issuers": [issuer_entry(key)]})  # RS256 only (the default)
    assert reason_of(validator, key.sign(claims())) == "unsupported_alg"


def test_key_type_must_fit_the_algorithm(rsa_key: SigningKey) -> None:
    ec_key = SigningKey.generate("ES256", kid=rsa_key.kid)
    validator = make_validator({"issuers": [issuer_entry(rsa_key, algorithms=["RS256", "ES256"])]})
    assert reason_of(validator, ec_key.sign(claims())) == "unsupported_alg"


def test_jwk_alg_member_pins_the_algorithm() -> None:
    key = SigningKey.generate("RS256", kid="k")
    key.extra_jwk["alg"] = "RS512"
    validator = make_validator({"issuers": [issuer_entry(key, algorithms=["RS256", "RS512"])]})
    assert reason_of(validator, key.sign(claims())) == "unsupported_alg"


# A fetched key set may hold keys we cannot use: they are skipped, their neighbours stay usable.
# In an inline set the same keys are init errors (tests/unit/test_jwks_config.py).
SERVED_JWKS_URI = "http://127.0.0.1:9/keys"  # never contacted: ServingFetcher answers


def served_validator(key: SigningKey, jwks: dict[str, Any]) -> TokenValidator:
    entry = issuer_entry(key, jwks_uri=SERVED_JWKS_URI)
    del entry["jwks"]
    config = parse_config({"issuers": [entry]})
    fetcher = ServingFetcher({SERVED_JWKS_URI: jwks})
    return validator_for(config, KeyRegistry(config.keys, fetcher=fetcher))


def test_short_rsa_keys_are_never_trusted() -> None:
    weak = SigningKey.generate("RS256", kid="weak", bits=1024)
    strong = SigningKey.generate("RS256", kid="strong")
    validator = served_validator(strong, {"keys": [weak.public_jwk(), strong.public_jwk()]})
    assert reason_of(validator, weak.sign(claims())) == "unknown_kid"
    assert validator.validate(strong.sign(claims())).subject


def test_keys_for_encryption_are_ignored(rsa_key: SigningKey) -> None:
    other = SigningKey.generate("RS256", kid="enc-key")
    validator = served_validator(
        rsa_key, {"keys": [rsa_key.public_jwk(), other.public_jwk(use="enc")]}
    )
    assert reason_of(validator, other.sign(claims())) == "unknown_kid"


def test_b2c_key_validity_window_is_honoured() -> None:
    now = time.time()
    future = SigningKey.generate("RS256", kid="future", nbf=int(now) + 3600)
    retired = SigningKey.generate("RS256", kid="retired", exp=int(now) - 60)
    jwks = {"keys": [future.public_jwk(), retired.public_jwk()]}
    validator = make_validator({"issuers": [issuer_entry(future, jwks=jwks)]})
    assert reason_of(validator, future.sign(claims())) == "unknown_kid"
    assert reason_of(validator, retired.sign(claims())) == "unknown_kid"


def test_signature_from_another_key_with_the_trusted_kid(rsa_key: SigningKey) -> None:
    attacker = SigningKey.generate("RS256", kid=rsa_key.kid)
    validator = make_validator({"issuers": [issuer_entry(rsa_key)]})
    assert reason_of(validator, attacker.sign(claims())) == "bad_signature"


def test_unknown_issuer_is_rejected_without_any_fetch(rsa_key: SigningKey) -> None:
    validator = make_validator({"issuers": [issuer_entry(rsa_key)]})
    assert reason_of(validator, rsa_key.sign(claims(iss=ISSUER.rstrip("/")))) == "unknown_issuer"
    assert reason_of(validator, rsa_key.sign(claims(iss=None))) == "unknown_issuer"


def test_wso2_kid_suffix_and_x5t_fallback() -> None:
    key = SigningKey.generate("RS256", kid="MzYxMmFk", x5t="c2hhMXRodW1i")
    entry = {
        "issuer": "https://localhost:9443/oauth2/token",
        "audiences": ["client"],
        "profile": "wso2",
        "jwks": {"keys": [key.public_jwk()]},
    }
    validator = make_validator({"issuers": [entry]})
    payload = claims(iss=entry["issuer"], aud="client", scp=None, scope="a b", azp="client")
    assert validator.validate(key.sign(payload, kid="MzYxMmFk_RS256")).permissions == {"a", "b"}
    assert (
        validator.validate(key.sign(payload, {"x5t": "c2hhMXRodW1i"}, kid="unrelated")).client_id
        == "client"
    )


def test_kid_suffix_tolerance_is_only_for_wso2(rsa_key: SigningKey) -> None:
    validator = make_validator({"issuers": [issuer_entry(rsa_key)]})
    assert reason_of(validator, rsa_key.sign(claims(), kid=rsa_key.kid + "_RS256")) == "unknown_kid"


def test_graph_token_with_header_nonce_is_rejected_with_its_own_reason() -> None:
    key = SigningKey.generate("RS256", kid="k")
    iss = f"https://sts.windows.net/{ENTRA_TENANT}/"
    validator = make_validator(
        {"issuers": [issuer_entry(key, issuer=iss, profile="entra-id", audiences=["api://orders"])]}
    )
    token = key.sign(
        claims(iss=iss, aud="00000003-0000-0000-c000-000000000000", tid=ENTRA_TENANT),
        {"nonce": "abc"},
    )
    assert reason_of(validator, token) == "first_party_token"


class TestEntraTenants:
    TEMPLATE = "https://login.microsoftonline.com/{tenantid}/v2.0"
    OTHER = "11111111-2222-3333-4444-555555555555"

    def validator(self, key: SigningKey) -> Any:
        entry = issuer_entry(
            key,
            issuer=self.TEMPLATE,
            profile="entra-id",
            audiences=[AUDIENCE],
            tenants=[ENTRA_TENANT],
            jwks={"keys": [key.public_jwk(issuer=self.TEMPLATE)]},
        )
        return make_validator({"issuers": [entry]})

    def test_allow_listed_tenant_is_substituted(self, rsa_key: SigningKey) -> None:
        iss = self.TEMPLATE.replace("{tenantid}", ENTRA_TENANT)
        principal = self.validator(rsa_key).validate(
            rsa_key.sign(claims(iss=iss, tid=ENTRA_TENANT))
        )
        assert principal.tenant == ENTRA_TENANT

    def test_tenant_outside_the_allow_list(self, rsa_key: SigningKey) -> None:
        iss = self.TEMPLATE.replace("{tenantid}", self.OTHER)
        assert (
            reason_of(self.validator(rsa_key), rsa_key.sign(claims(iss=iss, tid=self.OTHER)))
            == "wrong_tenant"
        )

    def test_iss_and_tid_must_agree(self, rsa_key: SigningKey) -> None:
        iss = self.TEMPLATE.replace("{tenantid}", ENTRA_TENANT)
        token = rsa_key.sign(claims(iss=iss, tid=self.OTHER))
        assert reason_of(self.validator(rsa_key), token) == "unknown_issuer"

    def test_concrete_issuer_checks_tid(self, rsa_key: SigningKey) -> None:
        iss = f"https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"
        validator = make_validator(
            {"issuers": [issuer_entry(rsa_key, issuer=iss, profile="entra-id")]}
        )
        assert reason_of(validator, rsa_key.sign(claims(iss=iss, tid=self.OTHER))) == "wrong_tenant"
        assert reason_of(validator, rsa_key.sign(claims(iss=iss, tid=None))) == "wrong_tenant"
        assert (
            validator.validate(rsa_key.sign(claims(iss=iss, tid=ENTRA_TENANT))).tenant
            == ENTRA_TENANT
        )

    def test_key_issuer_member_binds_keys_to_their_tenant(self, rsa_key: SigningKey) -> None:
        iss = f"https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"
        other_iss = f"https://login.microsoftonline.com/{self.OTHER}/v2.0"
        entry = issuer_entry(
            rsa_key,
            issuer=iss,
            profile="entra-id",
            jwks={"keys": [rsa_key.public_jwk(issuer=other_iss)]},
        )
        validator = make_validator({"issuers": [entry]})
        assert (
            reason_of(validator, rsa_key.sign(claims(iss=iss, tid=ENTRA_TENANT))) == "unknown_kid"
        )


class TestClaims:
    def check(self, rsa_key: SigningKey, payload: dict[str, Any], **entry: Any) -> str:
        return reason_of(
            make_validator({"issuers": [issuer_entry(rsa_key, **entry)]}), rsa_key.sign(payload)
        )

    def test_expired_beyond_leeway(self, rsa_key: SigningKey) -> None:
        now = int(time.time())
        assert self.check(rsa_key, claims(exp=now - 61)) == "expired"
        make_validator({"issuers": [issuer_entry(rsa_key)]}).validate(
            rsa_key.sign(claims(exp=now - 30))
        )

    def test_leeway_is_configurable(self, rsa_key: SigningKey) -> None:
        assert self.check(rsa_key, claims(exp=int(time.time()) - 5), leeway_seconds=0) == "expired"

    def test_exp_is_required(self, rsa_key: SigningKey) -> None:
        assert self.check(rsa_key, claims(exp=None)) == "claim_mismatch"

    def test_not_yet_valid(self, rsa_key: SigningKey) -> None:
        assert self.check(rsa_key, claims(nbf=int(time.time()) + 300)) == "not_yet_valid"

    def test_issued_in_future(self, rsa_key: SigningKey) -> None:
        assert (
            self.check(rsa_key, claims(iat=int(time.time()) + 300, nbf=None)) == "issued_in_future"
        )

    def test_token_too_old(self, rsa_key: SigningKey) -> None:
        old = int(time.time()) - 7200
        assert (
            self.check(rsa_key, claims(iat=old, nbf=old), max_token_age_seconds=3600)
            == "token_too_old"
        )
        assert self.check(rsa_key, claims(iat=None), max_token_age_seconds=3600) == "claim_mismatch"

    @pytest.mark.parametrize(
        "aud", ["4a8d2f60", [], ["other"], "4A8D2F60-91B3-4C7E-A5D2-0E6F13B97C48", None]
    )
    def test_wrong_audience(self, rsa_key: SigningKey, aud: Any) -> None:
        assert self.check(rsa_key, claims(aud=aud)) == "wrong_audience"

    def test_audience_any_of_in_array(self, rsa_key: SigningKey) -> None:
        validator = make_validator({"issuers": [issuer_entry(rsa_key)]})
        assert validator.validate(rsa_key.sign(claims(aud=["x", AUDIENCE]))).subject

    def test_client_not_allowed(self, rsa_key: SigningKey) -> None:
        assert (
            self.check(rsa_key, claims(), allowed_client_ids=["someone-else"])
            == "client_not_allowed"
        )
        assert (
            self.check(rsa_key, claims(azp=None), allowed_client_ids=["someone-else"])
            == "client_not_allowed"
        )

    def test_required_claims_any_of(self, rsa_key: SigningKey) -> None:
        required = {"tfp": ["B2C_1A_OTHER"]}
        assert self.check(rsa_key, claims(), required_claims=required) == "claim_mismatch"
        validator = make_validator(
            {
                "issuers": [
                    issuer_entry(
                        rsa_key, required_claims={"tfp": ["B2C_1A_OTHER", "B2C_1A_SIGNUP_SIGNIN"]}
                    )
                ]
            }
        )
        assert validator.validate(rsa_key.sign(claims())).subject

    def test_cognito_needs_access_token_use_and_client_id(self, rsa_key: SigningKey) -> None:
        iss = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
        base = {"issuer": iss, "profile": "cognito", "audiences": ["client-1"]}
        payload = claims(
            iss=iss, aud=None, scp=None, azp=None, client_id="client-1", token_use="id"
        )
        assert self.check(rsa_key, payload, **base) == "wrong_token_use"
        payload["token_use"] = "access"
        payload["client_id"] = "client-2"
        assert self.check(rsa_key, payload, **base) == "wrong_audience"

    def test_token_type_can_be_required(self, rsa_key: SigningKey) -> None:
        assert self.check(rsa_key, claims(), token_types=["at+jwt"]) == "wrong_token_use"
