"""The suite's network guard (tests/support/network.py): loopback passes, the rest is refused."""

from __future__ import annotations

import socket

import pytest

from tests.support import network
from tests.support.servers import ScriptedServer, closed_port


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "localhost", "LOCALHOST", b"127.0.0.1"],
)
def test_loopback_hosts(host: str | bytes) -> None:
    assert network.loopback_host(host) is True


@pytest.mark.parametrize(
    "host", ["192.0.2.1", "10.0.0.1", "::ffff:192.0.2.1", "2001:db8::1", "example.com", "", None]
)
def test_other_hosts(host: str | None) -> None:
    assert network.loopback_host(host) is False


@pytest.mark.parametrize("host", [None, "", "0.0.0.0", "::"])
def test_lookups_that_resolve_nothing_are_allowed(host: str | None) -> None:
    assert network.loopback_host(host, lookup=True) is True


def test_a_connection_to_loopback_goes_through(scripted: ScriptedServer) -> None:
    with socket.create_connection(("127.0.0.1", scripted.port), timeout=2) as sock:
        assert sock.getpeername() == ("127.0.0.1", scripted.port)
    with pytest.raises(ConnectionRefusedError) as refused:
        socket.create_connection(("127.0.0.1", closed_port()), timeout=2)
    assert type(refused.value) is ConnectionRefusedError  # refused by nobody listening


def test_a_connection_elsewhere_is_refused_and_recorded() -> None:
    with pytest.raises(network.NonLoopbackLookup):  # create_connection looks the address up
        socket.create_connection(("192.0.2.1", 443), timeout=2)
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(network.NonLoopbackConnection),
    ):
        sock.connect(("192.0.2.1", 443))
    with (
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock,
        pytest.raises(network.NonLoopbackConnection),
    ):
        sock.connect_ex(("2001:db8::1", 443, 0, 0))
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        pytest.raises(network.NonLoopbackConnection),
    ):
        sock.sendto(b"x", ("192.0.2.53", 53))
    assert network.take_attempts() == [
        "getaddrinfo '192.0.2.1'",
        "connect to ('192.0.2.1', 443)",
        "connect_ex to ('2001:db8::1', 443, 0, 0)",
        "sendto ('192.0.2.53', 53)",
    ]


def test_an_invalid_name_fails_to_resolve_without_counting_as_an_attempt() -> None:
    """RFC 6761: names under .invalid never resolve; the guard says so without a resolver."""
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("idp.example.invalid", 443)
    with socket.socket() as sock, pytest.raises(socket.gaierror):
        sock.connect(("idp.example.invalid", 443))
    assert network.take_attempts() == []


def test_a_lookup_of_another_host_is_refused_and_recorded() -> None:
    with pytest.raises(network.NonLoopbackLookup):
        socket.getaddrinfo("example.com", 443)
    with pytest.raises(network.NonLoopbackLookup):
        socket.gethostbyname("example.com")
    assert socket.gethostbyname("localhost").startswith("127.")
    assert network.take_attempts() == [
        "getaddrinfo 'example.com'",
        "gethostbyname 'example.com'",
    ]
