"""Builders for the deployed stages from a :class:`Config`, as ``Authorizer.from_environ`` wires
them (the stages take plain values, not the configuration)."""

from __future__ import annotations

import time
from collections.abc import Callable

from jwt_authorizer.config import Config
from jwt_authorizer.keys import KeyRegistry
from jwt_authorizer.validator import TokenValidator


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
