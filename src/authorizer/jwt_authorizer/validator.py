"""The validation pipeline: token -> issuer -> key -> signature -> claims -> principal.

Each stage raises its own :mod:`errors` class. The token header is used for one thing only:
choosing among keys already trusted for the issuer the token claims. A token that verified
before is remembered (exact string), so later calls skip parsing and the signature, never the
claims; the entry stands only while the key set it was verified against is still current.

With :mod:`introspect` configured (it is imported only then), a token that is not a JWT goes to
the issuer that takes opaque tokens, and a JWT of an issuer with ``introspect_jwts`` is
introspected after it validated.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .claims import check_claims
from .errors import AuthorizerError, FirstPartyToken, UnsupportedAlgorithm, facts
from .issuers import IssuerConfig, IssuerSet
from .keyring import KeyRegistry, Prefetch
from .principal import Principal, principal_of
from .signature import KeySources, Seen, Verified, verify_signature
from .tokens import HeaderCache, UnverifiedJwt, decompose_unverified

if TYPE_CHECKING:
    from .introspect import Introspection


def admit(jwt: UnverifiedJwt, issuer: IssuerConfig) -> None:
    """The header checks between choosing the issuer and looking for its key: the algorithm
    must be on the issuer's list, and a Microsoft first-party token (header ``nonce``) is
    refused before any key is consulted."""
    if jwt.alg not in issuer.algorithms:
        raise UnsupportedAlgorithm(facts=facts(alg=jwt.alg, algorithms=issuer.algorithms))
    if issuer.profile.microsoft and "nonce" in jwt.header:
        raise FirstPartyToken(facts=facts(token_aud=jwt.payload.get("aud")))


@dataclass(frozen=True, slots=True)
class _Entry:
    """A token that verified, with what the result depends on."""

    jwt: UnverifiedJwt
    issuer: IssuerConfig
    tenant: str | None
    verified: Verified


class VerifiedTokens:
    """Tokens whose signature verified, by exact string, at most ``size`` (oldest out).

    An ordered dictionary: evicting the oldest entry is O(1) (a plain dictionary would scan the
    holes its earlier evictions left at its start, on every insertion of a full cache)."""

    __slots__ = ("_entries", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def get(self, token: str) -> _Entry | None:
        return self._entries.get(token)

    def remember(self, token: str, entry: _Entry) -> None:
        if not self.size:
            return
        if len(self._entries) >= self.size:
            with suppress(KeyError):  # another thread emptied it meanwhile
                self._entries.popitem(last=False)
        self._entries[token] = entry

    def forget(self, token: str) -> None:
        self._entries.pop(token, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class TokenValidator:
    """Validates bearer tokens against every configured issuer, sharing one key registry."""

    def __init__(
        self,
        issuers: tuple[IssuerConfig, ...],
        registry: KeyRegistry,
        *,
        max_token_bytes: int,
        verified_token_cache_size: int,
        wall_clock: Callable[[], float] = time.time,
        introspection: Introspection | None = None,
    ) -> None:
        self._issuers = IssuerSet(issuers)
        self._introspection = introspection
        self._sources = KeySources(issuers, registry)
        self._max_bytes = max_token_bytes
        self._now = wall_clock
        self.verified_tokens = VerifiedTokens(verified_token_cache_size)
        self._headers = HeaderCache()

    def clear(self) -> None:
        """Forget every verified token, decoded header and fetched key: the state of a validator
        just built (its configuration and key sources stay)."""
        self.verified_tokens.clear()
        self._headers.clear()
        self._sources.clear()
        if self._introspection is not None:
            self._introspection.clear()

    def before_snapshot(self) -> None:
        """SnapStart, before the snapshot: see :meth:`KeyRegistry.before_snapshot`."""
        self._sources.registry.before_snapshot()
        if self._introspection is not None:
            self._introspection.before_snapshot()

    def after_restore(self, elapsed: float) -> None:
        """SnapStart, ``elapsed`` seconds after the snapshot: keys re-aged (and refreshed or
        set aside by the usual rules), no verified token trusted from before, no introspection
        answer either."""
        self.verified_tokens.clear()
        self._sources.registry.after_restore(elapsed)
        if self._introspection is not None:
            self._introspection.after_restore()

    def start_prefetch(self) -> Prefetch:
        """Start fetching every remote key set in parallel; ``.wait()`` says which answered."""
        return self._sources.start_prefetch()

    def validate(self, token: str, *, deadline: float | None = None) -> Principal:
        """The verified principal, or an :mod:`errors` exception.

        ``deadline`` (from :func:`fetch.deadline_in`): no key fetch holds the call past it; a
        refresh still running then leaves the cached keys to decide, under the stale rules.
        None: a fetch is waited for up to its own budget (connect + read timeout per document).
        The same deadline bounds an introspection call.
        """
        introspection = self._introspection
        if introspection is None:
            return self._validate_jwt(token, deadline)
        if introspection.takes(token):
            return introspection.opaque(token, deadline=deadline)
        principal = self._validate_jwt(token, deadline)
        introspection.revocation_check(token, principal, deadline=deadline)
        return principal

    def _validate_jwt(self, token: str, deadline: float | None) -> Principal:
        seen: Seen | None = None
        remembered = self.verified_tokens.get(token)
        if remembered is not None:
            jwt = remembered.jwt
            source = remembered.verified.source
            try:
                attempt = source.attempts
                current = source.current(attempt=attempt, deadline=deadline)
                if current is remembered.verified.snapshot and remembered.verified.key.usable_at(
                    self._now()
                ):
                    return self._accept(jwt, remembered.issuer, remembered.tenant)
            except AuthorizerError as err:
                self.verified_tokens.forget(token)
                err.about(issuer=jwt.issuer, kid=jwt.kid)
                raise
            # The key set changed (or the key expired): verify again, without repeating the
            # refresh this call already caused.
            self.verified_tokens.forget(token)
            seen = (source, attempt)
        return self._verify(token, deadline, seen)

    def _verify(self, token: str, deadline: float | None, seen: Seen | None) -> Principal:
        jwt = decompose_unverified(token, max_bytes=self._max_bytes, known_headers=self._headers)
        try:
            issuer, tenant = self._issuers.select(jwt)
            admit(jwt, issuer)
            verified = verify_signature(
                jwt,
                issuer,
                self._sources.of(issuer, tenant),
                now=self._now,
                deadline=deadline,
                seen=seen,
            )
            principal = self._accept(jwt, issuer, tenant)
        except AuthorizerError as err:
            err.about(issuer=jwt.issuer, kid=jwt.kid)
            raise
        self._headers.remember(jwt)
        if verified.source.snapshot is verified.snapshot:  # not replaced while we verified
            self.verified_tokens.remember(token, _Entry(jwt, issuer, tenant, verified))
        return principal

    def _accept(self, jwt: UnverifiedJwt, issuer: IssuerConfig, tenant: str | None) -> Principal:
        """The claims stage, then the principal (callers attach the token's issuer and kid to
        a rejection)."""
        check_claims(jwt.payload, jwt.header, issuer, now=self._now(), tenant=tenant)
        return principal_of(jwt.payload, issuer, tenant=tenant)
