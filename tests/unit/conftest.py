"""Fixtures for the unit tests (builders are in tests/support/stages.py)."""

from __future__ import annotations

import pytest

from tests.support.signing import SigningKey


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    return SigningKey.generate("RS256", kid="rsa-1")
