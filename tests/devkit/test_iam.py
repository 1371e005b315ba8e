"""IAM policy parsing and evaluation as the emulator applies it to authorizer answers."""

from __future__ import annotations

from typing import Any

import pytest

from devkit.iam import (
    Decision,
    MalformedAnswerError,
    Statement,
    action_matches,
    arn_matches,
    evaluate,
    parse_authorizer_answer,
    parse_policy,
)

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/pets/42"


def allow(resource: Any, action: Any = "execute-api:Invoke", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(resource: Any, action: Any = "execute-api:Invoke") -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def decide(*statements: dict[str, Any], arn: str = ARN, **kw: Any) -> Decision:
    return evaluate(
        parse_policy({"Version": "2012-10-17", "Statement": list(statements)}), arn, **kw
    )


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (ARN, True),
        ("*", True),
        ("arn:aws:execute-api:*", True),
        ("arn:aws:execute-api:us-east-1:123456789012:abc123/*", True),
        ("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*/*", True),
        # '*' crosses '/': one star covers the rest of a multi-segment path
        ("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/*", True),
        ("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*/pets/*", True),
        ("arn:aws:execute-api:us-east-1:*:abc123/prod/GET/pets/42", True),
        ("arn:aws:execute-api:*:*:abc123/prod/GET/pets/42", True),
        ("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/pets/4?", True),
        ("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/pets/?", False),
        ("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/pets", False),
        ("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/*", False),
        ("arn:aws:execute-api:us-east-1:123456789012:abc123/test/*", False),
        ("arn:aws:execute-api:us-east-1:123456789012:other/*", False),
        # case-sensitive, like IAM resource matching
        ("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/get/*", False),
        # regex metacharacters are literal
        ("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/pets/4.", False),
    ],
)
def test_arn_wildcards(pattern: str, expected: bool) -> None:
    assert arn_matches(pattern, ARN) is expected


def test_star_inside_an_arn_segment_stays_in_that_segment() -> None:
    # A '*' in the middle of the region segment does not swallow the account's colon.
    assert not arn_matches(
        "arn:aws:execute-api:us-*1:123456789012:abc123/*", ARN.replace("us-east-1", "us-east-1:x")
    )
    assert arn_matches("arn:aws:execute-api:us-*-1:123456789012:abc123/*", ARN)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("execute-api:Invoke", True),
        ("execute-api:invoke", True),  # IAM action names ignore case
        ("execute-api:*", True),
        ("execute-api:Inv*", True),
        ("*", True),
        ("execute-api:InvalidateCache", False),
        ("lambda:InvokeFunction", False),
    ],
)
def test_action_forms(pattern: str, expected: bool) -> None:
    assert action_matches(pattern) is expected


def test_action_list_and_resource_list() -> None:
    statement = allow(
        [
            "arn:aws:execute-api:*:*:abc123/prod/POST/*",
            "arn:aws:execute-api:*:*:abc123/prod/GET/pets/*",
        ],
        action=["lambda:InvokeFunction", "execute-api:*"],
    )
    assert decide(statement) is Decision.ALLOW


def test_explicit_deny_beats_allow_in_any_order() -> None:
    assert decide(allow("*"), deny(ARN)) is Decision.EXPLICIT_DENY
    assert decide(deny("*"), allow(ARN)) is Decision.EXPLICIT_DENY


def test_no_matching_statement_is_implicit_deny() -> None:
    assert decide(allow(ARN.replace("/42", "/43"))) is Decision.IMPLICIT_DENY
    assert decide() is Decision.IMPLICIT_DENY
    # a deny that does not match does not matter either
    assert decide(deny("arn:aws:execute-api:*:*:other/*"), allow("*")) is Decision.ALLOW


def test_action_mismatch_is_implicit_deny() -> None:
    assert decide(allow("*", action="execute-api:InvalidateCache")) is Decision.IMPLICIT_DENY


def test_not_resource_and_not_action() -> None:
    assert (
        decide({"Effect": "Allow", "Action": "*", "NotResource": "arn:*:*:*:*:other/*"})
        is Decision.ALLOW
    )
    assert (
        decide({"Effect": "Allow", "NotAction": "execute-api:Invoke", "Resource": "*"})
        is Decision.IMPLICIT_DENY
    )


def test_conditions_on_source_ip() -> None:
    statement = allow("*", Condition={"IpAddress": {"aws:SourceIp": ["127.0.0.0/8"]}})
    assert decide(statement, condition_keys={"aws:SourceIp": "127.0.0.1"}) is Decision.ALLOW
    assert decide(statement, condition_keys={"aws:SourceIp": "10.0.0.1"}) is Decision.IMPLICIT_DENY
    unknown = allow("*", Condition={"NumericLessThan": {"aws:EpochTime": "1"}})
    assert decide(unknown) is Decision.IMPLICIT_DENY


def test_single_statement_object_is_accepted() -> None:
    statements = parse_policy({"Version": "2012-10-17", "Statement": allow("*")})
    assert statements == (Statement("Allow", ("execute-api:Invoke",), ("*",)),)


def answer(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "principalId": "user-1",
        "policyDocument": {"Version": "2012-10-17", "Statement": [allow("*")]},
        "context": {"a": "b", "n": 1},
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def test_parse_good_answer() -> None:
    parsed = parse_authorizer_answer(answer())
    assert parsed.principal_id == "user-1"
    assert parsed.context == {"a": "b", "n": 1}
    assert parse_authorizer_answer(answer(context=...)).context == {}


@pytest.mark.parametrize(
    "bad",
    [
        "Allow",
        None,
        [],
        answer(principalId=...),
        answer(principalId=""),
        answer(principalId=None),
        answer(policyDocument=...),
        answer(policyDocument="{}"),
        answer(policyDocument={"Version": "2012-10-17", "statement": [allow("*")]}),
        answer(policyDocument={"Version": "2012-10-17"}),
        answer(policyDocument={"Version": "2012-10-17", "Statement": [allow("*", Condition=None)]}),
        answer(
            policyDocument={
                "Version": "2012-10-17",
                "Statement": [{**allow("*"), "effect": "Allow"}],
            }
        ),
        answer(
            policyDocument={
                "Version": "2012-10-17",
                "Statement": [{**allow("*"), "Effect": "allow"}],
            }
        ),
        answer(
            policyDocument={
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Resource": "*"}],
            }
        ),
        answer(
            policyDocument={
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*"}],
            }
        ),
        answer(policyDocument={"Version": "2012-10-17", "Statement": [allow([])]}),
        answer(policyDocument={"Version": "2012-10-17", "Statement": [allow(7)]}),
        answer(context=["a"]),
        {"statusCode": 200, "body": "ok"},
    ],
)
def test_malformed_answers(bad: Any) -> None:
    with pytest.raises(MalformedAnswerError):
        parse_authorizer_answer(bad)
