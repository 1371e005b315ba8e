"""``python -m devkit check``: the configuration as the function would load it, what it will
fetch, what is risky; exactly one last line ``config: ok[, N warnings]`` or
``config: error <field>: <message>``; exit 0 ok, 1 error, 2 a usage error."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from devkit.cli import main
from devkit.idp import LocalIdentityProvider
from tests.conftest import IdpFactory

ROOT = Path(__file__).parents[2]
DEFAULT_CHECK = """\
configuration samconfig.toml [default] + template.yaml parameters
              simple mode: 1 issuer, 5 route rules, unmatched deny, response_mode simple
environment   ISSUER=https://contoso.b2clogin.com/00000000-0000-0000-0000-000000000000/v2.0/
              AUDIENCE=11111111-1111-1111-1111-111111111111
              ISSUER_PROFILE=entra-b2c
              DISCOVERY_URL=https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signupsignin/v2.0/.well-known/openid-con\u2026
              ALGORITHMS=RS256
              ROUTES=[{"route":"GET /whoami","scopes":[]},{"route":"GET /orders","scopes":["app.read"]},{"route":"POST /\u2026
              RESPONSE_MODE=simple
issuers[0]    'https://contoso.b2clogin.com/00000000-0000-0000-0000-000000000000/v2.0/' (entra-b2c)
              audiences ['11111111-1111-1111-1111-111111111111'], algorithms ['RS256'], leeway 60 s
              keys: discovery https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signupsignin/v2.0/.well-known/openid-configuration (must name issuer 'https://contoso.b2clogin.com/00000000-0000-0000-0000-000000000000/v2.0/')
              (key sets not fetched: run with --fetch to fetch them as the function does)
routes        5 rules, unmatched deny, response_mode simple, simple_cache_key route
api           RestApi.JwtTokenAuthorizer: REST TOKEN, TTL 300 s, identity method.request.header.Authorization
api           RestApi.JwtRequestAuthorizer: REST REQUEST, TTL 300 s, identity method.request.header.Authorization
api           HttpApi.JwtHttpAuthorizer: HTTP payload 2.0, simple responses, TTL 300 s, identity $request.header.Authorization, $context.routeKey
config: ok
"""  # noqa: E501


def run(*argv: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``python -m devkit``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def last(text: str) -> str:
    return text.rstrip("\n").rsplit("\n", 1)[-1]


def test_the_default_samconfig_environment() -> None:
    assert run("check") == (0, DEFAULT_CHECK, "")


def test_the_wso2_environment_loads() -> None:
    status, out, _ = run("check", "--config-env", "wso2")
    assert (status, last(out)) == (0, "config: ok")
    assert "issuers[0]    'https://is.example.com:9443/oauth2/token' (wso2)" in out


def test_configuration_errors_name_the_field() -> None:
    def error(document: dict[str, Any], *options: str) -> tuple[int, str]:
        status, out, _ = run("check", "--config", json.dumps(document), *options)
        return status, last(out)

    issuer = {"issuer": "https://a.example/", "audiences": ["x"]}
    assert error({"issuers": [{**issuer, "audience": ["x"]}]}) == (
        1,
        "config: error issuers[0].audience: is not a known setting (typo?)",
    )
    enc = {"kty": "RSA", "n": "abc", "e": "AQAB", "use": "enc"}
    assert error({"issuers": [{**issuer, "jwks": {"keys": [enc]}}]}) == (
        1,
        "config: error issuers[0].jwks.keys[0]: has use 'enc'; an inline key set holds signing"
        ' keys ("sig")',
    )
    # response_mode in a document must agree with the template's ResponseMode parameter.
    assert error({"issuers": [issuer], "response_mode": "iam"}) == (
        1,
        "config: error RESPONSE_MODE: is 'simple' but AUTH_CONFIG says response_mode 'iam'; they"
        " must match the API's EnableSimpleResponses",
    )
    assert error(
        {"issuers": [issuer], "response_mode": "iam"}, "--parameter-overrides", "ResponseMode=iam"
    ) == (0, "config: ok")


def test_usage_errors_exit_2_with_one_line() -> None:
    assert run("check", "--config", "file:nope.json") == (
        2,
        "",
        "devkit check: --config: no file nope.json here nor in the function package"
        " (src/authorizer/)\n",
    )
    assert run("check", "--config-env", "nope") == (
        2,
        "",
        "devkit check: --config-env: samconfig.toml has no environment 'nope' (it has: default,"
        " wso2)\n",
    )


def test_risky_configurations_are_warnings() -> None:
    document = {
        "issuers": [{"issuer": "https://a.example/", "audiences": ["x"]}],
        "routes": [{"route": "GET /orders", "scopes": ["app.read"]}],
        "unmatched": "authenticated",
    }
    status, out, _ = run("check", "--config", json.dumps(document), "--scopes", "app.read")
    assert (status, last(out)) == (0, "config: ok, 1 warning")
    assert (
        "warning       unmatched is 'authenticated' next to route rules: every route the rules do"
        " not list is open to any valid token (the default with rules is 'deny')"
    ) in out
    assert "              GET /orders                  REST 200, HTTP 200" in out


def _entry(idp: LocalIdentityProvider, **changes: Any) -> dict[str, Any]:
    entry = {
        "issuer": idp.issuer,
        "audiences": ["a"],
        "profile": idp.profile,
        "discovery_url": idp.discovery_url,
        "ca_bundle": str(idp.ca_bundle_path),
    }
    return {k: v for k, v in (entry | changes).items() if v is not None}


def _check(idp: LocalIdentityProvider, **changes: Any) -> tuple[int, str]:
    status, out, _ = run(
        "check", "--config", json.dumps({"issuers": [_entry(idp, **changes)]}), "--fetch"
    )
    return status, out


def test_fetch_lists_the_discovery_and_the_keys(idp_factory: IdpFactory) -> None:
    idp = idp_factory(profile="entra-b2c", tls=True)
    status, out = _check(idp)
    assert (status, last(out)) == (0, "config: ok")
    assert (
        f"                discovery: issuer '{idp.issuer}', jwks_uri '{idp.jwks_uri}'\n"
        f"                key set: 1 usable key: kid '{idp.signing_kid}' RSA (RS256)\n"
    ) in out


def test_fetch_reports_the_b2c_discovery_mismatch(idp_factory: IdpFactory) -> None:
    idp = idp_factory(profile="entra-b2c", tls=True)
    other = "https://127.0.0.1/tfp/contoso/B2C_1A_X/v2.0/"
    status, out = _check(idp, issuer=other)
    assert (status, last(out)) == (
        1,
        f"config: error issuers[0].discovery_url: discovery document names a different issuer:"
        f" '{idp.issuer}' at {idp.discovery_url}, expected '{other}'; set"
        " issuers[0].discovery_issuer to the issuer the document names (B2C per-policy metadata,"
        " an External ID host variant, a tfp issuer), or use jwks_uri",
    )
    assert _check(idp, issuer=other, discovery_issuer=idp.issuer)[0] == 0


def test_fetch_reports_the_external_id_host_variant_as_working(idp_factory: IdpFactory) -> None:
    idp = idp_factory(profile="entra-external-id", tls=True)
    assert idp.issuer.startswith("https://localhost:")
    assert last(_check(idp)[1]) == "config: ok"


def test_fetch_names_tls_failures_and_the_ca_bundle_remedy(idp_factory: IdpFactory) -> None:
    idp = idp_factory(profile="wso2", tls=True)
    status, out = _check(idp, ca_bundle=None)
    assert (status, last(out)) == (
        1,
        f"config: error issuers[0].discovery_url: SSLError fetching {idp.discovery_url}; the"
        " server's certificate is not trusted (certificate verify failed: self-signed certificate"
        " in certificate chain): set issuers[0].ca_bundle to a PEM of its CA, relative to the"
        " function root (e.g. certs/idp-ca.pem for src/authorizer/certs/idp-ca.pem,"
        " /var/task/certs/idp-ca.pem on Lambda)",
    )


def test_fetch_names_a_missing_discovery_document(idp_factory: IdpFactory) -> None:
    idp = idp_factory(profile="oidc", tls=True)
    url = idp.base_url + "/nope/.well-known/openid-configuration"
    assert last(_check(idp, discovery_url=url)[1]) == (
        f"config: error issuers[0].discovery_url: HTTP 404 from {url}; no discovery document at"
        " that URL (the default one is the issuer + /.well-known/openid-configuration): set"
        " issuers[0].discovery_url to the provider's metadata URL (B2C: the policy's) or give"
        " jwks_uri"
    )


def test_lockouts_are_warned_while_answers_are_cached() -> None:
    document = json.dumps(
        {
            "issuers": [{"issuer": "https://a.example/", "audiences": ["x"]}],
            "routes": [
                {"route": "GET /files/public"},
                {"route": "GET /files/{name}", "scopes": ["files.read"]},
            ],
            "unmatched": "authenticated",
        }
    )
    status, out, _ = run("check", "--config", document)
    assert (status, last(out)) == (0, "config: ok, 5 warnings")
    assert (
        "warning       lockout: GET /files/public (e.g. GET/files/public) gets 403 from cached"
        " answers of callers holding [] (blocked by GET /files/{name}) while the authorizer TTL"
        " (300 s) runs; set the TTL to 0, cache per request, or change the rules (README, Route"
        " rules)"
    ) in out.split("\n")
    status, out, _ = run(
        "check", "--config", document, "--parameter-overrides", "AuthorizerCacheTtl=0"
    )
    assert "lockout" not in out


ISSUER = {"issuer": "https://a.example/", "audiences": ["x"]}
#: The development key's public JWK (events/env.json), and the same with a private member.
PUBLIC_RSA: dict[str, Any] = json.loads(
    json.loads((ROOT / "events" / "env.json").read_text())["AuthorizerFunction"]["AUTH_CONFIG"]
)["issuers"][0]["jwks"]["keys"][0]
PRIVATE_RSA = {**PUBLIC_RSA, "d": "abc", "p": "def"}


def _doc(issuer: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    return {"issuers": [{**ISSUER, **(issuer or {})}], **top}


#: The configuration errors of docs/troubleshooting.md's 500 table: the row's first message
#: (up to any "...") and a document that produces it.
CONFIG_ERRORS: dict[str, dict[str, Any]] = {
    "routes[0].all_scopes: must be a JSON array of strings, each non-empty": _doc(
        routes=[{"route": "POST /orders", "all_scopes": True}]
    ),
    "issuers[0].audience: is not a known setting (typo?)": _doc({"audience": ["x"]}),
    "must be a JSON array of strings, not a string": _doc(
        {"required_claims": {"department": "Finance Admins"}}
    ),
    "issuers[0].allowed_client_ids: must not be empty; omit the key to allow any client": _doc(
        {"allowed_client_ids": []}
    ),
    "issuers[0].discovery_url: must not be empty": _doc({"discovery_url": ""}),
    "issuers[0].tenants: applies only to an issuer containing {tenantid}": _doc(
        {"tenants": ["11111111-2222-3333-4444-555555555555"]}
    ),
    "issuers[0].jwks: give an inline jwks or a jwks_uri / discovery_url, not both": _doc(
        {"jwks": {"keys": []}, "jwks_uri": "https://a.example/keys"}
    ),
    "issuers[0].leeway_seconds: must be at most 300 seconds (5 minutes) of clock skew": _doc(
        {"leeway_seconds": 60000}
    ),
    "keys.max_stale_seconds: must be at most 604800 seconds (7 days)": _doc(
        keys={"max_stale_seconds": 10**7}
    ),
    "routes[3].route: GET /orders/{orderId} is already governed by routes[1] (for the same"
    " issuers); merge the two rules": _doc(
        routes=[
            {"route": "GET /whoami"},
            {"route": "GET /orders/{id}", "scopes": ["a"]},
            {"route": "POST /orders"},
            {"route": "GET /orders/{orderId}", "scopes": ["b"]},
        ]
    ),
    "routes[0].route: path segment '${aws:username}' holds ${...}, IAM policy-variable syntax": (
        _doc(routes=[{"route": "GET /users/${aws:username}"}])
    ),
    "issuers[0].jwks.keys[1]: holds private key material; publish only the public key (remove"
    " 'd',": _doc({"jwks": {"keys": [PUBLIC_RSA, PRIVATE_RSA]}}),
    "issuers[0].jwks.keys[0]: is a symmetric (oct) key": _doc(
        {"jwks": {"keys": [{"kty": "oct", "k": "abc"}]}}
    ),
    "issuers[0].ca_bundle: file": _doc({"ca_bundle": "certs/missing.pem"}),
    "RESPONSE_MODE: is 'simple' but AUTH_CONFIG says response_mode 'iam'; they must match the"
    " API's EnableSimpleResponses": _doc(response_mode="iam"),
}


@pytest.mark.parametrize("message", list(CONFIG_ERRORS))
def test_each_configuration_error_of_the_troubleshooting_guide(message: str) -> None:
    status, out, _ = run("check", "--config", json.dumps(CONFIG_ERRORS[message]))
    assert status == 1
    line = last(out)
    if message.startswith("must be"):
        assert line.startswith("config: error issuers[0].required_claims.department: " + message)
    else:
        assert line.startswith("config: error " + message), line


def test_the_troubleshooting_guide_configuration_errors_are_all_covered() -> None:
    guide = (ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    rows = [
        line for line in guide.split("\n") if line.startswith("| … `") and "`detail`" not in line
    ]
    firsts = {row.split("`")[1].split(" ...")[0] for row in rows}
    firsts.discard("AUTH_CONFIG: cannot read SSM parameter")  # lives in AWS
    assert {
        first for first in firsts if not any(m.startswith(first.rstrip(".")) for m in CONFIG_ERRORS)
    } == set()
