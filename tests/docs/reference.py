"""What the README's configuration reference documents, and what config.py actually reads."""

from __future__ import annotations

import ast
import re
import typing
from collections import defaultdict
from pathlib import Path
from typing import Final

from jwt_authorizer.event import TokenSource
from tests.docs.markdown import README, ROOT, code_spans, section, table_rows

PACKAGE: Final = ROOT / "src" / "authorizer" / "jwt_authorizer"
_PATH_RE: Final = re.compile(r"^[a-z_]+(\[\])?(\.[a-z_]+)?$")
_ENV_RE: Final = re.compile(r"^[A-Z][A-Z0-9_]+$")
_READER_METHODS: Final = frozenset(
    {"string", "strings", "urls", "integer", "number", "boolean", "choice", "raw"}
)


def reference_rows() -> list[list[str]]:
    return table_rows(section(README.read_text(encoding="utf-8"), "config-reference"))


def documented_paths() -> dict[str, list[str]]:
    """Documented AUTH_CONFIG paths (``issuers[].audiences``) -> the rest of their row."""
    paths: dict[str, list[str]] = {}
    for row in reference_rows():
        spans = code_spans(row[0])
        if len(spans) == 1 and _PATH_RE.match(spans[0]):
            assert spans[0] not in paths, f"{spans[0]} is documented twice"
            paths[spans[0]] = row[1:]
    return paths


def documented_env_vars() -> dict[str, list[str]]:
    variables: dict[str, list[str]] = {}
    for row in reference_rows():
        spans = code_spans(row[0])
        if len(spans) == 1 and _ENV_RE.match(spans[0]):
            assert spans[0] not in variables, f"{spans[0]} is documented twice"
            variables[spans[0]] = row[1:]
    return variables


def schema() -> dict[str, set[str]]:
    """Container ("" for the top level, "issuers[]", "keys", ...) -> documented member names."""
    members: dict[str, set[str]] = defaultdict(set)
    for path in documented_paths():
        if "." in path:
            container, leaf = path.rsplit(".", 1)
        else:
            container, leaf = "", path
        members[container].add(leaf)
    return members


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _first_constant(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def code_config_keys() -> set[str]:
    """Every configuration member name config.py reads from a JSON document."""
    tree = ast.parse((PACKAGE / "config.py").read_text(encoding="utf-8"))
    keys: set[str] = set()
    for call in _calls(tree):
        func = call.func
        if not isinstance(func, ast.Attribute):
            continue
        name = _first_constant(call)
        if name is None:
            continue
        reads_member = func.attr in _READER_METHODS or (
            func.attr == "get"
            and isinstance(func.value, ast.Attribute)
            and func.value.attr == "data"
        )
        if reads_member:
            keys.add(name)
    # token_sources entries are {"header": ...} / {"query": ...} / {"cookie": ...}
    kind = typing.get_type_hints(TokenSource)["kind"]
    keys.update(typing.get_args(kind))
    return keys


def code_env_vars() -> set[str]:
    """Environment variables our code reads (the configuration stage: source.py, config.py)."""
    found: set[str] = set()
    for name in ("source.py", "config.py"):
        tree = ast.parse((PACKAGE / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            value: object = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr == "get":
                    value = _first_constant(node)
            elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
                value = node.slice.value
            if isinstance(value, str) and _ENV_RE.match(value):
                found.add(value)
    return found


_BOUNDS_RE: Final = re.compile(
    r"^(?P<kind>integer|number)(?: ≥ (?P<minimum>[0-9.]+)|, (?P<low>[0-9.]+) to (?P<high>[0-9.]+))$"
)


def documented_bounds() -> dict[str, tuple[str, float, float | None]]:
    """Numeric settings -> (kind, minimum, maximum) from the Type column: ``integer ≥ 1`` or
    ``integer, 0 to 300``. A numeric Type cell in any other form fails, so none is skipped."""
    bounds: dict[str, tuple[str, float, float | None]] = {}
    for path, cells in documented_paths().items():
        type_cell = cells[0].strip() if cells else ""
        if not type_cell.startswith(("integer", "number")):
            continue
        match = _BOUNDS_RE.match(type_cell)
        assert match, f"{path}: write its Type as 'integer ≥ N' or 'integer, N to M'"
        if match["minimum"] is not None:
            bounds[path] = (match["kind"], float(match["minimum"]), None)
        else:
            bounds[path] = (match["kind"], float(match["low"]), float(match["high"]))
    return bounds


_NUMERIC: Final = ("integer", "number")


def code_numeric_kinds() -> dict[str, str]:
    """Member name -> "integer" or "number", by the reader method config.py reads it with."""
    tree = ast.parse((PACKAGE / "config.py").read_text(encoding="utf-8"))
    kinds: dict[str, str] = {}
    for call in _calls(tree):
        name = _first_constant(call)
        func = call.func
        if name is not None and isinstance(func, ast.Attribute) and func.attr in _NUMERIC:
            kinds[name] = func.attr
    return kinds


def source_text(name: str) -> str:
    return (PACKAGE / name).read_text(encoding="utf-8")


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))
