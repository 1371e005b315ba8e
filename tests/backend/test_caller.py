"""caller_from_event reads the authorizer verdict from every event shape the template produces."""

from __future__ import annotations

from typing import Any

import pytest

from sample_backend.caller import ANONYMOUS, caller_from_event, is_http_api_event
from tests.backend.events import ALLOW_CONTEXT, http_event, rest_event


def test_rest_context_is_flat_strings() -> None:
    event = rest_event("GET", "/whoami", "/whoami", context=ALLOW_CONTEXT)
    assert event["requestContext"]["authorizer"]["token_expires"] == "4102444800"
    caller = caller_from_event(event)
    assert caller.sub == "user-123"
    assert caller.client_id == "client-abc"
    assert caller.issuer == "https://login.example.test/tenant/v2.0/"
    assert caller.scopes == ("app.read", "app.write")
    assert caller.token_expires == 4102444800
    assert caller.principal_id == "user-123"
    assert caller.source == "rest"


def test_http_lambda_context() -> None:
    caller = caller_from_event(http_event("GET", "GET /whoami", "/whoami", context=ALLOW_CONTEXT))
    assert caller.sub == "user-123"
    assert caller.scopes == ("app.read", "app.write")
    assert caller.token_expires == 4102444800
    assert caller.principal_id is None
    assert caller.source == "http-lambda"


def test_http_iam_mode_principal() -> None:
    event = http_event(
        "GET",
        "GET /whoami",
        "/whoami",
        authorizer={"principalId": "p-1", "lambda": {"client_id": "c"}},
    )
    caller = caller_from_event(event)
    assert caller.principal_id == "p-1"
    assert caller.sub == "p-1"
    assert caller.client_id == "c"


def test_http_builtin_jwt_authorizer() -> None:
    event = http_event(
        "GET",
        "GET /whoami",
        "/whoami",
        authorizer={
            "jwt": {
                "claims": {
                    "sub": "s",
                    "iss": "https://issuer.test/",
                    "azp": "client-z",
                    "exp": "1787996002",
                },
                "scopes": None,
            }
        },
    )
    event["requestContext"]["authorizer"]["jwt"]["claims"]["scp"] = "[app.read app.write]"
    caller = caller_from_event(event)
    assert caller.sub == "s"
    assert caller.issuer == "https://issuer.test/"
    assert caller.client_id == "client-z"
    assert caller.token_expires == 1787996002
    assert caller.scopes == ("app.read", "app.write")
    assert caller.source == "http-jwt"


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"requestContext": None},
        {"requestContext": {"authorizer": None}},
        {"requestContext": {"authorizer": "junk"}},
        rest_event("GET", "/health", "/health", context=None, principal_id=None),
        http_event("GET", "GET /health", "/health"),
        http_event("GET", "GET /health", "/health", authorizer={"lambda": {}}),
    ],
)
def test_anonymous(event: dict[str, Any]) -> None:
    assert caller_from_event(event) == ANONYMOUS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ()),
        ("app.read", ("app.read",)),
        ("  app.read   app.write ", ("app.read", "app.write")),
        (["a", "b"], ("a", "b")),
        ("[a b]", ("a", "b")),
        (None, ()),
        ({"not": "scopes"}, ()),
    ],
)
def test_scope_forms(value: Any, expected: tuple[str, ...]) -> None:
    event = http_event("GET", "GET /whoami", "/whoami", context={"sub": "x", "scopes": value})
    assert caller_from_event(event).scopes == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("123", 123), (123, 123), (12.9, 12), ("12.5", 12), ("soon", None), (True, None), ("", None)],
)
def test_token_expires_forms(value: Any, expected: int | None) -> None:
    context = {"sub": "x", "token_expires": value}
    event = http_event("GET", "GET /whoami", "/whoami", context=context)
    assert caller_from_event(event).token_expires == expected


def test_empty_strings_are_unset() -> None:
    event = rest_event("GET", "/whoami", "/whoami", context={"sub": "", "client_id": ""})
    caller = caller_from_event(event)
    assert caller.sub == "user-123"  # falls back to principalId
    assert caller.client_id is None


def test_boolean_context_values() -> None:
    event = http_event("GET", "GET /whoami", "/whoami", context={"sub": True})
    assert caller_from_event(event).sub == "true"


def test_version_detection() -> None:
    assert is_http_api_event({"version": "2.0"})
    assert not is_http_api_event({"version": "1.0"})
    assert not is_http_api_event({})
