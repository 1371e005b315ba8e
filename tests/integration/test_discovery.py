"""OIDC discovery and key selection against real provider-shaped servers on loopback."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import IdpFactory
from tests.support.servers import ScriptedServer
from tests.support.signing import SigningKey

from .conftest import (
    METHOD_ARN,
    HarnessFactory,
    auth_config,
    issuer_entry,
    token_event,
)


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https-ca_bundle"])
@pytest.mark.parametrize("profile", ["entra-b2c", "wso2", "entra-id"])
def test_discovery_happy_path_per_profile(
    idp_factory: IdpFactory, build_harness: HarnessFactory, profile: Any, tls: bool
) -> None:
    idp = idp_factory(profile=profile, tls=tls)
    harness = build_harness(auth_config(issuer_entry(idp)))

    assert harness.prefetched == {idp.issuer: True}
    assert (idp.request_count("discovery"), idp.request_count("jwks")) == (1, 1)

    client = "writer-app"
    answer = harness.authorizer(token_event(idp.mint(client_id=client)))
    assert [s["Effect"] for s in answer["policyDocument"]["Statement"]] == ["Allow"]
    assert answer["context"]["client_id"] == client
    assert answer["context"]["scopes"] == "app.read app.write"
    assert answer["context"]["issuer"] == idp.issuer
    assert METHOD_ARN.rsplit("/", 2)[0] in answer["policyDocument"]["Statement"][0]["Resource"]

    # Warm: more tokens cost no request at all.
    for _ in range(5):
        assert harness.outcome(idp.mint()) == "allow"
    assert harness.fetch_count == 1
    assert (idp.request_count("discovery"), idp.request_count("jwks")) == (1, 1)


def test_b2c_without_the_per_policy_discovery_url_has_no_keys(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    """B2C publishes no issuer + /.well-known document: the default must fail closed, loudly."""
    idp = idp_factory(profile="entra-b2c")
    harness = build_harness(auth_config(issuer_entry(idp, discovery_url=None)))

    assert harness.prefetched == {idp.issuer: False}
    assert harness.outcome(idp.mint()) == "keys_unavailable"
    assert idp.request_count("jwks") == 0
    assert harness.observer.counts["KeySetFetchFailures"] == 1


def test_discovery_naming_another_issuer_is_refused(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    """The configured issuer differs from the discovery document's only by a trailing slash."""
    idp = idp_factory(profile="entra-id")
    configured = idp.issuer + "/"
    harness = build_harness(
        auth_config(issuer_entry(idp, issuer=configured, discovery_url=idp.discovery_url))
    )

    assert harness.prefetched == {configured: False}
    assert harness.outcome(idp.mint(claims={"iss": configured})) == "keys_unavailable"
    assert idp.request_count("discovery") == 1
    assert idp.request_count("jwks") == 0, "keys fetched from an unverified discovery document"
    assert any("different issuer" in detail for _, _, detail in harness.observer.fetches)


def test_rogue_discovery_document_cannot_supply_keys(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    """An attacker answering discovery with its own issuer and JWKS gets keys_unavailable."""
    attacker = SigningKey.generate("RS256", kid="attacker")
    issuer = scripted.base_url + "/tenant/v2.0"
    jwks_uri = scripted.serve_json("/attacker/keys", {"keys": [attacker.public_jwk()]})
    discovery = scripted.serve_json(
        "/tenant/v2.0/.well-known/openid-configuration",
        {"issuer": "https://login.example.invalid/evil/v2.0", "jwks_uri": jwks_uri},
    )
    harness = build_harness(
        auth_config({"issuer": issuer, "audiences": ["api"], "discovery_url": discovery})
    )
    token = attacker.sign({"iss": issuer, "aud": "api", "sub": "x", "exp": 4102444800})

    assert harness.outcome(token) == "keys_unavailable"
    assert scripted.hits["/attacker/keys"] == 0


def test_plain_http_jwks_uri_from_discovery_is_refused(
    scripted: ScriptedServer, build_harness: HarnessFactory
) -> None:
    issuer = scripted.base_url + "/oauth2/token"
    discovery = scripted.serve_json(
        "/oauth2/token/.well-known/openid-configuration",
        {"issuer": issuer, "jwks_uri": "http://idp.example.invalid/oauth2/jwks"},
    )
    harness = build_harness(
        auth_config({"issuer": issuer, "audiences": ["api"], "discovery_url": discovery})
    )
    key = SigningKey.generate("RS256")

    assert harness.prefetched == {issuer: False}
    assert harness.outcome(key.sign({"iss": issuer, "aud": "api", "exp": 4102444800})) == (
        "keys_unavailable"
    )
    details = [detail for ok, _, detail in harness.observer.fetches if not ok]
    assert details
    assert all("https" in detail for detail in details), details


def test_wso2_kid_suffix_and_thumbprint_matching(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    idp = idp_factory(profile="wso2", tls=True)
    harness = build_harness(auth_config(issuer_entry(idp)))
    kid = idp.signing_kid
    assert kid.endswith("_RS256")
    published = idp.public_jwk()

    # Token kid without the _RS256 suffix the JWKS carries (IS 5.7-5.11 inconsistency).
    assert harness.outcome(idp.mint(header={"kid": kid.removesuffix("_RS256")})) == "allow"
    # No kid at all, only x5t#S256 (IS 7 shape): matched by thumbprint.
    by_thumbprint = idp.mint(header={"x5t#S256": published["x5t#S256"]}, drop_header=["kid", "x5t"])
    assert harness.outcome(by_thumbprint) == "allow"
    # A key the IdP never published does not verify, whatever identifiers its token borrows.
    hidden = idp.add_key(publish=False)
    assert harness.outcome(idp.mint(kid=hidden)) == "unknown_kid"
    assert (
        harness.outcome(
            idp.mint(kid=hidden, header={"kid": kid, "x5t#S256": published["x5t#S256"]})
        )
        == "bad_signature"
    )


@pytest.mark.parametrize(
    "jwks_uri",
    [
        "https://[::1/keys",  # unbalanced bracket: urlsplit raises ValueError
        "https://[not-an-ip]/keys",
        "https://user:secret@idp.example.invalid/keys",
        "file:///etc/passwd",
        "ftp://idp.example.invalid/keys",
        "",
        42,
        None,
    ],
    ids=repr,
)
def test_hostile_jwks_uri_in_discovery_fails_closed_and_paced(
    scripted: ScriptedServer, build_harness: HarnessFactory, jwks_uri: object
) -> None:
    """Whatever discovery names, the answer is keys_unavailable (500), and a broken document
    is re-read once per retry window, not once per request."""
    issuer = scripted.base_url + "/t/v2.0"
    path = "/t/v2.0/.well-known/openid-configuration"
    discovery = scripted.serve_json(path, {"issuer": issuer, "jwks_uri": jwks_uri})
    harness = build_harness(
        auth_config({"issuer": issuer, "audiences": ["api"], "discovery_url": discovery})
    )
    token = SigningKey.generate("RS256").sign({"iss": issuer, "aud": "api", "exp": 4102444800})

    assert harness.prefetched == {issuer: False}
    for _ in range(3):
        harness.clock.advance(1)
        assert harness.outcome(token) == "keys_unavailable"
    assert scripted.hits[path] == 1
    assert harness.observer.counts["KeySetFetchFailures"] == 1
    assert harness.observer.counts["InternalError"] == 0
