"""Fixtures for the unit tests (builders are in tests/support/stages.py)."""

from __future__ import annotations

import pytest

from tests.support.dpop import DpopClient
from tests.support.signing import SigningKey


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    return SigningKey.generate("RS256", kid="rsa-1")


@pytest.fixture(scope="module")
def client() -> DpopClient:
    """A DPoP client key pair (ES256): proofs and the ``cnf.jkt`` of tokens bound to it."""
    return DpopClient.generate("ES256")
