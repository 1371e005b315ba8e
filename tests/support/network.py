"""The suite's network guard: connections and name lookups stay on this machine.

Installed for the whole session by ``tests/conftest.py``. Allowed: ``127.0.0.0/8``, ``::1`` (and
``::ffff:127.x.x.x``), the name ``localhost``, and ``AF_UNIX`` sockets; also lookups that ask for
no host (``None`` or ``""``, what a server binding does) and of the unspecified addresses
(``0.0.0.0``, ``::``), which resolve nothing. A name under ``.invalid`` fails to resolve at once,
unrecorded: RFC 6761 reserves it to never resolve, and the guard answers so itself instead of
letting a resolver ask the network. Anything else is refused with an :class:`OSError`
(what an unreachable network looks like to the code under test) and recorded in
:data:`ATTEMPTS`: the authorizer fails closed on any error and fetches keys in threads that
swallow every exception, so refusing alone could hide an attempt; the per-test fixture fails the
test when the list is not empty. Subprocesses are out of its reach.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable
from typing import Any, Final

import pytest

#: What was refused since the last check, as short descriptions.
ATTEMPTS: Final[list[str]] = []
_LOCK: Final = threading.Lock()
_LOCAL_NAMES: Final = frozenset({"localhost", "localhost."})


class NonLoopbackConnection(ConnectionRefusedError):
    """A connection to an address off this machine was refused by the test suite."""


class NonLoopbackLookup(socket.gaierror):
    """A name lookup of a host other than localhost was refused by the test suite."""


def never_resolves(host: object) -> bool:
    """A name under the RFC 6761 ``.invalid`` top-level domain."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return isinstance(host, str) and host.lower().rstrip(".").endswith(".invalid")


def loopback_host(host: object, *, lookup: bool = False) -> bool:
    """Whether ``host`` (a name or an address, str or bytes) stays on this machine."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if lookup and host in (None, ""):
        return True
    if not isinstance(host, str):
        return False
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or (lookup and address.is_unspecified)


def _allowed_address(family: int, address: object) -> bool:
    if family == getattr(socket, "AF_UNIX", None):
        return True
    if isinstance(address, tuple) and address:
        return loopback_host(address[0])
    return False


def _refuse(kind: str, target: object) -> None:
    description = f"{kind} {target!r}"[:160]
    with _LOCK:
        ATTEMPTS.append(description)


def install(patch: pytest.MonkeyPatch) -> None:
    """Guard every way Python code reaches the network (``create_connection`` and ``requests``
    go through ``getaddrinfo`` and ``socket.connect``)."""
    connect = socket.socket.connect
    connect_ex = socket.socket.connect_ex
    sendto = socket.socket.sendto
    getaddrinfo = socket.getaddrinfo
    lookups: dict[str, Callable[..., Any]] = {
        name: getattr(socket, name)
        for name in ("gethostbyname", "gethostbyname_ex", "gethostbyaddr")
    }
    getnameinfo = socket.getnameinfo

    def unresolvable(host: object) -> NonLoopbackLookup:
        return NonLoopbackLookup(socket.EAI_NONAME, f"{host!r} never resolves (RFC 6761)")

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address and never_resolves(address[0]):
            raise unresolvable(address[0])
        if not _allowed_address(self.family, address):
            _refuse("connect to", address)
            raise NonLoopbackConnection(f"the test suite refuses connections to {address!r}")
        connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        if isinstance(address, tuple) and address and never_resolves(address[0]):
            raise unresolvable(address[0])
        if not _allowed_address(self.family, address):
            _refuse("connect_ex to", address)
            raise NonLoopbackConnection(f"the test suite refuses connections to {address!r}")
        return connect_ex(self, address)

    def guarded_sendto(self: socket.socket, data: Any, *args: Any) -> int:
        address = args[-1] if args else None
        if not _allowed_address(self.family, address):
            _refuse("sendto", address)
            raise NonLoopbackConnection(f"the test suite refuses datagrams to {address!r}")
        sent: int = sendto(self, data, *args)
        return sent

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if never_resolves(host):
            raise unresolvable(host)
        if not loopback_host(host, lookup=True):
            _refuse("getaddrinfo", host)
            raise NonLoopbackLookup(socket.EAI_NONAME, f"the suite refuses to look up {host!r}")
        return getaddrinfo(host, *args, **kwargs)

    def guard_lookup(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(host: Any) -> Any:
            if never_resolves(host):
                raise unresolvable(host)
            if not loopback_host(host, lookup=True):
                _refuse(name, host)
                raise NonLoopbackLookup(socket.EAI_NONAME, f"the test suite refuses {name}")
            return original(host)

        return guarded

    def guarded_getnameinfo(address: Any, flags: int) -> Any:
        if not (isinstance(address, tuple) and address and loopback_host(address[0])):
            _refuse("getnameinfo", address)
            raise NonLoopbackLookup(socket.EAI_NONAME, "the test suite refuses getnameinfo")
        return getnameinfo(address, flags)

    patch.setattr(socket.socket, "connect", guarded_connect)
    patch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    patch.setattr(socket.socket, "sendto", guarded_sendto)
    patch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    for name, original in lookups.items():
        patch.setattr(socket, name, guard_lookup(name, original))
    patch.setattr(socket, "getnameinfo", guarded_getnameinfo)


def take_attempts() -> list[str]:
    """The attempts refused since the last call, and forget them."""
    with _LOCK:
        found = list(ATTEMPTS)
        ATTEMPTS.clear()
    return found
