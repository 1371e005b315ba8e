"""Builders for API Gateway proxy events as the sample backend receives them.

The shapes are devkit.events' (the emulator's and the fixtures'): REST (payload 1.0 proxy
integration) events carry the authorizer's context with numbers and booleans as strings in
``requestContext.authorizer``; HTTP API (payload 2.0) events carry it under
``requestContext.authorizer.lambda``.
"""

from __future__ import annotations

import json
from typing import Any

from devkit import events

ALLOW_CONTEXT: dict[str, Any] = {
    "sub": "user-123",
    "issuer": "https://login.example.test/tenant/v2.0/",
    "client_id": "client-abc",
    "scopes": "app.read app.write",
    "token_expires": 4102444800,
}

REST = events.Stage(api_id="abcdef1234", name="v1")
HTTP = events.Stage(api_id="api-id", name="$default")


def _request(
    stage: events.Stage,
    method: str,
    resource: str,
    path: str,
    *,
    body: Any,
    path_parameters: dict[str, str] | None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    request_id: str,
    route_key: str | None = None,
) -> events.Request:
    return events.client_request(
        method,
        path,
        stage=stage,
        authorization="Bearer eyJ.fake.token",
        resource=resource,
        path_parameters=path_parameters,
        body=None if body is None else json.dumps(body),
        query=tuple((query or {}).items()),
        headers=tuple((headers or {}).items()),
        user_agent="pytest",
        source_ip="192.0.2.10",
        request_id=request_id,
        route_key=route_key,
    )


def rest_event(
    method: str,
    resource: str,
    path: str,
    *,
    context: dict[str, Any] | None = None,
    path_parameters: dict[str, str] | None = None,
    body: Any = None,
    principal_id: str | None = "user-123",
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A REST API proxy event; authorizer context values are stringified like API Gateway does.

    ``headers`` are sent on top of a JSON client's usual ones (Authorization, Content-Type...).
    """
    request = _request(
        REST,
        method,
        resource,
        path,
        body=body,
        path_parameters=path_parameters,
        query=query,
        headers=headers,
        request_id="rest-req-1",
    )
    authorizer = None
    if context is not None or principal_id is not None:
        authorizer = events.rest_authorizer_context(
            context or {}, principal_id or "", integration_latency=12
        )
        if principal_id is None:
            del authorizer["principalId"]
    return events.rest_proxy_event(REST, request, authorizer=authorizer)


def http_event(
    method: str,
    route: str,
    path: str,
    *,
    context: dict[str, Any] | None = None,
    path_parameters: dict[str, str] | None = None,
    body: Any = None,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An HTTP API payload 2.0 event with a Lambda authorizer's context (JSON types preserved)."""
    if authorizer is None and context is not None:
        authorizer = events.http_authorizer_context(context)
    resource = route.partition(" ")[2] or None
    request = _request(
        HTTP,
        method,
        resource or path,
        path,
        body=body,
        path_parameters=path_parameters,
        request_id="http-req-1",
        route_key=route,
    )
    return events.http_proxy_event_v2(HTTP, request, authorizer=authorizer)
