"""Hostile inputs and independent instruments for the security suite (``tests/security``).

* token assembly from raw bytes: any header/payload text (duplicate members, bad UTF-8, NaN...),
  any signature bytes, HMAC with alternative encodings of a public key, compact JWE (also
  compressed), self-signed certificates for ``x5c``;
* events of every API Gateway kind (REST TOKEN, REST REQUEST, HTTP payload 1.0 and 2.0);
* instruments that do not trust the code under test: an answer-shape checker, the outcome API
  Gateway would make of an answer (IAM answers evaluated by :mod:`tests.support.iam`), and the
  token material a log line must never hold.

Nothing here uses the authorizer's own code but the :class:`KeysUnavailable` it raises, so a bug
cannot hide in both places. The recording
observer is :mod:`tests.support.observers`, the fetchers :mod:`tests.support.fetchers`.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from jwt_authorizer import KeysUnavailable
from tests.support.constants import HTTP_PREFIX, REST_PREFIX
from tests.support.iam import allows
from tests.support.signing import SigningKey, b64url

Kind = Literal["token", "request", "http-1.0", "http-2.0"]
EVENT_KINDS: Final[tuple[Kind, ...]] = ("token", "request", "http-1.0", "http-2.0")
REQUEST_KINDS: Final[tuple[Kind, ...]] = ("request", "http-1.0", "http-2.0")
_HMAC: Final = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


# --------------------------------------------------------------------------- token assembly


def segment(part: bytes | str | Mapping[str, Any]) -> str:
    """base64url of raw bytes, of text (lone surrogates kept), or of compact JSON."""
    if isinstance(part, Mapping):
        part = json.dumps(part, separators=(",", ":"))
    if isinstance(part, str):
        part = part.encode("utf-8", "surrogatepass")
    return b64url(part)


def jws(
    header: bytes | str | Mapping[str, Any],
    payload: bytes | str | Mapping[str, Any],
    key: SigningKey | None = None,
    *,
    alg: str | None = None,
    signature: bytes | None = None,
) -> str:
    """A compact JWS over exactly these header and payload bytes.

    ``key`` signs the real signing input (with ``alg``, default the key's own); ``signature``
    replaces it with arbitrary bytes.
    """
    signing_input = f"{segment(header)}.{segment(payload)}"
    if signature is None:
        signature = key.sign_bytes(signing_input.encode("ascii"), alg) if key else b""
    return f"{signing_input}.{b64url(signature)}"


def hmac_jws(
    header: Mapping[str, Any], payload: Mapping[str, Any], secret: bytes, alg: str = "HS256"
) -> str:
    """What an algorithm-confusion attacker sends: HMAC keyed with something public."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    mac = hmac.new(secret, signing_input.encode("ascii"), _HMAC[alg]).digest()
    return f"{signing_input}.{b64url(mac)}"


def pem_secret(key: SigningKey) -> bytes:
    return key.public_pem()


def der_secret(key: SigningKey) -> bytes:
    """SubjectPublicKeyInfo DER: the encoding python-jose's CVE-2024-33663 fix does not detect."""
    public = key.private.public_key()
    return bytes(
        public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def pkcs1_der_secret(key: SigningKey) -> bytes:
    public = key.private.public_key()
    return bytes(public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1))


def openssh_secret(key: SigningKey) -> bytes:
    public = key.private.public_key()
    return bytes(
        public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )


def jwk_secret(key: SigningKey) -> bytes:
    """The JWK JSON text exactly as the issuer publishes it."""
    return json.dumps(key.public_jwk(), separators=(",", ":")).encode()


def ecdsa_der_signature(raw: bytes) -> bytes:
    """Re-encode a JOSE ``r || s`` ECDSA signature as ASN.1 DER (the non-JOSE form)."""
    half = len(raw) // 2
    return bytes(
        encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
    )


def rsa_pss_signature(key: SigningKey, signing_input: bytes) -> bytes:
    digest = hashes.SHA256()
    return bytes(
        key.private.sign(
            signing_input,
            padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size),
            digest,
        )
    )


def self_signed_certificate(key: SigningKey, common_name: str = "attacker.example") -> bytes:
    """A DER certificate for ``key`` issued by itself: what an ``x5c`` attacker would embed."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.private.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .sign(key.private, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def jwe_compact(
    plaintext: bytes,
    *,
    compress: bool,
    cek: bytes | None = None,
    extra_header: Mapping[str, Any] | None = None,
) -> str:
    """A real ``dir`` + ``A256GCM`` compact JWE (five parts; the key part is empty for ``dir``).

    With ``compress`` the plaintext is raw DEFLATE (``"zip": "DEF"``): zeros compress about
    1000:1, the shape of the CVE-2024-33664 "JWT bomb".
    """
    header: dict[str, Any] = {"alg": "dir", "enc": "A256GCM"}
    if compress:
        header["zip"] = "DEF"
    header.update(extra_header or {})
    protected = segment(header)
    body = plaintext
    if compress:
        deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
        body = deflate.compress(plaintext) + deflate.flush()
    iv = os.urandom(12)
    sealed = AESGCM(cek or os.urandom(32)).encrypt(iv, body, protected.encode("ascii"))
    ciphertext, tag = sealed[:-16], sealed[-16:]
    return f"{protected}..{b64url(iv)}.{b64url(ciphertext)}.{b64url(tag)}"


def thumbprint(der_certificate: bytes) -> str:
    return b64url(hashlib.sha1(der_certificate).digest())  # noqa: S324 - x5t is SHA-1 by spec


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Route:
    """What the caller calls: method, concrete path, and the template API Gateway matched."""

    method: str = "GET"
    path: str = "/orders"
    template: str | None = None

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.template or self.path}"


ORDERS: Final = Route()


def event_arn(kind: Kind, route: Route = ORDERS) -> str:
    prefix = HTTP_PREFIX if kind in ("http-1.0", "http-2.0") else REST_PREFIX
    return f"{prefix}/{route.method}{route.path}"


def make_event(
    kind: Kind,
    authorization: str | None,
    route: Route = ORDERS,
    *,
    headers: Mapping[str, str] | None = None,
    multi_headers: Mapping[str, list[str]] | None = None,
    query: Mapping[str, list[str]] | None = None,
    cookies: Sequence[str] | None = None,
) -> dict[str, Any]:
    """An event shaped like API Gateway's, carrying ``authorization`` where the kind puts it.

    The shape is devkit.events' (the emulator's and the fixtures'); on top of it, what no real
    request could carry: ``authorization`` None on a TOKEN event, ``headers``/``multi_headers``
    replacing the header maps outright (duplicate-header cases), an empty ``identitySource``.
    ``query`` and ``cookies`` add credentials elsewhere in the request.
    """
    # Imported here: fresh interpreters that load this module for its other helpers (see
    # test_advisories) have only src/authorizer on sys.path, not tools/.
    from devkit import events

    sent = [("Host", "api.example.test"), ("User-Agent", "security-suite")]
    if authorization is not None:
        sent.append(("Authorization", authorization))
    if cookies:
        sent.append(("Cookie", "; ".join(cookies)))
    pairs = [(name, value) for name, values in (query or {}).items() for value in values]
    request = events.Request(
        method=route.method,
        path=route.path,
        headers=tuple(sent),
        query=tuple(pairs),
        raw_query="&".join(f"{name}={value}" for name, value in pairs),
        resource=route.template or route.path,
        route_key=route.route_key,
        source_ip="192.0.2.1",
    )
    http = kind in ("http-1.0", "http-2.0")
    stage = events.Stage(
        api_id="h7t8p9" if http else "a1b2c3d4e5",
        name="$default" if http else "prod",
        region="eu-west-1",
    )
    event = events.authorizer_event(kind, stage, request)
    assert event.get("methodArn", event.get("routeArn")) == event_arn(kind, route)
    if kind == "token":
        event["authorizationToken"] = authorization
        return event
    if kind == "http-2.0":
        event["identitySource"] = [authorization] if authorization else []
        event["cookies"] = list(cookies or [])
    if headers is None and multi_headers is None:
        return event
    single = dict(headers) if headers is not None else {k: v for k, v in sent if k != "Cookie"}
    multi = {key: [value] for key, value in single.items()}
    if multi_headers is not None:
        multi = {key: list(values) for key, values in multi_headers.items()}
    if kind == "http-2.0":
        event["headers"] = {key.lower(): value for key, value in single.items()}
        return event
    if cookies:
        single["Cookie"] = "; ".join(cookies)
        multi["Cookie"] = ["; ".join(cookies)]
    event["headers"], event["multiValueHeaders"] = single, multi
    return event


# --------------------------------------------------------------------------- answers


def grants_anything(answer: Mapping[str, Any]) -> bool:
    """An answer that could let *some* request through (any Allow, or ``isAuthorized`` true)."""
    if "isAuthorized" in answer:
        return answer["isAuthorized"] is not False
    return any(s.get("Effect") != "Deny" for s in answer["policyDocument"]["Statement"])


def answer_problems(answer: object, *, simple: bool) -> list[str]:
    """Everything that would make API Gateway reject the answer (or grant by accident)."""
    if not isinstance(answer, dict):
        return [f"answer is a {type(answer).__name__}, not an object"]
    try:
        json.dumps(answer, allow_nan=False)
    except (TypeError, ValueError) as err:
        return [f"answer is not strict JSON ({type(err).__name__})"]
    problems: list[str] = []
    context = answer.get("context", {})
    if not isinstance(context, dict):
        problems.append("context is not an object")
        context = {}
    if simple:
        if set(answer) != {"isAuthorized", "context"}:
            problems.append(f"simple answer keys {sorted(answer)}")
        if not isinstance(answer.get("isAuthorized"), bool):
            problems.append("isAuthorized is not a JSON boolean")
        return problems
    if not set(answer) <= {"principalId", "policyDocument", "context", "usageIdentifierKey"}:
        problems.append(f"policy answer keys {sorted(answer)}")
    if not isinstance(answer.get("principalId"), str) or not answer.get("principalId"):
        problems.append("principalId missing or empty")
    document = answer.get("policyDocument")
    if not isinstance(document, dict) or set(document) != {"Version", "Statement"}:
        return [*problems, "policyDocument is not {Version, Statement}"]
    if document["Version"] != "2012-10-17":
        problems.append("policy Version")
    statements = document["Statement"]
    if not isinstance(statements, list) or not statements:
        return [*problems, "Statement is not a non-empty list"]
    for statement in statements:
        if not isinstance(statement, dict) or set(statement) != {"Action", "Effect", "Resource"}:
            problems.append(f"statement keys {statement!r:.80}")
            continue
        if statement["Action"] != "execute-api:Invoke":
            problems.append("statement Action")
        if statement["Effect"] not in ("Allow", "Deny"):
            problems.append("statement Effect")
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        if not isinstance(resources, list) or not resources:
            problems.append("statement Resource")
            continue
        for resource in resources:
            if not isinstance(resource, str) or not resource.startswith("arn:"):
                problems.append("resource is not an ARN")
            elif len(resource) > 512:
                problems.append("resource longer than 512 characters")
    for key, value in context.items():
        if isinstance(value, bool | str | int | float):
            continue
        problems.append(f"context {key!r:.40} holds a {type(value).__name__} (REST needs scalars)")
    return problems


@dataclass(frozen=True)
class Outcome:
    """What the client would get: 200 (let through), 401, 403 or 500; -1 means a contract break."""

    status: int
    answer: dict[str, Any] | None = None
    problems: tuple[str, ...] = ()

    @property
    def granted(self) -> bool:
        return self.answer is not None and grants_anything(self.answer)


def invoke(authorizer: Any, event: Any, *, arn: str | None, simple: bool | None) -> Outcome:
    """Call the handler and classify the result the way API Gateway would.

    ``simple`` says whether an answer to this event is read as an HTTP simple response (None:
    judge by the answer's shape, for arbitrary events); ``arn`` is the method/route ARN the IAM
    policy is evaluated against (None: the one the event carries).
    """
    try:
        answer = authorizer(event, None)
    except KeysUnavailable:
        return Outcome(500)
    except Exception as err:
        if type(err) is Exception and err.args == ("Unauthorized",):
            return Outcome(401)
        return Outcome(-1, problems=(f"raised {type(err).__name__} (args {len(err.args)})",))
    if simple is None:
        simple = isinstance(answer, dict) and "isAuthorized" in answer
    problems = tuple(answer_problems(answer, simple=simple))
    if problems:
        return Outcome(-1, answer if isinstance(answer, dict) else None, problems)
    if simple:
        if answer["isAuthorized"] is True:
            return Outcome(200, answer)
        rejected = answer.get("context", {}).get("error") == "invalid_token"
        return Outcome(401 if rejected else 403, answer)
    if arn is None and isinstance(event, Mapping):
        # The ARN API Gateway evaluates: routeArn for payload 2.0, methodArn otherwise.
        candidate = event.get("routeArn" if event.get("version") == "2.0" else "methodArn")
        arn = candidate if isinstance(candidate, str) else None
    if arn is not None and allows(answer, arn):
        return Outcome(200, answer)
    return Outcome(403, answer)


# --------------------------------------------------------------------------- instruments

MIN_SECRET: Final = 16


def secret_fragments(*credentials: str | None) -> set[str]:
    """The token material a log must never contain: each credential, and every dot-, comma- or
    space-separated piece longer than ``MIN_SECRET`` characters (header, payload, signature)."""
    found: set[str] = set()
    for credential in credentials:
        if not credential:
            continue
        stripped = credential.strip()
        if len(stripped) > MIN_SECRET:
            found.add(stripped)
        for word in stripped.replace(",", " ").split():
            for piece in [word, *word.split(".")]:
                if len(piece) > MIN_SECRET and piece.lower() != "bearer":
                    found.add(piece)
    return found


def leaked(lines: Sequence[str], fragments: set[str]) -> list[str]:
    """Fragments that occur in any line (reported by length and position, never verbatim)."""
    hits = []
    for fragment in fragments:
        for number, line in enumerate(lines):
            if fragment in line:
                hits.append(f"{len(fragment)}-character fragment in line {number}")
                break
    return hits
