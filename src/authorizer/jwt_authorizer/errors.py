"""Every way a request can fail, as classes whose ``reason`` is the stable reason code.

The tree separates whose fault a failure is, because that decides what API Gateway shows::

    AuthorizerError
    ├── TokenRejected              the caller's token is missing or not acceptable   -> 401
    │   ├── MalformedRequest        malformed_request
    │   ├── MissingToken            missing_token
    │   ├── TokenTooLarge           token_too_large
    │   ├── MalformedToken          malformed_token
    │   ├── UnsupportedAlgorithm    unsupported_alg
    │   ├── UnsupportedHeader       unsupported_header
    │   ├── UnknownIssuer           unknown_issuer
    │   ├── UnknownKid              unknown_kid
    │   ├── NoUsableKeys            no_usable_keys
    │   ├── FirstPartyToken         first_party_token
    │   ├── BadSignature            bad_signature
    │   ├── Expired                 expired
    │   ├── NotYetValid             not_yet_valid
    │   ├── IssuedInFuture          issued_in_future
    │   ├── TokenTooOld             token_too_old
    │   ├── WrongAudience           wrong_audience
    │   ├── WrongTenant             wrong_tenant
    │   ├── WrongTokenUse           wrong_token_use
    │   ├── ClientNotAllowed        client_not_allowed
    │   ├── ClaimMismatch           claim_mismatch
    │   ├── TokenInactive           token_inactive (introspection: active false)
    │   └── SenderConstraintFailed  (sender-constrained tokens: DPoP, RFC 9449; mTLS, RFC 8705)
    │       ├── InvalidDpopProof        invalid_dpop_proof
    │       ├── DpopReplay              dpop_replay
    │       ├── MissingDpopProof        missing_dpop_proof
    │       ├── DpopBindingMismatch     dpop_binding_mismatch
    │       ├── DpopUnsupportedEvent    dpop_unsupported_event
    │       ├── MissingClientCertificate missing_client_certificate
    │       └── CertificateMismatch     certificate_mismatch
    ├── AccessDenied               the token is valid but may not call this route  -> 403
    │   ├── InsufficientScope       insufficient_scope
    │   ├── RouteNotPermitted       route_not_permitted
    │   └── CacheUnsafe             cache_unsafe
    ├── KeysUnavailable            we cannot get trusted keys (IdP down too long)   -> 500
    ├── ReplayStoreUnavailable     the DPoP replay store cannot answer              -> 500
    ├── IntrospectionFailed        the introspection endpoint gave no usable answer -> 500
    │   ├── IntrospectionUnavailable      introspection_unavailable
    │   └── IntrospectionClientRejected   introspection_client_rejected
    └── ConfigError                the deployment is misconfigured                  -> init fails

Messages are fixed strings: nothing taken from the token is ever interpolated into them, so an
exception can be logged without leaking token material. Detail that is safe to show lives in
``detail`` (short, never the token), and the values a stage compared live in ``facts`` (the
token's ``aud`` and the accepted audiences, ``exp`` and the clock, ...): claim values, truncated
and escaped with :func:`loggable`, never the token or its signature. The denial log line and
``python -m devkit explain`` show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Final

#: How many items of a list a fact keeps (the rest is counted), and how long each item may be.
FACT_ITEMS: Final = 10
FACT_CHARS: Final = 120


class AuthorizerError(Exception):
    """Root of every failure this package raises on purpose. ``status`` is what API Gateway
    makes of it: 401 (a rejected token), 403 (a denied route), 500 (our side)."""

    reason: ClassVar[str] = "error"
    message: ClassVar[str] = "authorizer error"
    status: ClassVar[int] = 500

    def __init__(self, detail: str = "", *, facts: Mapping[str, object] | None = None) -> None:
        super().__init__(self.message)
        self.detail = detail[:200]
        self.facts: dict[str, object] = dict(facts) if facts else {}
        self.issuer: str | None = None
        self.kid: str | None = None

    def about(self, *, issuer: str | None, kid: str | None) -> None:
        """Attach the (unverified, truncated) issuer and kid so a denial log can name them."""
        self.issuer = loggable(issuer, 120)
        self.kid = loggable(kid, 64)


def loggable(value: str | None, limit: int) -> str | None:
    """Attacker-chosen text made safe for a log line: truncated, and any character that is not
    printable (control characters, lone surrogates that break UTF-8 output) escaped."""
    if not value:
        return None
    value = value[:limit]
    if value.isprintable():
        return value
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in value)


def fact(value: object) -> object:
    """A compared value as a fact: strings truncated and escaped, lists of them bounded (the
    remainder counted as ``"+N more"``), numbers and booleans as they are, anything else by
    type name (a token may put any JSON there)."""
    if isinstance(value, str):
        return loggable(value, FACT_CHARS) or ""
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        shown: list[object] = [fact(item) for item in items[:FACT_ITEMS]]
        if len(items) > FACT_ITEMS:
            shown.append(f"+{len(items) - FACT_ITEMS} more")
        return shown
    return f"<{type(value).__name__}>"


def facts(**values: object) -> dict[str, object]:
    """Keyword arguments as facts (see :func:`fact`); ``None`` values are kept (a missing claim
    is a fact too)."""
    return {name: fact(value) for name, value in values.items()}


class TokenRejected(AuthorizerError):
    """The credential is missing or unacceptable: the client gets 401."""

    status: ClassVar[int] = 401


class MalformedRequest(TokenRejected):
    reason = "malformed_request"
    message = "the event is not an API Gateway authorizer event we understand"


class MissingToken(TokenRejected):
    reason = "missing_token"
    message = "no bearer token in the request"


class TokenTooLarge(TokenRejected):
    reason = "token_too_large"
    message = "token is longer than the configured limit"


class MalformedToken(TokenRejected):
    reason = "malformed_token"
    message = "token is not a well-formed signed JWT"


class UnsupportedAlgorithm(TokenRejected):
    reason = "unsupported_alg"
    message = "token algorithm is not allowed for this issuer or key"


class UnsupportedHeader(TokenRejected):
    reason = "unsupported_header"
    message = "token header carries a parameter we refuse to process"


class UnknownIssuer(TokenRejected):
    reason = "unknown_issuer"
    message = "token issuer is not trusted"


class UnknownKid(TokenRejected):
    reason = "unknown_kid"
    message = "no trusted key matches the token key id"


class NoUsableKeys(TokenRejected):
    """The issuer's key sets, as published, hold no key we may use: empty, or only keys for
    other algorithms, for encryption, malformed, too short or private. Their word is applied
    like any rotation, so this is a 401, not the 500 of an unreachable identity provider."""

    reason = "no_usable_keys"
    message = "the issuer publishes no key usable with the allowed algorithms"


class FirstPartyToken(TokenRejected):
    reason = "first_party_token"
    message = "token is a Microsoft first-party token (header nonce) meant for another API"


class BadSignature(TokenRejected):
    reason = "bad_signature"
    message = "token signature does not verify"


class Expired(TokenRejected):
    reason = "expired"
    message = "token has expired"


class NotYetValid(TokenRejected):
    reason = "not_yet_valid"
    message = "token is not valid yet (nbf)"


class IssuedInFuture(TokenRejected):
    reason = "issued_in_future"
    message = "token was issued in the future (iat)"


class TokenTooOld(TokenRejected):
    reason = "token_too_old"
    message = "token was issued longer ago than the configured maximum age"


class WrongAudience(TokenRejected):
    reason = "wrong_audience"
    message = "token audience is not accepted"


class WrongTenant(TokenRejected):
    reason = "wrong_tenant"
    message = "token tenant does not match the issuer"


class WrongTokenUse(TokenRejected):
    reason = "wrong_token_use"
    message = "token is not an access token"


class ClientNotAllowed(TokenRejected):
    reason = "client_not_allowed"
    message = "token client id is not allowed"


class ClaimMismatch(TokenRejected):
    reason = "claim_mismatch"
    message = "a required claim is missing or has a value that is not accepted"


class TokenInactive(TokenRejected):
    """The issuer's introspection endpoint answered ``active: false``: the token is revoked,
    expired, or unknown to it (RFC 7662 gives no reason, on purpose)."""

    reason = "token_inactive"
    message = "the introspection endpoint says the token is not active"


class SenderConstraintFailed(TokenRejected):
    """A sender-constrained token (DPoP or certificate-bound) is not presented by its holder.

    ``challenge`` names the RFC 9449 error the ``WWW-Authenticate: DPoP`` challenge carries
    (``invalid_dpop_proof`` or ``invalid_token``); empty for certificate binding (RFC 8705 has
    no challenge of its own)."""

    challenge: ClassVar[str] = "invalid_dpop_proof"


class InvalidDpopProof(SenderConstraintFailed):
    reason = "invalid_dpop_proof"
    message = "the DPoP proof is not acceptable"


class DpopReplay(SenderConstraintFailed):
    reason = "dpop_replay"
    message = "the DPoP proof was already used"


class MissingDpopProof(SenderConstraintFailed):
    reason = "missing_dpop_proof"
    message = "the token must be presented with a DPoP proof"
    challenge = "invalid_token"


class DpopBindingMismatch(SenderConstraintFailed):
    reason = "dpop_binding_mismatch"
    message = "the token is not bound to the key of the DPoP proof"
    challenge = "invalid_token"


class DpopUnsupportedEvent(SenderConstraintFailed):
    """A TOKEN authorizer sees one header only: it can never see a DPoP proof."""

    reason = "dpop_unsupported_event"
    message = "DPoP needs a REQUEST authorizer (REST) or an HTTP API authorizer"
    challenge = "invalid_token"


class MissingClientCertificate(SenderConstraintFailed):
    reason = "missing_client_certificate"
    message = "the token must be presented over mutual TLS with its client certificate"
    challenge = ""


class CertificateMismatch(SenderConstraintFailed):
    reason = "certificate_mismatch"
    message = "the token is not bound to the client certificate of the connection"
    challenge = ""


class AccessDenied(AuthorizerError):
    """The token is valid but may not call this route: the client gets 403."""

    status: ClassVar[int] = 403


class InsufficientScope(AccessDenied):
    reason = "insufficient_scope"
    message = "token lacks a permission the route requires"


class RouteNotPermitted(AccessDenied):
    reason = "route_not_permitted"
    message = "no route rule lets this caller call this route"


class CacheUnsafe(AccessDenied):
    reason = "cache_unsafe"
    message = (
        "the rules allow this request, but no answer that API Gateway may cache and reuse for "
        "other requests can allow it without also allowing requests the rules deny"
    )


class KeysUnavailable(AuthorizerError):
    """Trusted keys cannot be obtained: fail closed with a 500 that API Gateway does not cache.

    The handler lets it propagate to Lambda: any error message but ``Unauthorized`` is a 500."""

    reason = "keys_unavailable"
    message = "signing keys are unavailable"


class IntrospectionFailed(AuthorizerError):
    """The introspection endpoint gave no usable answer: fail closed with a 500 that API Gateway
    does not cache (never a 401: the token may well be valid). ``endpoint`` names the endpoint
    for the log line; nothing from the token is kept."""

    message = "token introspection failed"

    def __init__(self, detail: str = "", *, endpoint: str | None = None) -> None:
        super().__init__(detail)
        self.endpoint = endpoint


class IntrospectionUnavailable(IntrospectionFailed):
    """Down, too slow for the invocation, an HTTP error, a body that is not an RFC 7662 answer."""

    reason = "introspection_unavailable"
    message = "the introspection endpoint is unavailable"


class IntrospectionClientRejected(IntrospectionFailed):
    """The endpoint refused our client credentials (401, 403, or 400 ``invalid_client``): a
    configuration error (client id, secret, or the client's permission to introspect)."""

    reason = "introspection_client_rejected"
    message = "the introspection endpoint rejected the authorizer's client credentials"


class ReplayStoreUnavailable(AuthorizerError):
    """The shared DPoP replay store did not answer: without it a proof could be used twice, so
    fail closed with a 500 that API Gateway does not cache, like :class:`KeysUnavailable`."""

    reason = "replay_store_unavailable"
    message = "the DPoP replay store is unavailable"


class ConfigError(AuthorizerError):
    """The configuration is invalid; raised during init so a bad deploy fails loudly."""

    reason = "config_error"
    message = "invalid authorizer configuration"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
        self.args = (f"{field}: {problem}",)
