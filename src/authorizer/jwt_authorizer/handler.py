"""The authorizer: event in, answer out. Orchestration only; every decision lives in a stage.

Outcome mapping (the one place where error families become API Gateway behaviour):

* :class:`TokenRejected` -> ``raise Exception("Unauthorized")`` (401; HTTP simple mode answers
  ``isAuthorized: false`` unless ``http_unauthorized`` is ``raise``);
* route decision "no"  -> a policy with an explicit Deny for the route (403), or
  ``isAuthorized: false``, with the reason in the context;
* :class:`KeysUnavailable` -> :class:`KeysUnavailableError` (500, not cached by API Gateway);
* anything unexpected -> logged by type only, then treated as a rejected token (fail closed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from .answer import denial_context, fit_context, iam_answer, principal_context, simple_answer
from .claims import Principal
from .config import Config, load_config
from .errors import AuthorizerError, KeysUnavailable, TokenRejected
from .event import AuthorizerRequest, read_event, require_token
from .keys import Fetcher, KeyRegistry, deadline_in
from .observe import DeferredEvents, Observer, token_hash
from .policy import (
    RoutePolicy,
    Statement,
    current_route_statement,
    evaluate,
    explicitly_denied,
    route_policy,
)
from .routes import Decision, RouteTable, decide, relevant_permissions
from .validator import TokenValidator

_POLICY_CACHE_SIZE: Final = 512
# Kept back from the invocation's remaining time when key fetches must end: the answer, its log
# line and the metrics flush still have to happen before Lambda's timeout.
_DEADLINE_MARGIN_SECONDS: Final = 0.5


class KeysUnavailableError(Exception):
    """Raised to make API Gateway answer 500 (any message but ``Unauthorized``), uncached."""


class Authorizer:
    """A configured authorizer; one instance per execution environment, built during init."""

    def __init__(
        self,
        config: Config,
        validator: TokenValidator,
        observer: Observer,
        *,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._config = config
        self._validator = validator
        self._observer = observer
        self._timer = timer
        self._cold = True
        self._unmatched_allows = config.unmatched == "authenticated"
        self._relevant = relevant_permissions(config.routes)
        self._tables: dict[str, RouteTable] = {}
        self._policies: dict[tuple[str, str, frozenset[str]], RoutePolicy] = {}

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
    ) -> Authorizer:
        """Load and validate the configuration, then prefetch every key set in parallel.

        ``clock`` (monotonic, key-cache timing) and ``wall_clock`` (token times) are seams for
        tests and the local emulator.
        """
        config = load_config(environ, base_dir=base_dir)
        events = DeferredEvents()
        registry = KeyRegistry(config.keys, fetcher=fetcher, clock=clock, events=events)
        validator = TokenValidator(config, registry, wall_clock=wall_clock)
        prefetch = validator.start_prefetch()
        observer = observer if observer is not None else Observer()
        events.attach(observer)
        prefetch.wait()
        return cls(config, validator, observer)

    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        started = self._timer()
        cold, self._cold = self._cold, False
        request: AuthorizerRequest | None = None
        token: str | None = None
        try:
            deadline = _invocation_deadline(context)
            request = read_event(event, self._config)
            token = require_token(request)
            principal = self._validator.validate(token, deadline=deadline)
            return self._answer(request, principal, token, started, cold)
        except TokenRejected as err:
            return self._reject(err, request, token, started, cold)
        except KeysUnavailable as err:
            self._observer.count("KeysUnavailable")
            self._log_denial(logging.ERROR, err, request, token, started, cold)
            raise KeysUnavailableError("KeysUnavailable: signing keys cannot be fetched") from None
        except Exception as err:  # a bug must never become an allow or leak the token
            self._observer.count("InternalError")
            frame = err.__traceback__
            while frame is not None and frame.tb_next is not None:
                frame = frame.tb_next
            location = (
                f"{Path(frame.tb_frame.f_code.co_filename).name}:{frame.tb_lineno}" if frame else ""
            )
            self._observer.denied(
                level=logging.ERROR,
                reason="internal_error",
                error_type=type(err).__name__,
                location=location,
                token_hash=token_hash(token),
            )
            return self._unauthorized(request)
        finally:
            self._observer.latency((self._timer() - started) * 1000)
            self._observer.flush()

    # -- outcomes

    def _answer(
        self,
        request: AuthorizerRequest,
        principal: Principal,
        token: str,
        started: float,
        cold: bool,
    ) -> dict[str, Any]:
        table = self._table_for(principal.issuer)
        decision = decide(
            table.match(request.target), principal, unmatched_allows=self._unmatched_allows
        )
        context = principal_context(
            principal, self._config.context_claims, issuer_name=principal.issuer
        )
        fields = {
            "issuer": principal.issuer,
            "client_id": principal.client_id,
            "route": request.route_label,
            "cold_start": cold,
            "token_hash": token_hash(token),
        }
        if decision.allowed:
            self._observer.count("Allowed")
            self._observer.allowed(**fields, latency_ms=self._elapsed_ms(started))
        else:
            context.update(denial_context(decision))
            self._observer.count("Forbidden")
            self._observer.count(f"Reason_{decision.reason}")
            self._observer.denied(
                level=logging.INFO,
                reason=decision.reason,
                status=403,
                missing_scopes=" ".join(sorted(decision.missing)),
                latency_ms=self._elapsed_ms(started),
                **fields,
            )
        simple = request.kind == "http-2.0" and self._config.response_mode == "simple"
        fitted, dropped = fit_context(
            context, max_bytes=self._config.context_max_bytes, scalars_only=not simple
        )
        if dropped:
            self._observer.count("ContextTruncated")
            self._observer.warning("context keys dropped to fit the size budget", dropped=dropped)
        if simple:
            return simple_answer(decision.allowed, fitted)
        principal_id = principal.subject or principal.client_id or f"token:{token_hash(token)}"
        return iam_answer(
            principal_id, self._statements(request, table, principal, decision), fitted
        )

    def _statements(
        self,
        request: AuthorizerRequest,
        table: RouteTable,
        principal: Principal,
        decision: Decision,
    ) -> tuple[Statement, ...]:
        arn = request.arn
        key = (arn.prefix, principal.issuer, principal.permissions & self._relevant)
        policy = self._policies.get(key)
        if policy is None:
            policy = route_policy(arn, table, principal, unmatched_allows=self._unmatched_allows)
            if len(self._policies) >= _POLICY_CACHE_SIZE:
                self._policies.clear()
            self._policies[key] = policy
        current = arn.resource(f"{arn.method}{arn.path}")
        if policy.cache_safe and evaluate(policy.statements, current) == decision.allowed:
            if decision.allowed or explicitly_denied(policy.statements, current):
                return policy.statements
            return (*policy.statements, current_route_statement(arn, "Deny"))
        self._observer.count("PolicyFallback")
        self._observer.warning(
            "route rules cannot be one cache-safe policy; answering for this route only",
            route=request.route_label,
        )
        return (current_route_statement(arn, "Allow" if decision.allowed else "Deny"),)

    def _reject(
        self,
        err: TokenRejected,
        request: AuthorizerRequest | None,
        token: str | None,
        started: float,
        cold: bool,
    ) -> dict[str, Any]:
        self._observer.count("Unauthorized")
        self._observer.count(f"Reason_{err.reason}")
        self._log_denial(logging.INFO, err, request, token, started, cold)
        return self._unauthorized(request)

    def _unauthorized(self, request: AuthorizerRequest | None) -> dict[str, Any]:
        config = self._config
        if (
            request is not None
            and request.kind == "http-2.0"
            and config.response_mode == "simple"
            and config.http_unauthorized == "deny"
        ):
            return simple_answer(False, {"error": "invalid_token"})
        raise Exception("Unauthorized")

    def _log_denial(
        self,
        level: int,
        err: AuthorizerError,
        request: AuthorizerRequest | None,
        token: str | None,
        started: float,
        cold: bool,
    ) -> None:
        self._observer.denied(
            level=level,
            reason=err.reason,
            status=getattr(err, "status", 500),
            detail=err.detail,
            issuer=err.issuer,
            kid=err.kid,
            route=request.route_label if request else None,
            latency_ms=self._elapsed_ms(started),
            cold_start=cold,
            token_hash=token_hash(token),
        )

    # -- helpers

    def _table_for(self, issuer: str) -> RouteTable:
        table = self._tables.get(issuer)
        if table is None:
            table = RouteTable(self._config.routes, issuer)
            self._tables[issuer] = table
        return table

    def _elapsed_ms(self, started: float) -> float:
        return round((self._timer() - started) * 1000, 3)


def _invocation_deadline(context: Any) -> float | None:
    """When key fetches must have ended for this invocation: the Lambda context's remaining time
    less ``_DEADLINE_MARGIN_SECONDS``. No context (tests, local tools): no invocation deadline,
    each fetch is bounded by its own timeouts."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    return deadline_in(remaining() / 1000 - _DEADLINE_MARGIN_SECONDS)
