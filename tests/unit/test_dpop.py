"""DPoP (RFC 9449) and certificate-bound tokens (RFC 8705) through the real handler.

Every resource-server check has a proof that violates exactly that check, and the exact reason
code it must produce; the accepted cases run through REST REQUEST, HTTP 1.0 and HTTP 2.0 events.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from jwt_authorizer import Authorizer, ConfigError
from jwt_authorizer.config import parse_config
from jwt_authorizer.dpop import normalise_url
from jwt_authorizer.replay import MemoryReplayStore
from tests.support.dpop import DpopClient, client_certificate
from tests.support.signing import SigningKey, b64json, b64url, claims
from tests.unit.conftest import NoNetwork, issuer_entry

API = "a1b2c3d4e5"
HOST = f"{API}.execute-api.eu-west-1.amazonaws.com"
REST_URL = f"https://{HOST}/prod/orders"
HTTP_HOST = "h7t8p9.execute-api.eu-west-1.amazonaws.com"
HTTP_URL = f"https://{HTTP_HOST}/orders"
HTTP_ARN = "arn:aws:execute-api:eu-west-1:123456789012:h7t8p9/$default"
KINDS = ("request", "http-1.0", "http-2.0")


@pytest.fixture(scope="module")
def client() -> DpopClient:
    return DpopClient.generate("ES256")


def document(
    key: SigningKey, *, dpop: str = "allowed", mtls: str = "off", **block: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "issuers": [issuer_entry(key, dpop=dpop, mtls=mtls)],
        "routes": [{"route": "GET /orders", "scopes": ["app.read"]}],
    }
    if dpop != "off":
        doc["dpop"] = {"replay_store": "memory", "authorizer_cache_off": True, **block}
    return doc


def authorizer(doc: dict[str, Any], **kwargs: Any) -> Authorizer:
    return Authorizer.from_environ({"AUTH_CONFIG": json.dumps(doc)}, fetcher=NoNetwork(), **kwargs)


def bound_token(key: SigningKey, client: DpopClient | None = None, **cnf: str) -> str:
    confirmation = dict(cnf)
    if client is not None:
        confirmation["jkt"] = client.jkt
    return key.sign(claims(cnf=confirmation) if confirmation else claims())


def event(
    kind: str,
    authorization: str | None,
    proofs: list[str] | None = None,
    *,
    cert_pem: str | None = None,
    method: str = "GET",
) -> dict[str, Any]:
    headers: list[tuple[str, str]] = []
    if authorization is not None:
        headers.append(("Authorization", authorization))
    headers += [("DPoP", proof) for proof in proofs or []]
    cert = {"clientCertPem": cert_pem, "subjectDN": "CN=client-app"} if cert_pem else None
    if kind == "http-2.0":
        lowered: dict[str, str] = {}
        for name, value in headers:
            lowered[name.lower()] = (
                f"{lowered[name.lower()]},{value}" if name.lower() in lowered else value
            )
        context: dict[str, Any] = {
            "domainName": HTTP_HOST,
            "stage": "$default",
            "http": {"method": method, "path": "/orders"},
            "routeKey": f"{method} /orders",
        }
        if cert:
            context["authentication"] = {"clientCert": cert}
        return {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": f"{HTTP_ARN}/{method}/orders",
            "routeKey": f"{method} /orders",
            "rawPath": "/orders",
            "headers": lowered,
            "requestContext": context,
        }
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        multi.setdefault(name if kind == "request" else name.lower(), []).append(value)
    single = {name: values[-1] for name, values in multi.items()}
    path = "/prod/orders" if kind == "request" else "/orders"
    host = HOST if kind == "request" else HTTP_HOST
    stage = "prod" if kind == "request" else "$default"
    api = API if kind == "request" else "h7t8p9"
    built: dict[str, Any] = {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:eu-west-1:123456789012:{api}/{stage}/{method}/orders",
        "resource": "/orders",
        "path": "/orders",
        "httpMethod": method,
        "headers": single,
        "multiValueHeaders": multi,
        "requestContext": {
            "path": path,
            "domainName": host,
            "stage": stage,
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.10", "clientCert": cert},
        },
    }
    if kind == "http-1.0":
        built["version"] = "1.0"
    return built


def url_of(kind: str) -> str:
    return REST_URL if kind == "request" else HTTP_URL


def allowed(answer: dict[str, Any]) -> bool:
    if "isAuthorized" in answer:
        return bool(answer["isAuthorized"])
    return any(s["Effect"] == "Allow" for s in answer["policyDocument"]["Statement"]) and not any(
        s["Effect"] == "Deny" for s in answer["policyDocument"]["Statement"]
    )


def rejected(auth: Authorizer, evt: dict[str, Any], logs: pytest.LogCaptureFixture) -> str | None:
    """The reason code of a 401 (REST: the ``Unauthorized`` error; HTTP simple: false)."""
    logs.clear()
    if evt.get("version") == "2.0":
        assert auth(evt, None)["isAuthorized"] is False
    else:
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            auth(evt, None)
    denied = [r for r in logs.records if r.getMessage() == "request denied"]
    assert len(denied) == 1
    return str(denied[0].reason)


# --------------------------------------------------------------------------------------- allowed


@pytest.mark.parametrize("kind", KINDS)
def test_a_bound_token_with_a_fresh_proof_is_allowed(
    rsa_key: SigningKey, client: DpopClient, kind: str
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key, client)
    proof = client.proof("GET", url_of(kind), token)
    assert allowed(auth(event(kind, f"DPoP {token}", [proof]), None))


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "PS256", "RS256", "EdDSA"])
def test_every_asymmetric_proof_algorithm_verifies(rsa_key: SigningKey, alg: str) -> None:
    auth = authorizer(document(rsa_key))
    dpop = DpopClient.generate(alg)
    token = bound_token(rsa_key, dpop)
    assert allowed(
        auth(event("request", f"dpop {token}", [dpop.proof("GET", REST_URL, token)]), None)
    )


def test_htu_is_compared_after_rfc3986_normalisation(
    rsa_key: SigningKey, client: DpopClient
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key, client)
    variant = f"HTTPS://{HOST.upper()}:443/%70rod/orders?page=2#top"
    assert allowed(
        auth(event("request", f"DPoP {token}", [client.proof("GET", variant, token)]), None)
    )


def test_normalisation() -> None:
    assert (
        normalise_url("HTTPS://Api.Example.COM:443/a/./b/../c%7e%2f")
        == "https://api.example.com/a/c~%2F"
    )
    assert normalise_url("http://127.0.0.1:80") == "http://127.0.0.1/"
    assert normalise_url("https://h/a b") == normalise_url("https://h/a%20b")
    assert normalise_url("https://h:8443/x") == "https://h:8443/x"
    assert normalise_url("ftp://h/x") is None
    assert normalise_url("https://user@h/x") is None
    assert normalise_url("https://h:99999/x") is None


def test_configured_base_urls_replace_the_event_url(
    rsa_key: SigningKey, client: DpopClient
) -> None:
    """A custom domain with a base-path mapping: the client calls another URL than the API's."""
    auth = authorizer(document(rsa_key, htu_base_urls=["https://api.example.com/shop"]))
    token = bound_token(rsa_key, client)
    custom = client.proof("GET", "https://api.example.com/shop/orders", token)
    assert allowed(auth(event("request", f"DPoP {token}", [custom]), None))
    token2 = bound_token(rsa_key, client)
    default = client.proof("GET", REST_URL, token2)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        auth(event("request", f"DPoP {token2}", [default]), None)


def test_allowed_mode_keeps_bearer_tokens(rsa_key: SigningKey) -> None:
    auth = authorizer(document(rsa_key))
    for kind in ("token", *KINDS):
        evt = (
            event(kind, f"Bearer {rsa_key.sign(claims())}")
            if kind != "token"
            else {
                "type": "TOKEN",
                "authorizationToken": f"Bearer {rsa_key.sign(claims())}",
                "methodArn": f"arn:aws:execute-api:eu-west-1:123456789012:{API}/prod/GET/orders",
            }
        )
        assert allowed(auth(evt, None)), kind


# ---------------------------------------------------------------- one violated check per proof

VIOLATIONS: dict[str, tuple[dict[str, Any], str]] = {
    # name: (arguments of DpopClient.proof, expected reason)
    "typ is JWT": ({"header": {"typ": "JWT"}}, "invalid_dpop_proof"),
    "typ missing": ({"header": {"typ": None}}, "invalid_dpop_proof"),
    "jwk missing": ({"header": {"jwk": None}}, "invalid_dpop_proof"),
    "jwk with a private member": ({"header": {"jwk": "private"}}, "invalid_dpop_proof"),
    "jwk is an HMAC key": (
        {"header": {"jwk": {"kty": "oct", "k": "c2VjcmV0"}}},
        "invalid_dpop_proof",
    ),
    "signed by another key": ({"signer": "other"}, "invalid_dpop_proof"),
    "alg none": ({"header": {"alg": "none"}}, "invalid_dpop_proof"),
    "alg HS256": ({"header": {"alg": "HS256"}}, "invalid_dpop_proof"),
    "alg not allowed": ({"header": {"alg": "ES384"}}, "invalid_dpop_proof"),
    "crit header": ({"header": {"crit": ["exp"]}}, "invalid_dpop_proof"),
    "htm is POST": ({"claims": {"htm": "POST"}}, "invalid_dpop_proof"),
    "htm lower case": ({"claims": {"htm": "get"}}, "invalid_dpop_proof"),
    "htu another host": (
        {"claims": {"htu": "https://evil.example.com/prod/orders"}},
        "invalid_dpop_proof",
    ),
    "htu another path": (
        {"claims": {"htu": f"https://{HOST}/prod/orders/1"}},
        "invalid_dpop_proof",
    ),
    "htu http scheme": ({"claims": {"htu": f"http://{HOST}/prod/orders"}}, "invalid_dpop_proof"),
    "htu not a string": ({"claims": {"htu": 42}}, "invalid_dpop_proof"),
    "iat too old": ({"claims": {"iat": int(time.time()) - 120}}, "invalid_dpop_proof"),
    "iat in the future": ({"claims": {"iat": int(time.time()) + 60}}, "invalid_dpop_proof"),
    "iat missing": ({"drop": ("iat",)}, "invalid_dpop_proof"),
    "iat a string": ({"claims": {"iat": "now"}}, "invalid_dpop_proof"),
    "ath of another token": ({"claims": {"ath": b64url(b"x" * 32)}}, "invalid_dpop_proof"),
    "ath missing": ({"drop": ("ath",)}, "invalid_dpop_proof"),
    "jti missing": ({"drop": ("jti",)}, "invalid_dpop_proof"),
    "jti not a string": ({"claims": {"jti": 7}}, "invalid_dpop_proof"),
    "jkt of another key": ({"client": "other"}, "dpop_binding_mismatch"),
}


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
def test_each_violated_check_has_its_reason(
    rsa_key: SigningKey, client: DpopClient, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    arguments, reason = VIOLATIONS[name]
    arguments = dict(arguments)
    auth = authorizer(document(rsa_key, algorithms=["ES256", "RS256", "PS256"]))
    token = bound_token(rsa_key, client)
    maker = client
    if arguments.pop("client", None) == "other":
        maker = DpopClient.generate("ES256")
    if arguments.pop("signer", None) == "other":
        arguments["signer"] = SigningKey.generate("ES256")
    header = arguments.get("header")
    if header is not None and header.get("jwk") == "private":
        private = maker.key.private.private_numbers()
        arguments["header"] = {
            "jwk": maker.jwk | {"d": b64url(private.private_value.to_bytes(32, "big"))}
        }
    proof = maker.proof("GET", REST_URL, token, **arguments)
    assert rejected(auth, event("request", f"DPoP {token}", [proof]), caplog) == reason


@pytest.mark.parametrize(
    "mangle",
    ["duplicate member", "non-canonical base64url", "oversized", "five segments"],
)
def test_proofs_are_parsed_as_strictly_as_tokens(
    rsa_key: SigningKey, client: DpopClient, mangle: str, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key, client)
    good = client.proof("GET", REST_URL, token)
    head, body, signature = good.split(".")
    if mangle == "duplicate member":
        text = json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": client.jwk})
        text = text[:-1] + ', "typ": "dpop+jwt"}'
        proof = f"{b64url(text.encode())}.{body}.{signature}"
    elif mangle == "non-canonical base64url":
        last = signature[-1]
        proof = f"{head}.{body}.{signature[:-1]}{'B' if last == 'A' else 'A'}"
        proof = f"{head}.{body}.{signature}=" if last == "A" else proof
    elif mangle == "oversized":
        proof = client.proof("GET", REST_URL, token, claims={"pad": "x" * 9000})
    else:
        proof = f"{head}.{body}.{signature}.e30.e30"
    assert (
        rejected(auth, event("request", f"DPoP {token}", [proof]), caplog) == "invalid_dpop_proof"
    )


def test_an_rsa_proof_key_under_2048_bits_is_refused(
    rsa_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key))
    weak = DpopClient(SigningKey.generate("RS256", kid="weak", bits=1024))
    token = bound_token(rsa_key, weak)
    proof = weak.proof("GET", REST_URL, token)
    assert (
        rejected(auth, event("request", f"DPoP {token}", [proof]), caplog) == "invalid_dpop_proof"
    )


# ------------------------------------------------------------------ presentation and replay


def test_a_replayed_proof_is_refused(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key, client)
    evt = event("request", f"DPoP {token}", [client.proof("GET", REST_URL, token)])
    assert allowed(auth(evt, None))
    assert rejected(auth, evt, caplog) == "dpop_replay"
    fresh = event("request", f"DPoP {token}", [client.proof("GET", REST_URL, token)])
    assert allowed(auth(fresh, None))


def test_a_replay_reaching_a_fresh_local_cache_is_refused_by_the_store(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Two execution environments (separate local caches) sharing one store."""
    store = MemoryReplayStore()
    first, second = (authorizer(document(rsa_key), replay_store=store) for _ in range(2))
    token = bound_token(rsa_key, client)
    evt = event("http-2.0", f"DPoP {token}", [client.proof("GET", HTTP_URL, token)])
    assert allowed(first(evt, None))
    assert rejected(second, evt, caplog) == "dpop_replay"


def test_a_bound_token_presented_as_bearer_is_refused(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key, client)
    proof = client.proof("GET", REST_URL, token)
    assert (
        rejected(auth, event("request", f"Bearer {token}", [proof]), caplog) == "missing_dpop_proof"
    )
    assert rejected(auth, event("request", f"Bearer {token}"), caplog) == "missing_dpop_proof"


def test_the_dpop_scheme_needs_a_proof(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key, client)
    assert rejected(auth, event("http-1.0", f"DPoP {token}"), caplog) == "missing_dpop_proof"


def test_exactly_one_dpop_header(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key, client)
    proofs = [client.proof("GET", HTTP_URL, token), client.proof("GET", HTTP_URL, token)]
    for kind in ("http-1.0", "http-2.0"):
        assert rejected(auth, event(kind, f"DPoP {token}", proofs), caplog) == "invalid_dpop_proof"


def test_an_unbound_token_with_the_dpop_scheme_is_a_binding_mismatch(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key)
    proof = client.proof("GET", REST_URL, token)
    assert (
        rejected(auth, event("request", f"DPoP {token}", [proof]), caplog)
        == "dpop_binding_mismatch"
    )


def test_required_mode_refuses_bearer_tokens(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key, dpop="required"))
    plain = rsa_key.sign(claims())
    assert rejected(auth, event("request", f"Bearer {plain}"), caplog) == "missing_dpop_proof"
    token = bound_token(rsa_key, client)
    assert allowed(
        auth(event("request", f"DPoP {token}", [client.proof("GET", REST_URL, token)]), None)
    )


def test_token_authorizers_cannot_do_dpop(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key, client)
    arn = f"arn:aws:execute-api:eu-west-1:123456789012:{API}/prod/GET/orders"
    for value in (f"DPoP {token}", f"Bearer {token}"):
        evt = {"type": "TOKEN", "authorizationToken": value, "methodArn": arn}
        assert rejected(auth, evt, caplog) == "dpop_unsupported_event"


def test_with_dpop_off_nothing_changes(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The DPoP scheme stays what it always was, a credential that is not Bearer; a cnf claim
    is not looked at."""
    auth = authorizer(document(rsa_key, dpop="off"))
    token = bound_token(rsa_key, client)
    assert (
        rejected(
            auth, event("request", f"DPoP {token}", [client.proof("GET", REST_URL, token)]), caplog
        )
        == "malformed_token"
    )
    assert allowed(auth(event("request", f"Bearer {token}"), None))


def test_http_simple_denials_carry_the_dpop_challenge(
    rsa_key: SigningKey, client: DpopClient
) -> None:
    auth = authorizer(document(rsa_key, algorithms=["ES256", "PS256"]))
    token = bound_token(rsa_key, client)
    proof = client.proof("POST", HTTP_URL, token)
    answer = auth(event("http-2.0", f"DPoP {token}", [proof]), None)
    assert answer == {
        "isAuthorized": False,
        "context": {
            "error": "invalid_dpop_proof",
            "reason": "invalid_dpop_proof",
            "www_authenticate": 'DPoP error="invalid_dpop_proof", algs="ES256 PS256"',
        },
    }


def test_init_warns_until_the_cache_is_declared_off(
    rsa_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    doc = document(rsa_key)
    doc["dpop"]["authorizer_cache_off"] = False
    caplog.clear()
    authorizer(doc)
    warnings = [r for r in caplog.records if r.getMessage().startswith("DPoP is enabled")]
    assert len(warnings) == 1
    assert warnings[0].levelname == "WARNING"
    caplog.clear()
    authorizer(document(rsa_key))
    assert not [r for r in caplog.records if r.getMessage().startswith("DPoP is enabled")]


# --------------------------------------------------------------------- certificate binding


@pytest.mark.parametrize("kind", KINDS)
def test_certificate_bound_tokens(
    rsa_key: SigningKey, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key, dpop="off", mtls="allowed"))
    pem, thumbprint = client_certificate()
    other_pem, _ = client_certificate("someone-else")
    token = bound_token(rsa_key, **{"x5t#S256": thumbprint})
    assert allowed(auth(event(kind, f"Bearer {token}", cert_pem=pem), None))
    assert (
        rejected(auth, event(kind, f"Bearer {token}", cert_pem=other_pem), caplog)
        == "certificate_mismatch"
    )
    assert rejected(auth, event(kind, f"Bearer {token}"), caplog) == "missing_client_certificate"
    assert allowed(auth(event(kind, f"Bearer {rsa_key.sign(claims())}"), None))


def test_required_certificate_binding(
    rsa_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key, dpop="off", mtls="required"))
    pem, _ = client_certificate()
    assert (
        rejected(auth, event("request", f"Bearer {rsa_key.sign(claims())}", cert_pem=pem), caplog)
        == "certificate_mismatch"
    )


def test_dpop_and_certificate_binding_together(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key, mtls="allowed"))
    pem, thumbprint = client_certificate()
    token = bound_token(rsa_key, client, **{"x5t#S256": thumbprint})
    proof = client.proof("GET", REST_URL, token)
    assert allowed(auth(event("request", f"DPoP {token}", [proof], cert_pem=pem), None))
    proof = client.proof("GET", REST_URL, token)
    assert (
        rejected(auth, event("request", f"DPoP {token}", [proof]), caplog)
        == "missing_client_certificate"
    )


# ----------------------------------------------------------------------------- configuration


def test_configuration(rsa_key: SigningKey) -> None:
    base = {"issuers": [issuer_entry(rsa_key)]}
    with pytest.raises(ConfigError) as caught:
        parse_config({**base, "dpop": {"replay_store": "memory"}})
    assert caught.value.field == "dpop"
    with pytest.raises(ConfigError) as caught:
        parse_config({"issuers": [issuer_entry(rsa_key, dpop="allowed")]})
    assert caught.value.field == "dpop.replay_table"
    with pytest.raises(ConfigError) as caught:
        parse_config({"issuers": [issuer_entry(rsa_key, dpop="sometimes")]})
    assert caught.value.field == "issuers[0].dpop"
    with pytest.raises(ConfigError) as caught:
        parse_config(document(rsa_key, algorithms=["HS256"]))
    assert caught.value.field == "dpop.algorithms"
    with pytest.raises(ConfigError) as caught:
        parse_config(document(rsa_key, htu_base_urls=["http://api.example.com"]))
    assert caught.value.field == "dpop.htu_base_urls"
    config = parse_config(
        {"issuers": [issuer_entry(rsa_key, dpop="required")], "dpop": {"replay_table": "t"}}
    )
    assert config.dpop.replay_table == "t"
    assert config.dpop.max_age_seconds == 60


def test_template_variables_fill_the_dpop_block(rsa_key: SigningKey) -> None:
    from jwt_authorizer import load_config

    doc = json.dumps({"issuers": [issuer_entry(rsa_key, dpop="allowed")]})
    config = load_config(
        {"AUTH_CONFIG": doc, "DPOP_REPLAY_TABLE": "replay", "DPOP_AUTHORIZER_CACHE_OFF": "true"}
    )
    assert config.dpop.replay_table == "replay"
    assert config.dpop.authorizer_cache_off
    plain = json.dumps({"issuers": [issuer_entry(rsa_key)]})
    assert not load_config({"AUTH_CONFIG": plain, "DPOP_REPLAY_TABLE": "replay"}).uses_dpop
    simple = load_config(
        {
            "ISSUER": "https://idp.example.com/",
            "AUDIENCE": "api",
            "DPOP": "required",
            "DPOP_REPLAY_TABLE": "replay",
        }
    )
    assert simple.issuers[0].dpop == "required"
    assert simple.dpop.replay_table == "replay"


def test_b64json_helper_is_what_tokens_use() -> None:
    assert b64json({"a": 1}) == "eyJhIjoxfQ"


def test_nothing_new_is_imported_at_init_without_sender_constrained_tokens() -> None:
    """Cold start without DPoP or mTLS: the DPoP modules (and boto3 for them) stay unloaded."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(root / "src" / "authorizer"),
        "ISSUER": "https://idp.example.com/",
        "AUDIENCE": "api",
        "JWKS_URI": "https://127.0.0.1:9/jwks",
    }
    code = (
        "import sys, jwt_authorizer.app; "
        "print(' '.join(m for m in sys.modules if m.startswith(('jwt_authorizer', 'boto3'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert "jwt_authorizer.handler" in loaded
    assert not {
        "jwt_authorizer.dpop",
        "jwt_authorizer.replay",
        "jwt_authorizer.binding",
        "boto3",
    } & set(loaded)
