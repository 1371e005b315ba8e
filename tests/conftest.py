"""Fixtures shared by every test folder, and the network guard (:mod:`tests.support.network`):
no test connects to, or looks up, anything but this machine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devkit.idp import LocalIdentityProvider
from tests.support import network
from tests.support.iam_oracle import IamOracle
from tests.support.servers import ScriptedServer

IdpFactory = Callable[..., LocalIdentityProvider]


@pytest.fixture(scope="session", autouse=True)
def _loopback_only_session() -> Iterator[None]:
    """Installed once, before any other fixture, so session and module fixtures are guarded too."""
    with pytest.MonkeyPatch.context() as patch:
        network.install(patch)
        yield


@pytest.fixture(autouse=True)
def loopback_only() -> Iterator[None]:
    """Fail the test during which (its fixtures included) a connection or lookup was refused."""
    yield
    attempts = network.take_attempts()
    assert attempts == [], f"network access beyond loopback attempted: {attempts}"


@pytest.fixture(scope="session")
def idp_signing_key_pem() -> str:
    """One RSA key for the whole session: generating a key per IdP would dominate test time."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


@pytest.fixture
def idp_factory(idp_signing_key_pem: str) -> Iterator[IdpFactory]:
    """Start IdPs with any constructor arguments (session key by default); all stop at teardown."""
    started: list[LocalIdentityProvider] = []

    def factory(**kwargs: Any) -> LocalIdentityProvider:
        kwargs.setdefault("signing_key_pem", idp_signing_key_pem)
        idp = LocalIdentityProvider(**kwargs)
        idp.start()
        started.append(idp)
        return idp

    yield factory
    for idp in started:
        idp.stop()


@pytest.fixture(scope="session")
def iam_oracle() -> Iterator[IamOracle]:
    """iam-simulate, an IAM evaluator independent of ours: one Node process for the session."""
    with IamOracle() as oracle:
        yield oracle


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    """A plain-HTTP scripted server on 127.0.0.1 (:class:`tests.support.servers.ScriptedServer`)."""
    server = ScriptedServer()
    yield server
    server.close()


@pytest.fixture
def scripted_tls() -> Iterator[ScriptedServer]:
    """The same over HTTPS, with its own throw-away CA (``scripted_tls.ca_bundle``)."""
    server = ScriptedServer(tls=True)
    yield server
    server.close()
