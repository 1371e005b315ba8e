"""``python -m devkit serve`` (``make serve``): the local stack until Ctrl-C, with curl commands.

Fixed ports by default (IdP 8900, REST API 3000, HTTP API 3001), requests and function logs on
stderr, and a state file (:func:`devkit.stack.state_file`) through which
``python -m devkit token`` gets its tokens from this IdP.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from devkit.idp import Profile
from devkit.paths import TEMPLATE
from devkit.runtime import LogSink
from devkit.stack import LocalStack, state_file, user_parameters

__all__ = ["curl_commands", "serve"]


def curl_commands(stack: LocalStack) -> list[str]:
    idp = stack.idp
    scope = stack.token_scope()
    scope_arg = f" \\\n    --data-urlencode 'scope={scope}'" if scope else ""
    extract = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"
    rest, http = stack.rest_url, stack.http_url
    bearer = '-H "Authorization: Bearer $TOKEN"'
    post = f"-X POST {bearer} -H 'Content-Type: application/json' -d '{{\"item\":\"tea\"}}'"
    return [
        "# 1. a token for reader-app (app.read) with the client-credentials grant",
        f"TOKEN=$(curl -s -u reader-app:reader-secret -d grant_type=client_credentials{scope_arg}"
        f" \\\n    {idp.token_endpoint} | {extract})",
        "#    (or: TOKEN=$(PYTHONPATH=tools .venv/bin/python -m devkit token --client reader-app))",
        "# 2. the REST API (TOKEN authorizer; REQUEST authorizer on GET /orders/{id})",
        f"curl -i {rest}/orders                          # 401, no token",
        f"curl -i {bearer} {rest}/orders         # 200",
        f"curl -i {post} {rest}/orders   # 403: needs app.write",
        f"curl -i {bearer} {rest}/orders/o-1001  # 200 via the REQUEST authorizer",
        "# 3. the HTTP API (payload 2.0, simple responses: a refusal is a 403)",
        f"curl -i {bearer} {http}/orders",
        f"curl -i {post} {http}/orders",
        "# other clients: writer-app/writer-secret (app.read app.write), "
        "admin-app/admin-secret (+ app.admin for /admin/...)",
    ]


def serve(
    *,
    profile: Profile = "entra-b2c",
    idp_port: int = 8900,
    rest_port: int = 3000,
    http_port: int = 3001,
    template: str | Path = TEMPLATE,
    parameters: Mapping[str, str] | None = None,
) -> int:
    """Run both servers until Ctrl-C/SIGTERM; requests and function logs go to stderr.
    ``parameters``: a user's template parameters (:func:`devkit.stack.user_parameters`)."""
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    stack = LocalStack(
        template=template,
        profile=profile,
        idp_port=idp_port,
        ports={"RestApi": rest_port, "HttpApi": http_port},
        parameters=user_parameters(parameters) if parameters else None,
    )
    sink = LogSink(sys.stderr)
    logging.basicConfig(stream=sink, level=logging.INFO, format="%(asctime)s %(message)s")
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with contextlib.redirect_stdout(sink):
            try:
                stack.start()
            except OSError as err:
                ports = f"IdP {idp_port}, REST API {rest_port}, HTTP API {http_port}"
                print(
                    f"devkit serve: cannot listen on 127.0.0.1 ({ports}): {err.strerror or err}"
                    " (pick other ports: --idp-port, --rest-port, --http-port; 0 picks a free one)",
                    file=sys.stderr,
                )
                return 1
        state = state_file()
        state.parent.mkdir(parents=True, exist_ok=True)
        state.write_text(json.dumps({"idp": stack.idp.base_url, "pid": os.getpid()}))
        idp = stack.idp
        lines = [
            f"local IdP ({idp.profile}, development only)  {idp.base_url}",
            f"  issuer     {idp.issuer}",
            f"  discovery  {idp.discovery_url}",
            f"  token      {idp.token_endpoint}",
            f"REST API     {stack.rest_url}",
            f"HTTP API     {stack.http_url}",
            "",
            *curl_commands(stack),
            "",
            "Requests and function logs follow on stderr. Ctrl-C stops both servers.",
        ]
        print("\n".join(lines), flush=True)
        with contextlib.redirect_stdout(sink):
            while not stop.wait(0.5):
                pass
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        with contextlib.suppress(OSError):
            state_file().unlink()
    print("stopped", file=sys.stderr)
    return 0
