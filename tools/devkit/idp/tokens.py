"""Signing keys and compact JWS: how the identity provider signs its tokens (RS256).

Each profile derives its key identifiers the way the real provider does (B2C and Keycloak: the
RFC 7638 thumbprint; Entra ID and External ID: the certificate's SHA-1 thumbprint; WSO2: a
hex-digest kid with an ``_RS256`` suffix and an ``x5t`` that is the base64url of a hex string;
Cognito: standard base64 with ``+``, ``/`` and ``=`` padding) and publishes JWKS entries in that
provider's member order.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from devkit.idp.profiles import Profile

__all__ = [
    "SIGNING_CERT_NOT_BEFORE",
    "JSONDict",
    "SigningKey",
    "b64url",
    "b64url_uint",
    "compact_json",
    "load_rsa_private_key",
    "sign_jws",
    "verified_claims",
]

JSONDict = dict[str, Any]

# Signing certificates get fixed dates and a key-derived serial so the same key always yields the
# same certificate, hence the same x5t/kid: fixtures made from a committed key stay byte-stable.
SIGNING_CERT_NOT_BEFORE: Final = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
_SIGNING_CERT_NOT_AFTER: Final = dt.datetime(2045, 1, 1, tzinfo=dt.UTC)


def b64url(data: bytes) -> str:
    """Base64url without padding, as JOSE requires (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_uint(value: int) -> str:
    """An unsigned big-endian integer in minimal bytes (RFC 7518 §6.3.1 for ``n``/``e``)."""
    return b64url(value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signing_certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    """Self-signed certificate for a signing key, deterministic for a given key (see above)."""
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    serial = int.from_bytes(hashlib.sha256(spki).digest()[:18], "big") | 1
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "apigw-jwt-authorizer devkit"),
            x509.NameAttribute(NameOID.COMMON_NAME, "local-idp token signing"),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(SIGNING_CERT_NOT_BEFORE)
        .not_valid_after(_SIGNING_CERT_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


@dataclass(frozen=True)
class SigningKey:
    """One RSA key with the identifiers each profile derives from it."""

    kid: str
    private_key: rsa.RSAPrivateKey
    cert_der: bytes
    x5t: str  # RFC 7515 x5t: base64url SHA-1 of the DER certificate (Entra ID)
    x5t_s256: str  # RFC 7515 x5t#S256: base64url SHA-256 of the DER certificate
    wso2_x5t: str  # WSO2: base64url of the *hex string* of the SHA-1 thumbprint

    @classmethod
    def create(cls, private_key: rsa.RSAPrivateKey, profile: Profile) -> SigningKey:
        cert_der = signing_certificate(private_key).public_bytes(serialization.Encoding.DER)
        sha1 = hashlib.sha1(cert_der, usedforsecurity=False)
        sha256 = hashlib.sha256(cert_der)
        numbers = private_key.public_key().public_numbers()
        if profile == "wso2":
            kid = b64url(sha256.hexdigest().encode("ascii")) + "_RS256"
        elif profile in ("entra-id", "entra-external-id"):
            kid = b64url(sha1.digest())  # 27 characters, like Entra's thumbprint kids
        elif profile == "cognito":  # 44 characters of standard base64, padding included
            digest = hashlib.sha256(b64url_uint(numbers.n).encode("ascii")).digest()
            kid = base64.b64encode(digest).decode("ascii")
        else:
            # B2C kids are 43-character base64url strings: use the RFC 7638 JWK thumbprint.
            canonical = compact_json(
                {"e": b64url_uint(numbers.e), "kty": "RSA", "n": b64url_uint(numbers.n)}
            )
            kid = b64url(hashlib.sha256(canonical).digest())
        return cls(
            kid=kid,
            private_key=private_key,
            cert_der=cert_der,
            x5t=b64url(sha1.digest()),
            x5t_s256=b64url(sha256.digest()),
            wso2_x5t=b64url(sha1.hexdigest().encode("ascii")),
        )

    def jwk(self, profile: Profile, issuer: str) -> JSONDict:
        """The JWKS entry in the shape the real provider publishes (member order included)."""
        numbers = self.private_key.public_key().public_numbers()
        n, e = b64url_uint(numbers.n), b64url_uint(numbers.e)
        x5c = [base64.b64encode(self.cert_der).decode("ascii")]  # x5c is plain base64 (§4.7)
        if profile == "wso2":
            return {
                "kty": "RSA",
                "e": e,
                "use": "sig",
                "kid": self.kid,
                "x5t#S256": self.x5t_s256,
                "x5c": x5c,
                "alg": "RS256",
                "n": n,
            }
        if profile in ("entra-id", "entra-external-id"):
            return {
                "kty": "RSA",
                "use": "sig",
                "kid": self.kid,
                "x5t": self.x5t,
                "n": n,
                "e": e,
                "x5c": x5c,
                "issuer": issuer,
            }
        if profile == "cognito":
            return {"alg": "RS256", "e": e, "kid": self.kid, "kty": "RSA", "n": n, "use": "sig"}
        if profile == "oidc":
            return {
                "kid": self.kid,
                "kty": "RSA",
                "alg": "RS256",
                "use": "sig",
                "n": n,
                "e": e,
                "x5c": x5c,
                "x5t": self.x5t,
                "x5t#S256": self.x5t_s256,
            }
        nbf = int(SIGNING_CERT_NOT_BEFORE.timestamp())
        return {"kid": self.kid, "nbf": nbf, "use": "sig", "kty": "RSA", "e": e, "n": n}

    def header(self, profile: Profile) -> JSONDict:
        if profile == "wso2":
            return {"x5t": self.wso2_x5t, "kid": self.kid, "typ": "at+jwt", "alg": "RS256"}
        if profile == "cognito":
            return {"kid": self.kid, "alg": "RS256"}
        return {"typ": "JWT", "alg": "RS256", "kid": self.kid}

    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")


def load_rsa_private_key(pem: str | bytes) -> rsa.RSAPrivateKey:
    # Skipping the RSA consistency check saves ~40 ms per load; these are our own dev keys.
    key = serialization.load_pem_private_key(
        pem.encode("ascii") if isinstance(pem, str) else pem,
        password=None,
        unsafe_skip_rsa_key_validation=True,
    )
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("signing_key_pem must hold an RSA private key (the IdP signs RS256)")
    return key


def sign_jws(header: Mapping[str, Any], payload: Mapping[str, Any], key: SigningKey) -> str:
    """A compact JWS of ``payload``, RS256-signed with ``key`` whatever ``header`` claims."""
    signing_input = f"{b64url(compact_json(header))}.{b64url(compact_json(payload))}"
    signature = key.private_key.sign(
        signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
    )
    return f"{signing_input}.{b64url(signature)}"


def verified_claims(token: str, keys: Iterable[SigningKey]) -> JSONDict | None:
    """The payload of ``token`` if it is a compact JWS RS256-signed by one of ``keys`` (the
    IdP's own tokens, for introspection and revocation), else None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii", "replace")
    for key in keys:
        try:
            key.private_key.public_key().verify(
                signature, signing_input, padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            continue
        return payload
    return None
