"""The :class:`Emulator`: one loopback HTTP server per API of a SAM template."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from devkit.constants import ACCOUNT_ID, BIND_HOST, CLIENT_CERT_HEADER, REGION, STACK_NAME
from devkit.emulator.common import LOG, Response, json_response
from devkit.emulator.httpapi import HttpGateway
from devkit.emulator.invoker import Invoker
from devkit.emulator.rest import RestGateway
from devkit.events import Request
from devkit.runtime import Handler, LambdaRuntime
from devkit.template import TemplateModel, load_template

__all__ = ["Emulator"]


Gateway = RestGateway | HttpGateway


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, port: int, gateway: Gateway) -> None:
        self.gateway = gateway
        super().__init__((BIND_HOST, port), _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and
    # delayed ACKs add ~40 ms to keep-alive requests.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        server = cast(_Server, self.server)
        gateway = server.gateway
        started = time.perf_counter()
        split = urlsplit(self.path)
        try:
            body = self._read_body()
        except ValueError:
            self.send_error(400, "Bad request body")
            return
        raw_path = split.path or "/"
        # No mutual TLS locally: a development client hands its certificate over in this
        # header, which API Gateway's role here turns into clientCert (never forwarded).
        certificate = self.headers.get(CLIENT_CERT_HEADER)
        headers = tuple(
            (name, value)
            for name, value in self.headers.items()
            if name.lower() != CLIENT_CERT_HEADER.lower()
        )
        request = Request(
            method=self.command.upper(),
            path=raw_path,
            raw_path=raw_path,
            raw_query=split.query,
            headers=headers,
            query=tuple(parse_qsl(split.query, keep_blank_values=True)),
            body=body,
            source_ip=self.client_address[0],
            protocol=self.request_version,
            scheme="http",
            request_id=str(uuid.uuid4()),
            epoch_ms=int(time.time() * 1000),
            client_cert=client_cert(unquote(certificate)) if certificate else None,
        )
        try:
            response, note = gateway.handle(request)
        except Exception:
            LOG.exception("emulator bug while handling %s %s", request.method, self.path)
            response, note = json_response(500, {"message": "emulator error"}), "emulator error"
        if gateway.kind == "REST":
            response.set_default("x-amzn-RequestId", request.request_id)
        LOG.info(
            "%s %s %s -> %d [%s] %.1f ms",
            gateway.api.logical_id,
            request.method,
            self.path,
            response.status,
            note,
            (time.perf_counter() - started) * 1000,
        )
        self._write(request, response)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _write(self, request: Request, response: Response) -> None:
        self.send_response_only(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if request.method != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s - %s", self.address_string(), format % args)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


class Emulator:
    """Serve a SAM template's APIs locally; see the module docstring for URLs and usage.

    ``functions`` maps a function's logical id (or, for an authorizer whose ``FunctionArn``
    points outside the template, that ARN) to a handler used instead of importing the
    template's ``Handler`` from ``CodeUri``, or to a ready :class:`~devkit.runtime.LambdaRuntime`
    (the local stack's authorizer, initialised before the servers start). Every function runs
    warm, one execution environment each, with its environment overlaid while it runs.
    ``http_unauthorized_status`` is what an HTTP API
    answers when its authorizer raises ``Exception("Unauthorized")`` (401 or 500: AWS does not
    document it). ``clock`` drives authorizer-cache expiry so tests can move time.
    """

    def __init__(
        self,
        template_path: str | Path,
        *,
        parameter_overrides: Mapping[str, str] | None = None,
        functions: Mapping[str, Handler | LambdaRuntime] | None = None,
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        http_unauthorized_status: int = 401,
        clock: Callable[[], float] = time.monotonic,
        stack_name: str = STACK_NAME,
        ports: Mapping[str, int] | None = None,
        http_default_ttl: int = 0,
    ) -> None:
        if http_unauthorized_status not in (401, 500):
            raise ValueError("http_unauthorized_status must be 401 or 500")
        self.model: TemplateModel = load_template(
            template_path,
            parameter_overrides=parameter_overrides,
            region=region,
            account_id=account_id,
            stack_name=stack_name,
            http_default_ttl=http_default_ttl,
        )
        self.region = region
        self.account_id = account_id
        self.partition = self.model.intrinsics.partition
        self.http_unauthorized_status = http_unauthorized_status
        self.clock = clock
        overrides = dict(functions or {})
        referenced = set(self.model.functions)
        for rest_api in self.model.rest_apis.values():
            referenced.update(a.function_id for a in rest_api.authorizers.values())
        for http_api in self.model.http_apis.values():
            referenced.update(a.function_id for a in http_api.authorizers.values())
        unknown = sorted(set(overrides) - referenced)
        if unknown:
            raise ValueError(f"functions= names no function of the template: {unknown}")
        self.invoker = Invoker(self.model, overrides, region)
        self._gateways: dict[str, Gateway] = {}
        for rest in self.model.rest_apis.values():
            self._gateways[rest.logical_id] = RestGateway(self, rest)
        for http in self.model.http_apis.values():
            self._gateways[http.logical_id] = HttpGateway(self, http)
        self._ports = dict(ports or {})
        self._servers: dict[str, _Server] = {}
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind one 127.0.0.1 port per API (ephemeral unless ``ports`` says otherwise)."""
        if self._servers:
            return self
        try:
            for logical_id, gateway in self._gateways.items():
                server = _Server(self._ports.get(logical_id, 0), gateway)
                self._servers[logical_id] = server
                thread = threading.Thread(
                    target=server.serve_forever,
                    kwargs={"poll_interval": 0.05},
                    name=f"apigw-{logical_id}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)
        except BaseException:
            self.stop()
            raise
        for logical_id in self._servers:
            LOG.info("%s serving at %s", logical_id, self.url(logical_id))
        return self

    def stop(self) -> None:
        # shutdown() blocks for up to one poll interval: stop all servers concurrently.
        stoppers = [threading.Thread(target=s.shutdown) for s in self._servers.values()]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join(timeout=5)
        for server in self._servers.values():
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- introspection -----------------------------------------------------------------------

    @property
    def api_ids(self) -> list[str]:
        """Logical ids of the served APIs."""
        return list(self._gateways)

    def port(self, api_logical_id: str) -> int:
        if api_logical_id not in self._servers:
            raise KeyError(f"{api_logical_id} is not a served API (or the emulator is stopped)")
        return int(self._servers[api_logical_id].server_address[1])

    def url(self, api_logical_id: str) -> str:
        """Base URL of an API's stage, without a trailing slash."""
        base = f"http://{BIND_HOST}:{self.port(api_logical_id)}"
        gateway = self._gateways[api_logical_id]
        stage = gateway.api.stage_name
        if isinstance(gateway, HttpGateway) and stage == "$default":
            return base
        return f"{base}/{stage}"

    def api_id(self, api_logical_id: str) -> str:
        """The fake execute-api id used in ARNs (stable per stack name and logical id)."""
        return self._gateways[api_logical_id].api.api_id

    def flush_authorizer_cache(self, api_logical_id: str | None = None) -> None:
        """Like FlushStageAuthorizersCache / ResetAuthorizersCache (all APIs if None)."""
        for logical_id, gateway in self._gateways.items():
            if api_logical_id in (None, logical_id):
                gateway.cache.clear()

    def invocation_count(self, logical_id: str) -> int:
        """How often a function (authorizer or backend) was invoked."""
        return self.invoker.count(logical_id)

    def invocation_events(self, logical_id: str) -> list[dict[str, Any]]:
        """The last (up to 100) events a function was invoked with, oldest first."""
        return self.invoker.events(logical_id)

    def reset_invocations(self) -> None:
        self.invoker.reset()


def client_cert(pem: str) -> dict[str, Any]:
    """``clientCert`` as API Gateway fills it for a mutual-TLS request:
    the PEM and the certificate's names, serial number and validity."""
    from cryptography import x509

    try:
        certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except ValueError:
        return {"clientCertPem": pem}
    return {
        "clientCertPem": pem,
        "subjectDN": certificate.subject.rfc4514_string(),
        "issuerDN": certificate.issuer.rfc4514_string(),
        "serialNumber": format(certificate.serial_number, "X"),
        "validity": {
            "notBefore": certificate.not_valid_before_utc.strftime("%b %d %H:%M:%S %Y GMT"),
            "notAfter": certificate.not_valid_after_utc.strftime("%b %d %H:%M:%S %Y GMT"),
        },
    }
