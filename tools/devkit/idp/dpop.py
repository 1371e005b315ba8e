"""Sender-constrained tokens for the development identity provider. DPoP (RFC 9449): a client
key that makes proofs, and the token endpoint's check of the proof a token request carries
(§4.3, for ``POST`` to the token endpoint), after which the endpoint issues ``token_type: DPoP``
with ``cnf.jkt``. Certificate-bound tokens (RFC 8705): the ``x5t#S256`` of a client certificate.

Independent of the authorizer's own DPoP code (the IdP is a peer in the tests): ES256 only,
built on ``cryptography``. Development only: no replay cache at the token endpoint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from devkit.idp.oauth import OAuthError
from devkit.idp.tokens import b64url, compact_json

__all__ = ["DpopKey", "certificate_thumbprint", "jwk_thumbprint", "token_request_jkt"]

#: How old (or how far ahead) a token request's proof may be.
PROOF_WINDOW_SECONDS: Final = 60


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of an EC public key (what ``cnf.jkt`` holds)."""
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    return b64url(hashlib.sha256(compact_json(members)).digest())


@dataclass
class DpopKey:
    """A client's DPoP key pair (EC P-256, ES256)."""

    private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    @property
    def jwk(self) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }

    @property
    def jkt(self) -> str:
        return jwk_thumbprint(self.jwk)

    def proof(self, method: str, url: str, access_token: str | None = None) -> str:
        """A fresh proof for ``method`` ``url`` (with ``ath`` when presenting a token)."""
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk}
        claims: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "htm": method,
            "htu": url,
            "iat": int(time.time()),
        }
        if access_token is not None:
            claims["ath"] = b64url(hashlib.sha256(access_token.encode("ascii")).digest())
        signing_input = f"{b64url(compact_json(header))}.{b64url(compact_json(claims))}"
        der = self.private.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def certificate_thumbprint(pem: str) -> str:
    """RFC 8705 ``x5t#S256``: base64url SHA-256 of the certificate's DER (``invalid_request``
    when the PEM is not a certificate)."""
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise OAuthError(
            400, "invalid_request", "the client certificate is not a PEM certificate"
        ) from None
    return b64url(hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest())


def token_request_jkt(proof: str, *, url: str, now: float | None = None) -> str:
    """The thumbprint of the key of a token request's valid proof, or ``invalid_dpop_proof``."""
    now = time.time() if now is None else now
    try:
        head, body, signature = proof.split(".")
        header = json.loads(_decode(head))
        claims = json.loads(_decode(body))
        raw = _decode(signature)
    except (ValueError, binascii.Error):
        raise _invalid("not a compact JWS") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise _invalid("header and claims must be objects")
    jwk = header.get("jwk")
    if header.get("typ") != "dpop+jwt" or header.get("alg") != "ES256":
        raise _invalid("typ must be dpop+jwt and alg ES256")
    if not isinstance(jwk, dict) or "d" in jwk or jwk.get("kty") != "EC":
        raise _invalid("jwk must be a public EC key")
    if len(raw) != 64:
        raise _invalid("signature does not verify with jwk")
    try:
        public = ec.EllipticCurvePublicNumbers(
            int.from_bytes(_decode(jwk["x"]), "big"),
            int.from_bytes(_decode(jwk["y"]), "big"),
            ec.SECP256R1(),
        ).public_key()
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        public.verify(der, f"{head}.{body}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except (KeyError, TypeError, ValueError, binascii.Error, InvalidSignature):
        raise _invalid("signature does not verify with jwk") from None
    if claims.get("htm") != "POST" or claims.get("htu") != url:
        raise _invalid(f"htm must be POST and htu {url}")
    iat = claims.get("iat")
    if not isinstance(iat, int) or abs(now - iat) > PROOF_WINDOW_SECONDS:
        raise _invalid("iat is missing or outside the window")
    if not isinstance(claims.get("jti"), str):
        raise _invalid("jti is missing")
    return jwk_thumbprint(jwk)


def _decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _invalid(description: str) -> OAuthError:
    return OAuthError(400, "invalid_dpop_proof", description)
