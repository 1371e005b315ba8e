"""The authorizer: event in, answer out. Orchestration only; every decision lives in a stage.

Outcome mapping (the one place where error families become API Gateway behaviour):

* :class:`TokenRejected` -> ``raise Exception("Unauthorized")`` (401; HTTP simple mode answers
  ``isAuthorized: false`` unless ``http_unauthorized`` is ``raise``);
* a route decision "no" -> a policy that denies the request (403), or ``isAuthorized: false``,
  with the reason in the context;
* :class:`KeysUnavailable` and :class:`ReplayStoreUnavailable` -> raised as they are (500: the
  message is not ``Unauthorized``, and API Gateway does not cache errors); so is
  :class:`IntrospectionFailed` (an introspection endpoint down, or refusing our client
  credentials: logged as an ERROR naming the endpoint);
* anything unexpected -> logged by type only, then treated as a rejected token (fail closed).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .answer import (
    denial_context,
    fit_context,
    iam_answer,
    principal_context,
    simple_answer,
    unauthorized_context,
)
from .config import Config, load_config
from .errors import (
    AuthorizerError,
    IntrospectionClientRejected,
    IntrospectionFailed,
    KeysUnavailable,
    ReplayStoreUnavailable,
    TokenRejected,
)
from .event import AuthorizerRequest, read_event, require_token
from .fetch import EarlyFetches, Fetcher, FormPoster, deadline_in
from .jwk import load_verifiers
from .keyring import KeyRegistry
from .observe import DeferredEvents, Observer, token_hash
from .policy import Policies, PolicyBuilder, RouteAnswer, find_conflicts
from .principal import Principal
from .validator import TokenValidator

if TYPE_CHECKING:  # imported at init only when configured
    from .binding import SenderCheck
    from .introspect import Introspection, IntrospectionEvents, SecretReader
    from .replay import ReplayStore

# Kept back from the invocation's remaining time when key fetches must end: the answer, its log
# line and the metrics flush still have to happen before Lambda's timeout.
_DEADLINE_MARGIN_SECONDS: Final = 0.5
_REPORTED_LIMIT: Final = 1024


@dataclass(slots=True)
class Call:
    """One invocation, as far as it got: what the outcome handlers and the logs need."""

    started: float
    cold: bool
    request: AuthorizerRequest | None = None
    token: str | None = None


class Authorizer:
    """A configured authorizer; one instance per execution environment, built during init."""

    def __init__(
        self,
        config: Config,
        validator: TokenValidator,
        observer: Observer,
        *,
        timer: Callable[[], float] = time.perf_counter,
        sender: SenderCheck | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._validator = validator
        self._observer = observer
        self._sender = sender
        self._timer = timer
        self._wall_clock = wall_clock
        self._snapshot_at: float | None = None
        self._cold = True
        self._policies = Policies(
            {
                entry.issuer: tuple(rule for rule in config.routes if rule.applies_to(entry.issuer))
                for entry in config.issuers
            },
            unmatched_allows=config.unmatched == "authenticated",
            simple_cache_key=config.simple_cache_key,
        )
        self._reported: set[tuple[object, ...]] = set()
        self._report_conflicts(self._policies.builders)
        if config.uses_dpop and not config.dpop.authorizer_cache_off:
            self._observer.warning(
                "DPoP is enabled: every API Gateway authorizer that sends this function DPoP "
                "requests must not cache answers (authorizer result TTL 0, ReauthorizeEvery: 0); "
                "a cached answer is reused for a replayed proof, and a cached IAM policy for "
                "other methods and paths. The function cannot see the TTL: once it is 0, set "
                "dpop.authorizer_cache_off to true (the template does when its Dpop parameter "
                "is on)",
                issuers=[entry.issuer for entry in config.issuers if entry.dpop != "off"],
            )

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        fetcher: Fetcher | None = None,
        base_dir: Path | None = None,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        replay_store: ReplayStore | None = None,
        poster: FormPoster | None = None,
        read_secret: SecretReader | None = None,
        early: EarlyFetches | None = None,
    ) -> Authorizer:
        """Load and validate the configuration, then prefetch every key set in parallel.

        Powertools, the signature backends and the route analysis load while the identity
        providers answer. ``early``: key documents already downloading (:mod:`app`); the key
        cache takes them instead of fetching them again. ``clock`` (monotonic, key-cache and
        introspection-cache timing) and ``wall_clock`` (token and DPoP proof times) are seams
        for tests and the local emulator; so are ``poster`` (introspection calls),
        ``read_secret`` (introspection client secrets, from SSM or Secrets Manager) and
        ``replay_store`` (replaces the configured DPoP replay store).
        """
        config = load_config(environ, base_dir=base_dir)
        events = DeferredEvents()
        registry = KeyRegistry(
            config.keys, fetcher=fetcher, clock=clock, events=events, early=early
        )
        introspection = (
            build_introspection(
                config,
                clock=clock,
                wall_clock=wall_clock,
                events=events,
                poster=poster,
                read_secret=read_secret,
            )
            if config.introspecting
            else None
        )
        validator = TokenValidator(
            config.issuers,
            registry,
            max_token_bytes=config.max_token_bytes,
            verified_token_cache_size=config.verified_token_cache_size,
            wall_clock=wall_clock,
            introspection=introspection,
        )
        prefetch = validator.start_prefetch()
        load_verifiers(frozenset().union(*(entry.algorithms for entry in config.issuers)))
        observer = observer if observer is not None else Observer.of(config.telemetry)
        events.attach(observer)
        sender = (
            _sender_check(config, replay_store, wall_clock) if config.sender_constrained else None
        )
        authorizer = cls(config, validator, observer, sender=sender, wall_clock=wall_clock)
        prefetch.wait()
        if early is not None:
            early.close()
        return authorizer

    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        call = Call(started=self._timer(), cold=self._cold)
        self._cold = False
        try:
            call.request = read_event(
                event,
                token_sources=self.config.token_sources,
                allow_bare_token=self.config.allow_bare_token,
                sender_constrained=self._sender is not None,
            )
            call.token = require_token(call.request)
            principal = self._validator.validate(call.token, deadline=_invocation_deadline(context))
            if self._sender is not None:
                self._sender.check(call.request, call.token, principal)
            return self._answer(call, call.request, principal)
        except TokenRejected as err:
            return self._reject(call, err)
        except ReplayStoreUnavailable as err:
            self._observer.count("ReplayStoreUnavailable")
            self._log_denial(call, logging.ERROR, err)
            raise ReplayStoreUnavailable(err.detail) from None
        except KeysUnavailable as err:
            self._observer.count("KeysUnavailable")
            self._log_denial(call, logging.ERROR, err)
            raise KeysUnavailable(err.detail) from None
        except IntrospectionFailed as err:
            if isinstance(err, IntrospectionClientRejected):
                self._observer.count("IntrospectionClientRejected")
            else:
                self._observer.count("IntrospectionUnavailable")
            self._log_denial(call, logging.ERROR, err, endpoint=err.endpoint)
            raise type(err)(err.detail, endpoint=err.endpoint) from None
        except Exception as err:  # a bug must never become an allow or leak the token
            self._observer.count("InternalError")
            self._observer.denied(
                level=logging.ERROR,
                reason="internal_error",
                error_type=type(err).__name__,
                location=_where(err),
                token_hash=token_hash(call.token),
            )
            return self._unauthorized(call.request)
        finally:
            self._observer.latency((self._timer() - call.started) * 1000)
            self._observer.flush()

    # -- SnapStart (runtime hooks, registered by app.py)

    def register_snapstart_hooks(self) -> bool:
        """Register :meth:`before_snapshot` and :meth:`after_restore` with the runtime's
        ``snapshot_restore_py`` (bundled in Lambda's managed Python runtime). Without it nothing
        is registered and nothing is paid; without SnapStart the hooks never run."""
        try:
            from snapshot_restore_py import register_after_restore, register_before_snapshot
        except ImportError:
            return False
        register_before_snapshot(self.before_snapshot)
        register_after_restore(self.after_restore)
        return True

    def before_snapshot(self) -> None:
        """The snapshot must hold parsed keys, no socket and no pending metric (the metrics
        counted during init go out now, once, instead of from every restored environment)."""
        self._validator.before_snapshot()
        if self._sender is not None:
            self._sender.clear()
        self._observer.flush()
        self._snapshot_at = self._wall_clock()

    def after_restore(self) -> None:
        """A restored environment may start seconds or days after its snapshot, as one of many
        copies: new HTTP session, keys judged by their real age (refreshed past the TTL, unused
        past the stale limit), the random generator reseeded, the next call a cold start."""
        elapsed = 0.0 if self._snapshot_at is None else self._wall_clock() - self._snapshot_at
        random.seed()  # every copy would otherwise draw the same numbers (urllib3 retries...)
        self._validator.after_restore(max(0.0, elapsed))
        self._cold = True

    # -- outcomes

    def _answer(
        self, call: Call, request: AuthorizerRequest, principal: Principal
    ) -> dict[str, Any]:
        issuer, held = principal.configured_issuer, principal.permissions
        simple = request.kind == "http-2.0" and self.config.response_mode == "simple"
        if simple:
            routed = self._policies.simple(issuer, request.arn, request.route_key, held)
        else:
            routed = self._policies.iam(issuer, request.arn, held)
        self._note(routed, request)
        decision = routed.decision
        context = principal_context(principal, self.config.context_claims)
        if decision.allowed:
            self._observer.count("Allowed")
            if self._observer.debug:  # allowed requests are logged at DEBUG only
                self._observer.allowed(
                    **self._fields(call, request, principal), latency_ms=self._elapsed_ms(call)
                )
        else:
            context.update(denial_context(decision))
            self._observer.count("Forbidden")
            self._observer.count(f"Reason_{decision.reason}")
            self._observer.denied(
                level=logging.INFO,
                reason=decision.reason,
                status=403,
                missing_scopes=" ".join(sorted(decision.missing)),
                latency_ms=self._elapsed_ms(call),
                **self._fields(call, request, principal),
            )
        fitted, dropped = fit_context(
            context, max_bytes=self.config.context_max_bytes, scalars_only=not simple
        )
        if dropped:
            self._observer.count("ContextTruncated")
            self._observer.warning("context keys dropped to fit the size budget", dropped=dropped)
        if simple:
            return simple_answer(decision.allowed, fitted)
        principal_id = principal.subject or principal.client_id or f"token:{token_hash(call.token)}"
        return iam_answer(principal_id, routed.statements, fitted)

    @staticmethod
    def _fields(call: Call, request: AuthorizerRequest, principal: Principal) -> dict[str, Any]:
        return {
            "issuer": principal.issuer,
            "client_id": principal.client_id,
            "route": request.route,
            "route_key": request.route_key,
            "cold_start": call.cold,
            "token_hash": token_hash(call.token),
        }

    def _note(self, routed: RouteAnswer, request: AuthorizerRequest) -> None:
        """Count and log what the policy stage reports about an answer."""
        rule = routed.decision.rule
        if routed.mismatch:
            # Cannot happen if the analysis is right; if it ever does, the answer denies.
            self._observer.count("PolicyMismatch")
            self._observer.warning(
                "answer disagrees with the route decision; denying", route=request.route
            )
        if routed.narrowed is not None:
            self._once(
                ("narrowed", routed.narrowed, rule),
                "PolicyFallback",
                "this caller's general answer would deny this route; answering with a narrower "
                "policy, which API Gateway caches for the token's other routes too",
                route=request.route,
                rule=rule.route_key if rule else None,
            )
        if routed.route_mismatch is not None:
            self._once(
                ("route_mismatch", routed.route_mismatch, request.route_key),
                "RouteMismatch",
                "a route rule is not a route of this API: API Gateway routed one of its paths "
                "to a wider route, whose cached simple answers also answer that rule's paths "
                "(add the route to the API, or set simple_cache_key to request)",
                rule=routed.route_mismatch,
                route_key=request.route_key,
            )

    def _reject(self, call: Call, err: TokenRejected) -> dict[str, Any]:
        self._observer.count("Unauthorized")
        self._observer.count(f"Reason_{err.reason}")
        self._log_denial(call, logging.INFO, err)
        return self._unauthorized(call.request, err)

    def _unauthorized(
        self, request: AuthorizerRequest | None, err: AuthorizerError | None = None
    ) -> dict[str, Any]:
        config = self.config
        if (
            request is not None
            and request.kind == "http-2.0"
            and config.response_mode == "simple"
            and config.http_unauthorized == "deny"
        ):
            rules = self._sender.rules if self._sender is not None else None
            return simple_answer(False, unauthorized_context(err, rules.algs if rules else None))
        raise Exception("Unauthorized")

    # -- observability

    def _log_denial(
        self, call: Call, level: int, err: AuthorizerError, **extra: str | None
    ) -> None:
        self._observer.denied(
            level=level,
            reason=err.reason,
            status=err.status,
            detail=err.detail,
            issuer=err.issuer,
            kid=err.kid,
            route=call.request.route if call.request else None,
            latency_ms=self._elapsed_ms(call),
            cold_start=call.cold,
            token_hash=token_hash(call.token),
            # the values the stage compared (errors.facts): never the token
            **{**err.facts, **extra},
        )

    def _once(self, key: tuple[object, ...], metric: str, message: str, **fields: Any) -> None:
        """Count every time; log a warning the first time per case (bounded)."""
        self._observer.count(metric)
        if key not in self._reported and len(self._reported) < _REPORTED_LIMIT:
            self._reported.add(key)
            self._observer.warning(message, **fields)

    def _report_conflicts(self, builders: tuple[PolicyBuilder, ...]) -> None:
        """Rule sets that cannot always be one cache-safe policy, logged once at init."""
        conflicts = [
            conflict
            for builder in builders
            if builder.table.rules
            for conflict in find_conflicts(builder)
        ]
        if not conflicts:
            return
        self._observer.warning(
            "some route rules cannot always be one cache-safe IAM policy: while API Gateway "
            "caches an answer for one of the caller's routes, the routes listed below get 403 "
            "for callers holding the permissions shown (never an allow the rules deny). "
            "Remedies: set the authorizer's cache TTL to 0, or cache per request (REST REQUEST "
            "authorizer or HTTP API with the method and path among the identity sources), or "
            "change the rules so that no rule's IAM pattern reaches another rule's paths",
            conflicts=[
                {
                    "route": c.route,
                    "example": c.example,
                    "permissions": list(c.permissions),
                    "blocked_by": list(c.blocked_by),
                }
                for c in conflicts[:20]
            ],
            conflict_count=len(conflicts),
        )

    def _elapsed_ms(self, call: Call) -> float:
        return round((self._timer() - call.started) * 1000, 3)


def _sender_check(
    config: Config, store: ReplayStore | None, wall_clock: Callable[[], float]
) -> SenderCheck:
    """The DPoP and certificate-binding stage; its modules (and boto3, for the DynamoDB replay
    store) are imported here, at init, only when an issuer enables them."""
    from .binding import SenderCheck
    from .dpop import ProofRules
    from .replay import DynamoDbReplayStore, MemoryReplayStore, ReplayGuard

    if not config.uses_dpop:
        return SenderCheck(config.issuers, rules=None, guard=None, wall_clock=wall_clock)
    settings = config.dpop
    if store is None:
        if settings.replay_store == "memory":
            store = MemoryReplayStore(max(settings.replay_cache_size, 1000))
        else:
            store = DynamoDbReplayStore(settings.replay_table or "")
    rules = ProofRules(
        algorithms=frozenset(settings.algorithms),
        max_age_seconds=settings.max_age_seconds,
        clock_skew_seconds=settings.clock_skew_seconds,
        htu_base_urls=settings.htu_base_urls,
    )
    guard = ReplayGuard(store, cache_size=settings.replay_cache_size, wall_clock=wall_clock)
    return SenderCheck(config.issuers, rules=rules, guard=guard, wall_clock=wall_clock)


def build_introspection(
    config: Config,
    *,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    events: IntrospectionEvents | None = None,
    poster: FormPoster | None = None,
    read_secret: SecretReader | None = None,
) -> Introspection:
    """The introspection stage of ``config``: imported, and its client secrets read (a secret
    that cannot be read fails the init), only for a configuration that introspects."""
    from .fetch import HttpFetcher
    from .introspect import Introspection

    settings = config.introspection
    if read_secret is None:
        from .source import read_secret as read_from_store

        read_secret = read_from_store
    if poster is None:
        poster = HttpFetcher(
            connect_timeout=settings.connect_timeout_seconds,
            read_timeout=settings.read_timeout_seconds,
            max_response_bytes=settings.max_response_bytes,
        )
    return Introspection(
        config.issuers,
        poster=poster,
        read_secret=read_secret,
        call_budget=settings.connect_timeout_seconds + settings.read_timeout_seconds,
        cache_entries=settings.cache_entries,
        cache_bytes=settings.cache_bytes,
        max_token_bytes=config.max_token_bytes,
        clock=clock,
        wall_clock=wall_clock,
        events=events,
    )


def _invocation_deadline(context: Any) -> float | None:
    """When key fetches must have ended for this invocation: the Lambda context's remaining time
    less ``_DEADLINE_MARGIN_SECONDS``. No context (tests, local tools): no invocation deadline,
    each fetch is bounded by its own timeouts."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    return deadline_in(remaining() / 1000 - _DEADLINE_MARGIN_SECONDS)


def _where(err: BaseException) -> str:
    """``file.py:123`` of the innermost frame: enough to find a bug, nothing from the input."""
    frame = err.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return f"{Path(frame.tb_frame.f_code.co_filename).name}:{frame.tb_lineno}" if frame else ""
