"""Real HTTP(S) servers on 127.0.0.1 that answer from a script, for the fetch paths.

Nothing in the suites mocks ``requests`` or sockets: a test that needs an answer the devkit
identity provider cannot give (a redirect, a byte-exact or oversized body, a body or headers
trickled byte by byte, a slow answer, a TLS certificate from another CA) serves it from a
:class:`ScriptedServer`. TLS material is made per server by :class:`TlsMaterial`: a throw-away
CA and a certificate for ``127.0.0.1`` signed by it, written to a temporary directory.
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import socket
import ssl
import tempfile
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class Reply:
    """One scripted HTTP answer.

    ``chunk`` sends the body with ``Transfer-Encoding: chunked`` in pieces of that many bytes
    (no Content-Length, so the client cannot know the size up front); ``trickle`` waits that
    many seconds between pieces (one byte per piece unless ``chunk`` says otherwise);
    ``header_trickle`` sends the status line and headers one byte every that many seconds;
    ``delay`` waits that many seconds before answering at all (a slow identity provider);
    ``close`` hangs up after the body (with a larger Content-Length: a body cut short).
    """

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    chunk: int | None = None
    trickle: float | None = None
    header_trickle: float | None = None
    delay: float | None = None
    close: bool = False


class TlsMaterial:
    """A throw-away CA and a server certificate for 127.0.0.1 and localhost, as PEM files.

    ``ca_bundle`` is what a client trusts (``HttpFetcher.get_json(url, ca_bundle=...)``);
    :meth:`server_context` is what the server presents.
    """

    def __init__(self, common_name: str = "tests CA") -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="tests-tls-")
        root = Path(self._directory.name)
        now = datetime.datetime.now(datetime.UTC)
        start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.DNSName("localhost"),
        ]
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        self.ca_bundle = str(root / "ca.pem")
        Path(self.ca_bundle).write_bytes(ca.public_bytes(pem))
        self._chain = root / "chain.pem"
        self._chain.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
        self._key = root / "key.pem"
        self._key.write_bytes(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self._chain, self._key)
        return context

    def close(self) -> None:
        self._directory.cleanup()


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


class ScriptedServer:
    """A loopback HTTP/1.1 server (HTTPS with ``tls``) answering GETs from a path -> Reply
    table; anything not scripted is a 404. ``hits`` counts the requests per path."""

    def __init__(self, *, tls: bool = False) -> None:
        self.routes: dict[str, Reply] = {}
        self.hits: Counter[str] = Counter()
        #: The headers of every request, in order.
        self.requests: list[dict[str, str]] = []
        #: The client port of every request, in order (one port: one kept-alive connection).
        self.clients: list[int] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.tls = TlsMaterial() if tls else None
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        if self.tls is not None:
            self._server.socket = self.tls.server_context().wrap_socket(
                self._server.socket, server_side=True
            )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_bundle(self) -> str | None:
        """The PEM file a client must trust to reach this server (None: plain HTTP)."""
        return self.tls.ca_bundle if self.tls else None

    def serve(self, path: str, reply: Reply) -> str:
        """Answer GET ``path`` with ``reply`` from now on; returns the URL."""
        with self.lock:
            self.routes[path] = reply
        return self.base_url + path

    def serve_json(self, path: str, document: object, **headers: str) -> str:
        return self.serve(path, Reply(200, json.dumps(document).encode(), headers))

    def close(self) -> None:
        """Stop serving (again is fine): answers in progress hang up."""
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        if self.tls is not None:
            self.tls.close()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None


def _handler_for(server: ScriptedServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            with server.lock:
                server.hits[self.path] += 1
                server.requests.append(dict(self.headers.items()))
                server.clients.append(self.client_address[1])
                reply = server.routes.get(self.path, Reply(404, b'{"error":"not_found"}'))
            if reply.delay is not None and server.stopping.wait(reply.delay):
                self.close_connection = True  # stopping: hang up, do not wait for more
                return
            headers = {"Content-Type": "application/json", **reply.headers}
            if reply.chunk is not None:
                headers["Transfer-Encoding"] = "chunked"
            else:
                headers.setdefault("Content-Length", str(len(reply.body)))
            head = f"HTTP/1.1 {reply.status} {_phrase(reply.status)}\r\n"
            head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
            raw = head.encode("latin-1")
            trickled = reply.header_trickle is not None
            head_pieces = [raw[i : i + 1] for i in range(len(raw))] if trickled else [raw]
            if not self._send(head_pieces, reply.header_trickle):
                return
            size = reply.chunk or (1 if reply.trickle is not None else len(reply.body) or 1)
            pieces = [reply.body[i : i + size] for i in range(0, len(reply.body), size)]
            if reply.chunk is not None:
                pieces = [b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces]
            if self._send(pieces, reply.trickle) and reply.chunk is not None:
                self._send([b"0\r\n\r\n"], None)
            if reply.close:
                self.close_connection = True

        def _send(self, pieces: list[bytes], pause: float | None) -> bool:
            """Write each piece, ``pause`` seconds apart; False when the client gave up or the
            server is stopping (then the connection is closed: what the deadline tests want)."""
            try:
                for piece in pieces:
                    self.wfile.write(piece)
                    self.wfile.flush()
                    if pause is not None and server.stopping.wait(pause):
                        self.close_connection = True
                        return False
            except OSError:
                self.close_connection = True
                return False
            return True

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Scripted"


def closed_port() -> int:
    """A loopback port nobody listens on (bound then released: connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
