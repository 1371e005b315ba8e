"""Claims stage: whether a verified payload is acceptable to its issuer. Pure: ``check_claims``
over dict payloads at a fixed time, each rule passing and failing with its exact error class."""

from __future__ import annotations

from typing import Any

import pytest

from jwt_authorizer.claims import check_claims, first_string
from jwt_authorizer.errors import (
    ClaimMismatch,
    ClientNotAllowed,
    Expired,
    IssuedInFuture,
    NotYetValid,
    TokenRejected,
    TokenTooOld,
    WrongAudience,
    WrongTenant,
    WrongTokenUse,
)
from jwt_authorizer.issuers import IssuerConfig
from tests.support.constants import (
    AUDIENCE,
    CLIENT_ID,
    ENTRA_ISSUER,
    ENTRA_TENANT,
    ISSUER,
    OTHER_TENANT,
    SUBJECT,
)
from tests.support.stages import issuer_config

NOW = 1_700_000_000
B2C = issuer_config()  # leeway 60 s


def payload(**overrides: Any) -> dict[str, Any]:
    """A valid B2C payload at ``NOW``; an override of None removes the claim."""
    base: dict[str, Any] = {
        "iss": ISSUER,
        "exp": NOW + 3600,
        "nbf": NOW - 10,
        "iat": NOW - 10,
        "aud": AUDIENCE,
        "sub": SUBJECT,
        "azp": CLIENT_ID,
        "scp": "app.read",
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def check(
    claims: dict[str, Any],
    issuer: IssuerConfig = B2C,
    *,
    header: dict[str, Any] | None = None,
    tenant: str | None = None,
) -> type[TokenRejected] | None:
    """None when accepted, else the class of the rejection."""
    try:
        check_claims(claims, header or {"alg": "RS256"}, issuer, now=NOW, tenant=tenant)
    except TokenRejected as err:
        return type(err)
    return None


def test_a_valid_payload_is_accepted() -> None:
    assert check(payload()) is None


class TestTime:
    def test_exp_is_required(self) -> None:
        assert check(payload(exp=None)) is ClaimMismatch

    @pytest.mark.parametrize(
        ("exp", "expected"),
        [(NOW - 59, None), (NOW - 60, Expired), (NOW - 61, Expired), (NOW - 3600, Expired)],
    )
    def test_expiry_with_the_leeway(self, exp: int, expected: type[TokenRejected] | None) -> None:
        assert check(payload(exp=exp)) is expected

    def test_the_leeway_is_the_issuers(self) -> None:
        strict = issuer_config(leeway_seconds=0)
        assert check(payload(exp=NOW + 1), strict) is None
        assert check(payload(exp=NOW), strict) is Expired
        assert check(payload(exp=NOW - 5), strict) is Expired
        assert check(payload(exp=NOW - 5), issuer_config(leeway_seconds=300)) is None

    @pytest.mark.parametrize(
        ("nbf", "expected"),
        [(None, None), (NOW + 60, None), (NOW + 61, NotYetValid), (NOW + 300, NotYetValid)],
    )
    def test_not_before(self, nbf: int | None, expected: type[TokenRejected] | None) -> None:
        assert check(payload(nbf=nbf)) is expected

    @pytest.mark.parametrize(
        ("iat", "expected"),
        [(None, None), (NOW + 60, None), (NOW + 61, IssuedInFuture)],
    )
    def test_issued_at(self, iat: int | None, expected: type[TokenRejected] | None) -> None:
        assert check(payload(iat=iat, nbf=None)) is expected

    def test_fractional_times(self) -> None:
        assert check(payload(exp=NOW - 59.5, nbf=NOW + 60.0, iat=NOW + 59.999)) is None

    def test_maximum_age(self) -> None:
        limited = issuer_config(max_token_age_seconds=3600)
        assert check(payload(iat=NOW - 3660, nbf=None), limited) is None  # 3600 + leeway 60
        assert check(payload(iat=NOW - 3661, nbf=None), limited) is TokenTooOld
        assert check(payload(iat=NOW - 7200, nbf=NOW - 7200), limited) is TokenTooOld
        assert check(payload(iat=None), limited) is ClaimMismatch
        assert check(payload(iat=NOW - 7200, nbf=None)) is None  # no maximum by default


class TestTokenUse:
    COGNITO = issuer_config(
        "cognito",
        issuer="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
        audiences={"client-1"},
    )

    @pytest.mark.parametrize(
        ("token_use", "expected"),
        [("access", None), ("id", WrongTokenUse), (None, WrongTokenUse), ("Access", WrongTokenUse)],
    )
    def test_cognito_needs_an_access_token(
        self, token_use: str | None, expected: type[TokenRejected] | None
    ) -> None:
        claims = payload(aud=None, azp=None, client_id="client-1", token_use=token_use)
        assert check(claims, self.COGNITO) is expected

    def test_cognito_compares_the_client_id_with_the_audiences(self) -> None:
        claims = payload(aud="client-1", azp=None, client_id="client-2", token_use="access")
        assert check(claims, self.COGNITO) is WrongAudience

    def test_other_profiles_ignore_token_use(self) -> None:
        assert check(payload(token_use="id")) is None

    @pytest.mark.parametrize(
        ("typ", "expected"),
        [
            ("at+jwt", None),
            ("application/at+jwt", None),
            ("JWT", WrongTokenUse),
            (None, WrongTokenUse),
        ],
    )
    def test_token_types(self, typ: str | None, expected: type[TokenRejected] | None) -> None:
        typed = issuer_config(token_types={"at+jwt", "application/at+jwt"})
        header = {"alg": "RS256"} if typ is None else {"alg": "RS256", "typ": typ}
        assert check(payload(), typed, header=header) is expected
        assert check(payload(), header=header) is None  # any typ unless configured


class TestAudience:
    @pytest.mark.parametrize(
        "aud", [AUDIENCE, [AUDIENCE], ["x", AUDIENCE], [AUDIENCE, AUDIENCE], ["x", 7, AUDIENCE]]
    )
    def test_any_of(self, aud: Any) -> None:
        assert check(payload(aud=aud)) is None

    @pytest.mark.parametrize(
        "aud", ["4a8d2f60", [], ["other"], AUDIENCE.upper(), AUDIENCE + " ", None, 7, {"a": 1}]
    )
    def test_wrong_audience(self, aud: Any) -> None:
        assert check(payload(aud=aud)) is WrongAudience

    def test_every_configured_audience_is_accepted(self) -> None:
        issuer = issuer_config(audiences={"api://orders", AUDIENCE})
        assert [check(payload(aud=aud), issuer) for aud in ("api://orders", AUDIENCE, "x")] == [
            None,
            None,
            WrongAudience,
        ]


class TestTenant:
    ENTRA = issuer_config("entra-id", issuer=ENTRA_ISSUER, tenant_id=ENTRA_TENANT)

    def test_a_concrete_issuer_checks_tid(self) -> None:
        claims = payload(iss=ENTRA_ISSUER)
        assert check({**claims, "tid": ENTRA_TENANT}, self.ENTRA) is None
        assert check({**claims, "tid": ENTRA_TENANT.upper()}, self.ENTRA) is None
        assert check({**claims, "tid": OTHER_TENANT}, self.ENTRA) is WrongTenant
        assert check({**claims, "tid": "contoso"}, self.ENTRA) is WrongTenant
        assert check({**claims, "tid": 7}, self.ENTRA) is WrongTenant
        assert check(claims, self.ENTRA) is WrongTenant  # entra-id requires tid

    def test_b2c_checks_tid_only_when_present(self) -> None:
        b2c = issuer_config(tenant_id="7c1e0b52-3a9d-4f6e-8b21-5d0f9a4c2e71")
        assert check(payload(), b2c) is None
        assert check(payload(tid="7c1e0b52-3a9d-4f6e-8b21-5d0f9a4c2e71"), b2c) is None
        assert check(payload(tid=ENTRA_TENANT), b2c) is WrongTenant

    def test_the_resolved_tenant_of_a_template(self) -> None:
        template = issuer_config("entra-b2c", issuer="https://x/{tenantid}/v2.0")
        assert check(payload(tid=ENTRA_TENANT), template, tenant=ENTRA_TENANT) is None
        assert check(payload(tid=OTHER_TENANT), template, tenant=ENTRA_TENANT) is WrongTenant
        assert check(payload(), template, tenant=ENTRA_TENANT) is WrongTenant

    def test_other_profiles_ignore_tid(self) -> None:
        oidc = issuer_config("oidc")
        assert check(payload(tid="anything"), oidc) is None


class TestClients:
    def test_allowed_clients(self) -> None:
        only = issuer_config(allowed_client_ids={CLIENT_ID})
        assert check(payload(), only) is None
        assert check(payload(azp="someone-else"), only) is ClientNotAllowed
        assert check(payload(azp=None), only) is ClientNotAllowed
        assert check(payload(azp="someone-else")) is None  # any client by default

    def test_the_client_is_the_first_non_empty_client_claim(self) -> None:
        entra = issuer_config(
            "entra-id", issuer=ENTRA_ISSUER, tenant_id=ENTRA_TENANT, allowed_client_ids={"app"}
        )
        claims = payload(iss=ENTRA_ISSUER, tid=ENTRA_TENANT, azp=None, appid="app")
        assert check(claims, entra) is None
        assert check({**claims, "azp": "web"}, entra) is ClientNotAllowed
        assert check({**claims, "azp": ""}, entra) is None


class TestRequiredClaims:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("B2C_1A_SIGNIN", None),
            ("B2C_1A_OTHER", ClaimMismatch),
            (["x", "B2C_1A_SIGNIN"], None),
            (["x"], ClaimMismatch),
            ([], ClaimMismatch),
            (None, ClaimMismatch),
            ({"B2C_1A_SIGNIN": 1}, ClaimMismatch),
        ],
    )
    def test_any_of_the_accepted_values(
        self, value: Any, expected: type[TokenRejected] | None
    ) -> None:
        issuer = issuer_config(
            required_claims=(("tfp", frozenset({"B2C_1A_SIGNIN", "B2C_1A_UP"})),)
        )
        assert check(payload(tfp=value), issuer) is expected

    @pytest.mark.parametrize(
        ("value", "accepted", "expected"),
        [
            (True, "true", None),
            (False, "true", ClaimMismatch),
            (False, "false", None),
            (7, "7", None),
            (1.5, "1.5", None),
            (True, "1", ClaimMismatch),  # a boolean is "true", never 1
            ("7", "7", None),
        ],
    )
    def test_numbers_and_booleans_compare_as_text(
        self, value: Any, accepted: str, expected: type[TokenRejected] | None
    ) -> None:
        issuer = issuer_config(required_claims=(("level", frozenset({accepted})),))
        assert check(payload(level=value), issuer) is expected

    def test_every_required_claim_must_match(self) -> None:
        issuer = issuer_config(required_claims=(("a", frozenset({"1"})), ("b", frozenset({"2"}))))
        assert check(payload(a="1", b="2"), issuer) is None
        assert check(payload(a="1", b="3"), issuer) is ClaimMismatch
        assert check(payload(a="1"), issuer) is ClaimMismatch


def test_the_rules_apply_in_a_fixed_order() -> None:
    """Time, token use, audience, tenant, client, required claims: the first failure decides."""
    everything = issuer_config(
        "entra-id",
        issuer=ENTRA_ISSUER,
        tenant_id=ENTRA_TENANT,
        token_types={"at+jwt"},
        allowed_client_ids={"app"},
        required_claims=(("tfp", frozenset({"x"})),),
    )
    claims = payload(iss=ENTRA_ISSUER, exp=NOW - 3600, aud="other", tid=OTHER_TENANT, azp="web")
    header = {"alg": "RS256", "typ": "JWT"}
    fixes: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"exp": NOW + 60}, {}),
        ({}, {"typ": "at+jwt"}),
        ({"aud": AUDIENCE}, {}),
        ({"tid": ENTRA_TENANT}, {}),
        ({"azp": "app"}, {}),
        ({"tfp": "x"}, {}),
    ]
    seen = []
    for claim_fix, header_fix in fixes:
        seen.append(check(claims, everything, header=header))
        claims.update(claim_fix)
        header.update(header_fix)
    assert seen == [
        Expired,
        WrongTokenUse,
        WrongAudience,
        WrongTenant,
        ClientNotAllowed,
        ClaimMismatch,
    ]
    assert check(claims, everything, header=header) is None


@pytest.mark.parametrize(
    ("claims", "names", "expected"),
    [
        ({"azp": "a", "appid": "b"}, ("azp", "appid"), "a"),
        ({"azp": "", "appid": "b"}, ("azp", "appid"), "b"),
        ({"azp": 7, "appid": "b"}, ("azp", "appid"), "b"),
        ({"azp": ["a"]}, ("azp",), None),
        ({}, ("azp", "appid"), None),
        ({"azp": "a"}, (), None),
    ],
)
def test_first_string(claims: dict[str, Any], names: tuple[str, ...], expected: str | None) -> None:
    assert first_string(claims, names) == expected
