"""Opaque tokens and revocation checks against a real introspection endpoint on 127.0.0.1.

The devkit identity provider (WSO2 profile, HTTPS with its own CA) issues opaque tokens to a
client configured so, answers RFC 7662 introspection with client authentication and revokes
tokens through its RFC 7009 endpoint; the authorizer is built from its environment as in Lambda.
The introspection cache runs on a :class:`FakeClock`, so a test moves past the revocation budget
instead of sleeping. Client secrets come from an in-memory store, except in the last tests, which
read them from SSM Parameter Store and Secrets Manager through moto's server mode (127.0.0.1).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from devkit import events
from devkit.idp import LocalIdentityProvider
from jwt_authorizer import Authorizer
from jwt_authorizer.errors import IntrospectionFailed
from tests.conftest import IdpFactory
from tests.support.aws import REGION, aws_endpoint, moto_server
from tests.support.clock import FakeClock
from tests.support.constants import rest_arn
from tests.support.observers import RecordingObserver

from .conftest import BASE_KEYS, InvocationContext, issuer_entry

SECRET_REF = "ssm:/authorizer/introspection-secret"
INTROSPECTOR_SECRET = "introspector-secret"
CLIENTS = [
    {
        "client_id": "reader-app",
        "client_secret": "reader-secret",
        "scopes": ["app.read"],
        "token_type": "opaque",
    },
    {
        "client_id": "writer-app",
        "client_secret": "writer-secret",
        "scopes": ["app.read", "app.write"],
    },
    {"client_id": "authorizer", "client_secret": INTROSPECTOR_SECRET, "scopes": ["app.read"]},
]
ROUTES = [
    {"route": "GET /orders", "scopes": ["app.read"]},
    {"route": "POST /orders", "scopes": ["app.write"]},
]
UNKNOWN = "0b8f3a52-5d0e-4a8e-b7d1-3f2c9e6a1d47"


class SecretStore:
    """A secret store with a read cache, like Powertools Parameters: a normal read answers
    from the cache once something was read, a forced read asks the store."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.cached: str | None = None
        self.reads: list[tuple[str, bool]] = []

    def __call__(self, reference: str, force: bool) -> str:
        self.reads.append((reference, force))
        if force or self.cached is None:
            self.cached = self.value
        return self.cached

    @property
    def forced(self) -> int:
        return sum(1 for _, force in self.reads if force)


@pytest.fixture
def idp(idp_factory: IdpFactory) -> LocalIdentityProvider:
    return idp_factory(profile="wso2", tls=True, clients=CLIENTS)


def entry(idp: LocalIdentityProvider, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "introspection_endpoint": idp.introspection_endpoint,
        "introspection_client_id": "authorizer",
        "introspection_client_secret": SECRET_REF,
        "opaque_tokens": True,
    }
    return issuer_entry(idp, **{**settings, **overrides})


class System:
    """An authorizer built from its environment, with a recording observer and a fake clock."""

    def __init__(
        self,
        idp: LocalIdentityProvider,
        *,
        secrets: Callable[[str, bool], str] | None = None,
        wall_clock: Callable[[], float] = time.time,
        settings: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> None:
        self.clock = FakeClock()
        self.context: dict[str, Any] = {}
        self.observer = RecordingObserver()
        document = {
            "issuers": [entry(idp, **overrides)],
            "routes": ROUTES,
            "keys": dict(BASE_KEYS),
            "introspection": {
                "connect_timeout_seconds": 0.5,
                "read_timeout_seconds": 0.5,
                **(settings or {}),
            },
        }
        self.authorizer = Authorizer.from_environ(
            {"AUTH_CONFIG": json.dumps(document)},
            observer=self.observer,
            clock=self.clock,
            wall_clock=wall_clock,
            read_secret=secrets,
        )

    def outcome(self, token: str, method: str = "GET", context: object = None) -> str:
        """``allow``, or the reason of the denial (401, 403) or of the 500."""
        event = events.token_event(f"Bearer {token}", rest_arn(method, "/orders"))
        failed: IntrospectionFailed | None = None
        try:
            answer = self.authorizer(event, context)
        except IntrospectionFailed as err:
            failed = err
        except Exception as err:
            if type(err) is not Exception or str(err) != "Unauthorized":
                raise
            return str(self.observer.last_reason)
        if failed is not None:  # a 500: not "Unauthorized", no chained cause to log
            assert str(failed) != "Unauthorized"
            assert failed.__cause__ is None
            return str(failed.reason)
        self.context = answer.get("context", {})
        effects = {statement["Effect"] for statement in answer["policyDocument"]["Statement"]}
        return "allow" if effects == {"Allow"} else f"403 {self.observer.last_reason}"


def token_for(idp: LocalIdentityProvider, client_id: str, secret: str) -> str:
    response = requests.post(
        idp.token_endpoint,
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        verify=str(idp.ca_bundle_path),
        timeout=5,
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert isinstance(token, str)
    return token


def revoke(idp: LocalIdentityProvider, token: str, client_id: str, secret: str) -> None:
    response = requests.post(
        idp.revocation_endpoint,
        data={"token": token, "token_type_hint": "access_token"},
        auth=(client_id, secret),
        verify=str(idp.ca_bundle_path),
        timeout=5,
    )
    assert response.status_code == 200, response.text


def opaque_token(idp: LocalIdentityProvider) -> str:
    token = token_for(idp, "reader-app", "reader-secret")
    assert token.count(".") == 0
    return token


# --------------------------------------------------------------------------- answers


def test_an_opaque_token_gets_the_route_rules_of_a_jwt(idp: LocalIdentityProvider) -> None:
    system = System(idp, secrets=SecretStore(INTROSPECTOR_SECRET))
    token = opaque_token(idp)
    assert system.outcome(token) == "allow"
    assert (system.context["sub"], system.context["client_id"]) == ("reader-app", "reader-app")
    assert system.context["scopes"] == "app.read"
    assert system.outcome(token, "POST") == "403 insufficient_scope"
    assert idp.request_count("introspect") == 1  # the second answer came from the cache
    assert system.observer.counts["IntrospectionCalls"] == 1
    assert token not in "\n".join(system.observer.sink.lines)


def test_client_secret_post_is_accepted_too(idp: LocalIdentityProvider) -> None:
    system = System(
        idp,
        secrets=SecretStore(INTROSPECTOR_SECRET),
        introspection_auth_method="client_secret_post",
    )
    assert system.outcome(opaque_token(idp)) == "allow"


def test_an_unknown_token_is_inactive_and_the_answer_is_kept_briefly(
    idp: LocalIdentityProvider,
) -> None:
    system = System(idp, secrets=SecretStore(INTROSPECTOR_SECRET))
    assert system.outcome(UNKNOWN) == "token_inactive"
    system.clock.advance(29.9)
    assert system.outcome(UNKNOWN) == "token_inactive"
    assert idp.request_count("introspect") == 1
    system.clock.advance(0.2)  # introspection_inactive_cache_seconds (30) passed: asked again
    assert system.outcome(UNKNOWN) == "token_inactive"
    assert idp.request_count("introspect") == 2


def test_a_revoked_token_passes_until_the_budget_ends_then_never(
    idp: LocalIdentityProvider,
) -> None:
    system = System(idp, secrets=SecretStore(INTROSPECTOR_SECRET), introspection_cache_seconds=20)
    token = opaque_token(idp)
    assert system.outcome(token) == "allow"
    revoke(idp, token, "reader-app", "reader-secret")
    system.clock.advance(19.9)
    assert system.outcome(token) == "allow"  # within the revocation budget: not asked again
    assert idp.request_count("introspect") == 1
    system.clock.advance(0.2)
    assert system.outcome(token) == "token_inactive"
    assert system.outcome(token) == "token_inactive"
    assert idp.request_count("introspect") == 2


def test_a_token_the_idp_calls_expired_is_inactive(idp_factory: IdpFactory) -> None:
    offset = [0.0]
    idp = idp_factory(
        profile="wso2", tls=True, clients=CLIENTS, token_lifetime=60,
        now=lambda: time.time() + offset[0],
    )  # fmt: skip
    system = System(idp, secrets=SecretStore(INTROSPECTOR_SECRET))
    token = opaque_token(idp)
    offset[0] = 61.0
    assert system.outcome(token) == "token_inactive"


def test_an_active_answer_past_its_exp_by_our_clock_is_expired(
    idp: LocalIdentityProvider,
) -> None:
    """The endpoint's word does not outweigh ``exp``: the answer goes through the claim rules."""
    system = System(
        idp, secrets=SecretStore(INTROSPECTOR_SECRET), wall_clock=lambda: time.time() + 7200
    )
    assert system.outcome(opaque_token(idp)) == "expired"


def test_a_revoked_jwt_is_denied_once_its_own_budget_ends(idp: LocalIdentityProvider) -> None:
    system = System(
        idp,
        secrets=SecretStore(INTROSPECTOR_SECRET),
        opaque_tokens=None,
        introspect_jwts=True,
        introspection_jwt_cache_seconds=10,
    )
    token = token_for(idp, "writer-app", "writer-secret")
    assert token.count(".") == 2
    assert system.outcome(token, "POST") == "allow"
    revoke(idp, token, "writer-app", "writer-secret")
    system.clock.advance(9.9)
    assert system.outcome(token, "POST") == "allow"
    system.clock.advance(0.2)
    assert system.outcome(token, "POST") == "token_inactive"
    assert idp.request_count("introspect") == 2


def test_without_opaque_tokens_an_opaque_token_is_malformed_and_nothing_is_called(
    idp: LocalIdentityProvider,
) -> None:
    system = System(
        idp, secrets=SecretStore(INTROSPECTOR_SECRET), opaque_tokens=None, introspect_jwts=True
    )
    assert system.outcome(opaque_token(idp)) == "malformed_token"
    assert idp.request_count("introspect") == 0


def test_concurrent_lookups_of_one_token_make_one_call(idp: LocalIdentityProvider) -> None:
    system = System(idp, secrets=SecretStore(INTROSPECTOR_SECRET))
    token = opaque_token(idp)
    idp.set_mode("slow", delay=0.2, targets=["introspect"])
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(system.outcome(token))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert outcomes == ["allow"] * 8
    assert idp.request_count("introspect") == 1


# --------------------------------------------------------------------------- failures


def test_wrong_client_credentials_are_a_configuration_error_not_a_401(
    idp: LocalIdentityProvider,
) -> None:
    store = SecretStore("not-the-secret")
    system = System(idp, secrets=store)
    token = opaque_token(idp)
    for _ in range(3):
        assert system.outcome(token) == "introspection_client_rejected"
    assert system.observer.counts["IntrospectionClientRejected"] == 3
    assert store.forced == 1  # read again once, bypassing the cache; not on every call
    logged = system.observer.logged("request denied")
    assert [line["level"] for line in logged] == ["ERROR"] * 3
    assert logged[0]["endpoint"] == idp.introspection_endpoint
    lines = "\n".join(system.observer.sink.lines)
    assert "not-the-secret" not in lines
    assert token not in lines
    # The secret is rotated in the store: picked up at the next forced read, without a redeploy.
    store.value = INTROSPECTOR_SECRET
    system.clock.advance(60)
    assert system.outcome(token) == "allow"
    assert store.forced == 2


@pytest.mark.parametrize(
    ("mode", "options"),
    [
        ("down", {}),
        ("slow", {"delay": 3.0}),
        ("error", {"status": 500}),
        ("error", {"status": 503}),
        ("html", {}),
        ("oversized", {}),
        ("malformed", {}),
    ],
)
def test_an_endpoint_that_gives_no_usable_answer_fails_closed_uncached(
    idp: LocalIdentityProvider, mode: Any, options: dict[str, Any]
) -> None:
    system = System(idp, secrets=SecretStore(INTROSPECTOR_SECRET))
    token = opaque_token(idp)
    idp.set_mode(mode, targets=["introspect"], **options)
    started = time.monotonic()
    assert system.outcome(token) == "introspection_unavailable"
    # within connect + read timeout (1 s) + 0.1 s, with slack for a busy machine; never the 3 s
    # a slow server takes
    assert time.monotonic() - started < 2.5
    assert system.outcome(token) == "introspection_unavailable"
    assert idp.request_count("introspect") == 2  # a failure is never cached
    assert system.observer.counts["IntrospectionUnavailable"] == 2
    assert system.observer.counts["IntrospectionCallFailures"] == 2
    lines = "\n".join(system.observer.sink.lines)
    assert token not in lines
    assert INTROSPECTOR_SECRET not in lines
    idp.set_mode("up")
    assert system.outcome(token) == "allow"


def test_a_closed_port_fails_closed(idp: LocalIdentityProvider) -> None:
    system = System(idp, secrets=SecretStore(INTROSPECTOR_SECRET))
    token = opaque_token(idp)
    idp.close_port()
    assert system.outcome(token) == "introspection_unavailable"


def test_the_invocation_deadline_bounds_a_slow_endpoint(idp: LocalIdentityProvider) -> None:
    system = System(
        idp,
        secrets=SecretStore(INTROSPECTOR_SECRET),
        settings={"read_timeout_seconds": 5.0},
    )
    token = opaque_token(idp)
    idp.set_mode("slow", delay=3.0, targets=["introspect"])
    started = time.monotonic()
    # 800 ms left, of which 500 ms are kept for the answer: the call may take 300 ms
    assert system.outcome(token, context=InvocationContext(800)) == "introspection_unavailable"
    assert time.monotonic() - started < 1.5  # far from the read timeout (5 s) and the delay


def test_a_stale_answer_stands_in_only_when_configured_and_within_its_bound(
    idp: LocalIdentityProvider,
) -> None:
    system = System(
        idp,
        secrets=SecretStore(INTROSPECTOR_SECRET),
        introspection_cache_seconds=10,
        introspection_stale_seconds=30,
    )
    token = opaque_token(idp)
    assert system.outcome(token) == "allow"
    idp.set_mode("error", targets=["introspect"])
    system.clock.advance(39.9)
    assert system.outcome(token) == "allow"
    assert system.observer.counts["StaleIntrospectionInUse"] == 1
    system.clock.advance(0.2)
    assert system.outcome(token) == "introspection_unavailable"


# --------------------------------------------------------------------------- secrets from AWS


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto in server mode on 127.0.0.1, with the SSM and Secrets Manager clients the test
    stores the secret with; Powertools' providers start afresh."""
    import boto3

    with moto_server() as url, aws_endpoint(monkeypatch, url):
        yield {
            "ssm": boto3.client("ssm", region_name=REGION),
            "secretsmanager": boto3.client("secretsmanager", region_name=REGION),
        }


def test_the_secret_from_an_ssm_secure_string(
    idp: LocalIdentityProvider, aws: dict[str, Any]
) -> None:
    aws["ssm"].put_parameter(
        Name="/authorizer/introspection-secret", Type="SecureString", Value=INTROSPECTOR_SECRET
    )
    system = System(idp)
    assert system.outcome(opaque_token(idp)) == "allow"


def test_the_secret_from_secrets_manager(idp: LocalIdentityProvider, aws: dict[str, Any]) -> None:
    aws["secretsmanager"].create_secret(
        Name="prod/authorizer/introspection", SecretString=INTROSPECTOR_SECRET
    )
    system = System(idp, introspection_client_secret="secretsmanager:prod/authorizer/introspection")
    assert system.outcome(opaque_token(idp)) == "allow"


def test_a_missing_secret_fails_the_init_naming_the_field(
    idp: LocalIdentityProvider, aws: dict[str, Any]
) -> None:
    from jwt_authorizer import ConfigError

    with pytest.raises(ConfigError) as caught:
        System(idp)
    assert caught.value.field == "issuers[0].introspection_client_secret"
    assert caught.value.problem.startswith(f"cannot read {SECRET_REF}: ")
