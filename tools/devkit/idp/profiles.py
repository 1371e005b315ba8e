"""What differs between the identity providers the local IdP imitates.

``entra-b2c`` (Azure AD B2C: per-policy discovery whose ``issuer`` is the policy-less GUID form,
``scp`` string), ``wso2`` (WSO2 Identity Server: ``aud`` = client id, ``scope`` string,
``typ: at+jwt``, introspection and revocation endpoints), ``entra-id`` (Entra ID v2.0 app-only
tokens: ``roles`` array, ``idtyp: app``), ``entra-external-id`` (Entra External ID: v2.0 tokens
whose issuer names another host than the discovery URL, as ``{tid}.ciamlogin.com`` versus
``{tenant}.ciamlogin.com``: here ``localhost`` versus ``127.0.0.1``), ``cognito`` (Amazon
Cognito user pools: no ``aud``, ``client_id``, ``token_use: access``, resource-server scopes
``orders-api/app.read``, keys at ``/.well-known/jwks.json``) and ``oidc`` (a generic provider
shaped like Keycloak: ``/realms/<realm>``, ``scope`` string, ``azp``). For each: the endpoints'
paths, the discovery document, the standard claims of an access token and the ``scope`` a client
asks for. Key identifiers and JWKS members are in :mod:`devkit.idp.tokens`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Final, Literal, get_args

__all__ = [
    "B2C_POLICY",
    "COGNITO_POOL",
    "COGNITO_RESOURCE_SERVER",
    "DEFAULT_API_AUDIENCE",
    "DEFAULT_TENANT_ID",
    "DEFAULT_TENANT_NAME",
    "MODES",
    "OIDC_REALM",
    "OVERSIZED_BYTES",
    "PATH_KINDS",
    "PROFILES",
    "Mode",
    "PathKind",
    "Profile",
    "client_scope",
    "discovery_document",
    "endpoint_paths",
    "issuer_host",
    "scope_values",
    "standard_claims",
    "subject_guid",
]

Profile = Literal["entra-b2c", "wso2", "entra-id", "entra-external-id", "cognito", "oidc"]
Mode = Literal["up", "down", "slow", "error", "html", "oversized", "malformed"]
PathKind = Literal["discovery", "jwks", "token", "introspect", "revoke"]

PROFILES: Final[tuple[str, ...]] = get_args(Profile)
MODES: Final[tuple[str, ...]] = get_args(Mode)
PATH_KINDS: Final[tuple[str, ...]] = get_args(PathKind)

# Made-up identifiers (no real tenant or app), fixed so fixtures and configs can hard-code them.
DEFAULT_TENANT_ID: Final = "5b8e2f4a-9c13-4d67-b0a2-7e1f3c9d8a54"
DEFAULT_API_AUDIENCE: Final = "c7a4e1d2-3f58-4b90-a6e3-1d9b2c7f0e85"
DEFAULT_TENANT_NAME: Final = "contoso"
B2C_POLICY: Final = "B2C_1A_CLIENTCREDENTIALS"
#: The made-up Cognito user pool (``<region>_<id>``) and the resource server its scopes name.
COGNITO_POOL: Final = "us-east-1_DevPool01"
COGNITO_RESOURCE_SERVER: Final = "orders-api"
#: The Keycloak-shaped realm of the generic ``oidc`` profile.
OIDC_REALM: Final = "local"

#: Size the "oversized" mode pads its documents past (1 MiB plus a margin).
OVERSIZED_BYTES: Final = 1024 * 1024 + 4096

_SUBJECT_NAMESPACE: Final = uuid.UUID("0b6a4e8c-2d51-4f3a-9e07-6c1d8b2f4a93")


def endpoint_paths(
    profile: Profile, *, tenant_id: str, tenant_name: str, policy: str
) -> dict[str, str]:
    """Path (relative to the base URL) of each endpoint, and of the issuer, for ``profile``."""
    if profile == "entra-b2c":
        prefix = f"/{tenant_name}.onmicrosoft.com/{policy}"
        return {
            "issuer": f"/{tenant_id}/v2.0/",
            "discovery": f"{prefix}/v2.0/.well-known/openid-configuration",
            "jwks": f"{prefix}/discovery/v2.0/keys",
            "token": f"{prefix}/oauth2/v2.0/token",
            "authorize": f"{prefix}/oauth2/v2.0/authorize",
        }
    if profile == "wso2":
        return {
            "issuer": "/oauth2/token",
            "discovery": "/oauth2/token/.well-known/openid-configuration",
            "jwks": "/oauth2/jwks",
            "token": "/oauth2/token",
            "authorize": "/oauth2/authorize",
            "introspect": "/oauth2/introspect",
            "revoke": "/oauth2/revoke",
        }
    if profile == "cognito":  # the token endpoint lives on the pool's domain, not its issuer
        return {
            "issuer": f"/{COGNITO_POOL}",
            "discovery": f"/{COGNITO_POOL}/.well-known/openid-configuration",
            "jwks": f"/{COGNITO_POOL}/.well-known/jwks.json",
            "token": "/oauth2/token",
            "authorize": "/oauth2/authorize",
        }
    if profile == "oidc":
        realm = f"/realms/{OIDC_REALM}"
        return {
            "issuer": realm,
            "discovery": f"{realm}/.well-known/openid-configuration",
            "jwks": f"{realm}/protocol/openid-connect/certs",
            "token": f"{realm}/protocol/openid-connect/token",
            "authorize": f"{realm}/protocol/openid-connect/auth",
        }
    return {
        "issuer": f"/{tenant_id}/v2.0",
        "discovery": f"/{tenant_id}/v2.0/.well-known/openid-configuration",
        "jwks": f"/{tenant_id}/discovery/v2.0/keys",
        "token": f"/{tenant_id}/oauth2/v2.0/token",
        "authorize": f"/{tenant_id}/oauth2/v2.0/authorize",
    }


def issuer_host(profile: Profile, host: str) -> str:
    """The host the issuer names, given the one the server is reached at: External ID's issuer
    is on the tenant-id host while its documented discovery URL is on the tenant-name host, so
    the local one swaps loopback names (both reach this server)."""
    if profile != "entra-external-id":
        return host
    return "localhost" if host == "127.0.0.1" else "127.0.0.1" if host == "localhost" else host


def discovery_document(profile: Profile, urls: dict[str, str]) -> dict[str, Any]:
    """The OpenID Provider metadata as the real provider serves it (``urls``: absolute
    :func:`endpoint_paths`)."""
    common: dict[str, Any] = {
        "issuer": urls["issuer"],
        "authorization_endpoint": urls["authorize"],
        "token_endpoint": urls["token"],
        "jwks_uri": urls["jwks"],
    }
    if profile in ("cognito", "oidc"):
        return common | {
            "response_types_supported": ["code", "token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "phone", "profile"],
            "grant_types_supported": ["authorization_code", "client_credentials"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
        }
    if profile == "wso2":
        return common | {
            "introspection_endpoint": urls["introspect"],
            "revocation_endpoint": urls["revoke"],
            "response_types_supported": ["code", "id_token", "token", "code id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid"],
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
        }
    microsoft: dict[str, Any] = {
        "response_modes_supported": ["query", "fragment", "form_post"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
    }
    if profile == "entra-b2c":
        claims = ["sub", "azp", "scp", "tfp", "ver", "iss", "iat", "nbf", "exp", "aud"]
    else:
        claims = ["sub", "azp", "roles", "idtyp", "oid", "tid", "ver", "iss", "aud"]
        microsoft["tenant_region_scope"] = "EU"
    return common | microsoft | {"claims_supported": claims}


def scope_values(profile: Profile, scopes: Sequence[str]) -> list[str]:
    """The permissions as the token carries them: Cognito names its resource server."""
    if profile == "cognito":
        return [f"{COGNITO_RESOURCE_SERVER}/{scope}" for scope in scopes]
    return list(scopes)


def subject_guid(tenant_id: str, client_id: str) -> str:
    """Stable made-up service-principal object id for a client (B2C ``sub``, Entra ``oid``)."""
    return str(uuid.uuid5(_SUBJECT_NAMESPACE, f"{tenant_id}/{client_id}"))


def standard_claims(
    profile: Profile,
    *,
    issuer: str,
    audience: str,
    client_id: str,
    scopes: Sequence[str],
    iat: int,
    exp: int,
    tenant_id: str,
    policy: str,
) -> dict[str, Any]:
    """An access token's claims as the real provider issues them (member order included)."""
    if profile == "wso2":
        return {
            "sub": client_id,
            "aut": "APPLICATION",
            "iss": issuer,
            "client_id": client_id,
            "aud": audience,
            "nbf": iat,
            "azp": client_id,
            "scope": " ".join(scopes),
            "exp": exp,
            "iat": iat,
            "jti": str(uuid.uuid4()),
        }
    if profile == "cognito":  # access tokens have no aud: the app client is client_id
        return {
            "sub": client_id,
            "token_use": "access",
            "scope": " ".join(scope_values(profile, scopes)),
            "auth_time": iat,
            "iss": issuer,
            "exp": exp,
            "iat": iat,
            "version": 2,
            "jti": str(uuid.uuid4()),
            "client_id": client_id,
        }
    if profile == "oidc":  # a Keycloak service-account token
        return {
            "exp": exp,
            "iat": iat,
            "jti": str(uuid.uuid4()),
            "iss": issuer,
            "aud": audience,
            "sub": subject_guid(tenant_id, client_id),
            "typ": "Bearer",
            "azp": client_id,
            "scope": " ".join(scopes),
            "client_id": client_id,
            "preferred_username": f"service-account-{client_id}",
        }
    if profile in ("entra-id", "entra-external-id"):
        oid = subject_guid(tenant_id, client_id)
        return {
            "aud": audience,
            "iss": issuer,
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "azp": client_id,
            "azpacr": "1",
            "idtyp": "app",
            "oid": oid,
            "roles": list(scopes),
            "sub": oid,
            "tid": tenant_id,
            "ver": "2.0",
        }
    return {
        "iss": issuer,
        "exp": exp,
        "nbf": iat,
        "iat": iat,
        "aud": audience,
        "sub": subject_guid(tenant_id, client_id),
        "azp": client_id,
        "scp": " ".join(scopes),
        "tfp": policy,
        "ver": "1.0",
    }


def client_scope(profile: Profile, *, tenant_name: str, audience: str | None) -> str:
    """The ``scope`` a real client of this provider sends for all of an API's permissions
    (empty: no scope parameter, everything the client may have)."""
    if profile == "entra-b2c":
        return f"https://{tenant_name}.onmicrosoft.com/api/.default"
    if profile in ("entra-id", "entra-external-id"):
        return f"api://{audience}/.default"
    return ""
