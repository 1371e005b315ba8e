"""Issuers stage: which configured issuer a token claims, by exact ``iss``, or by an allow-listed
Entra tenant for a ``{tenantid}`` issuer. Pure: ``IssuerSet.select`` over decoded tokens."""

from __future__ import annotations

from typing import Any

import pytest

from jwt_authorizer.errors import TokenRejected, UnknownIssuer, WrongTenant
from jwt_authorizer.issuers import (
    IssuerConfig,
    IssuerSet,
    expected_issuers,
    is_guid,
    tenant_in,
)
from tests.support.constants import (
    CIAM_TENANT,
    ENTRA_ISSUER,
    ENTRA_TEMPLATE,
    ENTRA_TENANT,
    ISSUER,
    OTHER_TENANT,
)
from tests.support.stages import issuer_config, unverified

B2C = issuer_config()
ENTRA = issuer_config("entra-id", issuer=ENTRA_ISSUER, tenant_id=ENTRA_TENANT)
PARTNER = CIAM_TENANT
MULTI = issuer_config("entra-id", issuer=ENTRA_TEMPLATE, tenants={PARTNER})
ISSUERS = IssuerSet((B2C, ENTRA, MULTI))


def rejection(payload: dict[str, Any]) -> tuple[type[TokenRejected], str]:
    with pytest.raises(TokenRejected) as caught:
        ISSUERS.select(unverified(payload))
    return type(caught.value), caught.value.detail


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2b7e4c91-58a3-4f0d-96c2-e1a07b3d5f84", True),
        ("2B7E4C91-58A3-4F0D-96C2-E1A07B3D5F84", True),
        ("2b7e4c91-58a3-4f0d-96c2-e1a07b3d5f84\n", False),
        ("{2b7e4c91-58a3-4f0d-96c2-e1a07b3d5f84}", False),
        ("2b7e4c9158a34f0d96c2e1a07b3d5f84", False),
        ("contoso.onmicrosoft.com", False),
        ("", False),
        (None, False),
        (12, False),
    ],
)
def test_is_guid(value: object, expected: bool) -> None:
    assert is_guid(value) is expected


@pytest.mark.parametrize(
    ("issuer", "tenant"),
    [
        (f"https://login.microsoftonline.com/{ENTRA_TENANT.upper()}/v2.0", ENTRA_TENANT),
        (f"https://sts.windows.net/{ENTRA_TENANT}/", ENTRA_TENANT),
        (ISSUER, "7c1e0b52-3a9d-4f6e-8b21-5d0f9a4c2e71"),
        ("https://login.microsoftonline.com/common/v2.0", None),
        (f"https://idp.example/{ENTRA_TENANT}x/", None),
    ],
)
def test_the_tenant_an_issuer_names(issuer: str, tenant: str | None) -> None:
    assert tenant_in(issuer) == tenant


def test_an_exact_iss_selects_its_issuer() -> None:
    assert ISSUERS.select(unverified({"iss": ISSUER})) == (B2C, None)
    assert ISSUERS.select(unverified({"iss": ENTRA_ISSUER, "tid": OTHER_TENANT})) == (ENTRA, None)


@pytest.mark.parametrize(
    "iss",
    [
        ISSUER.rstrip("/"),
        ISSUER + "/",
        ISSUER.upper(),
        ISSUER + " ",
        "https://evil.example/",
        ENTRA_TEMPLATE,  # the template itself is no issuer
    ],
)
def test_nothing_is_normalised(iss: str) -> None:
    assert rejection({"iss": iss}) == (UnknownIssuer, "")


def test_a_token_without_iss() -> None:
    assert rejection({"sub": "s"}) == (UnknownIssuer, "iss missing")
    assert rejection({"iss": 7}) == (UnknownIssuer, "iss missing")


def test_an_allow_listed_tenant_selects_the_template() -> None:
    iss = ENTRA_TEMPLATE.replace("{tenantid}", PARTNER)
    assert ISSUERS.select(unverified({"iss": iss, "tid": PARTNER})) == (MULTI, PARTNER)
    iss = ENTRA_TEMPLATE.replace("{tenantid}", PARTNER.upper())
    assert ISSUERS.select(unverified({"iss": iss, "tid": PARTNER.upper()})) == (MULTI, PARTNER)


def test_a_configured_issuer_wins_over_the_template() -> None:
    """ENTRA_ISSUER is also the template with ENTRA_TENANT: the exact entry is chosen."""
    assert ISSUERS.select(unverified({"iss": ENTRA_ISSUER, "tid": ENTRA_TENANT})) == (ENTRA, None)


def test_a_tenant_outside_the_allow_list() -> None:
    iss = ENTRA_TEMPLATE.replace("{tenantid}", OTHER_TENANT)
    assert rejection({"iss": iss, "tid": OTHER_TENANT}) == (WrongTenant, "tenant not in allow-list")


def test_iss_and_tid_must_agree() -> None:
    iss = ENTRA_TEMPLATE.replace("{tenantid}", PARTNER)
    assert rejection({"iss": iss, "tid": OTHER_TENANT}) == (UnknownIssuer, "")
    assert rejection({"iss": iss}) == (UnknownIssuer, "")
    assert rejection({"iss": iss, "tid": "contoso"}) == (UnknownIssuer, "")


def test_templated_and_resolved() -> None:
    assert (B2C.templated, MULTI.templated) == (False, True)
    assert MULTI.resolved(ENTRA_TENANT) == ENTRA_ISSUER
    assert MULTI.resolved(PARTNER) == f"https://login.microsoftonline.com/{PARTNER}/v2.0"
    assert (MULTI.resolved(None), B2C.resolved(ENTRA_TENANT)) == (ENTRA_TEMPLATE, ISSUER)


def test_the_issuers_a_discovery_document_may_name() -> None:
    assert expected_issuers(B2C, None) == {ISSUER}
    assert expected_issuers(MULTI, PARTNER) == {ENTRA_TEMPLATE, MULTI.resolved(PARTNER)}
    policy = issuer_config(discovery_issuer="https://contoso.b2clogin.com/tfp/x/B2C_1_a/v2.0/")
    assert expected_issuers(policy, None) == {"https://contoso.b2clogin.com/tfp/x/B2C_1_a/v2.0/"}


def test_an_inline_key_set_does_not_take_part_in_equality() -> None:
    with_keys = issuer_config(jwks={"keys": []})
    assert with_keys == issuer_config()
    assert isinstance(hash(with_keys), int)
    assert IssuerSet((with_keys,)).issuers == (with_keys,)
    assert isinstance(with_keys, IssuerConfig)
