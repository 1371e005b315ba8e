"""Local API Gateway emulator: serves a SAM template's REST and HTTP APIs on 127.0.0.1.

A development and test tool, never deployed. For every request it does what API Gateway does
in front of a Lambda authorizer — identity-source checks, ``identityValidationExpression``,
authorizer invocation with a faithful event, strict parsing of the answer, IAM policy
evaluation against the ``methodArn``/``routeArn``, result caching keyed by the identity
sources (with the cached policy re-evaluated for every new ARN, which is what exposes the
classic "policy scoped to methodArn" caching bug), context stringification, gateway
responses — and then invokes the backend Lambda in-process with a proxy event.

URLs: every API gets its own ``ThreadingHTTPServer`` port; like real execute-api, a REST
API's stage is the first path segment (``url("RestApi") == "http://127.0.0.1:PORT/Prod"``),
an HTTP API on the ``$default`` stage has no stage segment (``http://127.0.0.1:PORT``) and one
on a named stage does (``http://127.0.0.1:PORT/dev``).

Usage::

    with Emulator("template.yaml", functions={"AuthFn": my_handler}) as emu:
        requests.get(emu.url("RestApi") + "/pets", headers={"Authorization": "Bearer x"})

CLI: ``python -m devkit.emulator template.yaml --parameter-overrides K=V ...``.

Choices where AWS is undocumented or the emulator is deliberately simpler:

* HTTP API authorizer raising ``Exception("Unauthorized")``: 401 by default
  (``http_unauthorized_status=500`` for the other reading); AWS does not document it.
* HTTP API ``ReauthorizeEvery`` absent: no caching (``http_default_ttl`` changes that).
* REST authorizer exception/malformed answer: the ``AUTHORIZER_CONFIGURATION_ERROR`` gateway
  response, else ``AUTHORIZER_FAILURE``, else ``DEFAULT_5XX``. A configured ``DEFAULT_4XX``/
  ``DEFAULT_5XX`` is used whole (status included) only for types the template leaves out.
* Non-scalar REST context -> ``API_CONFIGURATION_ERROR`` (500 "Internal server error");
  malformed/failed backend -> 502 via ``DEFAULT_5XX``.
* Payload 2.0 backends get ``requestContext.authorizer.lambda`` = the context as returned
  (``null`` without one) plus ``principalId`` for IAM-policy answers; payload 1.0 HTTP
  integrations get the same ``authorizer`` object (AWS shape UNCONFIRMED).
* Invoke permissions are checked the SAM way: an HTTP API Lambda authorizer without
  ``EnableFunctionDefaultPermissions: true``, ``FunctionInvokeRole`` or an
  ``AWS::Lambda::Permission`` answers 500 without invoking (REST: unless
  ``DisableFunctionDefaultPermissions``).
* Not emulated: Cognito/JWT/IAM authorizers (rejected at load if a route uses them), OpenAPI
  ``DefinitionBody``, API keys/usage plans, resource policies, timeouts, throttling,
  ``$input``/VTL in gateway-response templates. Functions run in-process, one at a time
  (``os.environ`` is process-wide), so a handler must not call back into the emulator.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import dataclasses
import json
import logging
import re
import signal
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Final, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from devkit.constants import ACCOUNT_ID, BIND_HOST, REGION, STACK_NAME
from devkit.events import (
    Request,
    Stage,
    http_authorizer_context,
    http_authorizer_event_v1,
    http_authorizer_event_v2,
    http_proxy_event_v1,
    http_proxy_event_v2,
    media_type_matches,
    request_time,
    resource_id,
    rest_authorizer_context,
    rest_context_value,
    rest_proxy_event,
    rest_request_event,
    token_event,
)
from devkit.iam import (
    AuthorizerAnswer,
    Decision,
    MalformedAnswerError,
    evaluate,
    parse_authorizer_answer,
)
from devkit.runtime import Function, FunctionError, FunctionSpec, Handler, LambdaRuntime
from devkit.template import (
    CorsDef,
    HttpApiDef,
    HttpAuthorizerDef,
    IdentitySource,
    RestApiDef,
    RestAuthorizerDef,
    RouteDef,
    TemplateModel,
    load_template,
)

__all__ = ["Emulator", "FunctionError", "main"]

LOG = logging.getLogger("devkit.emulator")

JSON: Final = "application/json"
MSG_UNAUTHORIZED: Final = "Unauthorized"
MSG_EXPLICIT_DENY: Final = "User is not authorized to access this resource with an explicit deny"
MSG_IMPLICIT_DENY: Final = "User is not authorized to access this resource"
MSG_MISSING_TOKEN: Final = "Missing Authentication Token"  # noqa: S105 - not a secret
MSG_REST_INTERNAL: Final = "Internal server error"
MSG_HTTP_INTERNAL: Final = "Internal Server Error"

# --------------------------------------------------------------------------------------------
# Lambda invocation
# --------------------------------------------------------------------------------------------


class _Invoker:
    """One warm :class:`LambdaRuntime` per function (an execution environment), call counts."""

    def __init__(
        self, model: TemplateModel, overrides: Mapping[str, Handler | LambdaRuntime], region: str
    ) -> None:
        self.model = model
        self.region = region
        self._runtimes: dict[str, LambdaRuntime] = {}
        for function_id, override in overrides.items():
            if isinstance(override, LambdaRuntime):
                self._runtimes[function_id] = override
            else:
                spec: FunctionSpec = model.functions.get(function_id) or Function.named(
                    function_id, region=region
                )
                self._runtimes[function_id] = LambdaRuntime.of_handler(
                    spec, override, region=region
                )
        self._counts: defaultdict[str, int] = defaultdict(int)
        self._events: defaultdict[str, deque[dict[str, Any]]] = defaultdict(
            lambda: deque(maxlen=100)
        )
        self._lock = threading.Lock()

    def count(self, function_id: str) -> int:
        with self._lock:
            return self._counts[function_id]

    def events(self, function_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(e) for e in self._events[function_id]]

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._events.clear()

    def _runtime(self, function_id: str) -> LambdaRuntime:
        with self._lock:
            runtime = self._runtimes.get(function_id)
            if runtime is None:
                function = self.model.functions.get(function_id)
                if function is None:
                    raise FunctionError(
                        "ResourceNotFoundException", f"Function not found: {function_id}"
                    )
                runtime = self._runtimes[function_id] = LambdaRuntime(function, region=self.region)
            return runtime

    def invoke(self, function_id: str, event: dict[str, Any]) -> Any:
        """Invoke in-process; raises :class:`FunctionError` the way Lambda reports errors."""
        runtime = self._runtime(function_id)
        with self._lock:
            self._counts[function_id] += 1
            self._events[function_id].append(json.loads(json.dumps(event)))
        return runtime.invoke(event).result()


# --------------------------------------------------------------------------------------------
# Requests, responses, routing
# --------------------------------------------------------------------------------------------


@dataclass
class _Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def set_default(self, name: str, value: str) -> None:
        if not any(k.lower() == name.lower() for k, _ in self.headers):
            self.headers.append((name, value))


def _json_response(status: int, payload: Any, headers: Sequence[tuple[str, str]] = ()) -> _Response:
    return _Response(
        status, [("Content-Type", JSON), *headers], json.dumps(payload).encode("utf-8")
    )


def _segments(path: str) -> list[str]:
    return [unquote(p) for p in path.split("/") if p]


def _match(pattern: str, segments: list[str]) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """Match a resource path; the rank prefers literal > ``{param}`` > ``{proxy+}`` per segment."""
    parts = [p for p in pattern.split("/") if p]
    ranks: list[int] = []
    params: dict[str, str] = {}
    for index, part in enumerate(parts):
        if part.startswith("{") and part.endswith("+}"):
            rest = segments[index:]
            if index != len(parts) - 1 or not rest:
                return None
            params[part[1:-2]] = "/".join(rest)
            ranks.append(0)
            return tuple(ranks), params
        if index >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = segments[index]
            ranks.append(1)
        elif part == segments[index]:
            ranks.append(2)
        else:
            return None
    if len(parts) != len(segments):
        return None
    return tuple(ranks), params


def _concrete_path(segments: list[str]) -> str:
    return "/" + "/".join(segments)


@dataclass
class _Cache:
    """Authorizer result cache: identity-source values -> (stored at, result)."""

    clock: Callable[[], float]
    entries: dict[tuple[Any, ...], tuple[float, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: tuple[Any, ...], ttl: int) -> Any:
        with self.lock:
            hit = self.entries.get(key)
            if hit is None:
                return None
            if self.clock() - hit[0] >= ttl:
                del self.entries[key]
                return None
            return hit[1]

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        with self.lock:
            self.entries[key] = (self.clock(), value)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


def _identity_value(
    source: IdentitySource,
    request: Request,
    stage_variables: Mapping[str, str],
    context_vars: Mapping[str, str],
    *,
    join_duplicates: bool,
) -> str | None:
    if source.kind == "header":
        values = request.header_values(source.name)
        if not values:
            return None
        return ",".join(values) if join_duplicates else values[-1]
    if source.kind == "querystring":
        found = [v for k, v in request.query if k == source.name]
        if not found:
            return None
        return ",".join(found) if join_duplicates else found[-1]
    if source.kind == "stageVariable":
        return stage_variables.get(source.name)
    value = context_vars.get(source.name)
    if value is None:
        LOG.warning("identity source context.%s is not emulated: treated as missing", source.name)
    return value


def _cors_preflight_headers(
    cors: CorsDef, origin: str, methods: list[str]
) -> list[tuple[str, str]]:
    allow_origin = "*" if "*" in cors.allow_origins else origin
    headers = [("Access-Control-Allow-Origin", allow_origin)]
    if methods:
        headers.append(("Access-Control-Allow-Methods", ",".join(methods)))
    if cors.allow_headers:
        headers.append(("Access-Control-Allow-Headers", ",".join(cors.allow_headers)))
    if cors.max_age is not None:
        headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    return headers


def _stage(
    emulator: Emulator, api_id: str, name: str, variables: Mapping[str, str]
) -> Stage:
    return Stage(
        api_id=api_id,
        name=name,
        account_id=emulator.account_id,
        region=emulator.region,
        partition=emulator.partition,
        variables=dict(variables),
    )


# --------------------------------------------------------------------------------------------
# REST API (v1)
# --------------------------------------------------------------------------------------------

# type -> (default status, x-amzn-ErrorType)
_GATEWAY_TYPES: Final[dict[str, tuple[int, str]]] = {
    "UNAUTHORIZED": (401, "UnauthorizedException"),
    "ACCESS_DENIED": (403, "AccessDeniedException"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "MissingAuthenticationTokenException"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, "AuthorizerConfigurationException"),
    "AUTHORIZER_FAILURE": (500, "AuthorizerFailureException"),
    "API_CONFIGURATION_ERROR": (500, "InternalServerErrorException"),
    "DEFAULT_4XX": (400, "BadRequestException"),
    "DEFAULT_5XX": (502, "InternalServerErrorException"),
}

_TEMPLATE_VAR: Final = re.compile(
    r"\$(?P<brace>\{)?(?P<expr>(?:context|stageVariables)(?:\.[A-Za-z0-9_:\-]+)+)(?(brace)\})"
)


@dataclass
class _RestCall:
    """Per-request state of a REST call, shared by events and gateway responses."""

    request: Request
    api: RestApiDef
    account_id: str
    route: RouteDef | None = None
    resource_path: str = ""
    path: str = "/"
    path_params: dict[str, str] = field(default_factory=dict)
    principal_id: str | None = None
    authorizer_context: Mapping[str, Any] = field(default_factory=dict)
    auth_note: str = "no authorizer"

    def context_vars(self) -> dict[str, str]:
        req = self.request
        values = {
            "requestId": req.request_id,
            "extendedRequestId": req.request_id,
            "stage": self.api.stage_name,
            "apiId": self.api.api_id,
            "accountId": self.account_id,
            "resourcePath": self.resource_path,
            "resourceId": resource_id(self.resource_path),
            "httpMethod": req.method,
            "path": f"/{self.api.stage_name}{self.path}",
            "protocol": req.protocol,
            "domainName": req.host,
            "domainPrefix": req.host.split(".")[0],
            "requestTime": request_time(req.epoch_ms),
            "requestTimeEpoch": str(req.epoch_ms),
            "identity.sourceIp": req.source_ip,
            "identity.userAgent": req.header("User-Agent") or "",
        }
        if self.principal_id is not None:
            values["authorizer.principalId"] = self.principal_id
        for key, value in self.authorizer_context.items():
            text = rest_context_value(value)
            values[f"authorizer.{key}"] = text if isinstance(text, str) else json.dumps(text)
        return values

    def routed(self) -> Request:
        """The request as routed: path after the stage, resource, path parameters."""
        return dataclasses.replace(
            self.request,
            path=self.path,
            resource=self.resource_path,
            path_parameters=dict(self.path_params),
        )


class _RestGateway:
    """What API Gateway does for one REST API stage."""

    kind = "REST"

    def __init__(self, emulator: Emulator, api: RestApiDef) -> None:
        self.emu = emulator
        self.api = api
        self.stage = _stage(emulator, api.api_id, api.stage_name, api.stage_variables)
        self.cache = _Cache(emulator.clock)

    # -- routing -----------------------------------------------------------------------------

    def _route(self, call: _RestCall, segments: list[str]) -> RouteDef | None:
        best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
        for path in {r.path for r in self.api.routes}:
            matched = _match(path, segments)
            if matched and (best is None or matched[0] > best[0]):
                best = (matched[0], path, matched[1])
        if best is None:
            return None
        call.resource_path, call.path_params = best[1], best[2]
        candidates = [r for r in self.api.routes if r.path == best[1]]
        for route in candidates:
            if route.method == call.request.method:
                return route
        for route in candidates:
            if route.method == "ANY":
                return route
        return None

    def method_arn(self, call: _RestCall) -> str:
        return self.stage.arn(call.request.method, call.path)

    # -- entry point -------------------------------------------------------------------------

    def handle(self, request: Request) -> tuple[_Response, str]:
        call = _RestCall(request=request, api=self.api, account_id=self.emu.account_id)
        segments = _segments(request.sent_path)
        if not segments or segments[0] != self.api.stage_name:
            return _json_response(
                403, {"message": "Forbidden"}, [("x-amzn-ErrorType", "ForbiddenException")]
            ), "unknown stage"
        segments = segments[1:]
        call.path = _concrete_path(segments)
        route = self._route(call, segments)
        if route is None:
            return self._gateway(call, "MISSING_AUTHENTICATION_TOKEN", MSG_MISSING_TOKEN), "-"
        call.route = route
        if route.authorizer is not None:
            denied = self._authorize(call, self.api.authorizers[route.authorizer])
            if denied is not None:
                return denied, call.auth_note
        return self._integrate(call), call.auth_note

    # -- authorizer --------------------------------------------------------------------------

    def _authorize(self, call: _RestCall, auth: RestAuthorizerDef) -> _Response | None:
        req = call.request
        values: list[str] = []
        context_vars = call.context_vars()
        for source in auth.identity_sources:
            value = _identity_value(
                source, req, self.api.stage_variables, context_vars, join_duplicates=False
            )
            if not value:
                call.auth_note = f"{auth.name}: missing {source.rest_expression()}, not invoked"
                return self._gateway(call, "UNAUTHORIZED", MSG_UNAUTHORIZED)
            values.append(value)
        expression = auth.validation_expression
        # Java's String.matches(): the whole token must match.
        mismatch = expression is not None and re.fullmatch(expression, values[0]) is None
        if auth.payload_type == "TOKEN" and mismatch:
            call.auth_note = f"{auth.name}: ValidationExpression mismatch, not invoked"
            return self._gateway(call, "UNAUTHORIZED", MSG_UNAUTHORIZED)
        method_arn = self.method_arn(call)
        caching = auth.ttl > 0 and bool(values)
        key = (auth.name, *values)
        answer: AuthorizerAnswer | None = self.cache.get(key, auth.ttl) if caching else None
        if answer is not None:
            call.auth_note = f"{auth.name}: cached"
        else:
            if not auth.invoke_permission:
                LOG.warning("authorizer %s: API Gateway has no permission to invoke it", auth.name)
                call.auth_note = f"{auth.name}: no invoke permission, not invoked"
                return self._authorizer_error(call)
            call.auth_note = f"{auth.name}: invoked"
            event = self._authorizer_event(call, auth, values, method_arn)
            try:
                raw = self.emu.invoker.invoke(auth.function_id, event)
            except FunctionError as exc:
                if exc.message == MSG_UNAUTHORIZED:
                    call.auth_note += " (Unauthorized)"
                    return self._gateway(call, "UNAUTHORIZED", MSG_UNAUTHORIZED)
                LOG.warning("authorizer %s failed: %s", auth.name, exc)
                call.auth_note += f" (error: {exc.error_type})"
                return self._authorizer_error(call)
            try:
                answer = parse_authorizer_answer(raw)
            except MalformedAnswerError as exc:
                LOG.warning("authorizer %s: could not parse policy: %s", auth.name, exc)
                call.auth_note += " (malformed answer)"
                return self._authorizer_error(call)
            if caching:
                self.cache.put(key, answer)
        call.principal_id = answer.principal_id
        call.authorizer_context = answer.context
        decision = evaluate(
            answer.statements,
            method_arn,
            condition_keys={
                "aws:SourceIp": req.source_ip,
                "aws:UserAgent": req.header("User-Agent") or "",
                "aws:SecureTransport": "false",
            },
        )
        if decision is Decision.EXPLICIT_DENY:
            call.auth_note += ", explicit deny"
            return self._gateway(call, "ACCESS_DENIED", MSG_EXPLICIT_DENY)
        if decision is Decision.IMPLICIT_DENY:
            call.auth_note += ", implicit deny"
            return self._gateway(call, "ACCESS_DENIED", MSG_IMPLICIT_DENY)
        call.auth_note += ", allow"
        return None

    def _authorizer_error(self, call: _RestCall) -> _Response:
        """AWS reports AuthorizerConfigurationException; AUTHORIZER_FAILURE is the fallback."""
        return self._gateway(
            call,
            "AUTHORIZER_CONFIGURATION_ERROR",
            None,
            fallbacks=("AUTHORIZER_FAILURE",),
        )

    def _authorizer_event(
        self, call: _RestCall, auth: RestAuthorizerDef, values: list[str], method_arn: str
    ) -> dict[str, Any]:
        if auth.payload_type == "TOKEN":
            return token_event(values[0], method_arn)
        return rest_request_event(self.stage, call.routed())

    def proxy_event(self, call: _RestCall, integration_latency: int) -> dict[str, Any]:
        authorizer = None
        if call.principal_id is not None:
            authorizer = rest_authorizer_context(
                call.authorizer_context,
                call.principal_id,
                integration_latency=integration_latency,
            )
        return rest_proxy_event(
            self.stage,
            call.routed(),
            authorizer=authorizer,
            binary_media_types=self.api.binary_media_types,
        )

    # -- integration -------------------------------------------------------------------------

    def _integrate(self, call: _RestCall) -> _Response:
        route = call.route
        assert route is not None
        if route.function_id is None:
            return self._cors_preflight(call)
        bad = [k for k, v in call.authorizer_context.items() if isinstance(v, (list, dict))]
        if bad:
            # API Gateway cannot put a non-scalar into the String map of the integration
            # request; the backend is never called.
            LOG.warning(
                "authorizer context keys %s are objects/arrays: integration request fails", bad
            )
            call.auth_note += f" (context {bad} not scalar)"
            return self._gateway(call, "API_CONFIGURATION_ERROR", MSG_REST_INTERNAL)
        event = self.proxy_event(call, integration_latency=0)
        try:
            result = self.emu.invoker.invoke(route.function_id, event)
        except FunctionError as exc:
            LOG.warning("backend %s failed: %s", route.function_id, exc)
            return self._bad_gateway(call)
        response = self._map_result(call, result)
        if response is None:
            LOG.warning("backend %s: malformed Lambda proxy response", route.function_id)
            return self._bad_gateway(call)
        return response

    def _bad_gateway(self, call: _RestCall) -> _Response:
        return self._gateway(call, "DEFAULT_5XX", MSG_REST_INTERNAL, status=502)

    def _map_result(self, call: _RestCall, result: Any) -> _Response | None:
        allowed = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
        if not isinstance(result, dict) or set(result) - allowed:
            return None
        status = result.get("statusCode")
        if isinstance(status, str) and status.isdigit():
            status = int(status)
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            return None
        body = result.get("body")
        if body is not None and not isinstance(body, str):
            return None
        raw_headers = result.get("headers") or {}
        raw_multi = result.get("multiValueHeaders") or {}
        if not isinstance(raw_headers, dict) or not isinstance(raw_multi, dict):
            return None
        headers: list[tuple[str, str]] = []
        for name, values in raw_multi.items():
            if not isinstance(values, list):
                return None
            headers.extend((str(name), _header_text(v)) for v in values)
        multi_names = {k.lower() for k in raw_multi}
        for name, value in raw_headers.items():
            if str(name).lower() not in multi_names:
                headers.append((str(name), _header_text(value)))
        payload = (body or "").encode("utf-8")
        if result.get("isBase64Encoded") and body:
            accept = call.request.header("Accept") or ""
            first_accept = accept.split(",")[0]
            if any(media_type_matches(t, first_accept) for t in self.api.binary_media_types):
                try:
                    payload = base64.b64decode(body, validate=True)
                except ValueError:
                    return None
        response = _Response(status, headers, payload)
        response.set_default("Content-Type", JSON)
        return response

    def _cors_preflight(self, call: _RestCall) -> _Response:
        cors = self.api.cors
        assert cors is not None
        methods = sorted({r.method for r in self.api.routes if r.path == call.resource_path})
        if "ANY" in methods:
            methods = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
        origin = call.request.header("Origin") or "*"
        headers = _cors_preflight_headers(cors, origin, cors.allow_methods or methods)
        return _Response(200, [("Content-Type", JSON), *headers], b"")

    # -- gateway responses -------------------------------------------------------------------

    def _gateway(
        self,
        call: _RestCall,
        rtype: str,
        message: str | None,
        *,
        status: int | None = None,
        fallbacks: tuple[str, ...] = (),
    ) -> _Response:
        """Build a gateway response, honouring the template's ``GatewayResponses``."""
        default_status, error_type = _GATEWAY_TYPES[rtype]
        status = status if status is not None else default_status
        configured = None
        default_type = "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
        for candidate in (rtype, *fallbacks, default_type):
            if candidate in self.api.gateway_responses:
                configured = self.api.gateway_responses[candidate]
                break
        variables = call.context_vars()
        variables["error.message"] = message or ""
        variables["error.messageString"] = json.dumps(message)
        variables["error.responseType"] = rtype
        variables["error.validationErrorString"] = ""
        headers: list[tuple[str, str]] = [("x-amzn-ErrorType", error_type)]
        body_template = '{"message":$context.error.messageString}'
        content_type = JSON
        if configured is not None:
            if configured.status_code is not None:
                status = configured.status_code
            for name, expr in configured.headers.items():
                value = self._header_expression(call, expr, variables)
                if value is not None:
                    headers.append((name, value))
            if configured.templates:
                content_type = JSON if JSON in configured.templates else next(
                    iter(configured.templates)
                )
                body_template = configured.templates[content_type]
        body = _TEMPLATE_VAR.sub(lambda m: self._template_value(m.group("expr"), variables),
                                 body_template)
        return _Response(status, [("Content-Type", content_type), *headers], body.encode())

    def _template_value(self, expr: str, variables: Mapping[str, str]) -> str:
        head, _, rest = expr.partition(".")
        if head == "stageVariables":
            return self.api.stage_variables.get(rest, "")
        return variables.get(rest, "")

    def _header_expression(
        self, call: _RestCall, expr: str, variables: Mapping[str, str]
    ) -> str | None:
        if len(expr) >= 2 and expr[0] == expr[-1] == "'":
            return expr[1:-1]
        req = call.request
        prefixes: dict[str, Callable[[str], str | None]] = {
            "method.request.header.": req.header,
            "method.request.multivalueheader.": lambda n: ",".join(req.header_values(n))
            or None,
            "method.request.querystring.": lambda n: next(
                (v for k, v in reversed(req.query) if k == n), None
            ),
            "method.request.path.": call.path_params.get,
            "stageVariables.": self.api.stage_variables.get,
            "context.": variables.get,
        }
        for prefix, lookup in prefixes.items():
            if expr.startswith(prefix):
                return lookup(expr[len(prefix):])
        LOG.warning("gateway response header expression %r is not emulated", expr)
        return None


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------------------------
# HTTP API (v2)
# --------------------------------------------------------------------------------------------


@dataclass
class _HttpAuthResult:
    """A parsed HTTP API authorizer answer (simple or IAM policy) as cached."""

    simple: bool
    authorized: bool = False
    answer: AuthorizerAnswer | None = None
    context: Any = None


@dataclass
class _HttpCall:
    request: Request
    route: RouteDef | None = None
    path: str = "/"
    path_params: dict[str, str] = field(default_factory=dict)
    authorizer_context: Any = None
    authorized_by_lambda: bool = False
    principal_id: str | None = None
    auth_note: str = "no authorizer"

    def routed(self) -> Request:
        """The request as routed: path after the stage, route, path parameters."""
        route = self.route
        return dataclasses.replace(
            self.request,
            path=self.path,
            resource=route.path if route is not None and route.path != "$default" else None,
            route_key=route.route_key if route is not None else "$default",
            path_parameters=dict(self.path_params),
        )


class _HttpGateway:
    """What API Gateway does for one HTTP API stage."""

    kind = "HTTP"

    def __init__(self, emulator: Emulator, api: HttpApiDef) -> None:
        self.emu = emulator
        self.api = api
        self.stage = _stage(emulator, api.api_id, api.stage_name, api.stage_variables)
        self.cache = _Cache(emulator.clock)

    @property
    def stage_prefix(self) -> list[str]:
        return [] if self.api.stage_name == "$default" else [self.api.stage_name]

    def _route(self, call: _HttpCall, segments: list[str]) -> RouteDef | None:
        best: tuple[tuple[tuple[int, ...], int], RouteDef, dict[str, str]] | None = None
        method = call.request.method
        for route in self.api.routes:
            if route.path == "$default" or route.method not in (method, "ANY"):
                continue
            matched = _match(route.path, segments)
            if matched is None:
                continue
            rank = (matched[0], 1 if route.method == method else 0)
            if best is None or rank > best[0]:
                best = (rank, route, matched[1])
        if best is not None:
            call.path_params = best[2]
            return best[1]
        return next((r for r in self.api.routes if r.path == "$default"), None)

    def arn(self, call: _HttpCall) -> str:
        return self.stage.arn(call.request.method, call.path)

    def _error(self, status: int, message: str) -> _Response:
        return _json_response(status, {"message": message})

    def handle(self, request: Request) -> tuple[_Response, str]:
        call = _HttpCall(request=request)
        segments = _segments(request.sent_path)
        prefix = self.stage_prefix
        if segments[: len(prefix)] != prefix:
            return self._finish(call, self._error(404, "Not Found")), "unknown stage"
        segments = segments[len(prefix):]
        call.path = _concrete_path(segments)
        preflight = self._cors_preflight(request)
        if preflight is not None:
            return self._finish(call, preflight), "CORS preflight"
        route = self._route(call, segments)
        if route is None:
            return self._finish(call, self._error(404, "Not Found")), "-"
        call.route = route
        if route.authorizer is not None:
            denied = self._authorize(call, self.api.authorizers[route.authorizer])
            if denied is not None:
                return self._finish(call, denied), call.auth_note
        return self._finish(call, self._integrate(call)), call.auth_note

    def _finish(self, call: _HttpCall, response: _Response) -> _Response:
        response.headers.append(("Apigw-Requestid", call.request.request_id))
        cors = self.api.cors
        origin = call.request.header("Origin")
        allowed = cors is not None and ("*" in cors.allow_origins or origin in cors.allow_origins)
        if cors is not None and origin and allowed:
            response.set_default(
                "Access-Control-Allow-Origin", "*" if "*" in cors.allow_origins else origin
            )
            if cors.allow_credentials:
                response.set_default("Access-Control-Allow-Credentials", "true")
            if cors.expose_headers:
                response.set_default("Access-Control-Expose-Headers", ",".join(cors.expose_headers))
        return response

    def _cors_preflight(self, request: Request) -> _Response | None:
        """HTTP APIs answer CORS preflights themselves, before routes and authorizers."""
        cors = self.api.cors
        origin = request.header("Origin")
        if (
            cors is None
            or request.method != "OPTIONS"
            or not origin
            or not request.header("Access-Control-Request-Method")
        ):
            return None
        if "*" not in cors.allow_origins and origin not in cors.allow_origins:
            return _Response(204, [], b"")
        return _Response(204, _cors_preflight_headers(cors, origin, cors.allow_methods), b"")

    # -- authorizer --------------------------------------------------------------------------

    def _context_vars(self, call: _HttpCall) -> dict[str, str]:
        req = call.request
        route = call.route
        return {
            "routeKey": route.route_key if route else "",
            "httpMethod": req.method,
            "path": req.sent_path,
            "stage": self.api.stage_name,
            "apiId": self.api.api_id,
            "accountId": self.emu.account_id,
            "requestId": req.request_id,
            "domainName": req.host,
            "domainPrefix": req.host.split(".")[0],
            "protocol": req.protocol,
            "requestTime": request_time(req.epoch_ms),
            "requestTimeEpoch": str(req.epoch_ms),
            "identity.sourceIp": req.source_ip,
            "identity.userAgent": req.header("User-Agent") or "",
        }

    def _authorize(self, call: _HttpCall, auth: HttpAuthorizerDef) -> _Response | None:
        values: list[str] = []
        context_vars = self._context_vars(call)
        for source in auth.identity_sources:
            value = _identity_value(
                source, call.request, self.api.stage_variables, context_vars, join_duplicates=True
            )
            if not value:
                call.auth_note = f"{auth.name}: missing {source.http_expression()}, not invoked"
                return self._error(401, MSG_UNAUTHORIZED)
            values.append(value)
        caching = auth.ttl > 0 and bool(values)
        key = (auth.name, *values)
        result: _HttpAuthResult | None = self.cache.get(key, auth.ttl) if caching else None
        if result is not None:
            call.auth_note = f"{auth.name}: cached"
        else:
            if not auth.invoke_permission:
                LOG.warning(
                    "authorizer %s: no invoke permission (EnableFunctionDefaultPermissions: true "
                    "or FunctionInvokeRole missing)",
                    auth.name,
                )
                call.auth_note = f"{auth.name}: no invoke permission, not invoked"
                return self._error(500, MSG_HTTP_INTERNAL)
            call.auth_note = f"{auth.name}: invoked"
            event = self._authorizer_event(call, auth, values)
            try:
                raw = self.emu.invoker.invoke(auth.function_id, event)
            except FunctionError as exc:
                if exc.message == MSG_UNAUTHORIZED:
                    status = self.emu.http_unauthorized_status
                    call.auth_note += f" (Unauthorized -> {status})"
                    return self._error(
                        status, MSG_UNAUTHORIZED if status == 401 else MSG_HTTP_INTERNAL
                    )
                LOG.warning("authorizer %s failed: %s", auth.name, exc)
                call.auth_note += f" (error: {exc.error_type})"
                return self._error(500, MSG_HTTP_INTERNAL)
            result = self._parse(auth, raw)
            if result is None:
                call.auth_note += " (malformed answer)"
                return self._error(500, MSG_HTTP_INTERNAL)
            if caching:
                self.cache.put(key, result)
        if result.simple:
            allowed = result.authorized
            call.authorizer_context = result.context
        else:
            assert result.answer is not None
            decision = evaluate(
                result.answer.statements,
                self.arn(call),
                condition_keys={"aws:SourceIp": call.request.source_ip},
            )
            allowed = decision is Decision.ALLOW
            call.principal_id = result.answer.principal_id
            call.authorizer_context = dict(result.answer.context) or None
        call.authorized_by_lambda = True
        if not allowed:
            call.auth_note += ", denied"
            return self._error(403, "Forbidden")
        call.auth_note += ", allow"
        return None

    @staticmethod
    def _parse(auth: HttpAuthorizerDef, raw: Any) -> _HttpAuthResult | None:
        if auth.simple_responses:
            if not isinstance(raw, dict) or not isinstance(raw.get("isAuthorized"), bool):
                LOG.warning("authorizer %s: isAuthorized is not a boolean: %r", auth.name, raw)
                return None
            context = raw.get("context")
            if context is not None and not isinstance(context, dict):
                LOG.warning("authorizer %s: context is not an object", auth.name)
                return None
            return _HttpAuthResult(simple=True, authorized=raw["isAuthorized"], context=context)
        try:
            return _HttpAuthResult(simple=False, answer=parse_authorizer_answer(raw))
        except MalformedAnswerError as exc:
            LOG.warning("authorizer %s: could not parse policy: %s", auth.name, exc)
            return None

    def _authorizer_event(
        self, call: _HttpCall, auth: HttpAuthorizerDef, values: list[str]
    ) -> dict[str, Any]:
        if auth.payload_version == "2.0":
            return http_authorizer_event_v2(self.stage, call.routed(), values or None)
        return http_authorizer_event_v1(self.stage, call.routed(), values)

    # -- integration -------------------------------------------------------------------------

    def _integrate(self, call: _HttpCall) -> _Response:
        route = call.route
        assert route is not None
        assert route.function_id is not None
        authorizer = None
        if call.authorized_by_lambda:
            authorizer = http_authorizer_context(call.authorizer_context, call.principal_id)
        if route.payload_version == "1.0":
            event = http_proxy_event_v1(self.stage, call.routed(), authorizer=authorizer)
        else:
            event = http_proxy_event_v2(self.stage, call.routed(), authorizer=authorizer)
        try:
            result = self.emu.invoker.invoke(route.function_id, event)
        except FunctionError as exc:
            LOG.warning("backend %s failed: %s", route.function_id, exc)
            return self._error(500, MSG_HTTP_INTERNAL)
        response = (
            self._map_v1(result) if route.payload_version == "1.0" else self._map_v2(result)
        )
        if response is None:
            LOG.warning("backend %s: malformed response %r", route.function_id, result)
            return self._error(500, MSG_HTTP_INTERNAL)
        return response

    @staticmethod
    def _status(result: Mapping[str, Any]) -> int | None:
        status = result.get("statusCode")
        if isinstance(status, str) and status.isdigit():
            status = int(status)
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            return None
        return status

    @staticmethod
    def _payload(result: Mapping[str, Any]) -> bytes | None:
        body = result.get("body")
        if body is None:
            return b""
        if not isinstance(body, str):
            return None
        if result.get("isBase64Encoded"):
            try:
                return base64.b64decode(body, validate=True)
            except ValueError:
                return None
        return body.encode("utf-8")

    def _map_v2(self, result: Any) -> _Response | None:
        if not (isinstance(result, dict) and "statusCode" in result):
            # Valid JSON without statusCode: 200, application/json, the JSON as the body.
            return _Response(200, [("Content-Type", JSON)], json.dumps(result).encode())
        status = self._status(result)
        payload = self._payload(result)
        raw_headers = result.get("headers") or {}
        cookies = result.get("cookies") or []
        if status is None or payload is None or not isinstance(raw_headers, dict):
            return None
        if not isinstance(cookies, list):
            return None
        headers = [(str(k), _header_text(v)) for k, v in raw_headers.items()]
        headers.extend(("Set-Cookie", str(c)) for c in cookies)
        response = _Response(status, headers, payload)
        response.set_default("Content-Type", "text/plain; charset=utf-8")
        return response

    def _map_v1(self, result: Any) -> _Response | None:
        if not isinstance(result, dict):
            return None
        status = self._status(result)
        payload = self._payload(result)
        raw_headers = result.get("headers") or {}
        raw_multi = result.get("multiValueHeaders") or {}
        if status is None or payload is None:
            return None
        if not isinstance(raw_headers, dict) or not isinstance(raw_multi, dict):
            return None
        headers = [(str(k), _header_text(v)) for k, v in raw_headers.items()]
        for name, values in raw_multi.items():
            if isinstance(values, list):
                headers.extend((str(name), _header_text(v)) for v in values)
        response = _Response(status, headers, payload)
        response.set_default("Content-Type", JSON)
        return response


# --------------------------------------------------------------------------------------------
# HTTP server plumbing
# --------------------------------------------------------------------------------------------

_Gateway = _RestGateway | _HttpGateway


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, port: int, gateway: _Gateway) -> None:
        self.gateway = gateway
        super().__init__((BIND_HOST, port), _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and
    # delayed ACKs add ~40 ms to keep-alive requests.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        server = cast(_Server, self.server)
        gateway = server.gateway
        started = time.perf_counter()
        split = urlsplit(self.path)
        try:
            body = self._read_body()
        except ValueError:
            self.send_error(400, "Bad request body")
            return
        raw_path = split.path or "/"
        request = Request(
            method=self.command.upper(),
            path=raw_path,
            raw_path=raw_path,
            raw_query=split.query,
            headers=tuple(self.headers.items()),
            query=tuple(parse_qsl(split.query, keep_blank_values=True)),
            body=body,
            source_ip=self.client_address[0],
            protocol=self.request_version,
            scheme="http",
            request_id=str(uuid.uuid4()),
            epoch_ms=int(time.time() * 1000),
        )
        try:
            response, note = gateway.handle(request)
        except Exception:
            LOG.exception("emulator bug while handling %s %s", request.method, self.path)
            response, note = _json_response(500, {"message": "emulator error"}), "emulator error"
        if gateway.kind == "REST":
            response.set_default("x-amzn-RequestId", request.request_id)
        LOG.info(
            "%s %s %s -> %d [%s] %.1f ms",
            gateway.api.logical_id,
            request.method,
            self.path,
            response.status,
            note,
            (time.perf_counter() - started) * 1000,
        )
        self._write(request, response)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _write(self, request: Request, response: _Response) -> None:
        self.send_response_only(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if request.method != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s - %s", self.address_string(), format % args)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


class Emulator:
    """Serve a SAM template's APIs locally; see the module docstring for URLs and usage.

    ``functions`` maps a function's logical id (or, for an authorizer whose ``FunctionArn``
    points outside the template, that ARN) to a handler used instead of importing the
    template's ``Handler`` from ``CodeUri``. ``http_unauthorized_status`` is what an HTTP API
    answers when its authorizer raises ``Exception("Unauthorized")`` (401 or 500: AWS does not
    document it). ``clock`` drives authorizer-cache expiry so tests can move time.
    """

    def __init__(
        self,
        template_path: str | Path,
        *,
        parameter_overrides: Mapping[str, str] | None = None,
        functions: Mapping[str, Handler | LambdaRuntime] | None = None,
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        http_unauthorized_status: int = 401,
        clock: Callable[[], float] = time.monotonic,
        stack_name: str = STACK_NAME,
        ports: Mapping[str, int] | None = None,
        http_default_ttl: int = 0,
    ) -> None:
        if http_unauthorized_status not in (401, 500):
            raise ValueError("http_unauthorized_status must be 401 or 500")
        self.model: TemplateModel = load_template(
            template_path,
            parameter_overrides=parameter_overrides,
            region=region,
            account_id=account_id,
            stack_name=stack_name,
            http_default_ttl=http_default_ttl,
        )
        self.region = region
        self.account_id = account_id
        self.partition = self.model.intrinsics.partition
        self.http_unauthorized_status = http_unauthorized_status
        self.clock = clock
        overrides = dict(functions or {})
        referenced = set(self.model.functions)
        for rest_api in self.model.rest_apis.values():
            referenced.update(a.function_id for a in rest_api.authorizers.values())
        for http_api in self.model.http_apis.values():
            referenced.update(a.function_id for a in http_api.authorizers.values())
        unknown = sorted(set(overrides) - referenced)
        if unknown:
            raise ValueError(f"functions= names no function of the template: {unknown}")
        self.invoker = _Invoker(self.model, overrides, region)
        self._gateways: dict[str, _Gateway] = {}
        for rest in self.model.rest_apis.values():
            self._gateways[rest.logical_id] = _RestGateway(self, rest)
        for http in self.model.http_apis.values():
            self._gateways[http.logical_id] = _HttpGateway(self, http)
        self._ports = dict(ports or {})
        self._servers: dict[str, _Server] = {}
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind one 127.0.0.1 port per API (ephemeral unless ``ports`` says otherwise)."""
        if self._servers:
            return self
        try:
            for logical_id, gateway in self._gateways.items():
                server = _Server(self._ports.get(logical_id, 0), gateway)
                self._servers[logical_id] = server
                thread = threading.Thread(
                    target=server.serve_forever,
                    kwargs={"poll_interval": 0.05},
                    name=f"apigw-{logical_id}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)
        except BaseException:
            self.stop()
            raise
        for logical_id in self._servers:
            LOG.info("%s serving at %s", logical_id, self.url(logical_id))
        return self

    def stop(self) -> None:
        # shutdown() blocks for up to one poll interval: stop all servers concurrently.
        stoppers = [threading.Thread(target=s.shutdown) for s in self._servers.values()]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join(timeout=5)
        for server in self._servers.values():
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- introspection -----------------------------------------------------------------------

    @property
    def api_ids(self) -> list[str]:
        """Logical ids of the served APIs."""
        return list(self._gateways)

    def port(self, api_logical_id: str) -> int:
        if api_logical_id not in self._servers:
            raise KeyError(f"{api_logical_id} is not a served API (or the emulator is stopped)")
        return int(self._servers[api_logical_id].server_address[1])

    def url(self, api_logical_id: str) -> str:
        """Base URL of an API's stage, without a trailing slash."""
        base = f"http://{BIND_HOST}:{self.port(api_logical_id)}"
        gateway = self._gateways[api_logical_id]
        stage = gateway.api.stage_name
        if isinstance(gateway, _HttpGateway) and stage == "$default":
            return base
        return f"{base}/{stage}"

    def api_id(self, api_logical_id: str) -> str:
        """The fake execute-api id used in ARNs (stable per stack name and logical id)."""
        return self._gateways[api_logical_id].api.api_id

    def flush_authorizer_cache(self, api_logical_id: str | None = None) -> None:
        """Like FlushStageAuthorizersCache / ResetAuthorizersCache (all APIs if None)."""
        for logical_id, gateway in self._gateways.items():
            if api_logical_id in (None, logical_id):
                gateway.cache.clear()

    def invocation_count(self, logical_id: str) -> int:
        """How often a function (authorizer or backend) was invoked."""
        return self.invoker.count(logical_id)

    def invocation_events(self, logical_id: str) -> list[dict[str, Any]]:
        """The last (up to 100) events a function was invoked with, oldest first."""
        return self.invoker.events(logical_id)

    def reset_invocations(self) -> None:
        self.invoker.reset()


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def _pairs(values: Sequence[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"{what}: expected KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m devkit.emulator template.yaml [--parameter-overrides K=V ...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m devkit.emulator",
        description="Serve a SAM template's REST/HTTP APIs on 127.0.0.1 (local emulator).",
    )
    parser.add_argument("template", type=Path)
    parser.add_argument("--parameter-overrides", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument("--port", nargs="+", default=[], metavar="API=PORT",
                        help="fixed port per API logical id (default: ephemeral)")
    parser.add_argument("--region", default=REGION)
    parser.add_argument("--account-id", default=ACCOUNT_ID)
    parser.add_argument("--http-unauthorized-status", type=int, choices=(401, 500), default=401)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(message)s")
    emulator = Emulator(
        args.template,
        parameter_overrides=_pairs(args.parameter_overrides, "--parameter-overrides"),
        region=args.region,
        account_id=args.account_id,
        http_unauthorized_status=args.http_unauthorized_status,
        ports={k: int(v) for k, v in _pairs(args.port, "--port").items()},
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with emulator:
        for logical_id in emulator.api_ids:
            print(f"{logical_id}: {emulator.url(logical_id)}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
