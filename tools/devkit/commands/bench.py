"""``bench``: the goals of issue #12, measured side by side (``make bench``).

The warm handler against a bare verify, the cold start against a typical hand-written authorizer
with the identity provider on loopback and 80 ms away, where our cold start goes, and its peak
memory; :mod:`devkit.bench` explains the method.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from devkit import bench
from devkit.commands.base import Subparsers

NAME: Final = "bench"


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="measure the warm path and the cold start against baselines (make bench)",
        description=bench.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=7, help="interleaved warm-path rounds")
    parser.add_argument("--tokens", type=int, default=1500, help="distinct tokens per round")
    parser.add_argument("--runs", type=int, default=9, help="cold-start rounds per scenario")
    parser.add_argument("--keep", type=Path, help="build here and keep it (default: a temp dir)")
    parser.add_argument(
        "--only", choices=("warm", "cold"), help="measure one part (the goals need both)"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    text, _missed = bench.run(
        rounds=args.rounds, tokens=args.tokens, runs=args.runs, only=args.only, keep=args.keep
    )
    print(text)
    return 0
