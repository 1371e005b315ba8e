"""Claims stage: decide whether a token whose signature verified is acceptable.

Pure functions over the verified payload; each failed rule raises its own reason, in a fixed
order: time, token use, audience, tenant, client, required claims. The members of an
introspection answer (RFC 7662) go through the same rules: there is one rule set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
from .issuers import IssuerConfig, is_guid


def check_claims(
    payload: Mapping[str, Any],
    header: Mapping[str, Any] | None,
    issuer: IssuerConfig,
    *,
    now: float,
    tenant: str | None = None,
) -> None:
    """Apply the time, audience, tenant, client and required-claim rules of ``issuer``.

    ``header`` None: there is no JOSE header (an introspection answer), so the header ``typ``
    rule (``token_types``) does not apply; every other rule does."""
    leeway = issuer.leeway_seconds
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
    if issuer.max_token_age_seconds is not None:
        if iat is None:
            raise ClaimMismatch("iat is required when max_token_age_seconds is set")
        if now - iat > issuer.max_token_age_seconds + leeway:
            raise TokenTooOld()
    profile = issuer.profile
    if profile.token_use is not None and payload.get("token_use") != profile.token_use:
        raise WrongTokenUse()
    if (
        issuer.token_types is not None
        and header is not None
        and header.get("typ") not in issuer.token_types
    ):
        raise WrongTokenUse("typ")
    _check_audience(payload.get(profile.audience_claim), issuer)
    _check_tenant(payload.get("tid"), issuer, tenant)
    client_id = first_string(payload, issuer.client_id_claims)
    if issuer.allowed_client_ids is not None and client_id not in issuer.allowed_client_ids:
        raise ClientNotAllowed()
    for name, accepted in issuer.required_claims:
        if not _claim_matches(payload.get(name), accepted):
            raise ClaimMismatch(name)


def first_string(payload: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    """The first non-empty string among ``names`` (client ids, principal claims)."""
    for name in names:
        value = payload.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _check_audience(value: object, issuer: IssuerConfig) -> None:
    if isinstance(value, str):
        if value in issuer.audiences:
            return
    elif isinstance(value, list) and any(item in issuer.audiences for item in value):
        return
    raise WrongAudience()


def _check_tenant(tid: object, issuer: IssuerConfig, resolved: str | None) -> None:
    """Entra: the token's ``tid`` must be the tenant its issuer names (Microsoft's procedure)."""
    profile = issuer.profile
    if not profile.microsoft:
        return
    expected = resolved or issuer.tenant_id
    if tid is None:
        if profile.tenant_required or resolved is not None:
            raise WrongTenant("tid missing")
        return
    if not is_guid(tid):
        raise WrongTenant("tid is not a GUID")
    if expected is not None and str(tid).lower() != expected:
        raise WrongTenant()


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
