"""Hand-written stand-in backend for the emulator tests: echoes what it received."""

from __future__ import annotations

import json
import os
from typing import Any


def handler(event: dict[str, Any], context: Any) -> Any:
    path = event.get("rawPath") or event.get("path") or ""
    if path.endswith("/broken"):
        return {"statusCode": 200, "body": {"not": "a string"}}
    if path.endswith("/raise"):
        raise RuntimeError("backend failure")
    if path.endswith("/bare"):
        return {"hello": "world"}
    context_info = {"function_name": context.function_name, "env": os.environ.get("GLOBAL_VAR")}
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "X-Backend": "stub"},
        "multiValueHeaders": {"X-Multi": ["1", "2"]},
        "body": json.dumps({"event": event, "context": context_info}),
    }
