"""IAM stage: how API Gateway evaluates an answer. Pure: IAM wildcard matching (``*`` any run of
characters, ``/`` included, ``?`` exactly one), a matching Deny wins, literal resources.
tests/security/test_iam_oracle.py compares the same matching with a third party's evaluator."""

from __future__ import annotations

import time

import pytest

from jwt_authorizer.iam import (
    MAX_RESOURCE_LENGTH,
    Statement,
    evaluate,
    explicitly_denied,
    glob_matches,
    literal_resource,
)
from tests.support.constants import REST_PREFIX, rest_arn


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("GET/orders", "GET/orders", True),
        ("GET/orders", "GET/orders/", False),
        ("GET/orders", "get/orders", False),  # case-sensitive
        ("GET/*", "GET/orders", True),
        ("GET/*", "GET/", True),  # * matches the empty run
        ("GET/*", "GET/orders/1/items", True),  # * crosses /
        ("GET/*", "POST/orders", False),
        ("*/orders", "DELETE/orders", True),
        ("*", "", True),
        ("*", "anything/at/all", True),
        ("GET/orders/*/items", "GET/orders/1/items", True),
        ("GET/orders/*/items", "GET/orders/1/2/items", True),
        ("GET/orders/*/items", "GET/orders//items", True),
        ("GET/orders/*/items", "GET/orders/items", False),
        ("GET/orders/*/*", "GET/orders/1/", True),
        ("GET/orders/*/*", "GET/orders/1", False),
        ("*//*", "GET/a//b", True),
        ("*//*", "GET/a/b", False),
        ("*/*/", "GET/a/", True),
        ("*/*/", "GET/a", False),
        ("GET/?", "GET/a", True),
        ("GET/?", "GET/", False),  # ? is exactly one character
        ("GET/?", "GET/ab", False),
        ("GET/??/x", "GET/ab/x", True),
        ("GET/a?c*", "GET/abcdef", True),
        ("GET/*?", "GET/", False),
        ("GET/*?", "GET/a", True),
        ("*a*a*a", "aaa", True),
        ("*a*a*a", "aa", False),
        ("*ab*ab", "xabyab", True),
        ("*ab*ab", "xab", False),
        ("a*?*b", "ab", False),
        ("a*?*b", "axb", True),
        ("GET/orders/\ud800", "GET/orders/\ud800", True),
    ],
)
def test_glob_matches(pattern: str, value: str, matches: bool) -> None:
    assert glob_matches(pattern, value) is matches


def test_many_stars_on_a_long_path_take_linear_time() -> None:
    """A regular expression backtracks: len(value)**k for k stars. One scan does not."""
    pattern = "GET/" + "*/" * 8 + "x"
    value = "GET/" + "a/" * 800
    started = time.perf_counter()
    assert glob_matches(pattern, value) is False
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("resource", "literal"),
    [
        (rest_arn("GET", "/orders/1"), True),
        (rest_arn("GET", "/orders/a:b"), True),
        (rest_arn("GET", "/odata/$metadata"), True),
        (rest_arn("GET", "/orders/*"), False),
        (rest_arn("GET", "/orders/?"), False),
        (rest_arn("GET", "/files/${aws:username}"), False),
        (REST_PREFIX + "/GET/" + "a" * (MAX_RESOURCE_LENGTH - len(REST_PREFIX) - 5), True),
        (REST_PREFIX + "/GET/" + "a" * (MAX_RESOURCE_LENGTH - len(REST_PREFIX) - 4), False),
    ],
)
def test_literal_resources(resource: str, literal: bool) -> None:
    assert literal_resource(resource) is literal


def test_a_statement_as_api_gateway_reads_it() -> None:
    one = Statement("Allow", (rest_arn("GET", "/orders"),))
    two = Statement("Deny", (rest_arn("GET", "/a"), rest_arn("GET", "/b")))
    assert one.as_json() == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": rest_arn("GET", "/orders"),
    }
    assert two.as_json() == {
        "Action": "execute-api:Invoke",
        "Effect": "Deny",
        "Resource": [rest_arn("GET", "/a"), rest_arn("GET", "/b")],
    }


def test_a_matching_deny_wins_and_no_match_denies() -> None:
    statements = (
        Statement("Allow", (REST_PREFIX + "/GET/*",)),
        Statement("Deny", (REST_PREFIX + "/GET/orders/summary", REST_PREFIX + "/*//*")),
    )
    arns = {path: rest_arn("GET", path) for path in ("/orders", "/orders/summary", "/a//b")}
    outcomes = {
        path: (evaluate(statements, arn), explicitly_denied(statements, arn))
        for path, arn in arns.items()
    }
    assert outcomes == {
        "/orders": (True, False),
        "/orders/summary": (False, True),
        "/a//b": (False, True),
    }
    assert (evaluate(statements, rest_arn("POST", "/orders")), evaluate((), rest_arn())) == (
        False,
        False,
    )
    assert explicitly_denied(statements, rest_arn("POST", "/orders")) is False
