"""Check the bytecode sam build shipped next to the sources of built Lambda code.

Run by test_sam_cli.py as ``python3.13 -I bytecode_check.py '<json list of directories>'``, with
the runtime's interpreter, so the magic number and the source hashes are the ones CPython 3.13
computes. For every directory, reports:

- ``sources``: how many ``.py`` files it holds;
- ``missing``: sources without ``__pycache__/<name>.cpython-313.pyc``;
- ``wrong_magic``: pycs written by another Python version;
- ``not_unchecked``: pycs that are not unchecked-hash (PEP 552 flags 0b01): timestamp pycs are
  rejected when the source's mtime differs (zip extraction), checked-hash ones re-read the source;
- ``stale``: pycs whose recorded hash is not the hash of the source beside them;
- ``unloadable``: pycs whose code object does not unmarshal;
- ``orphans``: pycs without a source, and other files in ``__pycache__`` (optimized or other
  versions' pycs).

Prints one JSON object, directory -> report.
"""

from __future__ import annotations

import importlib.util
import json
import marshal
import sys
from pathlib import Path
from typing import Any

UNCHECKED_HASH = 0b01  # hash-based, check_source off


def check(root: Path) -> dict[str, Any]:
    report: dict[str, Any] = {
        key: []
        for key in ("missing", "wrong_magic", "not_unchecked", "stale", "unloadable", "orphans")
    }
    expected = set()
    sources = sorted(path for path in root.rglob("*.py") if "__pycache__" not in path.parts)
    report["sources"] = len(sources)
    for source in sources:
        cached = Path(importlib.util.cache_from_source(str(source)))
        expected.add(cached)
        name = str(source.relative_to(root))
        if not cached.is_file():
            report["missing"].append(name)
            continue
        data = cached.read_bytes()
        if data[:4] != importlib.util.MAGIC_NUMBER:
            report["wrong_magic"].append(name)
            continue
        if int.from_bytes(data[4:8], "little") != UNCHECKED_HASH:
            report["not_unchecked"].append(name)
            continue
        if data[8:16] != importlib.util.source_hash(source.read_bytes()):
            report["stale"].append(name)
        try:
            marshal.loads(data[16:])  # noqa: S302 - the bytecode sam build just wrote
        except (EOFError, ValueError, TypeError):
            report["unloadable"].append(name)
    for cache in root.rglob("__pycache__"):
        for path in cache.iterdir():
            if path not in expected:
                report["orphans"].append(str(path.relative_to(root)))
    return report


def main() -> int:
    roots = json.loads(sys.argv[1])
    sys.stdout.write(json.dumps({root: check(Path(root)) for root in roots}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
