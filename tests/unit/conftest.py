"""Shared builders for unit tests: inline key sets, so no network is involved."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from jwt_authorizer import Authorizer
from jwt_authorizer.config import parse_config
from jwt_authorizer.keys import KeyRegistry
from jwt_authorizer.validator import TokenValidator
from tests.support.signing import SigningKey, claims
from tests.support.stages import validator_for

ISSUER = claims()["iss"]
AUDIENCE = claims()["aud"]


class NoNetwork:
    """A fetcher that fails the test if anything tries to fetch keys."""

    def get_json(self, url: str, *, ca_bundle: str | None) -> object:
        raise AssertionError(f"unexpected fetch of {url}")


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    return SigningKey.generate("RS256", kid="rsa-1")


def issuer_entry(key: SigningKey, **overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "profile": "entra-b2c",
        "jwks": {"keys": [key.public_jwk()]},
    }
    entry.update(overrides)
    return entry


def make_validator(
    document: dict[str, Any], *, now: Callable[[], float] | None = None
) -> TokenValidator:
    config = parse_config(document)
    registry = KeyRegistry(config.keys, fetcher=NoNetwork())
    if now is None:
        return validator_for(config, registry)
    return validator_for(config, registry, wall_clock=now)


def make_authorizer(document: dict[str, Any], **environ: str) -> Authorizer:
    """An authorizer from ``document``; ``environ`` adds variables (``POWERTOOLS_SERVICE_NAME``)."""
    return Authorizer.from_environ(
        {"AUTH_CONFIG": json.dumps(document), **environ}, fetcher=NoNetwork()
    )
