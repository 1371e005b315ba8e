"""The local identity provider, exercised over real HTTP(S) with requests."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from devkit.cli import main
from devkit.idp import (
    B2C_POLICY,
    COGNITO_POOL,
    COGNITO_RESOURCE_SERVER,
    DEFAULT_API_AUDIENCE,
    DEFAULT_CLIENTS_FILE,
    DEFAULT_TENANT_ID,
    DEFAULT_TENANT_NAME,
    OVERSIZED_BYTES,
    PROFILES,
    LocalIdentityProvider,
    Profile,
    load_clients,
)

from .conftest import IdpFactory

ALL_PROFILES = list(PROFILES)
DISCOVERY_REQUIRED = {
    "issuer",
    "jwks_uri",
    "token_endpoint",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
}
TOOLS_DIR = Path(__file__).resolve().parents[2] / "tools"


# ---- helpers ----------------------------------------------------------------------------------


def b64url_decode(segment: str) -> bytes:
    assert "=" not in segment, "JOSE base64url must not be padded"
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


def public_key(jwk: dict[str, Any]) -> rsa.RSAPublicKey:
    n = int.from_bytes(b64url_decode(jwk["n"]), "big")
    e = int.from_bytes(b64url_decode(jwk["e"]), "big")
    return rsa.RSAPublicNumbers(e, n).public_key()


def verify(token: str, jwk: dict[str, Any]) -> None:
    """Raise InvalidSignature unless ``token`` is RS256-signed by ``jwk``."""
    header, payload, signature = token.rsplit(".", 2)
    public_key(jwk).verify(
        b64url_decode(signature),
        f"{header}.{payload}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def jwk_by_kid(http: requests.Session, idp: LocalIdentityProvider, kid: str) -> dict[str, Any]:
    keys = http.get(idp.jwks_uri).json()["keys"]
    matches: list[dict[str, Any]] = [key for key in keys if key["kid"] == kid]
    assert len(matches) == 1, f"kid {kid} published {len(matches)} times"
    return matches[0]


def kids(http: requests.Session, idp: LocalIdentityProvider) -> list[str]:
    return [key["kid"] for key in http.get(idp.jwks_uri).json()["keys"]]


def get_token(
    http: requests.Session,
    idp: LocalIdentityProvider,
    client: str = "writer-app",
    scope: str | None = None,
) -> requests.Response:
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    return http.post(
        idp.token_endpoint, auth=(client, client.replace("-app", "-secret")), data=data
    )


@pytest.fixture(params=ALL_PROFILES)
def any_idp(request: pytest.FixtureRequest, idp_factory: IdpFactory) -> LocalIdentityProvider:
    return idp_factory(profile=request.param)


# ---- discovery and URLs -------------------------------------------------------------------


def test_b2c_urls_follow_the_per_policy_layout(b2c_idp: LocalIdentityProvider) -> None:
    base, policy = b2c_idp.base_url, f"{DEFAULT_TENANT_NAME}.onmicrosoft.com/{B2C_POLICY}"
    assert b2c_idp.issuer == f"{base}/{DEFAULT_TENANT_ID}/v2.0/"
    assert b2c_idp.discovery_url == f"{base}/{policy}/v2.0/.well-known/openid-configuration"
    assert b2c_idp.jwks_uri == f"{base}/{policy}/discovery/v2.0/keys"
    assert b2c_idp.token_endpoint == f"{base}/{policy}/oauth2/v2.0/token"


def test_wso2_urls(wso2_idp: LocalIdentityProvider) -> None:
    base = wso2_idp.base_url
    assert wso2_idp.issuer == f"{base}/oauth2/token"
    assert wso2_idp.discovery_url == f"{base}/oauth2/token/.well-known/openid-configuration"
    assert wso2_idp.jwks_uri == f"{base}/oauth2/jwks"
    assert wso2_idp.token_endpoint == f"{base}/oauth2/token"


def test_entra_id_urls(entra_id_idp: LocalIdentityProvider) -> None:
    base = entra_id_idp.base_url
    assert entra_id_idp.issuer == f"{base}/{DEFAULT_TENANT_ID}/v2.0"
    assert entra_id_idp.discovery_url == f"{entra_id_idp.issuer}/.well-known/openid-configuration"
    assert entra_id_idp.jwks_uri == f"{base}/{DEFAULT_TENANT_ID}/discovery/v2.0/keys"
    assert entra_id_idp.token_endpoint == f"{base}/{DEFAULT_TENANT_ID}/oauth2/v2.0/token"


def test_discovery_document_points_at_the_live_endpoints(
    any_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    response = idp_http.get(any_idp.discovery_url)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    document = response.json()
    assert document.keys() >= DISCOVERY_REQUIRED
    assert document["issuer"] == any_idp.issuer
    assert document["jwks_uri"] == any_idp.jwks_uri
    assert document["token_endpoint"] == any_idp.token_endpoint
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert document == any_idp.discovery_document()
    assert idp_http.get(document["jwks_uri"]).status_code == 200


def test_b2c_discovery_is_not_at_issuer_plus_well_known(
    b2c_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    """Reproduces the real B2C spec conflict that strict OIDC discovery clients trip over."""
    document = idp_http.get(b2c_idp.discovery_url).json()
    assert document["issuer"] == b2c_idp.issuer
    assert document["issuer"].endswith(f"/{DEFAULT_TENANT_ID}/v2.0/")
    assert B2C_POLICY not in document["issuer"]
    assert not b2c_idp.discovery_url.startswith(document["issuer"])
    for guess in (
        document["issuer"] + ".well-known/openid-configuration",
        document["issuer"] + "/.well-known/openid-configuration",
    ):
        assert idp_http.get(guess).status_code == 404


@pytest.mark.parametrize("profile", ["wso2", "entra-id", "cognito", "oidc"])
def test_issuer_plus_well_known_works_for_other_profiles(
    profile: Profile, idp_factory: IdpFactory, idp_http: requests.Session
) -> None:
    idp = idp_factory(profile=profile)
    response = idp_http.get(idp.issuer + "/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.json()["issuer"] == idp.issuer


def test_unknown_path_and_wrong_method(
    b2c_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    assert idp_http.get(b2c_idp.base_url + "/nope").status_code == 404
    wrong = idp_http.post(b2c_idp.jwks_uri, data={"a": "b"})
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET, HEAD"
    head = idp_http.head(b2c_idp.jwks_uri)
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["Content-Length"]) > 0
    assert idp_http.get(b2c_idp.base_url + "/").json()["issuer"] == b2c_idp.issuer


def test_query_string_does_not_change_routing(
    entra_id_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    response = idp_http.get(entra_id_idp.jwks_uri, params={"appid": "some-app"})
    assert response.status_code == 200
    assert response.json()["keys"]


def test_urls_need_a_bound_port_unless_fixed() -> None:
    idp = LocalIdentityProvider(profile="wso2", key_size=1024)
    with pytest.raises(RuntimeError, match="start"):
        _ = idp.issuer
    fixed = LocalIdentityProvider(profile="wso2", key_size=1024, port=18080)
    assert fixed.issuer == "http://127.0.0.1:18080/oauth2/token"
    public = LocalIdentityProvider(
        profile="entra-id", key_size=1024, public_url="https://idp.example.test:8443/"
    )
    assert public.issuer == f"https://idp.example.test:8443/{DEFAULT_TENANT_ID}/v2.0"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"profile": "okta"},
        {"port": 70000},
        {"token_lifetime": 0},
        {"public_url": "idp.example.test"},
        {"public_url": "http://idp.example.test/base"},
    ],
)
def test_constructor_rejects_bad_arguments(
    kwargs: dict[str, Any], idp_signing_key_pem: str
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (each case has its own message)
        LocalIdentityProvider(signing_key_pem=idp_signing_key_pem, **kwargs)


# ---- JWKS shapes --------------------------------------------------------------------------


def test_b2c_jwks_shape(b2c_idp: LocalIdentityProvider, idp_http: requests.Session) -> None:
    response = idp_http.get(b2c_idp.jwks_uri)
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert list(key) == ["kid", "nbf", "use", "kty", "e", "n"]  # no alg, like B2C
    assert key["use"] == "sig"
    assert key["kty"] == "RSA"
    assert key["kid"] == b2c_idp.signing_kid
    assert isinstance(key["nbf"], int)
    assert public_key(key).key_size == 2048


def test_wso2_jwks_shape(wso2_idp: LocalIdentityProvider, idp_http: requests.Session) -> None:
    (key,) = idp_http.get(wso2_idp.jwks_uri).json()["keys"]
    assert set(key) == {"kty", "e", "n", "use", "kid", "alg", "x5c", "x5t#S256"}
    assert key["alg"] == "RS256"
    assert key["use"] == "sig"
    der = base64.b64decode(key["x5c"][0])
    # kid = base64url(hex SHA-256 thumbprint) + "_RS256", the WSO2 way
    assert key["kid"].endswith("_RS256")
    assert b64url_decode(key["kid"].removesuffix("_RS256")).decode() == (
        hashlib.sha256(der).hexdigest()
    )
    assert b64url_decode(key["x5t#S256"]) == hashlib.sha256(der).digest()
    cert = x509.load_der_x509_certificate(der)
    cert_key = cert.public_key()
    assert isinstance(cert_key, rsa.RSAPublicKey)
    assert cert_key.public_numbers() == public_key(key).public_numbers()
    assert cert.subject == cert.issuer  # self-signed, like a default WSO2 keystore


def test_entra_id_jwks_shape(
    entra_id_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    (key,) = idp_http.get(entra_id_idp.jwks_uri).json()["keys"]
    assert {"kid", "use", "kty", "n", "e", "x5t", "issuer"} <= set(key)
    assert "alg" not in key
    assert key["issuer"] == entra_id_idp.issuer
    der = base64.b64decode(key["x5c"][0])
    assert key["x5t"] == key["kid"]
    assert b64url_decode(key["x5t"]) == hashlib.sha1(der, usedforsecurity=False).digest()
    assert len(key["kid"]) == 27


def test_public_jwk_and_jwks_agree_with_http(
    any_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    published = idp_http.get(any_idp.jwks_uri).json()
    assert published == any_idp.jwks()
    assert published["keys"] == [any_idp.public_jwk()]


# ---- token endpoint -----------------------------------------------------------------------


def test_client_credentials_with_basic_auth(
    b2c_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    response = get_token(idp_http, b2c_idp, "writer-app")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "app.read app.write"
    verify(body["access_token"], jwk_by_kid(idp_http, b2c_idp, b2c_idp.signing_kid))


def test_client_credentials_with_form_fields(
    wso2_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    response = idp_http.post(
        wso2_idp.token_endpoint,
        data={
            "grant_type": "client_credentials",
            "client_id": "reader-app",
            "client_secret": "reader-secret",
            "scope": "app.read",
        },
    )
    assert response.status_code == 200
    _, claims = decode(response.json()["access_token"])
    assert claims["client_id"] == "reader-app"
    assert claims["scope"] == "app.read"


def test_basic_credentials_are_form_urldecoded(
    idp_factory: IdpFactory, idp_http: requests.Session
) -> None:
    """RFC 6749 §2.3.1: id and secret are form-urlencoded before the Basic encoding."""
    idp = idp_factory(
        clients=[{"client_id": "odd app", "client_secret": "p@ss+word", "scopes": ["x"]}]
    )
    raw = base64.b64encode(b"odd+app:p%40ss%2Bword").decode()
    response = idp_http.post(
        idp.token_endpoint,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {raw}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "x"


def _post(http: requests.Session, idp: LocalIdentityProvider, case: str) -> requests.Response:
    url = idp.token_endpoint
    good = ("writer-app", "writer-secret")
    grant = {"grant_type": "client_credentials"}
    if case == "json body":
        return http.post(url, auth=good, json=grant)
    if case == "missing grant_type":
        return http.post(url, auth=good, data={"scope": "app.read"})
    if case == "repeated parameter":
        return http.post(url, auth=good, data=[("grant_type", "client_credentials")] * 2)
    if case == "two auth methods":
        return http.post(url, auth=good, data=grant | {"client_secret": "writer-secret"})
    if case == "basic and different form client_id":
        return http.post(url, auth=good, data=grant | {"client_id": "admin-app"})
    if case == "password grant":
        return http.post(url, auth=good, data={"grant_type": "password"})
    if case == "authorization_code grant":
        return http.post(url, auth=good, data={"grant_type": "authorization_code", "code": "x"})
    if case == "wrong secret":
        return http.post(url, auth=("writer-app", "reader-secret"), data=grant)
    if case == "unknown client":
        return http.post(url, auth=("nobody", "writer-secret"), data=grant)
    if case == "no credentials":
        return http.post(url, data=grant)
    if case == "form secret only":
        return http.post(url, data=grant | {"client_secret": "writer-secret"})
    if case == "bearer scheme":
        return http.post(url, data=grant, headers={"Authorization": "Bearer abc"})
    if case == "garbled basic":
        return http.post(url, data=grant, headers={"Authorization": "Basic !!!"})
    if case == "scope not allowed":
        return http.post(url, auth=good, data=grant | {"scope": "app.read app.admin"})
    if case == "unknown scope":
        return http.post(url, auth=good, data=grant | {"scope": "openid"})
    raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "status", "error"),
    [
        ("json body", 400, "invalid_request"),
        ("missing grant_type", 400, "invalid_request"),
        ("repeated parameter", 400, "invalid_request"),
        ("two auth methods", 400, "invalid_request"),
        ("basic and different form client_id", 400, "invalid_request"),
        ("password grant", 400, "unsupported_grant_type"),
        ("authorization_code grant", 400, "unsupported_grant_type"),
        ("wrong secret", 401, "invalid_client"),
        ("unknown client", 401, "invalid_client"),
        ("no credentials", 401, "invalid_client"),
        ("form secret only", 401, "invalid_client"),
        ("bearer scheme", 401, "invalid_client"),
        ("garbled basic", 401, "invalid_client"),
        ("scope not allowed", 400, "invalid_scope"),
        ("unknown scope", 400, "invalid_scope"),
    ],
)
def test_oauth_errors(
    case: str,
    status: int,
    error: str,
    b2c_idp: LocalIdentityProvider,
    idp_http: requests.Session,
) -> None:
    response = _post(idp_http, b2c_idp, case)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    assert body["error_description"]
    assert response.headers["Cache-Control"] == "no-store"
    if status == 401:
        assert response.headers["WWW-Authenticate"] == 'Basic realm="local-idp"'
    else:
        assert "WWW-Authenticate" not in response.headers


def test_token_endpoint_rejects_get(
    b2c_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    response = idp_http.get(b2c_idp.token_endpoint)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


@pytest.mark.parametrize(
    ("client", "scope", "granted"),
    [
        ("reader-app", None, "app.read"),
        ("writer-app", "", "app.read app.write"),
        ("writer-app", ".default", "app.read app.write"),
        (
            "admin-app",
            "https://contoso.onmicrosoft.com/api/.default",
            "app.read app.write app.admin",
        ),
        ("admin-app", f"api://{DEFAULT_API_AUDIENCE}/.default", "app.read app.write app.admin"),
        ("writer-app", "https://contoso.onmicrosoft.com/api/app.write", "app.write"),
        ("admin-app", "app.admin api://x/app.read", "app.read app.admin"),
        ("writer-app", "app.read app.read", "app.read"),
    ],
)
def test_scope_selection(
    client: str,
    scope: str | None,
    granted: str,
    b2c_idp: LocalIdentityProvider,
    idp_http: requests.Session,
) -> None:
    response = get_token(idp_http, b2c_idp, client, scope)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == granted
    _, claims = decode(response.json()["access_token"])
    assert claims["scp"] == granted


@pytest.mark.parametrize(
    "scope", ["app.write", "https://contoso.onmicrosoft.com/api/app.admin", "https://x/"]
)
def test_reader_cannot_get_more_than_read(
    scope: str, b2c_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    response = get_token(idp_http, b2c_idp, "reader-app", scope)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


# ---- token claims per profile -------------------------------------------------------------


def test_b2c_token_claims(b2c_idp: LocalIdentityProvider, idp_http: requests.Session) -> None:
    before = int(time.time())
    token = get_token(idp_http, b2c_idp, "admin-app").json()["access_token"]
    header, claims = decode(token)
    assert header == {"typ": "JWT", "alg": "RS256", "kid": b2c_idp.signing_kid}
    assert set(claims) == {"iss", "aud", "azp", "sub", "scp", "tfp", "ver", "iat", "nbf", "exp"}
    assert claims["iss"] == b2c_idp.issuer
    assert claims["aud"] == DEFAULT_API_AUDIENCE
    assert claims["azp"] == "admin-app"
    assert claims["scp"] == "app.read app.write app.admin"
    assert claims["tfp"] == B2C_POLICY
    assert claims["ver"] == "1.0"
    assert before <= claims["iat"] == claims["nbf"] <= int(time.time())
    assert claims["exp"] - claims["iat"] == 3600
    verify(token, jwk_by_kid(idp_http, b2c_idp, header["kid"]))


def test_wso2_token_claims(wso2_idp: LocalIdentityProvider, idp_http: requests.Session) -> None:
    token = get_token(idp_http, wso2_idp, "writer-app").json()["access_token"]
    header, claims = decode(token)
    jwk = jwk_by_kid(idp_http, wso2_idp, header["kid"])
    der = base64.b64decode(jwk["x5c"][0])
    assert header == {
        "x5t": base64.urlsafe_b64encode(
            hashlib.sha1(der, usedforsecurity=False).hexdigest().encode()
        )
        .rstrip(b"=")
        .decode(),
        "kid": wso2_idp.signing_kid,
        "typ": "at+jwt",
        "alg": "RS256",
    }
    assert set(claims) == {
        "sub", "aut", "iss", "client_id", "aud", "azp", "scope", "nbf", "iat", "exp", "jti",
    }  # fmt: skip
    assert claims["sub"] == claims["client_id"] == claims["aud"] == claims["azp"] == "writer-app"
    assert claims["aut"] == "APPLICATION"
    assert claims["iss"] == wso2_idp.issuer
    assert claims["scope"] == "app.read app.write"
    assert wso2_idp.audience is None
    assert wso2_idp.audience_for("writer-app") == "writer-app"
    other = decode(get_token(idp_http, wso2_idp, "writer-app").json()["access_token"])[1]
    assert other["jti"] != claims["jti"]
    verify(token, jwk)


def test_entra_id_token_claims(
    entra_id_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    token = get_token(idp_http, entra_id_idp, "writer-app", "api://orders/.default").json()[
        "access_token"
    ]
    header, claims = decode(token)
    assert header == {"typ": "JWT", "alg": "RS256", "kid": entra_id_idp.signing_kid}
    assert set(claims) == {
        "aud", "iss", "iat", "nbf", "exp", "azp", "azpacr", "idtyp", "oid", "sub", "tid",
        "roles", "ver",
    }  # fmt: skip
    assert "scp" not in claims
    assert claims["roles"] == ["app.read", "app.write"]
    assert claims["aud"] == DEFAULT_API_AUDIENCE
    assert claims["iss"] == entra_id_idp.issuer
    assert claims["azp"] == "writer-app"
    assert claims["azpacr"] == "1"
    assert claims["idtyp"] == "app"
    assert claims["oid"] == claims["sub"]
    assert claims["tid"] == DEFAULT_TENANT_ID
    assert claims["ver"] == "2.0"
    verify(token, jwk_by_kid(idp_http, entra_id_idp, header["kid"]))


def test_signature_does_not_verify_after_tampering(
    b2c_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    token = get_token(idp_http, b2c_idp, "reader-app").json()["access_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(b64url_decode(payload)) | {"scp": "app.admin"}
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidSignature):
        verify(f"{header}.{forged_payload}.{signature}", b2c_idp.public_jwk())


def test_custom_audience_and_lifetime(idp_factory: IdpFactory, idp_http: requests.Session) -> None:
    idp = idp_factory(profile="wso2", audience="orders-api", token_lifetime=60)
    body = get_token(idp_http, idp, "reader-app").json()
    assert body["expires_in"] == 60
    _, claims = decode(body["access_token"])
    assert claims["aud"] == "orders-api"
    assert claims["exp"] - claims["iat"] == 60


def test_tokens_compact_json_and_unpadded(b2c_idp: LocalIdentityProvider) -> None:
    token = b2c_idp.mint()
    header, payload, _ = token.split(".")
    assert b" " not in b64url_decode(header)
    assert b": " not in b64url_decode(payload)
    assert "=" not in token


# ---- mint and keys ------------------------------------------------------------------------


def test_mint_overrides_and_drops(b2c_idp: LocalIdentityProvider) -> None:
    token = b2c_idp.mint(
        scopes=["anything", "goes"],
        client_id="someone-else",
        claims={"aud": "other-api", "extra": [1, 2]},
        header={"alg": "HS256", "x-test": True},
        drop_claims=["tfp", "nbf"],
        drop_header=["typ"],
    )
    header, claims = decode(token)
    assert header == {"alg": "HS256", "kid": b2c_idp.signing_kid, "x-test": True}
    assert claims["scp"] == "anything goes"
    assert claims["azp"] == "someone-else"
    assert claims["aud"] == "other-api"
    assert claims["extra"] == [1, 2]
    assert "tfp" not in claims
    assert "nbf" not in claims
    verify(token, b2c_idp.public_jwk())  # still RS256 under the hood


def test_mint_defaults_to_first_client_and_its_scopes(entra_id_idp: LocalIdentityProvider) -> None:
    _, claims = decode(entra_id_idp.mint())
    assert claims["azp"] == "reader-app"
    assert claims["roles"] == ["app.read"]


def test_mint_lifetime_and_clock(idp_factory: IdpFactory) -> None:
    idp = idp_factory(profile="entra-id", now=lambda: 1_767_225_600.9)
    _, claims = decode(idp.mint(lifetime=-30))
    assert claims["iat"] == 1_767_225_600
    assert claims["exp"] == 1_767_225_570


def test_same_key_and_clock_give_identical_tokens(
    idp_signing_key_pem: str, idp_factory: IdpFactory
) -> None:
    """Deterministic fixtures: a committed key plus a fixed clock reproduce tokens byte for byte."""
    tokens = set()
    kids_seen = set()
    for _ in range(2):
        idp = idp_factory(
            profile="entra-b2c",
            port=0,
            public_url="https://contoso.b2clogin.com",
            signing_key_pem=idp_signing_key_pem,
            now=lambda: 1_767_225_600,
        )
        tokens.add(idp.mint(client_id="writer-app"))
        kids_seen.add(idp.signing_kid)
    assert len(tokens) == 1
    assert len(kids_seen) == 1


@pytest.mark.parametrize("profile", ALL_PROFILES)
def test_kid_is_stable_for_a_given_key(profile: Profile, idp_signing_key_pem: str) -> None:
    first = LocalIdentityProvider(profile=profile, signing_key_pem=idp_signing_key_pem, port=1)
    second = LocalIdentityProvider(profile=profile, signing_key_pem=idp_signing_key_pem, port=1)
    assert first.signing_kid == second.signing_kid
    assert first.public_jwk() == second.public_jwk()


def test_private_key_pem_round_trips(idp_signing_key_pem: str) -> None:
    idp = LocalIdentityProvider(profile="wso2", signing_key_pem=idp_signing_key_pem.encode())
    again = LocalIdentityProvider(profile="wso2", signing_key_pem=idp.private_key_pem())
    assert again.signing_kid == idp.signing_kid
    assert idp.private_key_pem().startswith("-----BEGIN PRIVATE KEY-----")


def test_signing_key_must_be_rsa() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="RSA"):
        LocalIdentityProvider(signing_key_pem=pem)


def test_unknown_kid_is_a_key_error(b2c_idp: LocalIdentityProvider) -> None:
    with pytest.raises(KeyError):
        b2c_idp.mint(kid="nope")
    with pytest.raises(KeyError):
        b2c_idp.remove_key("nope")


@pytest.mark.parametrize("profile", ALL_PROFILES)
def test_rotation_keeps_old_key_published(
    profile: Profile, idp_factory: IdpFactory, idp_http: requests.Session
) -> None:
    idp = idp_factory(profile=profile)
    old = idp.signing_kid
    old_token = get_token(idp_http, idp).json()["access_token"]
    new = idp.rotate_key()
    assert new != old
    assert idp.signing_kid == new
    assert kids(idp_http, idp) == [old, new]
    token = get_token(idp_http, idp).json()["access_token"]
    assert decode(token)[0]["kid"] == new
    verify(token, jwk_by_kid(idp_http, idp, new))
    verify(old_token, jwk_by_kid(idp_http, idp, old))
    with pytest.raises(InvalidSignature):
        verify(token, jwk_by_kid(idp_http, idp, old))


def test_rotation_can_retire_the_previous_key(
    b2c_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    old = b2c_idp.signing_kid
    new = b2c_idp.rotate_key(retire_previous=True)
    assert kids(idp_http, b2c_idp) == [new]
    assert b2c_idp.published_kids == [new]
    # The retired key can still sign, which is how "kid no longer published" tokens are made.
    assert decode(b2c_idp.mint(kid=old))[0]["kid"] == old


def test_remove_add_and_publish_keys(
    entra_id_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    first = entra_id_idp.signing_kid
    hidden = entra_id_idp.add_key(publish=False)
    upcoming = entra_id_idp.add_key()
    assert entra_id_idp.signing_kid == first
    assert kids(idp_http, entra_id_idp) == [first, upcoming]
    token = entra_id_idp.mint(kid=hidden)
    assert decode(token)[0]["kid"] == hidden
    verify(token, entra_id_idp.public_jwk(hidden))
    entra_id_idp.remove_key(first)
    assert kids(idp_http, entra_id_idp) == [upcoming]
    # Still signs with the withdrawn key: "IdP signs with a key it does not publish".
    assert decode(get_token(idp_http, entra_id_idp).json()["access_token"])[0]["kid"] == first
    entra_id_idp.publish_key(first)
    assert kids(idp_http, entra_id_idp) == [upcoming, first]


def test_key_size_applies_to_generated_keys(idp_factory: IdpFactory) -> None:
    idp = idp_factory(profile="entra-b2c", key_size=3072, signing_key_pem=None)
    assert public_key(idp.public_jwk()).key_size == 3072
    assert public_key(idp.public_jwk(idp.rotate_key())).key_size == 3072


# ---- failure modes ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["discovery", "jwks"])
def test_down_closes_without_answering(
    kind: str, b2c_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    url = b2c_idp.discovery_url if kind == "discovery" else b2c_idp.jwks_uri
    b2c_idp.set_mode("down")
    with pytest.raises(requests.ConnectionError):
        idp_http.get(url, timeout=5)
    assert get_token(idp_http, b2c_idp).status_code == 200  # token endpoint unaffected
    b2c_idp.set_mode("up")
    assert idp_http.get(url).status_code == 200


def test_slow_answers_after_the_delay(
    wso2_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    wso2_idp.set_mode("slow", delay=0.3)
    started = time.monotonic()
    assert idp_http.get(wso2_idp.jwks_uri).status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.Timeout):
        idp_http.get(wso2_idp.discovery_url, timeout=0.1)


def test_error_mode(b2c_idp: LocalIdentityProvider, idp_http: requests.Session) -> None:
    b2c_idp.set_mode("error")
    assert idp_http.get(b2c_idp.jwks_uri).status_code == 500
    assert idp_http.get(b2c_idp.discovery_url).status_code == 500
    b2c_idp.set_mode("error", status=503)
    assert idp_http.get(b2c_idp.jwks_uri).status_code == 503


def test_html_mode(b2c_idp: LocalIdentityProvider, idp_http: requests.Session) -> None:
    b2c_idp.set_mode("html")
    response = idp_http.get(b2c_idp.jwks_uri)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")
    with pytest.raises(ValueError):  # noqa: PT011 (requests' JSONDecodeError)
        response.json()


@pytest.mark.parametrize("kind", ["discovery", "jwks"])
def test_oversized_mode(
    kind: str, entra_id_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    entra_id_idp.set_mode("oversized")
    url = entra_id_idp.discovery_url if kind == "discovery" else entra_id_idp.jwks_uri
    response = idp_http.get(url)
    assert response.status_code == 200
    assert len(response.content) > 1024 * 1024
    assert len(response.content) >= OVERSIZED_BYTES
    document = response.json()  # still syntactically valid
    if kind == "jwks":
        assert [key["kid"] for key in document["keys"]] == [entra_id_idp.signing_kid]
    else:
        assert document["issuer"] == entra_id_idp.issuer


def test_malformed_mode(b2c_idp: LocalIdentityProvider, idp_http: requests.Session) -> None:
    b2c_idp.set_mode("malformed")
    keys = idp_http.get(b2c_idp.jwks_uri).json()["keys"]
    assert keys
    assert not any(
        isinstance(k, dict) and isinstance(k.get("n"), str) and isinstance(k.get("e"), str)
        for k in keys
    )
    discovery = idp_http.get(b2c_idp.discovery_url).json()
    assert not isinstance(discovery["issuer"], str)
    assert not isinstance(discovery["jwks_uri"], str)


def test_modes_reach_the_token_endpoint_only_when_asked(
    b2c_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    b2c_idp.set_mode("error")
    assert get_token(idp_http, b2c_idp).status_code == 200
    b2c_idp.set_mode("error", apply_to_token=True)
    assert get_token(idp_http, b2c_idp).status_code == 500
    b2c_idp.set_mode("down", apply_to_token=True)
    with pytest.raises(requests.ConnectionError):
        get_token(idp_http, b2c_idp)
    b2c_idp.set_mode("malformed", apply_to_token=True)
    assert not isinstance(get_token(idp_http, b2c_idp).json()["access_token"], str)


def test_targets_pick_endpoints(
    wso2_idp: LocalIdentityProvider, idp_http: requests.Session
) -> None:
    wso2_idp.set_mode("error", targets=["jwks"])
    assert idp_http.get(wso2_idp.discovery_url).status_code == 200
    assert idp_http.get(wso2_idp.jwks_uri).status_code == 500
    modes = [wso2_idp.mode]
    wso2_idp.set_mode("up")
    modes.append(wso2_idp.mode)
    assert modes == ["error", "up"]
    assert idp_http.get(wso2_idp.jwks_uri).status_code == 200


@pytest.mark.parametrize(
    ("mode", "kwargs"),
    [
        ("sideways", {}),
        ("slow", {"delay": -1}),
        ("error", {"status": 42}),
        ("up", {"targets": ["x"]}),
    ],
)
def test_set_mode_validates(
    mode: str, kwargs: dict[str, Any], b2c_idp: LocalIdentityProvider
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        b2c_idp.set_mode(mode, **kwargs)  # type: ignore[arg-type]


def test_close_and_reopen_port(b2c_idp: LocalIdentityProvider, idp_http: requests.Session) -> None:
    url, port = b2c_idp.jwks_uri, b2c_idp.port
    listening = [b2c_idp.is_listening]
    b2c_idp.close_port()
    listening.append(b2c_idp.is_listening)
    with pytest.raises(requests.ConnectionError):
        idp_http.get(url, timeout=2)
    b2c_idp.reopen_port()
    listening.append(b2c_idp.is_listening)
    assert listening == [True, False, True]
    assert b2c_idp.port == port
    assert b2c_idp.jwks_uri == url
    assert idp_http.get(url).status_code == 200


def test_stop_is_idempotent_and_interrupts_slow_handlers(
    idp_factory: IdpFactory, idp_http: requests.Session
) -> None:
    idp = idp_factory(profile="wso2")
    idp.set_mode("slow", delay=30)
    with pytest.raises(requests.Timeout):
        idp_http.get(idp.jwks_uri, timeout=0.2)
    started = time.monotonic()
    idp.stop()
    idp.stop()
    assert time.monotonic() - started < 2
    with pytest.raises(RuntimeError):
        idp.close_port()


def test_context_manager(idp_signing_key_pem: str, idp_http: requests.Session) -> None:
    with LocalIdentityProvider(profile="entra-id", signing_key_pem=idp_signing_key_pem) as idp:
        url = idp.discovery_url
        assert idp_http.get(url).status_code == 200
        with pytest.raises(RuntimeError, match="already"):
            idp.start()
    with pytest.raises(requests.ConnectionError):
        idp_http.get(url, timeout=2)


# ---- counters -----------------------------------------------------------------------------


def test_request_counters(b2c_idp: LocalIdentityProvider, idp_http: requests.Session) -> None:
    idp_http.get(b2c_idp.discovery_url)
    idp_http.get(b2c_idp.jwks_uri)
    idp_http.get(b2c_idp.jwks_uri, params={"x": "1"})
    get_token(idp_http, b2c_idp)
    idp_http.get(b2c_idp.base_url + "/elsewhere")
    b2c_idp.set_mode("down")
    with pytest.raises(requests.ConnectionError):
        idp_http.get(b2c_idp.jwks_uri)
    assert b2c_idp.request_count("discovery") == 1
    assert b2c_idp.request_count("jwks") == 3  # failed requests count too
    assert b2c_idp.request_count("token") == 1
    b2c_idp.reset_counts()
    assert [b2c_idp.request_count(k) for k in ("discovery", "jwks", "token")] == [0, 0, 0]
    with pytest.raises(ValueError, match="path_kind"):
        b2c_idp.request_count("other")  # type: ignore[arg-type]


# ---- TLS ----------------------------------------------------------------------------------


def test_https_with_the_ca_bundle(idp_factory: IdpFactory, idp_http: requests.Session) -> None:
    idp = idp_factory(profile="wso2", tls=True)
    assert idp.base_url.startswith("https://127.0.0.1:")
    assert idp.issuer.startswith("https://")
    assert idp.ca_bundle_path is not None
    assert idp.ca_bundle_path.read_text().startswith("-----BEGIN CERTIFICATE-----")
    ca = str(idp.ca_bundle_path)
    assert idp_http.get(idp.discovery_url, verify=ca).json()["issuer"] == idp.issuer
    response = idp_http.post(
        idp.token_endpoint,
        auth=("reader-app", "reader-secret"),
        data={"grant_type": "client_credentials"},
        verify=ca,
    )
    assert response.status_code == 200
    localhost = idp.jwks_uri.replace("127.0.0.1", "localhost")
    assert idp_http.get(localhost, verify=ca).status_code == 200


def test_https_with_a_wrong_ca_fails(idp_factory: IdpFactory, idp_http: requests.Session) -> None:
    idp = idp_factory(profile="entra-b2c", tls=True)
    wrong = idp.untrusted_ca_bundle_path()
    assert wrong != idp.ca_bundle_path
    assert wrong.read_bytes() != Path(str(idp.ca_bundle_path)).read_bytes()
    with pytest.raises(requests.exceptions.SSLError):
        idp_http.get(idp.jwks_uri, verify=str(wrong))
    with pytest.raises(requests.exceptions.SSLError):
        idp_http.get(idp.jwks_uri)  # system trust store: not trusted either
    # The server survives failed handshakes.
    assert idp_http.get(idp.jwks_uri, verify=str(idp.ca_bundle_path)).status_code == 200


def test_tls_survives_close_and_reopen(idp_factory: IdpFactory, idp_http: requests.Session) -> None:
    idp = idp_factory(profile="entra-id", tls=True)
    ca = str(idp.ca_bundle_path)
    idp.close_port()
    idp.reopen_port()
    assert idp_http.get(idp.jwks_uri, verify=ca).status_code == 200


def test_tls_files_are_removed_on_stop(idp_factory: IdpFactory) -> None:
    idp = idp_factory(profile="entra-id", tls=True)
    bundle = idp.ca_bundle_path
    assert bundle is not None
    assert bundle.exists()
    idp.stop()
    assert not bundle.exists()
    assert idp.ca_bundle_path is None


def test_plain_http_has_no_ca_bundle(b2c_idp: LocalIdentityProvider) -> None:
    assert b2c_idp.ca_bundle_path is None
    assert b2c_idp.base_url.startswith("http://")


# ---- clients ------------------------------------------------------------------------------


def test_default_clients_file() -> None:
    clients = load_clients()
    assert {c.client_id: (c.client_secret, list(c.scopes)) for c in clients.values()} == {
        "reader-app": ("reader-secret", ["app.read"]),
        "writer-app": ("writer-secret", ["app.read", "app.write"]),
        "admin-app": ("admin-secret", ["app.read", "app.write", "app.admin"]),
    }
    assert load_clients(DEFAULT_CLIENTS_FILE) == clients


def test_clients_from_a_file(
    tmp_path: Path, idp_factory: IdpFactory, idp_http: requests.Session
) -> None:
    path = tmp_path / "clients.json"
    path.write_text(
        json.dumps({"clients": [{"client_id": "c1", "client_secret": "s1", "scopes": ["a"]}]})
    )
    idp = idp_factory(clients=path)
    assert list(idp.clients) == ["c1"]
    assert get_token(idp_http, idp, "reader-app").status_code == 401
    ok = idp_http.post(
        idp.token_endpoint, auth=("c1", "s1"), data={"grant_type": "client_credentials"}
    )
    assert ok.json()["scope"] == "a"


def test_add_client_at_run_time(b2c_idp: LocalIdentityProvider, idp_http: requests.Session) -> None:
    b2c_idp.add_client("late-app", "late-secret", ["app.read"])
    response = idp_http.post(
        b2c_idp.token_endpoint,
        auth=("late-app", "late-secret"),
        data={"grant_type": "client_credentials"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("clients", "message"),
    [
        ([{"client_id": "a", "client_secret": "s"}] * 2, "duplicate"),
        ([{"client_id": "", "client_secret": "s"}], "client_id"),
        ([{"client_id": "a"}], "client_secret"),
        ([{"client_id": "a", "client_secret": "s", "scopes": ["api://x/read"]}], "scopes"),
        ([{"client_id": "a", "client_secret": "s", "scopes": "read"}], "scopes"),
        (["a"], "object"),
        ({"nope": []}, "list"),
    ],
)
def test_bad_clients_are_rejected(clients: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_clients(clients)


def test_bad_clients_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_clients(path)


# ---- CLI ----------------------------------------------------------------------------------


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["idp", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for needle in ("--profile", "--port", "--tls", "--clients", "never deploy"):
        assert needle in out


def test_cli_serves_in_the_foreground(idp_http: requests.Session) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devkit", "idp", "--profile", "wso2", "--port", "0", "--json"],
        cwd=TOOLS_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert info["issuer"].endswith("/oauth2/token")
        document = idp_http.get(info["discovery_url"], timeout=5).json()
        assert document["jwks_uri"] == info["jwks_uri"]
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        if process.stdout is not None:
            process.stdout.close()


def test_start_on_a_busy_port_fails_cleanly(
    idp_factory: IdpFactory, idp_signing_key_pem: str
) -> None:
    busy = idp_factory(profile="wso2")
    clash = LocalIdentityProvider(
        profile="wso2", port=busy.port, tls=True, signing_key_pem=idp_signing_key_pem
    )
    with pytest.raises(OSError):  # noqa: PT011 (EADDRINUSE)
        clash.start()
    assert clash.ca_bundle_path is None
    assert not clash.is_listening


# ---- the other three shapes: External ID, Cognito, generic OIDC -------------------------------


def test_external_id_issuer_is_on_another_host_than_discovery(
    idp_factory: IdpFactory, idp_http: requests.Session
) -> None:
    """Like {tid}.ciamlogin.com (iss) versus {tenant}.ciamlogin.com (documented discovery)."""
    idp = idp_factory(profile="entra-external-id")
    assert (
        idp.issuer == idp.base_url.replace("127.0.0.1", "localhost") + f"/{DEFAULT_TENANT_ID}/v2.0"
    )
    assert idp.discovery_url.startswith(idp.base_url + f"/{DEFAULT_TENANT_ID}/v2.0/.well-known/")
    document = idp_http.get(idp.discovery_url).json()
    assert document["issuer"] == idp.issuer
    assert not idp.discovery_url.startswith(document["issuer"])
    token = get_token(idp_http, idp, "writer-app", f"api://{DEFAULT_API_AUDIENCE}/.default")
    _header, claims = decode(token.json()["access_token"])
    assert claims["iss"] == idp.issuer
    assert claims["roles"] == ["app.read", "app.write"]
    assert (claims["tid"], claims["ver"], claims["aud"]) == (
        DEFAULT_TENANT_ID,
        "2.0",
        DEFAULT_API_AUDIENCE,
    )
    (key,) = idp_http.get(idp.jwks_uri).json()["keys"]
    assert key["issuer"] == idp.issuer
    verify(token.json()["access_token"], key)


def test_cognito_tokens_have_no_aud_and_prefixed_scopes(
    idp_factory: IdpFactory, idp_http: requests.Session
) -> None:
    idp = idp_factory(profile="cognito")
    assert idp.issuer == f"{idp.base_url}/{COGNITO_POOL}"
    assert idp.jwks_uri == f"{idp.issuer}/.well-known/jwks.json"
    response = get_token(idp_http, idp, "writer-app", f"{COGNITO_RESOURCE_SERVER}/app.read")
    token = response.json()["access_token"]
    header, claims = decode(token)
    assert header == {"kid": idp.signing_kid, "alg": "RS256"}
    assert "aud" not in claims
    assert claims["token_use"] == "access"
    assert claims["client_id"] == claims["sub"] == "writer-app"
    assert claims["scope"] == f"{COGNITO_RESOURCE_SERVER}/app.read"
    (key,) = idp_http.get(idp.jwks_uri).json()["keys"]
    assert set(key) == {"alg", "e", "kid", "kty", "n", "use"}
    assert key["kid"].endswith("=")  # standard base64, padded, like Cognito's kids
    verify(token, key)


def test_oidc_tokens_look_like_keycloak_service_accounts(
    idp_factory: IdpFactory, idp_http: requests.Session
) -> None:
    idp = idp_factory(profile="oidc")
    assert idp.issuer == f"{idp.base_url}/realms/local"
    assert idp.jwks_uri == f"{idp.issuer}/protocol/openid-connect/certs"
    token = get_token(idp_http, idp, "reader-app").json()["access_token"]
    header, claims = decode(token)
    assert header == {"typ": "JWT", "alg": "RS256", "kid": idp.signing_kid}
    assert claims["scope"] == "app.read"
    assert (claims["azp"], claims["typ"], claims["aud"]) == (
        "reader-app",
        "Bearer",
        DEFAULT_API_AUDIENCE,
    )
    assert claims["preferred_username"] == "service-account-reader-app"
    verify(token, jwk_by_kid(idp_http, idp, header["kid"]))


# ---- opaque tokens, introspection (RFC 7662), revocation (RFC 7009): WSO2 profile ----------

OPAQUE_CLIENTS = [
    {"client_id": "opaque-app", "client_secret": "opaque-secret", "scopes": ["app.read"],
     "token_type": "opaque"},
    {"client_id": "other-app", "client_secret": "other-secret", "scopes": ["app.read"]},
]  # fmt: skip


def _post_form(
    http: requests.Session, url: str, form: dict[str, str], auth: tuple[str, str] | None
) -> requests.Response:
    return http.post(url, data=form, auth=auth, timeout=5)


def test_wso2_introspection_and_revocation_urls(idp_factory: IdpFactory) -> None:
    idp = idp_factory(profile="wso2", clients=OPAQUE_CLIENTS)
    assert idp.introspection_endpoint == f"{idp.base_url}/oauth2/introspect"
    assert idp.revocation_endpoint == f"{idp.base_url}/oauth2/revoke"
    assert idp.discovery_document()["introspection_endpoint"] == idp.introspection_endpoint
    assert idp.discovery_document()["revocation_endpoint"] == idp.revocation_endpoint


def test_an_opaque_token_is_introspected_then_revoked(
    idp_factory: IdpFactory, idp_http: requests.Session
) -> None:
    idp = idp_factory(profile="wso2", clients=OPAQUE_CLIENTS)
    answer = _post_form(
        idp_http, idp.token_endpoint, {"grant_type": "client_credentials"},
        ("opaque-app", "opaque-secret"),
    ).json()  # fmt: skip
    token = answer["access_token"]
    assert token.count("-") == 4  # a UUID, as WSO2's default token issuer makes them
    first = _post_form(
        idp_http, idp.introspection_endpoint, {"token": token}, ("other-app", "other-secret")
    )
    assert first.status_code == 200
    body = first.json()
    assert (body["active"], body["client_id"], body["scope"]) == (True, "opaque-app", "app.read")
    assert body["exp"] - body["iat"] == idp.token_lifetime
    assert set(body) == {"active", "aut", "scope", "client_id", "token_type", "exp", "iat", "nbf"}
    # only the client the token was issued to may revoke it
    refused = _post_form(
        idp_http, idp.revocation_endpoint, {"token": token}, ("other-app", "other-secret")
    )
    assert (refused.status_code, refused.json()["error"]) == (400, "unauthorized_client")
    revoked = _post_form(
        idp_http, idp.revocation_endpoint, {"token": token}, ("opaque-app", "opaque-secret")
    )
    assert (revoked.status_code, revoked.content) == (200, b"")
    after = _post_form(
        idp_http, idp.introspection_endpoint, {"token": token}, ("other-app", "other-secret")
    )
    assert after.json() == {"active": False}


def test_introspection_needs_client_authentication_and_a_token(
    idp_factory: IdpFactory, idp_http: requests.Session
) -> None:
    idp = idp_factory(profile="wso2", clients=OPAQUE_CLIENTS)
    anonymous = _post_form(idp_http, idp.introspection_endpoint, {"token": "x"}, None)
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "invalid_client")
    wrong = _post_form(idp_http, idp.introspection_endpoint, {"token": "x"}, ("other-app", "nope"))
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    missing = _post_form(idp_http, idp.introspection_endpoint, {}, ("other-app", "other-secret"))
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    unknown = _post_form(
        idp_http, idp.introspection_endpoint, {"token": "x"}, ("other-app", "other-secret")
    )
    assert unknown.json() == {"active": False}


def test_a_jwt_of_the_idp_is_introspected_from_its_claims_and_revoked_by_jti(
    idp_factory: IdpFactory, idp_http: requests.Session
) -> None:
    idp = idp_factory(profile="wso2", clients=OPAQUE_CLIENTS)
    token = idp.mint(client_id="other-app")
    auth = ("other-app", "other-secret")
    body = _post_form(idp_http, idp.introspection_endpoint, {"token": token}, auth).json()
    assert (body["active"], body["client_id"], body["iss"]) == (True, "other-app", idp.issuer)
    _post_form(idp_http, idp.revocation_endpoint, {"token": token}, auth)
    assert _post_form(idp_http, idp.introspection_endpoint, {"token": token}, auth).json() == {
        "active": False
    }
    forged = idp.mint(client_id="other-app")[:-4] + "AAAA"  # not the IdP's signature
    assert _post_form(idp_http, idp.introspection_endpoint, {"token": forged}, auth).json() == {
        "active": False
    }
