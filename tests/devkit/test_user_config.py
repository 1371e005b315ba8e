"""``serve`` and ``demo`` with a user's configuration (``--config``, ``--config-env``,
``--parameter-overrides``): its routes and settings, the local identity provider as the only
issuer; a configuration the function refuses, or a port in use, is one line and exit 2 / 1."""

from __future__ import annotations

import contextlib
import io
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from devkit.cli import main
from devkit.idp import LocalIdentityProvider
from devkit.stack import user_parameters

ROUTES = [
    {"route": "GET /whoami", "scopes": []},
    {"route": "GET /orders", "scopes": ["app.read"]},
    {"route": "POST /orders", "scopes": ["app.write"], "issuers": ["https://real.example/"]},
    {"route": "GET /orders/{id}", "scopes": ["app.read"]},
    {"route": "ANY /admin/{proxy+}", "scopes": ["app.admin"]},
]
DOCUMENT: dict[str, Any] = {
    "issuers": [
        {
            "issuer": "https://real.example/",
            "audiences": ["api://real"],
            "discovery_url": "https://real.example/.well-known/openid-configuration",
            "scope_claims": ["scp"],
        }
    ],
    "routes": ROUTES,
    "unmatched": "deny",
}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def test_the_identity_becomes_the_local_idp() -> None:
    idp = LocalIdentityProvider(profile="entra-b2c", port=8901)
    simple = user_parameters(
        {"Issuer": "https://real.example/", "Audience": "x", "AuthorizerCacheTtl": "0"}
    )(idp)
    assert simple == {"AuthorizerCacheTtl": "0"}
    parameters = user_parameters({"AuthConfig": json.dumps(DOCUMENT), "ResponseMode": "simple"})(
        idp
    )
    document = json.loads(parameters["AuthConfig"])
    assert document["issuers"] == [
        {
            "issuer": idp.issuer,
            "audiences": [idp.audience],
            "profile": "entra-b2c",
            "discovery_url": idp.discovery_url,
            "scope_claims": ["scp"],
        }
    ]
    assert document["routes"][2] == {"route": "POST /orders", "scopes": ["app.write"]}
    assert (document["unmatched"], parameters["ResponseMode"]) == ("deny", "simple")


def test_demo_runs_with_a_users_document() -> None:
    status, out, _err = run("demo", "--color", "never", "--config", json.dumps(DOCUMENT))
    assert status == 0, out
    assert out.rstrip("\n").rsplit("\n", 1)[-1] == "Every answer was the expected one."


def test_demo_with_a_configuration_the_function_refuses() -> None:
    status, _out, err = run("demo", "--config", json.dumps({**DOCUMENT, "response_mode": "iam"}))
    assert (status, err) == (
        2,
        "devkit demo: the authorizer cannot initialise with this configuration: ConfigError:"
        " RESPONSE_MODE: is 'simple' but AUTH_CONFIG says response_mode 'iam'; they must match"
        " the API's EnableSimpleResponses (run 'python -m devkit check' with the same options)\n",
    )
    assert run("demo", "--config-env", "nope")[0] == 2


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


def test_serve_names_the_ports_when_one_is_taken(busy_port: int) -> None:
    status, _out, err = run(
        "serve", "--idp-port", str(busy_port), "--rest-port", "0", "--http-port", "0"
    )
    assert (status, err.strip().rsplit("\n", 1)[-1]) == (
        1,
        f"devkit serve: cannot listen on 127.0.0.1 (IdP {busy_port}, REST API 0, HTTP API 0):"
        " Address already in use (pick other ports: --idp-port, --rest-port, --http-port; 0"
        " picks a free one)",
    )


def test_invoke_reads_a_samconfig_environment(busy_port: int) -> None:
    """The wso2 environment's parameters apply (its ServiceName names the log lines, its issuer
    rejects the development token); the key set is pointed at loopback: nothing leaves 127.0.0.1."""
    event = "events/authorizer/rest-token-allowed.json"
    status, out, err = run(
        "invoke", "AuthorizerFunction", "-e", event, "--config-env", "wso2",
        "--parameter-overrides", f"JwksUri=https://127.0.0.1:{busy_port}/keys",
    )  # fmt: skip
    assert (status, json.loads(out)) == (
        0,
        {"errorMessage": "Unauthorized", "errorType": "Exception"},
    )
    assert '"reason":"unknown_issuer"' in err
    assert '"service":"jwt-authorizer-wso2"' in err
    assert run("invoke", "AuthorizerFunction", "-e", event, "--config-env", "nope") == (
        2,
        "",
        "devkit invoke: --config-env: samconfig.toml has no environment 'nope' (it has: default,"
        " wso2)\n",
    )
