"""Read an API Gateway authorizer event: which kind it is, what is called, and the credential.

Powertools' authorizer data classes are deliberately not used here: importing them loads every
event data class (about 120 ms of cold start), and their ARN parser truncates paths containing
a colon. This module reads the few fields we need, defensively: every value is untrusted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from .errors import MalformedRequest, MalformedToken, MissingToken

EventKind = Literal["token", "request", "http-1.0", "http-2.0"]
_BEARER_RE: Final = re.compile(r"^[Bb][Ee][Aa][Rr][Ee][Rr][ \t]+(\S+)$")
# With sender-constrained tokens configured, RFC 9449's scheme too (schemes are case-insensitive).
_SCHEME_RE: Final = re.compile(r"^(Bearer|DPoP)[ \t]+(\S+)$", re.IGNORECASE)
#: What never appears in an API Gateway ARN prefix (region, account, API id, stage) or method:
#: a wildcard, a slash, a space, or an IAM policy variable.
_UNSAFE_IN_PREFIX: Final = re.compile(r"[*?/ ]|\$\{")


@dataclass(frozen=True, slots=True)
class TokenSource:
    """Where a REQUEST-type event carries the token."""

    kind: Literal["header", "query", "cookie"]
    name: str


@dataclass(frozen=True, slots=True)
class MethodArn:
    """``arn:{partition}:execute-api:{region}:{account}:{api}/{stage}/{VERB}/{path}``.

    Split on the first five colons only: a path may itself contain colons. The path keeps
    every character as API Gateway sent it (``//``, a trailing ``/``, ``*``, percent escapes).
    """

    partition: str
    region: str
    account: str
    api_id: str
    stage: str
    method: str
    path: str

    @classmethod
    def parse(cls, arn: str) -> MethodArn:
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "execute-api":
            raise ValueError("not an execute-api ARN")
        api_parts = parts[5].split("/", 3)
        if len(api_parts) < 3 or not all(api_parts[:3]):
            raise ValueError("execute-api ARN lacks api id, stage or method")
        fixed = (parts[1], parts[3], parts[4], api_parts[0], api_parts[1], api_parts[2])
        if any(_UNSAFE_IN_PREFIX.search(value) for value in fixed):
            raise ValueError("execute-api ARN has a wildcard in its prefix or method")
        path = "/" + (api_parts[3] if len(api_parts) == 4 else "")
        return cls(
            partition=parts[1],
            region=parts[3],
            account=parts[4],
            api_id=api_parts[0],
            stage=api_parts[1],
            method=api_parts[2],
            path=path,
        )

    @property
    def prefix(self) -> str:
        return (
            f"arn:{self.partition}:execute-api:{self.region}:{self.account}:"
            f"{self.api_id}/{self.stage}"
        )

    def resource(self, method_and_path: str) -> str:
        return f"{self.prefix}/{method_and_path}"


@dataclass(frozen=True, slots=True)
class SenderFacts:
    """What a sender-constrained token is checked against; read only when an issuer enables
    DPoP or certificate binding. Every value is what API Gateway passed on, still untrusted.

    ``host`` is ``requestContext.domainName`` (else the ``Host`` header) and ``path`` the path
    the client sent (REST and HTTP 1.0 ``requestContext.path``, HTTP 2.0 ``rawPath``): the URL
    a DPoP proof's ``htu`` names, unless the configuration gives the base URLs."""

    dpop_proofs: tuple[str, ...] = ()
    client_cert_pem: str | None = None
    host: str | None = None
    path: str | None = None


@dataclass(frozen=True, slots=True)
class AuthorizerRequest:
    """The facts of one authorizer call; ``token`` is the raw credential, still untrusted.

    Decisions use ``arn.method`` and ``arn.path`` for every event type; ``route_key`` (the
    route API Gateway matched, when the event names one) only shapes HTTP simple answers and
    the logs.
    """

    kind: EventKind
    arn: MethodArn
    route_key: str | None
    token: str | None
    token_problem: str | None = None
    #: ``Bearer``, or ``DPoP`` (only when sender-constrained tokens are configured).
    scheme: str = "Bearer"
    sender: SenderFacts | None = None

    @property
    def route(self) -> str:
        return f"{self.arn.method} {self.arn.path}"


#: Method ARNs already parsed (a MethodArn is immutable): the same few routes come back on every
#: call. Bounded in entries, and only short ARNs are kept (the path is the caller's).
_PARSED_ARNS: dict[str, MethodArn] = {}
_ARN_MEMO_SIZE: Final = 1024
_ARN_MEMO_LENGTH: Final = 320


def clear_caches() -> None:
    """Forget every parsed method ARN."""
    _PARSED_ARNS.clear()


def read_event(
    event: object,
    *,
    token_sources: tuple[TokenSource, ...],
    allow_bare_token: bool,
    sender_constrained: bool = False,
) -> AuthorizerRequest:
    """Classify the event and extract route facts; never raises for a missing token.

    ``sender_constrained``: an issuer enables DPoP or certificate binding, so the ``DPoP``
    scheme is read too and the :class:`SenderFacts` are filled in."""
    if type(event) is not dict and not isinstance(event, Mapping):
        raise MalformedRequest("event is not an object")
    kind = _kind(event)
    arn_text = event.get("routeArn" if kind == "http-2.0" else "methodArn")
    if not isinstance(arn_text, str):
        raise MalformedRequest("event has no method or route ARN")
    arn = _PARSED_ARNS.get(arn_text)
    if arn is None:
        try:
            arn = MethodArn.parse(arn_text)
        except ValueError as err:
            raise MalformedRequest(str(err)) from err
        if len(arn_text) <= _ARN_MEMO_LENGTH:
            if len(_PARSED_ARNS) >= _ARN_MEMO_SIZE:
                _PARSED_ARNS.clear()
            _PARSED_ARNS[arn_text] = arn
    token, problem, scheme = _credential(
        event, kind, token_sources, allow_bare_token, sender_constrained
    )
    return AuthorizerRequest(
        kind=kind,
        arn=arn,
        route_key=_route_key(event, kind),
        token=token,
        token_problem=problem,
        scheme=scheme,
        sender=_sender_facts(event, kind) if sender_constrained else None,
    )


def require_token(request: AuthorizerRequest) -> str:
    """The bearer token, or the reason there is none."""
    if request.token_problem is not None:
        raise MalformedToken(request.token_problem)
    if not request.token:
        raise MissingToken()
    return request.token


def _kind(event: Mapping[str, Any]) -> EventKind:
    version = event.get("version")
    if version == "2.0":
        return "http-2.0"
    if version == "1.0":
        return "http-1.0"
    event_type = event.get("type")
    if event_type == "TOKEN":
        return "token"
    if event_type == "REQUEST":
        return "request"
    raise MalformedRequest("unknown event type")


def _route_key(event: Mapping[str, Any], kind: EventKind) -> str | None:
    """The route API Gateway matched, as ``METHOD /template`` or ``$default`` (None: unknown)."""
    if kind == "token":
        return None
    if kind == "http-2.0":
        key = event.get("routeKey")
    elif kind == "http-1.0":
        context = event.get("requestContext")
        key = context.get("routeKey") if isinstance(context, Mapping) else None
    else:
        method, resource = event.get("httpMethod"), event.get("resource")
        key = (
            f"{method} {resource}"
            if isinstance(method, str) and isinstance(resource, str)
            else None
        )
    if not isinstance(key, str):
        return None
    if key == "$default":
        return key
    method, _, template = key.partition(" ")
    if not method or not template.startswith("/") or " " in template:
        return None
    return key


def _credential(
    event: Mapping[str, Any],
    kind: EventKind,
    token_sources: tuple[TokenSource, ...],
    allow_bare_token: bool,
    dpop: bool,
) -> tuple[str | None, str | None, str]:
    if kind == "token":
        return _bearer(event.get("authorizationToken"), allow_bare_token, dpop)
    for source in token_sources:
        values = _values(event, kind, source)
        if not values:
            continue
        if len(values) > 1:
            return None, f"more than one {source.kind} {source.name}", "Bearer"
        if source.kind == "header":
            return _bearer(values[0], allow_bare_token, dpop)
        return (values[0].strip() or None), None, "Bearer"
    return None, None, "Bearer"


def _bearer(value: object, allow_bare: bool, dpop: bool) -> tuple[str | None, str | None, str]:
    if not isinstance(value, str) or not value.strip():
        return None, None, "Bearer"
    text = value.strip()
    if dpop:
        scheme = _SCHEME_RE.match(text)
        if scheme:
            name = "DPoP" if scheme.group(1).lower() == "dpop" else "Bearer"
            return scheme.group(2), None, name
    match = _BEARER_RE.match(text)
    if match:
        return match.group(1), None, "Bearer"
    if "," in text:
        return None, "more than one credential in the header", "Bearer"
    if allow_bare and not any(char.isspace() for char in text):
        return text, None, "Bearer"
    return None, "not a Bearer credential", "Bearer"


def _sender_facts(event: Mapping[str, Any], kind: EventKind) -> SenderFacts:
    """The DPoP headers, the client certificate and the URL the client used (not TOKEN events,
    which carry one header and nothing else)."""
    if kind == "token":
        return SenderFacts()
    proofs: list[str] = []
    for value in _lookup(event, "headers", "multiValueHeaders", "DPoP", folded=True):
        # HTTP APIs join repeated headers with commas; a compact JWS never holds one.
        proofs.extend(part.strip() for part in value.split(","))
    context = event.get("requestContext")
    context = context if isinstance(context, Mapping) else {}
    host = context.get("domainName")
    if not isinstance(host, str) or not host:
        hosts = _lookup(event, "headers", "multiValueHeaders", "Host", folded=True)
        host = hosts[0] if len(hosts) == 1 else None
    path = event.get("rawPath") if kind == "http-2.0" else context.get("path")
    return SenderFacts(
        dpop_proofs=tuple(proofs),
        client_cert_pem=_client_cert(context, kind),
        host=host,
        path=path if isinstance(path, str) and path.startswith("/") else None,
    )


def _client_cert(context: Mapping[str, Any], kind: EventKind) -> str | None:
    """REST (and, as observed for the REST-compatible 1.0 shape, HTTP 1.0):
    ``requestContext.identity.clientCert``; HTTP 2.0: ``requestContext.authentication``."""
    holders = ("authentication",) if kind == "http-2.0" else ("identity", "authentication")
    for holder in holders:
        parent = context.get(holder)
        cert = parent.get("clientCert") if isinstance(parent, Mapping) else None
        pem = cert.get("clientCertPem") if isinstance(cert, Mapping) else None
        if isinstance(pem, str) and pem.strip():
            return pem
    return None


def _values(event: Mapping[str, Any], kind: EventKind, source: TokenSource) -> list[str]:
    """Every value the request carries for ``source`` (several means an ambiguous request)."""
    if source.kind == "header":
        return _lookup(event, "headers", "multiValueHeaders", source.name, folded=True)
    if source.kind == "query":
        return _lookup(
            event,
            "queryStringParameters",
            "multiValueQueryStringParameters",
            source.name,
            folded=False,
        )
    return _cookies(event, kind, source.name)


def _lookup(
    event: Mapping[str, Any], single: str, multi: str, name: str, *, folded: bool
) -> list[str]:
    wanted = name.lower() if folded else name

    def same(key: object) -> bool:
        return isinstance(key, str) and (key.lower() if folded else key) == wanted

    found: list[str] = []
    many = event.get(multi)
    if isinstance(many, Mapping):
        for key, values in many.items():
            if same(key) and isinstance(values, list):
                found.extend(value for value in values if isinstance(value, str))
    if found:
        return found
    one = event.get(single)
    if isinstance(one, Mapping):
        found.extend(value for key, value in one.items() if same(key) and isinstance(value, str))
    return found


def _cookies(event: Mapping[str, Any], kind: EventKind, name: str) -> list[str]:
    jar: list[str] = []
    cookies = event.get("cookies")
    if kind == "http-2.0" and isinstance(cookies, list):
        jar = [item for item in cookies if isinstance(item, str)]
    else:
        for header in _lookup(event, "headers", "multiValueHeaders", "cookie", folded=True):
            jar.extend(part.strip() for part in header.split(";"))
    prefix = f"{name}="
    return [item[len(prefix) :] for item in jar if item.startswith(prefix)]
