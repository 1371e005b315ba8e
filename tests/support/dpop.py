"""Test-only DPoP clients (RFC 9449 proofs) and client certificates (RFC 8705), built with
``cryptography`` directly, independently of the authorizer's own code; and the documents,
events and outcome readers the DPoP and certificate-binding tests share."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from jwt_authorizer import Authorizer
from tests.support.fetchers import NoNetworkFetcher
from tests.support.signing import SigningKey, b64json, b64url, claims
from tests.support.stages import issuer_entry

_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def ath(token: str) -> str:
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


@dataclass
class DpopClient:
    """A client key pair that makes proofs; ``jkt`` is what a bound token's ``cnf`` names."""

    key: SigningKey = field(default_factory=lambda: SigningKey.generate("ES256", kid="dpop"))

    @classmethod
    def generate(cls, alg: str = "ES256") -> DpopClient:
        return cls(SigningKey.generate(alg, kid="dpop"))

    @property
    def jwk(self) -> dict[str, Any]:
        public = self.key.public_jwk()
        return {k: v for k, v in public.items() if k in ("kty", "crv", "x", "y", "n", "e")}

    @property
    def jkt(self) -> str:
        return jwk_thumbprint(self.jwk)

    def proof(
        self,
        method: str,
        url: str,
        token: str | None,
        *,
        header: dict[str, Any] | None = None,
        claims: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        alg: str | None = None,
        signer: SigningKey | None = None,
    ) -> str:
        """A proof for ``method`` ``url``; ``header``/``claims`` override (None deletes)."""
        hdr: dict[str, Any] = {"typ": "dpop+jwt", "alg": alg or self.key.alg, "jwk": self.jwk}
        hdr.update(header or {})
        payload: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "htm": method,
            "htu": url,
            "iat": int(time.time()),
        }
        if token is not None:
            payload["ath"] = ath(token)
        payload.update(claims or {})
        hdr = {k: v for k, v in hdr.items() if v is not None}
        payload = {k: v for k, v in payload.items() if v is not None and k not in drop}
        signing_input = f"{b64json(hdr)}.{b64json(payload)}"
        signature = (signer or self.key).sign_bytes(signing_input.encode(), alg or self.key.alg)
        return f"{signing_input}.{b64url(signature)}"


def client_certificate(common_name: str = "client-app") -> tuple[str, str]:
    """A self-signed client certificate: (PEM, base64url SHA-256 of its DER = cnf x5t#S256)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    der = certificate.public_bytes(serialization.Encoding.DER)
    return pem, base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


# ------------------------------------------------------------- documents, events, outcomes

API = "a1b2c3d4e5"
HOST = f"{API}.execute-api.eu-west-1.amazonaws.com"
REST_URL = f"https://{HOST}/prod/orders"
HTTP_HOST = "h7t8p9.execute-api.eu-west-1.amazonaws.com"
HTTP_URL = f"https://{HTTP_HOST}/orders"
HTTP_ARN = "arn:aws:execute-api:eu-west-1:123456789012:h7t8p9/$default"
KINDS = ("request", "http-1.0", "http-2.0")


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
    return Authorizer.from_environ(
        {"AUTH_CONFIG": json.dumps(doc)}, fetcher=NoNetworkFetcher(), **kwargs
    )


def bound_token(
    key: SigningKey, client: DpopClient | None = None, cnf: dict[str, str] | None = None
) -> str:
    confirmation = dict(cnf or {})
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
    return str(denied[0].__dict__["reason"])
