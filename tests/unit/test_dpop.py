"""DPoP proofs (RFC 9449): every resource-server check of a proof, each with a proof that
violates exactly that check and the exact reason code it must produce, through the real handler;
the accepted cases run through REST REQUEST, HTTP 1.0 and HTTP 2.0 events. ``htu``
normalisation and hostile proofs are also checked as properties (Hypothesis)."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jwt_authorizer.dpop import (
    Proof,
    ProofKeys,
    ProofRules,
    access_token_hash,
    expected_urls,
    normalise_url,
    thumbprint,
    verify_proof,
)
from jwt_authorizer.errors import InvalidDpopProof
from tests.support.dpop import (
    HOST,
    HTTP_URL,
    KINDS,
    REST_URL,
    DpopClient,
    allowed,
    authorizer,
    bound_token,
    document,
    event,
    rejected,
    url_of,
)
from tests.support.signing import SigningKey, b64url

PROPERTIES = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("kind", KINDS)
def test_a_bound_token_with_a_fresh_proof_is_allowed(
    rsa_key: SigningKey, client: DpopClient, kind: str
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key, client)
    proof = client.proof("GET", url_of(kind), token)
    assert allowed(auth(event(kind, f"DPoP {token}", [proof]), None))


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "PS256", "RS256", "EdDSA"])
def test_every_asymmetric_proof_algorithm_verifies(rsa_key: SigningKey, alg: str) -> None:
    auth = authorizer(document(rsa_key))
    dpop = DpopClient.generate(alg)
    token = bound_token(rsa_key, dpop)
    assert allowed(
        auth(event("request", f"dpop {token}", [dpop.proof("GET", REST_URL, token)]), None)
    )


def test_htu_is_compared_after_rfc3986_normalisation(
    rsa_key: SigningKey, client: DpopClient
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key, client)
    variant = f"HTTPS://{HOST.upper()}:443/%70rod/orders?page=2#top"
    assert allowed(
        auth(event("request", f"DPoP {token}", [client.proof("GET", variant, token)]), None)
    )


def test_normalisation() -> None:
    assert (
        normalise_url("HTTPS://Api.Example.COM:443/a/./b/../c%7e%2f")
        == "https://api.example.com/a/c~%2F"
    )
    assert normalise_url("http://127.0.0.1:80") == "http://127.0.0.1/"
    assert normalise_url("https://h/a b") == normalise_url("https://h/a%20b")
    assert normalise_url("https://h:8443/x") == "https://h:8443/x"
    assert normalise_url("ftp://h/x") is None
    assert normalise_url("https://user@h/x") is None
    assert normalise_url("https://h:99999/x") is None


def test_configured_base_urls_replace_the_event_url(
    rsa_key: SigningKey, client: DpopClient
) -> None:
    """A custom domain with a base-path mapping: the client calls another URL than the API's."""
    auth = authorizer(document(rsa_key, htu_base_urls=["https://api.example.com/shop"]))
    token = bound_token(rsa_key, client)
    custom = client.proof("GET", "https://api.example.com/shop/orders", token)
    assert allowed(auth(event("request", f"DPoP {token}", [custom]), None))
    token2 = bound_token(rsa_key, client)
    default = client.proof("GET", REST_URL, token2)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        auth(event("request", f"DPoP {token2}", [default]), None)


VIOLATIONS: dict[str, tuple[dict[str, Any], str]] = {
    # name: (arguments of DpopClient.proof, expected reason)
    "typ is JWT": ({"header": {"typ": "JWT"}}, "invalid_dpop_proof"),
    "typ missing": ({"header": {"typ": None}}, "invalid_dpop_proof"),
    "jwk missing": ({"header": {"jwk": None}}, "invalid_dpop_proof"),
    "jwk with a private member": ({"header": {"jwk": "private"}}, "invalid_dpop_proof"),
    "jwk is an HMAC key": (
        {"header": {"jwk": {"kty": "oct", "k": "c2VjcmV0"}}},
        "invalid_dpop_proof",
    ),
    "signed by another key": ({"signer": "other"}, "invalid_dpop_proof"),
    "alg none": ({"header": {"alg": "none"}}, "invalid_dpop_proof"),
    "alg HS256": ({"header": {"alg": "HS256"}}, "invalid_dpop_proof"),
    "alg not allowed": ({"header": {"alg": "ES384"}}, "invalid_dpop_proof"),
    "crit header": ({"header": {"crit": ["exp"]}}, "invalid_dpop_proof"),
    "htm is POST": ({"claims": {"htm": "POST"}}, "invalid_dpop_proof"),
    "htm lower case": ({"claims": {"htm": "get"}}, "invalid_dpop_proof"),
    "htu another host": (
        {"claims": {"htu": "https://evil.example.com/prod/orders"}},
        "invalid_dpop_proof",
    ),
    "htu another path": (
        {"claims": {"htu": f"https://{HOST}/prod/orders/1"}},
        "invalid_dpop_proof",
    ),
    "htu http scheme": ({"claims": {"htu": f"http://{HOST}/prod/orders"}}, "invalid_dpop_proof"),
    "htu not a string": ({"claims": {"htu": 42}}, "invalid_dpop_proof"),
    "iat too old": ({"claims": {"iat": int(time.time()) - 120}}, "invalid_dpop_proof"),
    "iat in the future": ({"claims": {"iat": int(time.time()) + 60}}, "invalid_dpop_proof"),
    "iat missing": ({"drop": ("iat",)}, "invalid_dpop_proof"),
    "iat a string": ({"claims": {"iat": "now"}}, "invalid_dpop_proof"),
    "ath of another token": ({"claims": {"ath": b64url(b"x" * 32)}}, "invalid_dpop_proof"),
    "ath missing": ({"drop": ("ath",)}, "invalid_dpop_proof"),
    "jti missing": ({"drop": ("jti",)}, "invalid_dpop_proof"),
    "jti not a string": ({"claims": {"jti": 7}}, "invalid_dpop_proof"),
    "jkt of another key": ({"client": "other"}, "dpop_binding_mismatch"),
}


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
def test_each_violated_check_has_its_reason(
    rsa_key: SigningKey, client: DpopClient, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    arguments, reason = VIOLATIONS[name]
    arguments = dict(arguments)
    auth = authorizer(document(rsa_key, algorithms=["ES256", "RS256", "PS256"]))
    token = bound_token(rsa_key, client)
    maker = client
    if arguments.pop("client", None) == "other":
        maker = DpopClient.generate("ES256")
    if arguments.pop("signer", None) == "other":
        arguments["signer"] = SigningKey.generate("ES256")
    header = arguments.get("header")
    if header is not None and header.get("jwk") == "private":
        private = maker.key.private.private_numbers()
        arguments["header"] = {
            "jwk": maker.jwk | {"d": b64url(private.private_value.to_bytes(32, "big"))}
        }
    proof = maker.proof("GET", REST_URL, token, **arguments)
    assert rejected(auth, event("request", f"DPoP {token}", [proof]), caplog) == reason


@pytest.mark.parametrize(
    "mangle",
    ["duplicate member", "non-canonical base64url", "oversized", "five segments"],
)
def test_proofs_are_parsed_as_strictly_as_tokens(
    rsa_key: SigningKey, client: DpopClient, mangle: str, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key, client)
    good = client.proof("GET", REST_URL, token)
    head, body, signature = good.split(".")
    if mangle == "duplicate member":
        text = json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": client.jwk})
        text = text[:-1] + ', "typ": "dpop+jwt"}'
        proof = f"{b64url(text.encode())}.{body}.{signature}"
    elif mangle == "non-canonical base64url":
        last = signature[-1]
        proof = f"{head}.{body}.{signature[:-1]}{'B' if last == 'A' else 'A'}"
        proof = f"{head}.{body}.{signature}=" if last == "A" else proof
    elif mangle == "oversized":
        proof = client.proof("GET", REST_URL, token, claims={"pad": "x" * 9000})
    else:
        proof = f"{head}.{body}.{signature}.e30.e30"
    assert (
        rejected(auth, event("request", f"DPoP {token}", [proof]), caplog) == "invalid_dpop_proof"
    )


def test_an_rsa_proof_key_under_2048_bits_is_refused(
    rsa_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key))
    weak = DpopClient(SigningKey.generate("RS256", kid="weak", bits=1024))
    token = bound_token(rsa_key, weak)
    proof = weak.proof("GET", REST_URL, token)
    assert (
        rejected(auth, event("request", f"DPoP {token}", [proof]), caplog) == "invalid_dpop_proof"
    )


def test_exactly_one_dpop_header(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key, client)
    proofs = [client.proof("GET", HTTP_URL, token), client.proof("GET", HTTP_URL, token)]
    for kind in ("http-1.0", "http-2.0"):
        assert rejected(auth, event(kind, f"DPoP {token}", proofs), caplog) == "invalid_dpop_proof"


def test_http_simple_denials_carry_the_dpop_challenge(
    rsa_key: SigningKey, client: DpopClient
) -> None:
    auth = authorizer(document(rsa_key, algorithms=["ES256", "PS256"]))
    token = bound_token(rsa_key, client)
    proof = client.proof("POST", HTTP_URL, token)
    answer = auth(event("http-2.0", f"DPoP {token}", [proof]), None)
    assert answer == {
        "isAuthorized": False,
        "context": {
            "error": "invalid_dpop_proof",
            "reason": "invalid_dpop_proof",
            "www_authenticate": 'DPoP error="invalid_dpop_proof", algs="ES256 PS256"',
        },
    }


# ------------------------------------------------------------------- the stage, without the handler

RULES = ProofRules(
    algorithms=frozenset({"ES256", "RS256"}), max_age_seconds=60, clock_skew_seconds=5
)
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"


def test_a_proof_yields_its_key_thumbprint_jti_and_iat(client: DpopClient) -> None:
    now = 1_767_225_600
    proof = client.proof("GET", REST_URL, TOKEN, claims={"iat": now - 3, "jti": "j-1"})
    assert verify_proof(
        proof, rules=RULES, method="GET", urls=(REST_URL,), access_token=TOKEN, now=now
    ) == Proof(jkt=client.jkt, jti="j-1", iat=now - 3)


def test_the_window_edges_are_inclusive(client: DpopClient) -> None:
    now = 1_767_225_600
    for iat in (now - 60, now + 5):
        proof = client.proof("GET", REST_URL, TOKEN, claims={"iat": iat})
        verify_proof(
            proof, rules=RULES, method="GET", urls=(REST_URL,), access_token=TOKEN, now=now
        )
    for iat, detail in (
        (now - 61, "iat is older than dpop.max_age_seconds"),
        (now + 6, "iat is in the future"),
    ):
        proof = client.proof("GET", REST_URL, TOKEN, claims={"iat": iat})
        with pytest.raises(InvalidDpopProof) as caught:
            verify_proof(
                proof, rules=RULES, method="GET", urls=(REST_URL,), access_token=TOKEN, now=now
            )
        assert caught.value.detail == detail


def test_an_unknown_request_url_refuses_every_proof(client: DpopClient) -> None:
    proof = client.proof("GET", REST_URL, TOKEN)
    with pytest.raises(InvalidDpopProof) as caught:
        verify_proof(proof, rules=RULES, method="GET", urls=(), access_token=TOKEN, now=time.time())
    assert caught.value.detail == "the request URL is unknown: set dpop.htu_base_urls"


def test_rfc7638_thumbprint_and_rfc9449_ath_examples() -> None:
    # RFC 7638 section 3.1 and RFC 9449 section 7.1 (the access token of its example request).
    rfc7638 = {
        "kty": "RSA",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSo"
            "c_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YG"
            "jQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt"
            "-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDK"
            "gw"
        ),
    }
    assert thumbprint(rfc7638) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    assert access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU") == (
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    )


def test_expected_urls() -> None:
    configured = ProofRules(
        algorithms=frozenset({"ES256"}),
        max_age_seconds=60,
        clock_skew_seconds=5,
        htu_base_urls=("https://api.example.com/shop", "https://shop.example.com"),
    )
    assert expected_urls(configured, host=HOST, path="/prod/orders", api_path="/orders") == (
        "https://api.example.com/shop/orders",
        "https://shop.example.com/orders",
    )
    assert expected_urls(RULES, host=HOST, path="/prod/orders", api_path="/orders") == (REST_URL,)
    assert expected_urls(RULES, host="127.0.0.1:3000", path="/orders", api_path="/orders") == (
        "https://127.0.0.1:3000/orders",
        "http://127.0.0.1:3000/orders",
    )
    assert expected_urls(RULES, host=None, path="/orders", api_path="/orders") == ()
    assert expected_urls(RULES, host=HOST, path=None, api_path="/orders") == ()


# ----------------------------------------------------------------------------- properties

_HOSTS = st.from_regex(r"[a-z][a-z0-9-]{0,12}(\.[a-z][a-z0-9-]{0,12}){0,3}", fullmatch=True)
_SEGMENTS = st.lists(
    st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_characters="/?#%"),
        max_size=8,
    ),
    max_size=5,
)


#: Reserved characters a path holds as they are: percent-encoding one changes the URL's meaning.
_KEPT_AS_IS = frozenset("!$&'()*+,;=:@/")


def _variant(text: str, flips: list[bool]) -> str:
    """``text`` with some characters percent-encoded where that leaves the URL equivalent
    (RFC 3986 section 6.2.2: unreserved characters, and characters a path cannot hold raw)."""
    out = []
    for char, flip in zip(text, flips + [False] * len(text), strict=False):
        encode = flip and char not in _KEPT_AS_IS
        out.append("".join(f"%{b:02x}" for b in char.encode()) if encode else char)
    return "".join(out)


@PROPERTIES
@given(
    host=_HOSTS,
    segments=_SEGMENTS,
    flips=st.lists(st.booleans(), max_size=60),
    upper=st.booleans(),
    port=st.booleans(),
)
def test_equivalent_urls_normalise_alike_and_normalisation_is_idempotent(
    host: str, segments: list[str], flips: list[bool], upper: bool, port: bool
) -> None:
    path = "/" + "/".join(segments)
    plain = f"https://{host}{path}"
    authority = (host.upper() if upper else host) + (":443" if port else "")
    variant = f"{'HTTPS' if upper else 'https'}://{authority}{_variant(path, flips)}"
    normal = normalise_url(plain)
    assert normal is not None
    assert normalise_url(variant) == normal
    assert normalise_url(normal) == normal
    assert normalise_url(f"{plain}?q=1#f") == normal


@PROPERTIES
@given(host=_HOSTS, segments=_SEGMENTS, other=_HOSTS)
def test_another_host_or_scheme_never_normalises_alike(
    host: str, segments: list[str], other: str
) -> None:
    path = "/" + "/".join(segments)
    normal = normalise_url(f"https://{host}{path}")
    assert normalise_url(f"http://{host}{path}") != normal
    assert normalise_url(f"https://{host}:8443{path}") != normal
    if other != host:
        assert normalise_url(f"https://{other}{path}") != normal


@PROPERTIES
@given(junk=st.text(max_size=200))
def test_normalisation_never_raises(junk: str) -> None:
    result = normalise_url(junk)
    assert result is None or result.startswith(("https://", "http://"))


_HEADER_VALUES = st.one_of(
    st.none(), st.integers(), st.text(max_size=8), st.lists(st.text(max_size=4), max_size=2)
)
_CLAIM_VALUES = st.one_of(st.none(), st.integers(), st.floats(), st.booleans(), st.text(max_size=8))


def _acceptable(name: str, value: Any, client: DpopClient, now: float) -> bool:
    """Whether a proof may carry ``value`` as ``name`` (None: the member is absent)."""
    if isinstance(value, float) and not math.isfinite(value):
        return False  # NaN and Infinity are not JSON: the strict parser refuses the proof
    if name in ("kid", "nonce"):  # not checked (no server nonces, see docs/dpop.md)
        return True
    if name == "crit":
        return value is None
    if name == "typ":
        return isinstance(value, str) and value.lower() in ("dpop+jwt", "application/dpop+jwt")
    if name == "jti":
        return isinstance(value, str) and bool(value)
    if name == "iat":
        return type(value) in (int, float) and bool(now - 60 <= value <= now + 5)
    expected: object = {"alg": "ES256", "jwk": client.jwk, "htm": "GET"}.get(name, object())
    return bool(expected == value)


@PROPERTIES
@given(
    header=st.dictionaries(
        st.sampled_from(["typ", "alg", "jwk", "crit", "kid"]), _HEADER_VALUES, max_size=3
    ),
    claims=st.dictionaries(
        st.sampled_from(["jti", "htm", "htu", "iat", "ath", "nonce"]), _CLAIM_VALUES, max_size=4
    ),
)
def test_a_changed_proof_is_refused_with_invalid_dpop_proof_and_nothing_else(
    client: DpopClient, header: dict[str, Any], claims: dict[str, Any]
) -> None:
    """Any change a proof may not carry is refused, and only ever as a bad proof."""
    now = float(int(time.time()))
    changed = client.proof("GET", REST_URL, TOKEN, header=header, claims={"iat": now, **claims})
    acceptable = all(
        _acceptable(name, value, client, now) for name, value in (header | claims).items()
    )
    try:
        verify_proof(
            changed, rules=RULES, method="GET", urls=(REST_URL,), access_token=TOKEN, now=now
        )
    except InvalidDpopProof:
        assert not acceptable, (header, claims)
        return
    assert acceptable, (header, claims)


@PROPERTIES
@given(
    junk=st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.=", max_size=300
    )
)
def test_proof_shaped_junk_is_always_invalid_dpop_proof(junk: str) -> None:
    with pytest.raises(InvalidDpopProof):
        verify_proof(
            junk, rules=RULES, method="GET", urls=(REST_URL,), access_token=TOKEN, now=time.time()
        )


def test_a_bad_proof_never_reaches_the_logs(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key, client)
    proof = client.proof("POST", REST_URL, token)
    assert (
        rejected(auth, event("request", f"DPoP {token}", [proof]), caplog) == "invalid_dpop_proof"
    )
    text = caplog.text
    for part in proof.split(".") + token.split("."):
        assert part not in text
    assert json.dumps(client.jwk["x"]) not in text


def test_what_a_proof_key_says_reaches_the_log_escaped(client: DpopClient) -> None:
    jwk = client.jwk | {"use": "enc\n\u2028"}
    proof = client.proof("GET", REST_URL, TOKEN, header={"jwk": jwk})
    with pytest.raises(InvalidDpopProof) as caught:
        verify_proof(
            proof, rules=RULES, method="GET", urls=(REST_URL,), access_token=TOKEN, now=time.time()
        )
    assert caught.value.detail == (
        "jwk: has use 'enc\\n\\u2028'; an inline key set holds signing keys (\"sig\")"
    )


def test_known_proof_keys_skip_parsing_but_never_the_signature(client: DpopClient) -> None:
    keys = ProofKeys(size=2)
    now = time.time()

    def check(proof: str) -> Proof:
        return verify_proof(
            proof,
            rules=RULES,
            method="GET",
            urls=(REST_URL,),
            access_token=TOKEN,
            now=now,
            keys=keys,
        )

    first = check(client.proof("GET", REST_URL, TOKEN))
    segment = client.proof("GET", REST_URL, TOKEN).split(".")[0]
    assert keys.key(segment) is not None
    assert check(client.proof("GET", REST_URL, TOKEN)).jkt == first.jkt == client.jkt
    forged = client.proof("GET", REST_URL, TOKEN, signer=SigningKey.generate("ES256"))
    assert forged.split(".")[0] == segment  # the same header, another key's signature
    with pytest.raises(InvalidDpopProof) as caught:
        check(forged)
    assert caught.value.detail == "signature does not verify with the embedded jwk"
    with pytest.raises(InvalidDpopProof) as caught:
        check(client.proof("POST", REST_URL, TOKEN))
    assert caught.value.detail == "htm is not the request method"
    for _ in range(2):  # full: emptied, then refilled
        check(DpopClient.generate("ES256").proof("GET", REST_URL, TOKEN))
    assert keys.key(segment) is None
    keys.clear()
    assert keys.get(segment) is None
