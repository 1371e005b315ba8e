"""The key sources of one process: created on demand, shared between issuers, prefetched
together during init, and taken through a SnapStart snapshot and restore together.

Each :class:`~.keys.KeySource` holds one key set and its refresh policy; this module only
decides which sources exist, gives them one transport, and acts on all of them at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .fetch import EarlyFetches, Fetcher, HttpFetcher
from .keys import Clock, KeyEvents, KeySettings, KeySource, SourceSpec


class _SilentEvents:
    def key_fetch(self, source: str, *, ok: bool, trigger: str, detail: str) -> None:
        return None

    def stale_keys(self, source: str, *, age_seconds: float) -> None:
        return None

    def key_set_empty(self, source: str, *, skipped: Mapping[str, int]) -> None:
        return None


class KeyRegistry:
    """All key sources of this process, created on demand and shared between issuers."""

    def __init__(
        self,
        settings: KeySettings,
        *,
        fetcher: Fetcher | None = None,
        clock: Clock = time.monotonic,
        events: KeyEvents | None = None,
        early: EarlyFetches | None = None,
    ) -> None:
        """``fetcher``: the transport (tests pass their own); by default an :class:`HttpFetcher`
        with ``settings``' limits, which takes what ``early`` already fetched."""
        self._settings = settings
        self._fetcher = (
            fetcher
            if fetcher is not None
            else HttpFetcher(
                connect_timeout=settings.connect_timeout_seconds,
                read_timeout=settings.read_timeout_seconds,
                max_response_bytes=settings.max_response_bytes,
                early=early,
            )
        )
        self._clock = clock
        self._events: KeyEvents = events if events is not None else _SilentEvents()
        self._sessions = self._fetcher.sessions if isinstance(self._fetcher, HttpFetcher) else None
        self._snapshot_taken: float | None = None
        self._sources: dict[SourceSpec, KeySource] = {}
        self._algorithms: dict[SourceSpec, set[str]] = {}
        self._inline: dict[SourceSpec, Mapping[str, Any]] = {}
        self._lock = threading.Lock()

    def declare(
        self, spec: SourceSpec, algorithms: Iterable[str], inline: Mapping[str, Any] | None = None
    ) -> None:
        """Register a source before use, so shared sources know every issuer's algorithms."""
        self._algorithms.setdefault(spec, set()).update(algorithms)
        if inline is not None:
            self._inline[spec] = inline

    def source(self, spec: SourceSpec) -> KeySource:
        source = self._sources.get(spec)
        if source is not None:
            return source
        with self._lock:
            source = self._sources.get(spec)
            if source is None:
                source = KeySource(
                    spec,
                    algorithms=frozenset(self._algorithms.get(spec, ())),
                    settings=self._settings,
                    fetcher=self._fetcher,
                    clock=self._clock,
                    events=self._events,
                    inline=self._inline.get(spec),
                )
                self._sources[spec] = source
            return source

    def start_prefetch(self, specs: Iterable[SourceSpec]) -> Prefetch:
        """Start fetching every remote key set, one worker thread each, and return at once:
        init can import what it still needs while the identity providers answer."""
        sources = tuple(self.source(spec) for spec in specs)
        for source in sources:
            source.start_prefetch()
        return Prefetch(sources)

    def sources(self) -> tuple[KeySource, ...]:
        """Every key source created so far."""
        return tuple(self._sources.values())

    def clear(self) -> None:
        """Every key source back to its just-constructed state (the sources themselves, like
        the declarations they were made from, are configuration and stay)."""
        for source in self.sources():
            source.clear()

    def before_snapshot(self) -> None:
        """SnapStart: keys fetched and parsed, nothing in flight, connections closed."""
        for source in self.sources():
            source.prepare_snapshot()
        if self._sessions is not None:
            self._sessions.reset()
        self._snapshot_taken = self._clock()

    def after_restore(self, elapsed: float) -> None:
        """SnapStart: ``elapsed`` seconds (wall clock) after the snapshot. A new HTTP session
        (pooled sockets from before the snapshot are dead); every key set aged by ``elapsed``
        (:meth:`KeySource.restored`)."""
        if self._sessions is not None:
            self._sessions.reset()
        taken = self._snapshot_taken if self._snapshot_taken is not None else self._clock()
        for source in self.sources():
            source.restored(taken, elapsed)


@dataclass(frozen=True, slots=True)
class Prefetch:
    """Key sets being fetched in the background during init."""

    sources: tuple[KeySource, ...]

    def wait(self) -> dict[str, bool]:
        """Wait for every fetch (each at most its budget; they run in parallel). A source
        counts as warm only if it holds keys."""
        return {s.spec.name: s.finish_prefetch() for s in self.sources}
