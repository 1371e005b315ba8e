"""Answer stage: the two answer shapes, the caller's and the denial's context, and fitting the
context to API Gateway's rules. Pure: values in, the exact JSON-ready dicts out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jwt_authorizer.answer import (
    denial_context,
    fit_context,
    iam_answer,
    principal_context,
    simple_answer,
    unauthorized_context,
)
from jwt_authorizer.errors import (
    CacheUnsafe,
    CertificateMismatch,
    DpopReplay,
    Expired,
    InsufficientScope,
    InvalidDpopProof,
    MissingDpopProof,
    RouteNotPermitted,
)
from jwt_authorizer.iam import Statement
from jwt_authorizer.principal import Principal
from jwt_authorizer.routes import Decision
from tests.support.constants import CLIENT_ID, ENTRA_TENANT, ISSUER, SUBJECT, rest_arn
from tests.support.stages import route_rule

PRINCIPAL = Principal(
    subject=SUBJECT,
    issuer=ISSUER,
    client_id=CLIENT_ID,
    permissions=frozenset({"app.write", "app.read"}),
    expires_at=2000000000.75,
    claims={"emails": ["a@x"], "tfp": "B2C_1A", "name": None, "sub": "spoofed"},
)


def test_an_iam_answer() -> None:
    statements = [
        Statement("Allow", (rest_arn("GET", "/orders"),)),
        Statement("Deny", (rest_arn("GET", "/a"), rest_arn("GET", "/b"))),
    ]
    assert iam_answer("user-1", statements, {"sub": "user-1"}) == {
        "principalId": "user-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": rest_arn("GET", "/orders"),
                },
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Deny",
                    "Resource": [rest_arn("GET", "/a"), rest_arn("GET", "/b")],
                },
            ],
        },
        "context": {"sub": "user-1"},
    }


@pytest.mark.parametrize(("authorized", "expected"), [(True, True), (False, False)])
def test_a_simple_answer_is_a_real_boolean(authorized: bool, expected: bool) -> None:
    context = {"error": "invalid_token"}
    answer = simple_answer(authorized, context)
    assert answer == {"isAuthorized": expected, "context": context}
    assert answer["context"] is not context


def test_only_true_itself_authorizes() -> None:
    assert simple_answer(1, {})["isAuthorized"] is False  # type: ignore[arg-type]


def test_the_principals_context() -> None:
    assert principal_context(PRINCIPAL, ()) == {
        "sub": SUBJECT,
        "issuer": ISSUER,
        "client_id": CLIENT_ID,
        "scopes": "app.read app.write",
        "token_expires": 2000000000,
    }


def test_context_claims_add_keys_but_never_override_the_built_in_ones() -> None:
    tenant = Principal(
        subject="s",
        issuer=ISSUER,
        client_id=None,
        permissions=frozenset(),
        expires_at=1.0,
        claims=PRINCIPAL.claims,
        tenant=ENTRA_TENANT,
    )
    claims = (("emails", "emails"), ("policy", "tfp"), ("sub", "sub"), ("absent", "nope"))
    assert principal_context(tenant, claims) == {
        "sub": "s",
        "issuer": ISSUER,
        "client_id": "",
        "scopes": "",
        "token_expires": 1,
        "tenant": ENTRA_TENANT,
        "emails": ["a@x"],
        "policy": "B2C_1A",
    }


def test_the_denial_context_of_a_missing_scope() -> None:
    decision = Decision(
        allowed=False,
        rule=route_rule("POST /orders", scopes=["app.write", "app.admin"]),
        denial=InsufficientScope,
        missing=frozenset({"app.write", "app.admin"}),
    )
    assert denial_context(decision) == {
        "error": "insufficient_scope",
        "reason": "insufficient_scope",
        "scope": "app.admin app.write",
        "www_authenticate": 'Bearer error="insufficient_scope", scope="app.admin app.write"',
    }


@pytest.mark.parametrize("denial", [RouteNotPermitted, CacheUnsafe])
def test_the_denial_context_names_no_scope_when_none_would_help(
    denial: type[RouteNotPermitted | CacheUnsafe],
) -> None:
    decision = Decision(allowed=False, rule=None, denial=denial, missing=frozenset({"x"}))
    assert denial_context(decision) == {
        "error": "insufficient_scope",
        "reason": denial.reason,
        "scope": "",
        "www_authenticate": 'Bearer error="insufficient_scope"',
    }


CONTEXT: dict[str, Any] = {
    "sub": "s",
    "count": 3,
    "ratio": 0.5,
    "flag": True,
    "emails": ["a@x", "b@x"],
    "mixed": [1, "two", 3.5],
    "nested": {"b": 1, "a": [2, {"c": None}]},
    "list_of_objects": [{"k": "v"}],
    "none": None,
    "nan": float("nan"),
    "inf": float("-inf"),
}


def test_rest_contexts_hold_scalars_only() -> None:
    fitted, dropped = fit_context(CONTEXT, max_bytes=4096, scalars_only=True)
    assert fitted == {
        "sub": "s",
        "count": 3,
        "ratio": 0.5,
        "flag": True,
        "emails": "a@x b@x",
        "mixed": "1 two 3.5",
        "nested": '{"a":[2,{"c":null}],"b":1}',
        "list_of_objects": '[{"k":"v"}]',
    }
    assert dropped == []


def test_simple_answers_keep_json_types() -> None:
    fitted, dropped = fit_context(CONTEXT, max_bytes=4096, scalars_only=False)
    assert {k: v for k, v in fitted.items() if k not in ("nan", "inf")} == {
        "sub": "s",
        "count": 3,
        "ratio": 0.5,
        "flag": True,
        "emails": ["a@x", "b@x"],
        "mixed": [1, "two", 3.5],
        "nested": {"b": 1, "a": [2, {"c": None}]},
        "list_of_objects": [{"k": "v"}],
    }
    assert (fitted["nan"], fitted["inf"]) == ("nan", "-inf")  # not JSON: as text
    assert dropped == []


def test_the_size_budget_drops_what_does_not_fit_in_order() -> None:
    context = {"a": "x" * 10, "big": "y" * 100, "b": "z" * 10}
    fitted, dropped = fit_context(context, max_bytes=40, scalars_only=True)
    assert (fitted, dropped) == ({"a": "x" * 10, "b": "z" * 10}, ["big"])
    assert len(json.dumps(fitted, separators=(",", ":"))) <= 40


def test_the_budget_counts_the_json_encoding() -> None:
    """Each entry costs its encoded key and value plus two bytes (":" and ","), the braces two
    more: never less than the real size."""
    context = {"k": "v"}  # {"k":"v"}: 9 bytes, counted as 10
    assert fit_context(context, max_bytes=10, scalars_only=True) == ({"k": "v"}, [])
    assert fit_context(context, max_bytes=9, scalars_only=True) == ({}, ["k"])
    quoted = {"k": 'a"b\\c'}  # {"k":"a\\"b\\\\c"}: 15 bytes, counted as 16
    assert fit_context(quoted, max_bytes=16, scalars_only=True) == (quoted, [])
    assert fit_context(quoted, max_bytes=15, scalars_only=True) == ({}, ["k"])
    accented = {"k": "caf\u00e9"}  # "caf\\u00e9" as JSON escapes it: 17 bytes, counted as 18
    assert fit_context(accented, max_bytes=18, scalars_only=True) == (accented, [])
    assert fit_context(accented, max_bytes=17, scalars_only=True) == ({}, ["k"])


def test_unauthorized_context_carries_the_dpop_challenge_of_a_dpop_failure() -> None:
    algs = "ES256 PS256"
    assert unauthorized_context(InvalidDpopProof("htm"), algs) == {
        "error": "invalid_dpop_proof",
        "reason": "invalid_dpop_proof",
        "www_authenticate": 'DPoP error="invalid_dpop_proof", algs="ES256 PS256"',
    }
    assert unauthorized_context(DpopReplay(), algs)["www_authenticate"] == (
        'DPoP error="invalid_dpop_proof", algs="ES256 PS256"'
    )
    assert unauthorized_context(MissingDpopProof(), algs) == {
        "error": "invalid_token",
        "reason": "missing_dpop_proof",
        "www_authenticate": 'DPoP error="invalid_token", algs="ES256 PS256"',
    }
    for other in (Expired(), CertificateMismatch(), None):
        assert unauthorized_context(other, algs) == {"error": "invalid_token"}
    assert unauthorized_context(InvalidDpopProof(), None) == {"error": "invalid_token"}
