"""One Lambda execution environment in this process: :class:`LambdaRuntime`.

Lifecycle, as on Lambda: the first invocation runs the **init** phase (import the handler's
module, which is where the authorizer reads its configuration and prefetches keys), then the
handler. A **warm** runtime keeps the initialised handler for later invocations (the emulator:
one execution environment per function); a **cold** one (``warm=False``) initialises again for
every invocation (``python -m devkit invoke``, like ``sam local invoke``). An init that fails is
reported as the invocation's error and retried by the next invocation, as Lambda does.

Every init and invocation runs under one process-wide lock, with the function's environment
applied (:mod:`devkit.runtime.environment`) and its stdout captured into the
:class:`Invocation` (:mod:`devkit.runtime.logs`). Events and answers go through JSON, as
between API Gateway and Lambda, so a handler returning something JSON cannot carry fails the
way Lambda fails it (``Runtime.MarshalError``).

The handler module is imported afresh for each init and the previously imported module, if any,
put back afterwards: every runtime owns its module-level state (the authorizer's caches), and an
emulator, a test or another runtime in the same process keeps its own.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

from devkit.constants import REGION
from devkit.runtime.context import LambdaContext
from devkit.runtime.environment import applied_environment, function_environment
from devkit.runtime.errors import ErrorDocument, FunctionError, error_document
from devkit.runtime.function import FunctionSpec, Handler
from devkit.runtime.logs import captured_logs

__all__ = ["INVOKE_LOCK", "Initializer", "Invocation", "LambdaRuntime", "import_handler"]

LOG = logging.getLogger("devkit.runtime")

#: Handlers run in this process and ``os.environ``/``sys.stdout``/``sys.path`` are global, so
#: inits and invocations are serialised (one Lambda execution environment also runs one
#: invocation at a time). Re-entrant: a handler may invoke another function in-process.
INVOKE_LOCK: Final = threading.RLock()

Initializer = Callable[[Mapping[str, str]], Handler]
"""Builds the handler from the function's environment: a custom init phase."""


@dataclass(frozen=True)
class Invocation:
    """One invocation's outcome: the answer or Lambda's error document, and the logs."""

    request_id: str
    answer: Any
    error: ErrorDocument | None
    logs: str
    #: Whether this invocation ran the init phase (a cold start).
    cold: bool

    @property
    def output(self) -> Any:
        """What ``invoke`` prints and Lambda's Invoke API returns: the answer or the error."""
        return self.error if self.error is not None else self.answer

    def result(self) -> Any:
        """The answer, or :class:`FunctionError` as Lambda reported it."""
        if self.error is not None:
            raise FunctionError(self.error["errorType"], self.error["errorMessage"])
        return self.answer


def _json_roundtrip(value: Any) -> Any:
    """Lambda moves payloads as JSON: copy the way the service would (and fail likewise)."""
    return json.loads(json.dumps(value))


class LambdaRuntime:
    """One execution environment of ``function``.

    ``environment``: the variables the function sees (default: Lambda's plus the declared
    ones, :func:`~devkit.runtime.environment.function_environment`); ``isolate``: only those
    (plus ``PATH`` and temporary directories) instead of on top of the host's. ``init``: builds
    the handler instead of importing ``function.handler`` from ``function.code_uri``.
    ``log_target``: where the function's output goes as it is written (default: wherever
    stdout was); it is collected into every :class:`Invocation` either way.
    """

    def __init__(
        self,
        function: FunctionSpec,
        *,
        environment: Mapping[str, str] | None = None,
        init: Initializer | None = None,
        warm: bool = True,
        isolate: bool = False,
        region: str = REGION,
        log_target: TextIO | None = None,
    ) -> None:
        self.function = function
        self.environment: dict[str, str] = dict(
            environment
            if environment is not None
            else function_environment(function, region=region)
        )
        self.warm = warm
        self.isolate = isolate
        self.log_target = log_target
        self._init = init
        self._handler: Handler | None = None

    @classmethod
    def of_handler(cls, function: FunctionSpec, handler: Handler, **kwargs: Any) -> LambdaRuntime:
        """A runtime whose init phase just hands out ``handler`` (no module to import)."""
        return cls(function, init=lambda _environment: handler, **kwargs)

    @property
    def initialised(self) -> bool:
        return self._handler is not None

    def initialise(self) -> ErrorDocument | None:
        """Run the init phase now (like provisioned concurrency); the error document if it
        failed. Its logs go to ``log_target`` (or stdout) only."""
        with INVOKE_LOCK, captured_logs(self.log_target), self._environment():
            return self._ensure_initialised()

    def reset(self) -> None:
        """Forget the initialised handler: the next invocation is a cold start."""
        self._handler = None

    def invoke(self, event: Any, *, request_id: str | None = None) -> Invocation:
        """Run the handler on ``event`` (initialising first if needed)."""
        request_id = request_id or str(uuid.uuid4())
        payload = _json_roundtrip(event)
        answer: Any = None
        with INVOKE_LOCK, captured_logs(self.log_target) as logs, self._environment():
            cold = self._handler is None
            error = self._ensure_initialised()
            if error is None:
                assert self._handler is not None
                answer, error = self._call(self._handler, payload, request_id)
            if not self.warm:
                self._handler = None
        return Invocation(request_id, answer, error, logs.getvalue(), cold)

    # -- internals ---------------------------------------------------------------------------

    def _environment(self) -> contextlib.AbstractContextManager[None]:
        return applied_environment(self.environment, isolate=self.isolate)

    def _ensure_initialised(self) -> ErrorDocument | None:
        if self._handler is not None:
            return None
        code_uri = self.function.code_uri
        if code_uri is not None and str(code_uri) not in sys.path:
            sys.path.insert(0, str(code_uri))  # the task root, where Lambda imports from
        try:
            if self._init is not None:
                self._handler = self._init(self.environment)
            else:
                self._handler = import_handler(self.function)
        except Exception as exc:
            LOG.debug("%s: init failed: %r", self.function.logical_id, exc, exc_info=True)
            return error_document(exc)
        return None

    def _call(
        self, handler: Handler, payload: Any, request_id: str
    ) -> tuple[Any, ErrorDocument | None]:
        context = LambdaContext.for_function(self.function, request_id)
        try:
            result = handler(payload, context)
        except (Exception, SystemExit) as exc:
            LOG.debug("%s raised %r", self.function.logical_id, exc, exc_info=True)
            return None, error_document(exc)
        try:
            return _json_roundtrip(result), None
        except (TypeError, ValueError) as exc:
            return None, {
                "errorMessage": f"Unable to marshal response: {exc}",
                "errorType": "Runtime.MarshalError",
            }


def import_handler(function: FunctionSpec) -> Handler:
    """Import ``function.handler`` from ``function.code_uri`` afresh (an init phase).

    Failures are the runtime's own: ``Runtime.MalformedHandlerName``,
    ``Runtime.ImportModuleError`` (an ``ImportError``), ``Runtime.UserCodeSyntaxError``,
    ``Runtime.HandlerNotFound``; anything else the module raises propagates as itself.
    """
    if not function.handler or function.code_uri is None:
        raise FunctionError(
            "Runtime.HandlerNotFound",
            f"{function.logical_id}: needs Handler and a local CodeUri",
        )
    module_name, _, attribute = function.handler.rpartition(".")
    if not module_name:
        raise FunctionError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{function.handler}': not enough values to unpack (expected 2, got 1)",
        )
    module_name = module_name.replace("/", ".")
    if str(function.code_uri) not in sys.path:
        sys.path.insert(0, str(function.code_uri))
    _forget_foreign_modules(module_name.split(".")[0], function.code_uri)
    previous = sys.modules.pop(module_name, None)
    parent_name, _, child = module_name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise FunctionError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from exc
    except SyntaxError as exc:
        raise FunctionError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
        ) from exc
    finally:
        if previous is not None:
            sys.modules[module_name] = previous
            parent = sys.modules.get(parent_name) if parent_name else None
            if parent is not None:
                setattr(parent, child, previous)
        else:
            sys.modules.pop(module_name, None)
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise FunctionError(
            "Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'"
        )
    return handler  # type: ignore[no-any-return]


def _forget_foreign_modules(top: str, code_uri: Path) -> None:
    """Drop an already imported package of the same name that lives elsewhere.

    Two functions may both use ``app.handler`` from different ``CodeUri`` folders.
    """
    module = sys.modules.get(top)
    if module is None:
        return
    files = [getattr(module, "__file__", None), *list(getattr(module, "__path__", []) or [])]
    if any(f and Path(f).resolve().is_relative_to(code_uri) for f in files):
        return
    for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
        del sys.modules[name]
