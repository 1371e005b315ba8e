"""The emulator's view of a SAM template: functions, REST and HTTP APIs, authorizers, routes.

Plain data, built by :mod:`devkit.template.build` after ``Globals`` merging and intrinsic
resolution; only what API Gateway needs at request time is modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from devkit.template.resolve import Intrinsics

__all__ = [
    "CorsDef",
    "FunctionDef",
    "GatewayResponseDef",
    "HttpApiDef",
    "HttpAuthorizerDef",
    "IdentityKind",
    "IdentitySource",
    "RestApiDef",
    "RestAuthorizerDef",
    "RouteDef",
    "TemplateModel",
]

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
