"""The sample backend answers REST (1.0) and HTTP API (2.0) events with the caller it was given."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from sample_backend import app
from tests.backend.events import ALLOW_CONTEXT, http_event, rest_event

CONTEXT = SimpleNamespace(
    function_name="BackendFunction",
    memory_limit_in_mb=128,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:backend",
    aws_request_id="req",
)

EXPECTED_CALLER = {
    "sub": "user-123",
    "client_id": "client-abc",
    "issuer": "https://login.example.test/tenant/v2.0/",
    "scopes": ["app.read", "app.write"],
    "token_expires": 4102444800,
}


def call(event: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, Any]]:
    answer = app.handler(event, CONTEXT)  # type: ignore[arg-type]
    headers = {key.lower(): value for key, value in (answer.get("headers") or {}).items()}
    # REST answers carry multiValueHeaders instead (one list per header name).
    for key, values in (answer.get("multiValueHeaders") or {}).items():
        headers[key.lower()] = ",".join(values)
    body = json.loads(answer["body"]) if answer.get("body") else {}
    return answer["statusCode"], headers, body


def assert_caller(body: dict[str, Any], source: str) -> None:
    caller = body["caller"]
    for key, value in EXPECTED_CALLER.items():
        assert caller[key] == value, key
    assert caller["authorizer"] == source


@pytest.mark.parametrize(
    ("event", "api", "source"),
    [
        (rest_event("GET", "/whoami", "/whoami", context=ALLOW_CONTEXT), "rest", "rest"),
        (http_event("GET", "GET /whoami", "/whoami", context=ALLOW_CONTEXT), "http", "http-lambda"),
    ],
    ids=["rest", "http"],
)
def test_whoami_reports_caller_and_route(event: dict[str, Any], api: str, source: str) -> None:
    status, headers, body = call(event)
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert_caller(body, source)
    assert body["api"] == api
    assert body["route"] == "GET /whoami"
    assert body["request_id"] == event["requestContext"]["requestId"]


def test_rest_principal_id_is_reported() -> None:
    _, _, body = call(rest_event("GET", "/whoami", "/whoami", context=ALLOW_CONTEXT))
    assert body["caller"]["principal_id"] == "user-123"


@pytest.mark.parametrize(
    "event",
    [
        rest_event("GET", "/orders", "/orders", context=ALLOW_CONTEXT),
        http_event("GET", "GET /orders", "/orders", context=ALLOW_CONTEXT),
    ],
    ids=["rest", "http"],
)
def test_list_orders(event: dict[str, Any]) -> None:
    status, _, body = call(event)
    assert status == 200
    assert body["route"] == "GET /orders"
    assert [order["id"] for order in body["orders"]] == ["o-1001", "o-1002"]


@pytest.mark.parametrize(
    "event",
    [
        rest_event(
            "GET",
            "/orders/{id}",
            "/orders/o-1002",
            context=ALLOW_CONTEXT,
            path_parameters={"id": "o-1002"},
        ),
        http_event(
            "GET",
            "GET /orders/{id}",
            "/orders/o-1002",
            context=ALLOW_CONTEXT,
            path_parameters={"id": "o-1002"},
        ),
    ],
    ids=["rest", "http"],
)
def test_get_order(event: dict[str, Any]) -> None:
    status, _, body = call(event)
    assert status == 200
    assert body["route"] == "GET /orders/{id}"
    assert body["order"]["item"] == "grinder"


def test_get_unknown_order_is_404() -> None:
    event = http_event("GET", "GET /orders/{id}", "/orders/nope", context=ALLOW_CONTEXT)
    status, _, body = call(event)
    assert status == 404
    assert "nope" in body["message"]


@pytest.mark.parametrize(
    "event",
    [
        rest_event("POST", "/orders", "/orders", context=ALLOW_CONTEXT, body={"item": "mug"}),
        http_event("POST", "POST /orders", "/orders", context=ALLOW_CONTEXT, body={"item": "mug"}),
    ],
    ids=["rest", "http"],
)
def test_create_order_is_201_and_echoes_body(event: dict[str, Any]) -> None:
    status, headers, body = call(event)
    assert status == 201
    order = body["order"]
    assert order["item"] == "mug"
    assert order["status"] == "created"
    assert order["created_by"] == "user-123"
    assert order["id"] == f"o-{event['requestContext']['requestId']}"
    assert headers["location"] == f"/orders/{order['id']}"
    assert body["route"] == "POST /orders"


def test_server_fields_win_over_body() -> None:
    event = http_event(
        "POST", "POST /orders", "/orders", context=ALLOW_CONTEXT, body={"id": "x", "status": "paid"}
    )
    _, _, body = call(event)
    assert body["order"]["id"] == "o-http-req-1"
    assert body["order"]["status"] == "created"


@pytest.mark.parametrize("body", [None, [1, 2], "text"], ids=["empty", "list", "string"])
def test_create_order_rejects_non_object(body: Any) -> None:
    status, _, answer = call(
        http_event("POST", "POST /orders", "/orders", context=ALLOW_CONTEXT, body=body)
    )
    assert status == 400
    assert "JSON object" in answer["message"]


def test_create_order_rejects_invalid_json() -> None:
    event = rest_event("POST", "/orders", "/orders", context=ALLOW_CONTEXT)
    event["body"] = "{not json"
    status, _, answer = call(event)
    assert status == 400
    assert "not valid JSON" in answer["message"]


@pytest.mark.parametrize(
    "event",
    [
        rest_event(
            "DELETE",
            "/admin/{proxy+}",
            "/admin/users/42",
            context={**ALLOW_CONTEXT, "scopes": "app.admin"},
            path_parameters={"proxy": "users/42"},
        ),
        http_event(
            "DELETE",
            "ANY /admin/{proxy+}",
            "/admin/users/42",
            context={**ALLOW_CONTEXT, "scopes": "app.admin"},
            path_parameters={"proxy": "users/42"},
        ),
    ],
    ids=["rest", "http"],
)
def test_admin_echo(event: dict[str, Any]) -> None:
    status, _, body = call(event)
    assert status == 200
    assert body["admin"]["method"] == "DELETE"
    assert body["admin"]["path"] == "/admin/users/42"
    assert body["caller"]["scopes"] == ["app.admin"]
    assert body["route"] in {"DELETE /admin/{proxy+}", "ANY /admin/{proxy+}"}


@pytest.mark.parametrize(
    "event",
    [
        rest_event("GET", "/health", "/health", context=None, principal_id=None),
        http_event("GET", "GET /health", "/health"),
    ],
    ids=["rest", "http"],
)
def test_health_is_public(event: dict[str, Any]) -> None:
    status, _, body = call(event)
    assert status == 200
    assert body == {"status": "ok"}


def test_unknown_route_is_404() -> None:
    status, _, _ = call(http_event("GET", "$default", "/nope", context=ALLOW_CONTEXT))
    assert status == 404


def test_cors_headers_on_answers() -> None:
    event = rest_event(
        "GET",
        "/whoami",
        "/whoami",
        context=ALLOW_CONTEXT,
        headers={"Origin": "https://app.example.test"},
    )
    _, headers, _ = call(event)
    assert headers["access-control-allow-origin"] == "*"
    assert "WWW-Authenticate" in headers["access-control-expose-headers"]


def test_describe_without_authorizer_is_anonymous() -> None:
    body = app.describe(http_event("GET", "GET /whoami", "/whoami"))
    assert body["caller"]["sub"] is None
    assert body["caller"]["scopes"] == []
    assert body["caller"]["authorizer"] == "none"
