"""What both API types share: responses, messages, routing, identity sources, CORS headers."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol
from urllib.parse import unquote

from devkit.emulator.invoker import Invoker
from devkit.events import Request, Stage
from devkit.template import CorsDef, IdentitySource

__all__ = [
    "JSON",
    "LOG",
    "MSG_EXPLICIT_DENY",
    "MSG_HTTP_INTERNAL",
    "MSG_IMPLICIT_DENY",
    "MSG_MISSING_TOKEN",
    "MSG_REST_INTERNAL",
    "MSG_UNAUTHORIZED",
    "GatewayHost",
    "Response",
    "concrete_path",
    "cors_preflight_headers",
    "header_text",
    "identity_value",
    "json_response",
    "make_stage",
    "match",
    "segments_of",
]

LOG = logging.getLogger("devkit.emulator")

JSON: Final = "application/json"
MSG_UNAUTHORIZED: Final = "Unauthorized"
MSG_EXPLICIT_DENY: Final = "User is not authorized to access this resource with an explicit deny"
MSG_IMPLICIT_DENY: Final = "User is not authorized to access this resource"
MSG_MISSING_TOKEN: Final = "Missing Authentication Token"  # noqa: S105 - not a secret
MSG_REST_INTERNAL: Final = "Internal server error"
MSG_HTTP_INTERNAL: Final = "Internal Server Error"


class GatewayHost(Protocol):
    """What a gateway needs of the :class:`~devkit.emulator.Emulator` that serves it."""

    region: str
    account_id: str
    partition: str
    http_unauthorized_status: int
    clock: Callable[[], float]
    invoker: Invoker


@dataclass
class Response:
    """An answer on its way to the client."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def set_default(self, name: str, value: str) -> None:
        if not any(k.lower() == name.lower() for k, _ in self.headers):
            self.headers.append((name, value))


def json_response(status: int, payload: Any, headers: Sequence[tuple[str, str]] = ()) -> Response:
    return Response(status, [("Content-Type", JSON), *headers], json.dumps(payload).encode("utf-8"))


def segments_of(path: str) -> list[str]:
    return [unquote(p) for p in path.split("/") if p]


def match(pattern: str, segments: list[str]) -> tuple[tuple[int, ...], dict[str, str]] | None:
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


def concrete_path(segments: list[str]) -> str:
    return "/" + "/".join(segments)


def header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def identity_value(
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


def cors_preflight_headers(cors: CorsDef, origin: str, methods: list[str]) -> list[tuple[str, str]]:
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


def make_stage(
    emulator: GatewayHost, api_id: str, name: str, variables: Mapping[str, str]
) -> Stage:
    return Stage(
        api_id=api_id,
        name=name,
        account_id=emulator.account_id,
        region=emulator.region,
        partition=emulator.partition,
        variables=dict(variables),
    )
