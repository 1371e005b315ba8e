"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devkit.idp import LocalIdentityProvider
from tests.support.iam_oracle import IamOracle

IdpFactory = Callable[..., LocalIdentityProvider]


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
