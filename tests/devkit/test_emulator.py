"""The local API Gateway emulator against small templates with hand-written stub functions.

Every test sends real HTTP requests to the started emulator. The stub authorizer
(templates/src/devkit_stub_authorizer.py) picks its behaviour from the token
``Bearer <mode>[.<suffix>]``; the stub backend echoes the event it received.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devkit.emulator import Emulator
from tests.support.clock import FakeClock

TEMPLATES = Path(__file__).parent / "templates"
REPO_ROOT = Path(__file__).resolve().parents[2]
REST = TEMPLATES / "rest_api.yaml"
HTTP = TEMPLATES / "http_api.yaml"
EXPLICIT_DENY = "User is not authorized to access this resource with an explicit deny"
IMPLICIT_DENY = "User is not authorized to access this resource"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # loopback only: ignore proxy settings
        yield session


EmulatorFactory = Callable[..., Emulator]


@pytest.fixture
def start(clock: FakeClock) -> Iterator[EmulatorFactory]:
    started: list[Emulator] = []

    def factory(template: Path, **kwargs: Any) -> Emulator:
        kwargs.setdefault("clock", clock)
        emulator = Emulator(template, **kwargs).start()
        started.append(emulator)
        return emulator

    yield factory
    for emulator in started:
        emulator.stop()


@pytest.fixture
def rest(start: EmulatorFactory) -> Emulator:
    return start(REST)


@pytest.fixture
def httpapi(start: EmulatorFactory) -> Emulator:
    return start(HTTP)


def bearer(mode: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mode}"}


def backend_event(response: requests.Response) -> dict[str, Any]:
    event: dict[str, Any] = response.json()["event"]
    return event


# ============================================================================================
# REST API: before the authorizer runs
# ============================================================================================


def test_rest_missing_or_empty_token_is_401_without_invoking(
    rest: Emulator, client: requests.Session
) -> None:
    for headers in ({}, {"Authorization": ""}):
        response = client.get(rest.url("Api") + "/pets", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"message": "Unauthorized"}
        assert response.headers["x-amzn-ErrorType"] == "UnauthorizedException"
        # the template's UNAUTHORIZED gateway response
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="devkit"'
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert rest.invocation_count("AuthFn") == 0
    assert rest.invocation_count("BackendFn") == 0


def test_rest_validation_expression_mismatch_is_401_without_invoking(
    rest: Emulator, client: requests.Session
) -> None:
    for token in ("Basic abc", "Bearer UPPER", "Bearer allow-all trailing"):
        response = client.get(rest.url("Api") + "/pets", headers={"Authorization": token})
        assert response.status_code == 401, token
    assert rest.invocation_count("AuthFn") == 0


# ============================================================================================
# REST API: authorizer outcomes
# ============================================================================================


def test_rest_unauthorized_exception_is_401_and_not_cached(
    rest: Emulator, client: requests.Session
) -> None:
    for _ in range(2):
        response = client.get(rest.url("Api") + "/pets", headers=bearer("unauthorized"))
        assert response.status_code == 401
        assert response.json() == {"message": "Unauthorized"}
    assert rest.invocation_count("AuthFn") == 2


@pytest.mark.parametrize("mode", ["boom", "unauthorized-detail"])
def test_rest_other_exception_is_500_configuration_error(
    rest: Emulator, client: requests.Session, mode: str
) -> None:
    for _ in range(2):
        response = client.get(rest.url("Api") + "/pets", headers=bearer(mode))
        assert response.status_code == 500
        assert response.json() == {"message": None}
        assert response.headers["x-amzn-ErrorType"] == "AuthorizerConfigurationException"
    assert rest.invocation_count("AuthFn") == 2  # errors are not cached
    assert rest.invocation_count("BackendFn") == 0


@pytest.mark.parametrize(
    "mode",
    [
        "notdict",
        "none",
        "noprincipal",
        "emptyprincipal",
        "nopolicy",
        "httpstyle",
        "lowercase",
        "nullcondition",
        "badeffect",
    ],
)
def test_rest_malformed_answer_is_500(rest: Emulator, client: requests.Session, mode: str) -> None:
    response = client.get(rest.url("Api") + "/pets", headers=bearer(mode))
    assert response.status_code == 500
    assert response.json() == {"message": None}
    assert response.headers["x-amzn-ErrorType"] == "AuthorizerConfigurationException"
    assert rest.invocation_count("BackendFn") == 0


def test_rest_explicit_deny_with_gateway_response_context(
    rest: Emulator, client: requests.Session
) -> None:
    response = client.get(rest.url("Api") + "/pets", headers={**bearer("deny"), "X-Echo": "echoed"})
    assert response.status_code == 403
    body = response.json()
    assert body["message"] == EXPLICIT_DENY
    # ResponseTemplates: $context.authorizer.* from the deny's context, "" when absent
    assert body["reason"] == "blocked"
    assert body["missing"] == ""
    assert body["requestId"] == response.headers["x-amzn-RequestId"]
    assert body["stage"] == "not-prod"
    # ResponseParameters: context.authorizer.* and method.request.header.* expressions
    assert response.headers["X-Deny-Reason"] == "blocked"
    assert response.headers["X-Echo"] == "echoed"
    assert "X-Absent" not in response.headers
    assert response.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert rest.invocation_count("BackendFn") == 0


def test_rest_implicit_deny(rest: Emulator, client: requests.Session) -> None:
    response = client.get(rest.url("Api") + "/pets", headers=bearer("implicit"))
    assert response.status_code == 403
    assert response.json()["message"] == IMPLICIT_DENY
    assert "X-Deny-Reason" not in response.headers


def test_rest_authorizer_gets_token_event_with_concrete_method_arn(
    rest: Emulator, client: requests.Session
) -> None:
    response = client.get(rest.url("Api") + "/pets/42", headers=bearer("allow-all"))
    assert response.status_code == 200
    (event,) = rest.invocation_events("AuthFn")
    api_id = rest.api_id("Api")
    assert event == {
        "type": "TOKEN",
        "authorizationToken": "Bearer allow-all",
        "methodArn": f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/test/GET/pets/42",
    }


def test_rest_context_reaches_backend_stringified(rest: Emulator, client: requests.Session) -> None:
    response = client.get(rest.url("Api") + "/pets", headers=bearer("allow-all"))
    assert response.status_code == 200
    authorizer = backend_event(response)["requestContext"]["authorizer"]
    assert authorizer == {
        "principalId": "user-1",
        "user": "alice",
        "count": "1",
        "admin": "true",
        "globalVar": "from-globals",  # Globals.Function environment merged in
        "stageLabel": "testing",  # function's own environment (Fn::FindInMap)
        "remainingPositive": "true",
        "functionName": "local-AuthFn",
        "integrationLatency": 0,
    }
    assert "STAGE_LABEL" not in os.environ  # the environment is only applied while invoking


@pytest.mark.parametrize("mode", ["ctx-array", "ctx-object"])
def test_rest_non_scalar_context_fails_the_integration(
    rest: Emulator, client: requests.Session, mode: str
) -> None:
    response = client.get(rest.url("Api") + "/pets", headers=bearer(mode))
    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error"}
    assert rest.invocation_count("AuthFn") == 1
    assert rest.invocation_count("BackendFn") == 0


# ============================================================================================
# REST API: caching
# ============================================================================================


def test_rest_cached_method_arn_policy_denies_the_next_route(
    rest: Emulator, client: requests.Session
) -> None:
    """The classic bug: Resource = event["methodArn"] with caching on."""
    headers = bearer("allow-method")
    assert client.get(rest.url("Api") + "/pets", headers=headers).status_code == 200
    second = client.get(rest.url("Api") + "/pets/7", headers=headers)
    assert second.status_code == 403
    assert second.json()["message"] == IMPLICIT_DENY
    assert rest.invocation_count("AuthFn") == 1  # answered from the cache


def test_rest_cached_wildcard_policy_allows_the_next_route(
    rest: Emulator, client: requests.Session
) -> None:
    headers = bearer("allow-all")
    for path in ("/pets", "/pets/7", "/files/a/b"):
        assert client.get(rest.url("Api") + path, headers=headers).status_code == 200
    assert client.post(rest.url("Api") + "/pets", headers=headers).status_code == 200
    assert rest.invocation_count("AuthFn") == 1


def test_rest_deny_is_cached_too(rest: Emulator, client: requests.Session) -> None:
    for _ in range(2):
        assert client.get(rest.url("Api") + "/pets", headers=bearer("deny")).status_code == 403
    assert rest.invocation_count("AuthFn") == 1


def test_rest_cache_ttl_expiry_and_flush(
    rest: Emulator, client: requests.Session, clock: FakeClock
) -> None:
    headers = bearer("allow-all")

    def call() -> None:
        assert client.get(rest.url("Api") + "/pets", headers=headers).status_code == 200

    call()
    clock.now += 299
    call()
    assert rest.invocation_count("AuthFn") == 1
    clock.now += 1  # 300 s after the first call: expired
    call()
    assert rest.invocation_count("AuthFn") == 2
    rest.flush_authorizer_cache()
    call()
    assert rest.invocation_count("AuthFn") == 3
    # another token is another cache key
    assert client.get(rest.url("Api") + "/pets", headers=bearer("allow-all.b")).status_code == 200
    assert rest.invocation_count("AuthFn") == 4


def test_rest_ttl_zero_disables_caching(start: EmulatorFactory, client: requests.Session) -> None:
    emulator = start(REST, parameter_overrides={"TokenTtl": "0"})
    for _ in range(2):
        response = client.get(emulator.url("Api") + "/pets", headers=bearer("allow-method"))
        assert response.status_code == 200
    assert emulator.invocation_count("AuthFn") == 2


# ============================================================================================
# REST API: REQUEST authorizer
# ============================================================================================


def test_rest_request_authorizer_identity_sources(rest: Emulator, client: requests.Session) -> None:
    url = rest.url("Api") + "/tenant"
    assert client.get(url, params={"tenant": "acme"}).status_code == 401  # no X-Api-Key
    assert client.get(url, headers={"X-Api-Key": "allow-all"}).status_code == 401  # no ?tenant
    assert (
        client.get(url, headers={"X-Api-Key": "allow-all"}, params={"tenant": ""}).status_code
        == 401
    )
    assert rest.invocation_count("AuthFn") == 0

    ok = client.get(url, headers={"X-Api-Key": "allow-all"}, params={"tenant": "acme"})
    assert ok.status_code == 200
    client.get(url, headers={"x-api-key": "allow-all"}, params={"tenant": "acme"})
    assert rest.invocation_count("AuthFn") == 1  # same identity values: cached
    client.get(url, headers={"X-Api-Key": "allow-all"}, params={"tenant": "other"})
    assert rest.invocation_count("AuthFn") == 2  # any part of the key changes: invoked


def test_rest_request_authorizer_event_shape(rest: Emulator, client: requests.Session) -> None:
    response = client.get(
        rest.url("Api") + "/tenant?tenant=acme&tenant=acme2&flag",
        headers={"X-Api-Key": "allow-all", "User-Agent": "devkit-test"},
    )
    assert response.status_code == 200
    (event,) = rest.invocation_events("AuthFn")
    api_id = rest.api_id("Api")
    assert event["type"] == "REQUEST"
    assert (
        event["methodArn"] == f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/test/GET/tenant"
    )
    assert event["resource"] == "/tenant"
    assert event["path"] == "/tenant"
    assert event["httpMethod"] == "GET"
    assert event["headers"]["X-Api-Key"] == "allow-all"
    assert event["multiValueHeaders"]["X-Api-Key"] == ["allow-all"]
    assert event["queryStringParameters"] == {"tenant": "acme2", "flag": ""}
    assert event["multiValueQueryStringParameters"] == {"tenant": ["acme", "acme2"], "flag": [""]}
    assert event["pathParameters"] == {}
    assert event["stageVariables"] == {"env": "not-prod", "region": "us-east-1"}
    ctx = event["requestContext"]
    assert ctx["path"] == "/test/tenant"
    assert ctx["accountId"] == "123456789012"
    assert ctx["stage"] == "test"
    assert ctx["apiId"] == api_id
    assert ctx["resourcePath"] == "/tenant"
    assert ctx["httpMethod"] == "GET"
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert ctx["identity"]["userAgent"] == "devkit-test"
    assert ctx["protocol"] == "HTTP/1.1"
    assert isinstance(ctx["requestTimeEpoch"], int)
    for key in ("resourceId", "requestId", "domainName", "requestTime"):
        assert ctx[key]


# ============================================================================================
# REST API: routing, integration, gateway responses
# ============================================================================================


@pytest.mark.parametrize(
    ("method", "path", "resource", "params"),
    [
        ("GET", "/pets", "/pets", None),
        ("GET", "/pets/mine", "/pets/mine", None),  # literal beats {petId}
        ("GET", "/pets/42", "/pets/{petId}", {"petId": "42"}),
        ("GET", "/pets/a%20b", "/pets/{petId}", {"petId": "a b"}),
        ("GET", "/files/a/b/c.txt", "/files/{proxy+}", {"proxy": "a/b/c.txt"}),
        ("DELETE", "/files/x", "/files/{proxy+}", {"proxy": "x"}),  # ANY
    ],
)
def test_rest_route_matching(
    rest: Emulator,
    client: requests.Session,
    method: str,
    path: str,
    resource: str,
    params: dict[str, str] | None,
) -> None:
    response = client.request(method, rest.url("Api") + path, headers=bearer("allow-all"))
    assert response.status_code == 200
    event = backend_event(response)
    assert event["resource"] == resource
    assert event["pathParameters"] == params
    assert event["httpMethod"] == method


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/nothing"), ("DELETE", "/pets"), ("GET", "/files"), ("GET", "/")]
)
def test_rest_unknown_route_is_missing_authentication_token(
    rest: Emulator, client: requests.Session, method: str, path: str
) -> None:
    response = client.request(method, rest.url("Api") + path, headers=bearer("allow-all"))
    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert rest.invocation_count("AuthFn") == 0


def test_rest_unknown_stage_is_forbidden(rest: Emulator, client: requests.Session) -> None:
    base = rest.url("Api").rsplit("/", 1)[0]
    assert base.endswith(str(rest.port("Api")))
    response = client.get(base + "/prod/pets", headers=bearer("allow-all"))
    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden"}


def test_rest_public_route_skips_the_authorizer(rest: Emulator, client: requests.Session) -> None:
    response = client.get(rest.url("Api") + "/public")
    assert response.status_code == 200
    assert "authorizer" not in backend_event(response)["requestContext"]
    assert rest.invocation_count("AuthFn") == 0


def test_rest_proxy_event_and_response_mapping(rest: Emulator, client: requests.Session) -> None:
    response = client.post(
        rest.url("Api") + "/pets?a=1&a=2",
        headers=bearer("allow-all"),
        data='{"name": "rex"}',
    )
    assert response.status_code == 200
    assert response.headers["X-Backend"] == "stub"
    assert response.headers["X-Multi"] == "1, 2"
    event = backend_event(response)
    assert event["body"] == '{"name": "rex"}'
    assert event["isBase64Encoded"] is False
    assert event["queryStringParameters"] == {"a": "2"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["stageVariables"] == {"env": "not-prod", "region": "us-east-1"}
    assert event["requestContext"]["path"] == "/test/pets"
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert response.json()["context"]["function_name"] == "local-BackendFn"

    get = client.get(rest.url("Api") + "/pets", headers=bearer("allow-all"))
    assert backend_event(get)["queryStringParameters"] is None
    assert backend_event(get)["body"] is None


@pytest.mark.parametrize("path", ["/broken", "/raise"])
def test_rest_bad_backend_is_502(rest: Emulator, client: requests.Session, path: str) -> None:
    response = client.get(rest.url("Api") + path, headers=bearer("allow-all"))
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_rest_custom_5xx_and_default_4xx_gateway_responses(
    start: EmulatorFactory, client: requests.Session
) -> None:
    emulator = start(REST, parameter_overrides={"CustomErrors": "true"})
    failed = client.get(emulator.url("Api") + "/pets", headers=bearer("boom"))
    # only AUTHORIZER_FAILURE is configured: it serves the configuration-error case too
    assert failed.status_code == 503
    assert failed.headers["X-Gateway-Response"] == "authorizer-failure"
    assert failed.headers["x-amzn-ErrorType"] == "AuthorizerConfigurationException"
    assert failed.json() == {
        "error": "authorizer failed",
        "type": "AUTHORIZER_CONFIGURATION_ERROR",
    }
    missing = client.get(emulator.url("Api") + "/nothing")
    assert missing.status_code == 403  # DEFAULT_4XX has no StatusCode: the type's own stays
    assert missing.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert missing.json() == {"message": "Missing Authentication Token"}


def test_rest_cors_preflight(start: EmulatorFactory, client: requests.Session) -> None:
    open_preflight = start(REST)
    response = client.options(
        open_preflight.url("Api") + "/pets",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert response.headers["Access-Control-Allow-Methods"] == "GET,OPTIONS,POST"
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization"
    assert open_preflight.invocation_count("AuthFn") == 0

    # AddDefaultAuthorizerToCorsPreflight (SAM's default: true) puts the authorizer on OPTIONS
    guarded = start(REST, parameter_overrides={"PreflightAuth": "true"})
    assert client.options(guarded.url("Api") + "/pets").status_code == 401


def test_rest_parameter_overrides(start: EmulatorFactory, client: requests.Session) -> None:
    emulator = start(REST, parameter_overrides={"StageName": "prod"})
    assert emulator.url("Api").endswith("/prod")
    response = client.get(emulator.url("Api") + "/pets", headers=bearer("allow-all"))
    event = backend_event(response)
    assert event["stageVariables"]["env"] == "production"
    assert event["requestContext"]["authorizer"]["stageLabel"] == "production"


def test_functions_override_and_lambda_context(
    start: EmulatorFactory, client: requests.Session
) -> None:
    seen: list[Any] = []

    def authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(context)
        assert os.environ["GLOBAL_VAR"] == "from-globals"
        return {
            "principalId": "override",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}],
            },
        }

    emulator = start(REST, functions={"AuthFn": authorizer})
    response = client.get(emulator.url("Api") + "/pets", headers=bearer("x"))
    assert response.status_code == 200
    assert backend_event(response)["requestContext"]["authorizer"]["principalId"] == "override"
    (context,) = seen
    assert context.function_name == "local-AuthFn"
    assert (
        context.invoked_function_arn
        == "arn:aws:lambda:us-east-1:123456789012:function:local-AuthFn"
    )
    assert context.memory_limit_in_mb == "128"  # text, as awslambdaric gives it
    assert context.aws_request_id
    assert 0 < context.get_remaining_time_in_millis() <= 5000
    with pytest.raises(ValueError, match="NoSuchFn"):
        Emulator(REST, functions={"NoSuchFn": authorizer})


def test_request_log_line(
    rest: Emulator, client: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="devkit.emulator"):
        client.get(rest.url("Api") + "/pets", headers=bearer("allow-all"))
        client.get(rest.url("Api") + "/pets", headers=bearer("allow-all"))
        client.get(rest.url("Api") + "/pets")
    lines = [r.getMessage() for r in caplog.records if "GET /test/pets" in r.getMessage()]
    assert len(lines) == 3
    assert "-> 200" in lines[0]
    assert "TokenAuth: invoked" in lines[0]
    assert "TokenAuth: cached" in lines[1]
    assert "-> 401" in lines[2]
    assert "not invoked" in lines[2]


# ============================================================================================
# HTTP API
# ============================================================================================


def test_http_simple_response_true_reaches_backend_with_lambda_context(
    httpapi: Emulator, client: requests.Session
) -> None:
    assert httpapi.url("HttpApi") == f"http://127.0.0.1:{httpapi.port('HttpApi')}"
    response = client.get(httpapi.url("HttpApi") + "/simple/a?x=1", headers=bearer("yes"))
    assert response.status_code == 200
    event = backend_event(response)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /simple/a"
    assert event["rawPath"] == "/simple/a"
    assert event["rawQueryString"] == "x=1"
    assert event["headers"]["authorization"] == "Bearer yes"
    assert event["requestContext"]["routeKey"] == "GET /simple/a"
    assert event["requestContext"]["stage"] == "$default"
    assert event["stageVariables"] == {"tier": "gold"}
    lam = event["requestContext"]["authorizer"]["lambda"]
    assert lam["roles"] == ["a", "b"]  # as returned: HTTP APIs do not stringify
    assert lam["count"] == 1
    assert lam["admin"] is True
    assert lam["globalVar"] == "http-globals"
    assert response.headers["Apigw-Requestid"]


def test_http_simple_false_and_non_boolean(httpapi: Emulator, client: requests.Session) -> None:
    denied = client.get(httpapi.url("HttpApi") + "/simple/a", headers=bearer("no"))
    assert denied.status_code == 403
    assert denied.json() == {"message": "Forbidden"}
    broken = client.get(httpapi.url("HttpApi") + "/simple/a", headers=bearer("string"))
    assert broken.status_code == 500
    assert broken.json() == {"message": "Internal Server Error"}
    assert httpapi.invocation_count("BackendFn") == 0


def test_http_missing_identity_source_is_401_without_invoking(
    httpapi: Emulator, client: requests.Session
) -> None:
    response = client.get(httpapi.url("HttpApi") + "/simple/a")
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert httpapi.invocation_count("AuthFn") == 0


def test_http_authorizer_exceptions(
    start: EmulatorFactory, httpapi: Emulator, client: requests.Session
) -> None:
    url = httpapi.url("HttpApi") + "/simple/a"
    assert client.get(url, headers=bearer("unauthorized")).status_code == 401
    boom = client.get(url, headers=bearer("boom"))
    assert boom.status_code == 500
    assert boom.json() == {"message": "Internal Server Error"}
    strict = start(HTTP, http_unauthorized_status=500)
    response = client.get(strict.url("HttpApi") + "/simple/a", headers=bearer("unauthorized"))
    assert response.status_code == 500


def test_http_simple_response_is_cached_for_every_route(
    httpapi: Emulator, client: requests.Session
) -> None:
    headers = bearer("only-a")
    assert client.get(httpapi.url("HttpApi") + "/simple/a", headers=headers).status_code == 200
    # the cached "yes" is replayed for /simple/b, which the authorizer would have refused
    assert client.get(httpapi.url("HttpApi") + "/simple/b", headers=headers).status_code == 200
    assert httpapi.invocation_count("AuthFn") == 1


def test_http_route_key_identity_source_caches_per_route(
    httpapi: Emulator, client: requests.Session
) -> None:
    headers = bearer("only-a")
    assert client.get(httpapi.url("HttpApi") + "/route/a", headers=headers).status_code == 200
    assert client.get(httpapi.url("HttpApi") + "/route/b", headers=headers).status_code == 403
    assert httpapi.invocation_count("AuthFn") == 2
    assert client.get(httpapi.url("HttpApi") + "/route/a", headers=headers).status_code == 200
    assert client.get(httpapi.url("HttpApi") + "/route/b", headers=headers).status_code == 403
    assert httpapi.invocation_count("AuthFn") == 2
    identity = [e["identitySource"] for e in httpapi.invocation_events("AuthFn")]
    assert identity == [["Bearer only-a", "GET /route/a"], ["Bearer only-a", "GET /route/b"]]


def test_http_policy_answers_evaluated_against_route_arn(
    httpapi: Emulator, client: requests.Session
) -> None:
    base = httpapi.url("HttpApi")
    route_only = bearer("policy-route")
    assert client.get(base + "/policy/a", headers=route_only).status_code == 200
    assert client.get(base + "/policy/b", headers=route_only).status_code == 403  # cached policy
    assert httpapi.invocation_count("AuthFn") == 1
    wild = bearer("policy-wild")
    assert client.get(base + "/policy/a", headers=wild).status_code == 200
    assert client.get(base + "/policy/b", headers=wild).status_code == 200
    deny = client.get(base + "/policy/a", headers=bearer("policy-deny"))
    assert deny.status_code == 403
    assert deny.json() == {"message": "Forbidden"}
    malformed = client.get(base + "/policy/a", headers=bearer("lowercase"))
    assert malformed.status_code == 500
    assert malformed.json() == {"message": "Internal Server Error"}
    ok = client.get(base + "/policy/a", headers=wild)
    assert backend_event(ok)["requestContext"]["authorizer"]["principalId"] == "user-1"


def test_http_v2_authorizer_event_shape(httpapi: Emulator) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", httpapi.port("HttpApi"), timeout=5)
    connection.putrequest("GET", "/simple/a?x=1&x=2&y=z")
    connection.putheader("Authorization", "Bearer yes")
    connection.putheader("X-Dup", "one")
    connection.putheader("X-Dup", "two")
    connection.putheader("Cookie", "a=1; b=2")
    connection.putheader("User-Agent", "devkit-test")
    connection.endheaders()
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 200
    (event,) = httpapi.invocation_events("AuthFn")
    api_id = httpapi.api_id("HttpApi")
    assert event["version"] == "2.0"
    assert event["type"] == "REQUEST"
    assert (
        event["routeArn"]
        == f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/$default/GET/simple/a"
    )
    assert event["identitySource"] == ["Bearer yes"]
    assert event["routeKey"] == "GET /simple/a"
    assert event["rawPath"] == "/simple/a"
    assert event["rawQueryString"] == "x=1&x=2&y=z"
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-dup"] == "one,two"
    assert "cookie" not in event["headers"]
    assert all(k == k.lower() for k in event["headers"])
    assert event["queryStringParameters"] == {"x": "1,2", "y": "z"}
    assert event["stageVariables"] == {"tier": "gold"}
    ctx = event["requestContext"]
    assert ctx["http"] == {
        "method": "GET",
        "path": "/simple/a",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "devkit-test",
    }
    assert ctx["accountId"] == "123456789012"
    assert ctx["apiId"] == api_id
    assert ctx["routeKey"] == "GET /simple/a"
    assert ctx["stage"] == "$default"
    for key in ("domainName", "domainPrefix", "requestId", "time", "timeEpoch"):
        assert ctx[key]
    assert "body" not in event


def test_http_v1_authorizer_event(httpapi: Emulator, client: requests.Session) -> None:
    url = httpapi.url("HttpApi") + "/v1"
    assert client.get(url, headers=bearer("policy-wild")).status_code == 401  # no ?tenant
    response = client.get(url, headers=bearer("policy-wild"), params={"tenant": "acme"})
    assert response.status_code == 200
    (event,) = httpapi.invocation_events("AuthFn")
    assert event["version"] == "1.0"
    assert event["type"] == "REQUEST"
    assert event["identitySource"] == "Bearer policy-wild,acme"
    assert event["authorizationToken"] == "Bearer policy-wild,acme"
    assert event["methodArn"].endswith("/$default/GET/v1")
    assert event["queryStringParameters"] == {"tenant": "acme"}
    # ReauthorizeEvery: 0 -> invoked every time
    client.get(url, headers=bearer("policy-wild"), params={"tenant": "acme"})
    assert httpapi.invocation_count("AuthFn") == 2


def test_http_authorizer_without_invoke_permission_is_500(
    httpapi: Emulator, client: requests.Session
) -> None:
    response = client.get(httpapi.url("HttpApi") + "/noperm", headers=bearer("yes"))
    assert response.status_code == 500
    assert httpapi.invocation_count("UnpermittedAuthFn") == 0


@pytest.mark.parametrize(
    ("method", "path", "route_key", "params"),
    [
        ("GET", "/items/5", "GET /items/{id}", {"id": "5"}),  # exact method beats ANY
        ("POST", "/items/5", "ANY /items/{id}", {"id": "5"}),
        ("GET", "/items/5/x/y", "GET /items/{id}/{rest+}", {"id": "5", "rest": "x/y"}),
        ("GET", "/somewhere/else", "$default", None),
        ("PUT", "/simple/a", "$default", None),
    ],
)
def test_http_route_matching(
    httpapi: Emulator,
    client: requests.Session,
    method: str,
    path: str,
    route_key: str,
    params: dict[str, str] | None,
) -> None:
    response = client.request(method, httpapi.url("HttpApi") + path)
    assert response.status_code == 200
    event = backend_event(response)
    assert event["routeKey"] == route_key
    assert event.get("pathParameters") == params
    assert "authorizer" not in event["requestContext"]


def test_http_backend_results(httpapi: Emulator, client: requests.Session) -> None:
    base = httpapi.url("HttpApi")
    bare = client.get(base + "/bare")
    assert bare.status_code == 200
    assert bare.headers["Content-Type"] == "application/json"
    assert bare.json() == {"hello": "world"}
    for path in ("/broken", "/raise"):
        response = client.get(base + path)
        assert response.status_code == 500
        assert response.json() == {"message": "Internal Server Error"}


def test_http_named_stage_and_explicit_permission(
    httpapi: Emulator, client: requests.Session
) -> None:
    url = httpapi.url("StagedApi")
    assert url.endswith("/dev")
    response = client.get(url + "/hello", headers=bearer("yes"))
    assert response.status_code == 200  # AWS::Lambda::Permission grants the invoke
    assert backend_event(response)["rawPath"] == "/dev/hello"
    no_stage = client.get(url.removesuffix("/dev") + "/hello", headers=bearer("yes"))
    assert no_stage.status_code == 404
    assert no_stage.json() == {"message": "Not Found"}


# ============================================================================================
# Implicit APIs
# ============================================================================================


def test_implicit_apis(tmp_path: Path, client: requests.Session) -> None:
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent(
            """
            Resources:
              Fn:
                Type: AWS::Serverless::Function
                Properties:
                  Handler: app.handler
                  Events:
                    Rest: {Type: Api, Properties: {Path: /r, Method: get}}
                    Root: {Type: Api, Properties: {Path: /, Method: get}}
                    Http: {Type: HttpApi, Properties: {Path: /h, Method: get}}
            """
        )
    )

    def backend(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": event.get("routeKey") or event["resource"]}

    with Emulator(tmp_path / "template.yaml", functions={"Fn": backend}) as emulator:
        assert sorted(emulator.api_ids) == ["ServerlessHttpApi", "ServerlessRestApi"]
        assert emulator.url("ServerlessRestApi").endswith("/Prod")
        assert client.get(emulator.url("ServerlessRestApi") + "/r").text == "/r"
        assert client.get(emulator.url("ServerlessRestApi") + "/").text == "/"
        assert client.get(emulator.url("ServerlessRestApi")).text == "/"
        assert client.get(emulator.url("ServerlessHttpApi") + "/h").text == "GET /h"


# ============================================================================================
# The project's template.yaml, served with stand-in functions
# ============================================================================================

ROOT_TEMPLATE = REPO_ROOT / "template.yaml"


def _stand_in_authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Accepts ``Bearer good``: a stage-wide policy (REST) or a simple yes (HTTP API)."""
    if event.get("version") == "2.0":
        ok = event["headers"].get("authorization") == "Bearer good"
        return {"isAuthorized": ok, "context": {"sub": "u1", "scopes": "app.read"}}
    token = event.get("authorizationToken") or event["headers"].get("Authorization")
    if not str(token).startswith("Bearer good"):
        raise Exception("Unauthorized")
    api, stage = event["methodArn"].split("/")[:2]
    if event["methodArn"].endswith("/admin/x"):
        return {
            "principalId": "u1",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": "*"}],
            },
            "context": {"scope": "app.admin", "reason": "missing_scope"},
        }
    return {
        "principalId": "u1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": f"{api}/{stage}/*/*",
                }
            ],
        },
        "context": {"sub": "u1", "scopes": "app.read"},
    }


def _stand_in_backend(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": json.dumps(event["requestContext"].get("authorizer"))}


@pytest.mark.skipif(not ROOT_TEMPLATE.exists(), reason="template.yaml not written yet")
def test_project_template_serves_both_apis(
    start: EmulatorFactory, client: requests.Session
) -> None:
    emulator = start(
        ROOT_TEMPLATE,
        functions={
            "AuthorizerFunction": _stand_in_authorizer,
            "BackendFunction": _stand_in_backend,
        },
    )
    rest = emulator.url("RestApi")
    good = bearer("good")
    whoami = client.get(rest + "/whoami", headers=good)
    assert whoami.status_code == 200
    assert whoami.json()["principalId"] == "u1"
    assert client.get(rest + "/health").status_code == 200
    assert client.get(rest + "/orders/7", headers=good).status_code == 200  # REQUEST authorizer
    missing = client.get(rest + "/whoami")
    assert missing.status_code == 401
    assert "Bearer" in missing.headers["WWW-Authenticate"]
    assert client.get(rest + "/whoami", headers=bearer("bad")).status_code == 401
    denied = client.get(rest + "/admin/x", headers=bearer("good.admin"))
    assert denied.status_code == 403
    assert denied.json()["scope"] == "app.admin"
    assert emulator.invocation_count("BackendFunction") == 3

    http = emulator.url("HttpApi")
    ok = client.get(http + "/whoami", headers=good)
    assert ok.status_code == 200
    assert ok.json() == {"lambda": {"sub": "u1", "scopes": "app.read"}}
    assert client.get(http + "/whoami").status_code == 401
    assert client.get(http + "/whoami", headers=bearer("bad")).status_code == 403
    assert client.get(http + "/health").status_code == 200
    before = emulator.invocation_count("AuthorizerFunction")
    client.get(http + "/whoami", headers=good)
    assert emulator.invocation_count("AuthorizerFunction") == before  # cached per token+route
    client.get(http + "/orders", headers=good)
    assert emulator.invocation_count("AuthorizerFunction") == before + 1


# ============================================================================================
# CLI
# ============================================================================================


def test_cli_serves_and_prints_urls() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "tools")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devkit",
            "emulator",
            str(REST),
            "--parameter-overrides",
            "StageName=prod",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("Api: http://127.0.0.1:")
        assert line.endswith("/prod")
        with requests.Session() as session:
            session.trust_env = False
            assert session.get(line.split(": ", 1)[1] + "/public", timeout=5).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
