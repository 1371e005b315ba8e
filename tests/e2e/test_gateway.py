"""Real HTTP through the emulator (template.yaml) to the authorizer and the sample backend.

Tokens come from the local IdP's token endpoint (client-credentials grant) unless a test needs
one the endpoint would not issue (expired, signed by a retired key). Statuses are what the
emulator derives from the authorizer's answers by API Gateway's rules: 401 for a missing
identity source or ``Unauthorized``, 403 for a policy that does not allow the ARN (or
``isAuthorized: false`` on the HTTP API), the template's gateway responses on the REST API.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest
import requests

from devkit.stack import LocalStack
from tests.e2e.conftest import (
    StackFactory,
    auth_config,
    clocked_authorizer,
    kid_of,
    mint,
)
from tests.support.clock import FakeClock

WHO = ("none", "garbage", "basic", "expired", "reader", "writer", "admin")
ROUTES = (
    ("GET", "/health"),
    ("GET", "/whoami"),
    ("GET", "/orders"),
    ("POST", "/orders"),
    ("GET", "/orders/o-1001"),
    ("GET", "/admin/stats"),
    ("GET", "/nowhere"),
)
# Columns follow WHO. REST: no identity source or a rejected token -> 401; a valid token without
# the route's scope -> 403 (policy); unknown path -> 404 (template's MISSING_AUTHENTICATION_TOKEN).
REST_EXPECTED: Mapping[tuple[str, str], tuple[int, ...]] = {
    ("GET", "/health"): (200, 200, 200, 200, 200, 200, 200),
    ("GET", "/whoami"): (401, 401, 401, 401, 200, 200, 200),
    ("GET", "/orders"): (401, 401, 401, 401, 200, 200, 200),
    ("POST", "/orders"): (401, 401, 401, 401, 403, 201, 201),
    ("GET", "/orders/o-1001"): (401, 401, 401, 401, 200, 200, 200),
    ("GET", "/admin/stats"): (401, 401, 401, 401, 403, 403, 200),
    ("GET", "/nowhere"): (404, 404, 404, 404, 404, 404, 404),
}
# HTTP API, simple responses: once the authorizer runs, every refusal is isAuthorized=false -> 403.
HTTP_EXPECTED: Mapping[tuple[str, str], tuple[int, ...]] = {
    ("GET", "/health"): (200, 200, 200, 200, 200, 200, 200),
    ("GET", "/whoami"): (401, 403, 403, 403, 200, 200, 200),
    ("GET", "/orders"): (401, 403, 403, 403, 200, 200, 200),
    ("POST", "/orders"): (401, 403, 403, 403, 403, 201, 201),
    ("GET", "/orders/o-1001"): (401, 403, 403, 403, 200, 200, 200),
    ("GET", "/admin/stats"): (401, 403, 403, 403, 403, 403, 200),
    ("GET", "/nowhere"): (404, 404, 404, 404, 404, 404, 404),
}


def _headers(stack: LocalStack, http: requests.Session) -> dict[str, dict[str, str]]:
    """The Authorization header of every kind of caller (``none``: no header)."""
    expired = mint(stack.idp, client_id="reader-app", lifetime=-600)
    values = {
        "garbage": "Bearer not-a-jwt",
        "basic": "Basic cmVhZGVyLWFwcDpyZWFkZXItc2VjcmV0",
        "expired": f"Bearer {expired}",
        "reader": f"Bearer {stack.get_token('reader-app', http)}",
        "writer": f"Bearer {stack.get_token('writer-app', http)}",
        "admin": f"Bearer {stack.get_token('admin-app', http)}",
    }
    return {"none": {}} | {who: {"Authorization": value} for who, value in values.items()}


def _call(
    http: requests.Session, base: str, method: str, path: str, headers: Mapping[str, str]
) -> requests.Response:
    body = {"item": "tea", "quantity": 1} if method == "POST" else None
    return http.request(method, base + path, headers=dict(headers), json=body, timeout=10)


def _run_matrix(
    stack: LocalStack,
    http: requests.Session,
    headers: Mapping[str, Mapping[str, str]],
    *,
    cold: bool,
    order: list[tuple[str, str, str]],
) -> list[str]:
    """Call every (api, route, caller); ``cold`` flushes the authorizer caches before each."""
    bases = {"rest": stack.rest_url, "http": stack.http_url}
    expected = {"rest": REST_EXPECTED, "http": HTTP_EXPECTED}
    wrong = []
    for api, route, who in order:
        method, path = route.split(" ", 1)
        if cold:
            stack.emulator.flush_authorizer_cache()
        status = _call(http, bases[api], method, path, headers[who]).status_code
        want = expected[api][(method, path)][WHO.index(who)]
        if status != want:
            wrong.append(f"{api} {route} as {who}: {status}, expected {want}")
    return wrong


def test_status_matrix_is_the_same_with_and_without_cached_answers(
    stack: LocalStack, http: requests.Session
) -> None:
    headers = _headers(stack, http)
    order = [
        (api, f"{method} {path}", who)
        for api in ("rest", "http")
        for method, path in ROUTES
        for who in WHO
    ]
    assert _run_matrix(stack, http, headers, cold=True, order=order) == []
    cold_invocations = stack.authorizer_invocations
    # Warm: same calls grouped per caller and in reverse, so every route after the first one
    # of a token may be answered from the cache. Cache safety: identical statuses.
    warm = sorted(order, key=lambda item: (item[0], item[2]), reverse=True)
    assert _run_matrix(stack, http, headers, cold=False, order=warm) == []
    assert stack.authorizer_invocations - cold_invocations < cold_invocations


def test_rest_token_answer_is_reused_across_routes(
    stack: LocalStack, http: requests.Session
) -> None:
    reader = {"Authorization": f"Bearer {stack.get_token('reader-app', http)}"}
    writer = {"Authorization": f"Bearer {stack.get_token('writer-app', http)}"}
    base = stack.rest_url

    def calls(headers: Mapping[str, str], method: str, path: str) -> tuple[int, int]:
        before = stack.authorizer_invocations
        status = _call(http, base, method, path, headers).status_code
        return status, stack.authorizer_invocations - before

    assert calls(reader, "GET", "/orders") == (200, 1)
    # The TOKEN authorizer's cache key is the token: the answer for GET /orders is reused for
    # the other routes, and it must be right for them too (no 403 from a methodArn-only policy).
    assert calls(reader, "GET", "/whoami") == (200, 0)
    assert calls(reader, "POST", "/orders") == (403, 0)
    assert calls(reader, "GET", "/orders") == (200, 0)
    assert calls(writer, "POST", "/orders") == (201, 1)
    assert calls(writer, "GET", "/orders") == (200, 0)
    assert calls(writer, "GET", "/whoami") == (200, 0)
    # GET /orders/{id} has its own (REQUEST) authorizer and cache; its policy covers every id.
    assert calls(reader, "GET", "/orders/o-1001") == (200, 1)
    assert calls(reader, "GET", "/orders/o-1002") == (200, 0)


def test_http_answer_is_cached_per_token_and_route(
    stack: LocalStack, http: requests.Session
) -> None:
    reader = {"Authorization": f"Bearer {stack.get_token('reader-app', http)}"}
    base = stack.http_url

    def calls(method: str, path: str) -> tuple[int, int]:
        before = stack.authorizer_invocations
        status = _call(http, base, method, path, reader).status_code
        return status, stack.authorizer_invocations - before

    assert calls("GET", "/orders") == (200, 1)
    assert calls("GET", "/orders") == (200, 0)
    # $context.routeKey is an identity source: a bare yes/no is never replayed on another route.
    assert calls("POST", "/orders") == (403, 1)
    assert calls("POST", "/orders") == (403, 0)
    assert calls("GET", "/whoami") == (200, 1)


def test_backend_echoes_the_callers_claims(stack: LocalStack, http: requests.Session) -> None:
    token = stack.get_token("writer-app", http)
    headers = {"Authorization": f"Bearer {token}"}
    for api, base in (("rest", stack.rest_url), ("http", stack.http_url)):
        response = _call(http, base, "POST", "/orders", headers)
        assert response.status_code == 201, response.text
        caller = response.json()["caller"]
        assert caller["client_id"] == "writer-app"
        assert caller["scopes"] == ["app.read", "app.write"]
        assert caller["issuer"] == stack.idp.issuer
        assert caller["authorizer"] == ("rest" if api == "rest" else "http-lambda")


def test_rest_gateway_responses_carry_www_authenticate(
    stack: LocalStack, http: requests.Session
) -> None:
    base = stack.rest_url
    missing = _call(http, base, "GET", "/orders", {})
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'
    assert missing.headers["Access-Control-Allow-Origin"] == "*"
    assert missing.headers["Access-Control-Expose-Headers"] == "WWW-Authenticate"
    body = missing.json()
    assert (body["message"], body["error"]) == ("Unauthorized", "invalid_token")
    assert body["requestId"] == missing.headers["x-amzn-RequestId"]

    expired = mint(stack.idp, client_id="reader-app", lifetime=-600)
    rejected = _call(http, base, "GET", "/orders", {"Authorization": f"Bearer {expired}"})
    assert rejected.status_code == 401
    assert rejected.headers["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'

    # A fresh token's first call is the Deny answer itself: its context names the missing scope.
    reader = {"Authorization": f"Bearer {stack.get_token('reader-app', http)}"}
    forbidden = _call(http, base, "POST", "/orders", reader)
    assert forbidden.status_code == 403
    assert forbidden.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'
    assert forbidden.headers["Access-Control-Expose-Headers"] == "WWW-Authenticate"
    body = forbidden.json()
    assert (body["error"], body["scope"], body["reason"]) == (
        "insufficient_scope",
        "app.write",
        "insufficient_scope",
    )


def test_http_api_refusals_have_no_gateway_responses(
    stack: LocalStack, http: requests.Session
) -> None:
    base = stack.http_url
    missing = _call(http, base, "GET", "/orders", {})
    assert (missing.status_code, missing.json()) == (401, {"message": "Unauthorized"})
    reader = {"Authorization": f"Bearer {stack.get_token('reader-app', http)}"}
    forbidden = _call(http, base, "POST", "/orders", reader)
    assert (forbidden.status_code, forbidden.json()) == (403, {"message": "Forbidden"})
    assert "WWW-Authenticate" not in forbidden.headers


def test_key_rotation_during_a_run(stack: LocalStack, http: requests.Session) -> None:
    idp = stack.idp
    old_token = stack.get_token("reader-app", http)
    old = {"Authorization": f"Bearer {old_token}"}
    assert _call(http, stack.rest_url, "GET", "/orders", old).status_code == 200
    old_kid = idp.signing_kid
    fetches = idp.request_count("jwks")

    new_kid = idp.rotate_key()  # the old key stays published
    new_token = stack.get_token("reader-app", http)
    assert kid_of(new_token) == new_kid != old_kid
    new = {"Authorization": f"Bearer {new_token}"}
    for base in (stack.rest_url, stack.http_url):
        assert _call(http, base, "GET", "/orders", new).status_code == 200
    # The unknown kid made the authorizer refetch the key set, once, not per request.
    assert idp.request_count("jwks") == fetches + 1

    # Old, unexpired tokens keep working while their key is published, also when the
    # authorizer really runs again (cache flushed) and for tokens freshly signed with it.
    stack.emulator.flush_authorizer_cache()
    before = stack.authorizer_invocations
    late_old = {"Authorization": f"Bearer {mint(idp, client_id='reader-app', kid=old_kid)}"}
    for headers in (old, late_old):
        for base in (stack.rest_url, stack.http_url):
            assert _call(http, base, "GET", "/orders", headers).status_code == 200
    assert stack.authorizer_invocations - before == 4
    assert idp.request_count("jwks") == fetches + 1


KEYS = {
    "refresh_seconds": 60,
    "max_stale_seconds": 120,
    "retry_seconds": 5,
    "kid_miss_cooldown_seconds": 60,
    "connect_timeout_seconds": 0.5,
    "read_timeout_seconds": 0.5,
}


def test_idp_outage_within_and_beyond_the_stale_window(
    stack_factory: StackFactory, http: requests.Session
) -> None:
    clock = FakeClock()
    stack = stack_factory(
        parameters=lambda idp: {"AuthConfig": auth_config(idp, **KEYS)},
        authorizer_factory=clocked_authorizer(clock),
    )
    idp = stack.idp

    def call(base: str, token: str) -> requests.Response:
        return _call(http, base, "GET", "/orders", {"Authorization": f"Bearer {token}"})

    early = mint(idp, client_id="reader-app")
    assert call(stack.rest_url, early).status_code == 200

    idp.set_mode("down")  # discovery and JWKS: connection closed without an answer
    attempts = idp.request_count("jwks") + idp.request_count("discovery")
    clock.advance(90)  # past refresh_seconds (60), within max_stale_seconds (120)
    for base in (stack.rest_url, stack.http_url):
        assert call(base, mint(idp, client_id="reader-app")).status_code == 200
    assert idp.request_count("jwks") + idp.request_count("discovery") > attempts, (
        "the keys in use must be stale ones after a failed refresh, not merely unexpired"
    )

    clock.advance(40)  # 130 s: the last good keys are older than the stale limit
    late = mint(idp, client_id="reader-app")
    unavailable = call(stack.rest_url, late)
    # The REST API answers with the template's AUTHORIZER_CONFIGURATION_ERROR response (500),
    # the HTTP API with a bare 500; neither caches the failure.
    assert unavailable.status_code == 500
    assert unavailable.json()["error"] == "authorizer_failure"
    before = stack.authorizer_invocations
    assert call(stack.rest_url, late).status_code == 500
    assert stack.authorizer_invocations == before + 1
    assert call(stack.http_url, late).status_code == 500
    # What API Gateway cached before the outage still answers until its TTL ends.
    assert call(stack.rest_url, early).status_code == 200

    idp.set_mode("up")
    clock.advance(10)  # past retry_seconds: the next call refetches
    for base in (stack.rest_url, stack.http_url):
        assert call(base, late).status_code == 200


@pytest.mark.parametrize("profile", ["wso2", "entra-id", "entra-external-id", "cognito", "oidc"])
def test_other_identity_provider_shapes(
    stack_factory: StackFactory, http: requests.Session, profile: str
) -> None:
    stack = stack_factory(profile=profile)
    reader = {"Authorization": f"Bearer {stack.get_token('reader-app', http)}"}
    writer = {"Authorization": f"Bearer {stack.get_token('writer-app', http)}"}
    for base in (stack.rest_url, stack.http_url):
        assert _call(http, base, "GET", "/orders", reader).status_code == 200
        assert _call(http, base, "POST", "/orders", reader).status_code == 403
        created = _call(http, base, "POST", "/orders", writer)
        assert created.status_code == 201, created.text
        assert json.loads(created.text)["caller"]["client_id"] == "writer-app"
