"""Builders for API Gateway proxy events as the sample backend receives them.

REST (payload 1.0 proxy integration) events carry the authorizer's context flattened to strings in
``requestContext.authorizer``; HTTP API (payload 2.0) events carry it under
``requestContext.authorizer.lambda``. Shapes follow the Powertools test events
(apiGatewayProxyEvent.json, apiGatewayProxyV2LambdaAuthorizerEvent.json).
"""

from __future__ import annotations

import json
from typing import Any

ALLOW_CONTEXT: dict[str, Any] = {
    "sub": "user-123",
    "issuer": "https://login.example.test/tenant/v2.0/",
    "client_id": "client-abc",
    "scopes": "app.read app.write",
    "token_expires": 4102444800,
}


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
) -> dict[str, Any]:
    """A REST API proxy event; authorizer context values are stringified like API Gateway does."""
    authorizer: dict[str, Any] | None = None
    if context is not None or principal_id is not None:
        authorizer = {key: _rest_string(value) for key, value in (context or {}).items()}
        if principal_id is not None:
            authorizer["principalId"] = principal_id
        authorizer["integrationLatency"] = 12
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Authorization": "Bearer eyJ.fake.token", "Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "authorizer": authorizer,
            "httpMethod": method,
            "path": f"/v1{path}",
            "protocol": "HTTP/1.1",
            "requestId": "rest-req-1",
            "resourcePath": resource,
            "stage": "v1",
            "identity": {"sourceIp": "192.0.2.10", "userAgent": "pytest"},
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


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
        authorizer = {"lambda": context}
    request_context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "api-id",
        "domainName": "id.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "id",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.10",
            "userAgent": "pytest",
        },
        "requestId": "http-req-1",
        "routeKey": route,
        "stage": "$default",
        "time": "12/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1583348638390,
    }
    if authorizer is not None:
        request_context["authorizer"] = authorizer
    return {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"authorization": "Bearer eyJ.fake.token", "content-type": "application/json"},
        "requestContext": request_context,
        "pathParameters": path_parameters,
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def _rest_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
