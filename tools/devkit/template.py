"""SAM template loading for the local API Gateway emulator.

Reads a SAM ``template.yaml`` (CloudFormation short tags included), resolves parameters,
conditions, pseudo-parameters and intrinsic functions, merges ``Globals`` and builds a small
model of what the emulator needs: Lambda functions, REST APIs (``AWS::Serverless::Api``) and
HTTP APIs (``AWS::Serverless::HttpApi``) with their authorizers, gateway responses and routes.

Only what API Gateway needs at request time is modelled; anything the emulator cannot honour
(Cognito/JWT/IAM authorizers on a route, OpenAPI ``DefinitionBody``) is rejected loudly rather
than silently ignored, so a green local run never hides an unemulated security feature.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from devkit.constants import ACCOUNT_ID, REGION, STACK_NAME

LOG = logging.getLogger(__name__)

__all__ = [
    "FunctionDef",
    "GatewayResponseDef",
    "HttpApiDef",
    "HttpAuthorizerDef",
    "IdentitySource",
    "Intrinsics",
    "RestApiDef",
    "RestAuthorizerDef",
    "RouteDef",
    "TemplateError",
    "TemplateModel",
    "load_template",
    "load_yaml",
    "parse_template",
]

FUNCTION_TYPE: Final = "AWS::Serverless::Function"
REST_API_TYPE: Final = "AWS::Serverless::Api"
HTTP_API_TYPE: Final = "AWS::Serverless::HttpApi"
LAYER_TYPE: Final = "AWS::Serverless::LayerVersion"
IMPLICIT_REST_API: Final = "ServerlessRestApi"
IMPLICIT_HTTP_API: Final = "ServerlessHttpApi"

REST_DEFAULT_TTL: Final = 300
MAX_TTL: Final = 3600


class TemplateError(ValueError):
    """The template uses something invalid or something the emulator cannot emulate."""


# --------------------------------------------------------------------------------------------
# YAML loading with CloudFormation short tags
# --------------------------------------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns ``!Ref x`` style tags into their long JSON forms."""


def _tag_constructor(fn_name: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        elif isinstance(node, yaml.MappingNode):
            value = loader.construct_mapping(node, deep=True)
        else:  # pragma: no cover - PyYAML only has these three node kinds
            raise TemplateError(f"unsupported node for !{fn_name}")
        if fn_name == "Fn::GetAtt" and isinstance(value, str):
            # The short form is "Logical.Attr"; the attribute may itself contain dots.
            logical, _, attr = value.partition(".")
            value = [logical, attr]
        return {fn_name: value}

    return construct


_SHORT_TAGS: Final = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "GetAtt",
            "Sub",
            "If",
            "Equals",
            "Not",
            "And",
            "Or",
            "Join",
            "Select",
            "Split",
            "FindInMap",
            "Base64",
            "GetAZs",
            "ImportValue",
            "Cidr",
            "Transform",
            "ToJsonString",
            "Length",
        )
    },
}
for _tag, _fn in _SHORT_TAGS.items():
    _CfnLoader.add_constructor(f"!{_tag}", _tag_constructor(_fn))


def load_yaml(text: str) -> dict[str, Any]:
    """Parse template text; short tags become ``{"Fn::X": ...}`` / ``{"Ref": ...}``."""
    data = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict):
        raise TemplateError("template root must be a mapping")
    return data


# --------------------------------------------------------------------------------------------
# Intrinsic function resolution
# --------------------------------------------------------------------------------------------


class _NoValue:
    """Marker for ``AWS::NoValue``: the enclosing key or list item disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def _partition_for(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def fake_api_id(stack_name: str, logical_id: str) -> str:
    """A stable 10-character lower-case id shaped like a real execute-api id."""
    digest = hashlib.sha256(f"{stack_name}/{logical_id}".encode()).digest()
    return base64.b32encode(digest).decode().lower()[:10]


class Intrinsics:
    """Resolves parameters, conditions and ``Fn::*`` functions of one template.

    ``Ref``/``GetAtt`` of resources yield fake but stable values; every such value is recorded
    so that, e.g., ``FunctionArn: !GetAtt AuthFn.Arn`` can be traced back to ``AuthFn``.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        parameter_overrides: Mapping[str, str] | None = None,
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        stack_name: str = STACK_NAME,
    ) -> None:
        self.template = template
        self.region = region
        self.account_id = account_id
        self.stack_name = stack_name
        self.partition = _partition_for(region)
        self.resources: dict[str, Any] = dict(template.get("Resources") or {})
        self.mappings: dict[str, Any] = dict(template.get("Mappings") or {})
        self._conditions_raw: dict[str, Any] = dict(template.get("Conditions") or {})
        self._condition_values: dict[str, bool] = {}
        self._evaluating: set[str] = set()
        self.value_to_logical_id: dict[str, str] = {}
        self.parameters = self._resolve_parameters(dict(parameter_overrides or {}))

    # -- parameters and pseudo-parameters -------------------------------------------------

    def _resolve_parameters(self, overrides: dict[str, str]) -> dict[str, Any]:
        declared: dict[str, Any] = dict(self.template.get("Parameters") or {})
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise TemplateError(f"parameter overrides for undeclared parameters: {unknown}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            spec = spec or {}
            if name in overrides:
                raw: Any = overrides[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no Default and no override")
            text = _scalar_text(raw)
            allowed = spec.get("AllowedValues")
            if allowed is not None and text not in [_scalar_text(a) for a in allowed]:
                raise TemplateError(f"parameter {name}={text!r} not in AllowedValues {allowed}")
            pattern = spec.get("AllowedPattern")
            if pattern is not None and re.fullmatch(str(pattern), text) is None:
                raise TemplateError(f"parameter {name}={text!r} does not match AllowedPattern")
            ptype = str(spec.get("Type", "String"))
            if ptype == "CommaDelimitedList" or ptype.startswith("List<"):
                values[name] = [part.strip() for part in text.split(",")] if text else []
            else:
                values[name] = text
        return values

    def pseudo(self, name: str) -> Any:
        """Value of an ``AWS::*`` pseudo-parameter."""
        pseudo: dict[str, Any] = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}:"
                f"stack/{self.stack_name}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        if name not in pseudo:
            raise TemplateError(f"unknown pseudo-parameter {name}")
        return pseudo[name]

    # -- resources ---------------------------------------------------------------------------

    def _remember(self, value: str, logical_id: str) -> str:
        self.value_to_logical_id[value] = logical_id
        return value

    def function_name(self, logical_id: str) -> str:
        props = (self.resources.get(logical_id) or {}).get("Properties") or {}
        name = props.get("FunctionName")
        if isinstance(name, str):
            return name
        return f"{self.stack_name}-{logical_id}"

    def function_arn(self, logical_id: str) -> str:
        return (
            f"arn:{self.partition}:lambda:{self.region}:{self.account_id}:"
            f"function:{self.function_name(logical_id)}"
        )

    def ref_resource(self, logical_id: str) -> str:
        rtype = (self.resources.get(logical_id) or {}).get("Type")
        if rtype == FUNCTION_TYPE:
            return self._remember(self.function_name(logical_id), logical_id)
        if rtype in (REST_API_TYPE, HTTP_API_TYPE) or logical_id in (
            IMPLICIT_REST_API,
            IMPLICIT_HTTP_API,
        ):
            return self._remember(fake_api_id(self.stack_name, logical_id), logical_id)
        if rtype == LAYER_TYPE:
            return self._remember(
                f"arn:{self.partition}:lambda:{self.region}:{self.account_id}:"
                f"layer:{logical_id}:1",
                logical_id,
            )
        return self._remember(logical_id, logical_id)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id not in self.resources and logical_id not in (
            IMPLICIT_REST_API,
            IMPLICIT_HTTP_API,
        ):
            raise TemplateError(f"Fn::GetAtt of unknown resource {logical_id}")
        rtype = (self.resources.get(logical_id) or {}).get("Type")
        if rtype == FUNCTION_TYPE and attribute == "Arn":
            return self._remember(self.function_arn(logical_id), logical_id)
        if attribute == "ApiEndpoint":
            api_id = fake_api_id(self.stack_name, logical_id)
            return self._remember(
                f"https://{api_id}.execute-api.{self.region}.amazonaws.com", logical_id
            )
        if attribute == "RootResourceId":
            return self._remember(fake_api_id(self.stack_name, logical_id + "/"), logical_id)
        return self._remember(f"{logical_id}.{attribute}", logical_id)

    def logical_id_for(self, value: Any) -> str | None:
        """Logical id a resolved ``Ref``/``GetAtt`` value (or a string containing it) names."""
        if not isinstance(value, str):
            return None
        if value in self.value_to_logical_id:
            return self.value_to_logical_id[value]
        if value in self.resources:
            return value
        # e.g. an apigateway invocation URI built with !Sub around the function ARN
        for known, logical in self.value_to_logical_id.items():
            if known.startswith("arn:") and known in value:
                return logical
        return None

    # -- conditions --------------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name in self._condition_values:
            return self._condition_values[name]
        if name not in self._conditions_raw:
            raise TemplateError(f"unknown condition {name}")
        if name in self._evaluating:
            raise TemplateError(f"condition {name} refers to itself")
        self._evaluating.add(name)
        try:
            result = self._eval_condition(self._conditions_raw[name])
        finally:
            self._evaluating.discard(name)
        self._condition_values[name] = result
        return result

    def _eval_condition(self, expr: Any) -> bool:
        if isinstance(expr, dict) and len(expr) == 1:
            (key, arg), = expr.items()
            if key == "Condition":
                return self.condition(str(arg))
            if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
                return bool(self._fn_condition(key, arg))
        value = self.resolve(expr)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise TemplateError(f"not a condition: {expr!r}")

    def _fn_condition(self, key: str, arg: Any) -> bool:
        if not isinstance(arg, list):
            raise TemplateError(f"{key} needs a list")
        if key == "Fn::Equals":
            if len(arg) != 2:
                raise TemplateError("Fn::Equals needs two values")
            left, right = (self.resolve(a) for a in arg)
            return _scalar_text(left) == _scalar_text(right)
        if key == "Fn::Not":
            if len(arg) != 1:
                raise TemplateError("Fn::Not needs one condition")
            return not self._eval_condition(arg[0])
        if key == "Fn::And":
            return all(self._eval_condition(a) for a in arg)
        return any(self._eval_condition(a) for a in arg)

    # -- resolution --------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside ``value``; ``AWS::NoValue`` entries are dropped."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key.startswith("Fn::"):
                return self._fn(key, arg)
        out: dict[str, Any] = {}
        for key, item in value.items():
            resolved = self.resolve(item)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def _ref(self, arg: Any) -> Any:
        name = self.resolve(arg)
        if not isinstance(name, str):
            raise TemplateError(f"Ref needs a name, got {name!r}")
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources or name in (IMPLICIT_REST_API, IMPLICIT_HTTP_API):
            return self.ref_resource(name)
        raise TemplateError(f"Ref to unknown name {name}")

    def _fn(self, key: str, arg: Any) -> Any:
        handlers: dict[str, Callable[[Any], Any]] = {
            "Fn::GetAtt": self._fn_get_att,
            "Fn::Sub": self._fn_sub,
            "Fn::If": self._fn_if,
            "Fn::Join": self._fn_join,
            "Fn::Select": self._fn_select,
            "Fn::Split": self._fn_split,
            "Fn::FindInMap": self._fn_find_in_map,
            "Fn::Base64": lambda a: base64.b64encode(str(self.resolve(a)).encode()).decode(),
            "Fn::GetAZs": lambda _a: [f"{self.region}{z}" for z in "abc"],
            "Fn::ImportValue": lambda a: f"imported:{self.resolve(a)}",
        }
        if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
            return self._fn_condition(key, arg)
        if key not in handlers:
            raise TemplateError(f"{key} is not supported by the emulator")
        return handlers[key](arg)

    def _fn_get_att(self, arg: Any) -> Any:
        if isinstance(arg, str):
            logical, _, attr = arg.partition(".")
        elif isinstance(arg, list) and len(arg) == 2:
            logical, attr = str(self.resolve(arg[0])), str(self.resolve(arg[1]))
        else:
            raise TemplateError(f"bad Fn::GetAtt {arg!r}")
        return self.get_att(logical, attr)

    def _fn_sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict):
            text, variables = arg[0], {k: self.resolve(v) for k, v in arg[1].items()}
        else:
            raise TemplateError(f"bad Fn::Sub {arg!r}")
        if not isinstance(text, str):
            raise TemplateError("Fn::Sub needs a string")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _scalar_text(variables[name])
            if name.startswith("AWS::"):
                value = self.pseudo(name)
            elif name in self.parameters:
                value = self.parameters[name]
            elif "." in name:
                logical, _, attr = name.partition(".")
                value = self.get_att(logical, attr)
            elif name in self.resources:
                value = self.ref_resource(name)
            else:
                raise TemplateError(f"Fn::Sub refers to unknown name {name}")
            if isinstance(value, list):
                return ",".join(_scalar_text(v) for v in value)
            return _scalar_text(value)

        return _SUB_VAR.sub(replace, text)

    def _fn_if(self, arg: Any) -> Any:
        if not (isinstance(arg, list) and len(arg) == 3):
            raise TemplateError(f"bad Fn::If {arg!r}")
        chosen = arg[1] if self.condition(str(arg[0])) else arg[2]
        return self.resolve(chosen)

    def _fn_join(self, arg: Any) -> str:
        if not (isinstance(arg, list) and len(arg) == 2):
            raise TemplateError(f"bad Fn::Join {arg!r}")
        delimiter = str(self.resolve(arg[0]))
        items = self.resolve(arg[1])
        if not isinstance(items, list):
            raise TemplateError("Fn::Join needs a list")
        return delimiter.join(_scalar_text(i) for i in items)

    def _fn_select(self, arg: Any) -> Any:
        if not (isinstance(arg, list) and len(arg) == 2):
            raise TemplateError(f"bad Fn::Select {arg!r}")
        index = int(self.resolve(arg[0]))
        items = self.resolve(arg[1])
        if not isinstance(items, list) or not 0 <= index < len(items):
            raise TemplateError(f"Fn::Select index {index} out of range")
        return items[index]

    def _fn_split(self, arg: Any) -> list[str]:
        if not (isinstance(arg, list) and len(arg) == 2):
            raise TemplateError(f"bad Fn::Split {arg!r}")
        return str(self.resolve(arg[1])).split(str(self.resolve(arg[0])))

    def _fn_find_in_map(self, arg: Any) -> Any:
        if not (isinstance(arg, list) and len(arg) in (3, 4)):
            raise TemplateError(f"bad Fn::FindInMap {arg!r}")
        map_name, top, second = (str(self.resolve(a)) for a in arg[:3])
        try:
            return self.resolve(self.mappings[map_name][top][second])
        except (KeyError, TypeError):
            if len(arg) == 4 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                return self.resolve(arg[3]["DefaultValue"])
            raise TemplateError(f"Fn::FindInMap {map_name}/{top}/{second} not found") from None


def _scalar_text(value: Any) -> str:
    """CloudFormation's view of a scalar as text (YAML may have parsed ``true``/``5``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if value is None:
        return ""
    raise TemplateError(f"expected a scalar, got {value!r}")


# --------------------------------------------------------------------------------------------
# Globals (SAM semantics: maps merged, lists concatenated, scalars overridden)
# --------------------------------------------------------------------------------------------


def _is_intrinsic(value: Any) -> bool:
    """SAM treats an intrinsic-function dict as a scalar when merging Globals."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = next(iter(value))
    return key in ("Ref", "Condition") or str(key).startswith("Fn::")


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """Merge a ``Globals`` entry with a resource's own value the way SAM does."""
    if (
        isinstance(global_value, dict)
        and isinstance(local_value, dict)
        and not _is_intrinsic(global_value)
        and not _is_intrinsic(local_value)
    ):
        merged = dict(global_value)
        for key, item in local_value.items():
            merged[key] = merge_globals(global_value[key], item) if key in global_value else item
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


IdentityKind = Literal["header", "querystring", "stageVariable", "context"]


@dataclass(frozen=True)
class IdentitySource:
    """One identity source: where API Gateway reads it and under which name."""

    kind: IdentityKind
    name: str

    def rest_expression(self) -> str:
        """The REST ``identitySource`` spelling (``method.request.header.X`` ...)."""
        prefix = {
            "header": "method.request.header.",
            "querystring": "method.request.querystring.",
            "stageVariable": "stageVariables.",
            "context": "context.",
        }[self.kind]
        return prefix + self.name

    def http_expression(self) -> str:
        """The HTTP API spelling (``$request.header.X`` ...)."""
        prefix = {
            "header": "$request.header.",
            "querystring": "$request.querystring.",
            "stageVariable": "$stageVariables.",
            "context": "$context.",
        }[self.kind]
        return prefix + self.name


@dataclass
class FunctionDef:
    """An ``AWS::Serverless::Function`` after Globals merging and intrinsic resolution."""

    logical_id: str
    function_name: str
    arn: str
    handler: str | None
    code_uri: Path | None
    runtime: str | None
    environment: dict[str, str]
    timeout: int
    memory_size: int
    events: dict[str, dict[str, Any]]


@dataclass
class RestAuthorizerDef:
    """A SAM ``LambdaTokenAuthorizer``/``LambdaRequestAuthorizer`` of a REST API."""

    name: str
    function_id: str
    payload_type: Literal["TOKEN", "REQUEST"]
    identity_sources: list[IdentitySource]
    validation_expression: str | None
    ttl: int
    invoke_permission: bool = True


@dataclass
class HttpAuthorizerDef:
    """A SAM ``LambdaAuthorizer`` of an HTTP API."""

    name: str
    function_id: str
    payload_version: Literal["1.0", "2.0"]
    simple_responses: bool
    identity_sources: list[IdentitySource]
    ttl: int
    invoke_permission: bool = True


@dataclass
class GatewayResponseDef:
    """One ``GatewayResponses`` entry (REST only)."""

    status_code: int | None
    headers: dict[str, str]
    templates: dict[str, str]


@dataclass
class RouteDef:
    """A method on a path (REST) or a route key (HTTP) and the function behind it."""

    method: str  # upper case; "ANY" for any method
    path: str  # "/pets/{id}", or "$default" for the HTTP API default route
    function_id: str | None  # None: a mock integration (CORS preflight)
    authorizer: str | None  # None: no authorizer
    payload_version: str = "1.0"
    event_name: str = ""

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass
class CorsDef:
    """The parts of a CORS configuration the emulator answers preflights with."""

    allow_origins: list[str]
    allow_methods: list[str]
    allow_headers: list[str]
    expose_headers: list[str]
    max_age: int | None
    allow_credentials: bool


@dataclass
class RestApiDef:
    """An ``AWS::Serverless::Api`` (or SAM's implicit ``ServerlessRestApi``)."""

    logical_id: str
    api_id: str
    stage_name: str
    stage_variables: dict[str, str]
    authorizers: dict[str, RestAuthorizerDef]
    default_authorizer: str | None
    add_default_authorizer_to_cors_preflight: bool
    gateway_responses: dict[str, GatewayResponseDef]
    binary_media_types: list[str]
    cors: CorsDef | None
    routes: list[RouteDef] = field(default_factory=list)


@dataclass
class HttpApiDef:
    """An ``AWS::Serverless::HttpApi`` (or SAM's implicit ``ServerlessHttpApi``)."""

    logical_id: str
    api_id: str
    stage_name: str
    stage_variables: dict[str, str]
    authorizers: dict[str, HttpAuthorizerDef]
    default_authorizer: str | None
    cors: CorsDef | None
    routes: list[RouteDef] = field(default_factory=list)


@dataclass
class TemplateModel:
    """Everything the emulator needs from one template."""

    path: Path | None
    region: str
    account_id: str
    stack_name: str
    functions: dict[str, FunctionDef]
    rest_apis: dict[str, RestApiDef]
    http_apis: dict[str, HttpApiDef]
    intrinsics: Intrinsics


# --------------------------------------------------------------------------------------------
# Model building
# --------------------------------------------------------------------------------------------


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


def _as_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise TemplateError(f"expected a boolean, got {value!r}")


def _as_int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TemplateError(f"{what} must be an integer, got {value!r}") from None


def _str_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TemplateError(f"{what} must be a list of strings, got {value!r}")


def _static_value(expr: str) -> str:
    """Strip the single quotes of an API Gateway static value (``"'*'"`` -> ``*``)."""
    if len(expr) >= 2 and expr[0] == expr[-1] == "'":
        return expr[1:-1]
    return expr


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
        env_raw = (props.get("Environment") or {}).get("Variables") or {}
        if not isinstance(env_raw, dict):
            raise TemplateError(f"{logical_id}: Environment.Variables must be a mapping")
        environment = {str(k): _scalar_text(v) for k, v in env_raw.items()}
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
            timeout=_as_int(props.get("Timeout", 3), f"{logical_id}.Timeout"),
            memory_size=_as_int(props.get("MemorySize", 128), f"{logical_id}.MemorySize"),
            events=events,
        )

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
            stage_variables={str(k): _scalar_text(v) for k, v in variables.items()},
            authorizers=authorizers,
            default_authorizer=default,
            add_default_authorizer_to_cors_preflight=_as_bool(
                auth.get("AddDefaultAuthorizerToCorsPreflight"), True
            ),
            gateway_responses=responses,
            binary_media_types=[
                t.replace("~1", "/") for t in _str_list(props.get("BinaryMediaTypes"), "types")
            ],
            cors=self._cors(props.get("Cors"), rest=True),
        )

    def _rest_authorizer(self, api: str, name: str, spec: dict[str, Any]) -> RestAuthorizerDef:
        payload = str(spec.get("FunctionPayloadType", "TOKEN")).upper()
        if payload not in ("TOKEN", "REQUEST"):
            raise TemplateError(f"{api}.{name}: FunctionPayloadType must be TOKEN or REQUEST")
        identity = spec.get("Identity") or {}
        ttl = _as_int(identity.get("ReauthorizeEvery", REST_DEFAULT_TTL), "ReauthorizeEvery")
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
            invoke_permission=not _as_bool(spec.get("DisableFunctionDefaultPermissions"), False)
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
            status_code=_as_int(status, f"{rtype}.StatusCode") if status is not None else None,
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
            stage_variables={str(k): _scalar_text(v) for k, v in variables.items()},
            authorizers=authorizers,
            default_authorizer=default,
            cors=self._cors(props.get("CorsConfiguration"), rest=False),
        )

    def _http_authorizer(self, api: str, name: str, spec: dict[str, Any]) -> HttpAuthorizerDef:
        version = _scalar_text(spec.get("AuthorizerPayloadFormatVersion", ""))
        if version in ("1", "2"):
            version += ".0"
        if version not in ("1.0", "2.0"):
            raise TemplateError(
                f"{api}.{name}: AuthorizerPayloadFormatVersion must be 1.0 or 2.0"
            )
        simple = _as_bool(spec.get("EnableSimpleResponses"), False)
        if simple and version != "2.0":
            raise TemplateError(f"{api}.{name}: EnableSimpleResponses needs payload format 2.0")
        identity = spec.get("Identity") or {}
        ttl = _as_int(identity.get("ReauthorizeEvery", self.http_default_ttl), "ReauthorizeEvery")
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
            invoke_permission=_as_bool(spec.get("EnableFunctionDefaultPermissions"), False)
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
            return CorsDef([_static_value(value)], [], [], [], None, False)
        if not isinstance(value, dict):
            raise TemplateError(f"unsupported CORS configuration {value!r}")
        if rest:

            def split(key: str) -> list[str]:
                raw = value.get(key)
                if raw is None:
                    return []
                return [p.strip() for p in _static_value(str(raw)).split(",") if p.strip()]

            max_age = value.get("MaxAge")
            return CorsDef(
                allow_origins=split("AllowOrigin") or ["*"],
                allow_methods=split("AllowMethods"),
                allow_headers=split("AllowHeaders"),
                expose_headers=[],
                max_age=_as_int(_static_value(str(max_age)), "MaxAge") if max_age else None,
                allow_credentials=_as_bool(value.get("AllowCredentials"), False),
            )
        max_age = value.get("MaxAge")
        return CorsDef(
            allow_origins=_str_list(value.get("AllowOrigins"), "AllowOrigins"),
            allow_methods=_str_list(value.get("AllowMethods"), "AllowMethods"),
            allow_headers=_str_list(value.get("AllowHeaders"), "AllowHeaders"),
            expose_headers=_str_list(value.get("ExposeHeaders"), "ExposeHeaders"),
            max_age=_as_int(max_age, "MaxAge") if max_age is not None else None,
            allow_credentials=_as_bool(value.get("AllowCredentials"), False),
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
            version = _scalar_text(props.get("PayloadFormatVersion", "2.0"))
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
        sources.extend(IdentitySource(kind, n) for n in _str_list(identity.get(key), key))
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
