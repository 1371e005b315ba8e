"""A typical hand-written JWT authorizer for API Gateway: the baseline of ``make bench``.

Written the way most Python Lambda authorizers are (the AWS blueprints, Powertools examples and
PyJWT's documentation combined): discovery read with ``requests`` at init, PyJWT's
``PyJWKClient`` for the key set (fetched, then cached, on the first call), ``jwt.decode`` with
the issuer, audience and algorithm pinned, Powertools Logger with the Lambda context injected, and
Powertools' ``APIGatewayAuthorizerResponse`` for the policy: one Allow per route the token's
scopes grant. It is a real authorizer, not a straw man: it validates what it must (signature,
``exp``, ``iss``, ``aud``, scopes), and it is what our cold start is compared with. It has none
of our authorizer's other duties (multiple issuers, key rotation rules, cache-safe policies,
metrics), which is why it is the baseline and not a competitor.

Configuration, as such a function reads it: ``ISSUER``, ``AUDIENCE``, ``DISCOVERY_URL``.
"""

from __future__ import annotations

import os
from typing import Any

import jwt
import requests
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()

ISSUER = os.environ["ISSUER"]
AUDIENCE = os.environ["AUDIENCE"]
DISCOVERY_URL = os.environ["DISCOVERY_URL"]

# The permission each route needs (None: any valid token), as in the benchmark's route rules.
ROUTES: dict[tuple[str, str], str | None] = {
    ("GET", "/whoami"): None,
    ("GET", "/orders"): "app.read",
    ("POST", "/orders"): "app.write",
    ("GET", "/orders/*"): "app.read",
    ("ANY", "/admin/*"): "app.admin",
}

# Once per execution environment: where the identity provider publishes its keys.
_discovery = requests.get(DISCOVERY_URL, timeout=5).json()
jwks_client = jwt.PyJWKClient(_discovery["jwks_uri"], cache_keys=True, timeout=5)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = APIGatewayAuthorizerTokenEvent(event)
    scheme, _, token = request.authorization_token.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Exception("Unauthorized")
    try:
        signing_key = jwks_client.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            signing_key.key,
            algorithms=["RS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as err:
        logger.info("token rejected", reason=type(err).__name__)
        raise Exception("Unauthorized") from None
    scopes = set(str(claims.get("scp", "")).split())
    arn = request.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=claims["sub"],
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context={
            "sub": claims["sub"],
            "client_id": claims.get("azp", ""),
            "scopes": " ".join(sorted(scopes)),
        },
    )
    granted = False
    for (method, path), needed in ROUTES.items():
        if needed is None or needed in scopes:
            policy.allow_route(method, path)
            granted = True
    if not granted:
        policy.deny_all_routes()
    logger.info("request authorized", sub=claims["sub"], scopes=sorted(scopes))
    return policy.asdict()
