"""``python -m devkit discover``: against the local identity provider in every profile, the
provider is recognised and the printed ``issuers[]`` entry works (the function loads it and its
key cache fetches a usable key), with the matching samconfig.toml parameter overrides."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest

from devkit.cli import main
from devkit.idp import LocalIdentityProvider
from tests.conftest import IdpFactory


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def entry_of(out: str) -> dict[str, Any]:
    text = out.split("issuers[] entry:\n", 1)[1].split("\n\n", 1)[0]
    document: dict[str, Any] = json.loads(text)
    return document


#: profile -> (what discover is given, the provider line, whether the entry needs discovery_url)
CASES: dict[str, tuple[str, str, bool]] = {
    "entra-b2c": ("discovery", "provider      Entra ID B2C (profile entra-b2c)", True),
    "entra-external-id": (
        "discovery",
        "provider      Entra External ID (profile entra-external-id)",
        True,
    ),
    "entra-id": ("issuer", "provider      Entra ID (v2 tokens) (profile entra-id)", False),
    "wso2": ("issuer", "provider      WSO2 Identity Server / Asgardeo (profile wso2)", False),
    "cognito": ("issuer", "provider      Amazon Cognito user pool (profile cognito)", False),
    "oidc": ("issuer", "provider      generic OpenID Connect (profile oidc)", False),
}


@pytest.mark.parametrize("profile", list(CASES))
def test_each_profile_is_recognised_and_its_entry_works(
    idp_factory: IdpFactory, profile: Any
) -> None:
    idp: LocalIdentityProvider = idp_factory(profile=profile, tls=True)
    given, provider, needs_discovery_url = CASES[profile]
    target = idp.discovery_url if given == "discovery" else idp.issuer
    status, out, _ = run(
        "discover", target, "--ca-bundle", str(idp.ca_bundle_path), "--audience", "api://orders"
    )
    assert status == 0, out
    assert provider in out.split("\n")
    assert f"jwks_uri      '{idp.jwks_uri}'" in out
    assert f"              kid '{idp.signing_kid}' RSA RS256 use sig" in out
    assert (
        "verified      the function loads this entry and its key cache fetched 1 usable key" in out
    )
    expected = {
        "issuer": idp.issuer,
        "audiences": ["api://orders"],
        "profile": provider.rsplit("profile ", 1)[1].rstrip(")"),
        **({"discovery_url": idp.discovery_url} if needs_discovery_url else {}),
        "ca_bundle": str(idp.ca_bundle_path),
    }
    assert entry_of(out) == expected
    assert f'  "Issuer={idp.issuer}",' in out
    assert '  "Audience=api://orders",' in out


def test_an_unreachable_provider_exits_1(idp_factory: IdpFactory) -> None:
    idp = idp_factory(profile="oidc", tls=True)
    idp.set_mode("down")
    status, out, _ = run("discover", idp.issuer, "--ca-bundle", str(idp.ca_bundle_path))
    assert status == 1
    assert out.split("\n")[1:3] == [
        f"failed        ConnectionError fetching {idp.discovery_url}",
        "              fix: the identity provider cannot be reached from here (network, firewall,"
        " host name)",
    ]


def test_usage_errors_exit_2() -> None:
    assert run("discover", "login.example.com") == (
        2,
        "",
        "devkit discover: expected an https URL (an issuer or a discovery URL), got"
        " 'login.example.com'\n",
    )
    assert run("discover", "https://a.example/", "--ca-bundle", "/nonexistent.pem") == (
        2,
        "",
        "devkit discover: --ca-bundle: no file /nonexistent.pem\n",
    )
