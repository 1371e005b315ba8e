"""Sample backend behind both APIs: shows who called and with which permissions.

One Lambda serves the REST API (payload 1.0 proxy events, ``APIGatewayRestResolver``) and the HTTP
API (payload 2.0 events, ``APIGatewayHttpResolver``); ``handler`` picks the resolver by
``event["version"]``. The authorizer has already decided whether the call may reach a route; this
code only reports the decision (``caller``) and does no authorization of its own. Nothing is
stored: POST /orders answers with the order it would have created.

Routes (the permission each needs is enforced by the authorizer from its route rules):
    GET  /health           public (no authorizer)
    GET  /whoami           any valid token
    GET  /orders           app.read
    POST /orders           app.write
    GET  /orders/{id}      app.read (REST: the REQUEST authorizer variant)
    ANY  /admin/{proxy+}   app.admin (echo)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import (
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    CORSConfig,
    Response,
    content_types,
)
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext

from sample_backend.caller import caller_from_event, is_http_api_event

# Read-only sample data, so GET /orders and GET /orders/{id} have something to show.
SAMPLE_ORDERS: dict[str, dict[str, Any]] = {
    "o-1001": {"id": "o-1001", "item": "coffee beans", "quantity": 2, "status": "shipped"},
    "o-1002": {"id": "o-1002", "item": "grinder", "quantity": 1, "status": "processing"},
}

ADMIN_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def route_key(event: Mapping[str, Any]) -> str:
    """The API Gateway route that matched, in the route-rule form ``"GET /orders/{id}"``."""
    if is_http_api_event(event):
        return str(event.get("routeKey") or "")
    return f"{event.get('httpMethod') or ''} {event.get('resource') or ''}".strip()


def describe(event: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The common answer: who called, through which API and route."""
    context = event.get("requestContext")
    request_id = context.get("requestId") if isinstance(context, Mapping) else None
    return {
        "caller": caller_from_event(event).as_dict(),
        "api": "http" if is_http_api_event(event) else "rest",
        "route": route_key(event),
        "request_id": request_id,
        **extra,
    }


def new_order(event: Mapping[str, Any], body: Any) -> dict[str, Any]:
    """The order POST /orders would create: the request body plus server-set fields."""
    if not isinstance(body, Mapping):
        raise BadRequestError("the request body must be a JSON object")
    context = event.get("requestContext")
    request_id = context.get("requestId") if isinstance(context, Mapping) else None
    order_id = f"o-{request_id}" if request_id else "o-new"
    return {
        **body,
        "id": order_id,
        "status": "created",
        "created_by": caller_from_event(event).sub,
    }


def _json_body(raw: str | None) -> Any:
    if not raw:
        raise BadRequestError("the request body must be a JSON object")
    try:
        return json.loads(raw)
    except ValueError as error:
        raise BadRequestError("the request body is not valid JSON") from error


def _cors() -> CORSConfig:
    return CORSConfig(
        allow_origin=os.environ.get("CORS_ALLOW_ORIGIN") or "*",
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["WWW-Authenticate"],
        max_age=600,
    )


def register_routes(app: ApiGatewayResolver) -> None:
    """Add the sample routes to one resolver (called once for REST, once for HTTP)."""

    def raw() -> dict[str, Any]:
        return app.current_event.raw_event

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/whoami")
    def whoami() -> dict[str, Any]:
        return describe(raw())

    @app.get("/orders")
    def list_orders() -> dict[str, Any]:
        return describe(raw(), orders=list(SAMPLE_ORDERS.values()))

    @app.post("/orders")
    def create_order() -> Response[str]:
        event = raw()
        order = new_order(event, _json_body(app.current_event.decoded_body))
        return Response(
            status_code=201,
            content_type=content_types.APPLICATION_JSON,
            body=json.dumps(describe(event, order=order), separators=(",", ":")),
            headers={"Location": f"/orders/{order['id']}"},
        )

    @app.get("/orders/<order_id>")
    def get_order(order_id: str) -> dict[str, Any]:
        order = SAMPLE_ORDERS.get(order_id)
        if order is None:
            raise NotFoundError(f"no order {order_id}")
        return describe(raw(), order=order)

    @app.route("/admin/.+", method=ADMIN_METHODS)
    def admin_echo() -> dict[str, Any]:
        event = app.current_event
        return describe(
            raw(),
            admin={
                "method": event.http_method,
                "path": event.path,
                "query": dict(event.query_string_parameters or {}),
            },
        )


rest_app = APIGatewayRestResolver(cors=_cors())
http_app = APIGatewayHttpResolver(cors=_cors())
register_routes(rest_app)
register_routes(http_app)


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point for both APIs."""
    app: ApiGatewayResolver = http_app if is_http_api_event(event) else rest_app
    return app.resolve(event, context)
