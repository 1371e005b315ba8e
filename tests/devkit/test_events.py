"""The one module of API Gateway event shapes (devkit.events).

The emulator, the fixture generator and the tests all build events here, so these tests pin
the shapes against AWS's documented examples (the keys each documented event has), check the
details API Gateway fills in (forwarded headers, cookies, query maps, bodies, the authorizer's
context on the way to the backend), and that the authorizer understands every kind.
"""

from __future__ import annotations

import base64
import contextlib
import io
import time
from collections.abc import Callable
from typing import Any

import pytest

from devkit import events, fixtures
from devkit.events import Request, Stage
from devkit.iam import Decision, evaluate, parse_authorizer_answer
from jwt_authorizer import Authorizer

REST = Stage(api_id="abcdef123", name="test")
HTTP = Stage(api_id="api-id", name="$default", variables={"tier": "gold"})
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"


def order_request(**overrides: Any) -> Request:
    fields: dict[str, Any] = {
        "stage": REST,
        "authorization": f"Bearer {TOKEN}",
        "resource": "/orders/{id}",
        "path_parameters": {"id": "o-1"},
        "query": (("a", "1"), ("a", "2"), ("b", "")),
        "headers": (("Cookie", "c1=x; c2=y"),),
    }
    fields.update(overrides)
    return events.client_request("GET", "/orders/o-1", **fields)


# ============================================================================================
# Documented shapes (keys of AWS's examples; what the examples have, the builders have)
# ============================================================================================

REST_REQUEST_KEYS = {
    "type", "methodArn", "resource", "path", "httpMethod", "headers", "multiValueHeaders",
    "queryStringParameters", "multiValueQueryStringParameters", "pathParameters",
    "stageVariables", "requestContext",
}  # fmt: skip
REST_CONTEXT_KEYS = {
    "path", "accountId", "resourceId", "stage", "requestId", "identity", "resourcePath",
    "httpMethod", "apiId", "requestTime", "requestTimeEpoch", "protocol", "domainName",
    "domainPrefix", "extendedRequestId",
}  # fmt: skip
HTTP_V2_AUTHORIZER_KEYS = {
    "version", "type", "routeArn", "identitySource", "routeKey", "rawPath", "rawQueryString",
    "cookies", "headers", "queryStringParameters", "requestContext", "pathParameters",
    "stageVariables",
}  # fmt: skip
HTTP_V2_CONTEXT_KEYS = {
    "accountId", "apiId", "domainName", "domainPrefix", "http", "requestId", "routeKey",
    "stage", "time", "timeEpoch",
}  # fmt: skip
HTTP_V1_AUTHORIZER_KEYS = {
    "version", "type", "methodArn", "identitySource", "authorizationToken", "resource", "path",
    "httpMethod", "headers", "queryStringParameters", "pathParameters", "stageVariables",
    "requestContext",
}  # fmt: skip
REST_PROXY_KEYS = {
    "resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
    "multiValueQueryStringParameters", "pathParameters", "stageVariables", "requestContext",
    "body", "isBase64Encoded",
}  # fmt: skip
HTTP_V2_PROXY_KEYS = {
    "version", "routeKey", "rawPath", "rawQueryString", "cookies", "headers",
    "queryStringParameters", "requestContext", "body", "pathParameters", "isBase64Encoded",
    "stageVariables",
}  # fmt: skip
HTTP_V1_PROXY_KEYS = REST_PROXY_KEYS | {"version"}


def test_token_event_is_exactly_three_keys() -> None:
    event = events.token_event("Bearer x", REST.arn("GET", "/orders"))
    assert event == {
        "type": "TOKEN",
        "authorizationToken": "Bearer x",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/orders",
    }


def test_rest_request_authorizer_event() -> None:
    event = events.rest_request_event(REST, order_request())
    assert set(event) == REST_REQUEST_KEYS
    assert set(event["requestContext"]) >= REST_CONTEXT_KEYS
    assert {"apiKey", "sourceIp", "clientCert", "userAgent"} <= set(
        event["requestContext"]["identity"]
    )
    assert event["methodArn"] == REST.arn("GET", "/orders/o-1")
    assert (event["resource"], event["path"]) == ("/orders/{id}", "/orders/o-1")
    assert event["requestContext"]["path"] == "/test/orders/o-1"
    assert event["requestContext"]["resourcePath"] == "/orders/{id}"
    assert event["pathParameters"] == {"id": "o-1"}
    assert event["stageVariables"] == {}  # authorizer events keep empty maps


def test_http_v2_authorizer_event() -> None:
    request = order_request(stage=HTTP, route_key="GET /orders/{id}")
    event = events.http_authorizer_event_v2(HTTP, request, [f"Bearer {TOKEN}", "GET /orders/{id}"])
    assert set(event) == HTTP_V2_AUTHORIZER_KEYS
    assert set(event["requestContext"]) == HTTP_V2_CONTEXT_KEYS
    assert set(event["requestContext"]["http"]) == {
        "method",
        "path",
        "protocol",
        "sourceIp",
        "userAgent",
    }
    assert event["routeArn"] == HTTP.arn("GET", "/orders/o-1")
    assert event["identitySource"] == [f"Bearer {TOKEN}", "GET /orders/{id}"]
    assert "body" not in event  # authorizers never see the body
    assert events.http_authorizer_event_v2(HTTP, request)["identitySource"] is None


def test_http_v1_authorizer_event() -> None:
    request = order_request(stage=HTTP, route_key="GET /orders/{id}")
    event = events.http_authorizer_event_v1(HTTP, request, [f"Bearer {TOKEN}", "acme"])
    assert set(event) >= HTTP_V1_AUTHORIZER_KEYS
    assert "body" not in event
    assert event["identitySource"] == event["authorizationToken"] == f"Bearer {TOKEN},acme"
    assert event["requestContext"]["routeKey"] == "GET /orders/{id}"
    assert all(name == name.lower() for name in event["headers"])


def test_proxy_events() -> None:
    rest = events.rest_proxy_event(REST, order_request())
    assert set(rest) == REST_PROXY_KEYS
    assert "authorizer" not in rest["requestContext"]
    request = order_request(stage=HTTP, body='{"a":1}', route_key="GET /orders/{id}")
    v2 = events.http_proxy_event_v2(HTTP, request, authorizer={"lambda": None})
    assert set(v2) == HTTP_V2_PROXY_KEYS
    v1 = events.http_proxy_event_v1(HTTP, request)
    assert set(v1) == HTTP_V1_PROXY_KEYS
    assert v1["version"] == "1.0"


def test_empty_maps_are_null_in_rest_proxy_events() -> None:
    request = events.client_request("GET", "/health", stage=REST)
    event = events.rest_proxy_event(REST, request)
    for key in (
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
    ):
        assert event[key] is None, key
    assert (event["body"], event["isBase64Encoded"]) == (None, False)


# ============================================================================================
# What API Gateway fills in
# ============================================================================================


def test_forwarded_headers_are_added_once() -> None:
    request = order_request()
    names = [name for name, _ in events.forwarded_headers(request)]
    assert names[-4:] == [
        "X-Forwarded-For",
        "X-Forwarded-Port",
        "X-Forwarded-Proto",
        "X-Amzn-Trace-Id",
    ]
    headers = events.rest_request_event(REST, request)["headers"]
    assert headers["X-Forwarded-For"] == events.SAMPLE_SOURCE_IP
    assert (headers["X-Forwarded-Port"], headers["X-Forwarded-Proto"]) == ("443", "https")
    assert headers["X-Amzn-Trace-Id"].startswith("Root=1-67748580-")  # 2025-01-01T00:00:00Z
    local = Request(
        "GET",
        "/x",
        headers=(("Host", "127.0.0.1:3000"), ("X-Forwarded-For", "1.2.3.4")),
        scheme="http",
    )
    forwarded = dict(events.forwarded_headers(local))
    assert forwarded["X-Forwarded-For"] == "1.2.3.4"  # what the client sent is kept
    assert (forwarded["X-Forwarded-Port"], forwarded["X-Forwarded-Proto"]) == ("3000", "http")


def test_cookies() -> None:
    request = order_request(stage=HTTP)
    v2 = events.http_authorizer_event_v2(HTTP, request)
    assert v2["cookies"] == ["c1=x", "c2=y"]
    assert "cookie" not in v2["headers"]
    assert events.http_authorizer_event_v1(HTTP, request)["headers"]["cookie"] == "c1=x; c2=y"
    assert events.rest_request_event(REST, request)["headers"]["Cookie"] == "c1=x; c2=y"


def test_query_maps() -> None:
    rest = events.rest_request_event(REST, order_request())
    assert rest["queryStringParameters"] == {"a": "2", "b": ""}  # the last value wins
    assert rest["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [""]}
    v2 = events.http_authorizer_event_v2(HTTP, order_request(stage=HTTP))
    assert v2["queryStringParameters"] == {"a": "1,2", "b": ""}  # joined with commas
    assert v2["rawQueryString"] == "a=1&a=2&b="


def test_repeated_headers() -> None:
    request = Request("GET", "/x", headers=(("X-Dup", "one"), ("x-dup", "two")))
    rest = events.rest_request_event(REST, request)
    assert rest["headers"]["x-dup"] == "two"
    assert rest["multiValueHeaders"]["X-Dup"] == ["one"]
    v2 = events.http_authorizer_event_v2(HTTP, request)
    assert v2["headers"]["x-dup"] == "one,two"


def test_bodies() -> None:
    text = order_request(stage=HTTP, body='{"item":"tea"}')
    assert events.http_proxy_event_v2(HTTP, text)["body"] == '{"item":"tea"}'
    binary = Request(
        "POST", "/upload", headers=(("Content-Type", "image/png"),), body=b"\x89PNG\x00"
    )
    v2 = events.http_proxy_event_v2(HTTP, binary)
    assert v2["isBase64Encoded"] is True
    assert base64.b64decode(v2["body"]) == b"\x89PNG\x00"
    rest_text = events.rest_proxy_event(REST, binary)
    assert rest_text["isBase64Encoded"] is False  # no binary media type configured
    rest_binary = events.rest_proxy_event(REST, binary, binary_media_types=["image/*"])
    assert rest_binary["isBase64Encoded"] is True


def test_authorizer_context_on_the_way_to_the_backend() -> None:
    context = {"sub": "u", "n": 5, "ok": True, "ratio": 0.5}
    assert events.rest_authorizer_context(context, "u", integration_latency=7) == {
        "sub": "u",
        "n": "5",
        "ok": "true",
        "ratio": "0.5",
        "principalId": "u",
        "integrationLatency": 7,
    }
    assert events.http_authorizer_context(context) == {"lambda": context}
    assert events.http_authorizer_context(None, "p") == {"lambda": None, "principalId": "p"}


def test_stage_arns_and_times() -> None:
    cn = Stage(api_id="id", name="$default", region="cn-north-1", partition="aws-cn")
    assert cn.arn("ANY", "/") == "arn:aws-cn:execute-api:cn-north-1:123456789012:id/$default/ANY/"
    assert cn.domain_name == "id.execute-api.cn-north-1.amazonaws.com"
    assert events.request_time(events.SAMPLE_EPOCH_MS) == "01/Jan/2025:00:00:00 +0000"
    assert events.resource_id("/orders") == events.resource_id("/orders") != events.resource_id("/")


# ============================================================================================
# The authorizer understands every kind (through its public entry point only)
# ============================================================================================


@pytest.fixture(scope="module")
def authorizer() -> Callable[[dict[str, Any], Any], Any]:
    """The authorizer as ``events/env.json`` configures it (inline keys, template routes)."""
    idp = fixtures.development_idp(now=time.time())
    with contextlib.redirect_stdout(io.StringIO()):
        built: Callable[[dict[str, Any], Any], Any] = Authorizer.from_environ(
            fixtures.env_vars(idp)["AuthorizerFunction"]
        )
    return built


@pytest.mark.parametrize("kind", events.EVENT_KINDS)
def test_the_authorizer_understands_each_kind(
    kind: events.EventKind, authorizer: Callable[[dict[str, Any], Any], Any]
) -> None:
    stage = HTTP if kind.startswith("http") else REST
    token = fixtures.mint_development_token("reader-app", scopes=["app.read"], lifetime=600)
    request = order_request(
        stage=stage, authorization=f"Bearer {token}", route_key="GET /orders/{id}"
    )
    event = events.authorizer_event(kind, stage, request)
    answer = authorizer(event, None)
    if kind == "http-2.0":  # the template's HTTP API uses simple answers
        assert answer["isAuthorized"] is True
    else:
        policy = parse_authorizer_answer(answer).statements
        assert evaluate(policy, stage.arn("GET", "/orders/o-1")) is Decision.ALLOW
    missing = events.authorizer_event(kind, stage, order_request(stage=stage, authorization=None))
    if kind == "http-2.0":
        assert authorizer(missing, None)["isAuthorized"] is False
    else:
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            authorizer(missing, None)
