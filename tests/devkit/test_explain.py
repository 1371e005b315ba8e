"""``python -m devkit explain``: every stage with the values it compared, then exactly one last
line ``verdict: ...``; exit 0 accept, 1 reject or forbidden, 2 a usage or configuration error.

The tokens are minted in-process with the committed development key at a fixed clock
(:data:`devkit.fixtures.FIXED_NOW`) and judged ``--at`` one minute later, so reports are exact.
Each 401 and 403 row of docs/troubleshooting.md that can happen without AWS is reproduced here
through ``explain`` (:data:`TROUBLESHOOTING`); rows that need a key set served over the network
are reproduced against the local identity provider (:func:`test_fetch_against_the_local_idp`).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from devkit import fixtures
from devkit.cli import main
from devkit.idp import LocalIdentityProvider
from devkit.paths import EVENTS_DIR
from tests.conftest import IdpFactory

NOW = fixtures.FIXED_NOW
AT = str(NOW + 60)
DOCUMENT: dict[str, Any] = json.loads(
    json.loads((EVENTS_DIR / "env.json").read_text())["AuthorizerFunction"]["AUTH_CONFIG"]
)
ISSUER = fixtures.DEV_ISSUER
TENANT = "5b8e2f4a-9c13-4d67-b0a2-7e1f3c9d8a54"
AUDIENCE = "c7a4e1d2-3f58-4b90-a6e3-1d9b2c7f0e85"
OTHER_TENANT = "11111111-2222-3333-4444-555555555555"
#: The development key's kid in the default (B2C) profile, which the inline key set publishes.
DEV_KID = "ktr8n0MJQqFBfQfC9mMxMzqxjFzVJkxS1A7QtM07oO0"


def run(*argv: str, stdin: str | None = None) -> tuple[int, str]:
    """(exit status, stdout) of ``python -m devkit``."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        if stdin is not None:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr("sys.stdin", io.StringIO(stdin))
                status = main(list(argv))
        else:
            status = main(list(argv))
    return status, out.getvalue()


def document(**issuer: Any) -> str:
    """The development configuration (events/env.json) with ``issuer`` members changed."""
    changed = json.loads(json.dumps(DOCUMENT))
    changed["issuers"][0].update(issuer)
    return json.dumps(changed)


def token(
    client: str = "reader-app",
    *,
    scopes: list[str] | None = None,
    lifetime: int = 3600,
    profile: Any = "entra-b2c",
    claims: dict[str, Any] | None = None,
    header: dict[str, Any] | None = None,
) -> str:
    shape = fixtures.Shape(profile=profile, claims=claims or {}, header=header or {})
    return fixtures.mint_development_token(
        client, scopes=scopes, lifetime=lifetime, shape=shape, now=NOW
    )


def explain(credential: str, *options: str, config: str | None = None) -> tuple[int, str]:
    return run(
        "explain", "--config", config or json.dumps(DOCUMENT), "--at", AT, *options, credential
    )


def lines(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


def test_an_accepted_token_stage_by_stage() -> None:
    status, out = explain(token())
    assert status == 0
    assert out == (
        "configuration AuthConfig from a document given inline + template.yaml parameters\n"
        "              AUTH_CONFIG document: 1 issuer, 5 route rules, unmatched deny,"
        " response_mode simple\n"
        "clock         2025-01-01T00:01:00Z (1735689660) from --at\n"
        "credential    Authorization: Bearer <token>\n"
        "token         852 characters, token_hash 708796656da2 (the token is never printed)\n"
        "header        alg 'RS256'  kid 'ktr8n0MJQqFBfQfC9mMxMzqxjFzVJkxS1A7QtM07oO0'  typ 'JWT'\n"
        f"iss           '{ISSUER}'\n"
        f"aud           '{AUDIENCE}'\n"
        "sub           '514ad4cd-5707-54d9-9380-0a06748557f1'\n"
        "azp           'reader-app'\n"
        "ver           '1.0'\n"
        "issuer        ok: issuers[0] (entra-b2c) is exactly the token's iss\n"
        "algorithm     ok: RS256 is in algorithms ['RS256']\n"
        "keys from     inline jwks (no network)\n"
        "key           ok: kid 'ktr8n0MJQqFBfQfC9mMxMzqxjFzVJkxS1A7QtM07oO0' (RSA) in 1 keys,"
        " 0 skipped\n"
        "signature     ok: verifies with that key (RS256)\n"
        "time          clock 2025-01-01T00:01:00Z, leeway 60 s\n"
        "              exp 1735693200 (2025-01-01T01:00:00Z): in 59m00s\n"
        "              nbf 1735689600 (2025-01-01T00:00:00Z): 1m00s ago\n"
        "              iat 1735689600 (2025-01-01T00:00:00Z): 1m00s ago\n"
        f"audience      aud '{AUDIENCE}', audiences ['{AUDIENCE}']\n"
        f"tenant        tid (absent), expected '{TENANT}'\n"
        "client        'reader-app' (first of azp), allowed_client_ids any\n"
        "claims        ok\n"
        "permissions   scp: app.read\n"
        "rules         GET /whoami              any valid token: satisfied\n"
        "              GET /orders              any of app.read: satisfied\n"
        "              POST /orders             any of app.write: not satisfied, lacks app.write\n"
        "              GET /orders/{id}         any of app.read: satisfied\n"
        "              ANY /admin/{proxy+}      any of app.admin: not satisfied, lacks app.admin\n"
        "              other routes             denied (route_not_permitted) (unmatched: deny)\n"
        "verdict: accept\n"
    )


def test_the_token_is_never_printed_whole_nor_its_signature() -> None:
    credential = token()
    _status, out = explain(credential)
    assert credential not in out
    assert credential.rsplit(".", 1)[1] not in out


def test_a_token_from_stdin_and_a_bearer_value() -> None:
    assert (
        run("explain", "--config", json.dumps(DOCUMENT), "--at", AT, "-", stdin=token() + "\n")[0]
        == 0
    )
    assert explain("Bearer " + token())[0] == 0


def _tampered() -> str:
    head, payload, signature = token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scp"] = "app.read app.write"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{signature}"


ENTRA = {"profile": "entra-id", "issuer": ISSUER.rstrip("/")}
ENTRA_CLAIMS = {"iss": ISSUER.rstrip("/"), "tid": TENANT}

#: (troubleshooting row, credential, configuration changes, the verdict line, a report line).
TROUBLESHOOTING: list[tuple[str, Any, dict[str, Any], str, str]] = [
    (
        "malformed_token shape (an opaque WSO2 token)",
        lambda: "5d3e8f21-6c7b-4a90-8e15-b2f4d6a0c973",
        {},
        "verdict: reject malformed_token",
        "parse         malformed_token: token is not a well-formed signed JWT (shape)",
    ),
    (
        "malformed_token jwe",
        lambda: "a.b.c.d.e",
        {},
        "verdict: reject malformed_token",
        "parse         malformed_token: token is not a well-formed signed JWT (jwe)",
    ),
    (
        "malformed_token unsigned (alg none)",
        lambda: token(header={"alg": "none"}),
        {},
        "verdict: reject malformed_token",
        "parse         malformed_token: token is not a well-formed signed JWT (unsigned)",
    ),
    (
        "token_too_large",
        lambda: token(claims={"groups": ["g" * 40] * 500}),
        {},
        "verdict: reject token_too_large",
        "",
    ),
    (
        "unknown_issuer (trailing slash)",
        lambda: token(claims={"iss": ISSUER.rstrip("/")}),
        {},
        "verdict: reject unknown_issuer",
        f"              compared: closest_issuer '{ISSUER}'",
    ),
    (
        "unknown_kid",
        lambda: token(header={"kid": "rotated-away"}),
        {},
        "verdict: reject unknown_kid",
        "",
    ),
    (
        "unsupported_alg (PS256 while algorithms is RS256)",
        lambda: token(header={"alg": "PS256"}),
        {},
        "verdict: reject unsupported_alg",
        "",
    ),
    (
        "unsupported_alg (HS256)",
        lambda: token(header={"alg": "HS256"}),
        {},
        "verdict: reject unsupported_alg",
        "",
    ),
    (
        "unsupported_header (crit)",
        lambda: token(header={"crit": ["exp"]}),
        {},
        "verdict: reject unsupported_header",
        "",
    ),
    ("bad_signature", _tampered, {}, "verdict: reject bad_signature", ""),
    (
        "first_party_token (Graph, header nonce)",
        lambda: token(
            profile="entra-id",
            claims={**ENTRA_CLAIMS, "aud": "https://graph.microsoft.com"},
            header={"nonce": "abc"},
        ),
        ENTRA,
        "verdict: reject first_party_token",
        "",
    ),
    ("expired", lambda: token(lifetime=-120), {}, "verdict: reject expired", ""),
    (
        "not_yet_valid",
        lambda: token(claims={"nbf": NOW + 3600}),
        {},
        "verdict: reject not_yet_valid",
        "",
    ),
    (
        "issued_in_future",
        lambda: token(claims={"iat": NOW + 3600}),
        {},
        "verdict: reject issued_in_future",
        "",
    ),
    (
        "token_too_old",
        lambda: token(claims={"iat": NOW - 7200}),
        {"max_token_age_seconds": 3600},
        "verdict: reject token_too_old",
        "",
    ),
    (
        "wrong_audience (api://x vs api://x/)",
        lambda: token(claims={"aud": "api://x"}),
        {"audiences": ["api://x/"]},
        "verdict: reject wrong_audience",
        "              hint: 'api://x' and 'api://x/' differ by a trailing slash: Entra v1 tokens"
        " carry the App ID URI as requested; list both forms",
    ),
    (
        "wrong_token_use (typ outside token_types)",
        lambda: token(header={"typ": "id+jwt"}),
        {"token_types": ["at+jwt"]},
        "verdict: reject wrong_token_use",
        "",
    ),
    (
        "wrong_tenant",
        lambda: token(
            profile="entra-id",
            claims={**ENTRA_CLAIMS, "tid": OTHER_TENANT},
            header={"kid": DEV_KID},
        ),
        ENTRA,
        "verdict: reject wrong_tenant",
        "",
    ),
    (
        "client_not_allowed",
        lambda: token(),
        {"allowed_client_ids": ["writer-app"]},
        "verdict: reject client_not_allowed",
        "",
    ),
    (
        "claim_mismatch",
        lambda: token(),
        {"required_claims": {"tfp": ["B2C_1A_OTHER"]}},
        "verdict: reject claim_mismatch",
        "",
    ),
]


@pytest.mark.parametrize(
    ("credential", "changes", "verdict", "line"),
    [row[1:] for row in TROUBLESHOOTING],
    ids=[row[0] for row in TROUBLESHOOTING],
)
def test_each_401_of_the_troubleshooting_guide(
    credential: Any, changes: dict[str, Any], verdict: str, line: str
) -> None:
    status, out = explain(credential(), config=document(**changes))
    assert (status, lines(out)[-1]) == (1, verdict)
    if line:
        assert line in lines(out)


def test_the_troubleshooting_guide_rows_are_all_covered() -> None:
    """Every 401 reason of docs/troubleshooting.md's token table is reproduced above or
    needs the network (the fetch test) or an event (the credential test)."""
    guide = (Path(__file__).parents[2] / "docs" / "troubleshooting.md").read_text()
    table = guide.split("## 401: the token was rejected", 1)[1].split("\n## ", 1)[0]
    reasons = {cell.split("`")[1] for cell in table.split("\n| 401 · ")[1:]}
    covered = {row[3].rsplit(" ", 1)[1] for row in TROUBLESHOOTING}
    elsewhere = {
        "missing_token",  # test_a_missing_or_doubled_credential
        "no_usable_keys",  # test_fetch_against_the_local_idp
        "malformed_request",  # not a token: the event is wrong (tests/unit/test_event.py)
        "internal_error",  # a bug; nothing to reproduce
        # explain does not call introspection endpoints (opaque tokens):
        # tests/integration/test_introspection.py reproduces it against oidc-provider and the IdP.
        "token_inactive",
    }
    assert reasons - covered - elsewhere == set()


def test_a_missing_or_doubled_credential() -> None:
    assert lines(explain("Basic dXNlcjpwYXNz")[1])[-1] == "verdict: reject malformed_token"
    assert lines(explain("Bearer a.b.c, Bearer d.e.f")[1])[-1] == "verdict: reject malformed_token"
    assert lines(explain("")[1])[-1] == "verdict: reject missing_token"


def test_a_route_the_token_may_not_call_is_forbidden() -> None:
    status, out = explain(token(), "--route", "POST /orders")
    assert status == 1
    assert "route         POST /orders: governed by POST /orders: insufficient_scope" in out
    assert lines(out)[-1] == "verdict: forbidden insufficient_scope"
    status, out = explain(token(), "--route", "DELETE /nothing")
    assert (status, lines(out)[-1]) == (1, "verdict: forbidden route_not_permitted")


def test_a_route_the_token_may_call_shows_both_apis_answers() -> None:
    status, out = explain(token(), "--route", "GET /orders")
    assert status == 0
    assert "answer        REST API: IAM policy (2 statements) allows GET /orders → 200" in out
    assert (
        "              HTTP API (payload 2.0, simple response, route key GET /orders):"
        " isAuthorized true → 200"
    ) in out
    assert lines(out)[-1] == "verdict: accept"


def test_usage_and_configuration_errors_exit_2() -> None:
    assert run("explain", "--config", "{not json", token())[0] == 2
    assert run("explain", "--config", json.dumps({"issuers": []}), token())[0] == 2
    assert run("explain", "--config", json.dumps(DOCUMENT), "--route", "nonsense", token())[0] == 2


@pytest.mark.parametrize("profile", ["entra-b2c", "wso2", "entra-id", "cognito", "oidc"])
def test_fetch_against_the_local_idp(idp_factory: IdpFactory, profile: Any) -> None:
    idp: LocalIdentityProvider = idp_factory(profile=profile, tls=True)
    entry: dict[str, Any] = {
        "issuer": idp.issuer,
        "audiences": [idp.audience or "reader-app"],
        "profile": profile,
        "discovery_url": idp.discovery_url,
        "ca_bundle": str(idp.ca_bundle_path),
    }
    config = json.dumps({"issuers": [entry]})
    credential = idp.mint(client_id="reader-app")
    status, out = run("explain", "--config", config, "--fetch", credential)
    assert (status, lines(out)[-1]) == (0, "verdict: accept"), out
    assert f"keys from     discovery {idp.discovery_url}" in out
    # Without --fetch the signature is not checked, and the report says so.
    status, out = run("explain", "--config", config, credential)
    assert (status, lines(out)[-1]) == (0, "verdict: accept")
    assert (
        "note          the signature was not checked (see keys): this verdict holds if it verifies"
    ) in out
    # The identity provider down: the keys are unavailable, which is not the token's fault.
    idp.set_mode("down")
    status, out = run("explain", "--config", config, "--fetch", credential)
    assert (status, lines(out)[-1]) == (1, "verdict: reject keys_unavailable")


#: The 500 rows of docs/troubleshooting.md (keys_unavailable and its `detail`): how to make the
#: local IdP produce each, and the detail explain shows (the URL fetched is the discovery URL).
KEY_FAILURES: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    "ConnectionError": ({"mode": "down"}, {}, "failed: ConnectionError fetching {discovery}"),
    "HTTP 404": ({"mode": "error", "status": 404}, {}, "failed: HTTP 404 from {discovery}"),
    "HTTP 403": ({"mode": "error", "status": 403}, {}, "failed: HTTP 403 from {discovery}"),
    "HTTP 30x": ({"mode": "error", "status": 302}, {}, "failed: HTTP 302 from {discovery}"),
    "not JSON": ({"mode": "html"}, {}, "failed: response from {discovery} is not JSON"),
    "too large": ({"mode": "oversized"}, {}, "failed: response from {discovery} exceeds"),
    "SSLError": ({}, {"ca_bundle": None}, "failed: SSLError fetching {discovery}"),
    "different issuer": (
        {},
        {"issuer": "https://127.0.0.1/other/"},
        "fix: set issuers[0].discovery_issuer to the issuer the document names",
    ),
}


@pytest.mark.parametrize("case", list(KEY_FAILURES))
def test_each_key_failure_of_the_troubleshooting_guide(idp_factory: IdpFactory, case: str) -> None:
    mode, changes, detail = KEY_FAILURES[case]
    idp: LocalIdentityProvider = idp_factory(profile="oidc", tls=True)
    entry = {
        "issuer": idp.issuer,
        "audiences": ["reader-app"],
        "profile": "oidc",
        "ca_bundle": str(idp.ca_bundle_path),
    }
    entry = {k: v for k, v in (entry | changes).items() if v is not None}
    if "issuer" in changes:  # B2C-like: the metadata is elsewhere and names another issuer
        entry["discovery_url"] = idp.discovery_url
    credential = idp.mint(client_id="reader-app", claims={"iss": entry["issuer"]})
    if mode:
        idp.set_mode(mode.pop("mode"), **mode)
    status, out = run(
        "explain", "--config", json.dumps({"issuers": [entry]}), "--fetch", credential
    )
    assert (status, lines(out)[-1]) == (1, "verdict: reject keys_unavailable"), out
    shown = [line for line in lines(out) if line.startswith(("fetched ", "              fix:"))]
    discovery = entry.get("discovery_url", entry["issuer"] + "/.well-known/openid-configuration")
    expected = detail.format(discovery=discovery)
    assert any(expected in line for line in shown), out
