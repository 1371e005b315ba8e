"""Identity-provider profiles: the claim conventions of one provider family, held by reference.

An issuer names its profile; every later stage reads the profile's conventions through the
issuer (:attr:`issuers.IssuerConfig.profile`) instead of copies. The facts behind each profile
are in the project's identity-provider reference (token shapes per provider).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Profile:
    """Claim conventions of one identity-provider family."""

    name: str
    scope_claims: tuple[str, ...]
    client_id_claims: tuple[str, ...]
    #: Microsoft token rules: a header ``nonce`` marks a first-party token, ``tid`` is checked.
    microsoft: bool = False
    #: Entra ID and External ID tokens always carry ``tid``.
    tenant_required: bool = False
    #: The claim holding the audience (Cognito access tokens name the app client instead).
    audience_claim: str = "aud"
    #: The ``token_use`` an access token carries (Cognito).
    token_use: str | None = None
    #: WSO2 appends ``_<alg>`` to kids inconsistently between tokens and key sets.
    kid_suffix_match: bool = False
    #: Its tokens' audience is the client id (WSO2): an introspection response that names no
    #: ``aud`` is judged by its ``client_id`` instead, as the provider's JWTs would be.
    client_is_audience: bool = False


PROFILES: Final[Mapping[str, Profile]] = {
    profile.name: profile
    for profile in (
        Profile("entra-b2c", scope_claims=("scp",), client_id_claims=("azp",), microsoft=True),
        Profile(
            "entra-id",
            scope_claims=("scp", "roles"),
            client_id_claims=("azp", "appid"),
            microsoft=True,
            tenant_required=True,
        ),
        Profile(
            "entra-external-id",
            scope_claims=("scp", "roles"),
            client_id_claims=("azp", "appid"),
            microsoft=True,
            tenant_required=True,
        ),
        Profile(
            "wso2",
            scope_claims=("scope",),
            client_id_claims=("client_id", "azp"),
            kid_suffix_match=True,
            client_is_audience=True,
        ),
        Profile(
            "cognito",
            scope_claims=("scope",),
            client_id_claims=("client_id",),
            audience_claim="client_id",
            token_use="access",  # noqa: S106 - a claim value, not a secret
        ),
        Profile(
            "oidc", scope_claims=("scope", "scp"), client_id_claims=("client_id", "azp", "cid")
        ),
    )
}
