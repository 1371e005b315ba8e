"""Who called: the authorizer's verdict as API Gateway hands it to the backend.

Pure functions over the raw Lambda proxy event, so they work for every event shape the template
produces (and are trivial to test):

- REST API (payload 1.0 proxy integration): ``requestContext.authorizer`` is a flat map whose values
  API Gateway has turned into strings (``principalId`` plus the authorizer's ``context`` keys).
- HTTP API (payload 2.0) with a Lambda authorizer: the authorizer's ``context`` arrives under
  ``requestContext.authorizer.lambda`` (values keep their JSON types there).
- HTTP API with the built-in JWT authorizer, in case a user swaps it in:
  ``requestContext.authorizer.jwt.claims`` / ``.jwt.scopes``.

The authorizer's Allow context carries ``sub``, ``issuer``, ``client_id``, ``scopes`` (space
separated) and ``token_expires`` (epoch seconds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller of one request."""

    sub: str | None
    client_id: str | None
    issuer: str | None
    scopes: tuple[str, ...]
    token_expires: int | None
    principal_id: str | None
    source: str  # "rest", "http-lambda", "http-jwt" or "none"

    def as_dict(self) -> dict[str, Any]:
        return {
            "sub": self.sub,
            "client_id": self.client_id,
            "issuer": self.issuer,
            "scopes": list(self.scopes),
            "token_expires": self.token_expires,
            "principal_id": self.principal_id,
            "authorizer": self.source,
        }


ANONYMOUS = Caller(
    sub=None,
    client_id=None,
    issuer=None,
    scopes=(),
    token_expires=None,
    principal_id=None,
    source="none",
)


def is_http_api_event(event: Mapping[str, Any]) -> bool:
    """True for an HTTP API payload 2.0 event, False for a REST API (1.0) proxy event."""
    return event.get("version") == "2.0"


def _text(value: Any) -> str | None:
    """A context value as text (REST context values arrive stringified); ``""`` means unset."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def _scopes(value: Any) -> tuple[str, ...]:
    """Scopes from a space-separated string (our context), a list (HTTP API JWT) or a bracketed
    string as the HTTP API JWT authorizer flattens arrays (``"[a b]"``)."""
    if isinstance(value, list | tuple):
        return tuple(str(item) for item in value if str(item))
    text = _text(value)
    if text is None:
        return ()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return tuple(part for part in text.replace(",", " ").split() if part)


def _epoch(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    text = _text(value)
    if text is None:
        return None
    try:
        return int(float(text))
    except ValueError:
        return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def caller_from_event(event: Mapping[str, Any]) -> Caller:
    """Read the caller from a REST (1.0) or HTTP API (2.0) proxy event; ANONYMOUS when none."""
    authorizer = _mapping(_mapping(event.get("requestContext")).get("authorizer"))
    if not authorizer:
        return ANONYMOUS
    if is_http_api_event(event):
        jwt = _mapping(authorizer.get("jwt"))
        if jwt and not authorizer.get("lambda"):
            return _from_jwt_claims(jwt)
        context = _mapping(authorizer.get("lambda"))
        source = "http-lambda"
        principal = _text(authorizer.get("principalId")) or _text(context.get("principalId"))
    else:
        context = authorizer
        source = "rest"
        principal = _text(authorizer.get("principalId"))
    if not context and principal is None:
        return ANONYMOUS
    return Caller(
        sub=_text(context.get("sub")) or principal,
        client_id=_text(context.get("client_id")),
        issuer=_text(context.get("issuer")),
        scopes=_scopes(context.get("scopes")),
        token_expires=_epoch(context.get("token_expires")),
        principal_id=principal,
        source=source,
    )


def _from_jwt_claims(jwt: Mapping[str, Any]) -> Caller:
    claims = _mapping(jwt.get("claims"))
    scopes = (
        _scopes(jwt.get("scopes")) or _scopes(claims.get("scope")) or _scopes(claims.get("scp"))
    )
    client_id = next(
        (
            text
            for key in ("client_id", "azp", "appid")
            if (text := _text(claims.get(key))) is not None
        ),
        None,
    )
    return Caller(
        sub=_text(claims.get("sub")),
        client_id=client_id,
        issuer=_text(claims.get("iss")),
        scopes=scopes,
        token_expires=_epoch(claims.get("exp")),
        principal_id=None,
        source="http-jwt",
    )
