"""A local OAuth 2.0 / OIDC identity provider for development, demos and tests. Never deploy it.

It mimics what the authorizer meets in production closely enough to catch real integration bugs:

* ``entra-b2c``: Azure AD B2C. Discovery is served **only** under the per-policy URL, and that
  document's ``issuer`` is the policy-less GUID form, so "issuer + /.well-known" does not work.
* ``wso2``: WSO2 Identity Server, with its odd ``kid``/``x5t`` values, ``typ: at+jwt``, ``aud`` =
  client id and a ``scope`` string.
* ``entra-id``: Entra ID v2.0 app-only tokens (``roles`` array, ``idtyp: app``, no ``scp``).
* ``entra-external-id``: Entra External ID: v2.0 tokens whose ``iss`` names another host than
  the discovery URL (``localhost`` versus ``127.0.0.1``, as ``{tid}.ciamlogin.com`` versus
  ``{tenant}.ciamlogin.com``).
* ``cognito``: Amazon Cognito user pools: no ``aud``, ``client_id``, ``token_use: access``,
  ``orders-api/<scope>`` resource-server scopes, keys at ``/.well-known/jwks.json``.
* ``oidc``: a generic OIDC provider shaped like Keycloak (``/realms/local``, ``scope``, ``azp``).

The token endpoint implements the client-credentials grant (RFC 6749 §4.4) with
``client_secret_basic`` and ``client_secret_post``. Tests can rotate or withdraw keys, mint
arbitrary tokens, and make the metadata endpoints misbehave (down, slow, 500, HTML, oversized,
malformed) or stop listening.

It deliberately imports nothing from ``jwt_authorizer``: an oracle that shared code with the system
under test would share its bugs.

Modules: :mod:`~devkit.idp.provider` (:class:`LocalIdentityProvider`: lifecycle, URLs, keys,
tokens, failure modes), :mod:`~devkit.idp.server` (its HTTP endpoints),
:mod:`~devkit.idp.oauth` (the client-credentials grant's rules), :mod:`~devkit.idp.profiles`
(what differs between the six provider shapes), :mod:`~devkit.idp.tokens` (signing keys and
JWS), :mod:`~devkit.idp.clients` (the clients file) and :mod:`~devkit.idp.tls` (throw-away TLS
material).

Run ``python -m devkit idp --help`` (with ``tools/`` on ``PYTHONPATH``) for the CLI.
"""

from __future__ import annotations

from devkit.idp.clients import DEFAULT_CLIENTS_FILE, Client, load_clients
from devkit.idp.dpop import DpopKey
from devkit.idp.profiles import (
    B2C_POLICY,
    COGNITO_POOL,
    COGNITO_RESOURCE_SERVER,
    DEFAULT_API_AUDIENCE,
    DEFAULT_TENANT_ID,
    DEFAULT_TENANT_NAME,
    MODES,
    OVERSIZED_BYTES,
    PATH_KINDS,
    PROFILES,
    Mode,
    PathKind,
    Profile,
    scope_values,
)
from devkit.idp.provider import LocalIdentityProvider

__all__ = [
    "B2C_POLICY",
    "COGNITO_POOL",
    "COGNITO_RESOURCE_SERVER",
    "DEFAULT_API_AUDIENCE",
    "DEFAULT_CLIENTS_FILE",
    "DEFAULT_TENANT_ID",
    "DEFAULT_TENANT_NAME",
    "MODES",
    "OVERSIZED_BYTES",
    "PATH_KINDS",
    "PROFILES",
    "Client",
    "DpopKey",
    "LocalIdentityProvider",
    "Mode",
    "PathKind",
    "Profile",
    "load_clients",
    "scope_values",
]
