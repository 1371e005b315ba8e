"""Permissions from space-delimited scope strings: a space (U+0020) separates, nothing else does.

RFC 6749 section 3.3: ``scope = scope-token *( SP scope-token )``. Splitting on every white-space
character (``str.split()``) let a token whose ``scp`` is ``"app.read\\tapp.admin"`` (or with
U+00A0, U+2028, ...) hold ``app.admin``, which its issuer never granted.
"""

from __future__ import annotations

import pytest

from devkit.iam import Decision, evaluate, parse_authorizer_answer
from jwt_authorizer import Authorizer
from jwt_authorizer.config import parse_config
from jwt_authorizer.principal import principal_of
from tests.support.signing import SigningKey, claims
from tests.support.stages import issuer_entry, make_authorizer

ARN = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/DELETE/orders/1"


def permissions_of(scp: object) -> frozenset[str]:
    key = SigningKey.generate("EdDSA", kid="claims")
    issuer = parse_config({"issuers": [issuer_entry(key, algorithms=["EdDSA"])]}).issuers[0]
    payload = claims(scp=scp)
    return principal_of(payload, issuer).permissions


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


def _decision(authorizer: Authorizer, token: str) -> tuple[Decision, dict[str, object]]:
    answer = authorizer(
        {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": ARN}, None
    )
    return evaluate(parse_authorizer_answer(answer).statements, ARN), answer["context"]


@pytest.mark.parametrize("separator", ["\t", "\u00a0", "\u2028", "\u2029", "\x0b", "\x85"])
def test_a_non_space_separator_does_not_grant_the_second_scope(separator: str) -> None:
    key = SigningKey.generate("RS256", kid="claims-route")
    authorizer = make_authorizer(
        {
            "issuers": [issuer_entry(key)],
            "routes": [{"route": "DELETE /orders/{id}", "scopes": ["app.admin"]}],
        }
    )
    decision, context = _decision(authorizer, key.sign(claims(scp=f"app.read{separator}app.admin")))
    assert decision is Decision.EXPLICIT_DENY
    assert context["reason"] == "insufficient_scope"
    assert context["scopes"] == f"app.read{separator}app.admin"
    decision, context = _decision(authorizer, key.sign(claims(scp="app.read app.admin")))
    assert decision is Decision.ALLOW
    assert context["scopes"] == "app.admin app.read"
