"""Cache safety: a policy returned for one route must answer every other route correctly.

API Gateway caches the answer per token and evaluates it against later calls on any route. The
evaluator here is the emulator's (devkit.iam), written independently from the product's, with
API Gateway's documented rules: explicit Deny wins, no matching Allow is an implicit deny.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from devkit.iam import Decision, evaluate, parse_authorizer_answer
from jwt_authorizer.policy import MethodArn
from tests.support.signing import SigningKey, claims
from tests.unit.conftest import issuer_entry, make_authorizer

PREFIX = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod"
RULES = [
    {"route": "GET /whoami"},
    {"route": "GET /orders", "scopes": ["app.read"]},
    {"route": "POST /orders", "scopes": ["app.write"]},
    {"route": "GET /orders/{id}", "scopes": ["app.read"]},
    {"route": "DELETE /orders/{id}", "scopes": ["app.admin"]},
    {"route": "GET /orders/summary", "scopes": ["app.report"]},
    {"route": "GET /orders/{id}/items", "all_scopes": ["app.read", "app.write"]},
    {"route": "ANY /admin/{proxy+}", "scopes": ["app.admin"]},
]
REQUESTS = [
    ("GET", "/whoami"),
    ("GET", "/orders"),
    ("POST", "/orders"),
    ("GET", "/orders/42"),
    ("DELETE", "/orders/42"),
    ("GET", "/orders/summary"),
    ("GET", "/orders/42/items"),
    ("PUT", "/admin/users/7"),
    ("GET", "/admin/x"),
    ("PATCH", "/orders/42"),
]
PERMISSIONS = ["app.read", "app.write", "app.admin", "app.report"]


def token_event(token: str, method: str, path: str) -> dict[str, Any]:
    return {
        "type": "TOKEN",
        "authorizationToken": f"Bearer {token}",
        "methodArn": f"{PREFIX}/{method}{path}",
    }


def outcome(answer: dict[str, Any], method: str, path: str) -> bool:
    parsed = parse_authorizer_answer(answer)
    return evaluate(parsed.statements, f"{PREFIX}/{method}{path}") is Decision.ALLOW


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate("RS256", kid="policy-key")


@pytest.mark.parametrize("unmatched", ["deny", "authenticated"])
@pytest.mark.parametrize("with_default_rule", [False, True])
def test_cached_answer_for_any_route_is_right_for_every_other_route(
    key: SigningKey, unmatched: str, with_default_rule: bool
) -> None:
    rules = [*RULES, {"route": "$default", "scopes": ["app.read"]}] if with_default_rule else RULES
    authorizer = make_authorizer(
        {"issuers": [issuer_entry(key)], "routes": rules, "unmatched": unmatched}
    )
    checked = 0
    for size in range(len(PERMISSIONS) + 1):
        for held in itertools.combinations(PERMISSIONS, size):
            token = key.sign(claims(scp=" ".join(held) or None))
            answers = {
                request: authorizer(token_event(token, *request), None) for request in REQUESTS
            }
            fresh = {request: outcome(answers[request], *request) for request in REQUESTS}
            for first, later in itertools.product(REQUESTS, REQUESTS):
                cached = outcome(answers[first], *later)
                if cached and not fresh[later]:
                    pytest.fail(f"{held}: answer for {first} wrongly allows {later}")
                if fresh[later] and not cached and answers[first]["policyDocument"] is not None:
                    # Only the documented narrow fallback may deny more than a fresh call would.
                    assert len(answers[first]["policyDocument"]["Statement"]) == 1, (
                        held,
                        first,
                        later,
                    )
                checked += 1
    assert checked == 16 * len(REQUESTS) ** 2


def test_realistic_api_needs_no_fallback(key: SigningKey) -> None:
    """For the realistic API above every cached answer is exact, not merely safe."""
    authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": RULES})
    for size in range(len(PERMISSIONS) + 1):
        for held in itertools.combinations(PERMISSIONS, size):
            token = key.sign(claims(scp=" ".join(held) or None))
            answers = {
                request: authorizer(token_event(token, *request), None) for request in REQUESTS
            }
            for first, later in itertools.product(REQUESTS, REQUESTS):
                assert outcome(answers[first], *later) == outcome(answers[later], *later), (
                    held,
                    first,
                    later,
                )


def test_expected_decisions_for_a_reader(key: SigningKey) -> None:
    authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": RULES})
    token = key.sign(claims(scp="app.read"))
    verdicts = {
        request: outcome(authorizer(token_event(token, *request), None), *request)
        for request in REQUESTS
    }
    assert verdicts == {
        ("GET", "/whoami"): True,
        ("GET", "/orders"): True,
        ("POST", "/orders"): False,
        ("GET", "/orders/42"): True,
        ("DELETE", "/orders/42"): False,
        ("GET", "/orders/summary"): False,
        ("GET", "/orders/42/items"): False,
        ("PUT", "/admin/users/7"): False,
        ("GET", "/admin/x"): False,
        ("PATCH", "/orders/42"): False,
    }


def test_denied_route_gets_an_explicit_deny(key: SigningKey) -> None:
    authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": RULES})
    answer = authorizer(token_event(key.sign(claims(scp="app.read")), "POST", "/orders"), None)
    parsed = parse_authorizer_answer(answer)
    assert evaluate(parsed.statements, f"{PREFIX}/POST/orders") is Decision.EXPLICIT_DENY
    assert answer["context"]["error"] == "insufficient_scope"
    assert answer["context"]["scope"] == "app.write"


class TestWildcardBroaderThanTemplate:
    """The documented limits: IAM's ``*`` also crosses ``/``."""

    def test_deeper_unlisted_paths_are_taken_back(self, key: SigningKey) -> None:
        rules = [{"route": "GET /orders/{id}", "scopes": ["app.read"]}]
        authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": rules})
        answer = authorizer(token_event(key.sign(claims(scp="app.read")), "GET", "/orders/1"), None)
        assert outcome(answer, "GET", "/orders/2")
        assert not outcome(answer, "GET", "/orders/1/secrets")

    def test_remaining_gap_when_a_deeper_route_is_also_allowed(self, key: SigningKey) -> None:
        """GET/orders/* and GET/orders/*/items are both allowed: no Deny can take back
        GET/orders/1/audit (unlisted) without also denying items. List every route of the API
        in `routes` (or set the authorizer cache TTL to 0) when unlisted routes exist."""
        rules = [
            {"route": "GET /orders/{id}", "scopes": ["app.read"]},
            {"route": "GET /orders/{id}/items", "scopes": ["app.read"]},
        ]
        authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": rules})
        answer = authorizer(token_event(key.sign(claims(scp="app.read")), "GET", "/orders/1"), None)
        assert outcome(answer, "GET", "/orders/1/items")
        assert outcome(answer, "GET", "/orders/1/audit")

    def test_method_wildcard_does_not_span_path_segments(self, key: SigningKey) -> None:
        rules = [{"route": "ANY /admin/{proxy+}", "scopes": ["app.read"]}]
        authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": rules})
        answer = authorizer(token_event(key.sign(claims(scp="app.read")), "PUT", "/admin/x"), None)
        assert outcome(answer, "DELETE", "/admin/a/b")
        assert not outcome(answer, "GET", "/other/admin/x")

    def test_listed_deeper_route_is_carved_out(self, key: SigningKey) -> None:
        rules = [
            {"route": "GET /orders/{id}", "scopes": ["app.read"]},
            {"route": "GET /orders/{id}/secrets", "scopes": ["app.admin"]},
        ]
        authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": rules})
        answer = authorizer(token_event(key.sign(claims(scp="app.read")), "GET", "/orders/1"), None)
        assert not outcome(answer, "GET", "/orders/1/secrets")
        assert outcome(answer, "GET", "/orders/2")

    def test_inexpressible_rules_fall_back_to_a_narrow_policy(self, key: SigningKey) -> None:
        rules = [
            {"route": "GET /files/{name}", "scopes": ["files.admin"]},
            {"route": "GET /files/public", "scopes": []},
            {"route": "$default"},
        ]
        authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": rules})
        token = key.sign(claims(scp="app.read"))
        answer = authorizer(token_event(token, "GET", "/files/public"), None)
        statements = answer["policyDocument"]["Statement"]
        assert statements == [
            {
                "Action": "execute-api:Invoke",
                "Effect": "Allow",
                "Resource": f"{PREFIX}/GET/files/public",
            }
        ]
        assert not outcome(answer, "GET", "/files/secret")


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_partition_region_account_api_and_stage_come_from_the_incoming_arn(
    key: SigningKey, partition: str
) -> None:
    authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": RULES})
    arn = f"arn:{partition}:execute-api:cn-north-1:210987654321:zz99/v2/GET/orders"
    event = {
        "type": "TOKEN",
        "authorizationToken": "Bearer " + key.sign(claims(scp="app.read")),
        "methodArn": arn,
    }
    answer = authorizer(event, None)
    for statement in answer["policyDocument"]["Statement"]:
        resources = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        assert all(
            r.startswith(f"arn:{partition}:execute-api:cn-north-1:210987654321:zz99/v2/")
            for r in resources
        )
    assert evaluate(parse_authorizer_answer(answer).statements, arn) is Decision.ALLOW


def test_method_arn_keeps_colons_and_proxy_paths() -> None:
    arn = MethodArn.parse("arn:aws:execute-api:us-east-1:123456789012:api/stage/GET/files/a:b/c:d")
    assert (arn.api_id, arn.stage, arn.method, arn.path) == (
        "api",
        "stage",
        "GET",
        "/files/a:b/c:d",
    )
    root = MethodArn.parse("arn:aws:execute-api:us-east-1:123456789012:api/stage/GET/")
    assert root.path == "/"


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "arn:aws:s3:::bucket",
        "arn:aws:execute-api:us-east-1:1:api",
        "arn:aws:execute-api:us-east-1:1:api//GET/x",
    ],
)
def test_bad_arns_are_rejected(arn: str) -> None:
    with pytest.raises(ValueError, match="ARN"):
        MethodArn.parse(arn)


def test_colon_path_policy_still_matches(key: SigningKey) -> None:
    authorizer = make_authorizer(
        {
            "issuers": [issuer_entry(key)],
            "routes": [{"route": "GET /files/{name}", "scopes": ["app.read"]}],
        }
    )
    event = token_event(key.sign(claims(scp="app.read")), "GET", "/files/a:b")
    assert outcome(authorizer(event, None), "GET", "/files/a:b")
