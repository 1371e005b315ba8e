"""``python -m devkit``: run the project locally without AWS or Docker (development only).

The commands (each has its own ``--help``) are the modules of :mod:`devkit.commands`:
``invoke`` (a template function on an event file, like ``sam local invoke``), ``serve`` (the
local IdP and the API Gateway emulator until Ctrl-C), ``demo`` (the whole flow, then stop),
``token`` (a development token, shaped like any provider's), ``explain`` (why a token is
accepted or rejected), ``check`` (a configuration before deploying it), ``discover`` (an identity
provider's settings), ``fixtures`` (regenerate ``events/``), ``emulator`` (serve any template's
APIs), ``idp`` (the identity provider alone), ``bench`` and ``costmodel``.

This module is the top of the devkit: it imports the commands, nothing imports it (only
``devkit/__main__.py``).
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Sequence

from devkit.commands import build_parser
from devkit.commands.base import UsageError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m devkit``: the command's exit status (2: a usage problem)."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except UsageError as err:
        print(f"devkit {args.command}: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `... | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as err:
        if err.errno != errno.EADDRINUSE:
            raise
        port = getattr(args, "port", None)
        where = f"port {port}" if port else "a port it needs"
        print(f"devkit {args.command}: {where} is in use ({err.strerror})", file=sys.stderr)
        return 2
    return status
