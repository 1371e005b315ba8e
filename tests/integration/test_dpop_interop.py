"""DPoP with a peer that is not ours: panva's ``oidc-provider``
(``tests/support/oidc_provider.mjs``) issues a DPoP-bound access token for a proof made by the
tests' own client (``tests/support/dpop.py``), and the authorizer accepts that token with a
fresh proof only."""

from __future__ import annotations

import base64
import io
import json
from contextlib import redirect_stdout
from typing import Any

import pytest
import requests

from jwt_authorizer import Authorizer
from tests.integration.test_oidc_provider import AUDIENCES, Provider, provider
from tests.integration.test_oidc_provider import pytestmark as needs_node
from tests.support.dpop import DpopClient, event
from tests.support.observers import RecordingObserver

__all__ = ["provider"]  # the module fixture, shared with test_oidc_provider.py

pytestmark = needs_node  # node and node_modules/oidc-provider


def bound_token(provider: Provider, client: DpopClient) -> dict[str, Any]:
    endpoint = f"{provider.issuer}/token"
    response = requests.post(
        endpoint,
        data={
            "grant_type": "client_credentials",
            "scope": "app.read",
            "resource": AUDIENCES["ES256"],
        },
        auth=("reader", "reader-secret"),
        headers={"DPoP": client.proof("POST", endpoint, None)},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def authorizer(provider: Provider, observer: RecordingObserver) -> Authorizer:
    document = {
        "issuers": [
            {
                "issuer": provider.issuer,
                "profile": "oidc",
                "audiences": [AUDIENCES["ES256"]],
                "algorithms": ["ES256"],
                "token_types": ["at+jwt"],
                "dpop": "required",
            }
        ],
        "routes": [{"route": "GET /orders", "scopes": ["app.read"]}],
        "dpop": {"replay_store": "memory", "authorizer_cache_off": True},
    }
    with redirect_stdout(io.StringIO()):
        return Authorizer.from_environ({"AUTH_CONFIG": json.dumps(document)}, observer=observer)


def test_its_dpop_bound_token_is_accepted_with_a_fresh_proof_only(provider: Provider) -> None:
    client = DpopClient.generate("ES256")
    body = bound_token(provider, client)
    assert body["token_type"] == "DPoP"
    token = str(body["access_token"])
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["cnf"] == {"jkt": client.jkt}  # RFC 7638, computed independently by both
    observer = RecordingObserver()
    auth = authorizer(provider, observer)
    url = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/orders"
    fresh = event("request", f"DPoP {token}", [client.proof("GET", url, token)])
    with redirect_stdout(io.StringIO()):
        answer = auth(fresh, None)
        assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        for replayed in (fresh, event("request", f"Bearer {token}")):
            with pytest.raises(Exception, match=r"^Unauthorized$"):
                auth(replayed, None)
    assert [d["reason"] for d in observer.denials] == ["dpop_replay", "missing_dpop_proof"]
