"""App stage: the Lambda entry point. Importing ``jwt_authorizer.app`` is the init phase, so each
test imports it in a fresh Python process with the environment Lambda would give it (the
network guard does not reach subprocesses: every key set here is inline). When the run measures
coverage (``make test``), so do these processes, into the same data."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import coverage
import pytest

from tests.support.constants import SUBJECT, rest_arn
from tests.support.iam import Decision, decision
from tests.support.signing import SigningKey, claims
from tests.support.stages import issuer_entry

ROOT = Path(__file__).resolve().parents[2]
KEY = SigningKey.generate("RS256", kid="app-key")
SCRIPT = """
import json, sys
import jwt_authorizer.app as app
event = {"type": "TOKEN", "authorizationToken": "Bearer " + sys.argv[1], "methodArn": sys.argv[2]}
answer = app.handler(event, None)
print("ANSWER " + json.dumps(answer))
print("WRAPPED " + json.dumps(hasattr(app.handler, "__wrapped__")))
print("TRACER " + json.dumps("aws_xray_sdk" in sys.modules))
"""


def python(script: Path) -> list[str]:
    """The command running ``script``: under coverage, with this run's settings, when this run
    measures coverage (the parent combines the data files at the end)."""
    current = coverage.Coverage.current()
    if current is None:
        return [sys.executable, str(script)]
    data_file = Path(str(current.get_option("run:data_file"))).resolve()
    sources = current.get_option("run:source") or []
    assert isinstance(sources, list)
    return [
        sys.executable,
        "-m",
        "coverage",
        "run",
        "--parallel-mode",
        f"--data-file={data_file}",
        *(["--branch"] if current.get_option("run:branch") else []),
        *([f"--source={','.join(sources)}"] if sources else []),
        str(script),
    ]


Run = Callable[[dict[str, str]], subprocess.CompletedProcess[str]]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    script = tmp_path / "invoke_app.py"
    script.write_text(SCRIPT, encoding="utf-8")

    def invoke(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
        token = KEY.sign(claims(scp="app.read"))
        env = {
            "PYTHONPATH": str(ROOT / "src" / "authorizer"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "POWERTOOLS_SERVICE_NAME": "app-test",
            **environment,
        }
        return subprocess.run(
            [*python(script), token, rest_arn("GET", "/orders")],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return invoke


def printed(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    found = {}
    for line in result.stdout.splitlines():
        name, _, value = line.partition(" ")
        if name in ("ANSWER", "WRAPPED", "TRACER"):
            found[name] = json.loads(value)
    return found


def raised(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The exception lines of the traceback (coverage, when measuring, may warn after it)."""
    return [line for line in result.stderr.splitlines() if line.startswith("jwt_authorizer.")]


def auth_config(**document: Any) -> str:
    return json.dumps({"issuers": [issuer_entry(KEY)], **document})


def test_the_entry_point_answers_with_the_environments_configuration(run: Run) -> None:
    result = run(
        {"AUTH_CONFIG": auth_config(routes=[{"route": "GET /orders", "scopes": ["app.read"]}])}
    )
    assert result.returncode == 0, result.stderr
    found = printed(result)
    assert (found["WRAPPED"], found["TRACER"]) == (False, False)
    answer = found["ANSWER"]
    assert answer["principalId"] == SUBJECT
    assert decision(answer, rest_arn("GET", "/orders")) is Decision.ALLOW
    assert decision(answer, rest_arn("POST", "/orders")) is Decision.IMPLICIT_DENY


def test_a_bad_configuration_fails_the_import(run: Run) -> None:
    result = run({"AUTH_CONFIG": json.dumps({"issuers": [{"issuer": "https://idp.example/"}]})})
    assert result.returncode == 1
    assert printed(result) == {}
    assert raised(result) == [
        "jwt_authorizer.errors.ConfigError: issuers[0].audiences: is required (a JSON array of "
        "strings)"
    ]


def test_no_configuration_at_all_names_the_variable(run: Run) -> None:
    result = run({})
    assert result.returncode == 1
    assert raised(result) == [
        "jwt_authorizer.errors.ConfigError: ISSUER: set ISSUER (or AUTH_CONFIG) to the exact iss "
        "of your tokens"
    ]


@pytest.mark.parametrize(("tracing", "wrapped"), [("true", True), ("false", False)])
def test_tracing_wraps_the_handler_only_when_asked(run: Run, tracing: str, wrapped: bool) -> None:
    """AUTHORIZER_TRACING=true wraps the handler with the Powertools Tracer; off, the X-Ray SDK
    is not even imported."""
    result = run(
        {
            "AUTH_CONFIG": auth_config(),
            "AUTHORIZER_TRACING": tracing,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no segments sent anywhere
        }
    )
    assert result.returncode == 0, result.stderr
    found = printed(result)
    assert (found["WRAPPED"], found["TRACER"]) == (wrapped, wrapped)
    assert found["ANSWER"]["principalId"] == SUBJECT
