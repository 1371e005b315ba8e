"""Every fixture in events/ replayed in-process through ``python -m devkit invoke``'s code path.

The recorded answers (events/expected/) are compared exactly; on top of that, each outcome's
meaning is checked without trusting the recording: allowed fixtures must be allowed by the
policy for their own ARN (evaluated by devkit.iam, not by the authorizer), forbidden ones denied
explicitly with the missing scope named, and the rest refused as a 401 (or ``isAuthorized:
false`` on payload 2.0). Finally the folder must be exactly what the generator makes: nothing
stale, nothing orphaned, nothing unused.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from devkit.fixtures import (
    DEV_ISSUER,
    EVENT_KINDS,
    FAR_FUTURE,
    KEY_FILE_NAME,
    OUTCOMES,
    generate,
    orphan_files,
    read_key,
)
from devkit.iam import Decision, evaluate, parse_authorizer_answer
from devkit.invoke import invoke_function
from devkit.paths import EVENTS_DIR
from devkit.runtime import load_env_vars

ENV_FILE = EVENTS_DIR / "env.json"
UNAUTHORIZED = {"errorMessage": "Unauthorized", "errorType": "Exception"}
ROUTE_SCOPE = {"rest-request": "app.read"}  # the others call POST /orders (app.write)


def _fixtures(folder: str) -> list[Path]:
    return sorted((EVENTS_DIR / folder).glob("*.json"))


AUTHORIZER_FIXTURES = _fixtures("authorizer")
BACKEND_FIXTURES = _fixtures("backend")
ALL_FIXTURES = [
    *(("AuthorizerFunction", path) for path in AUTHORIZER_FIXTURES),
    *(("BackendFunction", path) for path in BACKEND_FIXTURES),
]


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _expected(path: Path) -> Any:
    return _load(EVENTS_DIR / "expected" / path.relative_to(EVENTS_DIR))


def _bearer(event: dict[str, Any]) -> str | None:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    value = event.get("authorizationToken") or headers.get("authorization")
    return value.split(" ", 1)[1] if value else None


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def test_there_is_a_fixture_for_every_event_type_and_outcome() -> None:
    names = {path.stem for path in AUTHORIZER_FIXTURES}
    assert names == {f"{kind}-{outcome}" for kind in EVENT_KINDS for outcome in OUTCOMES}
    assert {path.stem for path in BACKEND_FIXTURES} == {"rest-get-order", "http-post-orders"}


@pytest.mark.parametrize(
    ("function", "path"),
    ALL_FIXTURES,
    ids=[p.relative_to(EVENTS_DIR).as_posix() for _, p in ALL_FIXTURES],
)
def test_fixture_gives_the_recorded_answer(function: str, path: Path) -> None:
    event = _load(path)
    invocation = invoke_function(function, event, env_vars=load_env_vars(ENV_FILE))
    assert invocation.output == _expected(path)
    token = _bearer(event)
    if token:
        assert token not in invocation.logs, "a raw token reached the logs"


@pytest.mark.parametrize("path", AUTHORIZER_FIXTURES, ids=lambda p: p.stem)
def test_recorded_answer_means_what_the_name_says(path: Path) -> None:
    kind, outcome = next(
        (kind, path.stem[len(kind) + 1 :]) for kind in EVENT_KINDS if path.stem.startswith(kind)
    )
    event, answer = _load(path), _expected(path)
    scope = ROUTE_SCOPE.get(kind, "app.write")
    if kind == "http-v2":
        assert isinstance(answer.get("isAuthorized"), bool)
        context = answer["context"]
        if outcome == "allowed":
            assert answer["isAuthorized"] is True
            assert scope in context["scopes"].split()
        elif outcome == "forbidden":
            assert answer["isAuthorized"] is False
            assert (context["error"], context["scope"]) == ("insufficient_scope", scope)
        else:
            assert answer == {"isAuthorized": False, "context": {"error": "invalid_token"}}
        return
    if outcome not in ("allowed", "forbidden"):
        assert answer == UNAUTHORIZED
        return
    parsed = parse_authorizer_answer(answer)
    decision = evaluate(parsed.statements, event["methodArn"])
    if outcome == "allowed":
        assert decision is Decision.ALLOW
        assert scope in str(parsed.context["scopes"]).split()
    else:
        assert decision is Decision.EXPLICIT_DENY
        assert (parsed.context["error"], parsed.context["scope"]) == ("insufficient_scope", scope)


@pytest.mark.parametrize("path", AUTHORIZER_FIXTURES, ids=lambda p: p.stem)
def test_fixture_tokens_are_development_tokens(path: Path) -> None:
    token = _bearer(_load(path))
    if token is None:
        assert path.stem.endswith("missing-token")
        return
    claims = _claims(token)
    assert claims["iss"] == DEV_ISSUER
    assert ".invalid/" in claims["iss"]
    if path.stem.endswith("expired"):
        assert claims["exp"] < FAR_FUTURE
    else:
        assert claims["exp"] == FAR_FUTURE


def test_env_json_configures_inline_keys_of_the_development_key() -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    env = load_env_vars(ENV_FILE)
    config = json.loads(env["AuthorizerFunction"]["AUTH_CONFIG"])
    (issuer,) = config["issuers"]
    assert issuer["issuer"] == DEV_ISSUER
    assert not {"discovery_url", "jwks_uri"} & set(issuer), "sam local invoke must not fetch keys"
    (jwk,) = issuer["jwks"]["keys"]
    key = load_pem_private_key(read_key(), password=None)
    modulus = key.public_key().public_numbers().n  # type: ignore[union-attr]
    assert int.from_bytes(base64.urlsafe_b64decode(jwk["n"] + "=="), "big") == modulus


def test_development_key_is_marked_development_only() -> None:
    text = (EVENTS_DIR / KEY_FILE_NAME).read_text(encoding="ascii")
    header = text[: text.index("-----BEGIN")]
    assert "DEVELOPMENT ONLY" in header
    assert "NEVER USE IN PRODUCTION" in header


def test_events_folder_is_exactly_what_the_generator_makes() -> None:
    files = generate(EVENTS_DIR)
    stale = [
        name
        for name, content in files.items()
        if (EVENTS_DIR / name).read_text(encoding="utf-8") != content
    ]
    assert stale == [], "run `make fixtures` and review the diff"
    assert orphan_files(EVENTS_DIR, files) == []


def test_every_file_in_events_is_used_and_documented() -> None:
    readme = (EVENTS_DIR / "README.md").read_text(encoding="utf-8")
    fixtures = {
        path.relative_to(EVENTS_DIR).as_posix()
        for path in [*AUTHORIZER_FIXTURES, *BACKEND_FIXTURES]
    }
    expectations = {f"expected/{name}" for name in fixtures}
    known = fixtures | expectations | {"env.json", KEY_FILE_NAME, "README.md"}
    present = {
        path.relative_to(EVENTS_DIR).as_posix() for path in EVENTS_DIR.rglob("*") if path.is_file()
    }
    assert present == known
    for name in fixtures:
        assert f"`{name}`" in readme, f"events/README.md does not list {name}"
