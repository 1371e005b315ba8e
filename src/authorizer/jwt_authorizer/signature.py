"""Signature stage: the keys a token names, from its issuer's key sets, and the verification.

The token's header is used for one thing only: choosing among keys already trusted for the
issuer the token claims (by ``kid``, then ``x5t`` / ``x5t#S256``, and WSO2's kid suffix). The
algorithm must be on the issuer's list and fit the key; any library error on hostile input is a
bad signature.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from .errors import (
    BadSignature,
    KeysUnavailable,
    NoUsableKeys,
    UnknownKid,
    UnsupportedAlgorithm,
    facts,
)
from .issuers import IssuerConfig, expected_issuers
from .jwk import KeySet, VerificationKey
from .keyring import KeyRegistry, Prefetch
from .keys import KeySource, Lookup, SourceSpec
from .tokens import UnverifiedJwt

_WELL_KNOWN: Final = "/.well-known/openid-configuration"

#: A key set a request already consulted, with the attempt count read before it did: its
#: refresh is not repeated for an unknown kid in the same request.
Seen = tuple[KeySource, int]


@dataclass(frozen=True, slots=True)
class Verified:
    """What a successful signature check depended on: the key set snapshot and the key."""

    source: KeySource
    snapshot: KeySet
    key: VerificationKey


def source_specs(entry: IssuerConfig, tenant: str | None) -> tuple[SourceSpec, ...]:
    """Where the issuer's key sets come from (one per tenant of a templated issuer)."""

    def resolve(value: str) -> str:
        return value.replace("{tenantid}", tenant) if tenant else value

    issuer = entry.resolved(tenant)
    if entry.jwks is not None:
        return (SourceSpec(name=issuer, inline_id=id(entry.jwks)),)
    if entry.jwks_uris:
        return tuple(
            SourceSpec(name=issuer, jwks_uri=resolve(uri), ca_bundle=entry.ca_bundle)
            for uri in entry.jwks_uris
        )
    urls = entry.discovery_urls or (issuer.rstrip("/") + _WELL_KNOWN,)
    return tuple(
        SourceSpec(
            name=issuer,
            discovery_url=resolve(url),
            expected_issuers=expected_issuers(entry, tenant),
            ca_bundle=entry.ca_bundle,
        )
        for url in urls
    )


class KeySources:
    """Each issuer's (and tenant's) key sources, declared at init, resolved once."""

    def __init__(self, issuers: tuple[IssuerConfig, ...], registry: KeyRegistry) -> None:
        self.registry = registry
        self._specs: dict[tuple[str, str | None], tuple[SourceSpec, ...]] = {}
        self._resolved: dict[tuple[str, str | None], tuple[KeySource, ...]] = {}
        for entry in issuers:
            for tenant in sorted(entry.tenants) if entry.templated else [None]:
                specs = source_specs(entry, tenant)
                self._specs[(entry.issuer, tenant)] = specs
                for spec in specs:
                    registry.declare(spec, entry.algorithms, inline=entry.jwks)

    def start_prefetch(self) -> Prefetch:
        """Start fetching every remote key set in parallel, one worker each."""
        return self.registry.start_prefetch(
            dict.fromkeys(spec for specs in self._specs.values() for spec in specs)
        )

    def of(self, entry: IssuerConfig, tenant: str | None) -> tuple[KeySource, ...]:
        key = (entry.issuer, tenant)
        found = self._resolved.get(key)
        if found is None:
            found = tuple(self.registry.source(spec) for spec in self._specs[key])
            self._resolved[key] = found
        return found

    def clear(self) -> None:
        """Forget every fetched key (the declared sources are configuration and stay)."""
        self.registry.clear()


def verify_signature(
    jwt: UnverifiedJwt,
    entry: IssuerConfig,
    sources: tuple[KeySource, ...],
    *,
    now: Callable[[], float],
    deadline: float | None,
    seen: Seen | None,
) -> Verified:
    """Verify ``jwt`` with the key it names; raise the stage's reason otherwise."""
    source, snapshot, keys = find_keys(jwt, entry, sources, deadline=deadline, seen=seen)
    moment = now()
    usable = [key for key in keys if key.usable_at(moment) and _issuer_ok(key, jwt, entry)]
    if not usable:
        raise UnknownKid("key outside its validity window or for another issuer")
    alg = jwt.alg
    fitting = [key for key in usable if alg in key.verifiers]
    if not fitting:
        raise UnsupportedAlgorithm(
            "algorithm does not fit the key",
            facts=facts(alg=alg, key_algorithms={a for key in usable for a in key.verifiers}),
        )
    for key in fitting:
        try:
            if key.verifiers[alg](jwt.signing_input, jwt.signature):
                return Verified(source, snapshot, key)
        except Exception:  # noqa: S112 - a library error on hostile input is a bad signature
            continue
    raise BadSignature()


def find_keys(
    jwt: UnverifiedJwt,
    entry: IssuerConfig,
    sources: tuple[KeySource, ...],
    *,
    deadline: float | None,
    seen: Seen | None,
) -> tuple[KeySource, KeySet, tuple[VerificationKey, ...]]:
    """The keys the token names, from whichever of the issuer's key sets publishes them, and
    the snapshot they were found in.

    With several sets (B2C policies sharing one issuer) each set follows the same rules as a
    single one: consulting it refreshes it when its TTL passed, and past the stale limit it is
    not used. Every set is consulted before any is refetched for an unknown kid, so a kid
    another policy publishes costs no fetch. If no set knows the kid and one of them is
    unavailable, the answer is unavailable (500), not a 401 that might lock out a good token;
    if none holds a usable key at all, it is ``no_usable_keys``.
    """
    header: Mapping[str, object] = jwt.header
    kid = jwt.kid
    x5t, x5t_s256 = _string(header.get("x5t")), _string(header.get("x5t#S256"))
    suffix = entry.profile.kid_suffix_match

    def attempt(source: KeySource) -> int | None:
        return seen[1] if seen is not None and seen[0] is source else None

    if len(sources) == 1:  # the common case, kept free of the bookkeeping below
        source = sources[0]
        snapshot, keys = source.find(
            kid,
            x5t=x5t,
            x5t_s256=x5t_s256,
            kid_suffix_match=suffix,
            attempt=attempt(source),
            deadline=deadline,
        )
        return source, snapshot, keys
    unavailable: KeysUnavailable | None = None
    missed: list[tuple[KeySource, Lookup]] = []
    for source in sources:
        try:
            looked = source.lookup(
                kid,
                x5t=x5t,
                x5t_s256=x5t_s256,
                kid_suffix_match=suffix,
                attempt=attempt(source),
                deadline=deadline,
            )
        except KeysUnavailable as err:
            unavailable = err
            continue
        if looked.keys:
            return source, looked.snapshot, looked.keys
        missed.append((source, looked))
    holds_keys = False
    for source, looked in missed:
        try:
            snapshot, keys = source.after_miss(
                looked, kid, x5t=x5t, x5t_s256=x5t_s256, kid_suffix_match=suffix, deadline=deadline
            )
        except NoUsableKeys:
            continue
        except UnknownKid:
            holds_keys = True
            continue
        except KeysUnavailable as err:
            unavailable = err
            continue
        return source, snapshot, keys
    if unavailable is not None:
        raise unavailable
    if holds_keys:
        kids = [key.kid or "-" for _, looked in missed for key in looked.snapshot.keys]
        raise UnknownKid(facts=facts(known_kids=kids))
    raise NoUsableKeys()


def _string(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _issuer_ok(key: VerificationKey, jwt: UnverifiedJwt, entry: IssuerConfig) -> bool:
    """Entra v2 keys carry their own ``issuer``; templated ones work for any tenant."""
    return key.issuer is None or key.issuer in (jwt.issuer, entry.issuer)
