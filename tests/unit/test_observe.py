"""Every log line is written, whatever the request carried: request-derived strings are escaped.

Powertools writes UTF-8 with ``ensure_ascii=False``: a lone surrogate (``"\\ud800"``, which JSON
events may carry) in any field made the write fail, so the line vanished and a traceback went to
stderr. A ``PolicyFallback`` warning naming such a route was the case reproduced.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from devkit.iam import Decision, evaluate, parse_authorizer_answer
from jwt_authorizer.observe import Observer
from tests.support.signing import SigningKey, claims
from tests.support.stages import issuer_entry, make_authorizer

PREFIX = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod"
# GET /files/{name} needs a scope the caller lacks, so a cacheable answer denies GET/files/*; a
# deeper path under it belongs to $default and is allowed: the answer has to be narrowed to this
# route (PolicyFallback), and the warning names the route.
FALLBACK_RULES = [
    {"route": "GET /files/{name}", "scopes": ["files.admin"]},
    {"route": "$default"},
]


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_policy_fallback_warning_with_a_lone_surrogate_in_the_path_is_logged(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    # A service name of its own: Powertools binds a logger's handler to the stdout of the moment.
    key = SigningKey.generate("RS256", kid="observe-key")
    authorizer = make_authorizer(
        {"issuers": [issuer_entry(key)], "routes": FALLBACK_RULES},
        POWERTOOLS_SERVICE_NAME=f"observe-{request.node.name}",
    )
    capsys.readouterr()
    event = {
        "type": "TOKEN",
        "authorizationToken": "Bearer " + key.sign(claims(scp="app.read")),
        "methodArn": f"{PREFIX}/GET/files/a/\ud800b",
    }
    answer = authorizer(event, None)
    statements = parse_authorizer_answer(answer).statements
    assert evaluate(statements, event["methodArn"]) is Decision.ALLOW
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    (warning,) = [line for line in json_lines(captured.out) if line.get("level") == "WARNING"]
    assert warning["route"] == "GET /files/a/\\ud800b"
    metrics = next(line for line in json_lines(captured.out) if "_aws" in line)
    assert metrics["PolicyFallback"] == [1.0]
    assert metrics["Allowed"] == [1.0]


def observer(request: pytest.FixtureRequest) -> Observer:
    """Call it inside the test, after capsys took stdout: Powertools binds its handler to the
    stdout of the moment, once per service name (hence one name per test)."""
    return Observer(service=f"observe-{request.node.name}", namespace="ObserveTest")


def test_warning_escapes_strings_inside_lists(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    observer(request).warning(
        "context keys dropped to fit the size budget", dropped=["ok", "x\ud800", ""]
    )
    (line,) = json_lines(capsys.readouterr().out)
    assert line["dropped"] == ["ok", "x\\ud800", ""]


def test_warning_escapes_control_characters(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    observer(request).warning(
        "w", route="GET /a\nINFO forged line\u2028", nested={"k\udfff": ("v\x00",)}
    )
    (line,) = json_lines(capsys.readouterr().out)
    assert line["route"] == "GET /a\\u000aINFO forged line\\u2028"
    assert line["nested"] == {"k\\udfff": ["v\\u0000"]}


def test_key_fetch_lines_are_escaped_but_not_shortened(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    long_url = "https://idp.example.com/" + "k" * 400
    observer(request).key_fetch(
        long_url, ok=False, trigger="initial", detail="HTTP 404 from \ud800"
    )
    (line,) = [line for line in json_lines(capsys.readouterr().out) if "message" in line]
    assert line["message"] == "key set fetch failed"
    assert line["source"] == long_url
    assert line["detail"] == "HTTP 404 from \\ud800"


def test_denied_escapes_nested_request_strings(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    observer(request).denied(
        level=20, reason="malformed_request", route="\ud800", detail=["a\ud800"]
    )
    (line,) = json_lines(capsys.readouterr().out)
    assert (line["route"], line["detail"]) == ("\\ud800", ["a\\ud800"])
