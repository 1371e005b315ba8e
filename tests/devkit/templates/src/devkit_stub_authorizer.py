"""Hand-written stand-in authorizer for the emulator tests (not the product's authorizer).

The behaviour is chosen by the token, ``Bearer <mode>[.<anything>]``; the suffix lets a test
use a fresh cache key. REST TOKEN/REQUEST and HTTP API 1.0/2.0 events are all understood.
"""

from __future__ import annotations

import os
from typing import Any


def _token(event: dict[str, Any]) -> str:
    if event.get("type") == "TOKEN":
        return str(event["authorizationToken"])
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    return str(headers.get("authorization") or headers.get("x-api-key") or "")


def _policy(effect: str, resource: Any, context: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "principalId": "user-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }
    if context is not None:
        answer["context"] = context
    return answer


def _stage_wildcard(arn: str) -> str:
    api, stage = arn.split("/")[:2]
    return f"{api}/{stage}/*/*"


MALFORMED: dict[str, Any] = {
    "notdict": "Allow",
    "none": None,
    "noprincipal": {"policyDocument": {"Version": "2012-10-17", "Statement": []}},
    "emptyprincipal": {"principalId": "", "policyDocument": {"Statement": []}},
    "nopolicy": {"principalId": "user-1"},
    "httpstyle": {"statusCode": 200, "body": "ok"},
}


def handler(event: dict[str, Any], context: Any) -> Any:
    token = _token(event)
    mode = token.removeprefix("Bearer ").split(".")[0]
    arn = event.get("methodArn") or event.get("routeArn") or ""
    simple = event.get("version") == "2.0" and mode in ("yes", "no", "string", "only-a")
    ctx: dict[str, Any] = {
        "user": "alice",
        "count": 1,
        "admin": True,
        "globalVar": os.environ.get("GLOBAL_VAR", ""),
        "stageLabel": os.environ.get("STAGE_LABEL", ""),
        "remainingPositive": context.get_remaining_time_in_millis() > 0,
        "functionName": context.function_name,
    }
    if mode == "unauthorized":
        raise Exception("Unauthorized")
    if mode == "unauthorized-detail":
        raise Exception("Unauthorized: token expired")
    if mode == "boom":
        raise ValueError("kaboom")
    if simple:
        if mode == "yes":
            return {"isAuthorized": True, "context": {**ctx, "roles": ["a", "b"]}}
        if mode == "no":
            return {"isAuthorized": False}
        if mode == "string":
            return {"isAuthorized": "true"}
        if mode == "only-a":
            return {
                "isAuthorized": event["routeKey"].endswith("/a"),
                "context": {"route": event["routeKey"]},
            }
        return {"isAuthorized": False}
    if mode in ("allow-all", "policy-wild"):
        return _policy("Allow", _stage_wildcard(arn), ctx)
    if mode in ("allow-method", "policy-route"):
        return _policy("Allow", arn, ctx)
    if mode in ("deny", "policy-deny"):
        return _policy("Deny", "*", {"reason": "blocked", "user": "mallory"})
    if mode == "implicit":
        return _policy("Allow", _stage_wildcard(arn).replace("/*/*", "/POST/nothing"))
    if mode == "ctx-array":
        return _policy("Allow", _stage_wildcard(arn), {"roles": ["a", "b"]})
    if mode == "ctx-object":
        return _policy("Allow", _stage_wildcard(arn), {"claims": {"sub": "x"}})
    if mode == "lowercase":
        answer = _policy("Allow", arn)
        answer["policyDocument"]["statement"] = answer["policyDocument"].pop("Statement")
        return answer
    if mode == "nullcondition":
        answer = _policy("Allow", arn)
        answer["policyDocument"]["Statement"][0]["Condition"] = None
        return answer
    if mode == "badeffect":
        answer = _policy("Allow", arn)
        answer["policyDocument"]["Statement"][0]["Effect"] = "allow"
        return answer
    if mode in MALFORMED:
        return MALFORMED[mode]
    raise Exception("Unauthorized")
