"""API Gateway's events: what it sends a Lambda authorizer and a Lambda proxy integration.

The one place these shapes are written. The emulator builds every event it sends from what a
client really sent; the fixture generator (``events/``) from fixed, deterministic requests; the
tests from both. Each builder takes the same two inputs:

* :class:`Stage`: where the request arrived (API id, stage, account, region, stage variables);
* :class:`Request`: what the client sent (method, path, headers, query, body, source address)
  and how API Gateway routed it (route template, path parameters, route key, request id, time).

Authorizer events: :func:`token_event` (REST ``TOKEN``), :func:`rest_request_event` (REST
``REQUEST``), :func:`http_authorizer_event_v1` and :func:`http_authorizer_event_v2` (HTTP API
payload formats 1.0 and 2.0); :func:`authorizer_event` picks one by kind. Proxy events, as the
backend receives them: :func:`rest_proxy_event`, :func:`http_proxy_event_v1`,
:func:`http_proxy_event_v2`, with the authorizer's context as :func:`rest_authorizer_context` or
:func:`http_authorizer_context` shape it. The shapes follow AWS's documented examples ("Input to
an API Gateway Lambda authorizer", "Control access to HTTP APIs with Lambda authorizers", the
proxy integration formats); tests/devkit/test_events.py pins their keys against those.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import urlencode

from devkit.constants import ACCOUNT_ID, BIND_HOST, REGION

__all__ = [
    "EVENT_KINDS",
    "SAMPLE_EPOCH_MS",
    "SAMPLE_REQUEST_ID",
    "SAMPLE_SOURCE_IP",
    "SAMPLE_USER_AGENT",
    "EventKind",
    "Request",
    "Stage",
    "authorizer_event",
    "client_request",
    "forwarded_headers",
    "http_authorizer_context",
    "http_authorizer_event_v1",
    "http_authorizer_event_v2",
    "http_proxy_event_v1",
    "http_proxy_event_v2",
    "media_type_matches",
    "request_time",
    "resource_id",
    "rest_authorizer_context",
    "rest_context_value",
    "rest_proxy_event",
    "rest_request_event",
    "token_event",
]

#: The four events a Lambda authorizer receives (the authorizer's own names for them).
EventKind = Literal["token", "request", "http-1.0", "http-2.0"]
EVENT_KINDS: Final[tuple[EventKind, ...]] = ("token", "request", "http-1.0", "http-2.0")

# Defaults of a made-up request: reserved addresses and a fixed time, so events are reproducible.
SAMPLE_SOURCE_IP: Final = "203.0.113.10"  # TEST-NET-3 (RFC 5737)
SAMPLE_USER_AGENT: Final = "curl/8.5.0"
SAMPLE_REQUEST_ID: Final = "c0ffee00-0000-4000-8000-000000000001"
SAMPLE_EPOCH_MS: Final = 1_735_689_600_000  # 2025-01-01T00:00:00Z

_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # fmt: skip
_TEXT_TYPES: Final = (
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
)


@dataclass(frozen=True)
class Stage:
    """One deployed stage of an API: what the ARNs and request contexts name."""

    api_id: str
    name: str  # "v1", "Prod", "$default"...
    account_id: str = ACCOUNT_ID
    region: str = REGION
    partition: str = "aws"
    variables: Mapping[str, str] = field(default_factory=dict)

    @property
    def domain_name(self) -> str:
        """The execute-api host name of the API."""
        return f"{self.api_id}.execute-api.{self.region}.amazonaws.com"

    def arn(self, method: str, path: str) -> str:
        """The method ARN (REST, HTTP 1.0) or route ARN (HTTP 2.0) of a concrete request."""
        return (
            f"arn:{self.partition}:execute-api:{self.region}:{self.account_id}:"
            f"{self.api_id}/{self.name}/{method}{path}"
        )


@dataclass(frozen=True)
class Request:
    """A client request as API Gateway received and routed it."""

    method: str
    #: The path after the stage, e.g. ``/orders/o-1001``.
    path: str
    #: As sent, in order; a name may repeat.
    headers: Sequence[tuple[str, str]] = ()
    #: Query parameters, decoded, in order; a name may repeat.
    query: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    #: The route template API Gateway matched (``/orders/{id}``); None: the path itself.
    resource: str | None = None
    path_parameters: Mapping[str, str] = field(default_factory=dict)
    #: HTTP APIs' route key (``GET /orders``, ``ANY /x``, ``$default``); None: method + resource.
    route_key: str | None = None
    #: The path as sent (an HTTP API on a named stage includes the stage); None: ``path``.
    raw_path: str | None = None
    #: The query string as sent; None: ``query`` encoded.
    raw_query: str | None = None
    source_ip: str = SAMPLE_SOURCE_IP
    protocol: str = "HTTP/1.1"
    #: How the client reached API Gateway (``X-Forwarded-Proto``).
    scheme: str = "https"
    request_id: str = SAMPLE_REQUEST_ID
    epoch_ms: int = SAMPLE_EPOCH_MS
    #: ``clientCert`` of a mutual-TLS connection (``clientCertPem``, names, validity).
    client_cert: Mapping[str, Any] | None = None

    def header(self, name: str) -> str | None:
        """The last value of a header (case-insensitive), like REST's single-value map."""
        values = self.header_values(name)
        return values[-1] if values else None

    def header_values(self, name: str) -> list[str]:
        lower = name.lower()
        return [value for key, value in self.headers if key.lower() == lower]

    @property
    def host(self) -> str:
        return self.header("Host") or BIND_HOST

    @property
    def resource_path(self) -> str:
        return self.resource if self.resource is not None else self.path

    @property
    def http_route_key(self) -> str:
        if self.route_key is not None:
            return self.route_key
        return f"{self.method} {self.resource_path}"

    @property
    def sent_path(self) -> str:
        return self.raw_path if self.raw_path is not None else self.path

    @property
    def query_string(self) -> str:
        return self.raw_query if self.raw_query is not None else urlencode(list(self.query))


def client_request(
    method: str,
    path: str,
    *,
    stage: Stage,
    authorization: str | None = None,
    resource: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    route_key: str | None = None,
    body: str | bytes | None = None,
    headers: Sequence[tuple[str, str]] = (),
    query: Sequence[tuple[str, str]] = (),
    user_agent: str = SAMPLE_USER_AGENT,
    request_id: str = SAMPLE_REQUEST_ID,
    epoch_ms: int = SAMPLE_EPOCH_MS,
    source_ip: str = SAMPLE_SOURCE_IP,
) -> Request:
    """A request as a typical JSON client sends it to ``stage``'s execute-api host."""
    payload = body.encode() if isinstance(body, str) else (body or b"")
    sent: list[tuple[str, str]] = [("Accept", "application/json")]
    if authorization is not None:
        sent.append(("Authorization", authorization))
    if payload:
        sent += [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    sent += [("Host", stage.domain_name), ("User-Agent", user_agent), *headers]
    return Request(
        method=method,
        path=path,
        headers=tuple(sent),
        query=tuple(query),
        body=payload,
        resource=resource,
        path_parameters=dict(path_parameters or {}),
        route_key=route_key,
        source_ip=source_ip,
        request_id=request_id,
        epoch_ms=epoch_ms,
    )


# --------------------------------------------------------------------------------------------
# Pieces shared by several shapes
# --------------------------------------------------------------------------------------------


def request_time(epoch_ms: int) -> str:
    """API Gateway's ``requestTime``: ``01/Jan/2025:00:00:00 +0000``."""
    t = time.gmtime(epoch_ms / 1000)
    return (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def resource_id(text: str) -> str:
    """A stable 6-character id (``resourceId``, ``deploymentId``)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:6]


def forwarded_headers(request: Request) -> list[tuple[str, str]]:
    """The client's headers plus the ones API Gateway adds before the integration."""
    headers = list(request.headers)
    present = {name.lower() for name, _ in headers}
    host = request.host
    default_port = "443" if request.scheme == "https" else "80"
    port = host.rpartition(":")[2] if ":" in host else default_port
    trace = hashlib.sha256(request.request_id.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    for name, value in (
        ("X-Forwarded-For", request.source_ip),
        ("X-Forwarded-Port", port),
        ("X-Forwarded-Proto", request.scheme),
        ("X-Amzn-Trace-Id", f"Root=1-{request.epoch_ms // 1000:08x}-{trace}"),
    ):
        if name.lower() not in present:
            headers.append((name, value))
    return headers


def _single_and_multi(
    pairs: Sequence[tuple[str, str]],
) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def _lower_joined(pairs: Sequence[tuple[str, str]], *, skip: str = "") -> dict[str, str]:
    """Header names lower-cased, repeated headers joined with commas (HTTP APIs)."""
    merged: dict[str, list[str]] = {}
    for name, value in pairs:
        if name.lower() != skip:
            merged.setdefault(name.lower(), []).append(value)
    return {name: ",".join(values) for name, values in merged.items()}


def _is_text_type(content_type: str | None) -> bool:
    if not content_type:
        return True
    media = content_type.split(";")[0].strip().lower()
    return media.startswith("text/") or media in _TEXT_TYPES or media.endswith(("+json", "+xml"))


def media_type_matches(pattern: str, media: str) -> bool:
    """Whether a media type (parameters ignored) matches a pattern like ``image/*``."""
    ptype, _, psub = pattern.strip().lower().partition("/")
    mtype, _, msub = media.split(";")[0].strip().lower().partition("/")
    return ptype in ("*", mtype) and psub in ("*", msub)


def _http_body(request: Request) -> tuple[str | None, bool]:
    """HTTP APIs pass text bodies as text and anything else base64-encoded."""
    if not request.body:
        return None, False
    if _is_text_type(request.header("Content-Type")):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode("ascii"), True


def _identity(request: Request, *, rest: bool) -> dict[str, Any]:
    identity: dict[str, Any] = {
        "accessKey": None,
        "accountId": None,
        "caller": None,
        "cognitoAuthenticationProvider": None,
        "cognitoAuthenticationType": None,
        "cognitoIdentityId": None,
        "cognitoIdentityPoolId": None,
        "principalOrgId": None,
        "sourceIp": request.source_ip,
        "user": None,
        "userAgent": request.header("User-Agent"),
        "userArn": None,
    }
    if rest:
        identity |= {"apiKey": None, "clientCert": request.client_cert}
    return identity


# --------------------------------------------------------------------------------------------
# REST APIs
# --------------------------------------------------------------------------------------------


def token_event(authorization: str, method_arn: str) -> dict[str, Any]:
    """REST ``TOKEN`` authorizer input: the identity header's value and the method ARN only."""
    return {"type": "TOKEN", "authorizationToken": authorization, "methodArn": method_arn}


def _rest_context(stage: Stage, request: Request) -> dict[str, Any]:
    return {
        "resourceId": resource_id(request.resource_path),
        "resourcePath": request.resource_path,
        "httpMethod": request.method,
        "extendedRequestId": request.request_id,
        "requestTime": request_time(request.epoch_ms),
        "path": f"/{stage.name}{request.path}",
        "accountId": stage.account_id,
        "protocol": request.protocol,
        "stage": stage.name,
        "domainPrefix": request.host.split(".")[0],
        "requestTimeEpoch": request.epoch_ms,
        "requestId": request.request_id,
        "identity": _identity(request, rest=True),
        "domainName": request.host,
        "deploymentId": resource_id(stage.api_id),
        "apiId": stage.api_id,
    }


def _rest_shape(stage: Stage, request: Request, *, empty_as_null: bool) -> dict[str, Any]:
    """Fields shared by the REST ``REQUEST`` authorizer event and the REST proxy event."""
    headers, multi_headers = _single_and_multi(forwarded_headers(request))
    query, multi_query = _single_and_multi(request.query)

    def maybe(value: dict[str, Any]) -> dict[str, Any] | None:
        return value if value or not empty_as_null else None

    return {
        "resource": request.resource_path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": maybe(query),
        "multiValueQueryStringParameters": maybe(multi_query),
        "pathParameters": maybe(dict(request.path_parameters)),
        "stageVariables": maybe(dict(stage.variables)),
        "requestContext": _rest_context(stage, request),
    }


def rest_request_event(stage: Stage, request: Request) -> dict[str, Any]:
    """REST ``REQUEST`` authorizer input: the whole request (empty maps as ``{}``)."""
    return {
        "type": "REQUEST",
        "methodArn": stage.arn(request.method, request.path),
        **_rest_shape(stage, request, empty_as_null=False),
    }


def rest_authorizer_context(
    context: Mapping[str, Any], principal_id: str, *, integration_latency: int = 0
) -> dict[str, Any]:
    """``requestContext.authorizer`` of a REST proxy event: numbers and booleans as strings."""
    authorizer: dict[str, Any] = {key: rest_context_value(value) for key, value in context.items()}
    authorizer["principalId"] = principal_id
    authorizer["integrationLatency"] = integration_latency
    return authorizer


def rest_context_value(value: Any) -> Any:
    """How REST API Gateway hands an authorizer context value on: numbers and booleans as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def rest_proxy_event(
    stage: Stage,
    request: Request,
    *,
    authorizer: Mapping[str, Any] | None = None,
    binary_media_types: Sequence[str] = (),
) -> dict[str, Any]:
    """What a REST API's Lambda proxy integration receives (empty maps as ``null``)."""
    event = _rest_shape(stage, request, empty_as_null=True)
    if authorizer is not None:
        event["requestContext"]["authorizer"] = dict(authorizer)
    if not request.body:
        event |= {"body": None, "isBase64Encoded": False}
        return event
    content_type = request.header("Content-Type") or ""
    if any(media_type_matches(media, content_type) for media in binary_media_types):
        event |= {"body": base64.b64encode(request.body).decode("ascii"), "isBase64Encoded": True}
    else:
        event |= {"body": request.body.decode("utf-8", errors="replace"), "isBase64Encoded": False}
    return event


# --------------------------------------------------------------------------------------------
# HTTP APIs
# --------------------------------------------------------------------------------------------


def _http_v1_shape(stage: Stage, request: Request) -> dict[str, Any]:
    """Payload format 1.0: the REST shape with lower-case header names and HTTP API context."""
    forwarded = forwarded_headers(request)
    multi_headers: dict[str, list[str]] = {}
    for name, value in forwarded:
        multi_headers.setdefault(name.lower(), []).append(value)
    query, multi_query = _single_and_multi(request.query)
    route_key = request.http_route_key
    resource = request.path if route_key == "$default" else request.resource_path
    return {
        "resource": resource,
        "path": request.sent_path,
        "httpMethod": request.method,
        "headers": _lower_joined(forwarded),
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(request.path_parameters) or None,
        "stageVariables": dict(stage.variables) or None,
        "requestContext": {
            "accountId": stage.account_id,
            "apiId": stage.api_id,
            "domainName": request.host,
            "domainPrefix": request.host.split(".")[0],
            "extendedRequestId": request.request_id,
            "httpMethod": request.method,
            "identity": _identity(request, rest=False),
            "path": request.sent_path,
            "protocol": request.protocol,
            "requestId": request.request_id,
            "requestTime": request_time(request.epoch_ms),
            "requestTimeEpoch": request.epoch_ms,
            "resourceId": route_key,
            "resourcePath": resource,
            "routeKey": route_key,
            "stage": stage.name,
        },
    }


def _http_v2_shape(stage: Stage, request: Request) -> dict[str, Any]:
    """Payload format 2.0 (the integration's shape; the authorizer's has no body)."""
    route_key = request.http_route_key
    cookies = [
        part.strip()
        for header in request.header_values("Cookie")
        for part in header.split(";")
        if part.strip()
    ]
    query: dict[str, list[str]] = {}
    for name, value in request.query:
        query.setdefault(name, []).append(value)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.sent_path,
        "rawQueryString": request.query_string,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = _lower_joined(forwarded_headers(request), skip="cookie")
    if query:
        event["queryStringParameters"] = {name: ",".join(values) for name, values in query.items()}
    event["requestContext"] = {
        "accountId": stage.account_id,
        "apiId": stage.api_id,
        "domainName": request.host,
        "domainPrefix": request.host.split(".")[0],
        "http": {
            "method": request.method,
            "path": request.sent_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": request.header("User-Agent") or "",
        },
        "requestId": request.request_id,
        "routeKey": route_key,
        "stage": stage.name,
        "time": request_time(request.epoch_ms),
        "timeEpoch": request.epoch_ms,
    }
    if request.client_cert is not None:
        event["requestContext"]["authentication"] = {"clientCert": request.client_cert}
    if request.path_parameters:
        event["pathParameters"] = dict(request.path_parameters)
    if stage.variables:
        event["stageVariables"] = dict(stage.variables)
    return event


def http_authorizer_event_v1(
    stage: Stage, request: Request, identity: Sequence[str] = ()
) -> dict[str, Any]:
    """HTTP API authorizer input, payload 1.0: ``identity`` values joined with commas."""
    joined = ",".join(identity)
    return {
        "version": "1.0",
        "type": "REQUEST",
        "methodArn": stage.arn(request.method, request.path),
        "identitySource": joined,
        "authorizationToken": joined,
        **_http_v1_shape(stage, request),
    }


def http_authorizer_event_v2(
    stage: Stage, request: Request, identity: Sequence[str] | None = None
) -> dict[str, Any]:
    """HTTP API authorizer input, payload 2.0: ``identity`` as a list (None: no sources)."""
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": stage.arn(request.method, request.path),
        "identitySource": list(identity) if identity is not None else None,
        **_http_v2_shape(stage, request),
    }


def http_authorizer_context(context: Any, principal_id: str | None = None) -> dict[str, Any]:
    """``requestContext.authorizer`` of an HTTP API integration: the context as returned
    (JSON types kept) under ``lambda``, plus ``principalId`` for IAM-policy answers."""
    authorizer: dict[str, Any] = {"lambda": context}
    if principal_id is not None:
        authorizer["principalId"] = principal_id
    return authorizer


def _with_body(event: dict[str, Any], request: Request, *, always: bool) -> dict[str, Any]:
    body, encoded = _http_body(request)
    if body is not None or always:
        event["body"] = body
    event["isBase64Encoded"] = encoded
    return event


def http_proxy_event_v1(
    stage: Stage, request: Request, *, authorizer: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What an HTTP API integration with payload format 1.0 receives."""
    event = {"version": "1.0", **_http_v1_shape(stage, request)}
    if authorizer is not None:
        event["requestContext"]["authorizer"] = dict(authorizer)
    return _with_body(event, request, always=True)


def http_proxy_event_v2(
    stage: Stage, request: Request, *, authorizer: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What an HTTP API integration with payload format 2.0 receives."""
    event = _http_v2_shape(stage, request)
    if authorizer is not None:
        event["requestContext"]["authorizer"] = dict(authorizer)
    return _with_body(event, request, always=False)


# --------------------------------------------------------------------------------------------
# Any authorizer event
# --------------------------------------------------------------------------------------------


def authorizer_event(
    kind: EventKind,
    stage: Stage,
    request: Request,
    *,
    identity: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The authorizer event of ``kind`` for ``request``.

    ``identity``: the identity-source values API Gateway found (default: the ``Authorization``
    header, the sources template.yaml's TOKEN and REQUEST authorizers use); a ``TOKEN`` event
    carries the first, or an empty string.
    """
    if identity is None:
        authorization = request.header("Authorization")
        identity = [authorization] if authorization is not None else []
    if kind == "token":
        return token_event(identity[0] if identity else "", stage.arn(request.method, request.path))
    if kind == "request":
        return rest_request_event(stage, request)
    if kind == "http-1.0":
        return http_authorizer_event_v1(stage, request, identity)
    return http_authorizer_event_v2(stage, request, identity)
