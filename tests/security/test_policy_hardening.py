"""Two bugs this suite found in policy.py (fixed), kept as regression tests.

1. IAM's ``*`` in a cached Allow for ``GET /orders/{id}`` also matched deeper, unlisted paths.
2. Wildcard matching by regular expression backtracked: k path parameters cost len(ARN)**k.
"""

from __future__ import annotations

import time
from typing import Any

from tests.security.world import world
from tests.support.hostile import Route, event_arn, invoke, make_event
from tests.support.iam import allows
from tests.support.observers import RecordingObserver


def test_a_cached_policy_never_allows_what_a_fresh_call_denies() -> None:
    """API Gateway caches the policy per token and evaluates it for later calls to any route.

    Rules: GET /orders/{id} needs app.read; everything unnamed is denied. A caller with app.read
    first calls GET /orders (policy: Allow GET/orders/*). A fresh call to GET /orders/1/audit is
    denied (route_not_permitted), but the cached policy allows it.
    """
    w = world()
    authorizer = w.authorizer("simple", observer=RecordingObserver())
    token = f"Bearer {w.token('b2c')}"
    first = Route("GET", "/orders")
    later = Route("GET", "/orders/1/audit", template="/{proxy+}")
    cached = invoke(authorizer, make_event("token", token, first), arn=None, simple=False)
    fresh = invoke(
        authorizer, make_event("token", token, later), arn=event_arn("token", later), simple=False
    )
    assert fresh.status == 403
    assert cached.answer is not None
    assert not allows(cached.answer, event_arn("token", later))


def _best_of_three(authorizer: Any, event: dict[str, Any]) -> float:
    """The authorizer's own time (the test-side IAM evaluator, a regular expression, is not
    what is measured)."""
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        authorizer(event, None)
        timings.append(time.perf_counter() - started)
    return min(timings)


def test_policy_evaluation_scales_at_most_quadratically_with_the_path() -> None:
    """A route with three consecutive parameters and a long request path (a valid token is
    needed; the path reaches the authorizer through any greedy route). Quadrupling the path
    should cost at most 16x (quadratic); cubic backtracking costs about 64x. At the 1 600-byte
    ARN limit this one route takes about a second per call, four parameters take minutes."""
    w = world()
    authorizer = w.authorizer(
        "simple",
        observer=RecordingObserver(),
        routes=[
            {"route": "GET /{a}/{b}/{c}/x", "scopes": ["app.read"]},
            {"route": "GET /orders", "scopes": ["app.read"]},
        ],
    )
    token = f"Bearer {w.token('b2c')}"
    short = make_event("token", token, Route("GET", "/" + "a/" * 100))
    long = make_event("token", token, Route("GET", "/" + "a/" * 400))
    _best_of_three(authorizer, short)  # warm caches
    ratio = _best_of_three(authorizer, long) / _best_of_three(authorizer, short)
    assert ratio < 16, f"4x the path cost {ratio:.0f}x the time"
