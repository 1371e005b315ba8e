"""The emulator's functions: one warm Lambda runtime (an execution environment) per function."""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from collections.abc import Mapping
from typing import Any

from devkit.runtime import Function, FunctionError, FunctionSpec, Handler, LambdaRuntime
from devkit.template import TemplateModel

__all__ = ["Invoker"]


class Invoker:
    """One warm :class:`LambdaRuntime` per function (an execution environment), call counts."""

    def __init__(
        self, model: TemplateModel, overrides: Mapping[str, Handler | LambdaRuntime], region: str
    ) -> None:
        self.model = model
        self.region = region
        self._runtimes: dict[str, LambdaRuntime] = {}
        for function_id, override in overrides.items():
            if isinstance(override, LambdaRuntime):
                self._runtimes[function_id] = override
            else:
                spec: FunctionSpec = model.functions.get(function_id) or Function.named(
                    function_id, region=region
                )
                self._runtimes[function_id] = LambdaRuntime.of_handler(
                    spec, override, region=region
                )
        self._counts: defaultdict[str, int] = defaultdict(int)
        self._events: defaultdict[str, deque[dict[str, Any]]] = defaultdict(
            lambda: deque(maxlen=100)
        )
        self._lock = threading.Lock()

    def count(self, function_id: str) -> int:
        with self._lock:
            return self._counts[function_id]

    def events(self, function_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(json.dumps(e)) for e in self._events[function_id]]

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._events.clear()

    def _runtime(self, function_id: str) -> LambdaRuntime:
        with self._lock:
            runtime = self._runtimes.get(function_id)
            if runtime is None:
                function = self.model.functions.get(function_id)
                if function is None:
                    raise FunctionError(
                        "ResourceNotFoundException", f"Function not found: {function_id}"
                    )
                runtime = self._runtimes[function_id] = LambdaRuntime(function, region=self.region)
            return runtime

    def invoke(self, function_id: str, event: dict[str, Any]) -> Any:
        """Invoke in-process; raises :class:`FunctionError` the way Lambda reports errors."""
        runtime = self._runtime(function_id)
        with self._lock:
            self._counts[function_id] += 1
            self._events[function_id].append(json.loads(json.dumps(event)))
        return runtime.invoke(event).result()
