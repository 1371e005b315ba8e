"""Tokens stage: an untrusted string becomes an UnverifiedJwt, or exactly one rejection.

Pure: ``decompose_unverified`` over token text, each case with the exact error class and detail.
The hostile-input corpus and the properties over arbitrary text are in tests/security.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from jwt_authorizer.errors import (
    MalformedToken,
    TokenRejected,
    TokenTooLarge,
    UnsupportedAlgorithm,
    UnsupportedHeader,
)
from jwt_authorizer.tokens import HeaderCache, UnverifiedJwt, decompose_unverified
from tests.support.signing import b64json, b64url

HEADER = {"alg": "RS256", "typ": "JWT", "kid": "k1"}
PAYLOAD = {"iss": "https://idp.example/", "sub": "s", "exp": 2000000000, "aud": ["a", "b"]}
MAX = 16384


def token(
    header: object = HEADER, payload: object = PAYLOAD, signature: bytes = b"\x01\x02\x03"
) -> str:
    """A compact JWS of these parts: objects as compact JSON, text as UTF-8, bytes as they are."""

    def part(value: object) -> str:
        if isinstance(value, bytes):
            return b64url(value)
        if isinstance(value, str):
            return b64url(value.encode("utf-8", "surrogatepass"))
        return b64json(value)

    return f"{part(header)}.{part(payload)}.{b64url(signature)}"


def rejection(text: str, max_bytes: int = MAX) -> tuple[type[TokenRejected], str]:
    with pytest.raises(TokenRejected) as caught:
        decompose_unverified(text, max_bytes=max_bytes)
    return type(caught.value), caught.value.detail


def test_a_well_formed_token_is_decomposed() -> None:
    text = token()
    jwt = decompose_unverified(text, max_bytes=MAX)
    header_segment, payload_segment, _ = text.split(".")
    assert jwt == UnverifiedJwt(
        header=HEADER,
        payload=PAYLOAD,
        signing_input=f"{header_segment}.{payload_segment}".encode("ascii"),
        signature=b"\x01\x02\x03",
        header_segment=header_segment,
    )
    assert (jwt.alg, jwt.kid, jwt.issuer) == ("RS256", "k1", "https://idp.example/")


def test_kid_and_issuer_are_optional() -> None:
    jwt = decompose_unverified(token({"alg": "ES256"}, {"sub": "s"}), max_bytes=MAX)
    assert (jwt.alg, jwt.kid, jwt.issuer) == ("ES256", None, None)


def test_the_size_limit_comes_first() -> None:
    text = token()
    assert decompose_unverified(text, max_bytes=len(text)).payload == PAYLOAD
    assert rejection(text, max_bytes=len(text) - 1) == (TokenTooLarge, "")
    assert rejection("x" * 300, max_bytes=256) == (TokenTooLarge, "")


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("", "shape"),
        ("a.b", "shape"),
        ("a.b.c.d", "shape"),
        ("a.b.c.d.e", "jwe"),
        ("a..c", "shape"),
        ("a.b.c\n", "shape"),
        ("a.b.c=", "shape"),
        ("a+b.c.d", "shape"),
        (" a.b.c", "shape"),
    ],
)
def test_exactly_three_base64url_segments(text: str, detail: str) -> None:
    assert rejection(text) == (MalformedToken, detail)


@pytest.mark.parametrize("part", ["header", "payload", "signature"])
def test_base64url_is_strict(part: str) -> None:
    parts = dict(zip(("header", "payload", "signature"), token().split("."), strict=True))
    # Five characters cannot encode whole bytes.
    spoiled = {**parts, part: "AAAAA"}
    assert rejection(".".join(spoiled.values())) == (
        MalformedToken,
        f"{part}: bad base64url length",
    )
    # One byte encodes as two characters: the second holds four spare bits, which must be zero.
    assert b64url(b"\xff") == "_w"
    spoiled = {**parts, part: "_x"}
    assert rejection(".".join(spoiled.values())) == (
        MalformedToken,
        f"{part}: non-canonical base64url",
    )


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        ('{"sub":"a","sub":"b"}', "duplicate JSON member name"),
        ('{"a":{"x":1,"x":2}}', "duplicate JSON member name"),
        ('{"exp":NaN}', "non-standard JSON constant NaN"),
        ('{"exp":Infinity}', "non-standard JSON constant Infinity"),
        ('{"n":1e400}', "non-finite number"),
        ("[1,2]", "payload: not a JSON object"),
        ('"text"', "payload: not a JSON object"),
        ("{", "payload: not JSON"),
        ('{"a":1} x', "payload: not JSON"),
        ('{"s":"\\ud800"}', "payload: string is not valid Unicode"),
        ('{"\\udfff":1}', "payload: string is not valid Unicode"),
        ('{"l":[{"s":"\\udbff"}]}', "payload: string is not valid Unicode"),
    ],
)
def test_the_payload_is_strict_json(payload: str, detail: str) -> None:
    assert rejection(token(payload=payload)) == (MalformedToken, detail)


def test_bytes_that_are_not_utf8_are_not_json() -> None:
    assert rejection(token(payload=b'{"s":"\xff"}')) == (MalformedToken, "payload: not JSON")


def test_an_escaped_surrogate_pair_is_a_character() -> None:
    jwt = decompose_unverified(token(payload='{"s":"\\ud83d\\ude00"}'), max_bytes=MAX)
    assert jwt.payload == {"s": "\U0001f600"}


@pytest.mark.parametrize(
    ("header", "error", "detail"),
    [
        ({"typ": "JWT"}, MalformedToken, "header has no alg"),
        ({"alg": 256}, MalformedToken, "header alg is not a string"),
        ({"alg": "RS256", "kid": 1}, MalformedToken, "header kid is not a string"),
        ({"alg": "RS256", "x5t#S256": None}, MalformedToken, "header x5t#S256 is not a string"),
        ({"alg": "none"}, UnsupportedAlgorithm, "none"),
        ({"alg": "NoNe"}, UnsupportedAlgorithm, "none"),
        ({"alg": "RS256", "crit": ["exp"]}, UnsupportedHeader, "crit"),
        ({"alg": "RS256", "enc": "A256GCM"}, MalformedToken, "jwe header"),
        ({"alg": "RS256", "zip": "DEF"}, MalformedToken, "jwe header"),
        ({"alg": "RS256", "cty": "jwt"}, UnsupportedHeader, "nested jwt"),
    ],
)
def test_header_parameters(header: dict[str, Any], error: type[TokenRejected], detail: str) -> None:
    assert rejection(token(header=header)) == (error, detail)


def test_header_members_nobody_reads_are_kept_as_they_are() -> None:
    header = {"alg": "RS256", "jku": "https://evil.example/keys", "x5c": ["MII"], "cty": "json"}
    assert decompose_unverified(token(header=header), max_bytes=MAX).header == header


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        ({"exp": True}, "claim exp is not a number"),
        ({"nbf": "1700000000"}, "claim nbf is not a number"),
        ({"iat": None}, "claim iat is not a number"),
        ({"auth_time": [1]}, "claim auth_time is not a number"),
        ({"exp": 2**53}, "claim exp is out of range"),
        ({"exp": -(2**53)}, "claim exp is out of range"),
        ({"iss": 1}, "claim iss is not a string"),
        ({"sub": None}, "claim sub is not a string"),
        ({"tid": ["t"]}, "claim tid is not a string"),
        ({"token_use": {"a": 1}}, "claim token_use is not a string"),
        ({"aud": 5}, "claim aud is not a string or a list of strings"),
        ({"aud": ["a", 5]}, "claim aud is not a string or a list of strings"),
        ({"aud": {"a": 1}}, "claim aud is not a string or a list of strings"),
    ],
)
def test_registered_claims_are_typed(claims: dict[str, Any], detail: str) -> None:
    assert rejection(token(payload={**PAYLOAD, **claims})) == (MalformedToken, detail)


def test_numeric_dates_may_be_fractional_and_aud_empty() -> None:
    payload = {"exp": 2**53 - 1, "nbf": 1.5, "iat": -5, "aud": []}
    assert decompose_unverified(token(payload=payload), max_bytes=MAX).payload == payload


def test_deep_nesting_is_malformed_not_a_crash() -> None:
    deep = '{"a":' * 50000 + "1" + "}" * 50000
    assert rejection(token(payload=deep), max_bytes=10**6) == (MalformedToken, "payload: not JSON")


def test_a_known_header_segment_is_not_decoded_again() -> None:
    text = token()
    segment = text.split(".")[0]
    remembered = {"alg": "RS256", "kid": "remembered"}
    jwt = decompose_unverified(text, max_bytes=MAX, known_headers={segment: remembered})
    assert jwt.header is remembered
    assert decompose_unverified(text, max_bytes=MAX, known_headers={}).header == HEADER


def test_the_header_cache_is_bounded_and_first_wins() -> None:
    cache = HeaderCache(size=2)
    first, second, third = (
        decompose_unverified(token(header={"alg": "RS256", "kid": kid}), max_bytes=MAX)
        for kid in ("1", "2", "3")
    )
    for jwt in (first, second, third, first):
        cache.remember(jwt)
    assert [cache.get(jwt.header_segment) for jwt in (first, second, third)] == [
        {"alg": "RS256", "kid": "1"},
        {"alg": "RS256", "kid": "2"},
        None,
    ]
    cache.clear()
    assert cache.get(first.header_segment) is None


def test_a_cached_header_still_needs_a_valid_payload() -> None:
    text = token()
    header_segment = text.split(".")[0]
    cache = HeaderCache()
    cache.remember(decompose_unverified(text, max_bytes=MAX))
    spoiled = f"{header_segment}.{b64url(json.dumps({'exp': 'x'}).encode())}.AQID"
    with pytest.raises(MalformedToken) as caught:
        decompose_unverified(spoiled, max_bytes=MAX, known_headers=cache)
    assert caught.value.detail == "claim exp is not a number"
