"""Issuer stage: which configured issuer a token claims, matched exactly (never normalised).

An ``iss`` equal to a configured issuer, character for character; or, for an Entra multi-tenant
issuer (``{tenantid}``), the issuer with the token's ``tid`` substituted, when that tenant is
allow-listed. Nothing is fetched for an unknown issuer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .errors import UnknownIssuer, WrongTenant, facts
from .profiles import Profile
from .tokens import UnverifiedJwt

TENANT_PLACEHOLDER: Final = "{tenantid}"
GUID_RE: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_GUID_IN_PATH_RE: Final = re.compile(
    r"/([0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})(?:/|$)"
)


def is_guid(value: object) -> bool:
    """A tenant id: exactly a GUID (full match: ``$`` would also allow a trailing newline)."""
    return isinstance(value, str) and GUID_RE.fullmatch(value) is not None


def tenant_in(issuer: str) -> str | None:
    """The tenant a Microsoft issuer names in its path, lower-cased (None: it names none)."""
    found = _GUID_IN_PATH_RE.search(issuer)
    return found.group(1).lower() if found else None


@dataclass(frozen=True, slots=True)
class IntrospectionSpec:
    """How one issuer's tokens are introspected (RFC 7662): the endpoint, the authorizer's own
    client at it, and how long answers may be trusted. ``client_secret`` is a reference
    (``ssm:<name>`` or ``secretsmanager:<name>``), never the secret: it is read at init."""

    endpoint: str
    client_id: str
    client_secret: str
    auth_method: str = "client_secret_basic"
    #: This issuer takes the tokens that are not JWTs (an opaque token names no issuer).
    opaque_tokens: bool = False
    #: Its JWTs are introspected too, after local validation: a revocation check.
    introspect_jwts: bool = False
    #: Longest time an ``active: true`` answer is trusted (the revocation budget), per kind.
    cache_seconds: int = 60
    jwt_cache_seconds: int = 60
    #: How long an ``active: false`` answer is remembered.
    inactive_cache_seconds: int = 30
    #: How long past its cache time an answer may stand in while the endpoint fails (0: never).
    stale_seconds: int = 0


@dataclass(frozen=True, slots=True)
class IssuerConfig:
    """Everything needed to accept tokens from one issuer. ``issuer`` is compared exactly."""

    issuer: str
    audiences: frozenset[str]
    profile: Profile
    algorithms: frozenset[str]
    scope_claims: tuple[str, ...]
    client_id_claims: tuple[str, ...]
    principal_claims: tuple[str, ...]
    leeway_seconds: int
    discovery_urls: tuple[str, ...] = ()
    discovery_issuer: str | None = None
    jwks_uris: tuple[str, ...] = ()
    jwks: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)
    allowed_client_ids: frozenset[str] | None = None
    required_claims: tuple[tuple[str, frozenset[str]], ...] = ()
    max_token_age_seconds: int | None = None
    ca_bundle: str | None = None
    tenants: frozenset[str] = frozenset()
    #: The tenant a Microsoft issuer names in its path (Entra single-tenant, B2C).
    tenant_id: str | None = None
    token_types: frozenset[str] | None = None
    introspection: IntrospectionSpec | None = None
    #: Sender-constrained tokens: ``off``, ``allowed`` (a bound token must be presented by its
    #: holder) or ``required`` (only bound tokens). DPoP (RFC 9449), certificates (RFC 8705).
    dpop: str = "off"
    mtls: str = "off"

    @property
    def templated(self) -> bool:
        """Entra multi-tenant metadata issuers carry a literal ``{tenantid}``."""
        return TENANT_PLACEHOLDER in self.issuer

    def resolved(self, tenant: str | None) -> str:
        """The issuer with ``tenant`` substituted (the concrete ``iss`` of a templated one)."""
        return self.issuer.replace(TENANT_PLACEHOLDER, tenant) if tenant else self.issuer


class IssuerSet:
    """The configured issuers, indexed for the exact lookup every token gets."""

    __slots__ = ("_exact", "_templated", "issuers")

    def __init__(self, issuers: tuple[IssuerConfig, ...]) -> None:
        self.issuers = issuers
        self._exact = {entry.issuer: entry for entry in issuers if not entry.templated}
        self._templated = tuple(entry for entry in issuers if entry.templated)

    def select(self, jwt: UnverifiedJwt) -> tuple[IssuerConfig, str | None]:
        """The issuer the token claims and, for a templated one, its allow-listed tenant."""
        iss = jwt.issuer
        if iss is None:
            raise UnknownIssuer("iss missing")
        entry = self._exact.get(iss)
        if entry is not None:
            return entry, None
        tid = jwt.payload.get("tid")
        if is_guid(tid):
            tenant = str(tid)
            for templated in self._templated:
                if templated.resolved(tenant) != iss:
                    continue
                if tenant.lower() not in templated.tenants:
                    raise WrongTenant(
                        "tenant not in allow-list",
                        facts=facts(token_tid=tenant, tenants=templated.tenants),
                    )
                return templated, tenant.lower()
        raise UnknownIssuer(facts=facts(closest_issuer=nearest_issuer(iss, self.issuers)))


#: The first characters of an unknown ``iss`` compared with the configured issuers (the token
#: may carry kilobytes there; a near miss shows in the first few hundred characters).
_NEAREST_PROBE: Final = 256


def nearest_issuer(iss: str, issuers: tuple[IssuerConfig, ...]) -> str | None:
    """The configured issuer most like ``iss`` (None when none is even half alike): what a
    denial names next to the token's ``iss``, so a missing slash or another host shows at once.
    Only rejected tokens pay for it, on a bounded prefix."""
    from difflib import SequenceMatcher  # rejection path only: no import cost at init

    probe = iss[:_NEAREST_PROBE]
    best, score = None, 0.5
    for entry in issuers:
        ratio = SequenceMatcher(None, probe, entry.issuer[:_NEAREST_PROBE], autojunk=False).ratio()
        if ratio > score:
            best, score = entry.issuer, ratio
    return best


def expected_issuers(entry: IssuerConfig, tenant: str | None) -> frozenset[str]:
    """The ``issuer`` values a discovery document may name for this issuer (and tenant)."""
    named = entry.discovery_issuer or entry.issuer
    names = {named}
    if tenant is not None:
        names.add(named.replace(TENANT_PLACEHOLDER, tenant))
    return frozenset(names)
