"""CONTRIBUTING.md names only files and folders that exist, and commands that run.

(Its make targets are checked with the other documents' in test_commands.py.)
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.docs.markdown import CONTRIBUTING, ROOT, code_spans, fenced_blocks

TEXT = CONTRIBUTING.read_text(encoding="utf-8")
PROSE = re.sub(r"```.*?```", "", TEXT, flags=re.S)  # code spans outside fenced blocks
_FILE_RE = re.compile(r"^[\w./-]+\.(py|md|toml|json|txt|in|sh)$|^[\w.-]+/[\w./-]*$")
_SKIP = {".venv", "node_modules", ".git"}


def _named_paths() -> list[str]:
    spans = {span for span in code_spans(PROSE) if _FILE_RE.match(span)}
    return sorted(spans)


def _exists(name: str) -> bool:
    if "/" in name:
        return (ROOT / name.rstrip("/")).exists()
    return any(not _SKIP & set(path.relative_to(ROOT).parts) for path in ROOT.rglob(name))


@pytest.mark.parametrize("name", _named_paths())
def test_every_path_it_names_exists(name: str) -> None:
    assert _exists(name), f"CONTRIBUTING.md names {name}, which does not exist"


def test_it_describes_every_test_folder() -> None:
    folders = {
        f"tests/{path.name}/"
        for path in (ROOT / "tests").iterdir()
        if path.is_dir() and path.name != "__pycache__"
    }
    named = {name for name in _named_paths() if re.fullmatch(r"tests/\w+/", name)}
    assert named == folders


@pytest.mark.parametrize(
    "line",
    [
        line
        for block in fenced_blocks(CONTRIBUTING)
        if block.language == "bash"
        for line in block.text.splitlines()
        if line.strip()
    ],
)
def test_every_pytest_command_names_an_existing_test_module(line: str) -> None:
    words = shlex.split(line)
    assert words[0] == ".venv/bin/pytest"
    assert Path(ROOT, words[1]).is_file(), line
