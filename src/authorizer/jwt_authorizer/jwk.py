"""Keys from JSON Web Key Sets: which entries are usable, and a verifier for each.

Every verifier is built once, when a key set is loaded, never per request: python-jose builds the
RSASSA-PKCS1 and ECDSA keys (as the design asks), ``cryptography`` the PSS and EdDSA ones, which
python-jose lacks. A key a token names is found here, among keys already trusted; the token's
header never supplies key material.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .errors import ConfigError

Verifier = Callable[[bytes, bytes], bool]

ASYMMETRIC_ALGORITHMS: Final = frozenset(
    {
        "RS256", "RS384", "RS512",
        "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512",
        "EdDSA",
    }
)  # fmt: skip
_RSA_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALGORITHMS: Final = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_OKP_CURVES: Final = frozenset({"Ed25519", "Ed448"})
_MIN_RSA_BITS: Final = 2048
# JWK members that only a private (or symmetric) key has: a published key carrying any of them is
# a leak at the identity provider, never a key to trust.
_MEMBER_ORDER: Final = ("d", "p", "q", "dp", "dq", "qi", "k", "oth")
_PRIVATE_MEMBERS: Final = frozenset(_MEMBER_ORDER)


class VerificationKey:
    """One public key from a JWKS, with a verifier per algorithm it may be used with."""

    __slots__ = ("exp", "issuer", "kid", "kty", "nbf", "verifiers", "x5t", "x5t_s256")

    def __init__(self, jwk: Mapping[str, Any], algorithms: frozenset[str]) -> None:
        self.kid: str | None = _opt_str(jwk, "kid")
        self.kty: str = str(jwk["kty"])
        self.x5t: str | None = _opt_str(jwk, "x5t")
        self.x5t_s256: str | None = _opt_str(jwk, "x5t#S256")
        self.issuer: str | None = _opt_str(jwk, "issuer")
        self.nbf: float | None = _opt_number(jwk, "nbf")
        self.exp: float | None = _opt_number(jwk, "exp")
        self.verifiers: dict[str, Verifier] = {
            alg: _build_verifier(jwk, alg) for alg in sorted(_algorithms_for(jwk) & algorithms)
        }

    def usable_at(self, now: float) -> bool:
        """B2C custom-policy keys publish their own validity window."""
        return (self.nbf is None or now >= self.nbf) and (self.exp is None or now < self.exp)


def _opt_str(jwk: Mapping[str, Any], name: str) -> str | None:
    value = jwk.get(name)
    return value if isinstance(value, str) else None


def _opt_number(jwk: Mapping[str, Any], name: str) -> float | None:
    value = jwk.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _algorithms_for(jwk: Mapping[str, Any]) -> frozenset[str]:
    """The algorithms a key may verify: its own ``alg`` if published, else what its type allows."""
    kty = jwk.get("kty")
    if kty == "RSA":
        possible = _RSA_ALGORITHMS
    elif kty == "EC":
        curve_alg = _EC_ALGORITHMS.get(str(jwk.get("crv")))
        possible = frozenset({curve_alg}) if curve_alg else frozenset()
    elif kty == "OKP" and jwk.get("crv") in _OKP_CURVES:
        possible = frozenset({"EdDSA"})
    else:
        possible = frozenset()  # "oct" (HMAC) keys are never accepted from a key set
    declared = jwk.get("alg")
    if isinstance(declared, str):
        return possible & {declared}
    return possible


def load_verifiers(algorithms: frozenset[str]) -> None:
    """Import the signature backends ``algorithms`` need, now rather than when the first key
    set is parsed: init calls this while the identity provider answers."""
    if any(alg.startswith(("RS", "ES")) for alg in algorithms):
        import jose.backends.cryptography_backend  # noqa: F401
    if any(alg.startswith("PS") or alg == "EdDSA" for alg in algorithms):
        import cryptography.hazmat.primitives.asymmetric.padding  # noqa: F401


class _ShortKey(ValueError):
    """An RSA key under 2048 bits: well-formed, never trusted."""


def _build_verifier(jwk: Mapping[str, Any], alg: str) -> Verifier:
    """python-jose builds RSASSA-PKCS1 and ECDSA keys; PSS and EdDSA, which it lacks, use
    ``cryptography`` directly. Every key is built once, here, never per request."""
    public = {k: jwk[k] for k in ("kty", "n", "e", "crv", "x", "y") if k in jwk}
    if alg.startswith(("RS", "ES")):
        from jose.backends.cryptography_backend import (
            CryptographyECKey,
            CryptographyRSAKey,
        )

        key_class = CryptographyRSAKey if alg.startswith("RS") else CryptographyECKey
        jose_key = key_class(public, alg)
        if alg.startswith("RS") and jose_key.prepared_key.key_size < _MIN_RSA_BITS:
            raise _ShortKey("RSA key shorter than 2048 bits")
        verify: Verifier = jose_key.verify
        return verify
    if alg.startswith("PS"):
        return _pss_verifier(public, alg)
    return _eddsa_verifier(public)


def _b64url_bytes(value: object) -> bytes:
    from base64 import urlsafe_b64decode

    if not isinstance(value, str):
        raise ValueError("JWK member is not a string")
    return urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _b64int(value: object) -> int:
    return int.from_bytes(_b64url_bytes(value), "big")


def _pss_verifier(jwk: Mapping[str, Any], alg: str) -> Verifier:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.RSAPublicNumbers(_b64int(jwk["e"]), _b64int(jwk["n"])).public_key()
    if key.key_size < _MIN_RSA_BITS:
        raise _ShortKey("RSA key shorter than 2048 bits")
    digest: hashes.HashAlgorithm = {
        "PS256": hashes.SHA256(),
        "PS384": hashes.SHA384(),
        "PS512": hashes.SHA512(),
    }[alg]
    pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=padding.PSS.DIGEST_LENGTH)

    def verify(message: bytes, signature: bytes) -> bool:
        try:
            key.verify(signature, message, pss, digest)
        except InvalidSignature:
            return False
        return True

    return verify


def _eddsa_verifier(jwk: Mapping[str, Any]) -> Verifier:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ed448, ed25519

    raw = _b64url_bytes(jwk["x"])
    module = ed25519.Ed25519PublicKey if jwk["crv"] == "Ed25519" else ed448.Ed448PublicKey
    key = module.from_public_bytes(raw)

    def verify(message: bytes, signature: bytes) -> bool:
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    return verify


@dataclass(frozen=True, slots=True)
class KeySet:
    """An immutable snapshot of one key set; replaced whole, never mutated.

    ``keys`` may be empty: a well-formed document without a usable key is the identity
    provider's word (every key withdrawn, or none for the allowed algorithms) and replaces the
    previous snapshot like any rotation. ``skipped`` counts the keys left out, per reason.
    """

    by_kid: Mapping[str, tuple[VerificationKey, ...]]
    keys: tuple[VerificationKey, ...]
    fetched_at: float
    skipped: Mapping[str, int]

    def describe(self) -> str:
        """``"2 keys, 1 skipped (private_key 1)"``: counts only, never key material."""
        total = sum(self.skipped.values())
        text = f"{len(self.keys)} keys, {total} skipped"
        if total:
            text += " (" + ", ".join(f"{r} {n}" for r, n in sorted(self.skipped.items())) + ")"
        return text


#: Why a published key was left out (the ``skipped`` reasons of :class:`KeySet`).
SKIP_MALFORMED: Final = "malformed"  # not an object, no string kty, or its members do not parse
SKIP_PRIVATE: Final = "private_key"  # carries private or symmetric key members
SKIP_NOT_FOR_SIGNING: Final = "not_for_signing"  # use other than sig, key_ops without verify
SKIP_ALGORITHM: Final = "algorithm_not_allowed"  # no allowed algorithm fits (HMAC keys included)
SKIP_SHORT_RSA: Final = "rsa_too_short"  # an RSA modulus under 2048 bits


class NotAKeySet(ValueError):
    """The document is not a JWKS at all (a fetch that failed), as opposed to a key set whose
    keys are all unusable, which is the identity provider's word and parses."""


def parse_jwks(document: object, algorithms: frozenset[str], fetched_at: float) -> KeySet:
    """Validate a JWKS document and build verifiers for every usable signing key.

    Only a document that is not a JSON object with a ``keys`` list is an error (the fetch
    failed); a set whose keys are all unusable parses into an empty :class:`KeySet`.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise NotAKeySet('key set is not a JSON object with a "keys" list')
    keys: list[VerificationKey] = []
    skipped: dict[str, int] = {}
    for jwk in document["keys"]:
        reason = _unusable(jwk)
        if reason is None:
            try:
                key = VerificationKey(jwk, algorithms)
            except _ShortKey:
                reason = SKIP_SHORT_RSA
            except Exception:  # a malformed key must not take its neighbours down
                reason = SKIP_MALFORMED
            else:
                if key.verifiers:
                    keys.append(key)
                    continue
                reason = SKIP_ALGORITHM
        skipped[reason] = skipped.get(reason, 0) + 1
    by_kid: dict[str, list[VerificationKey]] = {}
    for key in keys:
        if key.kid is not None:
            by_kid.setdefault(key.kid, []).append(key)
    return KeySet(
        by_kid={kid: tuple(group) for kid, group in by_kid.items()},
        keys=tuple(keys),
        fetched_at=fetched_at,
        skipped=skipped,
    )


def _unusable(jwk: object) -> str | None:
    """Why a JWKS entry cannot be a verification key, judged on its members alone."""
    if not isinstance(jwk, dict) or not isinstance(jwk.get("kty"), str):
        return SKIP_MALFORMED
    if not _PRIVATE_MEMBERS.isdisjoint(jwk):
        return SKIP_PRIVATE
    use = jwk.get("use")
    if use is not None and use != "sig":
        return SKIP_NOT_FOR_SIGNING
    ops = jwk.get("key_ops")
    if ops is not None and not (isinstance(ops, list) and "verify" in ops):
        return SKIP_NOT_FOR_SIGNING
    return None


def match_keys(
    snapshot: KeySet,
    kid: str | None,
    x5t: str | None,
    x5t_s256: str | None,
    kid_suffix_match: bool,
) -> tuple[VerificationKey, ...]:
    if kid is not None:
        found = snapshot.by_kid.get(kid)
        if found:
            return found
        if kid_suffix_match:
            found = _suffix_match(snapshot, kid)
            if found:
                return found
    if x5t is None and x5t_s256 is None:
        return ()
    return tuple(
        key
        for key in snapshot.keys
        if (x5t is not None and key.x5t == x5t)
        or (x5t_s256 is not None and key.x5t_s256 == x5t_s256)
    )


def _suffix_match(snapshot: KeySet, kid: str) -> tuple[VerificationKey, ...]:
    """WSO2 appends ``_<alg>`` to kids inconsistently between token and JWKS (IS 5.7-5.11)."""
    base, sep, _suffix = kid.rpartition("_")
    if sep and base in snapshot.by_kid:
        return snapshot.by_kid[base]
    for known, keys in snapshot.by_kid.items():
        if known.rpartition("_")[0] == kid:
            return keys
    return ()


# What an inline key may be, checked without any cryptography (the verifiers above build them).
_RSA_KEY_ALGORITHMS: Final = _RSA_ALGORITHMS
_EC_KEY_CURVES: Final[Mapping[str, tuple[str, int]]] = {
    "P-256": ("ES256", 32),
    "P-384": ("ES384", 48),
    "P-521": ("ES512", 66),
}
_OKP_KEY_CURVES: Final[Mapping[str, int]] = {"Ed25519": 32, "Ed448": 57}
_BASE64URL_RE: Final = re.compile(r"[A-Za-z0-9_-]+")


def check_inline_jwks(jwks: Mapping[str, Any], name: str, algorithms: frozenset[str]) -> None:
    """Every inline key must be a usable public signing key for this issuer.

    :func:`parse_jwks` skips a key it cannot use, which is right for a fetched set (one odd key
    must not take its neighbours down) but wrong for configuration: a broken inline key would
    surface as a runtime key error, or, with private members, publish a secret in the
    function's environment. Here each problem is an init error naming ``issuers[i].jwks.keys[j]``.
    """
    keys = jwks["keys"]
    if not keys:
        raise ConfigError(name, "holds no keys; give at least one public signing key")
    for index, jwk in enumerate(keys):
        _check_inline_jwk(jwk, f"{name}.keys[{index}]", algorithms)


def _check_inline_jwk(jwk: object, name: str, algorithms: frozenset[str]) -> None:
    if not isinstance(jwk, dict):
        raise ConfigError(name, "must be a JWK object")
    kty = jwk.get("kty")
    if not isinstance(kty, str) or not kty:
        raise ConfigError(name, 'must have a string "kty" (RSA, EC or OKP)')
    if kty == "oct":
        raise ConfigError(name, "is a symmetric (oct) key; HMAC keys are never accepted")
    private = [member for member in _MEMBER_ORDER if member in jwk]
    if private:
        raise ConfigError(
            name,
            "holds private key material; publish only the public key "
            f"(remove {', '.join(repr(member) for member in private)})",
        )
    for member in ("kid", "alg", "use", "x5t", "x5t#S256"):
        if member in jwk and not (isinstance(jwk[member], str) and jwk[member]):
            raise ConfigError(name, f"{member!r} must be a non-empty string")
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise ConfigError(name, f'has use {use!r}; an inline key set holds signing keys ("sig")')
    ops = jwk.get("key_ops")
    if ops is not None and not (isinstance(ops, list) and "verify" in ops):
        raise ConfigError(name, 'has key_ops without "verify"; it could never verify a token')
    possible = _key_algorithms(jwk, kty, name)
    declared = jwk.get("alg")
    if declared is not None:
        if declared not in possible:
            raise ConfigError(name, f"alg {declared!r} does not fit {_describe_key(jwk)}")
        possible = frozenset({declared})
    if not possible & algorithms:
        raise ConfigError(
            name,
            f"fits none of the issuer's algorithms ({', '.join(sorted(algorithms))}): "
            f"{_describe_key(jwk)} verifies {', '.join(sorted(possible))} only; add its "
            "algorithm to algorithms or remove the key",
        )


def _describe_key(jwk: Mapping[str, Any]) -> str:
    """``an RSA key``, ``an EC P-256 key`` (every supported kty takes "an")."""
    curve = jwk.get("crv")
    return f"an {jwk['kty']} {curve} key" if isinstance(curve, str) else f"an {jwk['kty']} key"


def _key_algorithms(jwk: Mapping[str, Any], kty: str, name: str) -> frozenset[str]:
    """Check the key's required public members; return the algorithms its type allows."""
    if kty == "RSA":
        modulus = _base64url_member(jwk, "n", name)
        exponent = int.from_bytes(_base64url_member(jwk, "e", name), "big")
        if exponent < 3 or exponent % 2 == 0:
            raise ConfigError(name, "'e' must be an odd public exponent of at least 3")
        bits = int.from_bytes(modulus, "big").bit_length()
        if bits < _MIN_RSA_BITS:
            raise ConfigError(
                name, f"RSA modulus is {bits} bits; at least {_MIN_RSA_BITS} are required"
            )
        return _RSA_KEY_ALGORITHMS
    curve = jwk.get("crv")
    if kty == "EC":
        if curve not in _EC_KEY_CURVES:
            raise ConfigError(name, f"crv must be one of {', '.join(_EC_KEY_CURVES)}")
        alg, size = _EC_KEY_CURVES[str(curve)]
        for member in ("x", "y"):
            if len(_base64url_member(jwk, member, name)) != size:
                raise ConfigError(name, f"{member!r} must be {size} bytes for {curve}")
        return frozenset({alg})
    if kty == "OKP":
        if curve not in _OKP_KEY_CURVES:
            raise ConfigError(name, f"crv must be one of {', '.join(_OKP_KEY_CURVES)}")
        size = _OKP_KEY_CURVES[str(curve)]
        if len(_base64url_member(jwk, "x", name)) != size:
            raise ConfigError(name, f"'x' must be {size} bytes for {curve}")
        return frozenset({"EdDSA"})
    raise ConfigError(name, f"kty {kty!r} is not supported; use RSA, EC or OKP public keys")


def _base64url_member(jwk: Mapping[str, Any], member: str, name: str) -> bytes:
    """A required member in unpadded base64url (RFC 7518), decoded."""
    value = jwk.get(member)
    if value is None:
        raise ConfigError(name, f"{jwk['kty']} key needs {member!r}")
    if not isinstance(value, str) or not _BASE64URL_RE.fullmatch(value) or len(value) % 4 == 1:
        raise ConfigError(name, f"{member!r} must be a base64url string (no padding)")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def embedded_key_verifier(jwk: object, alg: str) -> Verifier:
    """The verifier of a public key a message carries itself (a DPoP proof's ``jwk`` header),
    for ``alg`` only, after the checks an inline key gets (:func:`check_inline_jwks`): public
    members only, never ``oct``, members in unpadded base64url of the right size, RSA of at
    least 2048 bits, a type and curve that fit ``alg``. Raises ValueError naming the problem."""
    if not isinstance(jwk, dict):
        raise ValueError("not a JWK object")
    try:
        _check_inline_jwk(jwk, "jwk", frozenset({alg}))
    except ConfigError as err:
        raise ValueError(err.problem) from None
    try:
        key = VerificationKey(jwk, frozenset({alg}))
    except Exception as err:  # unreachable after the checks above, kept fail-closed
        raise ValueError("key does not parse") from err
    verifier = key.verifiers.get(alg)
    if verifier is None:
        raise ValueError("key does not fit alg")
    return verifier
