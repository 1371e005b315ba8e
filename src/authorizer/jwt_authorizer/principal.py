"""Principal stage: who called, from a token whose signature and claims were accepted.

The subject, the client, and the permissions: the union of every scope claim the issuer's
profile names (``scp``, ``scope``, ``roles``, ...), which is all the route rules look at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .claims import first_string
from .issuers import IssuerConfig


@dataclass(frozen=True, slots=True)
class Principal:
    """Who called: the outcome of a successful validation."""

    subject: str
    issuer: str
    client_id: str | None
    permissions: frozenset[str]
    expires_at: float
    claims: Mapping[str, Any]
    tenant: str | None = None
    #: The ``issuer`` of the configuration entry that accepted the token (it may hold
    #: ``{tenantid}``): route rules name issuers this way.
    configured_issuer: str = ""


def principal_of(
    payload: Mapping[str, Any], issuer: IssuerConfig, *, tenant: str | None = None
) -> Principal:
    """The principal of a verified, accepted payload."""
    client_id = first_string(payload, issuer.client_id_claims)
    return Principal(
        subject=first_string(payload, issuer.principal_claims) or client_id or "",
        issuer=str(payload["iss"]),
        client_id=client_id,
        permissions=permissions(payload, issuer.scope_claims),
        expires_at=float(payload["exp"]),
        claims=payload,
        tenant=tenant or issuer.tenant_id,
        configured_issuer=issuer.issuer,
    )


def permissions(payload: Mapping[str, Any], claims: tuple[str, ...]) -> frozenset[str]:
    """Strings are space-separated lists (``scp``, ``scope``); arrays are taken as they are.

    RFC 6749 section 3.3 delimits scopes with a space (%x20) and nothing else: ``str.split()``
    would also split on tabs, U+00A0, U+2028 and other white space and control characters, so
    ``"app.read\\tapp.admin"`` would grant ``app.admin``. Any such character stays inside the
    permission it is in, which then matches no rule.
    """
    found: set[str] = set()
    for claim in claims:
        value = payload.get(claim)
        if isinstance(value, str):
            found.update(item for item in value.split(" ") if item)
        elif isinstance(value, list):
            found.update(item for item in value if isinstance(item, str) and item)
    return frozenset(found)
