"""Test-only signing: make real keys and sign arbitrary (also hostile) tokens with them."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.support.constants import AUDIENCE, CLIENT_ID, ISSUER, SUBJECT

_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_CURVES = {
    "ES256": (ec.SECP256R1, "P-256", 32),
    "ES384": (ec.SECP384R1, "P-384", 48),
    "ES512": (ec.SECP521R1, "P-521", 66),
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass
class SigningKey:
    """A private key plus the public JWK an identity provider would publish for it."""

    alg: str
    kid: str
    private: Any
    extra_jwk: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def generate(
        cls, alg: str = "RS256", kid: str = "test-key-1", bits: int = 2048, **extra: Any
    ) -> SigningKey:
        if alg.startswith(("RS", "PS")):
            private: Any = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        elif alg.startswith("ES"):
            private = ec.generate_private_key(_CURVES[alg][0]())
        elif alg == "EdDSA":
            private = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(alg)
        return cls(alg=alg, kid=kid, private=private, extra_jwk=dict(extra))

    def public_jwk(self, **overrides: Any) -> dict[str, Any]:
        public = self.private.public_key()
        if self.alg.startswith(("RS", "PS")):
            numbers = public.public_numbers()
            jwk: dict[str, Any] = {"kty": "RSA", "n": _int_b64(numbers.n), "e": _int_b64(numbers.e)}
        elif self.alg.startswith("ES"):
            numbers = public.public_numbers()
            size = _CURVES[self.alg][2]
            jwk = {
                "kty": "EC",
                "crv": _CURVES[self.alg][1],
                "x": b64url(numbers.x.to_bytes(size, "big")),
                "y": b64url(numbers.y.to_bytes(size, "big")),
            }
        else:
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
        jwk.update({"kid": self.kid, "use": "sig"})
        jwk.update(self.extra_jwk)
        jwk.update(overrides)
        return {k: v for k, v in jwk.items() if v is not None}

    def public_pem(self) -> bytes:
        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def sign_bytes(self, message: bytes, alg: str | None = None) -> bytes:
        alg = alg or self.alg
        if alg.startswith("RS"):
            return bytes(self.private.sign(message, padding.PKCS1v15(), _HASHES[alg[2:]]()))
        if alg.startswith("PS"):
            digest = _HASHES[alg[2:]]()
            return bytes(
                self.private.sign(
                    message,
                    padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size),
                    digest,
                )
            )
        if alg.startswith("ES"):
            der = self.private.sign(message, ec.ECDSA(_HASHES[alg[2:]]()))
            r, s = decode_dss_signature(der)
            size = _CURVES[alg][2]
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        return bytes(self.private.sign(message))

    def sign(
        self,
        payload: dict[str, Any],
        header: dict[str, Any] | None = None,
        *,
        alg: str | None = None,
        kid: str | None = "default",
    ) -> str:
        hdr: dict[str, Any] = {"alg": alg or self.alg, "typ": "JWT"}
        if kid is not None:
            hdr["kid"] = self.kid if kid == "default" else kid
        hdr.update(header or {})
        signing_input = f"{b64json(hdr)}.{b64json(payload)}"
        return f"{signing_input}.{b64url(self.sign_bytes(signing_input.encode(), alg or self.alg))}"


def claims(**overrides: Any) -> dict[str, Any]:
    """A valid B2C client-credentials payload (shape from identity-provider-tokens.md §1.6)."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "exp": now + 3600,
        "nbf": now - 10,
        "iat": now - 10,
        "aud": AUDIENCE,
        "sub": SUBJECT,
        "azp": CLIENT_ID,
        "scp": "app.read app.write",
        "tfp": "B2C_1A_SIGNUP_SIGNIN",
        "ver": "1.0",
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}
