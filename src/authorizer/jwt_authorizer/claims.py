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
    facts,
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

    Each rejection carries the values it compared as ``facts`` (the claim, the clock, the
    accepted values), for the denial log line and ``devkit explain``. ``header`` None: there is
    no JOSE header (an introspection answer), so the header ``typ`` rule (``token_types``) does
    not apply; every other rule does."""
    leeway = issuer.leeway_seconds
    exp = payload.get("exp")
    if exp is None:
        raise ClaimMismatch("exp is required", facts=facts(claim="exp"))
    if exp + leeway <= now:
        raise Expired(facts=facts(exp=exp, now=int(now), leeway=leeway))
    nbf = payload.get("nbf")
    if nbf is not None and nbf > now + leeway:
        raise NotYetValid(facts=facts(nbf=nbf, now=int(now), leeway=leeway))
    iat = payload.get("iat")
    if iat is not None and iat > now + leeway:
        raise IssuedInFuture(facts=facts(iat=iat, now=int(now), leeway=leeway))
    if issuer.max_token_age_seconds is not None:
        if iat is None:
            raise ClaimMismatch(
                "iat is required when max_token_age_seconds is set", facts=facts(claim="iat")
            )
        if now - iat > issuer.max_token_age_seconds + leeway:
            raise TokenTooOld(
                facts=facts(
                    iat=iat,
                    now=int(now),
                    max_token_age=issuer.max_token_age_seconds,
                    leeway=leeway,
                )
            )
    profile = issuer.profile
    if profile.token_use is not None and payload.get("token_use") != profile.token_use:
        raise WrongTokenUse(
            facts=facts(token_use=payload.get("token_use"), expected_token_use=profile.token_use)
        )
    if (
        issuer.token_types is not None
        and header is not None
        and header.get("typ") not in issuer.token_types
    ):
        raise WrongTokenUse(
            "typ", facts=facts(typ=header.get("typ"), token_types=issuer.token_types)
        )
    _check_audience(payload.get(profile.audience_claim), issuer)
    _check_tenant(payload.get("tid"), issuer, tenant)
    client_id = first_string(payload, issuer.client_id_claims)
    if issuer.allowed_client_ids is not None and client_id not in issuer.allowed_client_ids:
        raise ClientNotAllowed(
            facts=facts(token_client_id=client_id, allowed_client_ids=issuer.allowed_client_ids)
        )
    for name, accepted in issuer.required_claims:
        value = payload.get(name)
        if not _claim_matches(value, accepted):
            raise ClaimMismatch(name, facts=facts(claim=name, token_value=value, accepted=accepted))


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
    raise WrongAudience(
        facts=facts(
            token_aud=value,
            audiences=issuer.audiences,
            audience_claim=issuer.profile.audience_claim,
        )
    )


def _check_tenant(tid: object, issuer: IssuerConfig, resolved: str | None) -> None:
    """Entra: the token's ``tid`` must be the tenant its issuer names (Microsoft's procedure)."""
    profile = issuer.profile
    if not profile.microsoft:
        return
    expected = resolved or issuer.tenant_id
    if tid is None:
        if profile.tenant_required or resolved is not None:
            raise WrongTenant("tid missing", facts=facts(token_tid=None, expected_tenant=expected))
        return
    if not is_guid(tid):
        raise WrongTenant("tid is not a GUID", facts=facts(token_tid=tid, expected_tenant=expected))
    if expected is not None and str(tid).lower() != expected:
        raise WrongTenant(facts=facts(token_tid=tid, expected_tenant=expected))


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
