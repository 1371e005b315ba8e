"""The trusted world the hostile inputs are thrown at: issuers, keys, routes, authorizers.

Four issuers, all with inline key sets (nothing is ever fetched):

* ``b2c``   Azure AD B2C (profile ``entra-b2c``), RS256, one RSA key;
* ``oidc``  a generic OIDC provider allowing RS256, PS256 and ES256, one RSA and one EC key (so
  RSA/EC confusion can be tried against a key set that really holds both kinds);
* ``entra`` Entra ID v2 single tenant (profile ``entra-id``: ``tid`` required and checked);
* ``multi`` Entra ID multi-tenant (``{tenantid}`` issuer) with one allow-listed partner tenant.

Routes: ``GET /orders`` and ``GET /orders/{id}`` need ``app.read``; ``POST /admin`` needs
``admin``; anything else is denied (403). Every valid token carries ``app.read app.write``.
Attacker keys are real keys of the same types that the issuers never published.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, Literal

from jwt_authorizer import Authorizer
from jwt_authorizer.config import parse_config
from jwt_authorizer.keyring import KeyRegistry
from jwt_authorizer.observe import Observer
from jwt_authorizer.validator import TokenValidator
from tests.support import constants
from tests.support.fetchers import NoNetworkFetcher
from tests.support.signing import SigningKey
from tests.support.stages import validator_for

# The shared identities (tests/support/constants.py), under the names the security suite uses.
B2C_TENANT: Final = constants.B2C_TENANT
B2C_ISSUER: Final = constants.ISSUER
B2C_AUDIENCE: Final = constants.AUDIENCE
OIDC_ISSUER: Final = "https://idp.example.test/realms/orders"
OIDC_AUDIENCE: Final = "orders-api"
ENTRA_TENANT: Final = constants.ENTRA_TENANT
ENTRA_ISSUER: Final = constants.ENTRA_ISSUER
ENTRA_AUDIENCE: Final = "6f1d3b8a-2c47-4e95-a0b6-93e8d1c5f742"
MULTI_ISSUER: Final = constants.ENTRA_TEMPLATE
PARTNER_TENANT: Final = constants.CIAM_TENANT
STRANGER_TENANT: Final = "d4c3b2a1-0f9e-4d8c-b7a6-958473625140"
GRAPH_AUDIENCE: Final = "00000003-0000-0000-c000-000000000000"
CLIENT_ID: Final = constants.CLIENT_ID
SUBJECT: Final = constants.SUBJECT

ROUTES: Final = [
    {"route": "GET /orders", "scopes": ["app.read"]},
    {"route": "GET /orders/{id}", "scopes": ["app.read"]},
    {"route": "POST /admin", "scopes": ["admin"]},
]

Mode = Literal["simple", "iam"]
IssuerName = Literal["b2c", "oidc", "entra", "multi"]
_services = itertools.count(1)


@dataclass(frozen=True)
class World:
    b2c: SigningKey
    oidc_rsa: SigningKey
    oidc_ec: SigningKey
    entra: SigningKey
    attacker_rsa: SigningKey
    attacker_ec: SigningKey

    @classmethod
    def generate(cls) -> World:
        return cls(
            b2c=SigningKey.generate("RS256", kid="b2c-rsa-1"),
            oidc_rsa=SigningKey.generate("RS256", kid="oidc-rsa-1"),
            oidc_ec=SigningKey.generate("ES256", kid="oidc-ec-1"),
            entra=SigningKey.generate("RS256", kid="entra-rsa-1"),
            attacker_rsa=SigningKey.generate("RS256", kid="attacker-rsa-1"),
            attacker_ec=SigningKey.generate("ES256", kid="attacker-ec-1"),
        )

    # -- configuration

    def document(self, mode: Mode = "simple") -> dict[str, Any]:
        """The AUTH_CONFIG document; ``iam`` answers HTTP 2.0 with policies and raises 401s."""
        document: dict[str, Any] = {
            "issuers": [
                {
                    "issuer": B2C_ISSUER,
                    "audiences": [B2C_AUDIENCE],
                    "profile": "entra-b2c",
                    "jwks": {"keys": [self.b2c.public_jwk()]},
                },
                {
                    "issuer": OIDC_ISSUER,
                    "audiences": [OIDC_AUDIENCE],
                    "profile": "oidc",
                    "algorithms": ["RS256", "PS256", "ES256"],
                    "jwks": {"keys": [self.oidc_rsa.public_jwk(), self.oidc_ec.public_jwk()]},
                },
                {
                    "issuer": ENTRA_ISSUER,
                    "audiences": [ENTRA_AUDIENCE],
                    "profile": "entra-id",
                    "jwks": {"keys": [self.entra.public_jwk(issuer=ENTRA_ISSUER)]},
                },
                {
                    "issuer": MULTI_ISSUER,
                    "audiences": [ENTRA_AUDIENCE],
                    "profile": "entra-id",
                    "tenants": [PARTNER_TENANT],
                    "jwks": {"keys": [self.entra.public_jwk(issuer=MULTI_ISSUER)]},
                },
            ],
            "routes": ROUTES,
        }
        if mode == "iam":
            document["response_mode"] = "iam"
            document["http_unauthorized"] = "raise"
        return document

    def authorizer(
        self,
        mode: Mode = "simple",
        *,
        observer: Observer | None = None,
        fetcher: Any = None,
        **overrides: Any,
    ) -> Authorizer:
        """A fresh authorizer. Without an observer it logs through Powertools to the *current*
        ``sys.stdout`` (a fresh service name binds a fresh handler, so capsys sees the lines)."""
        document = self.document(mode)
        document.update(overrides)
        return Authorizer.from_environ(
            {"AUTH_CONFIG": json.dumps(document)},
            fetcher=fetcher if fetcher is not None else NoNetworkFetcher(),
            observer=observer or Observer(service=f"jwt-authorizer-sec-{next(_services)}"),
        )

    def validator(self) -> TokenValidator:
        config = parse_config(self.document())
        return validator_for(config, KeyRegistry(config.keys, fetcher=NoNetworkFetcher()))

    # -- tokens

    def key_for(self, issuer: IssuerName) -> SigningKey:
        return {"b2c": self.b2c, "oidc": self.oidc_rsa, "entra": self.entra, "multi": self.entra}[
            issuer
        ]

    def payload(self, issuer: IssuerName = "b2c", **overrides: Any) -> dict[str, Any]:
        """Valid claims for ``issuer``; an override of ``None`` removes the claim."""
        now = int(time.time())
        payload: dict[str, Any] = {"exp": now + 3600, "nbf": now - 30, "iat": now - 30}
        if issuer == "b2c":
            payload.update(
                iss=B2C_ISSUER,
                aud=B2C_AUDIENCE,
                sub=SUBJECT,
                azp=CLIENT_ID,
                scp="app.read app.write",
                tfp="B2C_1A_SIGNUP_SIGNIN",
                ver="1.0",
            )
        elif issuer == "oidc":
            payload.update(
                iss=OIDC_ISSUER,
                aud=OIDC_AUDIENCE,
                sub="user-7",
                azp="orders-web",
                scope="openid app.read app.write",
            )
        else:
            tenant = ENTRA_TENANT if issuer == "entra" else PARTNER_TENANT
            payload.update(
                iss=ENTRA_ISSUER
                if issuer == "entra"
                else MULTI_ISSUER.replace("{tenantid}", tenant),
                aud=ENTRA_AUDIENCE,
                sub="y3NqB7k0dM2fP9xH1wZt6cVaLrE5uG8sJ4oQ_iT7nYk",
                azp=CLIENT_ID,
                tid=tenant,
                scp="app.read app.write",
                ver="2.0",
            )
        payload.update(overrides)
        return {key: value for key, value in payload.items() if value is not None}

    def token(
        self,
        issuer: IssuerName = "b2c",
        header: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        """A token the authorizer must accept (unless ``overrides`` spoil it)."""
        key = self.key_for(issuer)
        return key.sign(self.payload(issuer, **overrides), header)


@cache
def world() -> World:
    """One set of keys per test session (RSA key generation dominates otherwise)."""
    return World.generate()
