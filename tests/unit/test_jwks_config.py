"""An inline key set is configuration: each key's shape is checked at init, without crypto.

keys.py skips a key it cannot use (right for a fetched set: one odd key must not take its
neighbours down). In an inline set that silence hid mistakes until the first request: a private
key pasted in (its secret then sits in the function's environment), an HMAC key, a key for an
algorithm the issuer does not allow, a 1024-bit modulus, an encryption key. Each is now a
ConfigError naming ``issuers[i].jwks.keys[j]``; the runtime never sees a broken inline key.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from jwt_authorizer.config import parse_config
from jwt_authorizer.errors import ConfigError
from tests.support.signing import SigningKey

ISS = "https://login.example.com/tenant/v2.0"
RSA = SigningKey.generate("RS256", kid="rsa")
EC = SigningKey.generate("ES256", kid="ec")
ED = SigningKey.generate("EdDSA", kid="ed")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def issuer(*keys: Any, algorithms: list[str] | None = None, **jwks_extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"issuer": ISS, "audiences": ["api"], "jwks": {"keys": list(keys)}}
    entry["jwks"].update(jwks_extra)
    if algorithms is not None:
        entry["algorithms"] = algorithms
    return entry


def rejected(*keys: Any, algorithms: list[str] | None = None, position: int = 0) -> ConfigError:
    """The error for a document whose issuers[position] holds ``keys`` (issuers before it are
    valid)."""
    valid = [
        {"issuer": f"{ISS}/{i}", "audiences": ["api"], "jwks": {"keys": [RSA.public_jwk()]}}
        for i in range(position)
    ]
    with pytest.raises(ConfigError) as caught:
        parse_config({"issuers": [*valid, issuer(*keys, algorithms=algorithms)]})
    return caught.value


def test_valid_public_keys_of_every_type_are_accepted() -> None:
    config = parse_config(
        {
            "issuers": [
                issuer(
                    RSA.public_jwk(),
                    RSA.public_jwk(kid="rsa-pss", alg="PS256"),
                    EC.public_jwk(),
                    ED.public_jwk(),
                    RSA.public_jwk(kid="no-use", use=None, key_ops=["verify"]),
                    algorithms=["RS256", "PS256", "ES256", "EdDSA"],
                )
            ]
        }
    )
    assert len(config.issuers[0].jwks["keys"]) == 5  # type: ignore[index]


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "oth"])
def test_private_rsa_members_are_rejected(member: str) -> None:
    err = rejected(RSA.public_jwk(**{member: "AQAB"}))
    assert (err.field, err.problem) == (
        "issuers[0].jwks.keys[0]",
        f"holds private key material; publish only the public key (remove {member!r})",
    )


def test_a_whole_private_rsa_jwk_names_every_private_member() -> None:
    private = RSA.public_jwk(d="AQAB", p="AQAB", q="AQAB", dp="AQAB", dq="AQAB", qi="AQAB")
    err = rejected(RSA.public_jwk(kid="first"), private)
    assert (err.field, err.problem) == (
        "issuers[0].jwks.keys[1]",
        "holds private key material; publish only the public key "
        "(remove 'd', 'p', 'q', 'dp', 'dq', 'qi')",
    )


@pytest.mark.parametrize("key", [EC, ED], ids=["EC", "OKP"])
def test_private_ec_and_okp_keys_are_rejected(key: SigningKey) -> None:
    err = rejected(key.public_jwk(d=b64(b"\x01" * 32)), algorithms=["ES256", "EdDSA"])
    assert err.field == "issuers[0].jwks.keys[0]"
    assert err.problem.startswith("holds private key material; publish only the public key")


def test_the_issuer_and_key_positions_are_named() -> None:
    err = rejected(RSA.public_jwk(), RSA.public_jwk(kid="x", d="AQAB"), position=2)
    assert err.field == "issuers[2].jwks.keys[1]"


def test_hmac_keys_are_never_accepted() -> None:
    oct_key = {"kty": "oct", "kid": "shared", "k": b64(b"s" * 32), "alg": "HS256"}
    err = rejected(RSA.public_jwk(), oct_key)
    assert (err.field, err.problem) == (
        "issuers[0].jwks.keys[1]",
        "is a symmetric (oct) key; HMAC keys are never accepted",
    )


@pytest.mark.parametrize(
    ("key", "algorithms", "problem"),
    [
        (
            EC.public_jwk(),
            None,
            "fits none of the issuer's algorithms (RS256): an EC P-256 key verifies ES256 only; "
            "add its algorithm to algorithms or remove the key",
        ),
        (
            ED.public_jwk(),
            ["RS256", "ES256"],
            "fits none of the issuer's algorithms (ES256, RS256): an OKP Ed25519 key verifies "
            "EdDSA only; add its algorithm to algorithms or remove the key",
        ),
        (
            RSA.public_jwk(alg="PS256"),
            ["RS256"],
            "fits none of the issuer's algorithms (RS256): an RSA key verifies PS256 only; "
            "add its algorithm to algorithms or remove the key",
        ),
        (
            RSA.public_jwk(),
            ["ES256"],
            "fits none of the issuer's algorithms (ES256): an RSA key verifies PS256, PS384, "
            "PS512, RS256, RS384, RS512 only; add its algorithm to algorithms or remove the key",
        ),
        (RSA.public_jwk(alg="ES256"), ["RS256"], "alg 'ES256' does not fit an RSA key"),
        (RSA.public_jwk(alg="HS256"), ["RS256"], "alg 'HS256' does not fit an RSA key"),
        (EC.public_jwk(alg="ES384"), ["ES256"], "alg 'ES384' does not fit an EC P-256 key"),
    ],
)
def test_a_key_must_fit_one_of_the_issuers_algorithms(
    key: dict[str, Any], algorithms: list[str] | None, problem: str
) -> None:
    err = rejected(key, algorithms=algorithms)
    assert (err.field, err.problem) == ("issuers[0].jwks.keys[0]", problem)


def test_short_rsa_modulus() -> None:
    weak = SigningKey.generate("RS256", kid="weak", bits=1024)
    err = rejected(RSA.public_jwk(), weak.public_jwk())
    assert (err.field, err.problem) == (
        "issuers[0].jwks.keys[1]",
        "RSA modulus is 1024 bits; at least 2048 are required",
    )


def test_a_leading_zero_byte_does_not_count_as_modulus_bits() -> None:
    jwk = RSA.public_jwk()
    modulus = base64.urlsafe_b64decode(jwk["n"] + "==")
    padded = RSA.public_jwk(n=b64(b"\x00" * 8 + modulus[: 1024 // 8]))
    assert rejected(padded).problem == "RSA modulus is 1024 bits; at least 2048 are required"
    assert parse_config({"issuers": [issuer(RSA.public_jwk(n=b64(b"\x00" + modulus)))]})


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ({"kty": "RSA", "e": "AQAB"}, "RSA key needs 'n'"),
        ({"kty": "RSA", "n": RSA.public_jwk()["n"]}, "RSA key needs 'e'"),
        (RSA.public_jwk(n=12345), "'n' must be a base64url string (no padding)"),
        (RSA.public_jwk(e="AQAB=="), "'e' must be a base64url string (no padding)"),
        (RSA.public_jwk(e="AQ+B"), "'e' must be a base64url string (no padding)"),
        (RSA.public_jwk(e="A"), "'e' must be a base64url string (no padding)"),
        (RSA.public_jwk(e=""), "'e' must be a base64url string (no padding)"),
        (RSA.public_jwk(e="AA"), "'e' must be an odd public exponent of at least 3"),
        (RSA.public_jwk(e="AQ"), "'e' must be an odd public exponent of at least 3"),
        (RSA.public_jwk(e="BA"), "'e' must be an odd public exponent of at least 3"),
        (EC.public_jwk(crv="P-192"), "crv must be one of P-256, P-384, P-521"),
        (EC.public_jwk(crv=None), "crv must be one of P-256, P-384, P-521"),
        (EC.public_jwk(y=None), "EC key needs 'y'"),
        (EC.public_jwk(x=b64(b"\x01" * 31)), "'x' must be 32 bytes for P-256"),
        (ED.public_jwk(crv="X25519"), "crv must be one of Ed25519, Ed448"),
        (ED.public_jwk(x=None), "OKP key needs 'x'"),
        (ED.public_jwk(x=b64(b"\x01" * 57)), "'x' must be 32 bytes for Ed25519"),
        (
            {"kty": "RSA-PSS", "n": "AQAB", "e": "AQAB"},
            "kty 'RSA-PSS' is not supported; use RSA, EC or OKP public keys",
        ),
        ({"n": "AQAB", "e": "AQAB"}, 'must have a string "kty" (RSA, EC or OKP)'),
        ({"kty": 1}, 'must have a string "kty" (RSA, EC or OKP)'),
        ("not a key", "must be a JWK object"),
        (RSA.public_jwk(kid=7), "'kid' must be a non-empty string"),
        (RSA.public_jwk(alg=""), "'alg' must be a non-empty string"),
    ],
)
def test_required_members_and_their_encoding(key: Any, problem: str) -> None:
    err = rejected(key, algorithms=["RS256", "ES256", "EdDSA"])
    assert (err.field, err.problem) == ("issuers[0].jwks.keys[0]", problem)


@pytest.mark.parametrize("use", ["enc", "Sig", 1])
def test_only_signing_keys(use: Any) -> None:
    err = rejected(RSA.public_jwk(use=use))
    assert err.field == "issuers[0].jwks.keys[0]"
    if isinstance(use, str):
        assert err.problem == f'has use {use!r}; an inline key set holds signing keys ("sig")'
    else:
        assert err.problem == "'use' must be a non-empty string"


@pytest.mark.parametrize("ops", [["encrypt"], [], "verify"])
def test_key_ops_must_allow_verify(ops: Any) -> None:
    err = rejected(RSA.public_jwk(key_ops=ops))
    assert (err.field, err.problem) == (
        "issuers[0].jwks.keys[0]",
        'has key_ops without "verify"; it could never verify a token',
    )


def test_an_empty_key_set() -> None:
    err = rejected()
    assert (err.field, err.problem) == (
        "issuers[0].jwks",
        "holds no keys; give at least one public signing key",
    )


@pytest.mark.parametrize("jwks", [[RSA.public_jwk()], {"keys": "x"}, {"key": []}, "keys"])
def test_not_a_key_set(jwks: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"issuers": [{"issuer": ISS, "audiences": ["api"], "jwks": jwks}]})
    assert (caught.value.field, caught.value.problem) == (
        "issuers[0].jwks",
        'must be a JWKS object {"keys": [...]}',
    )


def test_b2c_and_entra_key_members_are_accepted() -> None:
    """Members identity providers publish next to the key (validity window, issuer, x5t)."""
    jwk = RSA.public_jwk(nbf=1493763266, exp=4102444800, issuer=ISS, x5t="abc", x5c=["MIIC"])
    assert parse_config({"issuers": [issuer(jwk)]}).issuers[0].jwks is not None
