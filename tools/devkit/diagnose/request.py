"""The request a diagnosis imagines: a credential on a route, as API Gateway would send it.

The events come from :mod:`devkit.events` (the shapes the emulator and the fixtures use); the
function's own ``event.read_event`` finds the token in them and its ``handler.Authorizer``
answers them. :func:`answers` reports, per API type, the status a client would get.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from devkit import iam
from devkit.events import (
    Stage,
    client_request,
    http_authorizer_event_v2,
    rest_request_event,
    token_event,
)
from devkit.template import TemplateError, load_template
from jwt_authorizer.config import Config
from jwt_authorizer.errors import fact
from jwt_authorizer.event import read_event, require_token
from jwt_authorizer.handler import Authorizer
from jwt_authorizer.routes import RouteRule, RouteTable, parse_route_key

__all__ = ["Answer", "RouteRequest", "answers", "http_route_key", "read_credential"]

#: The stages the imagined requests arrive on (made-up API ids, the template's stage names).
REST_STAGE: Final = Stage(api_id="explainrst", name="v1")
HTTP_STAGE: Final = Stage(api_id="explainhtp", name="$default")
_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class RouteRequest:
    """A concrete request: ``GET /orders/o-1`` (a method and a path, not a template)."""

    method: str
    path: str

    @classmethod
    def parse(cls, text: str) -> RouteRequest:
        """``"GET /orders"`` (raises ``ValueError`` with what is wrong)."""
        parts = text.split()
        if len(parts) != 2 or parts[0].upper() not in _METHODS or not parts[1].startswith("/"):
            raise ValueError(
                f"--route must be a method and a path, e.g. 'GET /orders/o-1', not {text!r}"
            )
        return cls(parts[0].upper(), parts[1])

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def authorization_of(credential: str) -> str | None:
    """The ``Authorization`` header a client sends: a bare token gets ``Bearer``; a value with
    a scheme (``Bearer x``, ``Basic x``, ``Bearer a, Bearer b``) is sent as it is."""
    text = credential.strip()
    if not text:
        return None
    return text if any(char.isspace() for char in text) else f"Bearer {text}"


def read_credential(credential: str, config: Config, route: RouteRequest | None) -> tuple[str, str]:
    """The token the function finds in a REST REQUEST event carrying ``credential`` (raises the
    function's ``missing_token`` or ``malformed_token``), and the header value sent."""
    authorization = authorization_of(credential)
    where = route or RouteRequest("GET", "/")
    request = client_request(
        where.method, where.path, stage=REST_STAGE, authorization=authorization
    )
    event = rest_request_event(REST_STAGE, request)
    found = read_event(
        event, token_sources=config.token_sources, allow_bare_token=config.allow_bare_token
    )
    return require_token(found), authorization or ""


@dataclass
class Answer:
    """One API type's answer to the request."""

    api: str
    allowed: bool
    status: int
    reason: str
    summary: str
    log_lines: list[str] = field(default_factory=list)


def answers(
    authorizer: Authorizer,
    lines: Callable[[], list[dict[str, Any]]],
    route: RouteRequest,
    credential: str,
    config: Config,
    route_key: str | None,
) -> list[Answer]:
    """The handler's answer on the REST API (TOKEN authorizer, IAM policy) and on the HTTP API
    (payload 2.0; a simple response or an IAM policy, per ``response_mode``). ``lines`` returns
    (and forgets) what the handler logged since the last call."""
    authorization = authorization_of(credential) or ""
    rest_arn = REST_STAGE.arn(route.method, route.path)
    results = [
        _call(authorizer, lines, token_event(authorization, rest_arn), "REST", rest_arn, "REST API")
    ]
    key = route_key or f"{route.method} {route.path}"
    request = client_request(
        route.method, route.path, stage=HTTP_STAGE, authorization=authorization, route_key=key
    )
    event = http_authorizer_event_v2(HTTP_STAGE, request, [authorization, key])
    mode = "simple response" if config.response_mode == "simple" else "IAM policy"
    label = f"HTTP API (payload 2.0, {mode}, route key {key})"
    results.append(
        _call(authorizer, lines, event, "HTTP", HTTP_STAGE.arn(route.method, route.path), label)
    )
    return results


def _call(
    authorizer: Authorizer,
    lines: Callable[[], list[dict[str, Any]]],
    event: dict[str, Any],
    api: str,
    arn: str,
    label: str,
) -> Answer:
    lines()
    try:
        output = authorizer(event)
    except Exception as err:
        logged = lines()
        reason = _reason(logged)
        if str(err) == "Unauthorized":
            note = "raises Unauthorized → 401"
            if api == "HTTP":
                note += " (on HTTP APIs unconfirmed: the emulator answers 401)"
            return Answer(api, False, 401, reason, f"{label}: {note}", _shown(logged))
        summary = f"{label}: raises {type(err).__name__} → 500"
        return Answer(api, False, 500, reason, summary, _shown(logged))
    logged = lines()
    if "isAuthorized" in output:
        allowed = output["isAuthorized"] is True
        status = 200 if allowed else 403
        summary = f"{label}: isAuthorized {str(allowed).lower()} → {status}"
        return Answer(api, allowed, status, _reason(logged), summary, _shown(logged))
    parsed = iam.parse_authorizer_answer(output)
    decision = iam.evaluate(parsed.statements, arn)
    allowed = decision is iam.Decision.ALLOW
    effect = "allows" if allowed else "denies"
    status = 200 if allowed else 403
    statements = len(parsed.statements)
    summary = (
        f"{label}: IAM policy ({statements} statement{'s' if statements != 1 else ''}) "
        f"{effect} {_method_path(arn)} → {status}"
    )
    return Answer(api, allowed, status, _reason(logged), summary, _shown(logged))


def _method_path(arn: str) -> str:
    """``GET /orders`` from a method ARN."""
    resource = arn.split(":", 5)[5]
    _api, _stage, method_path = resource.split("/", 2)
    method, _, path = method_path.partition("/")
    return f"{method} /{path}"


def _reason(logged: list[dict[str, Any]]) -> str:
    for line in logged:
        if line.get("message") == "request denied":
            return str(line.get("reason"))
    return "ok"


def _shown(logged: list[dict[str, Any]]) -> list[str]:
    """The handler's log lines as JSON, values bounded and escaped like the function's."""
    return [
        json.dumps({key: fact(value) for key, value in line.items()}, separators=(",", ":"))
        for line in logged
    ]


def http_route_key(
    template: Path, parameters: dict[str, str] | Any, route: RouteRequest
) -> str | None:
    """The route key the template's HTTP API would match for ``route`` (API Gateway's
    precedence, computed with the function's own route matching), or None."""
    try:
        model = load_template(template, parameter_overrides=dict(parameters))
    except (TemplateError, OSError):
        return None
    for api in model.http_apis.values():
        keys = [r.route_key for r in api.routes if r.authorizer is not None]
        rules = []
        for key in keys:
            if key == "$default":
                rules.append(RouteRule(route_key=key, method="$default", path=""))
                continue
            method, path = parse_route_key(key)
            rules.append(RouteRule(route_key=key, method=method, path=path))
        table = RouteTable(rules, unmatched_allows=False)
        rule = table.rule_of(table.winner(route.method, route.path))
        if rule is not None:
            return rule.route_key
    return None
