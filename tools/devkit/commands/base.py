"""What every command shares: the command protocol, usage errors, common options."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from devkit.paths import TEMPLATE
from devkit.template import TemplateError, parameter_pairs

__all__ = ["Command", "Subparsers", "UsageError", "add_template_option", "pairs"]

Subparsers = Any  # argparse's _SubParsersAction, which typeshed keeps private


class Command(Protocol):
    """A command module (see :mod:`devkit.commands`)."""

    NAME: str

    def add_parser(self, subparsers: Subparsers) -> argparse.ArgumentParser: ...

    def run(self, args: argparse.Namespace) -> int: ...


class UsageError(Exception):
    """A problem with the command line or its files (exit status 2), not with the function."""


def add_template_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-t",
        "--template",
        type=Path,
        default=TEMPLATE,
        help="SAM template (default: template.yaml)",
    )


def pairs(values: Sequence[str], option: str) -> dict[str, str]:
    """``KEY=VALUE`` arguments as a mapping (a :class:`UsageError` names ``option``)."""
    try:
        return parameter_pairs(values, option)
    except TemplateError as err:
        raise UsageError(str(err)) from err
