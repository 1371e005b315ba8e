"""DPoP proofs (RFC 9449): the stateless checks a resource server applies to one proof.

A proof is parsed as strictly as a token (:func:`tokens.decompose_unverified`: size cap,
canonical base64url, no duplicate members, typed claims), then: ``typ`` is ``dpop+jwt``; ``alg``
is on the configured asymmetric allow-list; the embedded public ``jwk`` passes the checks an
inline key gets (no private members, no HMAC, RSA of at least 2048 bits, a type that fits
``alg``) and verifies the signature with the same verifiers as key sets (:mod:`jwk`); ``htm`` is
the request's method; ``htu`` the URL the client used, compared after RFC 3986 normalisation;
``iat`` within the window; ``ath`` the hash of the access token. The proof's key thumbprint
(RFC 7638) is returned for the binding check, its ``jti`` for the replay check
(:mod:`binding`, :mod:`replay`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from base64 import urlsafe_b64encode
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from .errors import AuthorizerError, InvalidDpopProof, loggable
from .jwk import Verifier, embedded_key_verifier
from .tokens import decompose_unverified

#: A proof carries one public key and a handful of claims: 8 KiB is several times a proof with
#: an RSA-4096 key, and is checked before any decoding.
MAX_PROOF_BYTES: Final = 8192
_PROOF_TYPES: Final = frozenset({"dpop+jwt", "application/dpop+jwt"})
#: RFC 7638: the required members of each key type, in lexicographic order.
_THUMBPRINT_MEMBERS: Final[Mapping[str, tuple[str, ...]]] = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}
_LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_DEFAULT_PORTS: Final = {"https": 443, "http": 80}
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# RFC 3986 pchar plus "/": unreserved, sub-delims, ":", "@" (and "%" of an escape).
_PATH_CHARS: Final = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_ESCAPE_RE: Final = re.compile(r"%([0-9A-Fa-f]{2})")


@dataclass(frozen=True, slots=True)
class ProofRules:
    """What a proof must satisfy, from the ``dpop`` configuration block."""

    algorithms: frozenset[str]
    max_age_seconds: int
    clock_skew_seconds: int
    #: The client-visible base URLs of the API (custom domains, base-path mappings); empty:
    #: derive the URL from the event.
    htu_base_urls: tuple[str, ...] = ()

    @property
    def algs(self) -> str:
        """The ``algs`` value of a ``WWW-Authenticate: DPoP`` challenge."""
        return " ".join(sorted(self.algorithms))


class ProofKeys:
    """The keys of proofs that verified, by header segment: a client signs every proof with the
    same header (``typ``, ``alg``, ``jwk``), so its key is parsed, checked and thumbprinted once.
    Anyone can make a valid self-signed proof, so this only saves time: bounded, and emptied
    when full; every other check still runs on every proof."""

    __slots__ = ("_keys", "size")

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._keys: dict[str, tuple[dict[str, Any], Verifier, str]] = {}

    def get(self, segment: str) -> dict[str, Any] | None:
        """The decoded header (for :func:`tokens.decompose_unverified`)."""
        known = self._keys.get(segment)
        return known[0] if known is not None else None

    def key(self, segment: str) -> tuple[Verifier, str] | None:
        known = self._keys.get(segment)
        return (known[1], known[2]) if known is not None else None

    def remember(self, segment: str, header: dict[str, Any], verify: Verifier, jkt: str) -> None:
        if len(segment) > MAX_PROOF_BYTES // 2:
            return
        if len(self._keys) >= self.size:
            self._keys.clear()
        self._keys[segment] = (header, verify, jkt)

    def clear(self) -> None:
        self._keys.clear()


@dataclass(frozen=True, slots=True)
class Proof:
    """A proof that passed every stateless check: who holds the key, and its one-time id."""

    jkt: str
    jti: str
    iat: float


def b64url(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK SHA-256 thumbprint, base64url: the value of a bound token's ``cnf.jkt``."""
    members = _THUMBPRINT_MEMBERS[str(jwk["kty"])]
    canonical = json.dumps(
        {name: jwk[name] for name in members}, separators=(",", ":"), ensure_ascii=False
    )
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def access_token_hash(token: str) -> str:
    """``ath``: base64url SHA-256 of the ASCII access token (RFC 9449 section 4.2)."""
    return b64url(hashlib.sha256(token.encode("ascii", "surrogateescape")).digest())


def verify_proof(
    proof: str,
    *,
    rules: ProofRules,
    method: str,
    urls: tuple[str, ...],
    access_token: str,
    now: float,
    keys: ProofKeys | None = None,
) -> Proof:
    """Every stateless RFC 9449 section 4.3 check; raise :class:`InvalidDpopProof` naming the
    first that fails (``detail``: never proof material). ``keys``: proof keys already parsed."""
    try:
        jwt = decompose_unverified(proof, max_bytes=MAX_PROOF_BYTES, known_headers=keys)
    except AuthorizerError as err:
        raise InvalidDpopProof(f"not a well-formed JWS: {err.reason} {err.detail}") from None
    header, payload = jwt.header, jwt.payload
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in _PROOF_TYPES:
        raise InvalidDpopProof("typ is not dpop+jwt")
    alg = jwt.alg
    if alg not in rules.algorithms:
        raise InvalidDpopProof("alg is not in dpop.algorithms")
    known = keys.key(jwt.header_segment) if keys is not None else None
    if known is None:
        jwk = header.get("jwk")
        try:
            verify = embedded_key_verifier(jwk, alg)
        except ValueError as err:  # the problem may quote the proof's kty, crv, use or alg
            raise InvalidDpopProof(loggable(f"jwk: {err}", 160) or "jwk") from None
        if not isinstance(jwk, dict):  # embedded_key_verifier accepted it: never
            raise InvalidDpopProof("jwk is not an object")
        jkt = thumbprint(jwk)
    else:
        verify, jkt = known
    try:
        verified = verify(jwt.signing_input, jwt.signature)
    except Exception:  # a library error on hostile input is a bad signature
        verified = False
    if not verified:
        raise InvalidDpopProof("signature does not verify with the embedded jwk")
    if known is None and keys is not None:
        keys.remember(jwt.header_segment, header, verify, jkt)
    jti = payload.get("jti")
    if not isinstance(jti, str) or not jti:
        raise InvalidDpopProof("jti missing")
    htm, htu, ath = payload.get("htm"), payload.get("htu"), payload.get("ath")
    if not isinstance(htm, str) or htm != method:
        raise InvalidDpopProof("htm is not the request method")
    if not isinstance(htu, str) or not _htu_matches(htu, urls):
        raise InvalidDpopProof("htu is not the request URL")
    iat = payload.get("iat")
    if iat is None:
        raise InvalidDpopProof("iat missing")
    if iat > now + rules.clock_skew_seconds:
        raise InvalidDpopProof("iat is in the future")
    if now - iat > rules.max_age_seconds:
        raise InvalidDpopProof("iat is older than dpop.max_age_seconds")
    if not isinstance(ath, str) or not hmac.compare_digest(
        ath.encode("utf-8", "surrogatepass"), access_token_hash(access_token).encode("ascii")
    ):
        raise InvalidDpopProof("ath is not the hash of the access token")
    return Proof(jkt=jkt, jti=jti, iat=float(iat))


def expected_urls(
    rules: ProofRules, *, host: str | None, path: str | None, api_path: str
) -> tuple[str, ...]:
    """The URLs an ``htu`` may name: each configured base URL followed by the API's path (the
    method ARN's), or else ``https://`` + the event's host + the path the client sent (also
    ``http://`` for a loopback host: the local emulator)."""
    if rules.htu_base_urls:
        return tuple(base.rstrip("/") + api_path for base in rules.htu_base_urls)
    if not host or not path:
        return ()
    urls = [f"https://{host}{path}"]
    hostname = urlsplit(f"https://{host}/").hostname if "/" not in host else None
    if hostname in _LOOPBACK_HOSTS:
        urls.append(f"http://{host}{path}")
    return tuple(urls)


#: Request URLs already normalised: the same few routes come back on every call. Bounded, and
#: emptied when full (a path or Host header is the caller's); :func:`clear_caches`.
_NORMALISED: dict[str, str | None] = {}
_NORMALISED_SIZE: Final = 1024


def _htu_matches(htu: str, urls: tuple[str, ...]) -> bool:
    if not urls:
        raise InvalidDpopProof("the request URL is unknown: set dpop.htu_base_urls")
    claimed = normalise_url(htu)
    return claimed is not None and any(_normalised(url) == claimed for url in urls)


def _normalised(url: str) -> str | None:
    try:
        return _NORMALISED[url]
    except KeyError:
        pass
    if len(_NORMALISED) >= _NORMALISED_SIZE:
        _NORMALISED.clear()
    normal = _NORMALISED[url] = normalise_url(url)
    return normal


def clear_caches() -> None:
    """Forget the normalised request URLs (tests, SnapStart)."""
    _NORMALISED.clear()


def normalise_url(url: str) -> str | None:
    """RFC 3986 section 6.2.2 and 6.2.3 normalisation of an http(s) URL, without query and
    fragment (RFC 9449 compares ``htu`` without them): scheme and host in lower case, the
    default port dropped, percent-encodings in upper case and decoded where they encode an
    unreserved character, characters a path may not hold percent-encoded, dot segments
    removed, an empty path as ``/``. None: not an absolute http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    authority = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        authority += f":{port}"
    return f"{scheme}://{authority}{_normalise_path(parts.path)}"


def _normalise_path(path: str) -> str:
    pieces: list[str] = []
    # split() with a group: text, two hex digits, text, ...
    for index, piece in enumerate(_ESCAPE_RE.split(path)):
        if index % 2:
            char = chr(int(piece, 16))
            pieces.append(char if char in _UNRESERVED else f"%{piece.upper()}")
            continue
        pieces.append(
            "".join(
                char
                if char in _PATH_CHARS
                else "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
                for char in piece
            )
        )
    return _remove_dot_segments("".join(pieces)) or "/"


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4."""
    output: list[str] = []
    for segment in path.split("/")[1:] if path.startswith("/") else path.split("/"):
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    trailing = path.endswith(("/.", "/.."))
    return "/" + "/".join(output) + ("/" if trailing and output else "")
