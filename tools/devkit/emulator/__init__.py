"""Local API Gateway emulator: serves a SAM template's REST and HTTP APIs on 127.0.0.1.

A development and test tool, never deployed. For every request it does what API Gateway does
in front of a Lambda authorizer — identity-source checks, ``identityValidationExpression``,
authorizer invocation with a faithful event, strict parsing of the answer, IAM policy
evaluation against the ``methodArn``/``routeArn``, result caching keyed by the identity
sources (with the cached policy re-evaluated for every new ARN, which is what exposes the
classic "policy scoped to methodArn" caching bug), context stringification, gateway
responses — and then invokes the backend Lambda in-process with a proxy event.

URLs: every API gets its own ``ThreadingHTTPServer`` port; like real execute-api, a REST
API's stage is the first path segment (``url("RestApi") == "http://127.0.0.1:PORT/Prod"``),
an HTTP API on the ``$default`` stage has no stage segment (``http://127.0.0.1:PORT``) and one
on a named stage does (``http://127.0.0.1:PORT/dev``).

Usage::

    with Emulator("template.yaml", functions={"AuthFn": my_handler}) as emu:
        requests.get(emu.url("RestApi") + "/pets", headers={"Authorization": "Bearer x"})

CLI: ``python -m devkit emulator template.yaml --parameter-overrides K=V ...``.

Choices where AWS is undocumented or the emulator is deliberately simpler:

* HTTP API authorizer raising ``Exception("Unauthorized")``: 401 by default
  (``http_unauthorized_status=500`` for the other reading); AWS does not document it.
* HTTP API ``ReauthorizeEvery`` absent: no caching (``http_default_ttl`` changes that).
* REST authorizer exception/malformed answer: the ``AUTHORIZER_CONFIGURATION_ERROR`` gateway
  response, else ``AUTHORIZER_FAILURE``, else ``DEFAULT_5XX``. A configured ``DEFAULT_4XX``/
  ``DEFAULT_5XX`` is used whole (status included) only for types the template leaves out.
* Non-scalar REST context -> ``API_CONFIGURATION_ERROR`` (500 "Internal server error");
  malformed/failed backend -> 502 via ``DEFAULT_5XX``.
* Payload 2.0 backends get ``requestContext.authorizer.lambda`` = the context as returned
  (``null`` without one) plus ``principalId`` for IAM-policy answers; payload 1.0 HTTP
  integrations get the same ``authorizer`` object (AWS shape UNCONFIRMED).
* Invoke permissions are checked the SAM way: an HTTP API Lambda authorizer without
  ``EnableFunctionDefaultPermissions: true``, ``FunctionInvokeRole`` or an
  ``AWS::Lambda::Permission`` answers 500 without invoking (REST: unless
  ``DisableFunctionDefaultPermissions``).
* Not emulated: Cognito/JWT/IAM authorizers (rejected at load if a route uses them), OpenAPI
  ``DefinitionBody``, API keys/usage plans, resource policies, timeouts, throttling,
  ``$input``/VTL in gateway-response templates. Functions run in-process, one at a time
  (``os.environ`` is process-wide), so a handler must not call back into the emulator.

Modules: :mod:`~devkit.emulator.server` (the :class:`Emulator`, its HTTP servers),
:mod:`~devkit.emulator.rest` and :mod:`~devkit.emulator.httpapi` (what API Gateway does for
one stage of each API type), :mod:`~devkit.emulator.cache` (authorizer result caches),
:mod:`~devkit.emulator.invoker` (one warm Lambda runtime per function) and
:mod:`~devkit.emulator.common` (responses, routing, identity sources). Events come from
:mod:`devkit.events`, functions run in :mod:`devkit.runtime`.
"""

from __future__ import annotations

from devkit.emulator.server import Emulator
from devkit.runtime import FunctionError

__all__ = ["Emulator", "FunctionError"]
