"""Import built Lambda code with nothing but the built layer and function on sys.path.

Run by test_sam_cli.py as ``python3.13 -I -S import_check.py '<json spec>'``: ``-I`` ignores
PYTHON* variables, the user site and the current directory, ``-S`` skips site-packages, so only
the standard library, the layer's ``python/`` directory and the function package can satisfy an
import, as on Lambda (minus the runtime's boto3, which the layer must not need at import).

The network is switched off first: the authorizer prefetches signing keys during init, and this
check must never reach out. Refused attempts are reported, not fatal (prefetch failures are
recorded by the authorizer, never raised).

Spec: {"paths": [...], "modules": [...], "handlers": ["pkg.module.attr", ...]}.
Prints a JSON report on stdout.
"""

from __future__ import annotations

import importlib
import json
import socket
import sys
from typing import Any

refused: list[str] = []


def _refuse(*args: Any, **_kwargs: Any) -> Any:
    refused.append(repr(args[:2])[:200])
    raise OSError("network access is disabled in the import check")


def _refuse_method(self: socket.socket, *args: Any, **kwargs: Any) -> Any:
    return _refuse(*args, **kwargs)


def main() -> int:
    spec = json.loads(sys.argv[1])
    socket.getaddrinfo = _refuse  # type: ignore[assignment]
    socket.create_connection = _refuse  # type: ignore[assignment]
    socket.socket.connect = _refuse_method  # type: ignore[method-assign]
    socket.socket.connect_ex = _refuse_method  # type: ignore[method-assign,assignment]
    sys.path[:0] = spec["paths"]

    imported = []
    for name in spec["modules"]:
        importlib.import_module(name)
        imported.append(name)
    handlers = []
    for dotted in spec["handlers"]:
        module_name, attribute = dotted.rsplit(".", 1)
        target = getattr(importlib.import_module(module_name), attribute)
        if not callable(target):
            raise TypeError(f"{dotted} is not callable")
        handlers.append(dotted)

    files = sorted(
        {
            str(getattr(module, "__file__", None))
            for name, module in list(sys.modules.items())
            if getattr(module, "__file__", None) and name != "__main__"
        }
    )
    report = {
        "imported": imported,
        "handlers": handlers,
        "refused_network": refused,
        "aws_sdk_loaded": sorted(
            name for name in sys.modules if name.split(".")[0] in {"boto3", "botocore"}
        ),
        "files": files,
        "sys_path": sys.path,
    }
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
