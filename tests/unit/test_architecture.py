"""Structure checks: stages depend only on earlier stages, the handler only orchestrates, the
public surface is pinned, the deployed package holds nothing but the function code, and each
stage has its unit tests in a module named after it."""

from __future__ import annotations

import ast
from pathlib import Path

import jwt_authorizer

PACKAGE = Path(jwt_authorizer.__file__).parent
# Pipeline order: a module may import only modules listed before it.
LAYERS = [
    # the data: event -> token -> issuer -> key -> signature -> claims -> principal
    # (-> introspection, for opaque tokens and revocation checks)
    "errors", "event", "tokens", "profiles", "issuers", "fetch", "jwk", "misses", "keys", "keyring",
    "signature", "claims", "principal", "introspection_cache", "introspect",
    # -> sender-constrained tokens (DPoP proof, replay, binding), read only when configured
    "dpop", "replay", "binding",
    "validator",
    # -> route decision -> answer
    "routes", "iam", "coverage", "policy", "answer",
    # then what composes them: telemetry, configuration, orchestration, the entry point
    "observe", "source", "schema", "config", "handler", "app",
]  # fmt: skip


def imports_of(module: str) -> tuple[set[str], set[str]]:
    """(package-internal modules, top-level external modules) imported anywhere in a module."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    internal: set[str] = set()
    external: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                internal.add((node.module or "").split(".")[0])
            else:
                external.add((node.module or "").split(".")[0])
        elif isinstance(node, ast.Import):
            external.update(alias.name.split(".")[0] for alias in node.names)
    return internal, external


def test_each_stage_has_a_test_module_named_after_it() -> None:
    here = Path(__file__).parent
    modules = {path.stem for path in here.glob("test_*.py")}
    assert modules == {f"test_{stage}" for stage in LAYERS} | {"test_architecture"}


def test_every_module_is_placed_in_the_pipeline() -> None:
    modules = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == set(LAYERS)


def test_stages_only_import_earlier_stages() -> None:
    for position, module in enumerate(LAYERS):
        internal, _ = imports_of(module)
        later = internal & set(LAYERS[position:])
        assert not later, f"{module} imports later stage(s) {sorted(later)}"


def test_handler_orchestrates_without_parsing_or_crypto() -> None:
    _, external = imports_of("handler")
    assert not external & {"json", "base64", "binascii", "jose", "cryptography", "requests"}


def test_only_the_fetch_stage_touches_the_network_and_only_jwk_crypto() -> None:
    for module in LAYERS:
        _, external = imports_of(module)
        if module != "fetch":
            assert not external & {"requests", "urllib3", "socket", "http"}, module
        if module != "jwk":
            assert not external & {"jose", "cryptography"}, module


def test_only_the_configuration_stage_reads_the_environment() -> None:
    for module in LAYERS:
        source = (PACKAGE / f"{module}.py").read_text()
        if module not in ("config", "source"):
            assert "os.environ" not in source, module
            assert "getenv" not in source, module


def test_boto3_is_only_reached_through_ssm_configs_and_the_replay_store() -> None:
    for module in LAYERS:
        _, external = imports_of(module)
        if module != "replay":  # DynamoDbReplayStore, imported only when DPoP is configured
            assert "boto3" not in external, module


def test_public_surface_is_pinned() -> None:
    assert sorted(jwt_authorizer.__all__) == jwt_authorizer.__all__
    assert jwt_authorizer.__all__ == [
        "Authorizer",
        "AuthorizerError",
        "Config",
        "ConfigError",
        "KeysUnavailable",
        "TokenRejected",
        "load_config",
        "parse_config",
    ]


def test_function_package_holds_only_the_function() -> None:
    # The Makefile is sam build's recipe (BuildMethod: makefile): it ships everything here but
    # itself, so the deployed package is jwt_authorizer/ alone (tests/sam checks the build).
    root = PACKAGE.parent
    entries = {path.name for path in root.iterdir() if path.name != "__pycache__"}
    assert entries == {"jwt_authorizer", "Makefile"}


def test_no_unbounded_lru_caches() -> None:
    for module in LAYERS:
        source = (PACKAGE / f"{module}.py").read_text()
        assert "lru_cache" not in source, module
        assert "functools.cache" not in source, module
