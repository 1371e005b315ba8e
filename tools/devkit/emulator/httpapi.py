"""What API Gateway does for one HTTP API stage (``AWS::Serverless::HttpApi``): CORS
preflights, Lambda authorizers (simple or IAM answers), result caching and integrations with
payload format 1.0 or 2.0."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from devkit.emulator.cache import AuthorizerCache
from devkit.emulator.common import (
    JSON,
    LOG,
    MSG_HTTP_INTERNAL,
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
    http_authorizer_context,
    http_authorizer_event_v1,
    http_authorizer_event_v2,
    http_proxy_event_v1,
    http_proxy_event_v2,
    request_time,
)
from devkit.iam import (
    AuthorizerAnswer,
    Decision,
    MalformedAnswerError,
    evaluate,
    parse_authorizer_answer,
)
from devkit.runtime import FunctionError
from devkit.template import HttpApiDef, HttpAuthorizerDef, RouteDef

__all__ = ["HttpGateway"]


@dataclass
class HttpAuthResult:
    """A parsed HTTP API authorizer answer (simple or IAM policy) as cached."""

    simple: bool
    authorized: bool = False
    answer: AuthorizerAnswer | None = None
    context: Any = None


@dataclass
class HttpCall:
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


class HttpGateway:
    """What API Gateway does for one HTTP API stage."""

    kind = "HTTP"

    def __init__(self, emulator: GatewayHost, api: HttpApiDef) -> None:
        self.emu = emulator
        self.api = api
        self.stage = make_stage(emulator, api.api_id, api.stage_name, api.stage_variables)
        self.cache = AuthorizerCache(emulator.clock)

    @property
    def stage_prefix(self) -> list[str]:
        return [] if self.api.stage_name == "$default" else [self.api.stage_name]

    def _route(self, call: HttpCall, segments: list[str]) -> RouteDef | None:
        best: tuple[tuple[tuple[int, ...], int], RouteDef, dict[str, str]] | None = None
        method = call.request.method
        for route in self.api.routes:
            if route.path == "$default" or route.method not in (method, "ANY"):
                continue
            matched = match(route.path, segments)
            if matched is None:
                continue
            rank = (matched[0], 1 if route.method == method else 0)
            if best is None or rank > best[0]:
                best = (rank, route, matched[1])
        if best is not None:
            call.path_params = best[2]
            return best[1]
        return next((r for r in self.api.routes if r.path == "$default"), None)

    def arn(self, call: HttpCall) -> str:
        return self.stage.arn(call.request.method, call.path)

    def _error(self, status: int, message: str) -> Response:
        return json_response(status, {"message": message})

    def handle(self, request: Request) -> tuple[Response, str]:
        call = HttpCall(request=request)
        segments = segments_of(request.sent_path)
        prefix = self.stage_prefix
        if segments[: len(prefix)] != prefix:
            return self._finish(call, self._error(404, "Not Found")), "unknown stage"
        segments = segments[len(prefix) :]
        call.path = concrete_path(segments)
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

    def _finish(self, call: HttpCall, response: Response) -> Response:
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

    def _cors_preflight(self, request: Request) -> Response | None:
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
            return Response(204, [], b"")
        return Response(204, cors_preflight_headers(cors, origin, cors.allow_methods), b"")

    # -- authorizer --------------------------------------------------------------------------

    def _context_vars(self, call: HttpCall) -> dict[str, str]:
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

    def _authorize(self, call: HttpCall, auth: HttpAuthorizerDef) -> Response | None:
        values: list[str] = []
        context_vars = self._context_vars(call)
        for source in auth.identity_sources:
            value = identity_value(
                source, call.request, self.api.stage_variables, context_vars, join_duplicates=True
            )
            if not value:
                call.auth_note = f"{auth.name}: missing {source.http_expression()}, not invoked"
                return self._error(401, MSG_UNAUTHORIZED)
            values.append(value)
        caching = auth.ttl > 0 and bool(values)
        key = (auth.name, *values)
        result: HttpAuthResult | None = self.cache.get(key, auth.ttl) if caching else None
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
    def _parse(auth: HttpAuthorizerDef, raw: Any) -> HttpAuthResult | None:
        if auth.simple_responses:
            if not isinstance(raw, dict) or not isinstance(raw.get("isAuthorized"), bool):
                LOG.warning("authorizer %s: isAuthorized is not a boolean: %r", auth.name, raw)
                return None
            context = raw.get("context")
            if context is not None and not isinstance(context, dict):
                LOG.warning("authorizer %s: context is not an object", auth.name)
                return None
            return HttpAuthResult(simple=True, authorized=raw["isAuthorized"], context=context)
        try:
            return HttpAuthResult(simple=False, answer=parse_authorizer_answer(raw))
        except MalformedAnswerError as exc:
            LOG.warning("authorizer %s: could not parse policy: %s", auth.name, exc)
            return None

    def _authorizer_event(
        self, call: HttpCall, auth: HttpAuthorizerDef, values: list[str]
    ) -> dict[str, Any]:
        if auth.payload_version == "2.0":
            return http_authorizer_event_v2(self.stage, call.routed(), values or None)
        return http_authorizer_event_v1(self.stage, call.routed(), values)

    # -- integration -------------------------------------------------------------------------

    def _integrate(self, call: HttpCall) -> Response:
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
        response = self._map_v1(result) if route.payload_version == "1.0" else self._map_v2(result)
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

    def _map_v2(self, result: Any) -> Response | None:
        if not (isinstance(result, dict) and "statusCode" in result):
            # Valid JSON without statusCode: 200, application/json, the JSON as the body.
            return Response(200, [("Content-Type", JSON)], json.dumps(result).encode())
        status = self._status(result)
        payload = self._payload(result)
        raw_headers = result.get("headers") or {}
        cookies = result.get("cookies") or []
        if status is None or payload is None or not isinstance(raw_headers, dict):
            return None
        if not isinstance(cookies, list):
            return None
        headers = [(str(k), header_text(v)) for k, v in raw_headers.items()]
        headers.extend(("Set-Cookie", str(c)) for c in cookies)
        response = Response(status, headers, payload)
        response.set_default("Content-Type", "text/plain; charset=utf-8")
        return response

    def _map_v1(self, result: Any) -> Response | None:
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
        headers = [(str(k), header_text(v)) for k, v in raw_headers.items()]
        for name, values in raw_multi.items():
            if isinstance(values, list):
                headers.extend((str(name), header_text(v)) for v in values)
        response = Response(status, headers, payload)
        response.set_default("Content-Type", JSON)
        return response
