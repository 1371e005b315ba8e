"""The environment variables Lambda gives a function, and applying them while it runs.

:func:`function_environment` composes what a Lambda sandbox shows a function, the way
``sam local invoke`` does: Lambda's own variables (``AWS_REGION``, ``AWS_LAMBDA_FUNCTION_NAME``,
``_HANDLER``...), then the variables the template declares, then the overrides of an env-vars
file for variables the template declares (others are ignored, as SAM does).

:func:`applied_environment` is the one place ``os.environ`` changes. It cannot be avoided: the
functions read ``os.environ`` during init (``jwt_authorizer.app``) and while handling requests
(Powertools, the sample backend's CORS origin), and handlers run in this process. It is
applied for the duration of an init or an invocation only, under the runtime's lock
(invocations are serialised, as in one Lambda execution environment), and undone afterwards:

* **overlay** (the emulator): the function's variables on top of the host's;
* **isolated** (``invoke``): exactly the function's variables, plus the few host variables a
  sandbox has too (``PATH``, temporary directories), so a shell's ``AUTH_CONFIG`` cannot leak
  into a run the way it never reaches a deployed function.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Final

from devkit.constants import REGION
from devkit.runtime.function import FunctionSpec

__all__ = [
    "PASSTHROUGH",
    "applied_environment",
    "function_environment",
    "lambda_variables",
    "load_env_vars",
]

#: Host variables a Lambda sandbox also has; nothing else leaks into an isolated invocation.
PASSTHROUGH: Final = ("PATH", "SYSTEMROOT", "TMPDIR", "TEMP", "TMP")


def lambda_variables(function: FunctionSpec, *, region: str = REGION) -> dict[str, str]:
    """The variables the Lambda service itself sets for ``function``."""
    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(function.timeout),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local/[$LATEST]devkit",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime or 'python3.13'}",
        "AWS_SAM_LOCAL": "true",
        "LAMBDA_TASK_ROOT": str(function.code_uri or ""),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "_HANDLER": function.handler or "",
    }


def function_environment(
    function: FunctionSpec,
    env_vars: Mapping[str, Mapping[str, str]] | None = None,
    *,
    region: str = REGION,
    warn: Callable[[str], None] | None = None,
) -> dict[str, str]:
    """Lambda's variables, the declared ones, then ``env_vars`` overrides (SAM's file shape).

    As in SAM CLI, the file's ``Parameters`` apply to every function and the function's own
    section wins; a variable the template does not declare is ignored (and reported through
    ``warn``), because a deployed function would not have it either.
    """
    declared = dict(function.environment)
    sections = env_vars or {}
    overrides = {**sections.get("Parameters", {}), **sections.get(function.logical_id, {})}
    for name, value in overrides.items():
        if name in declared:
            declared[name] = value
        elif warn is not None:
            warn(
                f"{function.logical_id}: {name} is not declared in the template; "
                "ignored (as SAM does)"
            )
    return {**lambda_variables(function, region=region), **declared}


def load_env_vars(path: str | Path | None) -> dict[str, dict[str, str]]:
    """Read a ``sam local invoke --env-vars`` file (``ValueError`` if unusable).

    Shape: ``{"<LogicalId>": {"VAR": "value"}, "Parameters": {...}}`` (Parameters: all
    functions). Numbers and booleans become text the way SAM passes them.
    """
    if path is None:
        return {}
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror}") from err
    except ValueError as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from err
    if not isinstance(document, dict):
        raise ValueError('expected {"FunctionLogicalId": {"VAR": "value"}, ...}')
    result: dict[str, dict[str, str]] = {}
    for scope, variables in document.items():
        if not isinstance(variables, dict):
            raise ValueError(f"{scope!r} must map variable names to values")
        converted: dict[str, str] = {}
        for name, value in variables.items():
            if isinstance(value, dict | list) or value is None:
                raise ValueError(f"{scope}.{name} must be a string, number or bool")
            converted[name] = (
                ("true" if value else "false") if isinstance(value, bool) else str(value)
            )
        result[scope] = converted
    return result


@contextlib.contextmanager
def applied_environment(values: Mapping[str, str], *, isolate: bool = False) -> Iterator[None]:
    """``values`` in ``os.environ`` for the duration, on top of the host's or (``isolate``)
    instead of them; the previous environment is restored afterwards either way."""
    if isolate:
        saved = dict(os.environ)
        kept: dict[str, str] = {name: saved[name] for name in PASSTHROUGH if name in saved}
        os.environ.clear()
        os.environ.update({**kept, **values})
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
