"""Builders for the deployed stages from a configuration, as ``Authorizer.from_environ`` wires
them (the stages take plain values, not the configuration), with no network: the issuers of
:func:`issuer_entry` carry their keys inline, and every builder's fetcher refuses to fetch."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from jwt_authorizer import Authorizer
from jwt_authorizer.config import Config, parse_config
from jwt_authorizer.issuers import IssuerConfig
from jwt_authorizer.keyring import KeyRegistry
from jwt_authorizer.profiles import PROFILES
from jwt_authorizer.routes import RouteRule, parse_route_key
from jwt_authorizer.tokens import UnverifiedJwt
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


def issuer_config(profile: str = "entra-b2c", **fields: Any) -> IssuerConfig:
    """An :class:`IssuerConfig` built directly, as the pure stages (issuers, claims, principal)
    receive it: the default issuer and audience, ``profile``'s claim defaults, a leeway of 60 s;
    ``fields`` replace any of them (sets may be given as sets)."""
    chosen = PROFILES[profile]
    base = IssuerConfig(
        issuer=ISSUER,
        audiences=frozenset({AUDIENCE}),
        profile=chosen,
        algorithms=frozenset({"RS256"}),
        scope_claims=chosen.scope_claims,
        client_id_claims=chosen.client_id_claims,
        principal_claims=("sub",),
        leeway_seconds=60,
    )
    frozen: dict[str, Any] = {
        k: frozenset(v) if isinstance(v, set) else v for k, v in fields.items()
    }
    return replace(base, **frozen)


def route_rule(
    key: str,
    scopes: Iterable[str] = (),
    all_scopes: Iterable[str] = (),
    issuers: Iterable[str] | None = None,
) -> RouteRule:
    """A route rule as the configuration builds it from ``{"route": key, ...}``."""
    method, path = parse_route_key(key)
    return RouteRule(
        route_key=f"{method} {path}" if method != "$default" else "$default",
        method=method,
        path=path,
        scopes=frozenset(scopes),
        all_scopes=frozenset(all_scopes),
        issuers=frozenset(issuers) if issuers is not None else None,
    )


def unverified(payload: dict[str, Any], header: dict[str, Any] | None = None) -> UnverifiedJwt:
    """A decoded, not yet verified token with these header and payload (no signature)."""
    return UnverifiedJwt(
        header={"alg": "RS256", **(header or {})},
        payload=payload,
        signing_input=b"",
        signature=b"",
        header_segment="",
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
