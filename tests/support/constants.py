"""The identities every suite's tokens and events use: one issuer, one audience, one API.

The default issuer is Azure AD B2C's shape (``identity-provider-tokens.md`` section 1.6); the
tenants are the ones the provider fixtures (:mod:`tests.support.profiles`) and the security
world (``tests/security/world.py``) build their issuers from. The ARNs are the ones API Gateway
would send for the REST API (stage ``prod``) and the HTTP API (stage ``$default``) of one
account.
"""

from __future__ import annotations

from typing import Final

B2C_TENANT: Final = "7c1e0b52-3a9d-4f6e-8b21-5d0f9a4c2e71"
ENTRA_TENANT: Final = "2b7e4c91-58a3-4f0d-96c2-e1a07b3d5f84"
CIAM_TENANT: Final = "9f3a6c2e-1b74-4d8a-a05f-6e2c8d91b7f3"
#: A tenant id that no test configuration allows.
OTHER_TENANT: Final = "11111111-2222-3333-4444-555555555555"

#: The default issuer (B2C, client credentials): ``iss`` of :func:`tests.support.signing.claims`.
ISSUER: Final = f"https://contoso.b2clogin.com/{B2C_TENANT}/v2.0/"
AUDIENCE: Final = "4a8d2f60-91b3-4c7e-a5d2-0e6f13b97c48"
CLIENT_ID: Final = "5d3e8f21-6c7b-4a90-8e15-b2f4d6a0c973"
SUBJECT: Final = "0f6c2b9d-8e41-4a73-b5d0-7e9a1c3f4b28"
ENTRA_ISSUER: Final = f"https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"
#: The Entra multi-tenant issuer template (``tenants`` allow-lists the concrete ones).
ENTRA_TEMPLATE: Final = "https://login.microsoftonline.com/{tenantid}/v2.0"

ACCOUNT: Final = "123456789012"
REGION: Final = "eu-west-1"
REST_API_ID: Final = "a1b2c3d4e5"
HTTP_API_ID: Final = "h7t8p9"
#: Everything before ``/{METHOD}/{path}`` in a REST API method ARN (stage ``prod``).
REST_PREFIX: Final = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{REST_API_ID}/prod"
#: Everything before ``/{METHOD}/{path}`` in an HTTP API route ARN (stage ``$default``).
HTTP_PREFIX: Final = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{HTTP_API_ID}/$default"


def rest_arn(method: str = "GET", path: str = "/orders") -> str:
    """A REST API ``methodArn``: ``rest_arn("POST", "/orders")``."""
    return f"{REST_PREFIX}/{method}{path}"


def http_arn(method: str = "GET", path: str = "/orders") -> str:
    """An HTTP API ``routeArn`` (payload 2.0), or ``methodArn`` (payload 1.0)."""
    return f"{HTTP_PREFIX}/{method}{path}"
