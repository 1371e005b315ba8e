"""The in-process Lambda runtime (devkit.runtime): init, cold and warm, environment, errors, logs.

Functions are tiny modules written to a temporary folder (their CodeUri), so every test owns
its module and nothing leaks between tests.
"""

from __future__ import annotations

import io
import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from devkit.runtime import (
    Function,
    FunctionError,
    LambdaContext,
    LambdaRuntime,
    LogSink,
    applied_environment,
    captured_logs,
    error_document,
    function_environment,
    lambda_variables,
    load_env_vars,
)

COUNTER = """
import json, os
INITS = []
INITS.append(os.environ.get("MARK", ""))
print(json.dumps({"init": len(INITS)}))

def handler(event, context):
    print(json.dumps({"event": event, "request": context.aws_request_id}))
    return {
        "inits": len(INITS),
        "mark_at_init": INITS[0],
        "mark_now": os.environ.get("MARK"),
        "host": os.environ.get("DEVKIT_TEST_HOST_VARIABLE"),
        "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "remaining": context.get_remaining_time_in_millis(),
        "name": context.function_name,
        "memory": context.memory_limit_in_mb,
    }
"""


def make_function(
    tmp_path: Path, source: str, *, handler: str | None = None, **kwargs: Any
) -> Function:
    """A function whose code is ``source``, in a module unique to this test."""
    module = f"devkit_runtime_{abs(hash(tmp_path)):x}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return Function.named("Fn", handler=handler or f"{module}.handler", code_uri=tmp_path, **kwargs)


@pytest.fixture
def host_variable(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DEVKIT_TEST_HOST_VARIABLE", "host")
    return "host"


def test_warm_runtime_initialises_once(tmp_path: Path, host_variable: str) -> None:
    function = make_function(tmp_path, COUNTER, environment={"MARK": "declared"})
    runtime = LambdaRuntime(function)
    first, second = runtime.invoke({"n": 1}), runtime.invoke({"n": 2})
    assert (first.cold, second.cold) == (True, False)
    assert first.answer["inits"] == second.answer["inits"] == 1
    assert first.answer["mark_at_init"] == first.answer["mark_now"] == "declared"
    assert first.answer["host"] == host_variable  # overlay: the host's variables stay visible
    assert first.answer["function"] == "Fn"
    assert 0 < first.answer["remaining"] <= 3000
    assert (first.answer["name"], first.answer["memory"]) == ("Fn", "128")
    assert '{"init": 1}' in first.logs
    assert '{"init": 1}' not in second.logs
    assert f'"request": "{second.request_id}"' in second.logs
    assert "MARK" not in os.environ, "the environment is applied only while the function runs"


def test_cold_runtime_initialises_every_time_in_isolation(
    tmp_path: Path, host_variable: str
) -> None:
    function = make_function(tmp_path, COUNTER)
    runtime = LambdaRuntime(function, environment={"MARK": "given"}, warm=False, isolate=True)
    first, second = runtime.invoke({}), runtime.invoke({})
    assert (first.cold, second.cold) == (True, True)
    assert first.answer["inits"] == second.answer["inits"] == 1  # a fresh module each time
    assert first.answer["mark_now"] == "given"
    assert first.answer["host"] is None  # isolated: only the function's variables (and PATH)
    assert os.environ["DEVKIT_TEST_HOST_VARIABLE"] == host_variable


def test_each_runtime_owns_its_module(tmp_path: Path) -> None:
    function = make_function(tmp_path, COUNTER)
    module = str(function.handler).rpartition(".")[0]
    one, two = LambdaRuntime(function), LambdaRuntime(function)
    assert one.invoke({}).answer["inits"] == two.invoke({}).answer["inits"] == 1
    assert module not in sys.modules, "an init leaves no module behind for other importers"


def test_custom_init_and_eager_initialisation(tmp_path: Path) -> None:
    seen: list[dict[str, str]] = []

    def init(environment: Any) -> Any:
        seen.append(dict(environment))
        sys.stdout.write("initialising\n")
        return lambda event, context: {"echo": event, "env": os.environ.get("MARK")}

    function = Function.named("Fn", environment={"MARK": "m"})
    out = io.StringIO()
    runtime = LambdaRuntime(function, init=init, log_target=out)
    assert runtime.initialise() is None
    assert runtime.initialised
    assert out.getvalue() == "initialising\n"
    invocation = runtime.invoke([1, 2])
    assert invocation.answer == {"echo": [1, 2], "env": "m"}
    assert invocation.cold is False
    assert seen[0]["MARK"] == "m"
    assert seen[0]["AWS_LAMBDA_FUNCTION_NAME"] == "Fn"
    runtime.reset()
    assert runtime.invoke(None).cold is True
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("source", "handler", "error"),
    [
        (
            "raise ValueError('bad configuration')",
            None,
            {"errorType": "ValueError", "errorMessage": "bad configuration"},
        ),
        (
            "import devkit_no_such_module",
            None,
            {
                "errorType": "Runtime.ImportModuleError",
                "errorMessage": "Unable to import module '{module}': "
                "No module named 'devkit_no_such_module'",
            },
        ),
        (
            "x = 1",
            None,
            {
                "errorType": "Runtime.HandlerNotFound",
                "errorMessage": "Handler 'handler' missing on module '{module}'",
            },
        ),
        (
            "def handler(:",
            None,
            {"errorType": "Runtime.UserCodeSyntaxError", "errorMessage": "Syntax error in"},
        ),
        (
            "def handler(e, c): return 1",
            "nodots",
            {
                "errorType": "Runtime.MalformedHandlerName",
                "errorMessage": "Bad handler 'nodots'",
            },
        ),
    ],
)
def test_init_errors_are_reported_like_lambda(
    tmp_path: Path, source: str, handler: str | None, error: dict[str, str]
) -> None:
    function = make_function(tmp_path, source, handler=handler)
    module = str(function.handler).rpartition(".")[0]
    runtime = LambdaRuntime(function)
    invocation = runtime.invoke({})
    assert invocation.cold
    assert invocation.answer is None
    assert invocation.error is not None
    assert invocation.error["errorType"] == error["errorType"]
    assert invocation.error["errorMessage"].startswith(error["errorMessage"].format(module=module))
    assert not runtime.initialised  # the next invocation tries the init again
    with pytest.raises(FunctionError) as raised:
        invocation.result()
    assert raised.value.error_type == error["errorType"]


def test_invocation_errors(tmp_path: Path) -> None:
    source = """
    import sys

    def handler(event, context):
        if event == "unauthorized":
            raise Exception("Unauthorized")
        if event == "exit":
            sys.exit(3)
        if event == "unmarshallable":
            return {"when": object()}
        return event
    """
    runtime = LambdaRuntime(make_function(tmp_path, source))
    assert runtime.invoke("unauthorized").error == {
        "errorMessage": "Unauthorized",
        "errorType": "Exception",
    }
    exited = runtime.invoke("exit").error
    assert exited is not None
    assert exited["errorType"] == "Runtime.ExitError"
    marshal = runtime.invoke("unmarshallable").error
    assert marshal is not None
    assert marshal["errorType"] == "Runtime.MarshalError"
    assert marshal["errorMessage"].startswith("Unable to marshal response:")
    ok = runtime.invoke({"a": (1, 2)})
    assert ok.answer == {"a": [1, 2]}  # JSON in, JSON out
    assert ok.output == ok.result() == ok.answer


def test_events_travel_as_json(tmp_path: Path) -> None:
    runtime = LambdaRuntime.of_handler(Function.named("Fn"), lambda event, context: event)
    with pytest.raises(TypeError):
        runtime.invoke({"not": object()})


def test_error_document() -> None:
    assert error_document(KeyError("x")) == {"errorMessage": "'x'", "errorType": "KeyError"}
    error = FunctionError("Runtime.HandlerNotFound", "gone")
    assert error_document(error) == {"errorMessage": "gone", "errorType": "Runtime.HandlerNotFound"}


def test_context() -> None:
    context = LambdaContext.for_function(Function.named("Fn", timeout=2), "req-1")
    assert context.aws_request_id == "req-1"
    assert context.log_group_name == "/aws/lambda/Fn"
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:Fn"
    assert 1900 < context.get_remaining_time_in_millis() <= 2000
    expired = LambdaContext.for_function(Function.named("Fn", timeout=0))
    assert expired.get_remaining_time_in_millis() == 0


def test_function_environment_like_sam(tmp_path: Path) -> None:
    function = Function.named(
        "AuthFn", handler="app.handler", code_uri=tmp_path, environment={"A": "1", "B": "2"}
    )
    notes: list[str] = []
    env_vars = {"Parameters": {"A": "p", "UNDECLARED": "x"}, "AuthFn": {"B": "own"}}
    environment = function_environment(function, env_vars, region="eu-west-1", warn=notes.append)
    assert environment["A"] == "p"  # Parameters apply to every function
    assert environment["B"] == "own"  # the function's own section wins
    assert "UNDECLARED" not in environment
    assert notes == ["AuthFn: UNDECLARED is not declared in the template; ignored (as SAM does)"]
    assert environment["AWS_REGION"] == "eu-west-1"
    assert environment["_HANDLER"] == "app.handler"
    assert environment["LAMBDA_TASK_ROOT"] == str(tmp_path)
    assert lambda_variables(function, region="eu-west-1").items() <= environment.items()


def test_load_env_vars(tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"Fn": {"S": "x", "N": 5, "B": True}}), encoding="utf-8")
    assert load_env_vars(path) == {"Fn": {"S": "x", "N": "5", "B": "true"}}
    assert load_env_vars(None) == {}
    for content, message in (
        ("[1]", "expected"),
        ("{", "not valid JSON"),
        ('{"Fn": 1}', "must map"),
        ('{"Fn": {"V": null}}', "string, number or bool"),
    ):
        path.write_text(content, encoding="utf-8")
        with pytest.raises(ValueError, match=message):
            load_env_vars(path)
    with pytest.raises(ValueError, match="cannot read"):
        load_env_vars(tmp_path / "missing.json")


def test_applied_environment_restores_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVKIT_KEEP", "before")
    monkeypatch.delenv("DEVKIT_NEW", raising=False)
    before = dict(os.environ)
    with applied_environment({"DEVKIT_KEEP": "during", "DEVKIT_NEW": "new"}):
        assert (os.environ["DEVKIT_KEEP"], os.environ["DEVKIT_NEW"]) == ("during", "new")
    assert dict(os.environ) == before
    with applied_environment({"DEVKIT_NEW": "new"}, isolate=True):
        assert "DEVKIT_KEEP" not in os.environ
        assert os.environ.get("PATH") == before.get("PATH")
    assert dict(os.environ) == before


def test_captured_logs_pass_output_on() -> None:
    onward = io.StringIO()
    with captured_logs(onward) as outer:
        sys.stdout.write("outer\n")
        with captured_logs() as inner:
            sys.stdout.write("inner\n")
    assert inner.getvalue() == "inner\n"
    assert outer.getvalue() == "outer\ninner\n"
    assert onward.getvalue() == "outer\ninner\n"


def test_log_sink_survives_a_closed_target(tmp_path: Path) -> None:
    with (tmp_path / "log").open("w", encoding="utf-8") as target:
        sink = LogSink(target)
        sink.write("x")
    sink.flush()  # the target is closed: nothing to flush, and no error
