"""Opaque access tokens, token introspection (RFC 7662) and revocation (RFC 7009).

WSO2 Identity Server issues opaque access tokens (UUIDs) by default, and only the server can
say what one means: a resource server posts it to ``/oauth2/introspect`` with its own client
credentials and gets ``{"active": true, "scope": ..., "client_id": ..., "exp": ...}`` back, or
``{"active": false}`` for anything revoked, expired or unknown. ``/oauth2/revoke`` lets the
client a token was issued to withdraw it. :class:`TokenStore` is that state for the local IdP:
the opaque tokens it issued, and every revoked token (opaque, or a JWT by its ``jti``).

The answers' members follow WSO2 IS 7 for client-credentials tokens: ``active``, ``scope``,
``client_id``, ``token_type``, ``exp``, ``iat``, ``nbf``, ``aut`` (no ``username``: there is no
user; no ``aud``: WSO2's audience is the client id). A JWT of the IdP's own is introspected from
its verified claims.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from devkit.idp.tokens import SigningKey, verified_claims

__all__ = ["INACTIVE", "OpaqueToken", "RevocationRefused", "TokenStore"]

#: What every introspection of an unusable token answers (RFC 7662 section 2.2: nothing more).
INACTIVE: Final[Mapping[str, Any]] = {"active": False}


@dataclass(frozen=True)
class OpaqueToken:
    """What the IdP knows about an opaque token it issued."""

    client_id: str
    scopes: tuple[str, ...]
    iat: int
    exp: int


class RevocationRefused(Exception):
    """RFC 7009 section 2.1: a client may revoke only the tokens issued to it."""


class TokenStore:
    """Opaque tokens issued and tokens revoked; thread-safe (the server answers in threads)."""

    def __init__(self, now: Callable[[], float], keys: Callable[[], Iterable[SigningKey]]) -> None:
        self._now = now
        self._keys = keys
        self._lock = threading.Lock()
        self._opaque: dict[str, OpaqueToken] = {}
        self._revoked: set[str] = set()  # opaque tokens, and JWT ids ("jti:<jti>")

    def issue(self, client_id: str, scopes: Sequence[str], lifetime: int) -> str:
        """A new opaque token (a UUID, as WSO2's default token issuer makes them)."""
        token = str(uuid.uuid4())
        iat = int(self._now())
        with self._lock:
            self._opaque[token] = OpaqueToken(client_id, tuple(scopes), iat, iat + lifetime)
        return token

    def own_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of ``token`` if the IdP signed it (with any key it holds), else None."""
        return verified_claims(token, self._keys())

    def revoke(self, token: str, *, client_id: str | None = None) -> None:
        """Revoke ``token`` (a JWT through its ``jti``). ``client_id``: the client asking, which
        must be the one the token was issued to; None (tests, the CLI) revokes any token.
        Unknown tokens are ignored (RFC 7009 section 2.2: the answer is 200 anyway)."""
        jwt_claims = self.own_claims(token)
        with self._lock:
            known = self._opaque.get(token)
            if jwt_claims is not None:
                owner = jwt_claims.get("client_id") or jwt_claims.get("azp")
                jti = jwt_claims.get("jti")
                if client_id is not None and owner != client_id:
                    raise RevocationRefused("the token was issued to another client")
                self._revoked.add(f"jti:{jti}" if isinstance(jti, str) else f"jwt:{token}")
            elif known is not None:
                if client_id is not None and known.client_id != client_id:
                    raise RevocationRefused("the token was issued to another client")
                self._revoked.add(token)

    def introspect(self, token: str) -> dict[str, Any]:
        """The RFC 7662 answer for ``token``: an opaque token the IdP issued, or a JWT it
        signed (its signature verified); anything else is inactive."""
        jwt_claims = self.own_claims(token)
        now = self._now()
        with self._lock:
            if jwt_claims is not None:
                jti = jwt_claims.get("jti")
                revoked = (f"jti:{jti}" if isinstance(jti, str) else f"jwt:{token}") in (
                    self._revoked
                )
                issued: OpaqueToken | None = None
            else:
                revoked = token in self._revoked
                issued = self._opaque.get(token)
        if revoked:
            return dict(INACTIVE)
        if jwt_claims is not None:
            exp = jwt_claims.get("exp")
            if not isinstance(exp, int | float) or exp <= now:
                return dict(INACTIVE)
            return {"active": True, "token_type": "Bearer", **jwt_claims}
        if issued is None or issued.exp <= now:
            return dict(INACTIVE)
        return {
            "aut": "APPLICATION",
            "nbf": issued.iat,
            "scope": " ".join(issued.scopes),
            "active": True,
            "token_type": "Bearer",
            "exp": issued.exp,
            "iat": issued.iat,
            "client_id": issued.client_id,
        }

    def issued(self, token: str) -> OpaqueToken | None:
        with self._lock:
            return self._opaque.get(token)
