"""One test per python-jose advisory (prior-art.md section 3.3) we defend against.

Each test reproduces the attack with real bytes and shows that our pipeline rejects it before, or
independently of, python-jose: spies on python-jose's HMAC, JWS, JWT, JWE and JWK entry points,
on ``hmac`` and on ``zlib`` record every call, and the tests assert there were none. The spies
are installed *before* the validator is built, because verifiers are bound once, at key load.

* CVE-2024-33663 (GHSA-6c5p-j8vq-pqhj): algorithm confusion, a public key used as an HMAC
  secret; python-jose 3.4.0 detects PEM and OpenSSH keys but not DER, which the installed
  version still accepts (shown below when it does).
* CVE-2024-33664 (GHSA-cjwg-qfpm-7377): JWE "JWT bomb", a compressed JWE inflating to gigabytes.
* CVE-2016-7036 (PYSEC-2017-28): HMAC signatures compared in variable time.
* CVE-2024-23342 (``ecdsa``, Minerva): a timing leak when *signing* with the pure-Python
  ``ecdsa`` package, which python-jose always installs. We never sign, and never load it.
"""

from __future__ import annotations

import hmac
import json
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jose import jwe as jose_jwe
from jose import jwk as jose_jwk
from jose import jws as jose_jws
from jose import jwt as jose_jwt
from jose.backends import cryptography_backend, native

from jwt_authorizer.config import parse_config
from jwt_authorizer.errors import ConfigError, TokenRejected
from jwt_authorizer.keyring import KeyRegistry
from jwt_authorizer.validator import TokenValidator
from tests.security.world import world
from tests.support.fetchers import NoNetworkFetcher, ServingFetcher
from tests.support.hostile import (
    der_secret,
    hmac_jws,
    jwe_compact,
    jwk_secret,
    jws,
    openssh_secret,
    pem_secret,
    pkcs1_der_secret,
    segment,
)
from tests.support.signing import b64url
from tests.support.stages import validator_for

REPO = Path(__file__).resolve().parents[2]


class Spies:
    """Records every call to the library entry points an attack would need."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        targets: list[tuple[Any, str]] = [
            (cryptography_backend.CryptographyHMACKey, "__init__"),
            (cryptography_backend.CryptographyHMACKey, "verify"),
            (native.HMACKey, "__init__"),
            (native.HMACKey, "verify"),
            (cryptography_backend.CryptographyRSAKey, "verify"),
            (cryptography_backend.CryptographyECKey, "verify"),
            (jose_jws, "verify"),
            (jose_jws, "get_unverified_header"),
            (jose_jwt, "decode"),
            (jose_jwe, "decrypt"),
            (jose_jwk, "construct"),
            (hmac, "compare_digest"),
            (hmac, "new"),
            (hmac, "digest"),
            (zlib, "decompress"),
            (zlib, "decompressobj"),
        ]
        for owner, name in targets:
            monkeypatch.setattr(owner, name, self._spy(owner, name, getattr(owner, name)))

    def _spy(self, owner: Any, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        label = f"{getattr(owner, '__name__', owner)}.{name}"

        def spy(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(label)
            return original(*args, **kwargs)

        return spy

    def verifications(self) -> list[str]:
        return [call for call in self.calls if call.endswith("Key.verify")]


@pytest.fixture
def spies(monkeypatch: pytest.MonkeyPatch) -> Spies:
    return Spies(monkeypatch)


def _validator(document: dict[str, Any] | None = None) -> TokenValidator:
    config = parse_config(document or world().document())
    return validator_for(config, KeyRegistry(config.keys, fetcher=NoNetworkFetcher()))


def _reason(validator: TokenValidator, token: str) -> str:
    try:
        validator.validate(token)
    except TokenRejected as err:
        return err.reason
    return "accepted"


# --------------------------------------------------------------------------- CVE-2024-33663

SECRETS: dict[str, Callable[[Any], bytes]] = {
    "pem": pem_secret,
    "der-spki": der_secret,
    "der-pkcs1": pkcs1_der_secret,
    "jwk-json": jwk_secret,
    "openssh": openssh_secret,
}


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("form", list(SECRETS))
def test_CVE_2024_33663_algorithm_confusion(alg: str, form: str, spies: Spies) -> None:  # noqa: N802
    """HS* keyed with the issuer's own public key, in every encoding (DER is the bypass of
    python-jose's fix). Rejected at the algorithm stage: no key is built, nothing verifies."""
    w = world()
    key = w.oidc_ec if form == "openssh" else w.b2c
    payload = w.payload("b2c")
    token = hmac_jws({"alg": alg, "typ": "JWT", "kid": w.b2c.kid}, payload, SECRETS[form](key), alg)
    validator = _validator()
    spies.calls.clear()
    assert _reason(validator, token) == "unsupported_alg"
    assert spies.calls == [], "rejected before any python-jose, hmac or key code ran"


def test_CVE_2024_33663_der_variant_is_live_in_the_installed_python_jose() -> None:  # noqa: N802
    """Why the previous test matters: the installed python-jose verifies the DER-keyed forgery
    when asked to (skipped once python-jose detects DER keys too)."""
    w = world()
    secret = der_secret(w.b2c)
    token = hmac_jws({"alg": "HS256", "kid": w.b2c.kid}, w.payload("b2c"), secret, "HS256")
    try:
        jose_jws.verify(token, secret, algorithms=["HS256"])
    except Exception:
        pytest.skip("python-jose now refuses DER public keys as HMAC secrets")
    assert _reason(_validator(), token) == "unsupported_alg"


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512", "none"])
def test_CVE_2024_33663_hmac_and_none_cannot_be_configured(alg: str) -> None:  # noqa: N802
    """The root cause was an allow-list taken from the token. Ours is per issuer, explicit, and
    asymmetric only: a configuration naming HS* or none fails at init."""
    document = world().document()
    document["issuers"][0]["algorithms"] = ["RS256", alg]
    with pytest.raises(ConfigError, match="asymmetric algorithms only"):
        parse_config(document)


# --------------------------------------------------------------------------- CVE-2024-33664


@pytest.mark.parametrize(
    ("size", "reason"),
    [(8_000_000, "malformed_token"), (64_000_000, "token_too_large")],
)
def test_CVE_2024_33664_jwe_bomb(size: int, reason: str, spies: Spies) -> None:  # noqa: N802
    """A real ``zip: DEF`` JWE of ``size`` zero bytes. Rejected on its shape (five parts) or its
    length, with nothing decrypted or inflated, in well under a millisecond of parsing and
    without allocating anything close to the inflated size."""
    bomb = jwe_compact(b"\x00" * size, compress=True)
    validator = _validator()
    spies.calls.clear()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        got = _reason(validator, bomb)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got == reason
    assert spies.calls == [], "nothing was decrypted, inflated or verified"
    assert elapsed < 0.05
    assert peak < 256 * 1024, f"peak allocation {peak} bytes"


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "dir", "enc": "A256GCM", "zip": "DEF"},
        {"alg": "dir", "enc": "A128CBC-HS256"},  # the CBC-HMAC padding-oracle report
        {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "b2c-rsa-1"},
        {"alg": "RS256", "zip": "DEF", "kid": "b2c-rsa-1"},  # a JWS asking to inflate
        {"alg": "RS256", "enc": "A256GCM", "kid": "b2c-rsa-1"},
    ],
    ids=["zip-def", "cbc-hmac", "rsa-oaep", "jws-zip", "jws-enc"],
)
def test_CVE_2024_33664_no_jwe_processing_at_all(header: dict[str, Any], spies: Spies) -> None:  # noqa: N802
    """Every JWE shape, and JWS headers that ask for JWE processing, are malformed tokens."""
    w = world()
    if "enc" in header and header["alg"] != "RS256":
        token = ".".join([segment(header)] + [b64url(bytes([n]) * 24) for n in range(1, 5)])
    else:
        token = jws(header, w.payload("b2c"), w.b2c, alg="RS256")
    validator = _validator()
    spies.calls.clear()
    assert _reason(validator, token) == "malformed_token"
    assert spies.calls == []


# --------------------------------------------------------------------------- CVE-2016-7036


def test_CVE_2016_7036_hmac_is_never_verified(spies: Spies) -> None:  # noqa: N802
    """Variable-time HMAC comparison needs an HMAC verification to happen. None ever does: a
    symmetric ("oct") key published in a fetched key set is skipped (in an inline set it is an
    init error), a token that names it with a correct HS256 signature is refused at the
    algorithm stage, and across the whole corpus plus valid tokens not one HMAC key is built and
    ``hmac.compare_digest`` is never called."""
    from tests.security.corpus import corpus

    w = world()
    secret = b"0123456789abcdef0123456789abcdef"
    document = w.document()
    oct_key = {"kty": "oct", "kid": "shared-secret", "k": b64url(secret), "alg": "HS256"}
    with pytest.raises(ConfigError) as refused:
        parse_config(document | {"issuers": [_with_key(document["issuers"][0], oct_key)]})
    assert refused.value.field == "issuers[0].jwks.keys[1]"
    # Published by the identity provider instead: fetched, and the oct key skipped.
    served = dict(document["issuers"][0])
    jwks = _with_key(served, oct_key).pop("jwks")
    del served["jwks"]
    served["jwks_uri"] = "http://127.0.0.1:9/keys"  # never contacted: ServingFetcher answers
    document["issuers"][0] = served
    config = parse_config(document)
    fetcher = ServingFetcher({served["jwks_uri"]: jwks})
    registry = KeyRegistry(config.keys, fetcher=fetcher)
    validator = validator_for(config, registry)
    validator.start_prefetch().wait()
    assert "shared-secret" not in _kids(registry)
    forged = hmac_jws({"alg": "HS256", "kid": "shared-secret"}, w.payload("b2c"), secret, "HS256")
    tokens = [case.token for case in corpus() if case.token]  # built (and HMAC-signed) first
    spies.calls.clear()
    assert _reason(validator, forged) == "unsupported_alg"
    for token in tokens:
        _reason(validator, token)
    assert _reason(validator, w.token("b2c")) == "accepted"
    hmac_calls = [call for call in spies.calls if "HMAC" in call or call.startswith("hmac")]
    assert hmac_calls == []
    assert set(spies.verifications()) <= {
        "CryptographyRSAKey.verify",
        "CryptographyECKey.verify",
    }, "signatures are checked by cryptography's public-key verify only"
    assert not {"jws.verify", "jwt.decode", "jwe.decrypt", "jwk.construct"} & set(spies.calls)


def _with_key(issuer: dict[str, Any], jwk: dict[str, Any]) -> dict[str, Any]:
    """A copy of an issuer entry whose inline key set also holds ``jwk``."""
    return issuer | {"jwks": {"keys": [*issuer["jwks"]["keys"], jwk]}}


def _kids(registry: KeyRegistry) -> set[str]:
    kids: set[str] = set()
    for source in registry.sources():
        snapshot = source.snapshot
        if snapshot is not None:
            kids.update(snapshot.by_kid)
    return kids


# --------------------------------------------------------------------------- CVE-2024-23342


def test_CVE_2024_23342_ecdsa_package_is_never_loaded() -> None:  # noqa: N802
    """The Minerva timing leak is in the pure-Python ``ecdsa`` package's *signing*. A fresh
    interpreter that loads the authorizer, verifies ES256 and RS256 tokens and answers events
    never imports ``ecdsa`` (nor the pure-Python ``rsa`` backend): python-jose runs on its
    ``cryptography`` backend, and only to verify."""
    script = """
import json, sys
sys.path[:0] = ["src/authorizer", "."]
from tests.security.world import world
w = world()
authorizer = w.authorizer("iam")
for token in (w.token("b2c"), w.oidc_ec.sign(w.payload("oidc")), w.token("entra")):
    event = {"type": "TOKEN", "authorizationToken": "Bearer " + token,
             "methodArn": "arn:aws:execute-api:eu-west-1:1:a/prod/GET/orders"}
    assert authorizer(event, None)["policyDocument"]
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("ecdsa", "rsa", "jose"))))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert not [name for name in loaded if name.split(".")[0] in ("ecdsa", "rsa")], loaded
    assert "jose.backends.cryptography_backend" in loaded
