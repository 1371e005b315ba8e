"""Every configuration example in README.md and docs/*.md loads, and uses only documented keys.

The fence convention (see tests/docs/markdown.py): ```json is a whole AUTH_CONFIG document,
```json routes is a ROUTES value, ```env is a simple-mode environment, and ```json <kind> (token,
answer, event, ...) is JSON that is not configuration. ``parse_config`` never fetches anything, so
examples with https URLs are fine. ``ca_bundle`` must exist when the configuration is parsed: the
documented paths are relative to the function root (``certs/...``: ``src/authorizer/certs/``
locally, ``/var/task/certs/`` on Lambda), so the test swaps them for a real temporary file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jwt_authorizer.config import Config, load_config, parse_config
from jwt_authorizer.errors import ConfigError
from tests.docs.markdown import NON_CONFIG_JSON_KINDS, Block, all_blocks
from tests.docs.reference import schema

BLOCKS = all_blocks()
CONFIG_BLOCKS = [b for b in BLOCKS if b.info == "json"]
ROUTES_BLOCKS = [b for b in BLOCKS if b.info == "json routes"]
ENV_BLOCKS = [b for b in BLOCKS if b.info == "env"]
OTHER_JSON_BLOCKS = [b for b in BLOCKS if b.language == "json" and b.kind not in ("", "routes")]
FREE_FORM = frozenset({"context_claims", "required_claims", "jwks"})  # maps of user-chosen names


def _ids(blocks: list[Block]) -> list[str]:
    return [block.where for block in blocks]


@pytest.fixture
def pem(tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n(test)\n-----END CERTIFICATE-----\n")
    return str(path)


def _substitute_ca_bundles(document: dict[str, Any], pem: str, where: str) -> None:
    for entry in document.get("issuers", []):
        if isinstance(entry, dict) and "ca_bundle" in entry:
            path = str(entry["ca_bundle"])
            assert not path.startswith(("/", "..")), (
                f"{where}: document ca_bundle relative to the function root (certs/x.pem), which"
                " works both locally (src/authorizer/) and on Lambda (/var/task/)"
            )
            entry["ca_bundle"] = pem


def _undocumented_keys(document: dict[str, Any]) -> list[str]:
    members = schema()
    problems = [f"{key}" for key in document if key not in members[""]]
    nested = {"issuers": "issuers[]", "routes": "routes[]", "token_sources": "token_sources[]"}
    for key, container in nested.items():
        for index, item in enumerate(document.get(key) or []):
            if isinstance(item, dict):
                problems += [
                    f"{key}[{index}].{name}" for name in item if name not in members[container]
                ]
    if isinstance(document.get("keys"), dict):
        problems += [f"keys.{name}" for name in document["keys"] if name not in members["keys"]]
    return problems


def test_the_documentation_has_configuration_examples() -> None:
    assert len(CONFIG_BLOCKS) >= 8, _ids(CONFIG_BLOCKS)
    assert ROUTES_BLOCKS, "the ROUTES simple-mode variable needs an example"
    assert ENV_BLOCKS, "simple mode needs an example"


@pytest.mark.parametrize("block", CONFIG_BLOCKS, ids=_ids(CONFIG_BLOCKS))
def test_config_example_loads(block: Block, pem: str) -> None:
    try:
        document = json.loads(block.text)
    except ValueError as err:
        pytest.fail(f"{block.where}: not JSON ({err}); non-config JSON needs ```json <kind>")
    assert isinstance(document, dict), f"{block.where}: an AUTH_CONFIG document is an object"
    _substitute_ca_bundles(document, pem, block.where)
    assert not _undocumented_keys(document), (
        f"{block.where}: keys not in the README reference (parse_config would silently "
        f"ignore them): {_undocumented_keys(document)}"
    )
    try:
        config = parse_config(document)
    except ConfigError as err:
        pytest.fail(f"{block.where}: parse_config rejects it: {err}")
    assert isinstance(config, Config)
    # The same document through the environment variable, as Lambda receives it.
    assert load_config({"AUTH_CONFIG": json.dumps(document)}) == config


@pytest.mark.parametrize("block", ROUTES_BLOCKS, ids=_ids(ROUTES_BLOCKS))
def test_routes_example_loads_through_the_routes_variable(block: Block) -> None:
    rules = json.loads(block.text)
    assert isinstance(rules, list)
    for index, rule in enumerate(rules):
        unknown = set(rule) - schema()["routes[]"]
        assert not unknown, f"{block.where}: rule {index} has undocumented keys {unknown}"
    config = load_config(
        {"ISSUER": "https://idp.example.com/", "AUDIENCE": "api", "ROUTES": block.text}
    )
    assert len(config.routes) == len(rules)
    assert config.unmatched == "deny"


def _environment(block: Block, pem: str) -> dict[str, str]:
    environ: dict[str, str] = {}
    for raw in block.text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"{block.where}: {line!r} is not NAME=value"
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        environ[name.strip()] = value
    if "CA_BUNDLE" in environ:
        assert not environ["CA_BUNDLE"].startswith("/"), "CA_BUNDLE relative to the function root"
        environ["CA_BUNDLE"] = pem
    return environ


@pytest.mark.parametrize("block", ENV_BLOCKS, ids=_ids(ENV_BLOCKS))
def test_simple_mode_example_loads(block: Block, pem: str) -> None:
    environ = _environment(block, pem)
    from tests.docs.reference import code_env_vars

    unknown = set(environ) - code_env_vars() - {"POWERTOOLS_LOG_LEVEL"}
    assert not unknown, f"{block.where}: the authorizer does not read {sorted(unknown)}"
    try:
        load_config(environ)
    except ConfigError as err:
        pytest.fail(f"{block.where}: load_config rejects it: {err}")


@pytest.mark.parametrize("block", OTHER_JSON_BLOCKS, ids=_ids(OTHER_JSON_BLOCKS))
def test_other_json_blocks_are_marked_and_valid(block: Block) -> None:
    assert block.kind in NON_CONFIG_JSON_KINDS, (
        f"{block.where}: unknown JSON block kind {block.kind!r}; use one of "
        f"{sorted(NON_CONFIG_JSON_KINDS)} or plain ```json for configuration"
    )
    json.loads(block.text)


def test_a_bad_example_would_fail() -> None:
    """The checks above can fail: a typo'd key and an invalid value are both caught."""
    typo = {"issuers": [{"issuer": "https://idp.example.com/", "audience": ["api"]}]}
    assert _undocumented_keys(typo) == ["issuers[0].audience"]
    with pytest.raises(ConfigError):
        parse_config(typo)
    assert _undocumented_keys({"issuers": [], "unmatchd": "deny"}) == ["unmatchd"]
