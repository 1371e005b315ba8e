"""``sam local invoke`` in this process: one template function, cold, on one event.

:func:`invoke_function` reads the function's Handler, CodeUri, limits and Environment from the
template (parameter overrides applied), lets an env-vars file override the variables the
template declares, and runs it once in a cold, isolated :class:`~devkit.runtime.LambdaRuntime`
(a fresh init, exactly the function's environment). ``python -m devkit invoke``, the fixture
generator and the fixture replay tests all call it, so they exercise exactly the same path.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from devkit.constants import ACCOUNT_ID, REGION
from devkit.paths import TEMPLATE
from devkit.runtime import Invocation, LambdaRuntime, function_environment
from devkit.template import TemplateError, load_template

__all__ = ["InvokeError", "invoke_function"]


class InvokeError(ValueError):
    """A problem that is not the function's: the template, an unknown function..."""


def invoke_function(
    function_id: str,
    event: Any,
    *,
    template: str | Path = TEMPLATE,
    env_vars: Mapping[str, Mapping[str, str]] | None = None,
    parameter_overrides: Mapping[str, str] | None = None,
    region: str = REGION,
    log_target: TextIO | None = None,
) -> Invocation:
    """Run ``function_id`` of ``template`` on ``event`` like ``sam local invoke``.

    The function's output is collected in the :class:`Invocation` (and also written to
    ``log_target`` when given, as it happens); notes about ignored env-vars entries come first.
    """
    try:
        model = load_template(
            template, parameter_overrides=parameter_overrides, region=region, account_id=ACCOUNT_ID
        )
    except (OSError, TemplateError) as err:
        raise InvokeError(f"{template}: {err}") from err
    function = model.functions.get(function_id)
    if function is None:
        known = ", ".join(sorted(model.functions)) or "none"
        raise InvokeError(f"{function_id} is not a function of {template} (functions: {known})")
    if not function.handler or function.code_uri is None:
        raise InvokeError(f"{function_id}: needs Handler and a local CodeUri")
    notes: list[str] = []
    environment = function_environment(function, env_vars, region=region, warn=notes.append)
    preamble = "".join(f"devkit: {note}\n" for note in notes)
    if log_target is not None and preamble:
        log_target.write(preamble)
    runtime = LambdaRuntime(
        function,
        environment=environment,
        warm=False,
        isolate=True,
        log_target=log_target if log_target is not None else io.StringIO(),  # collected only
    )
    invocation = runtime.invoke(event)
    return dataclasses.replace(invocation, logs=preamble + invocation.logs)
