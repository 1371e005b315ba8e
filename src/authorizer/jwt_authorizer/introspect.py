"""Introspection stage (RFC 7662): tokens whose issuer must vouch for them, now.

Two uses, chosen per issuer:

* **opaque tokens** (``opaque_tokens``): a token that is not a JWT names no issuer, so exactly one
  configured issuer takes them. Its introspection endpoint says whether the token is active;
  the members of an active answer go through the JWT claim rules (:func:`claims.check_claims`:
  expiry with leeway, audience, allowed clients, required claims) and become a
  :class:`~principal.Principal`, which the route rules judge like any other;
* **a revocation check** (``introspect_jwts``): a JWT that validated locally is introspected
  too, and rejected once its issuer says it is no longer active.

Answers are cached per process under a keyed BLAKE2b digest of the token (never the token): an
active answer until the earlier of its ``exp`` and the issuer's cache time (the revocation
budget: how long a revoked token may still pass), an inactive one briefly; bounded in entries
and in estimated bytes, least recently used out. Concurrent lookups of one token share one call
(single flight). Calls run in a worker thread, and no caller waits past its invocation's
deadline nor past the call's budget (connect + read timeout, plus 0.1 s). When the endpoint
gives no usable answer the caller fails closed with :class:`IntrospectionUnavailable` (a 500
that API Gateway does not cache) unless the issuer allows a bounded stale answer; refused
client credentials raise :class:`IntrospectionClientRejected`, a configuration error, never a
401. Nothing here is imported unless an issuer is configured for introspection.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol
from urllib.parse import quote_plus

from .claims import check_claims, first_string
from .errors import (
    AuthorizerError,
    ConfigError,
    IntrospectionClientRejected,
    IntrospectionFailed,
    IntrospectionUnavailable,
    TokenInactive,
    UnknownIssuer,
)
from .fetch import FetchError, FormPoster, HttpFetcher, Reply
from .introspection_cache import Answer, AnswerCache, estimated_size, lifetime
from .issuers import IntrospectionSpec, IssuerConfig
from .principal import Principal, permissions

Clock = Callable[[], float]
#: Reads a secret by reference (``ssm:<name>``, ``secretsmanager:<name>``); ``True`` bypasses
#: any cache. :func:`source.read_secret` in the function.
SecretReader = Callable[[str, bool], str]

# RFC 6750 b64token: what an opaque bearer token may hold. Anything else is not sent anywhere.
_OPAQUE_RE: Final = re.compile(r"[A-Za-z0-9._~+/-]+=*")
# Added to a call's budget (connect + read timeout) so that the transport's own deadline
# normally fires first and the failure keeps its precise reason.
_GRACE_SECONDS: Final = 0.1
# Worker threads at once, calls abandoned by their invocation included: a server that trickles
# its answers cannot make threads pile up (a further call fails closed at once).
_MAX_RUNNING: Final = 8
# A refused client secret is read again (bypassing the cache) at most this often.
_SECRET_RETRY_SECONDS: Final = 60.0
_MAX_NUMERIC_DATE: Final = 2**53
_TIME_MEMBERS: Final = ("exp", "nbf", "iat")
_STRING_MEMBERS: Final = ("iss", "sub", "client_id", "username", "token_type", "jti")
_STRINGS_MEMBERS: Final = ("aud", "scope")  # a string or a list of strings


class IntrospectionEvents(Protocol):
    """What the introspection stage reports, so observability stays out of this module."""

    def introspection_call(self, issuer: str, endpoint: str, *, ok: bool, detail: str) -> None: ...

    def stale_introspection(self, issuer: str) -> None: ...


class _SilentEvents:
    def introspection_call(self, issuer: str, endpoint: str, *, ok: bool, detail: str) -> None:
        return None

    def stale_introspection(self, issuer: str) -> None:
        return None


# --------------------------------------------------------------------------- one endpoint


class _Client:
    """The authorizer as a client of one issuer's introspection endpoint."""

    def __init__(
        self,
        issuer: IssuerConfig,
        spec: IntrospectionSpec,
        *,
        field: str,
        poster: FormPoster,
        read_secret: SecretReader,
        clock: Clock,
    ) -> None:
        self.issuer = issuer
        self.spec = spec
        self._poster = poster
        self._read_secret = read_secret
        self._clock = clock
        self._secret_lock = threading.Lock()
        self._secret_retried: float | None = None
        try:  # at init: a secret that cannot be read fails the deployment loudly
            secret = read_secret(spec.client_secret, False)
        except Exception as err:
            raise ConfigError(
                field, f"cannot read {spec.client_secret}: {_describe(err)}"
            ) from None
        if not secret:
            raise ConfigError(field, f"{spec.client_secret} is empty")
        self._secret = secret

    @property
    def name(self) -> str:
        return self.issuer.issuer

    def call(self, token: str) -> tuple[bool, dict[str, Any], int]:
        """Ask the endpoint about ``token``: (active, members, body size). A refused secret is
        read again (bypassing the cache, at most once a minute) and, if it changed, the call
        is made once more: a rotated secret is picked up without a redeploy."""
        secret = self._current_secret()
        reply = self._post(token, secret)
        if _refused(reply):
            fresh = self._reread_secret()
            if fresh is not None and fresh != secret:
                reply = self._post(token, fresh)
        return self._judge(reply)

    def _current_secret(self) -> str:
        """The secret as Powertools Parameters has it (its cache answers without a network call
        for five minutes); the last one read if the store cannot be reached."""
        try:
            secret = self._read_secret(self.spec.client_secret, False)
        except Exception:
            return self._secret
        if secret:
            self._secret = secret
        return self._secret

    def _reread_secret(self) -> str | None:
        with self._secret_lock:
            now = self._clock()
            retried = self._secret_retried
            if retried is not None and now - retried < _SECRET_RETRY_SECONDS:
                return None
            self._secret_retried = now
        try:
            secret = self._read_secret(self.spec.client_secret, True)
        except Exception:
            return None
        if secret:
            self._secret = secret
        return secret or None

    def _post(self, token: str, secret: str) -> Reply:
        spec = self.spec
        form = {"token": token, "token_type_hint": "access_token"}
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if spec.auth_method == "client_secret_post":
            form["client_id"] = spec.client_id
            form["client_secret"] = secret
        else:  # RFC 6749 section 2.3.1: each part form-urlencoded, then HTTP Basic
            pair = f"{quote_plus(spec.client_id)}:{quote_plus(secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        try:
            return self._poster.post_form(
                spec.endpoint, form, headers=headers, ca_bundle=self.issuer.ca_bundle
            )
        except FetchError as err:
            raise IntrospectionUnavailable(str(err), endpoint=spec.endpoint) from None

    def _judge(self, reply: Reply) -> tuple[bool, dict[str, Any], int]:
        endpoint = self.spec.endpoint
        if _refused(reply):
            raise IntrospectionClientRejected(
                f"HTTP {reply.status}: client_id {self.spec.client_id!r} was refused "
                "(wrong id or secret, or no permission to introspect)",
                endpoint=endpoint,
            )
        if reply.status != 200:
            raise IntrospectionUnavailable(f"HTTP {reply.status}", endpoint=endpoint)
        document = reply.document
        if not isinstance(document, dict):
            raise IntrospectionUnavailable("the answer is not a JSON object", endpoint=endpoint)
        active = document.get("active")
        if not isinstance(active, bool):
            raise IntrospectionUnavailable("the answer has no boolean active", endpoint=endpoint)
        if not active:
            return False, {}, reply.size
        claims = {name: value for name, value in document.items() if name != "active"}
        problem = _type_problem(claims)
        if problem is not None:
            raise IntrospectionUnavailable(problem, endpoint=endpoint)
        return True, claims, reply.size


def _refused(reply: Reply) -> bool:
    """RFC 7662 section 2.3: invalid client credentials are a 401 (RFC 6749 allows a 400
    ``invalid_client``); a 403 is a client without the right to introspect."""
    if reply.status in (401, 403):
        return True
    document = reply.document
    return (
        reply.status == 400
        and isinstance(document, dict)
        and document.get("error") == "invalid_client"
    )


def _type_problem(claims: Mapping[str, Any]) -> str | None:
    """The registered members the stage reads must have their RFC 7662 types."""
    for name in _TIME_MEMBERS:
        value = claims.get(name)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not -_MAX_NUMERIC_DATE < value < _MAX_NUMERIC_DATE
        ):
            return f"member {name} is not a number of seconds"
    for name in _STRING_MEMBERS:
        if name in claims and not isinstance(claims[name], str):
            return f"member {name} is not a string"
    for name in _STRINGS_MEMBERS:
        value = claims.get(name)
        if value is not None and not (
            isinstance(value, str)
            or (isinstance(value, list) and all(isinstance(item, str) for item in value))
        ):
            return f"member {name} is not a string or a list of strings"
    return None


def _describe(err: Exception) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text[:300]}" if text else type(err).__name__


# --------------------------------------------------------------------------- the stage


class _Flight:
    """One call, run by a worker thread; callers wait on ``done`` up to their deadline."""

    __slots__ = ("answer", "budget", "done", "error", "expires")

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self.expires = time.monotonic() + budget
        self.done = threading.Event()
        self.answer: Answer | None = None
        self.error: IntrospectionFailed | None = None


class Introspection:
    """Every introspecting issuer of this process, with one shared answer cache."""

    def __init__(
        self,
        issuers: tuple[IssuerConfig, ...],
        *,
        poster: FormPoster,
        read_secret: SecretReader,
        call_budget: float,
        cache_entries: int,
        cache_bytes: int,
        max_token_bytes: int,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        events: IntrospectionEvents | None = None,
    ) -> None:
        self._clock = clock
        self._wall = wall_clock
        self._events: IntrospectionEvents = events if events is not None else _SilentEvents()
        self._budget = call_budget + _GRACE_SECONDS
        self._max_bytes = max_token_bytes
        self._poster = poster
        self._clients: dict[str, _Client] = {}
        self._opaque: _Client | None = None
        for index, entry in enumerate(issuers):
            spec = entry.introspection
            if spec is None:
                continue
            client = _Client(
                entry,
                spec,
                field=f"issuers[{index}].introspection_client_secret",
                poster=poster,
                read_secret=read_secret,
                clock=clock,
            )
            self._clients[entry.issuer] = client
            if spec.opaque_tokens:
                self._opaque = client
        self.cache = AnswerCache(entries=cache_entries, max_bytes=cache_bytes)
        self._digest_key = os.urandom(32)
        self._flights: dict[bytes, _Flight] = {}
        self._running = 0
        self._lock = threading.Lock()

    # -- what the validator asks

    def takes(self, token: str) -> bool:
        """Whether ``token`` goes to the opaque-token issuer: one is configured and the token
        is not three dot-separated segments (a JWT's shape), within the size limit, and made
        of RFC 6750 token characters only. Anything else stays with the JWT path."""
        return (
            self._opaque is not None
            and len(token) <= self._max_bytes
            and token.count(".") != 2
            and _OPAQUE_RE.fullmatch(token) is not None
        )

    def opaque(self, token: str, *, deadline: float | None = None) -> Principal:
        """The principal of an opaque token, from its issuer's answer."""
        client = self._opaque
        assert client is not None, "takes() said no"
        issuer = client.issuer
        try:
            answer = self._answer(client, "opaque", token, expires_at=None, deadline=deadline)
            if not answer.active:
                raise TokenInactive()
            return self._accept(answer.claims, issuer)
        except AuthorizerError as err:
            err.about(issuer=issuer.issuer, kid=None)
            raise

    def revocation_check(
        self, token: str, principal: Principal, *, deadline: float | None = None
    ) -> None:
        """For an issuer with ``introspect_jwts``: reject a locally valid JWT its issuer no
        longer calls active (``token_inactive``). Nothing to do for other issuers."""
        client = self._clients.get(principal.configured_issuer)
        if client is None or not client.spec.introspect_jwts:
            return
        try:
            answer = self._answer(
                client, "jwt", token, expires_at=principal.expires_at, deadline=deadline
            )
            if not answer.active:
                raise TokenInactive("revoked")
        except AuthorizerError as err:
            err.about(issuer=principal.issuer, kid=None)
            raise

    def clear(self) -> None:
        """Forget every answer (calls in flight finish and are remembered)."""
        self.cache.clear()

    def before_snapshot(self) -> None:
        """SnapStart, before the snapshot: no answer and no pooled connection in it."""
        self.cache.clear()
        self._reset_connections()

    def after_restore(self) -> None:
        """SnapStart, after a restore: answers timed on the snapshot's clock forgotten, a new
        HTTP session, and a digest key of this copy's own (every copy restores the same one)."""
        self.cache.clear()
        self._reset_connections()
        self._digest_key = os.urandom(32)

    def _reset_connections(self) -> None:
        if isinstance(self._poster, HttpFetcher):
            self._poster.sessions.reset()

    # -- answers: cache, single flight, stale-if-error

    def _answer(
        self,
        client: _Client,
        kind: str,
        token: str,
        *,
        expires_at: float | None,
        deadline: float | None,
    ) -> Answer:
        key = self._digest(kind, client.name, token)
        cached = self.cache.get(key, self._clock())
        if cached is not None and self._clock() < cached.fresh_until:
            return cached
        try:
            return self._call(key, client, kind, token, expires_at, deadline)
        except IntrospectionFailed:
            if cached is None or self._clock() >= cached.usable_until:
                raise
            self._events.stale_introspection(client.name)
            return cached

    def _digest(self, kind: str, issuer: str, token: str) -> bytes:
        digest = hashlib.blake2b(digest_size=32, key=self._digest_key)
        for part in (kind, issuer, token):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
        return digest.digest()

    def _call(
        self,
        key: bytes,
        client: _Client,
        kind: str,
        token: str,
        expires_at: float | None,
        deadline: float | None,
    ) -> Answer:
        endpoint = client.spec.endpoint
        with self._lock:
            flight = self._flights.get(key)
            if flight is None or time.monotonic() >= flight.expires:
                if self._running >= _MAX_RUNNING:
                    raise IntrospectionUnavailable(
                        "too many introspection calls in flight", endpoint=endpoint
                    )
                flight = _Flight(self._budget)
                worker = threading.Thread(
                    target=self._work,
                    args=(flight, key, client, kind, token, expires_at),
                    name="introspection",
                    daemon=True,
                )
                try:
                    worker.start()
                except RuntimeError:
                    raise IntrospectionUnavailable(
                        "could not start an introspection thread", endpoint=endpoint
                    ) from None
                self._flights[key] = flight
                self._running += 1
        limit = flight.expires if deadline is None else min(deadline, flight.expires)
        if not flight.done.wait(max(0.0, limit - time.monotonic())):
            if limit < flight.expires:
                raise IntrospectionUnavailable(
                    "no answer before the invocation's deadline", endpoint=endpoint
                )
            raise IntrospectionUnavailable(
                f"no answer within {flight.budget:g} s", endpoint=endpoint
            )
        if flight.error is not None:  # a fresh exception per waiter: tracebacks are per raise
            raise type(flight.error)(flight.error.detail, endpoint=endpoint)
        assert flight.answer is not None
        return flight.answer

    def _work(
        self,
        flight: _Flight,
        key: bytes,
        client: _Client,
        kind: str,
        token: str,
        expires_at: float | None,
    ) -> None:
        """The worker thread: call, remember, report, then release the waiters."""
        started = self._clock()
        endpoint = client.spec.endpoint
        detail = "answered"
        try:
            active, claims, size = client.call(token)
            flight.answer = self._remember(
                key, client, kind, (active, claims, size), started, expires_at
            )
            detail = "active" if active else "inactive"
        except IntrospectionFailed as err:
            flight.error = err
            detail = err.detail
        except Exception as err:  # anything at all: no usable answer, fail closed
            flight.error = IntrospectionUnavailable(type(err).__name__, endpoint=endpoint)
            detail = flight.error.detail
        finally:
            with self._lock:
                self._running -= 1
                if self._flights.get(key) is flight:
                    del self._flights[key]
            try:
                self._events.introspection_call(
                    client.name, endpoint, ok=flight.error is None, detail=detail
                )
            finally:
                flight.done.set()

    def _remember(
        self,
        key: bytes,
        client: _Client,
        kind: str,
        reply: tuple[bool, dict[str, Any], int],
        started: float,
        expires_at: float | None,
    ) -> Answer:
        """The answer, cached for its time: an active one until the earlier of the token's
        expiry and the cache time of its kind (measured from when the call started), an
        inactive one for ``inactive_cache_seconds``. Stale use, if allowed, never passes
        the token's expiry."""
        active, claims, size = reply
        spec = client.spec
        now = self._clock()
        exp = claims.get("exp") if kind == "opaque" else expires_at
        fresh, usable = lifetime(
            active=active,
            started=started,
            now=now,
            expires_in=float(exp) - self._wall() if exp is not None else None,
            cache_seconds=spec.cache_seconds if kind == "opaque" else spec.jwt_cache_seconds,
            inactive_seconds=spec.inactive_cache_seconds,
            stale_seconds=spec.stale_seconds,
        )
        answer = Answer(active, claims, fresh, usable, estimated_size(size))
        self.cache.put(key, answer, now)
        return answer

    # -- an active answer, judged like a JWT

    def _accept(self, claims: Mapping[str, Any], issuer: IssuerConfig) -> Principal:
        """The members of an active answer through the JWT claim rules, then the principal.

        An ``iss`` member must be the issuer's. ``exp`` is required, as for a JWT. Without an
        ``aud`` member the audience check fails, except for a profile whose tokens name their
        client as audience (WSO2): its ``client_id`` is compared with ``audiences``."""
        iss = claims.get("iss")
        if iss is not None and iss != issuer.issuer:
            raise UnknownIssuer("introspection answer names another issuer")
        view = claims
        profile = issuer.profile
        if "aud" not in claims and profile.client_is_audience:
            view = {**claims, "aud": claims.get("client_id")}
        check_claims(view, None, issuer, now=self._wall())
        client_id = first_string(claims, issuer.client_id_claims)
        subject = (
            first_string(claims, issuer.principal_claims)
            or first_string(claims, ("username",))
            or client_id
            or ""
        )
        return Principal(
            subject=subject,
            issuer=str(iss) if iss is not None else issuer.issuer,
            client_id=client_id,
            permissions=permissions(claims, issuer.scope_claims),
            expires_at=float(claims["exp"]),
            claims=claims,
            tenant=issuer.tenant_id,
            configured_issuer=issuer.issuer,
        )
