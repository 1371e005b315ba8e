"""The introspection stage without a network: its configuration contract, its cache, its client
secret, the claim rules an answer goes through, and what the handler makes of each outcome.

The endpoint here is a :class:`ScriptedPoster` (the stage's ``FormPoster`` seam) that answers
from a table; tests/integration/test_introspection.py does the same over real HTTP(S) against the
local identity provider.
"""

from __future__ import annotations

import base64
import gc
import json
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jwt_authorizer import Authorizer
from jwt_authorizer.config import parse_config
from jwt_authorizer.errors import (
    ConfigError,
    IntrospectionClientRejected,
    IntrospectionUnavailable,
)
from jwt_authorizer.fetch import FetchError, HttpFetcher, Reply
from jwt_authorizer.handler import build_introspection
from jwt_authorizer.introspect import Introspection
from jwt_authorizer.introspection_cache import Answer
from jwt_authorizer.keyring import KeyRegistry
from jwt_authorizer.observe import Observer
from jwt_authorizer.validator import TokenValidator
from tests.support.clock import FakeClock
from tests.support.constants import AUDIENCE, ISSUER
from tests.support.fetchers import NoNetworkFetcher
from tests.support.signing import SigningKey, claims
from tests.support.stages import issuer_entry

WSO2 = "https://is.example.com:9443/oauth2/token"
ENDPOINT = "https://is.example.com:9443/oauth2/introspect"
SECRET_REF = "ssm:/authorizer/introspection-secret"
SECRET = "s3cr3t-value"
OPAQUE = "6f1c2e3a-8b4d-4f6e-9a0b-1c2d3e4f5a6b"
REST_ARN = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/{method}/{path}"
RULES = [
    {"route": "GET /orders", "scopes": ["orders:read"]},
    {"route": "POST /orders", "scopes": ["orders:write"]},
]


def wso2_entry(**overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "issuer": WSO2,
        "audiences": ["reader-app", "writer-app"],
        "profile": "wso2",
        "jwks_uri": "https://is.example.com:9443/oauth2/jwks",
        "introspection_endpoint": ENDPOINT,
        "introspection_client_id": "authorizer",
        "introspection_client_secret": SECRET_REF,
        "opaque_tokens": True,
    }
    entry.update(overrides)
    return {key: value for key, value in entry.items() if value is not None}


def active(**members: Any) -> dict[str, Any]:
    now = int(time.time())
    answer = {
        "active": True,
        "aut": "APPLICATION",
        "scope": "orders:read",
        "client_id": "reader-app",
        "token_type": "Bearer",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
    }
    answer.update(members)
    return {key: value for key, value in answer.items() if value is not None}


class ScriptedPoster:
    """Answers every POST with ``reply`` (a function of the form and headers, or a fixed Reply);
    records each request."""

    def __init__(self, reply: Reply | Callable[[Mapping[str, str], Mapping[str, str]], Reply]):
        self.reply = reply
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self._lock = threading.Lock()

    def post_form(
        self,
        url: str,
        form: Mapping[str, str],
        *,
        headers: Mapping[str, str],
        ca_bundle: str | None,
    ) -> Reply:
        with self._lock:
            self.requests.append((url, dict(form), dict(headers)))
        if callable(self.reply):
            return self.reply(form, headers)
        return self.reply

    @property
    def calls(self) -> int:
        return len(self.requests)


def json_reply(document: object, status: int = 200) -> Reply:
    body = json.dumps(document).encode()
    return Reply(status=status, document=document, size=len(body))


def secrets(*values: str) -> Callable[[str, bool], str]:
    """A secret store holding ``values`` in turn: each forced read moves to the next one."""
    state = {"index": 0, "reads": 0, "forced": 0}

    def read(reference: str, force: bool) -> str:
        assert reference == SECRET_REF
        state["reads"] += 1
        if force:
            state["forced"] += 1
            state["index"] = min(state["index"] + 1, len(values) - 1)
        return values[state["index"]]

    read.state = state  # type: ignore[attr-defined]
    return read


class RecordingObserver(Observer):
    def __init__(self) -> None:
        super().__init__(service="unit-tests", namespace="UnitTests")
        self.counts: dict[str, int] = {}
        self.denials: list[dict[str, Any]] = []

    def count(self, name: str, value: float = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + int(value)

    def flush(self) -> None:
        return None

    def denied(self, *, level: int, reason: str, **fields: Any) -> None:
        self.denials.append({"level": level, "reason": reason, **fields})


def build(
    document: dict[str, Any],
    poster: ScriptedPoster,
    *,
    read_secret: Callable[[str, bool], str] | None = None,
    clock: FakeClock | None = None,
) -> tuple[Authorizer, RecordingObserver, Introspection]:
    config = parse_config(document)
    observer = RecordingObserver()
    clock = clock if clock is not None else FakeClock()
    introspection = build_introspection(
        config,
        clock=clock,
        events=observer,
        poster=poster,
        read_secret=read_secret if read_secret is not None else secrets(SECRET),
    )
    validator = TokenValidator(
        config.issuers,
        KeyRegistry(config.keys, fetcher=NoNetworkFetcher()),
        max_token_bytes=config.max_token_bytes,
        verified_token_cache_size=config.verified_token_cache_size,
        introspection=introspection,
    )
    return Authorizer(config, validator, observer), observer, introspection


def call(authorizer: Authorizer, token: str, method: str = "GET", path: str = "orders") -> str:
    """``allow``, ``deny`` (an explicit Deny: 403) or ``unauthorized`` (401)."""
    event = {
        "type": "TOKEN",
        "authorizationToken": f"Bearer {token}",
        "methodArn": REST_ARN.format(method=method, path=path),
    }
    try:
        answer = authorizer(event)
    except Exception as err:
        if str(err) == "Unauthorized":
            return "unauthorized"
        raise
    effects = {statement["Effect"] for statement in answer["policyDocument"]["Statement"]}
    return "allow" if effects == {"Allow"} else "deny"


# --------------------------------------------------------------------------- configuration


def config_error(entry: dict[str, Any], **top: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config({"issuers": [entry], **top})
    return caught.value


def test_defaults() -> None:
    config = parse_config({"issuers": [wso2_entry()]})
    spec = config.issuers[0].introspection
    assert spec is not None
    assert (spec.endpoint, spec.client_id) == (ENDPOINT, "authorizer")
    assert spec.client_secret == SECRET_REF
    assert spec.auth_method == "client_secret_basic"
    assert (spec.opaque_tokens, spec.introspect_jwts) == (True, False)
    assert (spec.cache_seconds, spec.jwt_cache_seconds) == (60, 60)
    assert (spec.inactive_cache_seconds, spec.stale_seconds) == (30, 0)
    assert config.introspecting
    plain = wso2_entry(
        introspection_endpoint=None,
        **dict.fromkeys(
            ("introspection_client_id", "introspection_client_secret", "opaque_tokens")
        ),
    )
    assert not parse_config({"issuers": [plain]}).introspecting


@pytest.mark.parametrize(
    "reference",
    [
        "ssm:/authorizer/introspection-secret",
        "ssm:authorizer-secret",
        "secretsmanager:prod/authorizer/introspection",
        "secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:rs-AbCdEf",
    ],
)
def test_secret_references(reference: str) -> None:
    config = parse_config({"issuers": [wso2_entry(introspection_client_secret=reference)]})
    assert config.issuers[0].introspection is not None
    assert config.issuers[0].introspection.client_secret == reference


@pytest.mark.parametrize(
    "value",
    ["hunter2-Secret-Value", "ssm:", "ssm:/a b", "secretsmanager:", "vault:/x", "", 42, ["ssm:/x"]],
)
def test_a_secret_in_the_document_is_an_init_error_that_does_not_repeat_it(value: Any) -> None:
    err = config_error(wso2_entry(introspection_client_secret=value))
    assert err.field == "issuers[0].introspection_client_secret"
    assert "never the secret itself" in err.problem
    if isinstance(value, str) and value not in ("", "ssm:", "secretsmanager:"):
        assert value not in str(err)  # it may be the secret itself


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"introspection_client_id": None}, "introspection_client_id", "is required"),
        ({"introspection_client_secret": None}, "introspection_client_secret", "is required"),
        (
            {"introspection_endpoint": "http://is.example.com/introspect"},
            "introspection_endpoint",
            "https",
        ),
        ({"opaque_tokens": False}, "introspection_endpoint", "opaque_tokens or introspect_jwts"),
        ({"opaque_tokens": None}, "introspection_endpoint", "opaque_tokens or introspect_jwts"),
        (
            {"introspection_auth_method": "private_key_jwt"},
            "introspection_auth_method",
            "client_secret_basic, client_secret_post",
        ),
        ({"opaque_tokens": "yes"}, "opaque_tokens", "true or false"),
        ({"introspection_cache_seconds": 901}, "introspection_cache_seconds", "15 minutes"),
        ({"introspection_stale_seconds": 301}, "introspection_stale_seconds", "5 minutes"),
        (
            {"introspection_inactive_cache_seconds": -1},
            "introspection_inactive_cache_seconds",
            ">= 0",
        ),
        (
            {"introspection_jwt_cache_seconds": 30},
            "introspection_jwt_cache_seconds",
            "only with introspect_jwts",
        ),
        (
            {"opaque_tokens": None, "introspect_jwts": True, "introspection_cache_seconds": 30},
            "introspection_cache_seconds",
            "only with opaque_tokens",
        ),
        ({"introspection_endpoint": None}, "introspection_client_id", "applies only with"),
        (
            {
                "issuer": "https://login.example.com/{tenantid}/v2.0",
                "tenants": ["2b7e4c91-58a3-4f0d-96c2-e1a07b3d5f84"],
            },
            "opaque_tokens",
            "names no tenant",
        ),
        ({"introspection_endpint": ENDPOINT}, "introspection_endpint", "typo"),
    ],
)
def test_weakening_or_ignored_settings_fail_init(
    overrides: dict[str, Any], field: str, fragment: str
) -> None:
    err = config_error(wso2_entry(**overrides))
    assert err.field == f"issuers[0].{field}", err
    assert fragment in err.problem, err.problem


def test_every_introspection_setting_without_an_endpoint_is_an_error() -> None:
    for key, value in [
        ("introspection_auth_method", "client_secret_post"),
        ("opaque_tokens", False),
        ("introspect_jwts", True),
        ("introspection_inactive_cache_seconds", 10),
        ("introspection_stale_seconds", 0),
    ]:
        entry = {"issuer": ISSUER, "audiences": [AUDIENCE], key: value}
        assert config_error(entry).field == f"issuers[0].{key}"


def test_only_one_issuer_takes_opaque_tokens() -> None:
    second = wso2_entry(issuer="https://is.example.com:9443/t/contoso/oauth2/token")
    with pytest.raises(ConfigError) as caught:
        parse_config({"issuers": [wso2_entry(), second]})
    assert caught.value.field == "issuers[1].opaque_tokens"
    assert "issuers[0] already takes" in caught.value.problem
    # a revocation check on the second one is fine
    second = wso2_entry(issuer=second["issuer"], opaque_tokens=None, introspect_jwts=True)
    assert parse_config({"issuers": [wso2_entry(), second]}).introspecting


def test_the_introspection_object_needs_an_introspecting_issuer() -> None:
    plain = {"issuer": ISSUER, "audiences": [AUDIENCE]}
    err = config_error(plain, introspection={"cache_entries": 10})
    assert err.field == "introspection"
    err = config_error(wso2_entry(), introspection={"cache_entrys": 10})
    assert err.field == "introspection.cache_entrys"
    config = parse_config({"issuers": [wso2_entry()], "introspection": {"cache_entries": 10}})
    assert config.introspection.cache_entries == 10


# --------------------------------------------------------------------------- which tokens


def test_which_tokens_go_to_introspection() -> None:
    _, _, stage = build({"issuers": [wso2_entry()]}, ScriptedPoster(json_reply(active())))
    assert stage.takes(OPAQUE)
    assert stage.takes("a")
    assert stage.takes("abc.def")  # not three segments
    assert stage.takes("a.b.c.d.e")  # a JWE-shaped token: the issuer decides, we never decrypt
    assert stage.takes("mF_9B5f-41JqM/+~==")
    assert not stage.takes("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")  # a JWT's shape
    assert not stage.takes("a..b")  # three segments, one empty: a malformed JWT
    assert not stage.takes("token with spaces")
    assert not stage.takes("t\u00f6ken")
    assert not stage.takes("a=b")  # "=" only at the end
    assert not stage.takes("x" * 16385)  # over max_token_bytes: token_too_large as before


def test_without_an_opaque_issuer_nothing_is_called(rsa_key: SigningKey) -> None:
    poster = ScriptedPoster(json_reply(active()))
    entry = issuer_entry(
        rsa_key,
        introspection_endpoint=ENDPOINT,
        introspection_client_id="authorizer",
        introspection_client_secret=SECRET_REF,
        introspect_jwts=True,
    )
    authorizer, observer, stage = build({"issuers": [entry]}, poster)
    assert not stage.takes(OPAQUE)
    assert call(authorizer, OPAQUE) == "unauthorized"
    assert observer.denials[-1]["reason"] == "malformed_token"
    assert poster.calls == 0


# --------------------------------------------------------------------------- the request


def test_basic_authentication_form_encodes_both_parts() -> None:
    poster = ScriptedPoster(json_reply(active()))
    read = secrets("p@ss:w rd/+")
    authorizer, _, _ = build(
        {"issuers": [wso2_entry(introspection_client_id="rs:1")], "routes": RULES},
        poster,
        read_secret=read,
    )
    assert call(authorizer, OPAQUE) == "allow"
    url, form, headers = poster.requests[0]
    assert url == ENDPOINT
    assert form == {"token": OPAQUE, "token_type_hint": "access_token"}
    scheme, _, credentials = headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(credentials).decode() == "rs%3A1:p%40ss%3Aw+rd%2F%2B"


def test_form_post_authentication() -> None:
    poster = ScriptedPoster(json_reply(active()))
    document = {"issuers": [wso2_entry(introspection_auth_method="client_secret_post")]}
    authorizer, _, _ = build(document, poster)
    assert call(authorizer, OPAQUE) == "allow"
    _, form, headers = poster.requests[0]
    assert "Authorization" not in headers
    assert form == {
        "token": OPAQUE,
        "token_type_hint": "access_token",
        "client_id": "authorizer",
        "client_secret": SECRET,
    }


# --------------------------------------------------------------------------- answers and rules


def test_an_opaque_token_gets_the_route_rules_of_its_issuer() -> None:
    poster = ScriptedPoster(json_reply(active(scope="orders:read other")))
    authorizer, observer, _ = build({"issuers": [wso2_entry()], "routes": RULES}, poster)
    assert call(authorizer, OPAQUE, "GET") == "allow"
    assert call(authorizer, OPAQUE, "POST") == "deny"
    assert observer.denials[-1]["reason"] == "insufficient_scope"
    assert call(authorizer, OPAQUE, "DELETE") == "deny"
    assert observer.denials[-1]["reason"] == "route_not_permitted"
    assert poster.calls == 1  # one call, then the cache


def test_the_principal_and_context_come_from_the_answer() -> None:
    poster = ScriptedPoster(json_reply(active(username="alice@carbon.super", scope="a b\tc")))
    document = {"issuers": [wso2_entry()], "context_claims": {"user": "username", "aut": "aut"}}
    authorizer, _, _ = build(document, poster)
    event = {"type": "TOKEN", "authorizationToken": f"Bearer {OPAQUE}",
             "methodArn": REST_ARN.format(method="GET", path="orders")}  # fmt: skip
    answer = authorizer(event)
    assert answer["principalId"] == "alice@carbon.super"  # no sub: username, then client id
    context = answer["context"]
    assert context["issuer"] == WSO2
    assert context["client_id"] == "reader-app"
    assert context["scopes"] == "a b\tc"  # split on U+0020 only
    assert context["user"] == "alice@carbon.super"
    assert context["aut"] == "APPLICATION"
    assert isinstance(context["token_expires"], int)


@pytest.mark.parametrize(
    ("members", "entry", "reason"),
    [
        ({"exp": None}, {}, "claim_mismatch"),
        ({"exp": int(time.time()) - 120}, {}, "expired"),
        ({"nbf": int(time.time()) + 600}, {}, "not_yet_valid"),
        ({"client_id": "stranger-app"}, {}, "wrong_audience"),  # wso2: client id as audience
        ({"aud": "another-api"}, {}, "wrong_audience"),
        ({"iss": "https://other.example.com/oauth2/token"}, {}, "unknown_issuer"),
        ({}, {"allowed_client_ids": ["writer-app"]}, "client_not_allowed"),
        ({}, {"required_claims": {"aut": ["APPLICATION_USER"]}}, "claim_mismatch"),
        ({"iat": int(time.time()) - 7200}, {"max_token_age_seconds": 3600}, "token_too_old"),
    ],
)
def test_an_answer_goes_through_the_jwt_claim_rules(
    members: dict[str, Any], entry: dict[str, Any], reason: str
) -> None:
    poster = ScriptedPoster(json_reply(active(**members)))
    authorizer, observer, _ = build({"issuers": [wso2_entry(**entry)]}, poster)
    assert call(authorizer, OPAQUE) == "unauthorized"
    assert observer.denials[-1]["reason"] == reason
    assert observer.denials[-1]["issuer"] == WSO2
    assert call(authorizer, OPAQUE) == "unauthorized"  # the answer is cached, the rules re-run
    assert poster.calls == (2 if reason == "expired" else 1)  # an expired one is not cached


def test_leeway_and_audience_pass_where_a_jwt_would() -> None:
    poster = ScriptedPoster(json_reply(active(exp=int(time.time()) - 30, aud=["x", "writer-app"])))
    authorizer, _, _ = build({"issuers": [wso2_entry()]}, poster)
    assert call(authorizer, OPAQUE) == "allow"


def test_without_aud_other_profiles_fail_the_audience_check() -> None:
    poster = ScriptedPoster(json_reply(active()))
    authorizer, observer, _ = build({"issuers": [wso2_entry(profile="oidc")]}, poster)
    assert call(authorizer, OPAQUE) == "unauthorized"
    assert observer.denials[-1]["reason"] == "wrong_audience"
    poster.reply = json_reply(active(aud="reader-app"))
    authorizer, _, _ = build({"issuers": [wso2_entry(profile="oidc")]}, poster)
    assert call(authorizer, OPAQUE) == "allow"


def test_token_types_is_a_header_rule_and_does_not_apply() -> None:
    poster = ScriptedPoster(json_reply(active()))
    authorizer, _, _ = build({"issuers": [wso2_entry(token_types=["at+jwt"])]}, poster)
    assert call(authorizer, OPAQUE) == "allow"


def test_inactive_is_its_own_reason_and_is_remembered_briefly() -> None:
    clock = FakeClock()
    poster = ScriptedPoster(json_reply({"active": False}))
    authorizer, observer, _ = build({"issuers": [wso2_entry()]}, poster, clock=clock)
    assert call(authorizer, OPAQUE) == "unauthorized"
    assert observer.denials[-1]["reason"] == "token_inactive"
    assert observer.counts["Reason_token_inactive"] == 1
    clock.advance(29)
    assert call(authorizer, OPAQUE) == "unauthorized"
    assert poster.calls == 1
    clock.advance(1)
    assert call(authorizer, OPAQUE) == "unauthorized"
    assert poster.calls == 2


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("reply", "detail"),
    [
        (json_reply({"error": "server_error"}, 500), "HTTP 500"),
        (json_reply({"active": True}, 302), "HTTP 302"),
        (Reply(200, None, 120), "not a JSON object"),
        (json_reply(["active", True]), "not a JSON object"),
        (json_reply({"active": "true"}), "boolean active"),
        (json_reply({"scope": "orders:read"}), "boolean active"),
        (json_reply(active(exp="1767229200")), "member exp"),
        (json_reply(active(exp=True)), "member exp"),
        (json_reply(active(client_id=7)), "member client_id"),
        (json_reply(active(scope=["a", 1])), "member scope"),
        (json_reply(active(aud={"a": 1})), "member aud"),
    ],
)
def test_an_unusable_answer_is_an_uncached_500(reply: Reply, detail: str) -> None:
    poster = ScriptedPoster(reply)
    authorizer, observer, stage = build({"issuers": [wso2_entry()]}, poster)
    for _ in range(2):
        with pytest.raises(IntrospectionUnavailable) as caught:
            call(authorizer, OPAQUE)
        assert str(caught.value) != "Unauthorized"
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert poster.calls == 2  # never cached
    assert len(stage.cache) == 0
    assert observer.counts["IntrospectionUnavailable"] == 2
    assert observer.counts["IntrospectionCalls"] == 2
    assert observer.counts["IntrospectionCallFailures"] == 2
    assert "Unauthorized" not in observer.counts
    denial = observer.denials[-1]
    assert denial["reason"] == "introspection_unavailable"
    assert denial["status"] == 500
    assert denial["level"] >= 40  # ERROR
    assert denial["endpoint"] == ENDPOINT
    assert detail in denial["detail"]


def test_a_transport_failure_is_unavailable() -> None:
    def fail(form: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        raise FetchError(f"ConnectionError calling {ENDPOINT}")

    authorizer, observer, _ = build({"issuers": [wso2_entry()]}, ScriptedPoster(fail))
    with pytest.raises(IntrospectionUnavailable):
        call(authorizer, OPAQUE)
    assert "ConnectionError" in observer.denials[-1]["detail"]


@pytest.mark.parametrize(
    "reply",
    [
        json_reply({"error": "invalid_client"}, 401),
        Reply(401, None, 0),
        json_reply({"error": "invalid_client", "error_description": "bad"}, 400),
        json_reply({"error": "access_denied"}, 403),
    ],
)
def test_refused_client_credentials_are_a_configuration_error(reply: Reply) -> None:
    poster = ScriptedPoster(reply)
    read = secrets(SECRET)
    authorizer, observer, _ = build({"issuers": [wso2_entry()]}, poster, read_secret=read)
    with pytest.raises(IntrospectionClientRejected):
        call(authorizer, OPAQUE)
    denial = observer.denials[-1]
    assert denial["reason"] == "introspection_client_rejected"
    assert (denial["issuer"], denial["endpoint"]) == (WSO2, ENDPOINT)
    assert "'authorizer'" in denial["detail"]
    assert SECRET not in json.dumps(observer.denials)
    assert observer.counts["IntrospectionClientRejected"] == 1
    assert "Unauthorized" not in observer.counts
    assert read.state["forced"] == 1  # type: ignore[attr-defined]
    assert poster.calls == 1  # the secret did not change: no second call


def test_a_400_other_than_invalid_client_is_unavailable() -> None:
    poster = ScriptedPoster(json_reply({"error": "invalid_request"}, 400))
    authorizer, _, _ = build({"issuers": [wso2_entry()]}, poster)
    with pytest.raises(IntrospectionUnavailable):
        call(authorizer, OPAQUE)


def test_a_rotated_secret_is_read_again_and_the_call_retried() -> None:
    clock = FakeClock()

    def endpoint(form: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        expected = base64.b64encode(b"authorizer:new-secret").decode()
        if headers["Authorization"] == f"Basic {expected}":
            return json_reply(active())
        return json_reply({"error": "invalid_client"}, 401)

    poster = ScriptedPoster(endpoint)
    read = secrets("old-secret", "new-secret")
    authorizer, _, _ = build({"issuers": [wso2_entry()]}, poster, read_secret=read, clock=clock)
    assert call(authorizer, OPAQUE) == "allow"
    assert poster.calls == 2
    assert read.state["forced"] == 1  # type: ignore[attr-defined]


def test_a_refused_secret_is_read_again_at_most_once_a_minute() -> None:
    clock = FakeClock()
    poster = ScriptedPoster(json_reply({"error": "invalid_client"}, 401))
    read = secrets(SECRET)
    document = {"issuers": [wso2_entry(introspection_inactive_cache_seconds=0)]}
    authorizer, _, _ = build(document, poster, read_secret=read, clock=clock)
    for _ in range(3):
        with pytest.raises(IntrospectionClientRejected):
            call(authorizer, OPAQUE)
    assert read.state["forced"] == 1  # type: ignore[attr-defined]
    clock.advance(60)
    with pytest.raises(IntrospectionClientRejected):
        call(authorizer, OPAQUE)
    assert read.state["forced"] == 2  # type: ignore[attr-defined]


def test_an_unreadable_secret_fails_init_naming_the_field() -> None:
    def unreadable(reference: str, force: bool) -> str:
        raise RuntimeError("ParameterNotFound: Parameter /authorizer/introspection-secret")

    with pytest.raises(ConfigError) as caught:
        build({"issuers": [wso2_entry()]}, ScriptedPoster(json_reply(active())),
              read_secret=unreadable)  # fmt: skip
    assert caught.value.field == "issuers[0].introspection_client_secret"
    assert "ParameterNotFound" in caught.value.problem
    with pytest.raises(ConfigError) as caught:
        build({"issuers": [wso2_entry()]}, ScriptedPoster(json_reply(active())),
              read_secret=secrets(""))  # fmt: skip
    assert caught.value.problem == f"{SECRET_REF} is empty"


def test_a_store_that_fails_later_keeps_the_last_secret() -> None:
    calls = {"n": 0}

    def flaky(reference: str, force: bool) -> str:
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("throttled")
        return SECRET

    poster = ScriptedPoster(json_reply(active()))
    authorizer, _, _ = build({"issuers": [wso2_entry()]}, poster, read_secret=flaky)
    assert call(authorizer, OPAQUE) == "allow"
    expected = base64.b64encode(f"authorizer:{SECRET}".encode()).decode()
    assert poster.requests[0][2]["Authorization"] == f"Basic {expected}"


# --------------------------------------------------------------------------- the cache


def test_the_revocation_budget_is_the_cache_time_or_exp_whichever_comes_first() -> None:
    clock = FakeClock()
    poster = ScriptedPoster(json_reply(active()))
    document = {"issuers": [wso2_entry(introspection_cache_seconds=45)]}
    authorizer, _, _ = build(document, poster, clock=clock)
    assert call(authorizer, OPAQUE) == "allow"
    poster.reply = json_reply({"active": False})  # revoked
    clock.advance(44.9)
    assert call(authorizer, OPAQUE) == "allow"
    clock.advance(0.1)
    assert call(authorizer, OPAQUE) == "unauthorized"
    assert poster.calls == 2

    poster.reply = json_reply(active(exp=int(time.time()) + 10))  # expires before the budget
    authorizer, _, _ = build(document, poster, clock=clock)
    assert call(authorizer, OPAQUE) == "allow"
    clock.advance(11)
    assert call(authorizer, OPAQUE) == "allow"  # leeway: asked again, still active there
    assert poster.calls == 4


def test_cache_time_zero_asks_every_time() -> None:
    poster = ScriptedPoster(json_reply(active()))
    authorizer, _, stage = build({"issuers": [wso2_entry(introspection_cache_seconds=0)]}, poster)
    for _ in range(3):
        assert call(authorizer, OPAQUE) == "allow"
    assert poster.calls == 3
    assert len(stage.cache) == 0


def test_the_cache_holds_digests_never_the_token() -> None:
    poster = ScriptedPoster(json_reply(active()))
    authorizer, _, stage = build({"issuers": [wso2_entry()]}, poster)
    assert call(authorizer, OPAQUE) == "allow"
    keys = list(stage.cache._answers)
    assert len(keys) == 1
    assert len(keys[0]) == 32
    assert OPAQUE.encode() not in keys[0]
    assert OPAQUE not in repr(stage.cache._answers)
    # another execution environment digests under another key
    _, _, other = build({"issuers": [wso2_entry()]}, poster)
    assert stage._digest("opaque", WSO2, OPAQUE) != other._digest("opaque", WSO2, OPAQUE)


def test_cache_bounds_hold_under_a_flood_of_distinct_tokens() -> None:
    poster = ScriptedPoster(json_reply(active()))
    document = {"issuers": [wso2_entry()], "introspection": {"cache_entries": 50}}
    authorizer, _, stage = build(document, poster)
    for index in range(200):
        assert call(authorizer, f"{OPAQUE}-{index}") == "allow"
    assert len(stage.cache) == 50
    document = {"issuers": [wso2_entry()], "introspection": {"cache_bytes": 65536}}
    authorizer, _, stage = build(document, poster)
    for index in range(200):
        call(authorizer, f"{OPAQUE}-{index}")
    assert stage.cache.bytes <= 65536
    assert 0 < len(stage.cache) < 200


def test_the_byte_estimate_covers_what_an_answer_really_takes() -> None:
    """Each cached answer is counted as 600 bytes plus 8 per byte of its JSON body; tracemalloc
    measures what the cache really holds for typical and for large answers."""
    for members in (
        {},
        {"scope": " ".join(f"scope.{i}" for i in range(200))},
        {"custom": {f"attr{i}": f"value-{i}" for i in range(100)}},
    ):
        body = active(**members)
        poster = ScriptedPoster(json_reply(body))
        _, _, stage = build({"issuers": [wso2_entry()]}, poster)
        tokens = [f"{OPAQUE}-{index}" for index in range(300)]
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for token in tokens:
            # fresh documents, as the transport would parse them
            poster.reply = json_reply(json.loads(json.dumps(body)))
            stage.opaque(token)
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        # Only what the authorizer and the standard library hold: a coverage tracer (make test)
        # allocates as it records, and that is not the cache's memory.
        only = [
            tracemalloc.Filter(False, "*/coverage/*"),
            tracemalloc.Filter(False, "*/pytest_cov/*"),
        ]
        grown = sum(
            stat.size_diff
            for stat in after.filter_traces(only).compare_to(before.filter_traces(only), "filename")
        )
        assert len(stage.cache) == 300
        assert grown <= stage.cache.bytes, (members.keys(), grown, stage.cache.bytes)


def test_concurrent_lookups_share_one_call() -> None:
    release = threading.Event()

    def slow(form: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        release.wait(5)
        return json_reply(active())

    poster = ScriptedPoster(slow)
    _, _, stage = build({"issuers": [wso2_entry()]}, poster)
    results: list[str] = []

    def lookup() -> None:
        results.append(stage.opaque(OPAQUE).client_id or "")

    threads = [threading.Thread(target=lookup) for _ in range(10)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    release.set()
    for thread in threads:
        thread.join(5)
    assert results == ["reader-app"] * 10
    assert poster.calls == 1


def test_a_deadline_is_obeyed_and_the_late_answer_is_kept() -> None:
    release = threading.Event()

    def slow(form: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        release.wait(5)
        return json_reply(active())

    poster = ScriptedPoster(slow)
    _, _, stage = build({"issuers": [wso2_entry()]}, poster)
    started = time.monotonic()
    with pytest.raises(IntrospectionUnavailable) as caught:
        stage.opaque(OPAQUE, deadline=time.monotonic() + 0.2)
    assert time.monotonic() - started < 1.0
    assert "deadline" in caught.value.detail
    release.set()
    deadline = time.monotonic() + 5
    while len(stage.cache) == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert stage.opaque(OPAQUE, deadline=time.monotonic()).client_id == "reader-app"
    assert poster.calls == 1


def test_stale_answers_only_within_the_configured_bound() -> None:
    clock = FakeClock()
    poster = ScriptedPoster(json_reply(active()))
    document = {"issuers": [wso2_entry(introspection_stale_seconds=120)]}
    authorizer, observer, _ = build(document, poster, clock=clock)
    assert call(authorizer, OPAQUE) == "allow"
    poster.reply = json_reply({"error": "server_error"}, 503)
    clock.advance(60 + 119)
    assert call(authorizer, OPAQUE) == "allow"  # the endpoint fails: the old answer stands in
    assert observer.counts["StaleIntrospectionInUse"] == 1
    clock.advance(1)
    with pytest.raises(IntrospectionUnavailable):
        call(authorizer, OPAQUE)
    # without the setting: fail closed at once
    clock = FakeClock()
    poster.reply = json_reply(active())
    authorizer, observer, _ = build({"issuers": [wso2_entry()]}, poster, clock=clock)
    assert call(authorizer, OPAQUE) == "allow"
    poster.reply = json_reply({"error": "server_error"}, 503)
    clock.advance(60)
    with pytest.raises(IntrospectionUnavailable):
        call(authorizer, OPAQUE)
    assert "StaleIntrospectionInUse" not in observer.counts


def test_a_stale_answer_never_outlives_the_token() -> None:
    clock = FakeClock()
    poster = ScriptedPoster(json_reply(active(exp=int(time.time()) + 70)))
    document = {"issuers": [wso2_entry(introspection_stale_seconds=300)]}
    authorizer, _, _ = build(document, poster, clock=clock)
    assert call(authorizer, OPAQUE) == "allow"
    poster.reply = json_reply({"error": "server_error"}, 503)
    clock.advance(65)
    assert call(authorizer, OPAQUE) == "allow"
    clock.advance(10)
    with pytest.raises(IntrospectionUnavailable):
        call(authorizer, OPAQUE)


# --------------------------------------------------------------------------- JWT revocation


def test_revocation_check_of_jwts(rsa_key: SigningKey) -> None:
    clock = FakeClock()
    poster = ScriptedPoster(json_reply({"active": True}))
    entry = issuer_entry(
        rsa_key,
        introspection_endpoint=ENDPOINT,
        introspection_client_id="authorizer",
        introspection_client_secret=SECRET_REF,
        introspect_jwts=True,
        introspection_jwt_cache_seconds=20,
    )
    authorizer, observer, _ = build({"issuers": [entry]}, poster, clock=clock)
    token = rsa_key.sign(claims())
    assert call(authorizer, token) == "allow"
    assert poster.requests[0][1]["token"] == token
    poster.reply = json_reply({"active": False})
    clock.advance(19)
    assert call(authorizer, token) == "allow"  # verified-token cache and answer cache: no call
    assert poster.calls == 1
    clock.advance(1)
    assert call(authorizer, token) == "unauthorized"
    assert observer.denials[-1]["reason"] == "token_inactive"
    # a token that fails locally is never sent
    assert call(authorizer, rsa_key.sign(claims(aud="other"))) == "unauthorized"
    assert observer.denials[-1]["reason"] == "wrong_audience"
    assert poster.calls == 2


def test_other_issuers_are_not_checked(rsa_key: SigningKey) -> None:
    poster = ScriptedPoster(json_reply({"active": False}))
    authorizer, _, _ = build({"issuers": [issuer_entry(rsa_key), wso2_entry()]}, poster)
    assert call(authorizer, rsa_key.sign(claims())) == "allow"
    assert poster.calls == 0


# --------------------------------------------------------------------------- init


def test_nothing_new_is_imported_without_introspection(tmp_path: Path) -> None:
    """A configuration without introspection imports exactly what it did before: not the
    stage, not boto3 (and with it, the stage and its secret store, only then)."""
    key = SigningKey.generate("RS256", kid="k")
    script = f"""
import json, os, sys
os.environ["AUTH_CONFIG"] = json.dumps({json.dumps({"issuers": [issuer_entry(key)]})})
import jwt_authorizer.app
print(json.dumps(sorted(sys.modules)))
"""
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(root / "src" / "authorizer"), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    modules = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "jwt_authorizer.validator" in modules
    assert "jwt_authorizer.introspect" not in modules
    assert not {"boto3", "aws_lambda_powertools.utilities.parameters"} & modules


# --------------------------------------------------------------------------- properties

_MEMBER_VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.lists(st.one_of(st.text(max_size=8), st.integers()), max_size=3)
    | st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)
)
_NOW = int(time.time())
_ANSWERS = st.dictionaries(
    st.sampled_from(
        [
            "active",
            "exp",
            "nbf",
            "iat",
            "aud",
            "scope",
            "client_id",
            "sub",
            "iss",
            "username",
            "token_type",
            "jti",
            "custom",
        ]
    ),
    _MEMBER_VALUES
    | st.sampled_from(["reader-app", "writer-app", "orders:read", WSO2, True])
    | st.integers(_NOW - 7200, _NOW + 7200),
    max_size=9,
)
_PROPERTY_STAGE: dict[str, Any] = {}


def _property_stage() -> tuple[Authorizer, ScriptedPoster]:
    """One authorizer for every example, caching nothing (each answer is asked for)."""
    if not _PROPERTY_STAGE:
        poster = ScriptedPoster(json_reply({"active": False}))
        entry = wso2_entry(introspection_cache_seconds=0, introspection_inactive_cache_seconds=0)
        authorizer, _, _ = build({"issuers": [entry], "routes": RULES}, poster)
        _PROPERTY_STAGE.update(authorizer=authorizer, poster=poster)
    return _PROPERTY_STAGE["authorizer"], _PROPERTY_STAGE["poster"]


@settings(max_examples=300, deadline=None)
@given(document=_ANSWERS | st.lists(st.integers(), max_size=2) | st.none())
def test_any_answer_allows_only_an_active_valid_token_and_never_crashes(document: Any) -> None:
    """Whatever the endpoint answers: an allow, a 401/403, or an uncached 500; an allow only for
    ``active: true`` with a current ``exp`` and an allowed client or audience."""
    authorizer, poster = _property_stage()
    poster.reply = json_reply(document) if document is not None else Reply(200, None, 10)
    try:
        outcome = call(authorizer, OPAQUE)
    except IntrospectionUnavailable:
        return
    assert outcome in ("allow", "deny", "unauthorized")
    if outcome == "allow":
        assert isinstance(document, dict)
        assert document["active"] is True
        exp = document["exp"]
        assert not isinstance(exp, bool)
        assert exp > time.time() - 60
        audience = document.get("aud", document.get("client_id"))
        audiences = audience if isinstance(audience, list) else [audience]
        assert {"reader-app", "writer-app"} & set(audiences)
        assert document.get("iss", WSO2) == WSO2


@given(token=st.text(max_size=40))
def test_a_jwt_shaped_or_unsafe_token_never_goes_to_introspection(token: str) -> None:
    _, _, stage = _TAKES_STAGE
    taken = stage.takes(token)
    if token.count(".") == 2 or not token:
        assert not taken
    if taken:
        assert token.isascii()
        assert " " not in token


_TAKES_STAGE = build({"issuers": [wso2_entry()]}, ScriptedPoster(json_reply({"active": False})))


def test_snapstart_keeps_no_answer_and_no_connection_and_draws_a_new_digest_key() -> None:
    poster = HttpFetcher(connect_timeout=1, read_timeout=1, max_response_bytes=1024)
    config = parse_config({"issuers": [wso2_entry()]})
    stage = build_introspection(config, poster=poster, read_secret=secrets(SECRET))
    session = poster.sessions.get()
    stage.cache.put(b"k" * 32, Answer(True, {}, 1e12, 1e12, 600), now=0)
    stage.before_snapshot()
    assert len(stage.cache) == 0
    assert poster.sessions.get() is not session  # the pooled connections were closed
    before = stage._digest("opaque", WSO2, OPAQUE)
    stage.cache.put(b"k" * 32, Answer(True, {}, 1e12, 1e12, 600), now=0)
    stage.after_restore()
    assert len(stage.cache) == 0
    assert stage._digest("opaque", WSO2, OPAQUE) != before
