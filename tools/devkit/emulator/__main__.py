"""``python -m devkit.emulator``: serve a template's APIs (until the unified CLI takes over)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading
from collections.abc import Sequence
from pathlib import Path

from devkit.constants import ACCOUNT_ID, REGION
from devkit.emulator.server import Emulator


def _pairs(values: Sequence[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"{what}: expected KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m devkit.emulator template.yaml [--parameter-overrides K=V ...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m devkit.emulator",
        description="Serve a SAM template's REST/HTTP APIs on 127.0.0.1 (local emulator).",
    )
    parser.add_argument("template", type=Path)
    parser.add_argument("--parameter-overrides", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--port",
        nargs="+",
        default=[],
        metavar="API=PORT",
        help="fixed port per API logical id (default: ephemeral)",
    )
    parser.add_argument("--region", default=REGION)
    parser.add_argument("--account-id", default=ACCOUNT_ID)
    parser.add_argument("--http-unauthorized-status", type=int, choices=(401, 500), default=401)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(message)s")
    emulator = Emulator(
        args.template,
        parameter_overrides=_pairs(args.parameter_overrides, "--parameter-overrides"),
        region=args.region,
        account_id=args.account_id,
        http_unauthorized_status=args.http_unauthorized_status,
        ports={k: int(v) for k, v in _pairs(args.port, "--port").items()},
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with emulator:
        for logical_id in emulator.api_ids:
            print(f"{logical_id}: {emulator.url(logical_id)}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
