"""Logs and metrics: one structured line per denial, EMF counters per outcome.

Nothing here ever receives a raw token; callers pass :func:`token_hash` instead.

Metrics are counted in a plain dictionary while an invocation runs and handed to Powertools
Metrics once, at its end (:meth:`Observer.flush`): its ``serialize_metric_set`` builds the EMF
document (namespace, ``service`` dimension, timestamp) from that dictionary, written in one
write. The names and units are this module's constants, so Powertools' per-call ``add_metric``
validation (a few microseconds per metric, on every invocation) is not needed. Counting the same
name twice in an invocation gives one value of 2 instead of two values of 1 (the same Sum).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .errors import loggable

_NAMESPACE: Final = "JwtAuthorizer"
_SERVICE: Final = "jwt-authorizer"
_STANDARD_RESOLUTION: Final = 60
# The EMF document is a fresh tree Powertools builds: no cycle to look for.
_EMF_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def token_hash(token: str | None) -> str:
    """A short, non-reversible handle to correlate log lines about the same token."""
    if not token:
        return ""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:12]


class DeferredEvents:
    """Key-cache events recorded until the Observer exists.

    Init starts the key downloads first and imports Powertools (tens of milliseconds) while the
    identity providers answer; fetch outcomes that arrive meanwhile are replayed on attach.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._target: Observer | None = None
        self._pending: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def key_fetch(self, source: str, *, ok: bool, trigger: str, detail: str) -> None:
        self._forward("key_fetch", (source,), {"ok": ok, "trigger": trigger, "detail": detail})

    def stale_keys(self, source: str, *, age_seconds: float) -> None:
        self._forward("stale_keys", (source,), {"age_seconds": age_seconds})

    def key_set_empty(self, source: str, *, skipped: Mapping[str, int]) -> None:
        self._forward("key_set_empty", (source,), {"skipped": dict(skipped)})

    def introspection_call(self, issuer: str, endpoint: str, *, ok: bool, detail: str) -> None:
        self._forward("introspection_call", (issuer, endpoint), {"ok": ok, "detail": detail})

    def stale_introspection(self, issuer: str) -> None:
        self._forward("stale_introspection", (issuer,), {})

    def attach(self, observer: Observer) -> None:
        with self._lock:
            self._target = observer
            pending, self._pending = self._pending, []
        for name, args, kwargs in pending:
            getattr(observer, name)(*args, **kwargs)

    def _forward(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        with self._lock:
            target = self._target
            if target is None:
                self._pending.append((name, args, kwargs))
                return
        getattr(target, name)(*args, **kwargs)


def _safe(fields: dict[str, Any]) -> dict[str, Any]:
    """Request-derived strings (routes, issuers) may hold anything; keep log lines valid.

    Every log method passes its fields through here or :func:`_escaped`: one lone surrogate
    anywhere in a line makes Powertools' UTF-8 write fail, and the line vanishes with a traceback
    on stderr. Empty strings become null (no ``client_id``, no ``kid``).
    """
    return {k: loggable(v, 200) if isinstance(v, str) else _escaped(v) for k, v in fields.items()}


def _escaped(value: Any, limit: int = 200) -> Any:
    """Strings at any depth (lists, tuples, objects: the ``dropped`` context keys), escaped and
    truncated to ``limit``; empty strings stay empty."""
    if isinstance(value, str):
        return loggable(value, limit) or ""
    if isinstance(value, list | tuple | set | frozenset):
        return [_escaped(item, limit) for item in value]
    if isinstance(value, dict):
        return {_escaped(str(k), limit): _escaped(v, limit) for k, v in value.items()}
    return value


@dataclass(frozen=True, slots=True)
class Telemetry:
    """How the function logs and reports (read from the environment by :mod:`source`)."""

    service: str = _SERVICE
    namespace: str = _NAMESPACE
    log_level: str = "INFO"
    tracing: bool = False


class Observer:
    """Powertools Logger and Metrics behind a few intention-revealing methods.

    ``log_level`` None leaves the level to Powertools (tests set it through the environment)."""

    def __init__(
        self,
        *,
        service: str = _SERVICE,
        namespace: str = _NAMESPACE,
        log_level: str | None = None,
    ) -> None:
        from aws_lambda_powertools import Logger, Metrics
        from aws_lambda_powertools.metrics import MetricUnit
        from aws_lambda_powertools.metrics.functions import is_metrics_disabled

        self.logger = Logger(service=service, level=log_level)
        self._metrics = Metrics(namespace=namespace, service=service)
        self._count = MetricUnit.Count.value
        self._milliseconds = MetricUnit.Milliseconds.value
        # Powertools' own switch (POWERTOOLS_METRICS_DISABLED, POWERTOOLS_DEV), read once.
        self._emit = not is_metrics_disabled()
        self._dimensions = {"service": service}
        self._lock = threading.Lock()
        self._counts: dict[str, float] = {}
        self._latencies: list[float] = []
        self.debug = self.logger.log_level <= logging.DEBUG

    @classmethod
    def of(cls, telemetry: Telemetry) -> Observer:
        return cls(
            service=telemetry.service, namespace=telemetry.namespace, log_level=telemetry.log_level
        )

    # -- metrics

    def count(self, name: str, value: float = 1) -> None:
        with self._lock:
            self._counts[name] = self._counts.get(name, 0.0) + float(value)

    def latency(self, milliseconds: float) -> None:
        with self._lock:
            self._latencies.append(round(milliseconds, 3))

    def flush(self) -> None:
        """Emit what was counted since the last flush as one EMF document (Powertools builds
        it), written before the invocation returns: a frozen or killed environment loses
        nothing an answered invocation counted."""
        with self._lock:
            counts, self._counts = self._counts, {}
            latencies, self._latencies = self._latencies, []
        if not self._emit or not (counts or latencies):
            return
        metric_set: dict[str, dict[str, Any]] = {
            name: {"Unit": self._count, "StorageResolution": _STANDARD_RESOLUTION, "Value": [value]}
            for name, value in counts.items()
        }
        if latencies:
            metric_set["ValidationLatency"] = {
                "Unit": self._milliseconds,
                "StorageResolution": _STANDARD_RESOLUTION,
                "Value": latencies,
            }
        # Explicit dimensions: Powertools shares its dimension set between Metrics instances.
        document = self._metrics.serialize_metric_set(
            metrics=metric_set, dimensions=self._dimensions, metadata={}
        )
        sys.stdout.write(_EMF_ENCODER.encode(document) + "\n")

    # -- outcomes

    def denied(self, *, level: int, reason: str, **fields: Any) -> None:
        log = self.logger.error if level >= logging.ERROR else self.logger.info
        log("request denied", extra={"reason": reason, **_safe(fields)})

    def allowed(self, **fields: Any) -> None:
        if self.debug:
            self.logger.debug("request allowed", extra=_safe(fields))

    def warning(self, message: str, **fields: Any) -> None:
        self.logger.warning(message, extra=_escaped(fields))

    # -- key cache events (the KeyEvents protocol)

    def key_fetch(self, source: str, *, ok: bool, trigger: str, detail: str) -> None:
        self.count("KeySetFetches")
        # URLs from the configuration, details from the network: escaped, long URLs kept whole.
        fields = _escaped({"source": source, "trigger": trigger, "detail": detail}, 2000)
        if ok:
            self.logger.info("key set fetched", extra=fields)
        else:
            self.count("KeySetFetchFailures")
            self.logger.warning("key set fetch failed", extra=fields)

    def stale_keys(self, source: str, *, age_seconds: float) -> None:
        self.count("StaleKeysInUse")

    def key_set_empty(self, source: str, *, skipped: Mapping[str, int]) -> None:
        """A fetched key set without one usable key was applied: tokens of its issuer now get
        ``no_usable_keys``. Counts per skip reason only, never key material."""
        self.count("KeySetEmpty")
        self.logger.warning(
            "key set holds no usable key",
            extra={
                "source": source,
                "skipped": sum(skipped.values()),
                "skipped_reasons": dict(sorted(skipped.items())),
            },
        )

    # -- introspection events (the introspect.IntrospectionEvents protocol)

    def introspection_call(self, issuer: str, endpoint: str, *, ok: bool, detail: str) -> None:
        """One call to an introspection endpoint (a cache miss); a failed one is logged with
        its detail (never the token, never the credentials)."""
        self.count("IntrospectionCalls")
        if not ok:
            self.count("IntrospectionCallFailures")
            self.logger.warning(
                "introspection call failed",
                extra=_escaped({"issuer": issuer, "endpoint": endpoint, "detail": detail}, 2000),
            )

    def stale_introspection(self, issuer: str) -> None:
        """An answer past its cache time stood in for a failed call (stale-if-error)."""
        self.count("StaleIntrospectionInUse")
