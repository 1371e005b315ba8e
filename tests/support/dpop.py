"""Test-only DPoP clients (RFC 9449 proofs) and client certificates (RFC 8705), built with
``cryptography`` directly, independently of the authorizer's own code."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.signing import SigningKey, b64json, b64url

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
