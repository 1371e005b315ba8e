"""``python -m devkit`` as a user runs it: separate processes, real stdout/stderr/exit codes."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devkit import events, fixtures
from devkit.idp import LocalIdentityProvider
from devkit.paths import EVENTS_DIR

REPO = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def _env(state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "PYTHONPATH")}
    env["PYTHONPATH"] = str(REPO / "tools")
    env["DEVKIT_STATE_DIR"] = str(state_dir)
    return env


def devkit(
    state_dir: Path, *args: str, timeout: float = 60, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devkit", *args],
        cwd=REPO,
        env=_env(state_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        check=False,
    )


def test_demo_transcript_shows_the_whole_flow(state_dir: Path) -> None:
    started = time.monotonic()
    result = devkit(state_dir, "demo")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert not ANSI.search(out), "colour codes on a pipe"
    statuses = re.findall(r"^\s+(\d{3}) [A-Z]", out, flags=re.MULTILINE)
    assert statuses == [
        # REST: no token, garbage, expired, reader GET, reader POST, writer POST
        *("401", "401", "401", "200", "403", "201"),
        # HTTP API: isAuthorized=false is a 403
        *("401", "403", "403", "200", "403", "201"),
        # DPoP (HTTP API): a fresh proof, then the same proof replayed
        *("200", "403"),
    ]
    assert "token_type 'DPoP'" in out
    assert 'WWW-Authenticate: Bearer error="insufficient_scope"' in out
    assert 'WWW-Authenticate: Bearer realm="api", error="invalid_token"' in out
    assert '"client_id": "writer-app"' in out
    assert "Every answer was the expected one." in out
    assert "UNEXPECTED" not in out
    assert elapsed < 30
    log = (state_dir / "demo.log").read_text(encoding="utf-8")
    assert '"service":"jwt-authorizer"' in log, "function logs belong in the log file"
    assert "jwt-authorizer" not in out


def test_demo_colours_on_request(state_dir: Path) -> None:
    result = devkit(state_dir, "demo", "--color", "always")
    assert result.returncode == 0
    assert ANSI.search(result.stdout)


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_make_targets_run_the_cli() -> None:
    dry = subprocess.run(
        ["make", "-n", "demo", "serve", "fixtures"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for command in ("devkit demo", "devkit serve", "devkit fixtures"):
        assert f"PYTHONPATH=tools .venv/bin/python -m {command}" in dry


def test_invoke_prints_the_answer_on_stdout_and_logs_on_stderr(state_dir: Path) -> None:
    event = EVENTS_DIR / "authorizer" / "http-v2-allowed.json"
    result = devkit(
        state_dir, "invoke", "AuthorizerFunction", "-e", str(event), "--env-vars", "events/env.json"
    )
    assert result.returncode == 0, result.stderr
    expected = json.loads((EVENTS_DIR / "expected/authorizer/http-v2-allowed.json").read_text())
    assert json.loads(result.stdout) == expected
    assert '"_aws"' in result.stderr, "the EMF metrics line is a log line"


def test_invoke_reports_unauthorized_like_lambda(state_dir: Path) -> None:
    event = (EVENTS_DIR / "authorizer" / "rest-token-expired.json").read_text()
    result = devkit(
        state_dir, "invoke", "AuthorizerFunction", "-e", "-", "-n", "events/env.json", stdin=event
    )
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"errorMessage": "Unauthorized", "errorType": "Exception"}
    assert '"reason":"expired"' in result.stderr


def test_invoke_without_env_vars_fails_at_init_like_lambda(state_dir: Path) -> None:
    event = EVENTS_DIR / "authorizer" / "rest-token-allowed.json"
    result = devkit(state_dir, "invoke", "AuthorizerFunction", "-e", str(event))
    assert result.returncode == 0
    answer = json.loads(result.stdout)
    assert answer["errorType"] == "ConfigError"
    assert "ISSUER" in answer["errorMessage"]


def test_invoke_usage_errors(state_dir: Path) -> None:
    event = EVENTS_DIR / "authorizer" / "rest-token-allowed.json"
    unknown = devkit(state_dir, "invoke", "NoSuchFunction", "-e", str(event))
    assert unknown.returncode == 2
    assert "AuthorizerFunction, BackendFunction" in unknown.stderr
    missing = devkit(state_dir, "invoke", "AuthorizerFunction", "-e", "no/such/event.json")
    assert missing.returncode == 2
    assert unknown.stdout == missing.stdout == ""


def test_embedded_token_is_accepted_with_env_json(state_dir: Path) -> None:
    minted = devkit(state_dir, "token", "--client", "writer-app", "--embedded")
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    event = events.token_event(f"Bearer {token}", fixtures.REST.arn("POST", "/orders"))
    result = devkit(
        state_dir,
        "invoke",
        "AuthorizerFunction",
        "-e",
        "-",
        "--env-vars",
        "events/env.json",
        stdin=json.dumps(event),
    )
    answer = json.loads(result.stdout)
    assert answer["context"]["client_id"] == "writer-app"
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_token_from_a_running_idp(state_dir: Path) -> None:
    with LocalIdentityProvider(profile="wso2") as idp:
        result = devkit(state_dir, "token", "--client", "reader-app", "--idp", idp.base_url)
        assert result.returncode == 0, result.stderr
        payload = result.stdout.strip().split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        assert (claims["iss"], claims["scope"]) == (idp.issuer, "app.read")


def test_token_refuses_a_non_loopback_idp(state_dir: Path) -> None:
    result = devkit(state_dir, "token", "--idp", "https://login.example.com")
    assert result.returncode == 2
    assert "loopback" in result.stderr


@pytest.mark.parametrize(
    "command",
    ["invoke", "serve", "demo", "token", "fixtures", "emulator", "idp", "bench", "costmodel"],
)
def test_every_command_explains_itself(state_dir: Path, command: str) -> None:
    result = devkit(state_dir, command, "--help")
    assert result.returncode == 0
    assert "usage: python -m devkit" in result.stdout
    assert len(result.stdout.split()) > 40, "the help should say what the command does"


@pytest.fixture
def serving(state_dir: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """``serve`` on free ports; yields the process and its banner lines."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "devkit", "serve"),
            *("--idp-port", "0", "--rest-port", "0", "--http-port", "0"),
        ],
        cwd=REPO,
        env=_env(state_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if "Ctrl-C" in line:
                break
        yield process, lines
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()


def test_serve_runs_until_interrupted_and_prints_working_curl_targets(
    serving: tuple[subprocess.Popen[str], list[str]], state_dir: Path
) -> None:
    process, lines = serving
    banner = "\n".join(lines)
    assert "Ctrl-C" in banner, banner
    rest = re.search(r"^REST API\s+(\S+)", banner, flags=re.MULTILINE)
    http_api = re.search(r"^HTTP API\s+(\S+)", banner, flags=re.MULTILINE)
    assert rest
    assert http_api
    assert "TOKEN=$(curl -s -u reader-app:reader-secret" in banner
    assert (state_dir / "serve.json").is_file()

    token = devkit(state_dir, "token", "--client", "reader-app")  # finds the running IdP
    assert token.returncode == 0, token.stderr
    assert "from the local IdP" in token.stderr
    with requests.Session() as http:
        http.trust_env = False
        headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
        assert http.get(rest.group(1) + "/orders", timeout=10).status_code == 401
        assert http.get(rest.group(1) + "/orders", headers=headers, timeout=10).status_code == 200
        assert (
            http.get(http_api.group(1) + "/orders", headers=headers, timeout=10).status_code == 200
        )

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0
    assert not (state_dir / "serve.json").exists()
