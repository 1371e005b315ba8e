"""What API Gateway does for one REST API stage (``AWS::Serverless::Api``): identity sources,
``TOKEN``/``REQUEST`` authorizers, result caching, policy evaluation, the Lambda proxy
integration and gateway responses."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from devkit.emulator.cache import AuthorizerCache
from devkit.emulator.common import (
    JSON,
    LOG,
    MSG_EXPLICIT_DENY,
    MSG_IMPLICIT_DENY,
    MSG_MISSING_TOKEN,
    MSG_REST_INTERNAL,
    MSG_UNAUTHORIZED,
    GatewayHost,
    Response,
    concrete_path,
    cors_preflight_headers,
    header_text,
    identity_value,
    json_response,
    make_stage,
    match,
    segments_of,
)
from devkit.events import (
    Request,
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
from devkit.runtime import FunctionError
from devkit.template import RestApiDef, RestAuthorizerDef, RouteDef

__all__ = ["RestGateway"]


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
class RestCall:
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


class RestGateway:
    """What API Gateway does for one REST API stage."""

    kind = "REST"

    def __init__(self, emulator: GatewayHost, api: RestApiDef) -> None:
        self.emu = emulator
        self.api = api
        self.stage = make_stage(emulator, api.api_id, api.stage_name, api.stage_variables)
        self.cache = AuthorizerCache(emulator.clock)

    # -- routing -----------------------------------------------------------------------------

    def _route(self, call: RestCall, segments: list[str]) -> RouteDef | None:
        best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
        for path in {r.path for r in self.api.routes}:
            matched = match(path, segments)
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

    def method_arn(self, call: RestCall) -> str:
        return self.stage.arn(call.request.method, call.path)

    # -- entry point -------------------------------------------------------------------------

    def handle(self, request: Request) -> tuple[Response, str]:
        call = RestCall(request=request, api=self.api, account_id=self.emu.account_id)
        segments = segments_of(request.sent_path)
        if not segments or segments[0] != self.api.stage_name:
            return json_response(
                403, {"message": "Forbidden"}, [("x-amzn-ErrorType", "ForbiddenException")]
            ), "unknown stage"
        segments = segments[1:]
        call.path = concrete_path(segments)
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

    def _authorize(self, call: RestCall, auth: RestAuthorizerDef) -> Response | None:
        req = call.request
        values: list[str] = []
        context_vars = call.context_vars()
        for source in auth.identity_sources:
            value = identity_value(
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

    def _authorizer_error(self, call: RestCall) -> Response:
        """AWS reports AuthorizerConfigurationException; AUTHORIZER_FAILURE is the fallback."""
        return self._gateway(
            call,
            "AUTHORIZER_CONFIGURATION_ERROR",
            None,
            fallbacks=("AUTHORIZER_FAILURE",),
        )

    def _authorizer_event(
        self, call: RestCall, auth: RestAuthorizerDef, values: list[str], method_arn: str
    ) -> dict[str, Any]:
        if auth.payload_type == "TOKEN":
            return token_event(values[0], method_arn)
        return rest_request_event(self.stage, call.routed())

    def proxy_event(self, call: RestCall, integration_latency: int) -> dict[str, Any]:
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

    def _integrate(self, call: RestCall) -> Response:
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

    def _bad_gateway(self, call: RestCall) -> Response:
        return self._gateway(call, "DEFAULT_5XX", MSG_REST_INTERNAL, status=502)

    def _map_result(self, call: RestCall, result: Any) -> Response | None:
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
            headers.extend((str(name), header_text(v)) for v in values)
        multi_names = {k.lower() for k in raw_multi}
        for name, value in raw_headers.items():
            if str(name).lower() not in multi_names:
                headers.append((str(name), header_text(value)))
        payload = (body or "").encode("utf-8")
        if result.get("isBase64Encoded") and body:
            accept = call.request.header("Accept") or ""
            first_accept = accept.split(",")[0]
            if any(media_type_matches(t, first_accept) for t in self.api.binary_media_types):
                try:
                    payload = base64.b64decode(body, validate=True)
                except ValueError:
                    return None
        response = Response(status, headers, payload)
        response.set_default("Content-Type", JSON)
        return response

    def _cors_preflight(self, call: RestCall) -> Response:
        cors = self.api.cors
        assert cors is not None
        methods = sorted({r.method for r in self.api.routes if r.path == call.resource_path})
        if "ANY" in methods:
            methods = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
        origin = call.request.header("Origin") or "*"
        headers = cors_preflight_headers(cors, origin, cors.allow_methods or methods)
        return Response(200, [("Content-Type", JSON), *headers], b"")

    # -- gateway responses -------------------------------------------------------------------

    def _gateway(
        self,
        call: RestCall,
        rtype: str,
        message: str | None,
        *,
        status: int | None = None,
        fallbacks: tuple[str, ...] = (),
    ) -> Response:
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
                content_type = (
                    JSON if JSON in configured.templates else next(iter(configured.templates))
                )
                body_template = configured.templates[content_type]
        body = _TEMPLATE_VAR.sub(
            lambda m: self._template_value(m.group("expr"), variables), body_template
        )
        return Response(status, [("Content-Type", content_type), *headers], body.encode())

    def _template_value(self, expr: str, variables: Mapping[str, str]) -> str:
        head, _, rest = expr.partition(".")
        if head == "stageVariables":
            return self.api.stage_variables.get(rest, "")
        return variables.get(rest, "")

    def _header_expression(
        self, call: RestCall, expr: str, variables: Mapping[str, str]
    ) -> str | None:
        if len(expr) >= 2 and expr[0] == expr[-1] == "'":
            return expr[1:-1]
        req = call.request
        prefixes: dict[str, Callable[[str], str | None]] = {
            "method.request.header.": req.header,
            "method.request.multivalueheader.": lambda n: ",".join(req.header_values(n)) or None,
            "method.request.querystring.": lambda n: next(
                (v for k, v in reversed(req.query) if k == n), None
            ),
            "method.request.path.": call.path_params.get,
            "stageVariables.": self.api.stage_variables.get,
            "context.": variables.get,
        }
        for prefix, lookup in prefixes.items():
            if expr.startswith(prefix):
                return lookup(expr[len(prefix) :])
        LOG.warning("gateway response header expression %r is not emulated", expr)
        return None
