"""The answer contract for every event type, and the 401/403/500 mapping of every reason code."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from jwt_authorizer import Authorizer, KeysUnavailable
from jwt_authorizer.config import parse_config
from jwt_authorizer.errors import FACT_CHARS, FACT_ITEMS
from jwt_authorizer.keyring import KeyRegistry
from jwt_authorizer.observe import token_hash
from jwt_authorizer.principal import Principal
from jwt_authorizer.validator import TokenValidator
from tests.support.constants import (
    AUDIENCE,
    B2C_TENANT,
    CLIENT_ID,
    ENTRA_ISSUER,
    ENTRA_TENANT,
    HTTP_PREFIX,
    ISSUER,
    OTHER_TENANT,
    SUBJECT,
    http_arn,
    rest_arn,
)
from tests.support.fetchers import NoNetworkFetcher, ServingFetcher
from tests.support.iam import Decision, decision
from tests.support.observers import RecordingObserver, metrics_line
from tests.support.servers import closed_port
from tests.support.signing import SigningKey, claims
from tests.support.stages import issuer_entry, make_authorizer, validator_for

REST_ARN = rest_arn("GET", "/orders")
MISMATCH = (
    "a route rule is not a route of this API: API Gateway routed one of its paths to a wider "
    "route, whose cached simple answers also answer that rule's paths (add the route to the API, "
    "or set simple_cache_key to request)"
)
ROUTE_ARN = http_arn("GET", "/orders")
RULES = [
    {"route": "GET /orders", "scopes": ["app.read"]},
    {"route": "POST /orders", "scopes": ["app.write"]},
    {"route": "GET /whoami"},
]


def token_event(value: str, arn: str = REST_ARN) -> dict[str, Any]:
    return {"type": "TOKEN", "authorizationToken": value, "methodArn": arn}


def request_event(headers: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "REQUEST",
        "methodArn": REST_ARN,
        "resource": "/orders",
        "path": "/orders",
        "httpMethod": "GET",
        "headers": headers or {},
        "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/orders",
            "httpMethod": "GET",
            "stage": "prod",
            "apiId": "a1b2c3d4e5",
        },
    }
    event.update(extra)
    return event


def http2_event(
    headers: dict[str, str] | None = None, route_key: str = "GET /orders", **extra: Any
) -> dict[str, Any]:
    method, path = route_key.split(" ", 1)
    event: dict[str, Any] = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": http_arn(method, path),
        "identitySource": [headers.get("authorization", "")] if headers else [],
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "cookies": [],
        "headers": headers or {},
        "requestContext": {
            "routeKey": route_key,
            "stage": "$default",
            "http": {"method": method, "path": path},
        },
    }
    event.update(extra)
    return event


def unauthorized(authorizer: Authorizer, event: dict[str, Any]) -> None:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the contract is this exact class and text
        authorizer(event, None)
    assert type(caught.value) is Exception
    assert str(caught.value) == "Unauthorized"


def no_nulls(value: Any) -> None:
    if isinstance(value, dict):
        for item in value.values():
            assert item is not None
            no_nulls(item)
    elif isinstance(value, list):
        for item in value:
            no_nulls(item)


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate("RS256", kid="handler-key")


@pytest.fixture(scope="module")
def authorizer(key: SigningKey) -> Authorizer:
    return make_authorizer({"issuers": [issuer_entry(key)], "routes": RULES})


class TestRestToken:
    def test_allow_answer_shape(self, authorizer: Authorizer, key: SigningKey) -> None:
        token = key.sign(claims(scp="app.read", exp=2000000000))
        answer = authorizer(token_event("Bearer " + token), None)
        assert set(answer) == {"principalId", "policyDocument", "context"}
        assert answer["principalId"] == SUBJECT
        assert set(answer["policyDocument"]) == {"Version", "Statement"}
        assert answer["policyDocument"]["Version"] == "2012-10-17"
        for statement in answer["policyDocument"]["Statement"]:
            assert set(statement) == {"Action", "Effect", "Resource"}
        no_nulls(answer)
        assert answer["context"] == {
            "sub": SUBJECT,
            "issuer": ISSUER,
            "client_id": CLIENT_ID,
            "scopes": "app.read",
            "token_expires": 2000000000,
            "tenant": B2C_TENANT,  # the tenant a B2C issuer names in its path
        }

    @pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "  Bearer", "Bearer\t"])
    def test_scheme_is_case_insensitive_and_trimmed(
        self, authorizer: Authorizer, key: SigningKey, scheme: str
    ) -> None:
        token = key.sign(claims(scp="app.read"))
        assert authorizer(token_event(f"{scheme} {token}  "), None)["principalId"] == SUBJECT

    @pytest.mark.parametrize("value", ["", "   ", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz"])
    def test_missing_or_non_bearer_credentials_are_401(
        self, authorizer: Authorizer, value: str
    ) -> None:
        unauthorized(authorizer, token_event(value))

    def test_bare_token_only_when_configured(self, key: SigningKey) -> None:
        token = key.sign(claims(scp="app.read"))
        unauthorized(make_authorizer({"issuers": [issuer_entry(key)]}), token_event(token))
        lenient = make_authorizer({"issuers": [issuer_entry(key)], "allow_bare_token": True})
        assert lenient(token_event(token), None)["principalId"] == SUBJECT


class TestRestRequestAndHttp10:
    def test_request_event_reads_the_header_case_insensitively(
        self, authorizer: Authorizer, key: SigningKey
    ) -> None:
        event = request_event({"authorization": "Bearer " + key.sign(claims(scp="app.read"))})
        assert authorizer(event, None)["principalId"] == SUBJECT

    def test_two_authorization_headers_are_rejected(
        self, authorizer: Authorizer, key: SigningKey
    ) -> None:
        token = "Bearer " + key.sign(claims(scp="app.read"))
        event = request_event({"Authorization": token})
        event["multiValueHeaders"] = {"Authorization": [token, token]}
        unauthorized(authorizer, event)

    def test_token_in_query_is_ignored_unless_configured(self, key: SigningKey) -> None:
        token = key.sign(claims(scp="app.read"))
        event = request_event(queryStringParameters={"access_token": token})
        unauthorized(make_authorizer({"issuers": [issuer_entry(key)]}), event)
        by_query = make_authorizer(
            {"issuers": [issuer_entry(key)], "token_sources": [{"query": "access_token"}]}
        )
        assert by_query(event, None)["principalId"] == SUBJECT

    def test_token_from_cookie(self, key: SigningKey) -> None:
        token = key.sign(claims(scp="app.read"))
        authorizer = make_authorizer(
            {"issuers": [issuer_entry(key)], "token_sources": [{"cookie": "at"}]}
        )
        event = request_event({"Cookie": f"theme=dark; at={token}"})
        assert authorizer(event, None)["principalId"] == SUBJECT
        http = http2_event(cookies=["theme=dark", f"at={token}"])
        assert authorizer(http, None)["isAuthorized"] is True

    def test_http_payload_1_0_answers_with_a_policy(
        self, authorizer: Authorizer, key: SigningKey
    ) -> None:
        header = "Bearer " + key.sign(claims(scp="app.read"))
        event = request_event(
            {"authorization": header},
            version="1.0",
            identitySource=header,
            authorizationToken=header,
        )
        event["requestContext"]["routeKey"] = "GET /orders"
        answer = authorizer(event, None)
        assert set(answer) == {"principalId", "policyDocument", "context"}
        assert decision(answer, REST_ARN) is Decision.ALLOW

    def test_request_template_decides_the_rule(self, key: SigningKey) -> None:
        rules = [
            {"route": "GET /orders/{id}", "scopes": ["app.read"]},
            {"route": "GET /orders/summary", "scopes": ["app.report"]},
        ]
        authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": rules})
        event = request_event(
            {"Authorization": "Bearer " + key.sign(claims(scp="app.read"))},
            resource="/orders/{orderId}",
            path="/orders/7",
            methodArn=REST_ARN.replace("/GET/orders", "/GET/orders/7"),
        )
        answer = authorizer(event, None)
        assert decision(answer, event["methodArn"]) is Decision.ALLOW
        assert answer["context"]["scopes"] == "app.read"


class TestHttp20:
    def test_simple_allow_keeps_lists(self, key: SigningKey) -> None:
        authorizer = make_authorizer(
            {
                "issuers": [issuer_entry(key)],
                "routes": RULES,
                "context_claims": {"emails": "emails"},
            }
        )
        token = key.sign(claims(scp="app.read", emails=["a@example.com", "b@example.com"]))
        answer = authorizer(http2_event({"authorization": f"Bearer {token}"}), None)
        assert answer["isAuthorized"] is True
        assert answer["context"]["emails"] == ["a@example.com", "b@example.com"]
        assert set(answer) == {"isAuthorized", "context"}

    def test_simple_insufficient_scope(self, authorizer: Authorizer, key: SigningKey) -> None:
        token = key.sign(claims(scp="app.read"))
        answer = authorizer(
            http2_event({"authorization": f"Bearer {token}"}, route_key="POST /orders"), None
        )
        assert answer["isAuthorized"] is False
        assert answer["context"]["error"] == "insufficient_scope"
        assert answer["context"]["scope"] == "app.write"

    def test_invalid_token_is_a_plain_false_by_default(self, authorizer: Authorizer) -> None:
        answer = authorizer(http2_event({"authorization": "Bearer x.y.z"}), None)
        assert answer == {"isAuthorized": False, "context": {"error": "invalid_token"}}

    def test_invalid_token_can_raise_unauthorized(self, key: SigningKey) -> None:
        authorizer = make_authorizer({"issuers": [issuer_entry(key)], "http_unauthorized": "raise"})
        unauthorized(authorizer, http2_event({"authorization": "Bearer x.y.z"}))

    def test_iam_mode_uses_the_route_arn(self, key: SigningKey) -> None:
        authorizer = make_authorizer(
            {"issuers": [issuer_entry(key)], "routes": RULES, "response_mode": "iam"}
        )
        token = key.sign(claims(scp="app.read"))
        answer = authorizer(http2_event({"authorization": f"Bearer {token}"}), None)
        assert decision(answer, ROUTE_ARN) is Decision.ALLOW
        resources = [
            resource
            for statement in answer["policyDocument"]["Statement"]
            for resource in statement["Resource"]
        ]
        assert [r for r in resources if not r.startswith(HTTP_PREFIX + "/")] == []

    def test_a_simple_answer_shared_with_denied_requests_is_false(self, key: SigningKey) -> None:
        """The API has only ANY /{proxy+}: its cached ``true`` would answer every path, most of
        which need app.admin. The rules allow this request (GET /reports/{id}), yet a shared
        answer may not be true: 403 ``cache_unsafe``, and the rule that is not a route of the
        API is reported once, counted every time."""
        rules = [
            {"route": "GET /reports/{id}", "scopes": ["app.read"]},
            {"route": "ANY /{proxy+}", "scopes": ["app.admin"]},
        ]
        config = parse_config({"issuers": [issuer_entry(key)], "routes": rules})
        observer = RecordingObserver()
        registry = KeyRegistry(config.keys, fetcher=NoNetworkFetcher())
        authorizer = Authorizer(config, validator_for(config, registry), observer)
        token = key.sign(claims(scp="app.read"))
        event = http2_event({"authorization": f"Bearer {token}"}, route_key="GET /reports/1")
        event["routeKey"] = event["requestContext"]["routeKey"] = "ANY /{proxy+}"
        for _ in range(2):
            answer = authorizer(event, None)
            assert (answer["isAuthorized"], answer["context"]["reason"]) == (False, "cache_unsafe")
        assert (observer.counts["RouteMismatch"], observer.counts["Reason_cache_unsafe"]) == (2, 2)
        (warning,) = [line for line in observer.logged(MISMATCH) if line["level"] == "WARNING"]
        assert (warning["rule"], warning["route_key"]) == ("GET /reports/{id}", "ANY /{proxy+}")
        request_key = make_authorizer(
            {"issuers": [issuer_entry(key)], "routes": rules, "simple_cache_key": "request"}
        )
        assert request_key(event, None)["isAuthorized"] is True

    def test_comma_joined_duplicate_headers_are_rejected(
        self, authorizer: Authorizer, key: SigningKey
    ) -> None:
        token = key.sign(claims(scp="app.read"))
        answer = authorizer(http2_event({"authorization": f"Bearer {token}, Bearer {token}"}), None)
        assert answer["isAuthorized"] is False


def reason_token(key: SigningKey, reason: str) -> tuple[dict[str, Any], str]:
    """An authorizer configuration and a credential that produce exactly ``reason``."""
    now = int(time.time())
    other = SigningKey.generate("RS256", kid=key.kid)
    base = {"issuers": [issuer_entry(key)], "routes": RULES}
    entra_iss = f"https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"
    tokens = {
        "missing_token": "",
        "malformed_token": "Bearer not-a-jwt",
        "token_too_large": "Bearer " + "a" * 20000,
        "unsupported_alg": "Bearer "
        + key.sign(claims(), alg="RS256", kid=key.kid).replace(
            key.sign(claims()).split(".")[0], key.sign(claims(), {"alg": "RS512"}).split(".")[0]
        ),
        "unknown_issuer": "Bearer " + key.sign(claims(iss="https://evil.example.com/")),
        "unknown_kid": "Bearer " + key.sign(claims(), kid="nope"),
        "bad_signature": "Bearer " + other.sign(claims()),
        "expired": "Bearer " + key.sign(claims(exp=now - 3600)),
        "not_yet_valid": "Bearer " + key.sign(claims(nbf=now + 3600)),
        "issued_in_future": "Bearer " + key.sign(claims(iat=now + 3600, nbf=None)),
        "wrong_audience": "Bearer " + key.sign(claims(aud="someone-else")),
        "claim_mismatch": "Bearer " + key.sign(claims(exp=None)),
    }
    if reason in tokens:
        return base, tokens[reason]
    if reason == "token_too_old":
        base["issuers"] = [issuer_entry(key, max_token_age_seconds=60)]
        return base, "Bearer " + key.sign(claims(iat=now - 600, nbf=now - 600))
    if reason == "client_not_allowed":
        base["issuers"] = [issuer_entry(key, allowed_client_ids=["other"])]
        return base, "Bearer " + key.sign(claims())
    if reason == "wrong_tenant":
        base["issuers"] = [issuer_entry(key, issuer=entra_iss, profile="entra-id")]
        return base, "Bearer " + key.sign(claims(iss=entra_iss, tid=OTHER_TENANT))
    if reason == "first_party_token":
        base["issuers"] = [issuer_entry(key, issuer=entra_iss, profile="entra-id")]
        return base, "Bearer " + key.sign(claims(iss=entra_iss, tid=ENTRA_TENANT), {"nonce": "n"})
    if reason == "wrong_token_use":
        base["issuers"] = [issuer_entry(key, token_types=["at+jwt"])]
        return base, "Bearer " + key.sign(claims())
    if reason == "unsupported_header":
        return base, "Bearer " + key.sign(claims(), {"crit": ["exp"]})
    raise AssertionError(reason)


REASONS_401 = [
    "missing_token",
    "malformed_token",
    "token_too_large",
    "unsupported_alg",
    "unsupported_header",
    "unknown_issuer",
    "unknown_kid",
    "first_party_token",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "issued_in_future",
    "token_too_old",
    "wrong_audience",
    "wrong_tenant",
    "wrong_token_use",
    "client_not_allowed",
    "claim_mismatch",
]


@pytest.mark.parametrize("reason", REASONS_401)
def test_every_token_reason_is_401_logged_and_counted(
    key: SigningKey,
    reason: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    document, credential = reason_token(key, reason)
    authorizer = make_authorizer(document)
    capsys.readouterr()
    caplog.clear()
    unauthorized(authorizer, token_event(credential))
    (denial,) = [r for r in caplog.records if r.getMessage() == "request denied"]
    assert denial.reason == reason  # type: ignore[attr-defined]
    assert denial.status == 401  # type: ignore[attr-defined]
    printed = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    metrics = next(line for line in printed if "_aws" in line)
    assert metrics[f"Reason_{reason}"] == [1.0]
    assert metrics["Unauthorized"] == [1.0]
    secret = credential.removeprefix("Bearer ")
    if len(secret) > 16:
        logged = [json.dumps(vars(record), default=str) for record in caplog.records]
        assert all(secret not in line for line in logged + [json.dumps(p) for p in printed])


@pytest.mark.parametrize("reason", ["insufficient_scope", "route_not_permitted"])
def test_access_reasons_are_403_with_an_explicit_deny(
    authorizer: Authorizer, key: SigningKey, reason: str
) -> None:
    arn = REST_ARN.replace(
        "/GET/orders", "/POST/orders" if reason == "insufficient_scope" else "/GET/unlisted"
    )
    answer = authorizer(token_event("Bearer " + key.sign(claims(scp="app.read")), arn), None)
    statements = answer["policyDocument"]["Statement"]
    assert {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": arn} in statements
    assert answer["context"]["reason"] == reason


def test_keys_unavailable_is_a_distinct_500(
    key: SigningKey, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = {
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "jwks_uri": f"http://127.0.0.1:{closed_port()}/keys",
    }
    authorizer = Authorizer.from_environ({"AUTH_CONFIG": json.dumps({"issuers": [entry]})})
    capsys.readouterr()
    with pytest.raises(KeysUnavailable) as caught:
        authorizer(token_event("Bearer " + key.sign(claims())), None)
    assert (type(caught.value), str(caught.value), caught.value.detail) == (
        KeysUnavailable,
        "signing keys are unavailable",
        "no keys fetched yet",
    )
    metrics = metrics_line(capsys.readouterr().out)
    assert (metrics["KeysUnavailable"], "Unauthorized" in metrics) == ([1.0], False)


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        "x",
        {},
        {"type": "TOKEN"},
        {"type": "TOKEN", "methodArn": "garbage", "authorizationToken": "Bearer a"},
        {"type": "WEIRD", "methodArn": REST_ARN},
        {"version": "2.0", "routeArn": 5},
    ],
)
def test_malformed_events_are_401(authorizer: Authorizer, event: Any) -> None:
    unauthorized(authorizer, event)


class BrokenValidator(TokenValidator):
    """A validator with a bug: every token raises an exception no stage raises on purpose."""

    def validate(self, token: str, *, deadline: float | None = None) -> Principal:
        raise ZeroDivisionError("boom")


def test_unexpected_errors_fail_closed(key: SigningKey) -> None:
    config = parse_config({"issuers": [issuer_entry(key)], "routes": RULES})
    broken = BrokenValidator(
        config.issuers,
        KeyRegistry(config.keys, fetcher=NoNetworkFetcher()),
        max_token_bytes=config.max_token_bytes,
        verified_token_cache_size=config.verified_token_cache_size,
    )
    observer = RecordingObserver()
    authorizer = Authorizer(config, broken, observer)
    unauthorized(authorizer, token_event("Bearer " + key.sign(claims())))
    (denial,) = observer.denials
    assert (denial["reason"], denial["error_type"], denial["location"].split(":")[0]) == (
        "internal_error",
        "ZeroDivisionError",
        "test_handler.py",
    )
    assert (observer.counts["InternalError"], observer.counts["Unauthorized"]) == (1, 0)


class TestContext:
    def test_non_scalars_are_flattened_for_rest(self, key: SigningKey) -> None:
        document = {
            "issuers": [issuer_entry(key)],
            "context_claims": {"emails": "emails", "extra": "ext", "flag": "f"},
        }
        authorizer = make_authorizer(document)
        token = key.sign(claims(emails=["a@x", "b@x"], ext={"b": 1, "a": [2]}, f=True))
        context = authorizer(token_event("Bearer " + token), None)["context"]
        assert {k: context[k] for k in ("emails", "extra", "flag")} == {
            "emails": "a@x b@x",
            "extra": '{"a":[2],"b":1}',
            "flag": True,
        }

    def test_size_budget_drops_what_does_not_fit(
        self, key: SigningKey, capsys: pytest.CaptureFixture[str]
    ) -> None:
        document = {
            "issuers": [issuer_entry(key)],
            "context_claims": {"blob": "blob", "tiny": "tfp"},
            "context_max_bytes": 1024,
        }
        authorizer = make_authorizer(document)
        capsys.readouterr()
        token = key.sign(claims(blob="x" * 3000, exp=2000000000))
        context = authorizer(token_event("Bearer " + token), None)["context"]
        assert context == {
            "sub": SUBJECT,
            "issuer": ISSUER,
            "client_id": CLIENT_ID,
            "scopes": "app.read app.write",
            "token_expires": 2000000000,
            "tenant": B2C_TENANT,
            "tiny": "B2C_1A_SIGNUP_SIGNIN",
        }
        assert metrics_line(capsys.readouterr().out)["ContextTruncated"] == [1.0]

    def test_principal_falls_back_to_client_id(self, key: SigningKey) -> None:
        authorizer = make_authorizer({"issuers": [issuer_entry(key)]})
        answer = authorizer(token_event("Bearer " + key.sign(claims(sub=None))), None)
        assert (answer["principalId"], answer["context"]["sub"]) == (CLIENT_ID, CLIENT_ID)

    def test_without_subject_or_client_the_principal_is_the_token_hash(
        self, key: SigningKey
    ) -> None:
        authorizer = make_authorizer({"issuers": [issuer_entry(key)]})
        token = key.sign(claims(sub=None, azp=None))
        answer = authorizer(token_event("Bearer " + token), None)
        assert answer["principalId"] == f"token:{token_hash(token)}"


def test_key_fetches_during_init_reach_the_observer(key: SigningKey) -> None:
    """Keys download while Powertools is imported; their outcome must still be logged/counted."""
    url = "https://idp.example/keys"
    fetcher = ServingFetcher({url: {"keys": [key.public_jwk()]}})
    observer = RecordingObserver()
    entry = {"issuer": ISSUER, "audiences": [AUDIENCE], "jwks_uri": url}
    authorizer = Authorizer.from_environ(
        {"AUTH_CONFIG": json.dumps({"issuers": [entry]})}, fetcher=fetcher, observer=observer
    )
    assert observer.fetches == [(True, "prefetch", "1 keys, 0 skipped")]
    assert observer.counts["KeySetFetches"] == 1
    assert authorizer(token_event("Bearer " + key.sign(claims())), None)["principalId"] == SUBJECT
    assert fetcher.calls == [url]


# Denial log lines carry the values each stage compared (errors.facts), never the token.


@pytest.fixture(scope="module")
def facts_key() -> SigningKey:
    return SigningKey.generate("RS256", kid="facts-1")


def denial_fields(
    document: dict[str, Any], credential: str, caplog: pytest.LogCaptureFixture
) -> dict[str, Any]:
    """The one ``request denied`` record's fields for ``credential``."""
    authorizer = make_authorizer(document)
    caplog.clear()
    unauthorized(authorizer, token_event("Bearer " + credential))
    (record,) = [r for r in caplog.records if r.getMessage() == "request denied"]
    fields = dict(vars(record))
    assert credential not in repr(fields)
    return fields


def test_wrong_audience_names_both_sides(
    facts_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    document = {"issuers": [issuer_entry(facts_key)]}
    fields = denial_fields(document, facts_key.sign(claims(aud=["api://x", "api://y/"])), caplog)
    assert fields["reason"] == "wrong_audience"
    assert fields["token_aud"] == ["api://x", "api://y/"]
    assert fields["audiences"] == [AUDIENCE]


def test_unknown_issuer_names_the_closest_configured_one(
    facts_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    fields = denial_fields(
        {"issuers": [issuer_entry(facts_key)]}, facts_key.sign(claims(iss=ISSUER + "x")), caplog
    )
    assert fields["reason"] == "unknown_issuer"
    assert fields["issuer"] == ISSUER + "x"
    assert fields["closest_issuer"] == ISSUER
    far = denial_fields(
        {"issuers": [issuer_entry(facts_key)]}, facts_key.sign(claims(iss="urn:zzz")), caplog
    )
    assert far["closest_issuer"] is None


def test_time_claims_name_the_clock_and_the_leeway(
    facts_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    exp = int(time.time()) - 3600
    fields = denial_fields(
        {"issuers": [issuer_entry(facts_key)]}, facts_key.sign(claims(exp=exp)), caplog
    )
    assert fields["reason"] == "expired"
    assert fields["exp"] == exp
    assert fields["leeway"] == 60
    assert abs(fields["now"] - time.time()) < 60


def test_tenant_and_client_name_what_was_expected(
    facts_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    entra = {"issuers": [issuer_entry(facts_key, issuer=ENTRA_ISSUER, profile="entra-id")]}
    other = OTHER_TENANT
    fields = denial_fields(entra, facts_key.sign(claims(iss=ENTRA_ISSUER, tid=other)), caplog)
    assert (fields["token_tid"], fields["expected_tenant"]) == (other, ENTRA_TENANT)
    clients = {"issuers": [issuer_entry(facts_key, allowed_client_ids=["a", "b"])]}
    fields = denial_fields(clients, facts_key.sign(claims(azp="intruder")), caplog)
    assert fields["token_client_id"] == "intruder"
    assert fields["allowed_client_ids"] == ["a", "b"]


def test_algorithm_and_required_claims(
    facts_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    required = {"issuers": [issuer_entry(facts_key, required_claims={"tfp": ["B2C_1A_X"]})]}
    fields = denial_fields(required, facts_key.sign(claims(tfp="B2C_1_other")), caplog)
    assert (fields["claim"], fields["token_value"], fields["accepted"]) == (
        "tfp",
        "B2C_1_other",
        ["B2C_1A_X"],
    )
    ps = SigningKey.generate("PS256", kid="facts-1")
    fields = denial_fields(
        {"issuers": [issuer_entry(facts_key)]}, ps.sign(claims(), alg="PS256"), caplog
    )
    assert (fields["alg"], fields["algorithms"]) == ("PS256", ["RS256"])


def test_unknown_kid_lists_the_published_kids(
    facts_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    fields = denial_fields(
        {"issuers": [issuer_entry(facts_key)]}, facts_key.sign(claims(), kid="other"), caplog
    )
    assert fields["reason"] == "unknown_kid"
    assert fields["known_kids"] == ["facts-1"]


def test_hostile_values_are_bounded_and_escaped(
    facts_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    aud = ["\u2028evil\x00" + "a" * 500] + [f"x{i}" for i in range(50)]
    fields = denial_fields(
        {"issuers": [issuer_entry(facts_key)]}, facts_key.sign(claims(aud=aud)), caplog
    )
    shown = fields["token_aud"]
    assert len(shown) == FACT_ITEMS + 1
    assert shown[-1] == f"+{len(aud) - FACT_ITEMS} more"
    assert shown[0].startswith("\\u2028evil\\u0000")
    assert len(shown[0]) <= FACT_CHARS + 20


def test_keys_unavailable_names_the_source_and_the_discovery_mismatch_whole(
    facts_key: SigningKey,
) -> None:
    """A B2C-style mismatch: the denial names the discovery URL fetched, the issuer it named and
    the issuer expected, whole (not cut at the 120 characters of a token's values)."""
    discovery = (
        "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1A_SIGNUP_SIGNIN_WITH_A_LONG"
        "_POLICY_NAME/v2.0/.well-known/openid-configuration"
    )
    named = "https://contoso.b2clogin.com/tfp/contoso.onmicrosoft.com/b2c_1a_signup_signin/v2.0/"
    fetcher = ServingFetcher({discovery: {"issuer": named, "jwks_uri": "https://a.example/k"}})
    observer = RecordingObserver()
    entry = {"issuer": ISSUER, "audiences": [AUDIENCE], "discovery_url": discovery}
    authorizer = Authorizer.from_environ(
        {"AUTH_CONFIG": json.dumps({"issuers": [entry]})}, fetcher=fetcher, observer=observer
    )
    with pytest.raises(KeysUnavailable):
        authorizer(token_event("Bearer " + facts_key.sign(claims())), None)
    (denial,) = observer.denials
    assert (denial["reason"], denial["key_source"], denial["last_fetch_error"]) == (
        "keys_unavailable",
        discovery,
        f"discovery document names a different issuer: {named!r} at {discovery}, expected"
        f" {ISSUER!r}",
    )
