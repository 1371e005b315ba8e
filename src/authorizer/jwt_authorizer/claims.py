"""Claims stage: decide whether a token whose signature verified is acceptable, and for whom.

Pure functions over the verified payload; each failed rule raises its own reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .config import GUID_RE, IssuerConfig
from .errors import (
    ClaimMismatch,
    ClientNotAllowed,
    Expired,
    IssuedInFuture,
    NotYetValid,
    TokenTooOld,
    WrongAudience,
    WrongTenant,
    WrongTokenUse,
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who called: the outcome of a successful validation.

    ``permissions`` is the normalised set from every configured scope claim; ``permission_claims``
    remembers which claim each came from (a role is not a scope, and logs should say which).
    """

    subject: str
    issuer: str
    client_id: str | None
    permissions: frozenset[str]
    permission_claims: tuple[tuple[str, str], ...]
    expires_at: float
    claims: Mapping[str, Any]
    tenant: str | None = None
    #: The ``issuer`` of the configuration entry that accepted the token (it may hold
    #: ``{tenantid}``): route rules name issuers this way.
    configured_issuer: str = ""


def validate_claims(
    payload: Mapping[str, Any],
    header: Mapping[str, Any],
    config: IssuerConfig,
    *,
    now: float,
    tenant: str | None = None,
) -> Principal:
    """Apply the time, audience, tenant, client and required-claim rules of ``config``."""
    leeway = config.leeway_seconds
    exp = payload.get("exp")
    if exp is None:
        raise ClaimMismatch("exp is required")
    if exp + leeway <= now:
        raise Expired()
    nbf = payload.get("nbf")
    if nbf is not None and nbf > now + leeway:
        raise NotYetValid()
    iat = payload.get("iat")
    if iat is not None and iat > now + leeway:
        raise IssuedInFuture()
    if config.max_token_age_seconds is not None:
        if iat is None:
            raise ClaimMismatch("iat is required when max_token_age_seconds is set")
        if now - iat > config.max_token_age_seconds + leeway:
            raise TokenTooOld()
    if config.token_use is not None and payload.get("token_use") != config.token_use:
        raise WrongTokenUse()
    if config.token_types is not None and header.get("typ") not in config.token_types:
        raise WrongTokenUse("typ")
    _check_audience(payload.get(config.audience_claim), config)
    _check_tenant(payload.get("tid"), config, tenant)
    client_id = _first_string(payload, config.client_id_claims)
    if config.allowed_client_ids is not None and client_id not in config.allowed_client_ids:
        raise ClientNotAllowed()
    for name, accepted in config.required_claims:
        if not _claim_matches(payload.get(name), accepted):
            raise ClaimMismatch(name)
    permissions, sources = _permissions(payload, config.scope_claims)
    return Principal(
        subject=_first_string(payload, config.principal_claims) or client_id or "",
        issuer=str(payload["iss"]),
        client_id=client_id,
        permissions=permissions,
        permission_claims=sources,
        expires_at=float(exp),
        claims=payload,
        tenant=tenant or config.tenant_id,
        configured_issuer=config.issuer,
    )


def _check_audience(value: object, config: IssuerConfig) -> None:
    if isinstance(value, str):
        if value in config.audiences:
            return
    elif isinstance(value, list) and any(item in config.audiences for item in value):
        return
    raise WrongAudience()


def _check_tenant(tid: object, config: IssuerConfig, resolved: str | None) -> None:
    """Entra: the token's ``tid`` must be the tenant its issuer names (Microsoft's procedure)."""
    if not config.microsoft:
        return
    expected = resolved or config.tenant_id
    if tid is None:
        if config.tenant_required or resolved is not None:
            raise WrongTenant("tid missing")
        return
    if not isinstance(tid, str) or not GUID_RE.fullmatch(tid):
        raise WrongTenant("tid is not a GUID")
    if expected is not None and tid.lower() != expected:
        raise WrongTenant()


def _first_string(payload: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = payload.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _claim_matches(value: object, accepted: frozenset[str]) -> bool:
    if isinstance(value, str):
        return value in accepted
    if isinstance(value, bool):
        return ("true" if value else "false") in accepted
    if isinstance(value, int | float):
        return str(value) in accepted
    if isinstance(value, list):
        return any(isinstance(item, str) and item in accepted for item in value)
    return False


def _permissions(
    payload: Mapping[str, Any], claims: tuple[str, ...]
) -> tuple[frozenset[str], tuple[tuple[str, str], ...]]:
    """Strings are space-separated lists (``scp``, ``scope``); arrays are taken as they are.

    RFC 6749 section 3.3 delimits scopes with a space (%x20) and nothing else: ``str.split()``
    would also split on tabs, U+00A0, U+2028 and other white space and control characters, so
    ``"app.read\tapp.admin"`` would grant ``app.admin``. Any such character stays inside the
    permission it is in, which then matches no rule.
    """
    found: dict[str, str] = {}
    for claim in claims:
        value = payload.get(claim)
        if isinstance(value, str):
            items = [item for item in value.split(" ") if item]
        elif isinstance(value, list):
            items = [item for item in value if isinstance(item, str) and item]
        else:
            continue
        for item in items:
            found.setdefault(item, claim)
    return frozenset(found), tuple(found.items())
