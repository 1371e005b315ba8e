"""The Lambda Runtime API on loopback, so a real runtime interface client can run a function.

Lambda's Python runtime is ``awslambdaric``: a process that asks the Runtime API (2018-06-01)
for the next event, calls the handler, and posts the answer or the error document back; an
init failure goes to the init-error endpoint and ends the process. :class:`RuntimeApi` serves
that API on 127.0.0.1 (``GET /runtime/invocation/next``, ``POST
/runtime/invocation/{id}/response`` and ``.../error``, ``POST /runtime/init/error``) and
:class:`ClientProcess` starts the client on a function with its Lambda environment. The two
make an independent oracle for :mod:`devkit.runtime`: the same event through the real client
and through :class:`~devkit.runtime.LambdaRuntime` must give the same answer or error
(tests/devkit/test_runtime_api.py).
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Self, cast

from devkit.constants import BIND_HOST
from devkit.runtime.environment import PASSTHROUGH
from devkit.runtime.function import FunctionSpec

__all__ = ["ApiInvocation", "ClientProcess", "InitError", "RuntimeApi"]

_PREFIX: Final = "/2018-06-01/runtime"
_RESULT: Final = re.compile(rf"^{_PREFIX}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")
_ERROR_TYPE: Final = "Lambda-Runtime-Function-Error-Type"


@dataclass(frozen=True)
class ApiInvocation:
    """What the client posted for one event: the answer, or its error document (and header)."""

    request_id: str
    answer: Any = None
    #: As posted: ``errorMessage``, ``errorType``, ``requestId``, ``stackTrace``.
    error: dict[str, Any] | None = None
    error_type_header: str | None = None


@dataclass(frozen=True)
class InitError:
    """What the client posted to the init-error endpoint."""

    document: dict[str, Any]
    error_type_header: str | None


@dataclass
class _Pending:
    request_id: str
    body: bytes
    deadline_ms: int
    done: threading.Event = field(default_factory=threading.Event)
    result: ApiInvocation | None = None


class RuntimeApi:
    """The Runtime API of one execution environment; a context manager."""

    def __init__(self, function: FunctionSpec) -> None:
        self.function = function
        self._queue: queue.Queue[_Pending] = queue.Queue()
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._init_failed = threading.Event()
        self.init_error: InitError | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        """``host:port``, the value of ``AWS_LAMBDA_RUNTIME_API``."""
        if self._server is None:
            raise RuntimeError("the Runtime API is not started")
        return f"{BIND_HOST}:{self._server.server_address[1]}"

    def start(self) -> Self:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def wait_for_init_error(self, timeout: float) -> InitError | None:
        self._init_failed.wait(timeout)
        return self.init_error

    def invoke(self, event: Any, *, timeout: float = 30.0) -> ApiInvocation:
        """Hand ``event`` to the client and wait for its answer (``TimeoutError`` if none, or
        ``RuntimeError`` if the client reported an init failure instead)."""
        request_id = str(uuid.uuid4())
        deadline_ms = int(time.time() * 1000) + self.function.timeout * 1000
        pending = _Pending(request_id, json.dumps(event).encode(), deadline_ms)
        with self._lock:
            self._pending[request_id] = pending
        self._queue.put(pending)
        waited = 0.0
        while not pending.done.wait(0.05):
            waited += 0.05
            if self._init_failed.is_set():
                raise RuntimeError(f"the runtime failed its init: {self.init_error}")
            if waited >= timeout:
                raise TimeoutError(f"no answer to {request_id} within {timeout} s")
        assert pending.result is not None
        return pending.result

    # -- called from the server's threads ----------------------------------------------------

    def _next(self) -> _Pending | None:
        while not self._stopping.is_set():
            try:
                return self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
        return None

    def _complete(self, request_id: str, result: ApiInvocation) -> bool:
        with self._lock:
            pending = self._pending.pop(request_id, None)
        if pending is None:
            return False
        pending.result = result
        pending.done.set()
        return True

    def _fail_init(self, error: InitError) -> None:
        self.init_error = error
        self._init_failed.set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, runtime_api: RuntimeApi) -> None:
        self.runtime_api = runtime_api
        super().__init__((BIND_HOST, 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # and Expect: 100-continue, which the native client sends

    @property
    def runtime_api(self) -> RuntimeApi:
        return cast(_Server, self.server).runtime_api

    def do_GET(self) -> None:
        if self.path != f"{_PREFIX}/invocation/next":
            self._reply(404, {"errorMessage": "not found", "errorType": "NotFound"})
            return
        pending = self.runtime_api._next()
        if pending is None:
            self._reply(503, {"errorMessage": "stopping", "errorType": "Stopping"})
            return
        function = self.runtime_api.function
        self._reply(
            200,
            pending.body,
            {
                "Lambda-Runtime-Aws-Request-Id": pending.request_id,
                "Lambda-Runtime-Deadline-Ms": str(pending.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": function.arn,
                "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}",
            },
        )

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        error_type = self.headers.get(_ERROR_TYPE)
        if self.path == f"{_PREFIX}/init/error":
            self.runtime_api._fail_init(InitError(_json_object(body), error_type))
            self._reply(202, {"status": "OK"})
            return
        matched = _RESULT.match(self.path)
        if matched is None:
            self._reply(404, {"errorMessage": "not found", "errorType": "NotFound"})
            return
        request_id = matched["id"]
        if matched["kind"] == "response":
            result = ApiInvocation(request_id, answer=json.loads(body or b"null"))
        else:
            result = ApiInvocation(
                request_id, error=_json_object(body), error_type_header=error_type
            )
        if not self.runtime_api._complete(request_id, result):
            self._reply(
                400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}
            )
            return
        self._reply(202, {"status": "OK"})

    def _reply(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return  # the client's traffic is not worth a line each


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return {"unparsed": body.decode("utf-8", errors="replace")}
    return cast(dict[str, Any], document) if isinstance(document, dict) else {"value": document}


class ClientProcess:
    """``python -m awslambdaric <handler>`` on ``function`` against ``api``; a context manager.

    The process gets exactly the function's environment (plus ``PATH`` and temporary
    directories, as a sandbox has), ``AWS_LAMBDA_RUNTIME_API`` and the function's code on
    ``PYTHONPATH``; this interpreter's site-packages stand in for the layer. Its output
    (the function's logs and the client's own) is collected in :attr:`output`.
    """

    def __init__(
        self, function: FunctionSpec, api: RuntimeApi, environment: Mapping[str, str]
    ) -> None:
        if not function.handler or function.code_uri is None:
            raise ValueError(f"{function.logical_id}: needs Handler and a local CodeUri")
        self.function = function
        self.api = api
        self.environment = dict(environment)
        self._process: subprocess.Popen[str] | None = None
        self._output: list[str] = []
        self._reader: threading.Thread | None = None

    @property
    def output(self) -> str:
        return "".join(self._output)

    def start(self) -> Self:
        assert self.function.handler is not None
        assert self.function.code_uri is not None
        code = str(self.function.code_uri)
        env = {name: os.environ[name] for name in PASSTHROUGH if name in os.environ}
        env |= self.environment | {"AWS_LAMBDA_RUNTIME_API": self.api.address, "PYTHONPATH": code}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "awslambdaric", self.function.handler],
            cwd=code,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._output.append(line)

    def wait(self, timeout: float) -> int:
        """The exit status (``TimeoutExpired`` while it runs)."""
        assert self._process is not None
        return self._process.wait(timeout)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
