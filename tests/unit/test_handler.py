"""The answer contract for every event type, and the 401/403/500 mapping of every reason code."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

from jwt_authorizer import Authorizer, KeysUnavailable
from tests.support.constants import AUDIENCE, ISSUER
from tests.support.profiles import ENTRA_TENANT
from tests.support.signing import SigningKey, claims
from tests.support.stages import issuer_entry, make_authorizer

REST_ARN = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/GET/orders"
ROUTE_ARN = "arn:aws:execute-api:eu-west-1:123456789012:h7t8p9/$default/GET/orders"
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
        "routeArn": f"arn:aws:execute-api:eu-west-1:123456789012:h7t8p9/$default/{method}{path}",
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
        answer = authorizer(token_event("Bearer " + key.sign(claims(scp="app.read"))), None)
        assert set(answer) == {"principalId", "policyDocument", "context"}
        assert answer["principalId"] == claims()["sub"]
        assert set(answer["policyDocument"]) == {"Version", "Statement"}
        assert answer["policyDocument"]["Version"] == "2012-10-17"
        for statement in answer["policyDocument"]["Statement"]:
            assert set(statement) == {"Action", "Effect", "Resource"}
        no_nulls(answer)
        context = answer["context"]
        assert context["sub"] == claims()["sub"]
        assert context["issuer"] == ISSUER
        assert context["client_id"] == claims()["azp"]
        assert context["scopes"] == "app.read"
        assert isinstance(context["token_expires"], int)
        assert all(isinstance(v, str | int | float | bool) for v in context.values())

    @pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "  Bearer", "Bearer\t"])
    def test_scheme_is_case_insensitive_and_trimmed(
        self, authorizer: Authorizer, key: SigningKey, scheme: str
    ) -> None:
        token = key.sign(claims(scp="app.read"))
        assert authorizer(token_event(f"{scheme} {token}  "), None)["principalId"]

    @pytest.mark.parametrize("value", ["", "   ", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz"])
    def test_missing_or_non_bearer_credentials_are_401(
        self, authorizer: Authorizer, value: str
    ) -> None:
        unauthorized(authorizer, token_event(value))

    def test_bare_token_only_when_configured(self, key: SigningKey) -> None:
        token = key.sign(claims(scp="app.read"))
        unauthorized(make_authorizer({"issuers": [issuer_entry(key)]}), token_event(token))
        lenient = make_authorizer({"issuers": [issuer_entry(key)], "allow_bare_token": True})
        assert lenient(token_event(token), None)["principalId"]


class TestRestRequestAndHttp10:
    def test_request_event_reads_the_header_case_insensitively(
        self, authorizer: Authorizer, key: SigningKey
    ) -> None:
        event = request_event({"authorization": "Bearer " + key.sign(claims(scp="app.read"))})
        assert authorizer(event, None)["principalId"] == claims()["sub"]

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
        assert by_query(event, None)["principalId"]

    def test_token_from_cookie(self, key: SigningKey) -> None:
        token = key.sign(claims(scp="app.read"))
        authorizer = make_authorizer(
            {"issuers": [issuer_entry(key)], "token_sources": [{"cookie": "at"}]}
        )
        assert authorizer(request_event({"Cookie": f"theme=dark; at={token}"}), None)["principalId"]
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
        assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"

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
        statements = authorizer(event, None)["policyDocument"]["Statement"]
        assert any(s["Effect"] == "Allow" for s in statements)


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
        resources = answer["policyDocument"]["Statement"][0]["Resource"]
        assert f"{ROUTE_ARN.rsplit('/GET', 1)[0]}/GET/orders" in resources

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
        return base, "Bearer " + key.sign(
            claims(iss=entra_iss, tid="11111111-2222-3333-4444-555555555555")
        )
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


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_keys_unavailable_is_a_distinct_500(
    key: SigningKey, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = {
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "jwks_uri": f"http://127.0.0.1:{closed_port()}/keys",
    }
    authorizer = Authorizer.from_environ({"AUTH_CONFIG": json.dumps({"issuers": [entry]})})
    with pytest.raises(KeysUnavailable) as caught:
        authorizer(token_event("Bearer " + key.sign(claims())), None)
    assert str(caught.value) != "Unauthorized"
    output = capsys.readouterr().out
    assert '"KeysUnavailable":[1.0]' in output.replace(" ", "")


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


def test_unexpected_errors_fail_closed(
    authorizer: Authorizer,
    key: SigningKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken(token: str) -> Any:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(authorizer._validator, "validate", broken)
    unauthorized(authorizer, token_event("Bearer " + key.sign(claims())))
    assert '"InternalError":[1.0]' in capsys.readouterr().out.replace(" ", "")


class TestContext:
    def test_non_scalars_are_flattened_for_rest(self, key: SigningKey) -> None:
        document = {
            "issuers": [issuer_entry(key)],
            "context_claims": {"emails": "emails", "extra": "ext", "flag": "f"},
        }
        authorizer = make_authorizer(document)
        token = key.sign(claims(emails=["a@x", "b@x"], ext={"b": 1, "a": [2]}, f=True))
        context = authorizer(token_event("Bearer " + token), None)["context"]
        assert context["emails"] == "a@x b@x"
        assert context["extra"] == '{"a":[2],"b":1}'
        assert context["flag"] is True

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
        context = authorizer(token_event("Bearer " + key.sign(claims(blob="x" * 3000))), None)[
            "context"
        ]
        assert "blob" not in context
        assert context["tiny"] == claims()["tfp"]
        assert len(json.dumps(context)) <= 1024
        assert '"ContextTruncated":[1.0]' in capsys.readouterr().out.replace(" ", "")

    def test_principal_falls_back_to_client_id(self, key: SigningKey) -> None:
        authorizer = make_authorizer({"issuers": [issuer_entry(key)]})
        assert (
            authorizer(token_event("Bearer " + key.sign(claims(sub=None))), None)["principalId"]
            == claims()["azp"]
        )


def test_key_fetches_during_init_reach_the_observer(key: SigningKey) -> None:
    """Keys download while Powertools is imported; their outcome must still be logged/counted."""
    from jwt_authorizer.observe import Observer

    class Recording(Observer):
        def __init__(self) -> None:
            super().__init__()
            self.fetches: list[bool] = []

        def key_fetch(self, source: str, *, ok: bool, trigger: str, detail: str) -> None:
            self.fetches.append(ok)

    class Served:
        def get_json(self, url: str, *, ca_bundle: str | None) -> object:
            return {"keys": [key.public_jwk()]}

    observer = Recording()
    entry = {"issuer": ISSUER, "audiences": [AUDIENCE], "jwks_uri": "https://idp.example/keys"}
    authorizer = Authorizer.from_environ(
        {"AUTH_CONFIG": json.dumps({"issuers": [entry]})}, fetcher=Served(), observer=observer
    )
    assert observer.fetches == [True]
    assert authorizer(token_event("Bearer " + key.sign(claims())), None)["principalId"]
