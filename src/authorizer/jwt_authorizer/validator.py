"""The validation pipeline: parse -> issuer -> algorithm -> key -> signature -> claims.

Each stage raises its own :mod:`errors` class. The token header is used for one thing only:
choosing among keys we already trust for the issuer the token claims.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Final

from .claims import Principal, validate_claims
from .config import GUID_RE, TENANT_PLACEHOLDER, Config, IssuerConfig
from .errors import (
    AuthorizerError,
    BadSignature,
    FirstPartyToken,
    KeysUnavailable,
    NoUsableKeys,
    UnknownIssuer,
    UnknownKid,
    UnsupportedAlgorithm,
    WrongTenant,
)
from .keys import (
    KeyRegistry,
    KeySet,
    KeySource,
    Lookup,
    Prefetch,
    SourceSpec,
    VerificationKey,
    expected_issuers,
)
from .tokens import UnverifiedJwt, decompose_unverified

_WELL_KNOWN: Final = "/.well-known/openid-configuration"
_KNOWN_HEADERS: Final = 32

_Seen = tuple[KeySource, int]


@dataclass(frozen=True, slots=True)
class _Verified:
    """What a successful signature check depended on, kept per exact token string."""

    jwt: UnverifiedJwt
    entry: IssuerConfig
    tenant: str | None
    source: KeySource
    snapshot: KeySet
    key: VerificationKey


class TokenValidator:
    """Validates bearer tokens against every configured issuer, sharing one key registry."""

    def __init__(
        self,
        config: Config,
        registry: KeyRegistry,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._registry = registry
        self._now = wall_clock
        self._exact = {entry.issuer: entry for entry in config.issuers if not entry.templated}
        self._templated = tuple(entry for entry in config.issuers if entry.templated)
        self._specs: dict[tuple[str, str | None], tuple[SourceSpec, ...]] = {}
        self._cache_size = config.verified_token_cache_size
        self._verified: dict[str, _Verified] = {}
        self._sources: dict[tuple[str, str | None], tuple[KeySource, ...]] = {}
        # Headers of tokens that validated (issuer-signed, so few and stable), decoded once.
        self._headers: dict[str, dict[str, Any]] = {}
        for entry in config.issuers:
            for tenant in sorted(entry.tenants) if entry.templated else [None]:
                specs = _source_specs(entry, tenant)
                self._specs[(entry.issuer, tenant)] = specs
                for spec in specs:
                    registry.declare(spec, entry.algorithms, inline=entry.jwks)

    def clear(self) -> None:
        """Forget every verified token, decoded header and fetched key: the state of a validator
        just built (its configuration and key sources stay)."""
        self._verified.clear()
        self._headers.clear()
        self._registry.clear()

    def prefetch(self) -> dict[str, bool]:
        """Warm every key set (in parallel); returns which sources answered."""
        return self.start_prefetch().wait()

    def start_prefetch(self) -> Prefetch:
        return self._registry.start_prefetch(
            dict.fromkeys(spec for specs in self._specs.values() for spec in specs)
        )

    def validate(self, token: str, *, deadline: float | None = None) -> Principal:
        """The verified principal, or an :mod:`errors` exception.

        ``deadline`` (from :func:`keys.deadline_in`): no key fetch holds the call past it; a
        refresh still running then leaves the cached keys to decide, under the stale rules.
        None: a fetch is waited for up to its own budget (connect + read timeout per document).
        """
        return self._validate(token, deadline, None)

    def _validate(self, token: str, deadline: float | None, seen: _Seen | None) -> Principal:
        """``seen``: a key set this request already consulted, with the attempt count read
        before it did (its refresh is not repeated for an unknown kid)."""
        hit = self._verified.get(token)
        if hit is not None:
            return self._revalidate(token, hit, deadline)
        jwt = decompose_unverified(
            token, max_bytes=self._config.max_token_bytes, known_headers=self._headers
        )
        try:
            entry, tenant = self._select_issuer(jwt)
            if jwt.alg not in entry.algorithms:
                raise UnsupportedAlgorithm()
            if entry.microsoft and "nonce" in jwt.header:
                raise FirstPartyToken()
            verified = self._verify_signature(jwt, entry, tenant, deadline, seen)
            principal = validate_claims(
                jwt.payload, jwt.header, entry, now=self._now(), tenant=tenant
            )
        except AuthorizerError as err:
            err.about(issuer=jwt.issuer, kid=jwt.kid)
            raise
        if jwt.header_segment not in self._headers and len(self._headers) < _KNOWN_HEADERS:
            self._headers[jwt.header_segment] = jwt.header
        if verified is not None:
            if len(self._verified) >= self._cache_size:
                with suppress(RuntimeError, StopIteration):  # another thread changed it meanwhile
                    self._verified.pop(next(iter(self._verified)), None)
            self._verified[token] = verified
        return principal

    def _revalidate(self, token: str, hit: _Verified, deadline: float | None) -> Principal:
        """A token verified before: skip parsing and the signature, never the claims.

        The result only stands while the key set it was verified against is still the current
        one (a refresh that removes the key forces a full re-verification) and the key itself is
        still inside its validity window.
        """
        jwt = hit.jwt
        try:
            attempt = hit.source.attempts
            current = hit.source.current(attempt=attempt, deadline=deadline)
            if current is not hit.snapshot or not hit.key.usable_at(self._now()):
                self._verified.pop(token, None)
                return self._validate(token, deadline, (hit.source, attempt))
            return validate_claims(
                jwt.payload, jwt.header, hit.entry, now=self._now(), tenant=hit.tenant
            )
        except AuthorizerError as err:
            self._verified.pop(token, None)
            err.about(issuer=jwt.issuer, kid=jwt.kid)
            raise

    def _select_issuer(self, jwt: UnverifiedJwt) -> tuple[IssuerConfig, str | None]:
        """Exact ``iss`` lookup; templated Entra issuers substitute an allow-listed ``tid``."""
        iss = jwt.issuer
        if iss is None:
            raise UnknownIssuer("iss missing")
        entry = self._exact.get(iss)
        if entry is not None:
            return entry, None
        tid = jwt.payload.get("tid")
        for templated in self._templated:
            if not isinstance(tid, str) or not GUID_RE.fullmatch(tid):  # "$" allows "\n"
                continue
            if templated.issuer.replace(TENANT_PLACEHOLDER, tid) != iss:
                continue
            if tid.lower() not in templated.tenants:
                raise WrongTenant("tenant not in allow-list")
            return templated, tid.lower()
        raise UnknownIssuer()

    def _verify_signature(
        self,
        jwt: UnverifiedJwt,
        entry: IssuerConfig,
        tenant: str | None,
        deadline: float | None,
        seen: _Seen | None,
    ) -> _Verified | None:
        """Verify, and say what the result depends on (None: do not cache it)."""
        source, snapshot, keys = self._find_keys(jwt, entry, tenant, deadline, seen)
        now = self._now()
        usable = [key for key in keys if key.usable_at(now) and _issuer_ok(key, jwt, entry)]
        if not usable:
            raise UnknownKid("key outside its validity window or for another issuer")
        alg = jwt.alg
        fitting = [key for key in usable if alg in key.verifiers]
        if not fitting:
            raise UnsupportedAlgorithm("algorithm does not fit the key")
        for key in fitting:
            try:
                if key.verifiers[alg](jwt.signing_input, jwt.signature):
                    break
            except Exception:  # noqa: S112 - a library error on hostile input is a bad signature
                continue
        else:
            raise BadSignature()
        if not self._cache_size or source.snapshot is not snapshot:
            return None
        return _Verified(jwt, entry, tenant, source, snapshot, key)

    def _find_keys(
        self,
        jwt: UnverifiedJwt,
        entry: IssuerConfig,
        tenant: str | None,
        deadline: float | None,
        seen: _Seen | None,
    ) -> tuple[KeySource, KeySet, tuple[VerificationKey, ...]]:
        """The keys the token names, from whichever of the issuer's key sets publishes them,
        and the snapshot they were found in.

        With several sets (B2C policies sharing one issuer) each set follows the same rules as
        a single one: consulting it refreshes it when its TTL passed, and past the stale limit
        it is not used. Every set is consulted before any is refetched for an unknown kid, so a
        kid another policy publishes costs no fetch. If no set knows the kid and one of them is
        unavailable, the answer is unavailable (500), not a 401 that might lock out a good
        token; if none holds a usable key at all, it is ``no_usable_keys``.
        """
        sources = self._sources_for(entry.issuer, tenant)
        header = jwt.header
        kid = jwt.kid
        x5t, x5t_s256 = header.get("x5t"), header.get("x5t#S256")
        suffix = entry.kid_suffix_match
        if len(sources) == 1:  # the common case, kept free of the bookkeeping below
            source = sources[0]
            snapshot, keys = source.find(
                kid,
                x5t=x5t,
                x5t_s256=x5t_s256,
                kid_suffix_match=suffix,
                attempt=seen[1] if seen is not None and seen[0] is source else None,
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
                    attempt=seen[1] if seen is not None and seen[0] is source else None,
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
                    looked,
                    kid,
                    x5t=x5t,
                    x5t_s256=x5t_s256,
                    kid_suffix_match=suffix,
                    deadline=deadline,
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
        raise UnknownKid() if holds_keys else NoUsableKeys()

    def _sources_for(self, issuer: str, tenant: str | None) -> tuple[KeySource, ...]:
        sources = self._sources.get((issuer, tenant))
        if sources is None:
            sources = tuple(self._registry.source(s) for s in self._specs[(issuer, tenant)])
            self._sources[(issuer, tenant)] = sources
        return sources


def _issuer_ok(key: VerificationKey, jwt: UnverifiedJwt, entry: IssuerConfig) -> bool:
    """Entra v2 keys carry their own ``issuer``; templated ones work for any tenant."""
    return key.issuer is None or key.issuer in (jwt.issuer, entry.issuer)


def _source_specs(entry: IssuerConfig, tenant: str | None) -> tuple[SourceSpec, ...]:
    def resolve(value: str) -> str:
        return value.replace(TENANT_PLACEHOLDER, tenant) if tenant else value

    issuer = resolve(entry.issuer)
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
            expected_issuers=expected_issuers(entry.issuer, entry.discovery_issuer, tenant),
            ca_bundle=entry.ca_bundle,
        )
        for url in urls
    )
