"""The devkit's in-process runtime against Lambda's own: awslambdaric over a loopback Runtime API.

``jwt_authorizer.app.handler`` runs under the real runtime interface client (a separate
process, devkit.runtime.api serving it the Runtime API) and under devkit.runtime; both must
give the same answers, the same error documents (``{"errorMessage": "Unauthorized",
"errorType": "Exception"}`` for a rejected token) and the same init failure for a bad
configuration. A probe function compares what the two context objects offer.
"""

from __future__ import annotations

import io
import json
import sys
import textwrap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from devkit import paths
from devkit.invoke import invoke_function
from devkit.runtime import Function, FunctionSpec, LambdaRuntime, function_environment
from devkit.runtime import load_env_vars as read_env_vars
from devkit.runtime.api import ClientProcess, RuntimeApi
from devkit.template import FunctionDef, load_template

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="awslambdaric, like Lambda, ships Linux wheels only"
)
EVENTS = paths.EVENTS_DIR
ENV_VARS = read_env_vars(EVENTS / "env.json")


def load(relative: str) -> Any:
    return json.loads((EVENTS / relative).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def authorizer() -> FunctionDef:
    pytest.importorskip("awslambdaric")
    return load_template(paths.TEMPLATE).functions["AuthorizerFunction"]


@contextmanager
def real_runtime(
    function: FunctionSpec, environment: Mapping[str, str]
) -> Iterator[tuple[RuntimeApi, ClientProcess]]:
    with RuntimeApi(function) as api, ClientProcess(function, api, environment) as client:
        yield api, client


def local_runtime(function: FunctionSpec, environment: Mapping[str, str]) -> LambdaRuntime:
    return LambdaRuntime(function, environment=environment, isolate=True, log_target=io.StringIO())


def test_answers_are_the_same(authorizer: FunctionDef) -> None:
    environment = function_environment(authorizer, ENV_VARS)
    names = ["rest-token-allowed", "rest-request-forbidden", "http-v1-allowed", "http-v2-expired"]
    local = local_runtime(authorizer, environment)
    with real_runtime(authorizer, environment) as (api, client):
        for name in names:
            event = load(f"authorizer/{name}.json")
            real = api.invoke(event)
            assert real.error is None, client.output
            assert (
                real.answer
                == local.invoke(event).answer
                == load(f"expected/authorizer/{name}.json")
            )
    assert '"service":"jwt-authorizer"' in client.output  # the function's logs, on stdout


def test_a_rejected_token_is_lambdas_error_document(authorizer: FunctionDef) -> None:
    environment = function_environment(authorizer, ENV_VARS)
    event = load("authorizer/rest-token-expired.json")
    with real_runtime(authorizer, environment) as (api, client):
        real = api.invoke(event)
    assert real.error is not None, client.output
    assert real.error["errorMessage"] == "Unauthorized"
    assert real.error["errorType"] == "Exception"
    assert real.error["requestId"] == real.request_id
    assert isinstance(real.error["stackTrace"], list)
    # What the devkit reports is the same document without requestId and stackTrace.
    ours = local_runtime(authorizer, environment).invoke(event).error
    assert ours == {key: real.error[key] for key in ("errorMessage", "errorType")}
    assert invoke_function("AuthorizerFunction", event, env_vars=ENV_VARS).error == ours


def test_a_bad_configuration_fails_init_like_lambda(authorizer: FunctionDef) -> None:
    environment = function_environment(authorizer)  # no env-vars: no issuer configured
    with real_runtime(authorizer, environment) as (api, client):
        init_error = api.wait_for_init_error(timeout=30)
        assert client.wait(timeout=30) != 0  # the runtime exits after reporting
    assert init_error is not None, client.output
    document = init_error.document
    assert document["errorType"] == "ConfigError"
    assert "ISSUER" in document["errorMessage"]
    assert init_error.error_type_header == "ConfigError"
    ours = local_runtime(authorizer, environment).invoke(load("authorizer/rest-token-allowed.json"))
    assert ours.cold
    assert ours.error == {key: document[key] for key in ("errorMessage", "errorType")}


PROBE = """
def handler(event, context):
    if event == "raise":
        raise ValueError("probe failed")
    if event == "unmarshallable":
        return {"when": object()}
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "request_id_set": bool(context.aws_request_id),
        "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 7000,
    }
"""


def test_context_and_errors_of_a_probe_function(tmp_path: Path) -> None:
    pytest.importorskip("awslambdaric")
    (tmp_path / "devkit_context_probe.py").write_text(textwrap.dedent(PROBE), encoding="utf-8")
    probe = Function.named(
        "Probe",
        handler="devkit_context_probe.handler",
        code_uri=tmp_path,
        memory_size=256,
        timeout=7,
    )
    environment = function_environment(probe)
    local = local_runtime(probe, environment)
    with real_runtime(probe, environment) as (api, client):
        real = {event: api.invoke(event) for event in ("context", "raise", "unmarshallable")}
    assert real["context"].answer == local.invoke("context").answer, client.output
    assert real["context"].answer["memory_limit_in_mb"] == "256"  # a string, as Lambda gives it
    raised = real["raise"].error
    assert raised is not None
    assert local.invoke("raise").error == {
        "errorMessage": raised["errorMessage"],
        "errorType": raised["errorType"],
    }
    marshal = real["unmarshallable"].error
    ours = local.invoke("unmarshallable").error
    assert marshal is not None
    assert ours is not None
    assert ours["errorType"] == marshal["errorType"] == "Runtime.MarshalError"
    assert marshal["errorMessage"].startswith("Unable to marshal response")
    assert ours["errorMessage"].startswith("Unable to marshal response")
