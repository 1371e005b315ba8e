"""Principal stage: who called, from an accepted payload. Pure: ``principal_of`` over dicts.

Permissions from space-delimited scope strings: a space (U+0020) separates, nothing else does.
RFC 6749 section 3.3: ``scope = scope-token *( SP scope-token )``. Splitting on every white-space
character (``str.split()``) let a token whose ``scp`` is ``"app.read\\tapp.admin"`` (or with
U+00A0, U+2028, ...) hold ``app.admin``, which its issuer never granted.
"""

from __future__ import annotations

from typing import Any

import pytest

from jwt_authorizer.principal import Principal, permissions, principal_of
from tests.support.constants import (
    CLIENT_ID,
    ENTRA_ISSUER,
    ENTRA_TEMPLATE,
    ENTRA_TENANT,
    ISSUER,
    SUBJECT,
    rest_arn,
)
from tests.support.iam import Decision, decision
from tests.support.signing import SigningKey, claims
from tests.support.stages import issuer_config, issuer_entry, make_authorizer

B2C = issuer_config()


def permissions_of(scp: object) -> frozenset[str]:
    return principal_of(claims(scp=scp), B2C).permissions


@pytest.mark.parametrize(
    ("scp", "expected"),
    [
        ("app.read app.write", {"app.read", "app.write"}),
        ("app.read  app.write ", {"app.read", "app.write"}),  # empty items are dropped
        (" app.read", {"app.read"}),
        ("app.read\tapp.admin", {"app.read\tapp.admin"}),
        ("app.read\u00a0app.admin", {"app.read\u00a0app.admin"}),
        ("app.read\u2028app.admin", {"app.read\u2028app.admin"}),
        ("app.read\napp.admin", {"app.read\napp.admin"}),
        ("app.read\x1fapp.admin", {"app.read\x1fapp.admin"}),
        ("app.read\u3000app.admin", {"app.read\u3000app.admin"}),
        ("app.read \u00a0app.admin", {"app.read", "\u00a0app.admin"}),
        ("", set()),
        ("   ", set()),
    ],
)
def test_scope_strings_split_on_space_only(scp: str, expected: set[str]) -> None:
    assert permissions_of(scp) == expected


def test_arrays_are_taken_as_they_are() -> None:
    """Array claims (``roles``, ``permissions``) hold one permission per item, spaces included."""
    assert permissions_of(["app.read app.admin", "", 7, "x"]) == {"app.read app.admin", "x"}


@pytest.mark.parametrize("value", [None, 7, {"app.read": True}, True])
def test_other_claim_types_hold_no_permission(value: object) -> None:
    assert permissions_of(value) == frozenset()


def test_permissions_are_the_union_of_every_scope_claim() -> None:
    payload = {"scope": "read:orders", "permissions": ["read:orders", "write:orders"]}
    assert permissions(payload, ("scope", "permissions")) == {"read:orders", "write:orders"}
    assert permissions(payload, ("permissions", "scope")) == {"read:orders", "write:orders"}
    assert permissions(payload, ("scp",)) == frozenset()


def test_entra_roles_are_not_read_for_the_b2c_profile() -> None:
    payload = claims(scp=None, roles=["app.read"])
    assert principal_of(payload, B2C).permissions == frozenset()
    entra = issuer_config("entra-id")
    assert principal_of(payload, entra).permissions == {"app.read"}


def test_the_principal_of_a_payload() -> None:
    payload = claims(scp="app.read", exp=2000000000)
    assert principal_of(payload, B2C) == Principal(
        subject=SUBJECT,
        issuer=ISSUER,
        client_id=CLIENT_ID,
        permissions=frozenset({"app.read"}),
        expires_at=2000000000.0,
        claims=payload,
        tenant=None,
        configured_issuer=ISSUER,
    )


@pytest.mark.parametrize(
    ("overrides", "subject", "client"),
    [
        ({}, SUBJECT, CLIENT_ID),
        ({"sub": ""}, CLIENT_ID, CLIENT_ID),  # falls back to the client id
        ({"sub": None}, CLIENT_ID, CLIENT_ID),
        ({"sub": None, "azp": None}, "", None),
        ({"sub": 5, "azp": ""}, "", None),
    ],
)
def test_subject_falls_back_to_the_client(
    overrides: dict[str, Any], subject: str, client: str | None
) -> None:
    principal = principal_of(claims(**overrides), B2C)
    assert (principal.subject, principal.client_id) == (subject, client)


def test_principal_and_client_claims_are_tried_in_order() -> None:
    issuer = issuer_config(
        "entra-id", principal_claims=("oid", "sub"), client_id_claims=("appid", "azp")
    )
    payload = {"iss": ENTRA_ISSUER, "exp": 1, "sub": "s", "oid": "o", "azp": "a", "appid": ""}
    principal = principal_of(payload, issuer)
    assert (principal.subject, principal.client_id) == ("o", "a")


def test_the_tenant_and_the_configured_issuer() -> None:
    single = issuer_config("entra-id", issuer=ENTRA_ISSUER, tenant_id=ENTRA_TENANT)
    payload = claims(iss=ENTRA_ISSUER, tid=ENTRA_TENANT)
    principal = principal_of(payload, single)
    assert (principal.tenant, principal.configured_issuer) == (ENTRA_TENANT, ENTRA_ISSUER)
    multi = issuer_config("entra-id", issuer=ENTRA_TEMPLATE, tenants={ENTRA_TENANT})
    principal = principal_of(payload, multi, tenant=ENTRA_TENANT)
    assert (principal.tenant, principal.configured_issuer) == (ENTRA_TENANT, ENTRA_TEMPLATE)
    assert principal.issuer == ENTRA_ISSUER


# --------------------------------------------------------------------------- through the handler


def _decide(key: SigningKey, scp: str) -> tuple[Decision, dict[str, Any]]:
    authorizer = make_authorizer(
        {
            "issuers": [issuer_entry(key)],
            "routes": [{"route": "DELETE /orders/{id}", "scopes": ["app.admin"]}],
        }
    )
    arn = rest_arn("DELETE", "/orders/1")
    event = {"type": "TOKEN", "authorizationToken": f"Bearer {key.sign(claims(scp=scp))}"}
    answer = authorizer({**event, "methodArn": arn}, None)
    return decision(answer, arn), answer["context"]


@pytest.mark.parametrize("separator", ["\t", "\u00a0", "\u2028", "\u2029", "\x0b", "\x85"])
def test_a_non_space_separator_does_not_grant_the_second_scope(
    rsa_key: SigningKey, separator: str
) -> None:
    outcome, context = _decide(rsa_key, f"app.read{separator}app.admin")
    assert outcome is Decision.EXPLICIT_DENY
    assert (context["reason"], context["scopes"]) == (
        "insufficient_scope",
        f"app.read{separator}app.admin",
    )
    outcome, context = _decide(rsa_key, "app.read app.admin")
    assert outcome is Decision.ALLOW
    assert context["scopes"] == "app.admin app.read"
