"""Building the emulator's model (:mod:`devkit.template.model`) from a SAM template.

:func:`load_template` reads, resolves and models a template file; :func:`parse_template` does
the same for an already parsed one; :func:`deployed_environment` is one function's environment
as CloudFormation would deploy it. Anything the emulator cannot honour (Cognito/JWT/IAM
authorizers on a route, OpenAPI ``DefinitionBody``) is rejected loudly rather than silently
ignored, so a green local run never hides an unemulated security feature.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from devkit.constants import ACCOUNT_ID, REGION, STACK_NAME
from devkit.template.load import TemplateError, load_yaml
from devkit.template.model import (
    CorsDef,
    FunctionDef,
    GatewayResponseDef,
    HttpApiDef,
    HttpAuthorizerDef,
    IdentityKind,
    IdentitySource,
    RestApiDef,
    RestAuthorizerDef,
    RouteDef,
    TemplateModel,
)
from devkit.template.resolve import (
    FUNCTION_TYPE,
    HTTP_API_TYPE,
    IMPLICIT_HTTP_API,
    IMPLICIT_REST_API,
    REST_API_TYPE,
    Intrinsics,
    as_bool,
    as_int,
    fake_api_id,
    merge_globals,
    scalar_text,
    static_value,
    str_list,
)

__all__ = ["deployed_environment", "load_template", "parse_template"]

LOG = logging.getLogger("devkit.template")

REST_DEFAULT_TTL: Final = 300
MAX_TTL: Final = 3600


def load_template(
    path: str | Path,
    *,
    parameter_overrides: Mapping[str, str] | None = None,
    region: str = REGION,
    account_id: str = ACCOUNT_ID,
    stack_name: str = STACK_NAME,
    http_default_ttl: int = 0,
) -> TemplateModel:
    """Read and model a SAM template file (relative ``CodeUri`` resolve against its folder)."""
    template_path = Path(path).resolve()
    data = load_yaml(template_path.read_text(encoding="utf-8"))
    return parse_template(
        data,
        base_dir=template_path.parent,
        path=template_path,
        parameter_overrides=parameter_overrides,
        region=region,
        account_id=account_id,
        stack_name=stack_name,
        http_default_ttl=http_default_ttl,
    )


def parse_template(
    data: Mapping[str, Any],
    *,
    base_dir: Path,
    path: Path | None = None,
    parameter_overrides: Mapping[str, str] | None = None,
    region: str = REGION,
    account_id: str = ACCOUNT_ID,
    stack_name: str = STACK_NAME,
    http_default_ttl: int = 0,
) -> TemplateModel:
    """Model an already parsed template (see :func:`load_template`)."""
    intrinsics = Intrinsics(
        data,
        parameter_overrides=parameter_overrides,
        region=region,
        account_id=account_id,
        stack_name=stack_name,
    )
    return _Builder(intrinsics, base_dir, path, http_default_ttl).build()


def deployed_environment(
    template: Mapping[str, Any],
    function_id: str,
    parameter_overrides: Mapping[str, str] | None = None,
    *,
    check_parameters: bool = True,
    region: str = REGION,
    account_id: str = ACCOUNT_ID,
    stack_name: str = STACK_NAME,
) -> dict[str, str]:
    """``Environment.Variables`` of one function as deployed with these parameter values.

    ``Globals`` merged, intrinsics resolved, variables that resolve to ``AWS::NoValue`` left
    out, every value as text. Only this function's properties are resolved, so templates the
    emulator could not serve (other resources it does not model) work too.
    """
    intrinsics = Intrinsics(
        template,
        parameter_overrides=parameter_overrides,
        region=region,
        account_id=account_id,
        stack_name=stack_name,
        check_parameters=check_parameters,
    )
    resource = intrinsics.resources.get(function_id)
    if not isinstance(resource, dict) or resource.get("Type") != FUNCTION_TYPE:
        raise TemplateError(f"{function_id} is not an {FUNCTION_TYPE} of the template")
    builder = _Builder(intrinsics, Path(), None, http_default_ttl=0)
    return builder.environment(function_id, builder._properties(resource, "Function"))


class _Builder:
    """Turns resolved resources into the emulator model."""

    def __init__(
        self, intrinsics: Intrinsics, base_dir: Path, path: Path | None, http_default_ttl: int
    ) -> None:
        self.x = intrinsics
        self.base_dir = base_dir
        self.path = path
        self.http_default_ttl = http_default_ttl
        self.globals: dict[str, Any] = dict(intrinsics.template.get("Globals") or {})

    def _active(self) -> dict[str, dict[str, Any]]:
        active: dict[str, dict[str, Any]] = {}
        for logical_id, resource in self.x.resources.items():
            if not isinstance(resource, dict):
                raise TemplateError(f"resource {logical_id} is not a mapping")
            condition = resource.get("Condition")
            if condition is not None and not self.x.condition(str(condition)):
                continue
            active[logical_id] = resource
        return active

    def _properties(self, resource: dict[str, Any], globals_section: str) -> dict[str, Any]:
        props = dict(resource.get("Properties") or {})
        section = self.globals.get(globals_section)
        if isinstance(section, dict):
            props = merge_globals(section, props)
        resolved = self.x.resolve(props)
        if not isinstance(resolved, dict):  # pragma: no cover - resolve keeps dicts
            raise TemplateError("Properties must be a mapping")
        return resolved

    def build(self) -> TemplateModel:
        resources = self._active()
        functions: dict[str, FunctionDef] = {}
        rest_apis: dict[str, RestApiDef] = {}
        http_apis: dict[str, HttpApiDef] = {}
        # Resolve function ARNs/names first so that Ref/GetAtt lookups are all registered.
        for logical_id, resource in resources.items():
            if resource.get("Type") == FUNCTION_TYPE:
                self.x.get_att(logical_id, "Arn")
                self.x.ref_resource(logical_id)
        for logical_id, resource in resources.items():
            rtype = resource.get("Type")
            if rtype == FUNCTION_TYPE:
                functions[logical_id] = self._function(logical_id, resource)
            elif rtype == REST_API_TYPE:
                props = self._properties(resource, "Api")
                rest_apis[logical_id] = self._rest_api(logical_id, props)
            elif rtype == HTTP_API_TYPE:
                http_apis[logical_id] = self._http_api(
                    logical_id, self._properties(resource, "HttpApi")
                )
        for function in functions.values():
            for event_name, event in function.events.items():
                self._add_route(function, event_name, event, rest_apis, http_apis)
        for rest in rest_apis.values():
            self._add_cors_preflights(rest)
        return TemplateModel(
            path=self.path,
            region=self.x.region,
            account_id=self.x.account_id,
            stack_name=self.x.stack_name,
            functions=functions,
            rest_apis=rest_apis,
            http_apis=http_apis,
            intrinsics=self.x,
        )

    # -- functions ---------------------------------------------------------------------------

    def _function(self, logical_id: str, resource: dict[str, Any]) -> FunctionDef:
        props = self._properties(resource, "Function")
        code_uri: Path | None = None
        raw_code = props.get("CodeUri")
        if isinstance(raw_code, str):
            code_uri = (self.base_dir / raw_code).resolve()
        elif raw_code is None and "InlineCode" not in props and "ImageUri" not in props:
            code_uri = self.base_dir
        environment = self.environment(logical_id, props)
        events = props.get("Events") or {}
        if not isinstance(events, dict):
            raise TemplateError(f"{logical_id}: Events must be a mapping")
        handler = props.get("Handler")
        return FunctionDef(
            logical_id=logical_id,
            function_name=self.x.function_name(logical_id),
            arn=self.x.function_arn(logical_id),
            handler=str(handler) if handler is not None else None,
            code_uri=code_uri,
            runtime=props.get("Runtime"),
            environment=environment,
            timeout=as_int(props.get("Timeout", 3), f"{logical_id}.Timeout"),
            memory_size=as_int(props.get("MemorySize", 128), f"{logical_id}.MemorySize"),
            events=events,
        )

    @staticmethod
    def environment(logical_id: str, props: Mapping[str, Any]) -> dict[str, str]:
        """A function's resolved ``Environment.Variables``, every value as text."""
        env_raw = (props.get("Environment") or {}).get("Variables") or {}
        if not isinstance(env_raw, dict):
            raise TemplateError(f"{logical_id}: Environment.Variables must be a mapping")
        return {str(k): scalar_text(v) for k, v in env_raw.items()}

    def _function_id(self, value: Any, what: str) -> str:
        logical = self.x.logical_id_for(value)
        if logical is not None:
            return logical
        if isinstance(value, str) and value:
            # An ARN outside the template: only a `functions=` override can serve it.
            return value
        raise TemplateError(f"{what}: FunctionArn {value!r} names no function")

    # -- REST APIs ---------------------------------------------------------------------------

    def _rest_api(self, logical_id: str, props: dict[str, Any]) -> RestApiDef:
        if "DefinitionBody" in props or "DefinitionUri" in props:
            raise TemplateError(
                f"{logical_id}: OpenAPI DefinitionBody/DefinitionUri is not emulated; "
                "declare routes through function Api events"
            )
        stage = props.get("StageName")
        if stage is None:
            if logical_id != IMPLICIT_REST_API:
                raise TemplateError(f"{logical_id}: StageName is required")
            stage = "Prod"
        auth = props.get("Auth") or {}
        authorizers: dict[str, RestAuthorizerDef] = {}
        unsupported: set[str] = set()
        for name, spec in (auth.get("Authorizers") or {}).items():
            if not isinstance(spec, dict) or "FunctionArn" not in spec:
                unsupported.add(name)  # Cognito user pool authorizers and the like
                continue
            authorizers[name] = self._rest_authorizer(logical_id, name, spec)
        default = auth.get("DefaultAuthorizer")
        if default is not None and default not in authorizers:
            raise TemplateError(
                f"{logical_id}: DefaultAuthorizer {default} is not an emulated Lambda authorizer"
            )
        responses: dict[str, GatewayResponseDef] = {}
        for rtype, spec in (props.get("GatewayResponses") or {}).items():
            responses[str(rtype)] = self._gateway_response(logical_id, str(rtype), spec or {})
        variables = props.get("Variables") or {}
        return RestApiDef(
            logical_id=logical_id,
            api_id=fake_api_id(self.x.stack_name, logical_id),
            stage_name=str(stage),
            stage_variables={str(k): scalar_text(v) for k, v in variables.items()},
            authorizers=authorizers,
            default_authorizer=default,
            add_default_authorizer_to_cors_preflight=as_bool(
                auth.get("AddDefaultAuthorizerToCorsPreflight"), True
            ),
            gateway_responses=responses,
            binary_media_types=[
                t.replace("~1", "/") for t in str_list(props.get("BinaryMediaTypes"), "types")
            ],
            cors=self._cors(props.get("Cors"), rest=True),
        )

    def _rest_authorizer(self, api: str, name: str, spec: dict[str, Any]) -> RestAuthorizerDef:
        payload = str(spec.get("FunctionPayloadType", "TOKEN")).upper()
        if payload not in ("TOKEN", "REQUEST"):
            raise TemplateError(f"{api}.{name}: FunctionPayloadType must be TOKEN or REQUEST")
        identity = spec.get("Identity") or {}
        ttl = as_int(identity.get("ReauthorizeEvery", REST_DEFAULT_TTL), "ReauthorizeEvery")
        if not 0 <= ttl <= MAX_TTL:
            raise TemplateError(f"{api}.{name}: ReauthorizeEvery must be within 0..{MAX_TTL}")
        sources: list[IdentitySource]
        validation: str | None = None
        if payload == "TOKEN":
            sources = [IdentitySource("header", str(identity.get("Header", "Authorization")))]
            raw_validation = identity.get("ValidationExpression")
            validation = str(raw_validation) if raw_validation is not None else None
        else:
            sources = _identity_sources(identity)
            if not sources and ttl > 0:
                raise TemplateError(
                    f"{api}.{name}: a REQUEST authorizer needs an Identity source unless "
                    "ReauthorizeEvery is 0 (SAM rejects it too)"
                )
        function_id = self._function_id(spec.get("FunctionArn"), f"{api}.{name}")
        return RestAuthorizerDef(
            name=name,
            function_id=function_id,
            payload_type="TOKEN" if payload == "TOKEN" else "REQUEST",
            identity_sources=sources,
            validation_expression=validation,
            ttl=ttl,
            # SAM adds the AWS::Lambda::Permission unless told not to.
            invoke_permission=not as_bool(spec.get("DisableFunctionDefaultPermissions"), False)
            or "FunctionInvokeRole" in spec
            or self._explicit_permission(function_id),
        )

    def _gateway_response(self, api: str, rtype: str, spec: dict[str, Any]) -> GatewayResponseDef:
        extra = set(spec) - {"StatusCode", "ResponseParameters", "ResponseTemplates"}
        if extra:
            raise TemplateError(f"{api}.GatewayResponses.{rtype}: unknown keys {sorted(extra)}")
        status = spec.get("StatusCode")
        params = spec.get("ResponseParameters") or {}
        headers = params.get("Headers") or {}
        templates = spec.get("ResponseTemplates") or {}
        return GatewayResponseDef(
            status_code=as_int(status, f"{rtype}.StatusCode") if status is not None else None,
            headers={str(k): str(v) for k, v in headers.items()},
            templates={str(k): str(v) for k, v in templates.items()},
        )

    # -- HTTP APIs ---------------------------------------------------------------------------

    def _http_api(self, logical_id: str, props: dict[str, Any]) -> HttpApiDef:
        if "DefinitionBody" in props or "DefinitionUri" in props:
            raise TemplateError(f"{logical_id}: OpenAPI DefinitionBody is not emulated")
        auth = props.get("Auth") or {}
        authorizers: dict[str, HttpAuthorizerDef] = {}
        for name, spec in (auth.get("Authorizers") or {}).items():
            if not isinstance(spec, dict) or "FunctionArn" not in spec:
                continue  # OAuth2/JWT authorizers: rejected only if a route uses them
            authorizers[name] = self._http_authorizer(logical_id, name, spec)
        default = auth.get("DefaultAuthorizer")
        if default is not None and default not in authorizers:
            raise TemplateError(
                f"{logical_id}: DefaultAuthorizer {default} is not an emulated Lambda authorizer"
            )
        variables = props.get("StageVariables") or {}
        return HttpApiDef(
            logical_id=logical_id,
            api_id=fake_api_id(self.x.stack_name, logical_id),
            stage_name=str(props.get("StageName", "$default")),
            stage_variables={str(k): scalar_text(v) for k, v in variables.items()},
            authorizers=authorizers,
            default_authorizer=default,
            cors=self._cors(props.get("CorsConfiguration"), rest=False),
        )

    def _http_authorizer(self, api: str, name: str, spec: dict[str, Any]) -> HttpAuthorizerDef:
        version = scalar_text(spec.get("AuthorizerPayloadFormatVersion", ""))
        if version in ("1", "2"):
            version += ".0"
        if version not in ("1.0", "2.0"):
            raise TemplateError(f"{api}.{name}: AuthorizerPayloadFormatVersion must be 1.0 or 2.0")
        simple = as_bool(spec.get("EnableSimpleResponses"), False)
        if simple and version != "2.0":
            raise TemplateError(f"{api}.{name}: EnableSimpleResponses needs payload format 2.0")
        identity = spec.get("Identity") or {}
        ttl = as_int(identity.get("ReauthorizeEvery", self.http_default_ttl), "ReauthorizeEvery")
        if not 0 <= ttl <= MAX_TTL:
            raise TemplateError(f"{api}.{name}: ReauthorizeEvery must be within 0..{MAX_TTL}")
        function_id = self._function_id(spec.get("FunctionArn"), f"{api}.{name}")
        return HttpAuthorizerDef(
            name=name,
            function_id=function_id,
            payload_version="1.0" if version == "1.0" else "2.0",
            simple_responses=simple,
            identity_sources=_identity_sources(identity),
            ttl=ttl,
            # SAM's default here is *no* permission: API Gateway then answers 500 to every call.
            invoke_permission=as_bool(spec.get("EnableFunctionDefaultPermissions"), False)
            or "FunctionInvokeRole" in spec
            or self._explicit_permission(function_id),
        )

    def _explicit_permission(self, function_id: str) -> bool:
        """An ``AWS::Lambda::Permission`` for API Gateway on the function also does it."""
        for logical_id, resource in self._active().items():
            if resource.get("Type") != "AWS::Lambda::Permission":
                continue
            props = self.x.resolve(resource.get("Properties") or {})
            principal = str(props.get("Principal", ""))
            target = self.x.logical_id_for(props.get("FunctionName")) or props.get("FunctionName")
            if "apigateway" in principal and target == function_id:
                LOG.debug("%s grants API Gateway access to %s", logical_id, function_id)
                return True
        return False

    def _cors(self, value: Any, *, rest: bool) -> CorsDef | None:
        if value is None or value is False:
            return None
        if value is True:
            return CorsDef(["*"], ["*"], ["*"], [], None, False)
        if isinstance(value, str):
            return CorsDef([static_value(value)], [], [], [], None, False)
        if not isinstance(value, dict):
            raise TemplateError(f"unsupported CORS configuration {value!r}")
        if rest:

            def split(key: str) -> list[str]:
                raw = value.get(key)
                if raw is None:
                    return []
                return [p.strip() for p in static_value(str(raw)).split(",") if p.strip()]

            max_age = value.get("MaxAge")
            return CorsDef(
                allow_origins=split("AllowOrigin") or ["*"],
                allow_methods=split("AllowMethods"),
                allow_headers=split("AllowHeaders"),
                expose_headers=[],
                max_age=as_int(static_value(str(max_age)), "MaxAge") if max_age else None,
                allow_credentials=as_bool(value.get("AllowCredentials"), False),
            )
        max_age = value.get("MaxAge")
        return CorsDef(
            allow_origins=str_list(value.get("AllowOrigins"), "AllowOrigins"),
            allow_methods=str_list(value.get("AllowMethods"), "AllowMethods"),
            allow_headers=str_list(value.get("AllowHeaders"), "AllowHeaders"),
            expose_headers=str_list(value.get("ExposeHeaders"), "ExposeHeaders"),
            max_age=as_int(max_age, "MaxAge") if max_age is not None else None,
            allow_credentials=as_bool(value.get("AllowCredentials"), False),
        )

    # -- routes ------------------------------------------------------------------------------

    def _api_target(self, raw: Any, implicit: str, what: str) -> str:
        if raw is None:
            return implicit
        logical = self.x.logical_id_for(raw)
        if logical is None:
            raise TemplateError(f"{what}: {raw!r} names no API in this template")
        return logical

    def _add_route(
        self,
        function: FunctionDef,
        event_name: str,
        event: dict[str, Any],
        rest_apis: dict[str, RestApiDef],
        http_apis: dict[str, HttpApiDef],
    ) -> None:
        etype = event.get("Type")
        props = event.get("Properties") or {}
        what = f"{function.logical_id}.Events.{event_name}"
        if etype == "Api":
            target = self._api_target(props.get("RestApiId"), IMPLICIT_REST_API, what)
            if target not in rest_apis:
                if target != IMPLICIT_REST_API:
                    raise TemplateError(f"{what}: RestApiId {target} is not a {REST_API_TYPE}")
                implicit = self._properties({"Properties": {}}, "Api")
                rest_apis[target] = self._rest_api(target, implicit)
            api = rest_apis[target]
            authorizer = self._route_authorizer(
                (props.get("Auth") or {}).get("Authorizer"),
                api.default_authorizer,
                set(api.authorizers),
                what,
            )
            path = str(props.get("Path", ""))
            if not path.startswith("/"):
                raise TemplateError(f"{what}: Path must start with /")
            api.routes.append(
                RouteDef(
                    method=_method(props.get("Method"), what),
                    path=_normalise_path(path),
                    function_id=function.logical_id,
                    authorizer=authorizer,
                    payload_version="1.0",
                    event_name=event_name,
                )
            )
        elif etype == "HttpApi":
            target = self._api_target(props.get("ApiId"), IMPLICIT_HTTP_API, what)
            if target not in http_apis:
                if target != IMPLICIT_HTTP_API:
                    raise TemplateError(f"{what}: ApiId {target} is not a {HTTP_API_TYPE}")
                implicit = self._properties({"Properties": {}}, "HttpApi")
                http_apis[target] = self._http_api(target, implicit)
            http = http_apis[target]
            authorizer = self._route_authorizer(
                (props.get("Auth") or {}).get("Authorizer"),
                http.default_authorizer,
                set(http.authorizers),
                what,
            )
            raw_path = props.get("Path")
            if raw_path is None or raw_path in ("$default", "/$default"):
                path, method = "$default", "ANY"
            else:
                path, method = _normalise_path(str(raw_path)), _method(props.get("Method"), what)
            version = scalar_text(props.get("PayloadFormatVersion", "2.0"))
            http.routes.append(
                RouteDef(
                    method=method,
                    path=str(path),
                    function_id=function.logical_id,
                    authorizer=authorizer,
                    payload_version="1.0" if version in ("1.0", "1") else "2.0",
                    event_name=event_name,
                )
            )

    @staticmethod
    def _route_authorizer(
        requested: Any, default: str | None, known: set[str], what: str
    ) -> str | None:
        if requested is None:
            return default
        if requested == "NONE":
            return None
        if requested not in known:
            raise TemplateError(
                f"{what}: Auth.Authorizer {requested} is not an emulated Lambda authorizer "
                "(AWS_IAM, Cognito and JWT authorizers are not emulated)"
            )
        return str(requested)

    @staticmethod
    def _add_cors_preflights(api: RestApiDef) -> None:
        """SAM adds a mock OPTIONS method to every path when ``Cors`` is set."""
        if api.cors is None:
            return
        methods_by_path: dict[str, set[str]] = {}
        for route in api.routes:
            methods_by_path.setdefault(route.path, set()).add(route.method)
        for path, methods in methods_by_path.items():
            if "OPTIONS" in methods:
                continue
            authorizer = (
                api.default_authorizer if api.add_default_authorizer_to_cors_preflight else None
            )
            api.routes.append(
                RouteDef("OPTIONS", path, None, authorizer, event_name="CorsPreflight")
            )


def _identity_sources(identity: dict[str, Any]) -> list[IdentitySource]:
    """SAM's order: headers, query strings, stage variables, context."""
    sources: list[IdentitySource] = []
    kinds: list[tuple[str, IdentityKind]] = [
        ("Headers", "header"),
        ("QueryStrings", "querystring"),
        ("StageVariables", "stageVariable"),
        ("Context", "context"),
    ]
    for key, kind in kinds:
        sources.extend(IdentitySource(kind, n) for n in str_list(identity.get(key), key))
    return sources


_METHODS: Final = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"}


def _method(raw: Any, what: str) -> str:
    if raw is None:
        raise TemplateError(f"{what}: Method is required")
    method = str(raw).upper()
    if method == "X-AMAZON-APIGATEWAY-ANY-METHOD":
        method = "ANY"
    if method not in _METHODS:
        raise TemplateError(f"{what}: unsupported method {raw!r}")
    return method


def _normalise_path(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts)
