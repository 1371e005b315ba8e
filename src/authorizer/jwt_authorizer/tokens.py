"""Parse stage: turn an untrusted string into an :class:`UnverifiedJwt`, or reject it.

This is the only module that decodes token segments. Everything it returns is still attacker
controlled: later stages use the header only to pick among keys we already trust.
"""

from __future__ import annotations

import binascii
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Final, Protocol

from .errors import MalformedToken, TokenTooLarge, UnsupportedAlgorithm, UnsupportedHeader, facts

_SEGMENT: Final = r"[A-Za-z0-9_-]+"
# Used with fullmatch: "$" would also match before a trailing newline ("<jws>\n" accepted).
_JWS_RE: Final = re.compile(rf"({_SEGMENT})\.({_SEGMENT})\.({_SEGMENT})")
# A JSON escape of a UTF-16 surrogate; only then can a decoded string hold a lone surrogate.
_SURROGATE_ESCAPE_RE: Final = re.compile(r"\\u[dD][89a-fA-F]")
_B64_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64_INDEX: Final = {char: index for index, char in enumerate(_B64_ALPHABET)}
_TO_STANDARD: Final = bytes.maketrans(b"-_", b"+/")
# Numeric dates beyond +/-2**53 cannot round-trip through JSON safely; no real token uses them.
_MAX_NUMERIC_DATE: Final = 2**53
_TIME_CLAIMS: Final = ("exp", "nbf", "iat", "auth_time")
_STRING_CLAIMS: Final = ("iss", "sub", "jti", "azp", "client_id", "tid", "token_use")
_STRING_HEADERS: Final = ("alg", "kid", "typ", "x5t", "x5t#S256", "cty")


@dataclass(frozen=True, slots=True)
class UnverifiedJwt:
    """A structurally valid JWS whose header and payload are NOT yet trusted.

    ``signing_input`` and ``signature`` are what the signature check needs; ``header`` and
    ``payload`` are decoded JSON objects that have passed type checks only.
    """

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes
    header_segment: str

    @property
    def alg(self) -> str:
        return str(self.header["alg"])

    @property
    def kid(self) -> str | None:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None

    @property
    def issuer(self) -> str | None:
        iss = self.payload.get("iss")
        return iss if isinstance(iss, str) else None


class KnownHeaders(Protocol):
    """Header segments already decoded and checked (:class:`HeaderCache`, DPoP proof keys)."""

    def get(self, segment: str, /) -> dict[str, Any] | None: ...


class HeaderCache:
    """Header segments of tokens that validated, decoded and checked once: an identity provider
    signs every token with the same few headers. Filled only after a token validated, so an
    attacker cannot fill it; bounded anyway."""

    __slots__ = ("_headers", "size")

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._headers: dict[str, dict[str, Any]] = {}

    def get(self, segment: str) -> dict[str, Any] | None:
        return self._headers.get(segment)

    def remember(self, jwt: UnverifiedJwt) -> None:
        if jwt.header_segment not in self._headers and len(self._headers) < self.size:
            self._headers[jwt.header_segment] = jwt.header

    def clear(self) -> None:
        self._headers.clear()


def decompose_unverified(
    token: str,
    *,
    max_bytes: int,
    known_headers: KnownHeaders | None = None,
) -> UnverifiedJwt:
    """Split, decode and type-check a compact JWS; raise a :class:`TokenRejected` otherwise.

    ``known_headers`` holds the header segments of tokens that already validated, decoded.
    """
    if len(token) > max_bytes:
        raise TokenTooLarge()
    match = _JWS_RE.fullmatch(token)
    if match is None:
        dots = token.count(".")
        # "header.payload." is RFC 7519's unsecured JWT (alg none): say so, it is not a typo.
        unsigned = dots == 2 and token.endswith(".") and not token.startswith(".")
        raise MalformedToken("jwe" if dots == 4 else "unsigned" if unsigned else "shape")
    header_b64, payload_b64, signature_b64 = match.groups()
    header = known_headers.get(header_b64) if known_headers else None
    if header is None:
        header = _decode_object(header_b64, "header")
        _check_header(header)
    payload = _decode_object(payload_b64, "payload")
    _check_payload(payload)
    return UnverifiedJwt(
        header=header,
        payload=payload,
        signing_input=f"{header_b64}.{payload_b64}".encode("ascii"),
        signature=_b64decode(signature_b64, "signature"),
        header_segment=header_b64,
    )


def _b64decode(segment: str, part: str) -> bytes:
    """Strict base64url: no padding, and no stray bits in the last character (one encoding only)."""
    remainder = len(segment) % 4
    if remainder == 1:
        raise MalformedToken(f"{part}: bad base64url length")
    if remainder:
        spare_bits = 4 if remainder == 2 else 2
        if _B64_INDEX[segment[-1]] & ((1 << spare_bits) - 1):
            raise MalformedToken(f"{part}: non-canonical base64url")
    try:
        padded = segment.encode("ascii") + b"=" * (-len(segment) % 4)
        return binascii.a2b_base64(padded.translate(_TO_STANDARD))
    except (binascii.Error, ValueError) as err:
        raise MalformedToken(f"{part}: bad base64url") from err


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise MalformedToken("duplicate JSON member name")
    return result


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedToken("non-finite number")
    return value


def _reject_constant(text: str) -> Any:
    raise MalformedToken(f"non-standard JSON constant {text[:10]}")


# Built once: json.loads() with hooks would construct a new decoder on every call.
_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_reject_duplicates,
    parse_float=_finite_float,
    parse_constant=_reject_constant,
)


def _decode_object(segment: str, part: str) -> dict[str, Any]:
    raw = _b64decode(segment, part)
    try:
        text = raw.decode("utf-8")
        value = _DECODER.decode(text)
    except MalformedToken:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise MalformedToken(f"{part}: not JSON") from err
    if not isinstance(value, dict):
        raise MalformedToken(f"{part}: not a JSON object")
    if _SURROGATE_ESCAPE_RE.search(text):
        _require_unicode(value, part)
    return value


def _require_unicode(value: object, part: str) -> None:
    """Reject strings holding a lone surrogate (an escaped ``\\ud800`` is valid JSON but not
    Unicode): they cannot be written as UTF-8, so a denial naming them would vanish from the
    logs. Iterative, because the nesting may be as deep as the size limit allows."""
    pending: list[object] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as err:
                raise MalformedToken(f"{part}: string is not valid Unicode") from err


def _check_header(header: dict[str, Any]) -> None:
    for name in _STRING_HEADERS:
        if name in header and not isinstance(header[name], str):
            raise MalformedToken(f"header {name} is not a string")
    alg = header.get("alg")
    if alg is None:
        raise MalformedToken("header has no alg")
    if alg.lower() == "none":
        raise UnsupportedAlgorithm("none", facts=facts(alg=alg))
    if "crit" in header:
        raise UnsupportedHeader("crit")
    if "enc" in header or "zip" in header:
        raise MalformedToken("jwe header")
    if header.get("cty", "").upper() == "JWT":
        raise UnsupportedHeader("nested jwt")


def _check_payload(payload: dict[str, Any]) -> None:
    for name in _TIME_CLAIMS:
        if name in payload:
            value = payload[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise MalformedToken(f"claim {name} is not a number")
            if not -_MAX_NUMERIC_DATE < value < _MAX_NUMERIC_DATE:
                raise MalformedToken(f"claim {name} is out of range")
    for name in _STRING_CLAIMS:
        if name in payload and not isinstance(payload[name], str):
            raise MalformedToken(f"claim {name} is not a string")
    aud = payload.get("aud")
    if (
        aud is not None
        and not isinstance(aud, str)
        and not (isinstance(aud, list) and all(isinstance(item, str) for item in aud))
    ):
        raise MalformedToken("claim aud is not a string or a list of strings")
