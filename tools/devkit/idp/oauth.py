"""The client-credentials grant (RFC 6749 §4.4) as the token endpoint applies it.

Checks run in this order and the first failure is answered: request syntax (a form body of
bounded size, no repeated parameters), client authentication (``client_secret_basic`` or
``client_secret_post``, never both), grant type, scope.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Mapping
from email.message import Message
from typing import Final
from urllib.parse import parse_qsl, unquote_plus

from devkit.idp.clients import Client

__all__ = ["MAX_FORM_BYTES", "OAuthError", "authenticate", "form_params", "grant_scopes"]

MAX_FORM_BYTES: Final = 64 * 1024


class OAuthError(Exception):
    """An RFC 6749 §5.2 error response."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description


def grant_scopes(requested: str | None, client: Client) -> list[str]:
    """Scopes to grant for a ``scope`` parameter, or invalid_scope.

    Values may carry a resource prefix (``https://contoso.onmicrosoft.com/api/app.read``,
    ``api://orders/.default``): only the part after the last ``/`` counts. ``.default`` or no
    scope at all means everything the client may have. The result follows the client's order.
    """
    names = [value.rsplit("/", 1)[-1] for value in (requested or "").split()]
    refused = [name for name in names if name != ".default" and name not in client.scopes]
    if refused:
        raise OAuthError(
            400,
            "invalid_scope",
            f"client {client.client_id!r} may not have: {' '.join(refused) or '(empty scope)'}",
        )
    if not names or ".default" in names:
        return list(client.scopes)
    return [scope for scope in client.scopes if scope in names]


def form_params(headers: Message, body: bytes | None) -> dict[str, str]:
    if headers.get_content_type() != "application/x-www-form-urlencoded":
        raise OAuthError(
            400, "invalid_request", "the body must be application/x-www-form-urlencoded"
        )
    if body is None:
        raise OAuthError(
            400,
            "invalid_request",
            f"a Content-Length of at most {MAX_FORM_BYTES} bytes is required",
        )
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError(400, "invalid_request", f"unparseable form body: {exc}") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:  # RFC 6749 §3.2: parameters MUST NOT repeat
            raise OAuthError(400, "invalid_request", f"parameter {name!r} is repeated")
        params[name] = value
    return params


def authenticate(
    authorization: str | None,
    params: Mapping[str, str],
    find_client: Callable[[str], Client | None],
) -> Client:
    """client_secret_basic or client_secret_post, never both (RFC 6749 §2.3)."""
    form_id, form_secret = params.get("client_id"), params.get("client_secret")
    if authorization is not None:
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            raise OAuthError(401, "invalid_client", f"unsupported auth scheme {scheme!r}")
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError(401, "invalid_client", "malformed Basic credentials") from None
        raw_id, colon, raw_secret = decoded.partition(":")
        if not colon:
            raise OAuthError(401, "invalid_client", "malformed Basic credentials")
        # §2.3.1: both parts are form-urlencoded before being joined.
        client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        if form_secret is not None:
            raise OAuthError(
                400, "invalid_request", "use one client authentication method, not two"
            )
        if form_id is not None and form_id != client_id:
            raise OAuthError(400, "invalid_request", "client_id differs from Basic user")
    elif form_id is not None and form_secret is not None:
        client_id, secret = form_id, form_secret
    else:
        raise OAuthError(401, "invalid_client", "client authentication is required")
    client = find_client(client_id)
    # Compare even for unknown clients so timing does not tell which ids exist.
    expected = client.client_secret if client is not None else "\x00unknown-client"
    if not hmac.compare_digest(secret.encode(), expected.encode()) or client is None:
        raise OAuthError(401, "invalid_client", "unknown client or wrong secret")
    return client
