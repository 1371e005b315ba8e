"""Against a real OpenID Provider that is not ours: panva's ``oidc-provider`` (npm), certified by
the OpenID Foundation, on 127.0.0.1 (``tests/support/oidc_provider.mjs``).

Our development IdP shares our reading of the specifications; this one does not. The authorizer
is configured as a user of a generic OIDC provider would configure it (issuer, audience,
algorithms; discovery derived from the issuer), gets its keys over HTTP from the provider's own
discovery document and key set, and judges RFC 9068 JWT access tokens the provider issued with
the client credentials grant, signed RS256, PS256 and ES256; and its opaque tokens through its
introspection endpoint (RFC 7662), before and after it revoked them (RFC 7009).
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import redirect_stdout
from typing import Any

import pytest
import requests

from devkit import events
from devkit.paths import REPO_ROOT
from jwt_authorizer import Authorizer
from jwt_authorizer.errors import AuthorizerError
from tests.support import iam
from tests.support.constants import rest_arn

SCRIPT = REPO_ROOT / "tests" / "support" / "oidc_provider.mjs"
PACKAGE = REPO_ROOT / "node_modules" / "oidc-provider" / "package.json"
AUDIENCES = {
    "RS256": "api://orders-rs256",
    "PS256": "api://orders-ps256",
    "ES256": "api://orders-es256",
    "opaque": "api://orders-opaque",
}
SECRET_REF = "ssm:/orders/introspection-secret"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not PACKAGE.exists(),
    reason="node and node_modules/oidc-provider (make installs them from package-lock.json)",
)


class Provider:
    """The running provider: its issuer and a token endpoint client."""

    def __init__(self, process: subprocess.Popen[str], issuer: str) -> None:
        self.process = process
        self.issuer = issuer

    def token(self, client: str, scope: str, alg: str = "RS256") -> str:
        """An access token for ``client``: a JWT signed with ``alg``, or ``alg="opaque"``."""
        response = requests.post(
            f"{self.issuer}/token",
            data={"grant_type": "client_credentials", "scope": scope, "resource": AUDIENCES[alg]},
            auth=(client, f"{client}-secret"),
            timeout=5,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["token_type"] == "Bearer"
        return str(body["access_token"])

    def revoke(self, client: str, token: str) -> None:
        response = requests.post(
            f"{self.issuer}/token/revocation",
            data={"token": token},
            auth=(client, f"{client}-secret"),
            timeout=5,
        )
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    process = subprocess.Popen(
        ["node", str(SCRIPT)],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdin is not None
    hello = json.loads(process.stdout.readline())
    try:
        yield Provider(process, hello["issuer"])
    finally:
        process.stdin.close()
        process.wait(timeout=10)


def authorizer(provider: Provider, **overrides: Any) -> Authorizer:
    entry: dict[str, Any] = {
        "issuer": provider.issuer,
        "profile": "oidc",
        "audiences": sorted(AUDIENCES.values()),
        "algorithms": ["RS256", "PS256", "ES256"],
        "token_types": ["at+jwt"],
        **overrides,
    }
    entry = {key: value for key, value in entry.items() if value is not None}
    document = {
        "issuers": [entry],
        "routes": [
            {"route": "GET /orders", "scopes": ["app.read"]},
            {"route": "POST /orders", "scopes": ["app.write"]},
        ],
    }
    with redirect_stdout(io.StringIO()):
        return Authorizer.from_environ(
            {"AUTH_CONFIG": json.dumps(document)}, read_secret=_secret_store
        )


def _secret_store(reference: str, force: bool) -> str:
    """Parameter Store as the authorizer would read it: one SecureString."""
    assert reference == SECRET_REF
    return "api-secret"


def introspecting(provider: Provider, **overrides: Any) -> Authorizer:
    """Configured for the provider's opaque tokens, as its resource server ``api``."""
    return authorizer(
        provider,
        introspection_endpoint=f"{provider.issuer}/token/introspection",
        introspection_client_id="api",
        introspection_client_secret=SECRET_REF,
        **overrides,
    )


def outcome(authorizer: Authorizer, token: str, method: str = "GET") -> str:
    """``200``, ``403``, ``401`` or ``<status> <reason>`` (an error raised to Lambda) as the
    client would see it through a REST TOKEN authorizer (the IAM answer evaluated for this
    request by the devkit's evaluator)."""
    event = events.token_event(f"Bearer {token}", rest_arn(method, "/orders"))
    try:
        with redirect_stdout(io.StringIO()):
            answer = authorizer(event)
    except AuthorizerError as err:  # raised to Lambda: an error API Gateway does not cache
        return f"{err.status} {err.reason}"
    except Exception as err:
        if str(err) != "Unauthorized":
            raise
        return "401"
    return "200" if iam.allows(answer, rest_arn(method, "/orders")) else "403"


@pytest.fixture(scope="module")
def configured(provider: Provider) -> Authorizer:
    return authorizer(provider)


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_its_access_tokens_are_judged_by_the_route_rules(
    provider: Provider, configured: Authorizer, alg: str
) -> None:
    reader = provider.token("reader", "app.read", alg)
    writer = provider.token("writer", "app.read app.write", alg)
    assert json.loads(base64.urlsafe_b64decode(reader.split(".")[0] + "=="))["alg"] == alg
    assert (outcome(configured, reader, "GET"), outcome(configured, reader, "POST")) == (
        "200",
        "403",
    )
    assert (outcome(configured, writer, "GET"), outcome(configured, writer, "POST")) == (
        "200",
        "200",
    )


def test_the_context_carries_its_claims(provider: Provider, configured: Authorizer) -> None:
    token = provider.token("writer", "app.read app.write")
    with redirect_stdout(io.StringIO()):
        answer = configured(events.token_event(f"Bearer {token}", rest_arn("GET", "/orders")))
    context = answer["context"]
    assert (answer["principalId"], context["sub"], context["client_id"]) == ("writer",) * 3
    assert (context["issuer"], context["scopes"]) == (provider.issuer, "app.read app.write")


def test_a_token_for_another_resource_is_refused(provider: Provider) -> None:
    only_es = authorizer(provider, audiences=[AUDIENCES["ES256"]])
    assert outcome(only_es, provider.token("writer", "app.read", "RS256")) == "401"
    assert outcome(only_es, provider.token("writer", "app.read", "ES256")) == "200"


def test_an_algorithm_the_issuer_is_not_pinned_to_is_refused(provider: Provider) -> None:
    rsa_only = authorizer(provider, algorithms=["RS256"])
    assert outcome(rsa_only, provider.token("reader", "app.read", "PS256")) == "401"
    assert outcome(rsa_only, provider.token("reader", "app.read", "ES256")) == "401"
    assert outcome(rsa_only, provider.token("reader", "app.read", "RS256")) == "200"


def test_a_token_altered_after_signing_is_refused(
    provider: Provider, configured: Authorizer
) -> None:
    header, payload, signature = provider.token("reader", "app.read").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "app.read app.write"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert outcome(configured, f"{header}.{forged}.{signature}", "POST") == "401"


def test_its_opaque_tokens_are_introspected_and_judged_by_the_route_rules(
    provider: Provider,
) -> None:
    system = introspecting(provider, opaque_tokens=True)
    reader = provider.token("reader", "app.read", "opaque")
    writer = provider.token("writer", "app.read app.write", "opaque")
    assert reader.count(".") == 0
    assert (outcome(system, reader, "GET"), outcome(system, reader, "POST")) == ("200", "403")
    assert (outcome(system, writer, "GET"), outcome(system, writer, "POST")) == ("200", "200")


def test_a_revoked_opaque_token_is_refused_once_the_cached_answer_ends(
    provider: Provider,
) -> None:
    cached = introspecting(provider, opaque_tokens=True)
    fresh = introspecting(provider, opaque_tokens=True)
    token = provider.token("reader", "app.read", "opaque")
    assert (outcome(cached, token), outcome(fresh, token)) == ("200", "200")
    provider.revoke("reader", token)
    # The answer ``cached`` holds is the revocation budget (introspection_cache_seconds); an
    # authorizer that asks again learns the token is inactive.
    assert outcome(cached, token) == "200"
    assert outcome(introspecting(provider, opaque_tokens=True), token) == "401"


def test_jwt_introspection_against_a_provider_that_refuses_it_fails_closed(
    provider: Provider,
) -> None:
    """oidc-provider answers ``unsupported_token_type`` for its own JWTs: with ``introspect_jwts``
    on, a valid JWT then gets an uncached 500, never an allow without the revocation check."""
    token = provider.token("reader", "app.read", "RS256")
    assert outcome(authorizer(provider), token) == "200"
    system = introspecting(provider, introspect_jwts=True)
    assert outcome(system, token) == "500 introspection_unavailable"
