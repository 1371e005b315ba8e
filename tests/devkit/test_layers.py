"""Structure of the devkit: imports flow one way, nothing imports the CLI, modules stay readable.

The layers, bottom up (a module may import modules of its own layer or of layers below):
constants and self-contained helpers; the Lambda runtime; template loading; API Gateway
emulation (event shapes, emulator, in-process ``invoke``); the identity provider; the local
stack and what is built on it; the commands; the CLI. docs/architecture.md describes each.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import devkit

PACKAGE = Path(devkit.__file__).parent
LAYERS: list[set[str]] = [
    {"devkit", "paths", "constants", "iam", "costmodel"},
    {"runtime"},
    {"template"},
    {"events", "emulator", "invoke"},
    {"idp"},
    {"stack", "fixtures", "bench", "diagnose"},
    {"demo", "serve"},
    {"commands"},
    {"cli", "__main__"},
]
#: Only these reach into the function's code (the rest must stay an independent oracle).
USES_THE_FUNCTION = {"stack", "bench", "diagnose"}
MAX_LINES = 600


def module_name(path: Path) -> str:
    parts = ["devkit", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def component(module: str) -> str:
    """The layer entry a module belongs to: ``devkit.emulator.rest`` -> ``emulator``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "devkit"


def layer_of(module: str) -> int:
    return next(index for index, names in enumerate(LAYERS) if component(module) in names)


def imports_of(module: str) -> tuple[set[str], set[str]]:
    """(devkit modules, other top-level packages) a module imports, anywhere in its code."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    internal: set[str] = set()
    external: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from devkit import events` imports the module devkit.events
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        for target in targets:
            if target == "devkit" or target.startswith("devkit."):
                while target not in MODULES:
                    target = target.rpartition(".")[0]
                internal.add(target)
            else:
                external.add(target.split(".")[0])
    internal.discard(module)
    return internal, external


def test_every_module_is_placed_in_a_layer() -> None:
    placed = set().union(*LAYERS)
    assert {component(module) for module in MODULES} == placed


def test_imports_flow_one_way() -> None:
    for module in MODULES:
        internal, _ = imports_of(module)
        higher = sorted(target for target in internal if layer_of(target) > layer_of(module))
        assert not higher, f"{module} imports a higher layer: {higher}"


def test_no_import_cycles() -> None:
    graph = {module: imports_of(module)[0] for module in MODULES}
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycle = [*trail[trail.index(target) :], target] if target in trail else [target]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if target not in state:
                visit(target, [*trail, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_nothing_imports_the_cli() -> None:
    for module in MODULES:
        if module not in ("devkit.__main__", "devkit.cli"):
            assert "devkit.cli" not in imports_of(module)[0], module
    tests = Path(__file__).parents[1]
    for path in tests.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        if "devkit.cli" in imported:
            # tests run commands in-process through the CLI; nothing *below* it may
            assert path.parent.name in ("devkit", "docs"), path


def test_the_oracles_stay_independent_of_the_function() -> None:
    for module in MODULES:
        _, external = imports_of(module)
        if component(module) not in USES_THE_FUNCTION:
            assert "jwt_authorizer" not in external, module
            assert "sample_backend" not in external, module


def test_modules_stay_readable() -> None:
    long = {
        module: lines
        for module, path in MODULES.items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules (over {MAX_LINES} lines): {long}"


def test_every_command_module_is_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    from devkit.commands import build_parser, command_modules

    names = {module.NAME for module in command_modules()}
    modules = {path.stem for path in (PACKAGE / "commands").glob("*.py")}
    assert names == modules - {"__init__", "base"}
    parser = build_parser()
    for name in sorted(names):
        with pytest.raises(SystemExit) as exited:
            parser.parse_args([name, "--help"])
        assert exited.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: python -m devkit {name}"), name
        assert len(out.split()) > 40, f"{name}: the help should say what the command does"
