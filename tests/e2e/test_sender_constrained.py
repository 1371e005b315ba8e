"""Sender-constrained tokens end to end: the local IdP issues DPoP-bound and certificate-bound
tokens at its token endpoint, the emulator passes the ``DPoP`` header and the client certificate
to the authorizer, and the answers are what a client of API Gateway gets."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import requests

from devkit.constants import CLIENT_CERT_HEADER
from devkit.fixtures import template_routes
from devkit.idp import DpopKey, LocalIdentityProvider
from devkit.stack import LocalStack, client_credentials
from tests.e2e.conftest import StackFactory
from tests.support.dpop import client_certificate


def test_a_dpop_bound_token_from_the_token_endpoint(
    stack_factory: StackFactory, http: requests.Session
) -> None:
    stack = stack_factory(dpop="required")
    key = DpopKey()
    answer = client_credentials(
        stack.idp.base_url, "reader-app", scope=stack.token_scope() or None, session=http, dpop=key
    )
    assert answer["token_type"] == "DPoP"
    token = str(answer["access_token"])
    assert _claims(token)["cnf"] == {"jkt": key.jkt}
    url = stack.http_url + "/orders"
    proof = key.proof("GET", url, token)
    sent = {"Authorization": f"DPoP {token}", "DPoP": proof}
    assert http.get(url, headers=sent, timeout=10).status_code == 200
    assert http.get(url, headers=sent, timeout=10).status_code == 403  # the replay
    fresh = {"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", url, token)}
    assert http.get(url, headers=fresh, timeout=10).status_code == 200
    assert http.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == (
        403
    )
    # The REST REQUEST authorizer (GET /orders/{id}) checks proofs; the TOKEN one cannot.
    rest = stack.rest_url + "/orders/o-1001"
    proof = key.proof("GET", rest, token)
    response = http.get(rest, headers={"Authorization": f"DPoP {token}", "DPoP": proof}, timeout=10)
    assert response.status_code in (200, 404)  # authorized; the backend may not know the order
    listing = stack.rest_url + "/orders"
    proof = key.proof("GET", listing, token)
    refused = http.get(
        listing, headers={"Authorization": f"DPoP {token}", "DPoP": proof}, timeout=10
    )
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == (
        'DPoP realm="api", error="invalid_token", '
        'algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"'
    )


def test_a_dpop_proof_at_the_token_endpoint_is_checked(
    stack_factory: StackFactory, http: requests.Session
) -> None:
    stack = stack_factory()
    key = DpopKey()
    index = http.get(stack.idp.base_url + "/", timeout=5).json()
    response = http.post(
        index["token_endpoint"],
        data={"grant_type": "client_credentials"},
        auth=("reader-app", _secret(stack, "reader-app")),
        headers={"DPoP": key.proof("POST", "https://elsewhere.example/token")},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _secret(stack: LocalStack, client_id: str) -> str:
    return stack.idp.clients[client_id].client_secret


def _mtls_config(idp: LocalIdentityProvider) -> dict[str, str]:
    document: dict[str, Any] = {
        "issuers": [
            {
                "issuer": idp.issuer,
                "profile": idp.profile,
                "audiences": [idp.audience],
                "discovery_url": idp.discovery_url,
                "mtls": "required",
            }
        ],
        "routes": template_routes(),
        "response_mode": "simple",
    }
    return {"AuthConfig": json.dumps(document), "AuthorizerCacheTtl": "0"}


def test_a_certificate_bound_token_needs_its_client_certificate(
    stack_factory: StackFactory, http: requests.Session
) -> None:
    stack = stack_factory(parameters=_mtls_config)
    pem, thumbprint = client_certificate()
    other, _ = client_certificate("someone-else")
    index = http.get(stack.idp.base_url + "/", timeout=5).json()
    answer = http.post(
        index["token_endpoint"],
        data={"grant_type": "client_credentials", "scope": stack.token_scope()},
        auth=("reader-app", _secret(stack, "reader-app")),
        headers={CLIENT_CERT_HEADER: quote(pem)},
        timeout=5,
    ).json()
    token = answer["access_token"]
    assert _claims(token)["cnf"] == {"x5t#S256": thumbprint}
    url = stack.http_url + "/orders"
    bearer = {"Authorization": f"Bearer {token}"}
    assert http.get(
        url, headers=bearer | {CLIENT_CERT_HEADER: quote(pem)}, timeout=10
    ).status_code == (200)
    assert http.get(url, headers=bearer, timeout=10).status_code == 403
    assert http.get(
        url, headers=bearer | {CLIENT_CERT_HEADER: quote(other)}, timeout=10
    ).status_code == (403)
    plain = {"Authorization": f"Bearer {stack.get_token('reader-app', http)}"}
    assert http.get(
        url, headers=plain | {CLIENT_CERT_HEADER: quote(pem)}, timeout=10
    ).status_code == (403)
