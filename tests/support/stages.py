"""Builders for the deployed stages from a configuration, as ``Authorizer.from_environ`` wires
them (the stages take plain values, not the configuration), with no network: the issuers of
:func:`issuer_entry` carry their keys inline, and every builder's fetcher refuses to fetch."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from jwt_authorizer import Authorizer
from jwt_authorizer.config import Config, parse_config
from jwt_authorizer.keys import KeyRegistry
from jwt_authorizer.validator import TokenValidator
from tests.support.constants import AUDIENCE, ISSUER
from tests.support.fetchers import NoNetworkFetcher
from tests.support.signing import SigningKey


def validator_for(
    config: Config,
    registry: KeyRegistry,
    *,
    wall_clock: Callable[[], float] = time.time,
) -> TokenValidator:
    return TokenValidator(
        config.issuers,
        registry,
        max_token_bytes=config.max_token_bytes,
        verified_token_cache_size=config.verified_token_cache_size,
        wall_clock=wall_clock,
    )


def issuer_entry(key: SigningKey, **overrides: Any) -> dict[str, Any]:
    """An ``issuers[]`` entry for the default B2C issuer with ``key`` inline, plus overrides."""
    entry: dict[str, Any] = {
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "profile": "entra-b2c",
        "jwks": {"keys": [key.public_jwk()]},
    }
    entry.update(overrides)
    return entry


def make_validator(
    document: dict[str, Any], *, now: Callable[[], float] = time.time
) -> TokenValidator:
    """The validator of an ``AUTH_CONFIG`` document (``now``: its wall clock)."""
    config = parse_config(document)
    registry = KeyRegistry(config.keys, fetcher=NoNetworkFetcher())
    return validator_for(config, registry, wall_clock=now)


def make_authorizer(document: dict[str, Any], **environ: str) -> Authorizer:
    """An authorizer from ``document``; ``environ`` adds variables (``POWERTOOLS_SERVICE_NAME``)."""
    return Authorizer.from_environ(
        {"AUTH_CONFIG": json.dumps(document), **environ}, fetcher=NoNetworkFetcher()
    )
