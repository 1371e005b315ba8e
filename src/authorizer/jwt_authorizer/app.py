"""Lambda entry point (``Handler: jwt_authorizer.app.handler``).

Importing this module is the init phase: the configuration is validated (a bad one fails the
deployment's first call loudly) and every key set is fetched before the first call. The order
below is what keeps the cold start short (docs/scaling.md measures each step):

1. The garbage collector is paused: init allocates a great deal and frees almost nothing, so
   collections would only walk the same objects again and again. At the end, everything init
   built is frozen out of future collections and the collector resumes.
2. The key documents named in the configuration start downloading, in a worker thread whose
   first act is importing ``requests`` (:func:`source.early_fetches`). Only ``json``, ``os``
   and what ``requests`` imports anyway are loaded before it, so the first request leaves as
   early as it can, and the identity provider's answers arrive while the rest of init runs.
3. The rest is imported and the configuration validated; the key cache takes the documents the
   worker fetched (or waits for them), the route analysis runs, and init waits for the keys.
4. With SnapStart, the runtime hooks are registered (:meth:`Authorizer.register_snapstart_hooks`):
   the snapshot holds parsed keys and no socket; a restored copy opens a new HTTP session,
   judges its keys by their real age and reseeds its random generator.
"""

from __future__ import annotations

import gc

gc.disable()

from pathlib import Path  # noqa: E402 - after the collector is paused, before anything heavy
from typing import Any  # noqa: E402

from .source import early_fetches  # noqa: E402

_EARLY = early_fetches(base=Path(__file__).resolve().parent.parent)
if _EARLY is not None:
    _EARLY.start()

try:
    from .handler import Authorizer

    AUTHORIZER = Authorizer.from_environ(early=_EARLY)
    AUTHORIZER.register_snapstart_hooks()  # SnapStart: keys in the snapshot, re-aged on restore
finally:
    gc.freeze()
    gc.enable()


def handler(event: Any, context: Any) -> dict[str, Any]:
    return AUTHORIZER(event, context)


if AUTHORIZER.config.telemetry.tracing:  # the Tracer costs imports: opt-in
    from aws_lambda_powertools import Tracer

    handler = Tracer().capture_lambda_handler(handler)
