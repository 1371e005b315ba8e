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

from .config import Config, TokenSource
from .errors import MalformedRequest, MalformedToken, MissingToken
from .policy import MethodArn
from .routes import RouteTarget

EventKind = Literal["token", "request", "http-1.0", "http-2.0"]
_BEARER_RE: Final = re.compile(r"^[Bb][Ee][Aa][Rr][Ee][Rr][ \t]+(\S+)$")


@dataclass(frozen=True, slots=True)
class AuthorizerRequest:
    """The facts of one authorizer call; ``token`` is the raw credential, still untrusted."""

    kind: EventKind
    arn: MethodArn
    target: RouteTarget
    route_label: str
    token: str | None
    token_problem: str | None = None


def read_event(event: object, config: Config) -> AuthorizerRequest:
    """Classify the event and extract route facts; never raises for a missing token."""
    if not isinstance(event, Mapping):
        raise MalformedRequest("event is not an object")
    kind = _kind(event)
    arn_text = event.get("routeArn" if kind == "http-2.0" else "methodArn")
    if not isinstance(arn_text, str):
        raise MalformedRequest("event has no method or route ARN")
    try:
        arn = MethodArn.parse(arn_text)
    except ValueError as err:
        raise MalformedRequest(str(err)) from err
    target, label = _target(event, kind, arn)
    token, problem = _credential(event, kind, config)
    return AuthorizerRequest(
        kind=kind, arn=arn, target=target, route_label=label, token=token, token_problem=problem
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


def _target(event: Mapping[str, Any], kind: EventKind, arn: MethodArn) -> tuple[RouteTarget, str]:
    if kind == "http-2.0":
        route_key = event.get("routeKey")
        if isinstance(route_key, str) and route_key == "$default":
            return RouteTarget(arn.method, path=arn.path, is_default_route=True), "$default"
        if isinstance(route_key, str) and " " in route_key:
            route_method, route_path = route_key.split(" ", 1)
            return RouteTarget(route_method, path=arn.path, template=route_path), route_key
        return RouteTarget(arn.method, path=arn.path), f"{arn.method} {arn.path}"
    if kind == "token":
        return RouteTarget(arn.method, path=arn.path), f"{arn.method} {arn.path}"
    given = event.get("httpMethod")
    method: str = given if isinstance(given, str) and given else arn.method
    template: object = event.get("resource")
    context = event.get("requestContext")
    if kind == "http-1.0" and isinstance(context, Mapping):
        route_key = context.get("routeKey")
        if isinstance(route_key, str) and " " in route_key:
            method, template = route_key.split(" ", 1)
    if isinstance(template, str) and template.startswith("/"):
        return RouteTarget(method, path=arn.path, template=template), f"{method} {template}"
    return RouteTarget(method, path=arn.path), f"{method} {arn.path}"


def _credential(
    event: Mapping[str, Any], kind: EventKind, config: Config
) -> tuple[str | None, str | None]:
    if kind == "token":
        return _bearer(event.get("authorizationToken"), config.allow_bare_token)
    for source in config.token_sources:
        values = _values(event, kind, source)
        if not values:
            continue
        if len(values) > 1:
            return None, f"more than one {source.kind} {source.name}"
        if source.kind == "header":
            return _bearer(values[0], config.allow_bare_token)
        return (values[0].strip() or None), None
    return None, None


def _bearer(value: object, allow_bare: bool) -> tuple[str | None, str | None]:
    if not isinstance(value, str) or not value.strip():
        return None, None
    text = value.strip()
    match = _BEARER_RE.match(text)
    if match:
        return match.group(1), None
    if "," in text:
        return None, "more than one credential in the header"
    if allow_bare and not any(char.isspace() for char in text):
        return text, None
    return None, "not a Bearer credential"


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
