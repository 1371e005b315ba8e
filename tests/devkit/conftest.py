"""Fixtures for the local identity provider (devkit.idp)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from devkit.idp import LocalIdentityProvider
from tests.conftest import IdpFactory


@pytest.fixture
def b2c_idp(idp_factory: IdpFactory) -> LocalIdentityProvider:
    return idp_factory(profile="entra-b2c")


@pytest.fixture
def wso2_idp(idp_factory: IdpFactory) -> LocalIdentityProvider:
    return idp_factory(profile="wso2")


@pytest.fixture
def entra_id_idp(idp_factory: IdpFactory) -> LocalIdentityProvider:
    return idp_factory(profile="entra-id")


@pytest.fixture
def idp_http() -> Iterator[requests.Session]:
    """A session that ignores proxy and CA-bundle environment variables (the IdP is loopback)."""
    with requests.Session() as session:
        session.trust_env = False
        yield session
