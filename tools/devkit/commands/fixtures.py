"""``fixtures``: regenerate ``events/`` deterministically (``make fixtures``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Final

from devkit import fixtures
from devkit.commands.base import Subparsers, UsageError
from devkit.paths import EVENTS_DIR

NAME: Final = "fixtures"


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="regenerate events/ (fixtures, env.json, expected answers) deterministically",
        description=(
            "Regenerate every event fixture, events/env.json and the expected answers from the "
            "committed development key and a fixed clock. --check compares instead of writing."
        ),
    )
    parser.add_argument("--out", type=Path, default=EVENTS_DIR)
    parser.add_argument("--check", action="store_true", help="exit 1 if a file would change")
    parser.add_argument(
        "--new-key", action="store_true", help="replace the development key (changes every token)"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    if args.new_key:
        if args.check:
            raise UsageError("--new-key and --check exclude each other")
        fixtures.write_new_key(out)
    elif not (out / fixtures.KEY_FILE_NAME).is_file():
        raise UsageError(
            f"{out / fixtures.KEY_FILE_NAME} missing: run with --new-key to create one"
        )
    result = fixtures.sync(out, write=not args.check)
    if args.check:
        for name in result.stale:
            print(f"out of date: {out / name}", file=sys.stderr)
        for name in result.orphans:
            print(f"not generated any more (delete it): {out / name}", file=sys.stderr)
        return 1 if result.stale or result.orphans else 0
    print(f"{len(result.files)} files generated in {out} ({len(result.stale)} changed)")
    return 0
