"""``bench``: the hot path and the cold start against bare baselines, side by side."""

from __future__ import annotations

import argparse
from typing import Final

from devkit import bench
from devkit.commands.base import Subparsers

NAME: Final = "bench"


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="measure the hot path and the cold start against bare baselines (make bench)",
        description=bench.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds for the hot path")
    parser.add_argument("--loops", type=int, default=2000, help="calls per round")
    parser.add_argument("--runs", type=int, default=11, help="cold-start processes to time")
    return parser


def run(args: argparse.Namespace) -> int:
    hot, cold = bench.measure(args.rounds, args.loops, args.runs)
    print(bench.report(hot, cold))
    return 0
