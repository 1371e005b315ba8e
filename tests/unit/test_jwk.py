"""JWK stage: which published keys are usable, a verifier per key and algorithm, the key a token
names, and the init-time check of inline key sets. Pure: dicts in, keys or errors out."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from jwt_authorizer.errors import ConfigError
from jwt_authorizer.jwk import (
    ASYMMETRIC_ALGORITHMS,
    KeySet,
    NotAKeySet,
    VerificationKey,
    check_inline_jwks,
    match_keys,
    parse_jwks,
)
from tests.support.signing import SigningKey

RSA = SigningKey.generate("RS256", kid="rsa")
EC = SigningKey.generate("ES256", kid="ec")
ED = SigningKey.generate("EdDSA", kid="ed")
ALL = frozenset(ASYMMETRIC_ALGORITHMS)
RS256 = frozenset({"RS256"})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def kids(snapshot: KeySet) -> list[str | None]:
    return [key.kid for key in snapshot.keys]


# --------------------------------------------------------------------------- parsing key sets


@pytest.mark.parametrize("document", [None, [], "keys", {}, {"keys": {}}, {"keys": "x"}])
def test_a_document_that_is_not_a_key_set(document: object) -> None:
    with pytest.raises(NotAKeySet, match='key set is not a JSON object with a "keys" list'):
        parse_jwks(document, RS256, fetched_at=0)


def test_usable_keys_are_kept_in_order_and_indexed_by_kid() -> None:
    twin = SigningKey.generate("RS256", kid="rsa")
    anonymous = SigningKey.generate("RS256", kid="unused")
    document = {
        "keys": [RSA.public_jwk(), twin.public_jwk(), anonymous.public_jwk(kid=None)],
        "x-extra": "ignored",
    }
    snapshot = parse_jwks(document, RS256, fetched_at=12.5)
    assert kids(snapshot) == ["rsa", "rsa", None]
    assert {kid: len(keys) for kid, keys in snapshot.by_kid.items()} == {"rsa": 2}
    assert (snapshot.fetched_at, dict(snapshot.skipped)) == (12.5, {})
    assert snapshot.describe() == "3 keys, 0 skipped"


def test_each_unusable_key_is_skipped_for_its_reason() -> None:
    """A fetched set may hold keys we cannot use: they are skipped, their neighbours stay
    usable. (In an inline set the same keys are init errors: below.)"""
    weak = SigningKey.generate("RS256", kid="weak", bits=1024)
    document = {
        "keys": [
            RSA.public_jwk(),
            "not an object",
            {"n": "AQAB"},  # no kty
            RSA.public_jwk(kid="broken", n="!!"),
            RSA.public_jwk(kid="private", d="AQAB"),
            {"kty": "oct", "kid": "hmac", "k": b64(b"s" * 32)},  # "k" is secret material
            RSA.public_jwk(kid="enc", use="enc"),
            RSA.public_jwk(kid="wrap", key_ops=["wrapKey"]),
            RSA.public_jwk(kid="ops", key_ops="verify"),
            EC.public_jwk(),  # ES256 is not allowed here
            RSA.public_jwk(kid="pinned", alg="RS512"),
            weak.public_jwk(),
            weak.public_jwk(kid="weak-pss", alg="PS256"),  # built by cryptography, not jose
            ED.public_jwk(x=5),
            RSA.public_jwk(kid="verify", key_ops=["verify"], use=None),
        ]
    }
    snapshot = parse_jwks(document, frozenset({"RS256", "PS256", "EdDSA"}), fetched_at=0)
    assert kids(snapshot) == ["rsa", "verify"]
    assert dict(snapshot.skipped) == {
        "malformed": 4,
        "private_key": 2,
        "not_for_signing": 3,
        "algorithm_not_allowed": 2,
        "rsa_too_short": 2,
    }
    assert snapshot.describe() == (
        "2 keys, 13 skipped (algorithm_not_allowed 2, malformed 4, not_for_signing 3, "
        "private_key 2, rsa_too_short 2)"
    )


def test_a_set_of_unusable_keys_parses_empty() -> None:
    snapshot = parse_jwks({"keys": [EC.public_jwk()]}, RS256, fetched_at=0)
    assert (snapshot.keys, dict(snapshot.by_kid), dict(snapshot.skipped)) == (
        (),
        {},
        {"algorithm_not_allowed": 1},
    )
    assert parse_jwks({"keys": []}, RS256, fetched_at=0).describe() == "0 keys, 0 skipped"


# --------------------------------------------------------------------------- verification keys


def test_a_key_verifies_every_allowed_algorithm_its_type_allows() -> None:
    assert sorted(VerificationKey(RSA.public_jwk(), ALL).verifiers) == [
        "PS256",
        "PS384",
        "PS512",
        "RS256",
        "RS384",
        "RS512",
    ]
    assert sorted(VerificationKey(RSA.public_jwk(), frozenset({"RS256", "ES256"})).verifiers) == [
        "RS256"
    ]
    assert sorted(VerificationKey(EC.public_jwk(), ALL).verifiers) == ["ES256"]
    assert sorted(VerificationKey(ED.public_jwk(), ALL).verifiers) == ["EdDSA"]


def test_the_jwk_alg_member_pins_the_algorithm() -> None:
    assert sorted(VerificationKey(RSA.public_jwk(alg="RS512"), ALL).verifiers) == ["RS512"]
    assert sorted(VerificationKey(RSA.public_jwk(alg="ES256"), ALL).verifiers) == []


@pytest.mark.parametrize(
    "alg",
    ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"],
)
def test_every_supported_algorithm_verifies(alg: str) -> None:
    key = SigningKey.generate(alg, kid=f"k-{alg}")
    verify = VerificationKey(key.public_jwk(), ALL).verifiers[alg]
    message = b"header.payload"
    signature = key.sign_bytes(message)
    assert verify(message, signature) is True
    assert verify(b"header.payload2", signature) is False
    assert verify(message, bytes(len(signature))) is False


def test_the_members_identity_providers_publish_next_to_the_key() -> None:
    jwk = RSA.public_jwk(
        nbf=1000, exp=2000, issuer="https://iss/", x5t="thumb", **{"x5t#S256": "thumb256"}
    )
    key = VerificationKey(jwk, RS256)
    assert (key.kid, key.kty, key.x5t, key.x5t_s256, key.issuer, key.nbf, key.exp) == (
        "rsa",
        "RSA",
        "thumb",
        "thumb256",
        "https://iss/",
        1000.0,
        2000.0,
    )
    assert [key.usable_at(t) for t in (999, 1000, 1999.5, 2000)] == [False, True, True, False]


def test_members_of_the_wrong_type_are_ignored() -> None:
    key = VerificationKey(RSA.public_jwk(kid=None, nbf=True, exp="2000", x5t=5), RS256)
    assert (key.kid, key.nbf, key.exp, key.x5t) == (None, None, None, None)
    assert key.usable_at(0) is True


# --------------------------------------------------------------------------- the key a token names


SNAPSHOT = parse_jwks(
    {
        "keys": [
            RSA.public_jwk(kid="plain", x5t="t-plain"),
            RSA.public_jwk(kid="MzYx_RS256", x5t="t-wso2", **{"x5t#S256": "s-wso2"}),
            RSA.public_jwk(kid="Njk3"),
        ]
    },
    RS256,
    fetched_at=0,
)


@pytest.mark.parametrize(
    ("kid", "x5t", "x5t_s256", "suffix", "expected"),
    [
        ("plain", None, None, False, ["plain"]),
        ("plain", "t-wso2", None, False, ["plain"]),  # kid first
        ("nope", "t-wso2", None, False, ["MzYx_RS256"]),  # then x5t
        (None, "t-plain", None, False, ["plain"]),
        (None, None, "s-wso2", False, ["MzYx_RS256"]),
        (None, "nope", "s-wso2", False, ["MzYx_RS256"]),
        ("nope", None, None, False, []),
        (None, None, None, False, []),
        ("MzYx", None, None, False, []),
        ("MzYx", None, None, True, ["MzYx_RS256"]),  # WSO2: the set has the suffix
        ("Njk3_RS256", None, None, True, ["Njk3"]),  # WSO2: the token has it
        ("Njk3_RS256", None, None, False, []),
        ("plain_x", None, None, True, ["plain"]),
        ("_RS256", None, None, True, []),
    ],
)
def test_match_keys(
    kid: str | None, x5t: str | None, x5t_s256: str | None, suffix: bool, expected: list[str]
) -> None:
    found = match_keys(SNAPSHOT, kid, x5t, x5t_s256, suffix)
    assert [key.kid for key in found] == expected


# --------------------------------------------------------------------------- inline key sets
# An inline key set is configuration: each key's shape is checked at init, without crypto.
# parse_jwks skips a key it cannot use (right for a fetched set: one odd key must not take its
# neighbours down). In an inline set that silence hid mistakes until the first request: a
# private key pasted in (its secret then sits in the function's environment), an HMAC key, a key
# for an algorithm the issuer does not allow, a 1024-bit modulus, an encryption key. Each is a
# ConfigError naming ``issuers[i].jwks.keys[j]``; the runtime never sees a broken inline key.

NAME = "issuers[0].jwks"


def rejected(*keys: Any, algorithms: list[str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        check_inline_jwks({"keys": list(keys)}, NAME, frozenset(algorithms or ["RS256"]))
    return caught.value


def test_valid_public_keys_of_every_type_are_accepted() -> None:
    keys = [
        RSA.public_jwk(),
        RSA.public_jwk(kid="rsa-pss", alg="PS256"),
        EC.public_jwk(),
        ED.public_jwk(),
        RSA.public_jwk(kid="no-use", use=None, key_ops=["verify"]),
    ]
    algorithms = frozenset({"RS256", "PS256", "ES256", "EdDSA"})
    check_inline_jwks({"keys": keys}, NAME, algorithms)  # no ConfigError
    snapshot = parse_jwks({"keys": keys}, algorithms, fetched_at=0)
    assert (kids(snapshot), dict(snapshot.skipped)) == (
        ["rsa", "rsa-pss", "ec", "ed", "no-use"],
        {},
    )


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
    assert (err.field, err.problem) == (
        "issuers[0].jwks.keys[0]",
        "holds private key material; publish only the public key (remove 'd')",
    )


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
    modulus = base64.urlsafe_b64decode(RSA.public_jwk()["n"] + "==")
    padded = RSA.public_jwk(n=b64(b"\x00" * 8 + modulus[: 1024 // 8]))
    assert rejected(padded).problem == "RSA modulus is 1024 bits; at least 2048 are required"
    full = RSA.public_jwk(n=b64(b"\x00" + modulus))
    check_inline_jwks({"keys": [full]}, NAME, RS256)  # no ConfigError


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


@pytest.mark.parametrize(
    ("use", "problem"),
    [
        ("enc", "has use 'enc'; an inline key set holds signing keys (\"sig\")"),
        ("Sig", "has use 'Sig'; an inline key set holds signing keys (\"sig\")"),
        (1, "'use' must be a non-empty string"),
    ],
)
def test_only_signing_keys(use: Any, problem: str) -> None:
    err = rejected(RSA.public_jwk(use=use))
    assert (err.field, err.problem) == ("issuers[0].jwks.keys[0]", problem)


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


def test_b2c_and_entra_key_members_are_accepted() -> None:
    """Members identity providers publish next to the key (validity window, issuer, x5t)."""
    jwk = RSA.public_jwk(
        nbf=1493763266, exp=4102444800, issuer="https://iss/", x5t="abc", x5c=["MIIC"]
    )
    check_inline_jwks({"keys": [jwk]}, NAME, RS256)  # no ConfigError
