"""Lambda entry point (``Handler: jwt_authorizer.app.handler``).

Importing this module is the init phase: the configuration is validated (a bad one fails the
deployment's first call loudly) and every key set is prefetched in parallel.
"""

from __future__ import annotations

from typing import Any

from .handler import Authorizer

AUTHORIZER = Authorizer.from_environ()


def handler(event: Any, context: Any) -> dict[str, Any]:
    return AUTHORIZER(event, context)


if AUTHORIZER.config.telemetry.tracing:  # the Tracer costs imports: opt-in
    from aws_lambda_powertools import Tracer

    handler = Tracer().capture_lambda_handler(handler)
