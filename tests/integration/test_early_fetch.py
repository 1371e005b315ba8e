"""The key documents init downloads before the configuration is validated (``app.py`` step 2).

The early fetch is only a head start: the key cache still asks for every document and applies
every rule to what it is handed, each document is requested once, and anything the early fetch
got that the validated configuration does not ask for is never used.
"""

from __future__ import annotations

import io
import json
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from devkit.idp import LocalIdentityProvider
from jwt_authorizer import Authorizer
from jwt_authorizer.fetch import EarlyFetches, EarlyTarget, HttpFetcher
from jwt_authorizer.source import early_fetches
from tests.conftest import IdpFactory
from tests.integration.conftest import auth_config, issuer_entry, token_event


def _started(early: EarlyFetches | None) -> EarlyFetches:
    """The early fetches of a document that names fetchable key sources, started."""
    assert early is not None
    return early.start()


def _authorizer(
    idp: LocalIdentityProvider, document: dict[str, Any], early: EarlyFetches | None
) -> Authorizer:
    with redirect_stdout(io.StringIO()):
        return Authorizer.from_environ({"AUTH_CONFIG": json.dumps(document)}, early=early)


def _allowed(authorizer: Authorizer, idp: LocalIdentityProvider) -> bool:
    with redirect_stdout(io.StringIO()):
        answer = authorizer(token_event(idp.mint()))
    return {s["Effect"] for s in answer["policyDocument"]["Statement"]} == {"Allow"}


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https-ca_bundle"])
def test_discovery_and_key_set_are_fetched_once_and_used(
    idp_factory: IdpFactory, tls: bool
) -> None:
    idp = idp_factory(profile="entra-b2c", tls=tls)
    document = auth_config(issuer_entry(idp))
    early = early_fetches({"AUTH_CONFIG": json.dumps(document)}, base=Path("/"))
    assert early is not None
    early.start()
    authorizer = _authorizer(idp, document, early)

    assert _allowed(authorizer, idp)
    assert (idp.request_count("discovery"), idp.request_count("jwks")) == (1, 1)


def test_a_document_is_handed_over_once_later_refreshes_fetch(idp_factory: IdpFactory) -> None:
    idp = idp_factory(profile="wso2")
    document = auth_config(issuer_entry(idp, jwks_uri=idp.jwks_uri))
    early = _started(early_fetches({"AUTH_CONFIG": json.dumps(document)}, base=Path("/")))
    authorizer = _authorizer(idp, document, early)
    assert idp.request_count("jwks") == 1

    # An unknown kid refetches: the early result is not handed out a second time.
    idp.rotate_key()
    assert _allowed(authorizer, idp)
    assert idp.request_count("jwks") == 2


def test_discovery_naming_another_issuer_is_not_followed(idp_factory: IdpFactory) -> None:
    """The early fetch follows ``jwks_uri`` only when the document names the expected issuer,
    and the key cache still makes its own check: the fetch fails, no key set is requested."""
    idp = idp_factory(profile="entra-b2c")
    document = auth_config(issuer_entry(idp, discovery_issuer="https://elsewhere.example/"))
    early = _started(early_fetches({"AUTH_CONFIG": json.dumps(document)}, base=Path("/")))
    authorizer = _authorizer(idp, document, early)

    assert idp.request_count("discovery") == 1
    assert idp.request_count("jwks") == 0
    with pytest.raises(Exception, match="keys"), redirect_stdout(io.StringIO()):
        authorizer(token_event(idp.mint()))


def test_a_result_is_only_handed_to_the_same_url_and_ca_bundle(
    idp_factory: IdpFactory, tmp_path: Path
) -> None:
    idp = idp_factory(profile="wso2")
    early = EarlyFetches((EarlyTarget(idp.jwks_uri, str(tmp_path / "other-ca.pem")),)).start()
    document = auth_config(issuer_entry(idp, jwks_uri=idp.jwks_uri))
    authorizer = _authorizer(idp, document, early)

    assert _allowed(authorizer, idp)
    # The early fetch (for another CA bundle) got its document, but the key cache, asking
    # without one, was not handed it: it fetched for itself.
    assert idp.request_count("jwks") == 2


def test_nothing_fetched_early_is_handed_out_after_init(
    idp_factory: IdpFactory, tmp_path: Path
) -> None:
    """A document the key cache did not take during init is dropped: a later fetch of that URL
    (hours later, say) goes to the network instead of being handed a stale document."""
    idp = idp_factory(profile="wso2")
    spare = EarlyFetches((EarlyTarget(idp.jwks_uri, str(tmp_path / "another-ca.pem")),)).start()
    # Its download reaches the IdP before init starts, so the counts below are init's and ours.
    ends = time.monotonic() + 5
    while idp.request_count("jwks") < 1:
        assert time.monotonic() < ends, "the early download never reached the IdP"
        time.sleep(0.005)
    document = auth_config(issuer_entry(idp, jwks_uri=idp.jwks_uri))
    _authorizer(idp, document, spare)  # init takes nothing (other CA bundle), then closes it
    before = idp.request_count("jwks")
    fetcher = HttpFetcher(
        connect_timeout=1, read_timeout=1, max_response_bytes=1 << 20, early=spare
    )
    fetcher.get_json(idp.jwks_uri, ca_bundle=str(tmp_path / "another-ca.pem"))
    assert idp.request_count("jwks") == before + 1


# --------------------------------------------------------------------------- what is fetched


def _targets(document: object, **env: str) -> tuple[EarlyTarget, ...] | None:
    environ = {"AUTH_CONFIG": json.dumps(document)} | env
    early = early_fetches(environ, base=Path("/var/task"))
    return None if early is None else early._targets


def test_targets_follow_the_configuration() -> None:
    issuers = [
        {
            "issuer": "https://a.example/",
            "jwks_uri": ["https://a.example/k1", "https://a.example/k2"],
        },
        {"issuer": "https://b.example", "ca_bundle": "certs/ca.pem"},
        {
            "issuer": "https://c.example/",
            "discovery_url": "https://c.example/policy/.well-known/openid-configuration",
            "discovery_issuer": "https://c.example/tfp/",
        },
        {"issuer": "https://d.example/", "jwks": {"keys": []}},
        {"issuer": "https://login.example/{tenantid}/v2.0", "tenants": ["x"]},
    ]
    assert _targets({"issuers": issuers}) == (
        EarlyTarget("https://a.example/k1"),
        EarlyTarget("https://a.example/k2"),
        EarlyTarget(
            "https://b.example/.well-known/openid-configuration",
            "/var/task/certs/ca.pem",
            frozenset({"https://b.example"}),
        ),
        EarlyTarget(
            "https://c.example/policy/.well-known/openid-configuration",
            None,
            frozenset({"https://c.example/tfp/"}),
        ),
    )


def test_simple_mode_is_read_like_the_configuration() -> None:
    early = early_fetches(
        {"ISSUER": "https://a.example/", "AUDIENCE": "api", "JWKS_URI": "https://a.example/k"},
        base=Path("/var/task"),
    )
    assert early is not None
    assert early._targets == (EarlyTarget("https://a.example/k"),)


@pytest.mark.parametrize(
    "environ",
    [
        {"AUTH_CONFIG": "{not json"},
        {"AUTH_CONFIG": json.dumps({"issuers": "nope"})},
        {"AUTH_CONFIG": json.dumps({"issuers": [{"issuer": "https://a/", "jwks": {}}]})},
        {},
    ],
    ids=["not-json", "wrong-shape", "inline-keys-only", "no-configuration"],
)
def test_nothing_is_fetched_early_when_nothing_is_certain(environ: dict[str, str]) -> None:
    assert early_fetches(environ, base=Path("/var/task")) is None


def test_ssm_configurations_only_import_requests_early() -> None:
    early = early_fetches({"AUTH_CONFIG": "ssm:/app/config"}, base=Path("/var/task"))
    assert early is not None
    assert early._targets == ()
