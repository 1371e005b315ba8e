"""The in-process Lambda runtime: the one way the devkit runs a function's code.

* :mod:`~devkit.runtime.function`: what the runtime needs to know of a function;
* :mod:`~devkit.runtime.context`: the context object handlers receive;
* :mod:`~devkit.runtime.environment`: the environment variables Lambda gives a function, and
  how they are applied while it runs;
* :mod:`~devkit.runtime.logs`: capturing what the function prints (its logs);
* :mod:`~devkit.runtime.errors`: the error documents Lambda reports;
* :mod:`~devkit.runtime.invoke`: :class:`LambdaRuntime`, one execution environment, cold or warm.

``python -m devkit invoke`` (cold, isolated environment, like ``sam local invoke``) and the API
Gateway emulator (warm, environment overlaid) both run functions through :class:`LambdaRuntime`.
:mod:`~devkit.runtime.api` serves the Lambda Runtime API on loopback, so the real runtime
interface client can run a function too and serve as an independent oracle.
"""

from __future__ import annotations

from devkit.runtime.context import LambdaContext
from devkit.runtime.environment import (
    PASSTHROUGH,
    applied_environment,
    function_environment,
    lambda_variables,
    load_env_vars,
)
from devkit.runtime.errors import ErrorDocument, FunctionError, error_document
from devkit.runtime.function import Function, FunctionSpec, Handler
from devkit.runtime.invoke import (
    INVOKE_LOCK,
    Initializer,
    Invocation,
    LambdaRuntime,
    import_handler,
)
from devkit.runtime.logs import LogSink, Tee, captured_logs

__all__ = [
    "INVOKE_LOCK",
    "PASSTHROUGH",
    "ErrorDocument",
    "Function",
    "FunctionError",
    "FunctionSpec",
    "Handler",
    "Initializer",
    "Invocation",
    "LambdaContext",
    "LambdaRuntime",
    "LogSink",
    "Tee",
    "applied_environment",
    "captured_logs",
    "error_document",
    "function_environment",
    "import_handler",
    "lambda_variables",
    "load_env_vars",
]
