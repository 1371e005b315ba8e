"""AWS APIs for the tests: moto in server mode, a real HTTP endpoint on 127.0.0.1 that boto3
and Powertools reach through ``AWS_ENDPOINT_URL`` (never the network, never real credentials)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

REGION = "eu-west-1"


@contextmanager
def moto_server(*, serial: bool = False) -> Iterator[str]:
    """moto's threaded server on a free loopback port, its backends emptied (they are
    process-wide: what an earlier test stored would still be there); yields its URL.

    ``serial``: one request at a time. DynamoDB applies a conditional write atomically; moto's
    threaded server checks the condition and writes without a lock, so two concurrent PutItems
    can both pass (seen under load). Serving one request at a time gives the tests the
    atomicity the service guarantees."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    if serial:
        wsgi: Any = server._server
        inner = wsgi.app
        one_at_a_time = threading.Lock()

        def serialised(environ: Any, start_response: Any) -> list[bytes]:
            with one_at_a_time:
                return list(inner(environ, start_response))

        wsgi.app = serialised
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        requests.post(f"{url}/moto-api/reset", timeout=5).raise_for_status()
        yield url
    finally:
        server.stop()


@contextmanager
def aws_endpoint(monkeypatch: pytest.MonkeyPatch, url: str) -> Iterator[None]:
    """boto3 and Powertools pointed at ``url`` with dummy credentials; Powertools' parameter
    providers (which keep their endpoint across calls) start afresh and are dropped after."""
    for name, value in {
        "AWS_ENDPOINT_URL": url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    from aws_lambda_powertools.utilities import parameters

    clear_caches: Callable[[], None] = parameters.clear_caches
    clear_caches()
    try:
        yield
    finally:
        clear_caches()
