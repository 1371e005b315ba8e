"""Just enough Markdown parsing to test the documentation: fenced blocks, marked sections, tables.

Conventions the documentation follows (and these tests enforce):

* A fenced block whose info string is exactly ``json`` is a complete ``AUTH_CONFIG`` document.
  Every one is loaded with ``jwt_authorizer.config.parse_config``.
* ``json routes`` is the value of the ``ROUTES`` environment variable (simple mode).
* ``env`` is a simple-mode environment: ``NAME=value`` lines, ``#`` comments.
* ``json <kind>`` with any other kind from :data:`NON_CONFIG_JSON_KINDS` (``json token``,
  ``json answer``, ...) is JSON that is *not* configuration: it must parse as JSON, nothing more.
  An unknown kind fails the test, so a typo cannot hide a configuration example from it.
* Sections of README.md that tests read are wrapped in ``<!-- name -->`` ... ``<!-- /name -->``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
README: Final = ROOT / "README.md"
CONTRIBUTING: Final = ROOT / "CONTRIBUTING.md"
DOCS: Final = ROOT / "docs"

NON_CONFIG_JSON_KINDS: Final = frozenset(
    {
        "token",  # a decoded token payload or header
        "jwks",  # a published key set
        "discovery",  # an OpenID Connect discovery document
        "event",  # an API Gateway authorizer or proxy event
        "answer",  # what the authorizer returns to API Gateway
        "response",  # an HTTP response body (IdP or API)
        "log",  # a log line
        "openapi",  # an OpenAPI fragment
        "manifest",  # an Entra app registration manifest fragment
        "clients",  # a clients file of the development identity provider
    }
)

_FENCE_RE: Final = re.compile(r"^(?P<indent>[ ]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    info: str  # the info string, stripped ("json", "json token", "bash", ...)
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def language(self) -> str:
        return self.info.split()[0] if self.info else ""

    @property
    def kind(self) -> str:
        parts = self.info.split()
        return parts[1] if len(parts) > 1 else ""


def documents() -> list[Path]:
    """README.md, CONTRIBUTING.md and every Markdown file under docs/."""
    return [README, CONTRIBUTING, *sorted(DOCS.glob("*.md"))]


def fenced_blocks(path: Path) -> list[Block]:
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = _FENCE_RE.match(lines[index])
        if match is None:
            index += 1
            continue
        indent = len(match["indent"])
        fence = match["fence"]
        start = index
        body: list[str] = []
        index += 1
        while index < len(lines):
            closing = lines[index].strip()
            if closing.startswith(fence[0] * len(fence)) and not closing.strip(fence[0]):
                break
            line = lines[index]
            body.append(line[indent:] if line[:indent].strip() == "" else line)
            index += 1
        else:
            raise AssertionError(f"{path}:{start + 1}: unclosed code fence")
        blocks.append(Block(path, start + 1, match["info"].strip(), "\n".join(body)))
        index += 1
    return blocks


def all_blocks() -> list[Block]:
    return [block for path in documents() for block in fenced_blocks(path)]


def section(text: str, name: str) -> str:
    """The text between ``<!-- name -->`` and ``<!-- /name -->`` (exactly one pair)."""
    opening, closing = f"<!-- {name} -->", f"<!-- /{name} -->"
    assert text.count(opening) == 1, f"expected one {opening} marker"
    assert text.count(closing) == 1, f"expected one {closing} marker"
    start = text.index(opening) + len(opening)
    end = text.index(closing)
    assert start <= end, f"{closing} comes before {opening}"
    return text[start:end]


def table_rows(text: str) -> list[list[str]]:
    """Cells of every Markdown table row (header and separator rows excluded)."""
    rows: list[list[str]] = []
    lines = text.splitlines()
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("|"):
            continue
        if re.fullmatch(r"\|[\s:|-]+\|", stripped):
            continue
        following = lines[number + 1].strip() if number + 1 < len(lines) else ""
        if re.fullmatch(r"\|[\s:|-]+\|", following):
            continue  # a header row
        cells = [cell.strip() for cell in _split_row(stripped)]
        rows.append(cells)
    return rows


def _split_row(row: str) -> list[str]:
    """Split on unescaped pipes that are not inside backticks."""
    cells: list[str] = []
    current: list[str] = []
    in_code = False
    escaped = False
    for char in row.strip()[1:-1]:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
            current.append(char)
        elif char == "`":
            in_code = not in_code
            current.append(char)
        elif char == "|" and not in_code:
            cells.append("".join(current))
            current = []
        else:
            current.append(char)
    cells.append("".join(current))
    return cells


def code_spans(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)
