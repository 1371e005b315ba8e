"""The context object a handler receives (the attributes of Lambda's Python runtime)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from devkit.runtime.function import FunctionSpec

__all__ = ["LambdaContext"]


@dataclass
class LambdaContext:
    """What ``awslambdaric``'s ``LambdaContext`` offers, with the deadline on this process's
    monotonic clock: ``get_remaining_time_in_millis`` counts down from the function's timeout.
    ``memory_limit_in_mb`` is text, as the real runtime reads it from the environment."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: str
    aws_request_id: str
    timeout_seconds: int = 3
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local/[$LATEST]devkit"
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    @classmethod
    def for_function(cls, function: FunctionSpec, request_id: str | None = None) -> LambdaContext:
        """The context of one invocation of ``function``; the deadline starts now."""
        return cls(
            function_name=function.function_name,
            invoked_function_arn=function.arn,
            memory_limit_in_mb=str(function.memory_size),
            aws_request_id=request_id or str(uuid.uuid4()),
            timeout_seconds=function.timeout,
        )

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's configured timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))
