"""The commands of ``python -m devkit``: one module each, found by :func:`command_modules`.

A command module defines ``NAME`` (the subcommand), ``add_parser(subparsers)`` (its argparse
parser, with a description that explains it) and ``run(args)`` (its exit status; raise
:class:`~devkit.commands.base.UsageError` for a problem with the command line or its files).
Adding a command is adding a module here; :func:`build_parser` picks it up.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from typing import cast

from devkit.commands.base import Command

__all__ = ["build_parser", "command_modules"]


def command_modules() -> list[Command]:
    """Every command module of this package, by name (``base`` and private modules aside)."""
    names = sorted(
        info.name
        for info in pkgutil.iter_modules(__path__)
        if info.name != "base" and not info.name.startswith("_")
    )
    return [cast(Command, importlib.import_module(f"{__name__}.{name}")) for name in names]


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; every command explains itself with ``--help``."""
    parser = argparse.ArgumentParser(
        prog="python -m devkit",
        description=(
            "Run the JWT authorizer locally, without AWS or Docker. Development tooling: the "
            "identity provider and keys it uses must never be deployed."
        ),
        epilog="Run 'python -m devkit <command> --help' for a command's options.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    for module in command_modules():
        module.add_parser(subparsers).set_defaults(run=module.run)
    return parser
