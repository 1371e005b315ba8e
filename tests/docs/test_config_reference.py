"""The README's configuration reference and config.py describe the same contract."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from jwt_authorizer.config import parse_config
from jwt_authorizer.errors import ConfigError
from jwt_authorizer.profiles import PROFILES
from jwt_authorizer.schema import LIMITS
from tests.docs.markdown import README, code_spans, section, table_rows
from tests.docs.reference import (
    code_config_keys,
    code_env_vars,
    code_numeric_kinds,
    documented_bounds,
    documented_env_vars,
    documented_paths,
)

MINIMAL = {"issuers": [{"issuer": "https://idp.example.com/", "audiences": ["api"]}]}
# What the introspection settings need around them (alone, each would be ignored: an error).
INTROSPECTING = {
    "introspection_endpoint": "https://idp.example.com/introspect",
    "introspection_client_id": "authorizer",
    "introspection_client_secret": "ssm:/authorizer/introspection-secret",
    "opaque_tokens": True,
    "introspect_jwts": True,
}


def _introspecting() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(MINIMAL))
    document["issuers"][0].update(INTROSPECTING)
    return document


def _is_introspection_setting(path: str) -> bool:
    leaf = path.removeprefix("issuers[].")
    return path.startswith("introspection.") or (
        path.startswith("issuers[].") and (leaf in INTROSPECTING or "introspection_" in leaf)
    )


def _leaf(path: str) -> str:
    return path.rsplit(".", 1)[-1].removesuffix("[]")


def test_every_key_config_py_reads_is_documented() -> None:
    documented = {_leaf(path) for path in documented_paths()}
    missing = code_config_keys() - documented
    assert not missing, f"config.py reads keys the README does not document: {sorted(missing)}"


def test_every_documented_key_is_read_by_config_py() -> None:
    documented = {_leaf(path) for path in documented_paths()}
    extra = documented - code_config_keys()
    assert not extra, f"the README documents keys config.py never reads: {sorted(extra)}"


def test_every_environment_variable_is_documented_and_real() -> None:
    documented = set(documented_env_vars())
    assert code_env_vars() - documented == set(), "undocumented environment variables"
    assert documented - code_env_vars() == set(), "documented variables nobody reads"


def _default_of(path: str) -> Any:
    config = parse_config(MINIMAL)
    if _is_introspection_setting(path) and path.startswith("issuers[]."):
        document = _introspecting()
        leaf = path.removeprefix("issuers[].")
        document["issuers"][0].pop(leaf, None)  # (the other flag keeps the endpoint in use)
        spec = parse_config(document).issuers[0].introspection
        return getattr(spec, leaf.removeprefix("introspection_"))
    if path.startswith("introspection."):
        return getattr(config.introspection, path.removeprefix("introspection."))
    if path.startswith("issuers[]."):
        return getattr(config.issuers[0], path.removeprefix("issuers[]."))
    if "." in path:  # a settings block: keys.*, dpop.*
        container, leaf = path.split(".", 1)
        return getattr(getattr(config, container), leaf)
    return getattr(config, path)


def _literal_default(cells: list[str]) -> tuple[bool, Any]:
    """The row's Default cell when it is exactly one JSON literal in backticks."""
    default_cell = cells[1] if len(cells) > 1 else ""
    spans = code_spans(default_cell)
    if len(spans) != 1 or default_cell.strip() != f"`{spans[0]}`":
        return False, None
    try:
        return True, json.loads(spans[0])
    except ValueError:
        return True, spans[0]  # a bare word such as `simple`


def _comparable(value: Any) -> Any:
    if isinstance(value, tuple | frozenset | set | list):
        return sorted(str(item) for item in value)
    return value


LITERAL_DEFAULTS = [
    (path, value)
    for path, cells in documented_paths().items()
    for is_literal, value in [_literal_default(cells)]
    if is_literal and not path.startswith(("routes[]", "token_sources[]"))
]


def test_defaults_are_documented() -> None:
    assert len(LITERAL_DEFAULTS) >= 15, LITERAL_DEFAULTS


@pytest.mark.parametrize(("path", "documented"), LITERAL_DEFAULTS)
def test_documented_default_is_the_code_default(path: str, documented: Any) -> None:
    actual = _default_of(path)
    if path == "token_sources":
        actual = [{source.kind: source.name} for source in actual]
    if path == "context_claims":
        actual = dict(actual)
    if path == "issuers[].required_claims":
        actual = {name: sorted(values) for name, values in actual}
    if path == "issuers[].profile":
        assert actual.name == documented
        return
    assert _comparable(actual) == _comparable(documented), f"{path}: code default is {actual!r}"


def _profile_rows() -> dict[str, list[str]]:
    rows = table_rows(section(README.read_text(encoding="utf-8"), "profiles"))
    return {code_spans(row[0])[0]: row for row in rows if code_spans(row[0])}


def test_profiles_table_lists_every_profile_once() -> None:
    assert sorted(_profile_rows()) == sorted(PROFILES)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profile_claim_defaults_match_the_code(name: str) -> None:
    row = _profile_rows()[name]
    profile = PROFILES[name]
    assert code_spans(row[1]) == list(profile.scope_claims), f"{name}: scope claims"
    assert code_spans(row[2]) == list(profile.client_id_claims), f"{name}: client id claims"
    assert f"`{profile.audience_claim}`" in row[3], f"{name}: audience claim"


def test_reference_mentions_the_issue_required_keys() -> None:
    paths = set(documented_paths())
    for required in (
        "routes",
        "unmatched",
        "response_mode",
        "http_unauthorized",
        "token_sources",
        "allow_bare_token",
        "max_token_bytes",
        "context_claims",
        "context_max_bytes",
        "verified_token_cache_size",
    ):
        assert required in paths


def test_a_missing_key_would_be_noticed() -> None:
    documented = {_leaf(path) for path in documented_paths()}
    assert re.fullmatch(r"[a-z_]+", "refresh_seconds")
    assert (documented - {"refresh_seconds"}) != code_config_keys()


# --------------------------------------------------------------------------- numeric bounds


def test_every_numeric_setting_documents_the_bounds_the_code_enforces() -> None:
    documented = documented_bounds()
    assert sorted(documented) == sorted(LIMITS), "README Type column vs schema.LIMITS"
    for path, (kind, minimum, maximum) in documented.items():
        assert LIMITS[path] == (minimum, maximum), f"{path}: README says {minimum} to {maximum}"
        assert code_numeric_kinds()[_leaf(path)] == kind, f"{path}: README says {kind}"


def test_the_documented_upper_bounds() -> None:
    """The bounds issue #10 asked for, as the README states them."""
    documented = documented_bounds()
    assert documented["issuers[].leeway_seconds"] == ("integer", 0.0, 300.0)
    assert documented["keys.refresh_seconds"] == ("integer", 60.0, 86400.0)
    assert documented["keys.max_stale_seconds"] == ("integer", 60.0, 604800.0)


def _document_with(path: str, value: float) -> tuple[dict[str, Any], str]:
    document: dict[str, Any] = json.loads(json.dumps(MINIMAL))
    if _is_introspection_setting(path):
        document = _introspecting()
    if path.startswith("introspection."):
        document["introspection"] = {path.removeprefix("introspection."): value}
        return document, path
    if path.startswith("issuers[]."):
        document["issuers"][0][path.removeprefix("issuers[].")] = value
        return document, path.replace("[]", "[0]")
    if path.startswith("keys."):
        keys = {path.removeprefix("keys."): value}
        if path == "keys.max_stale_seconds":
            keys["refresh_seconds"] = 60  # max_stale_seconds must be >= refresh_seconds
        document["keys"] = keys
        return document, path
    if path.startswith("dpop."):  # only with an issuer that enables DPoP
        document["issuers"][0]["dpop"] = "allowed"
        document["dpop"] = {"replay_store": "memory", path.removeprefix("dpop."): value}
        return document, path
    document[path] = value
    return document, path


def _kind_value(path: str, value: float) -> float:
    return int(value) if code_numeric_kinds()[_leaf(path)] == "integer" else value


@pytest.mark.parametrize("path", sorted(LIMITS))
def test_documented_bounds_are_enforced(path: str) -> None:
    kind, minimum, maximum = documented_bounds()[path]
    step = 1 if kind == "integer" else 0.01
    for inside in (minimum, maximum if maximum is not None else minimum * 10 + 1000):
        document, _ = _document_with(path, _kind_value(path, inside))
        parse_config(document)
    outside = [minimum - step] + ([maximum + step] if maximum is not None else [])
    for value in outside:
        document, field = _document_with(path, _kind_value(path, value))
        with pytest.raises(ConfigError) as caught:
            parse_config(document)
        assert caught.value.field == field, value


# --------------------------------------------------------------------------- list-valued keys

LIST_PATHS = [
    (path, cells[0])
    for path, cells in documented_paths().items()
    if "list of" in cells[0] and "objects" not in cells[0]
]


def _place(path: str, value: Any) -> tuple[dict[str, Any], str]:
    document: dict[str, Any] = json.loads(json.dumps(MINIMAL))
    leaf = path.rsplit(".", 1)[-1]
    if path.startswith("issuers[]."):
        if leaf == "required_claims":
            value = {"tfp": value}
            document["issuers"][0][leaf] = value
            return document, "issuers[0].required_claims.tfp"
        document["issuers"][0][leaf] = value
        return document, f"issuers[0].{leaf}"
    if path.startswith("dpop."):
        document["issuers"][0]["dpop"] = "allowed"
        document["dpop"] = {"replay_store": "memory", leaf: value}
        return document, path
    assert path.startswith("routes[]."), path
    document["routes"] = [{"route": "GET /x", leaf: value}]
    return document, f"routes[0].{leaf}"


def test_every_list_valued_key_is_covered() -> None:
    covered = {path for path, _ in LIST_PATHS}
    for leaf in (
        "audiences", "algorithms", "scope_claims", "client_id_claims", "principal_claims",
        "allowed_client_ids", "token_types", "tenants", "required_claims", "discovery_url",
        "jwks_uri",
    ):  # fmt: skip
        assert f"issuers[].{leaf}" in covered, leaf
    for leaf in ("scopes", "all_scopes", "issuers"):
        assert f"routes[].{leaf}" in covered, leaf


@pytest.mark.parametrize(("path", "type_cell"), LIST_PATHS)
def test_a_string_is_a_list_only_where_documented(path: str, type_cell: str) -> None:
    """README: lists are JSON arrays; a string is one URL for the "(one string)" URL keys."""
    document, field = _place(path, "https://idp.example.com/a b")
    if "(one string)" in type_cell:
        issuer = parse_config(document).issuers[0]
        urls = issuer.discovery_urls if path.endswith("discovery_url") else issuer.jwks_uris
        assert urls == ("https://idp.example.com/a b",)  # one URL, never split
        return
    with pytest.raises(ConfigError) as caught:
        parse_config(document)
    assert caught.value.field == field
    assert "must be a JSON array of strings" in caught.value.problem


@pytest.mark.parametrize(("path", "type_cell"), LIST_PATHS)
def test_an_empty_list_is_an_error_where_documented_non_empty(path: str, type_cell: str) -> None:
    document, field = _place(path, [])
    if "non-empty list" not in type_cell:
        parse_config(document)  # routes[].scopes / all_scopes: [] means no permission needed
        return
    with pytest.raises(ConfigError) as caught:
        parse_config(document)
    assert caught.value.field == field
    assert caught.value.problem.startswith("must not be empty; "), caught.value.problem
