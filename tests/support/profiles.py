"""Token fixtures shaped exactly like the examples in identity-provider-tokens.md.

Each entry gives the issuer configuration a user would write for that provider, a header and a
payload (times moved to "now"), and what the authorizer should derive from it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tests.support.constants import B2C_TENANT, CIAM_TENANT, ENTRA_TENANT


@dataclass(frozen=True)
class ProviderCase:
    name: str
    issuer_config: dict[str, Any]
    header: dict[str, Any]
    payload: dict[str, Any]
    expected_permissions: frozenset[str]
    expected_client: str
    expected_subject: str
    jwk_extra: dict[str, Any] = field(default_factory=dict)


def _times(lifetime: int = 3600) -> dict[str, int]:
    now = int(time.time())
    return {"iat": now - 30, "nbf": now - 30, "exp": now + lifetime}


def cases() -> list[ProviderCase]:
    """Fresh fixtures (times are relative to the moment of the call)."""
    b2c_iss = f"https://contoso.b2clogin.com/{B2C_TENANT}/v2.0/"
    entra_v1_iss = f"https://sts.windows.net/{ENTRA_TENANT}/"
    entra_v2_iss = f"https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"
    ciam_iss = f"https://{CIAM_TENANT}.ciamlogin.com/{CIAM_TENANT}/v2.0"
    wso2_iss = "https://localhost:9443/oauth2/token"
    asgardeo_iss = "https://api.asgardeo.io/t/contoso/oauth2/token"
    cognito_iss = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
    okta_iss = "https://example.okta.com/oauth2/default"
    auth0_iss = "https://contoso.eu.auth0.com/"
    wso2_x5t = (
        "ODM4YmYyMWExYTljMjVlMGY3OTUzODQzMTdmM2RlNWUxMDgxNzFkNjk1MGQ3MTM0NzI2YTk0NmQ5MTNjMWQxNQ"
    )
    return [
        ProviderCase(
            name="b2c-client-credentials",
            issuer_config={
                "issuer": b2c_iss,
                "audiences": ["4a8d2f60-91b3-4c7e-a5d2-0e6f13b97c48"],
                "profile": "entra-b2c",
            },
            header={
                "typ": "JWT",
                "alg": "RS256",
                "kid": "Xhcrf0pVH8BFm-p1IgtdLYmnBLPKNcC4u3Rwx4m2bzI",
            },
            payload={
                "iss": b2c_iss,
                **_times(),
                "aud": "4a8d2f60-91b3-4c7e-a5d2-0e6f13b97c48",
                "sub": "0f6c2b9d-8e41-4a73-b5d0-7e9a1c3f4b28",
                "azp": "5d3e8f21-6c7b-4a90-8e15-b2f4d6a0c973",
                "scp": "app.read app.write",
                "tfp": "B2C_1A_SIGNUP_SIGNIN",
                "ver": "1.0",
            },
            expected_permissions=frozenset({"app.read", "app.write"}),
            expected_client="5d3e8f21-6c7b-4a90-8e15-b2f4d6a0c973",
            expected_subject="0f6c2b9d-8e41-4a73-b5d0-7e9a1c3f4b28",
        ),
        ProviderCase(
            name="b2c-user-flow",
            issuer_config={
                "issuer": b2c_iss,
                "audiences": ["4a8d2f60-91b3-4c7e-a5d2-0e6f13b97c48"],
                "profile": "entra-b2c",
            },
            header={
                "typ": "JWT",
                "alg": "RS256",
                "kid": "Xhcrf0pVH8BFm-p1IgtdLYmnBLPKNcC4u3Rwx4m2bzI",
            },
            payload={
                "iss": b2c_iss,
                **_times(),
                "auth_time": int(time.time()) - 32,
                "aud": "4a8d2f60-91b3-4c7e-a5d2-0e6f13b97c48",
                "oid": "b93f1c07-6e2a-48d5-9f14-2c7a0d85e3b6",
                "sub": "b93f1c07-6e2a-48d5-9f14-2c7a0d85e3b6",
                "name": "Jane Doe",
                "emails": ["jane@example.com"],
                "tfp": "B2C_1_signupsignin1",
                "nonce": "defaultNonce",
                "scp": "orders.read orders.write",
                "azp": "e2d7a9c4-13f8-4b06-b7e5-9a3c6f01d2e8",
                "ver": "1.0",
            },
            expected_permissions=frozenset({"orders.read", "orders.write"}),
            expected_client="e2d7a9c4-13f8-4b06-b7e5-9a3c6f01d2e8",
            expected_subject="b93f1c07-6e2a-48d5-9f14-2c7a0d85e3b6",
            jwk_extra={"nbf": 1493763266},
        ),
        ProviderCase(
            name="entra-v1-app-only",
            issuer_config={
                "issuer": entra_v1_iss,
                "audiences": ["api://orders-api"],
                "profile": "entra-id",
            },
            header={
                "typ": "JWT",
                "alg": "RS256",
                "x5t": "Q3r9xW1Zk0bH7nT2sLp5aVd8cYe",
                "kid": "Q3r9xW1Zk0bH7nT2sLp5aVd8cYe",
            },
            payload={
                "aud": "api://orders-api",
                "iss": entra_v1_iss,
                **_times(4200),
                "aio": "E2NgYPi...",
                "appid": "c0f5a7d3-9b21-4e6c-8d04-5a3e7f91b2c6",
                "appidacr": "1",
                "idp": entra_v1_iss,
                "idtyp": "app",
                "oid": "5e9b2d7f-14a6-4c38-b0e1-7d4f8a2c6b93",
                "rh": "0.AX0A...",
                "roles": ["Orders.Read.All"],
                "sub": "5e9b2d7f-14a6-4c38-b0e1-7d4f8a2c6b93",
                "tid": ENTRA_TENANT,
                "uti": "kP3wQ9vZ0EyR5nA8tLc2AA",
                "ver": "1.0",
            },
            expected_permissions=frozenset({"Orders.Read.All"}),
            expected_client="c0f5a7d3-9b21-4e6c-8d04-5a3e7f91b2c6",
            expected_subject="5e9b2d7f-14a6-4c38-b0e1-7d4f8a2c6b93",
            jwk_extra={"x5t": "Q3r9xW1Zk0bH7nT2sLp5aVd8cYe"},
        ),
        ProviderCase(
            name="entra-v2-user",
            issuer_config={
                "issuer": entra_v2_iss,
                "audiences": ["6f1d3b8a-2c47-4e95-a0b6-93e8d1c5f742"],
                "profile": "entra-id",
            },
            header={"typ": "JWT", "alg": "RS256", "kid": "Q3r9xW1Zk0bH7nT2sLp5aVd8cYe"},
            payload={
                "aud": "6f1d3b8a-2c47-4e95-a0b6-93e8d1c5f742",
                "iss": entra_v2_iss,
                **_times(4500),
                "aio": "AWQAm/8ZAAAA...",
                "azp": "a4c71e09-3d5b-4f28-8e6a-1b9d0f27c3e5",
                "azpacr": "0",
                "name": "Jane Doe",
                "preferred_username": "jane@contoso.com",
                "oid": "8d2a5f4e-07c1-4b93-ae68-3f1c9b0d7e25",
                "rh": "1.AX0A...",
                "scp": "Orders.Read Orders.Write",
                "sub": "y3NqB7k0dM2fP9xH1wZt6cVaLrE5uG8sJ4oQ_iT7nYk",
                "tid": ENTRA_TENANT,
                "uti": "fQ1x9mZkTEa2Vb7rL0cPAA",
                "ver": "2.0",
            },
            expected_permissions=frozenset({"Orders.Read", "Orders.Write"}),
            expected_client="a4c71e09-3d5b-4f28-8e6a-1b9d0f27c3e5",
            expected_subject="y3NqB7k0dM2fP9xH1wZt6cVaLrE5uG8sJ4oQ_iT7nYk",
            jwk_extra={"issuer": entra_v2_iss},
        ),
        ProviderCase(
            name="external-id-user",
            issuer_config={
                "issuer": ciam_iss,
                "audiences": ["d2b84f1c-6a09-47e3-9c5d-8e1f3a7b2046"],
                "profile": "entra-external-id",
            },
            header={"typ": "JWT", "alg": "RS256", "kid": "hT5pL0xQ8mW3cZ7rV1nB9sKa4dE"},
            payload={
                "aud": "d2b84f1c-6a09-47e3-9c5d-8e1f3a7b2046",
                "iss": ciam_iss,
                **_times(3900),
                "azp": "71c5e3a9-0d48-4b26-b9f7-2a6e4c1d8f05",
                "azpacr": "0",
                "oid": "3c8e1f7a-52d9-4b06-9e4c-a7d2b0f61e38",
                "scp": "Orders.Read",
                "sub": "Jm8qR2vX9cT4nB7wL1pZ5yKd0sEa3uHf6gNo_iVt2kQ",
                "tid": CIAM_TENANT,
                "ver": "2.0",
            },
            expected_permissions=frozenset({"Orders.Read"}),
            expected_client="71c5e3a9-0d48-4b26-b9f7-2a6e4c1d8f05",
            expected_subject="Jm8qR2vX9cT4nB7wL1pZ5yKd0sEa3uHf6gNo_iVt2kQ",
        ),
        ProviderCase(
            name="wso2-is5-client-credentials",
            issuer_config={
                "issuer": wso2_iss,
                "audiences": ["Xk9vQ2mR7tL4pW1zN8cB_yHa3e"],
                "profile": "wso2",
            },
            header={"x5t": "MzYxMmFkZGVlNg", "kid": "MzYxMmFkZGVlNg_RS256", "alg": "RS256"},
            payload={
                "sub": "admin",
                "aut": "APPLICATION",
                "iss": wso2_iss,
                "aud": "Xk9vQ2mR7tL4pW1zN8cB_yHa3e",
                "azp": "Xk9vQ2mR7tL4pW1zN8cB_yHa3e",
                "scope": "orders:read orders:write",
                **_times(),
                "jti": "2f7c9a1e-6b3d-4e08-9d5a-1c7e3b9f0a42",
            },
            expected_permissions=frozenset({"orders:read", "orders:write"}),
            expected_client="Xk9vQ2mR7tL4pW1zN8cB_yHa3e",
            expected_subject="admin",
            jwk_extra={"alg": "RS256"},
        ),
        ProviderCase(
            name="asgardeo-is7-user",
            issuer_config={
                "issuer": asgardeo_iss,
                "audiences": ["Xk9vQ2mR7tL4pW1zN8cB_yHa3e"],
                "profile": "wso2",
            },
            header={"x5t": wso2_x5t, "kid": wso2_x5t + "_RS256", "alg": "RS256", "typ": "at+jwt"},
            payload={
                "sub": "6a1f9c3e-2d7b-4e85-b04a-9c3e1f7d2a68",
                "aut": "APPLICATION_USER",
                "iss": asgardeo_iss,
                "client_id": "Xk9vQ2mR7tL4pW1zN8cB_yHa3e",
                "aud": "Xk9vQ2mR7tL4pW1zN8cB_yHa3e",
                "azp": "Xk9vQ2mR7tL4pW1zN8cB_yHa3e",
                "scope": "openid profile orders:read",
                **_times(),
                "jti": "2f7c9a1e-6b3d-4e08-9d5a-1c7e3b9f0a42",
                "org_id": "e4b7d2a9-31c6-4f58-8a0e-7d2c9b5f1e36",
                "org_name": "contoso",
            },
            expected_permissions=frozenset({"openid", "profile", "orders:read"}),
            expected_client="Xk9vQ2mR7tL4pW1zN8cB_yHa3e",
            expected_subject="6a1f9c3e-2d7b-4e85-b04a-9c3e1f7d2a68",
            jwk_extra={"alg": "RS256", "x5t#S256": "not-the-token-x5t"},
        ),
        ProviderCase(
            name="cognito-access",
            issuer_config={
                "issuer": cognito_iss,
                "audiences": ["3h7k2m9q4r8t1v5x6z0b2c4d6f"],
                "profile": "cognito",
            },
            header={"kid": "cognito-key-1", "alg": "RS256"},
            payload={
                "sub": "94c1e7b2-3f58-4a06-bd2e-71a9c5f30e8d",
                "cognito:groups": ["admin"],
                "token_use": "access",
                "scope": "orders-api/orders.read",
                "auth_time": int(time.time()) - 30,
                "iss": cognito_iss,
                **_times(),
                "origin_jti": "1d7f3a9c-5e2b-4c80-a6d4-9b0e7f2c1a53",
                "jti": "c84e2b17-9a6d-4f35-8e01-3b7a5d9c2f64",
                "client_id": "3h7k2m9q4r8t1v5x6z0b2c4d6f",
                "username": "jane",
            },
            expected_permissions=frozenset({"orders-api/orders.read"}),
            expected_client="3h7k2m9q4r8t1v5x6z0b2c4d6f",
            expected_subject="94c1e7b2-3f58-4a06-bd2e-71a9c5f30e8d",
        ),
        ProviderCase(
            name="okta-array-scp",
            issuer_config={"issuer": okta_iss, "audiences": ["api://default"], "profile": "oidc"},
            header={"kid": "okta-key-1", "alg": "RS256"},
            payload={
                "ver": 1,
                "jti": "AT.xxxx",
                "iss": okta_iss,
                "aud": "api://default",
                **_times(),
                "cid": "0oa1b2c3d4e5f6g7h8i9",
                "scp": ["orders.read", "orders.write"],
                "sub": "0oa1b2c3d4e5f6g7h8i9",
            },
            expected_permissions=frozenset({"orders.read", "orders.write"}),
            expected_client="0oa1b2c3d4e5f6g7h8i9",
            expected_subject="0oa1b2c3d4e5f6g7h8i9",
        ),
        ProviderCase(
            name="auth0-permissions-array",
            issuer_config={
                "issuer": auth0_iss,
                "audiences": ["https://orders.example.com"],
                "profile": "oidc",
                "scope_claims": ["scope", "permissions"],
            },
            header={"kid": "auth0-key-1", "alg": "RS256", "typ": "JWT"},
            payload={
                "iss": auth0_iss,
                "sub": "Hj2kL9@clients",
                "aud": ["https://orders.example.com", "https://contoso.eu.auth0.com/userinfo"],
                **_times(),
                "azp": "Hj2kL9",
                "scope": "read:orders",
                "gty": "client-credentials",
                "permissions": ["read:orders", "write:orders"],
            },
            expected_permissions=frozenset({"read:orders", "write:orders"}),
            expected_client="Hj2kL9",
            expected_subject="Hj2kL9@clients",
        ),
    ]
