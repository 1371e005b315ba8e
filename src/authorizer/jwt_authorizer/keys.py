"""Trusted keys: fetch, parse once, cache per process, and decide when to refresh.

One :class:`KeySource` per key-set endpoint holds its key material and applies the refresh
policy (:mod:`.keyring` holds the sources of the process). The policy, in order of precedence:

* a soft TTL (``refresh_seconds``) after which the set is refetched;
* an unknown ``kid`` refetches at most once per ``kid_miss_cooldown_seconds`` per key set, and a
  bounded negative cache answers repeated unknown kids without any network call;
* after a failed fetch the next attempt waits ``retry_seconds`` (a down IdP costs one request per
  window, not one per token);
* stale-if-error: a failed refresh never discards good keys; they keep verifying until they are
  ``max_stale_seconds`` old, then we fail closed with :class:`KeysUnavailable`;
* single flight: concurrent callers share one fetch;
* deadlines: a fetch runs in a worker thread, and no caller waits for it past its invocation's
  deadline or past the fetch's own budget (connect + read timeout per document it reads, plus
  0.1 s), so a slow or trickling server cannot hold an invocation. A caller that stops waiting
  goes on with the cached keys under the rules above; the fetch goes on, and its answer, if it
  comes within the budget, is applied for the callers that follow. Past its budget it counts as
  failed; its worker may still be blocked in a read, and until it returns no other fetch of
  that key set starts (one worker per key set).

Every rule applies to each key set on its own, including each set of an issuer with several.

Key material is never taken from a token: the token's header only selects among these keys.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol

from .errors import ConfigError, KeysUnavailable, NoUsableKeys, UnknownKid, facts, loggable
from .fetch import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_READ_TIMEOUT,
    Fetcher,
    FetchError,
    is_fetchable_url,
)
from .jwk import KeySet, NotAKeySet, VerificationKey, match_keys, parse_jwks
from .misses import MissCache

Clock = Callable[[], float]

# Added to a fetch's budget (connect + read timeout per document), so that HttpFetcher's own
# per-document deadline normally fires first and the failure keeps its precise reason.
_FETCH_GRACE_SECONDS: Final = 0.1


@dataclass(frozen=True, slots=True)
class KeySettings:
    """How key sets are fetched and cached; defaults follow Microsoft's rollover guidance."""

    refresh_seconds: int = 3600
    kid_miss_cooldown_seconds: int = 300
    retry_seconds: int = 30
    max_stale_seconds: int = 86400
    connect_timeout_seconds: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout_seconds: float = DEFAULT_READ_TIMEOUT
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES


class KeyEvents(Protocol):
    """What the key cache reports, so observability stays out of this module."""

    def key_fetch(self, source: str, *, ok: bool, trigger: str, detail: str) -> None: ...

    def stale_keys(self, source: str, *, age_seconds: float) -> None: ...

    def key_set_empty(self, source: str, *, skipped: Mapping[str, int]) -> None: ...


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """Where one key set comes from. Equal specs share one cache (and one fetch)."""

    name: str = field(compare=False)
    jwks_uri: str | None = None
    discovery_url: str | None = None
    expected_issuers: frozenset[str] = frozenset()
    ca_bundle: str | None = None
    inline_id: int | None = None


@dataclass(frozen=True, slots=True)
class Lookup:
    """One look at a key set for a token: the snapshot used, the keys that matched in it, and
    the attempt count and time read before looking (what an unknown-kid refresh goes by)."""

    snapshot: KeySet
    keys: tuple[VerificationKey, ...]
    attempt: int
    now: float


class _Flight:
    """One fetch, run by a worker thread; callers wait on ``done`` up to their deadline."""

    __slots__ = ("abandoned", "budget", "done", "expires", "generation", "started", "trigger")

    def __init__(self, trigger: str, started: float, budget: float, generation: int) -> None:
        self.trigger = trigger
        self.started = started  # key-cache clock: the snapshot's fetched_at, pacing
        self.budget = budget
        self.expires = time.monotonic() + budget  # real clock: when it counts as failed
        self.generation = generation
        self.done = threading.Event()
        self.abandoned = False  # counted as failed at ``expires``, its worker still running


class KeySource:
    """The cache and refresh policy for one key set."""

    def __init__(
        self,
        spec: SourceSpec,
        *,
        algorithms: frozenset[str],
        settings: KeySettings,
        fetcher: Fetcher,
        clock: Clock,
        events: KeyEvents,
        inline: Mapping[str, Any] | None = None,
    ) -> None:
        self.spec = spec
        self._algorithms = algorithms
        self._settings = settings
        self._fetcher = fetcher
        self._clock = clock
        self._events = events
        self._inline = inline
        self.misses = MissCache()
        self._lock = threading.Lock()  # held briefly: to start, give up on or finish a fetch
        self._generation = 0
        self._inline_snapshot: KeySet | None = None
        if inline is not None:
            snapshot = parse_jwks(inline, algorithms, fetched_at=clock())
            if not snapshot.keys:  # nothing will ever replace it: fail the init, loudly
                raise ConfigError(
                    f"jwks of {spec.name}",
                    f"holds no key usable with the allowed algorithms ({snapshot.describe()})",
                )
            self._inline_snapshot = snapshot
        self._reset()

    def _reset(self) -> None:
        self._jwks_uri = self.spec.jwks_uri
        self._snapshot: KeySet | None = self._inline_snapshot
        self._last_attempt: float | None = None
        self._last_attempt_failed = False
        #: What the last failed attempt reported (the ``key set fetch failed`` detail), for
        #: the ``keys_unavailable`` denial it may cause.
        self.last_failure: str | None = None
        self._last_miss_refresh: float | None = None
        # Completed fetch attempts (successful or not). A caller reads it *before* it looks at
        # the cached state; if it has moved by the time the caller holds the lock, another
        # thread already refreshed on newer information and the caller reuses that outcome.
        self._attempts = 0
        self._flight: _Flight | None = None  # the fetch in flight, not counted yet
        self._running: _Flight | None = None  # the fetch whose worker has not returned yet
        self.misses.clear()
        self.fetch_count = 0

    def clear(self) -> None:
        """Back to the just-constructed state: no fetched keys, no history. A fetch still
        running is disowned (its outcome is dropped when it ends)."""
        with self._lock:
            self._generation += 1
            self._reset()

    # -- public

    @property
    def snapshot(self) -> KeySet | None:
        return self._snapshot

    @property
    def busy(self) -> bool:
        """Whether a fetch worker of this set is still running (perhaps past its budget)."""
        return self._running is not None

    @property
    def attempts(self) -> int:
        """Completed fetch attempts; read it before :meth:`current` to hand it to :meth:`find`."""
        return self._attempts

    def current(self, *, attempt: int | None = None, deadline: float | None = None) -> KeySet:
        """The snapshot to verify with now: refreshed when due, or KeysUnavailable past the
        stale limit. Callers compare its identity to know whether earlier results still hold
        (and count as using it: stale keys are reported)."""
        attempt = self._attempts if attempt is None else attempt  # before any state is read
        now = self._clock()
        snapshot = self._current(now, attempt, deadline)
        self._used(snapshot, now)
        return snapshot

    def start_prefetch(self) -> None:
        """Start the first fetch in the background (nothing to do with keys already held)."""
        attempt = self._attempts
        if self._snapshot is not None:
            return
        with self._lock:
            if self._attempts == attempt and self._flight is None and self._running is None:
                self._start("prefetch")

    def prepare_snapshot(self) -> None:
        """Before a SnapStart snapshot: hold keys if they can be had (one more attempt when the
        prefetch failed), and no fetch in flight (its socket would not survive the restore)."""
        if self._inline is not None:
            return
        if self._snapshot is None:
            self.start_prefetch()
        flight = self._running
        if flight is not None:
            self._await(flight, None)

    def restored(self, snapshot_taken: float, elapsed: float) -> None:
        """After a SnapStart restore: ``elapsed`` seconds (wall clock) passed since the snapshot,
        taken at ``snapshot_taken`` on this cache's clock, which may not have moved meanwhile.

        The keys are given their real age, so the usual rules apply from here: past
        ``refresh_seconds`` they are refreshed (started now, in the background), past
        ``max_stale_seconds`` they are not used. Pacing from before the snapshot (retry pause,
        unknown-kid cooldown, negative cache) is forgotten: it was about another moment."""
        with self._lock:
            now = self._clock()
            snapshot = self._snapshot
            if snapshot is not None and self._inline is None:
                age = max(0.0, snapshot_taken - snapshot.fetched_at) + max(0.0, elapsed)
                self._snapshot = replace(snapshot, fetched_at=now - age)
            self._last_attempt = None
            self._last_attempt_failed = False
            self._last_miss_refresh = None
            self.misses.clear()
            if (
                self._inline is None
                and self._due(self._snapshot, now)
                and self._flight is None
                and self._running is None
            ):
                self._start("restore")

    def finish_prefetch(self) -> bool:
        """Wait for :meth:`start_prefetch`'s fetch (at most its budget); whether keys are held."""
        flight = self._flight
        if flight is not None:
            self._await(flight, None)
        return self._snapshot is not None

    def lookup(
        self,
        kid: str | None,
        *,
        x5t: str | None = None,
        x5t_s256: str | None = None,
        kid_suffix_match: bool = False,
        attempt: int | None = None,
        deadline: float | None = None,
    ) -> Lookup:
        """Consult this set for a token: refreshed first when its TTL passed, KeysUnavailable
        past the stale limit (or with nothing fetched yet), never a fetch for an unknown kid.

        ``attempt``: the :attr:`attempts` a caller read before it last consulted this set in
        the same request (so a refresh it already caused is not repeated). ``deadline``: see
        :func:`deadline_in`; None waits for a fetch up to its own budget.
        """
        attempt = self._attempts if attempt is None else attempt  # before any state: _attempts
        now = self._clock()
        snapshot = self._current(now, attempt, deadline)
        found = match_keys(snapshot, kid, x5t, x5t_s256, kid_suffix_match)
        if found:
            self._used(snapshot, now)
        return Lookup(snapshot, found, attempt, now)

    def find(
        self,
        kid: str | None,
        *,
        x5t: str | None = None,
        x5t_s256: str | None = None,
        kid_suffix_match: bool = False,
        attempt: int | None = None,
        deadline: float | None = None,
    ) -> tuple[KeySet, tuple[VerificationKey, ...]]:
        """The keys the token may have been signed with, and the snapshot they come from; an
        unknown kid may refresh the set (rate-limited). Raises UnknownKid, NoUsableKeys (the set
        holds no usable key at all) or KeysUnavailable."""
        looked = self.lookup(
            kid,
            x5t=x5t,
            x5t_s256=x5t_s256,
            kid_suffix_match=kid_suffix_match,
            attempt=attempt,
            deadline=deadline,
        )
        if looked.keys:
            return looked.snapshot, looked.keys
        return self.after_miss(
            looked,
            kid,
            x5t=x5t,
            x5t_s256=x5t_s256,
            kid_suffix_match=kid_suffix_match,
            deadline=deadline,
        )

    def after_miss(
        self,
        looked: Lookup,
        kid: str | None,
        *,
        x5t: str | None = None,
        x5t_s256: str | None = None,
        kid_suffix_match: bool = False,
        deadline: float | None = None,
    ) -> tuple[KeySet, tuple[VerificationKey, ...]]:
        """A :meth:`lookup` found nothing: refetch for the unknown kid when the pacing allows,
        then look again; remember the miss (negative cache) when it is still unknown."""
        if self._inline is not None:
            raise _miss(looked.snapshot)
        miss_key = MissCache.digest(kid, x5t, x5t_s256)
        if self._may_refresh_for_miss(miss_key, looked.now):
            self._refresh("unknown_kid", looked.attempt, deadline)
        elif self._flight is None and self._attempts == looked.attempt:
            # Nothing newer is on its way: answer from what we have, without the lock. This
            # is the path a random-kid flood takes. (Order of reads matters: a fetch sets
            # _flight before _last_miss_refresh and bumps _attempts before clearing it.)
            self.misses.remember(miss_key, looked.now)
            raise _miss(looked.snapshot)
        else:
            flight = self._flight  # a fetch is in flight or just finished: wait for, and use, it
            if flight is not None:
                self._await(flight, deadline)
        now = self._clock()
        snapshot = self._current(now, self._attempts, deadline)
        found = match_keys(snapshot, kid, x5t, x5t_s256, kid_suffix_match)
        if found:
            self._used(snapshot, now)
            return snapshot, found
        self.misses.remember(miss_key, looked.now)
        raise _miss(snapshot)

    # -- policy

    def _current(self, now: float, attempt: int, deadline: float | None) -> KeySet:
        """The snapshot to verify with, refreshed first when due; ``attempt`` as read by the
        caller before it looked at any cached state. When the refresh does not end by
        ``deadline``, the cached snapshot is judged as if it had failed."""
        snapshot = self._snapshot
        if self._inline is None and self._due(snapshot, now):
            self._refresh("ttl" if snapshot else "initial", attempt, deadline)
            snapshot = self._snapshot
        if snapshot is None:
            raise KeysUnavailable("no keys fetched yet", facts=self._failure_facts())
        if self._inline is None and now - snapshot.fetched_at > self._settings.max_stale_seconds:
            raise KeysUnavailable(
                "last good keys are older than the stale limit", facts=self._failure_facts()
            )
        return snapshot

    def _failure_facts(self) -> dict[str, object]:
        """Where the keys should have come from and why the last fetch failed: a URL from the
        configuration and a message this module wrote (its network-supplied parts are already
        bounded), kept whole up to 1000 characters, so a discovery mismatch names the issuer
        found, the URL and the issuer expected."""
        spec = self.spec
        return {
            "key_source": loggable(spec.discovery_url or spec.jwks_uri or spec.name, 1000),
            "last_fetch_error": loggable(self.last_failure, 1000),
        }

    def _used(self, snapshot: KeySet, now: float) -> None:
        """Keys of ``snapshot`` are about to verify a token: report them if they are stale."""
        age = now - snapshot.fetched_at
        if self._inline is None and age > self._settings.refresh_seconds:
            self._events.stale_keys(self.spec.name, age_seconds=age)

    def _due(self, snapshot: KeySet | None, now: float) -> bool:
        """Refresh when the TTL passed (or nothing is cached), pacing retries after a failure.

        ``_last_attempt`` is the last *completed* attempt: while a fetch is in flight the
        refresh still reads as due, so callers queue behind it and share its outcome instead of
        answering from the state it is about to replace.
        """
        if snapshot is not None and now - snapshot.fetched_at < self._settings.refresh_seconds:
            return False
        if self._last_attempt is None:
            return True
        pause = self._settings.retry_seconds if self._last_attempt_failed else 0
        return now - self._last_attempt >= pause

    def _may_refresh_for_miss(self, miss_key: bytes, now: float) -> bool:
        """Whether an unknown kid may trigger a fetch now (no side effects)."""
        seen = self.misses.seen_at(miss_key)
        cooldown = self._settings.kid_miss_cooldown_seconds
        if seen is not None and now - seen < cooldown:
            return False
        if self._last_miss_refresh is not None and now - self._last_miss_refresh < cooldown:
            return False
        if self._last_attempt_failed and self._last_attempt is not None:
            return now - self._last_attempt >= self._settings.retry_seconds
        return True

    # -- fetching: single flight, in a worker thread, awaited up to a deadline

    def _refresh(self, trigger: str, seen_attempts: int, deadline: float | None) -> None:
        """Single flight: the first caller starts a fetch, every caller (it included) waits for
        it until the fetch ends, ``deadline`` passes or the fetch's budget runs out.

        ``seen_attempts`` is the completed-attempt count the caller read before deciding that a
        refresh was needed. Counting *completed* attempts matters: a caller that arrives just
        after a fetch ended saw the old count, so it returns and uses that outcome instead of
        fetching a second time on the strength of the state it read before that fetch.
        """
        with self._lock:
            self._give_up_if_overdue()
            if self._attempts != seen_attempts:
                return
            flight = self._flight
            if flight is None:
                if self._running is not None:
                    # A fetch given up on still holds its connection (a server trickling its
                    # answer): one worker per key set at a time, so nothing piles up behind it.
                    return
                flight = self._start(trigger)
        if flight is not None:
            self._await(flight, deadline)

    def _start(self, trigger: str) -> _Flight | None:
        """Start a fetch in a worker thread (lock held). Publish order: ``_flight``, then
        ``_last_miss_refresh`` (see :meth:`after_miss`)."""
        started = self._clock()
        settings = self._settings
        documents = 2 if self._reads_discovery(trigger) else 1
        per_document = settings.connect_timeout_seconds + settings.read_timeout_seconds
        budget = documents * per_document + _FETCH_GRACE_SECONDS
        flight = _Flight(trigger, started, budget, self._generation)
        self._flight = flight
        if trigger == "unknown_kid":
            self._last_miss_refresh = started
        self.fetch_count += 1
        self._running = flight
        worker = threading.Thread(
            target=self._work, args=(flight,), name=f"key-fetch-{trigger}", daemon=True
        )
        try:
            worker.start()
        except RuntimeError:  # no thread to be had: a failed attempt like any other
            self._running = None
            self._finish(flight, None, "could not start a fetch thread")
            return None
        return flight

    def _await(self, flight: _Flight, deadline: float | None) -> None:
        """Wait for ``flight`` until it ends, ``deadline`` passes or its budget runs out (then it
        counts as a failed attempt, though its worker may still be blocked in a read)."""
        limit = flight.expires if deadline is None else min(deadline, flight.expires)
        if flight.done.wait(max(0.0, limit - time.monotonic())):
            return
        if limit >= flight.expires:
            with self._lock:
                self._give_up(flight)

    def _give_up_if_overdue(self) -> None:
        flight = self._flight
        if flight is not None and time.monotonic() >= flight.expires:
            self._give_up(flight)

    def _give_up(self, flight: _Flight) -> None:
        """``flight`` ran out of budget (lock held): count it as failed now, so retries are
        paced and callers use the cached keys. Its worker may still be blocked in a read; no
        other fetch of this set starts until it returns, and what it returns is dropped."""
        if flight.done.is_set() or flight.abandoned or flight.generation != self._generation:
            return
        flight.abandoned = True
        self._finish(flight, None, f"no answer within {flight.budget:g} s")

    def _work(self, flight: _Flight) -> None:
        """The worker thread: fetch, then publish whatever came back (whatever happened)."""
        snapshot: KeySet | None = None
        detail = "fetch interrupted"
        try:
            snapshot = self._fetch(flight.trigger, flight.started)
            detail = snapshot.describe()
        except Exception as err:  # anything at all: a failed attempt, paced and kept stale
            detail = str(err) if isinstance(err, FetchError) else type(err).__name__
        finally:
            with self._lock:
                if flight.generation != self._generation:  # cleared meanwhile: not ours
                    flight.done.set()
                elif not flight.abandoned:
                    self._running = None
                    self._finish(flight, snapshot, detail)
                else:
                    # Counted as failed when its budget ran out. (With HttpFetcher it cannot
                    # have succeeded since: each document must arrive within connect + read.)
                    self._running = None

    def _finish(self, flight: _Flight, snapshot: KeySet | None, detail: str) -> None:
        """Record an attempt's outcome and report it (lock held), then release its waiters.

        Publish in this order: keys, attempt outcome, counter, then the in-flight slot. Events
        go out before ``done`` is set, so whoever waited sees them reported.
        """
        if snapshot is not None:
            self._snapshot = snapshot
            self.misses.clear()
        self._last_attempt = flight.started
        self._last_attempt_failed = snapshot is None
        self.last_failure = detail if snapshot is None else None
        self._attempts += 1
        if self._flight is flight:
            self._flight = None
        try:
            self._events.key_fetch(
                self.spec.name, ok=snapshot is not None, trigger=flight.trigger, detail=detail
            )
            if snapshot is not None and not snapshot.keys:
                self._events.key_set_empty(self.spec.name, skipped=snapshot.skipped)
        finally:
            flight.done.set()

    def _reads_discovery(self, trigger: str) -> bool:
        return bool(self.spec.discovery_url) and (
            self._jwks_uri is None or trigger in ("ttl", "initial", "restore")
        )

    def _fetch(self, trigger: str, now: float) -> KeySet:
        if self._reads_discovery(trigger):
            self._jwks_uri = self._discover()
        if self._jwks_uri is None:
            raise FetchError("no jwks_uri known")
        document = self._fetcher.get_json(self._jwks_uri, ca_bundle=self.spec.ca_bundle)
        try:
            return parse_jwks(document, self._algorithms, fetched_at=now)
        except NotAKeySet as err:  # not a key set at all: a failed fetch, the old keys stay
            raise FetchError(str(err)) from err

    def _discover(self) -> str:
        url = self.spec.discovery_url or ""
        document = self._fetcher.get_json(url, ca_bundle=self.spec.ca_bundle)
        if not isinstance(document, dict):
            raise FetchError("discovery document is not a JSON object")
        issuer = document.get("issuer")
        if issuer not in self.spec.expected_issuers:
            # Both sides named: the issuer found (from the network: repr, bounded), the URL
            # fetched and what was expected, so a B2C or External ID mismatch is one line away
            # from its fix (discovery_issuer).
            raise FetchError(
                f"discovery document names a different issuer: {repr(issuer)[:200]} at {url}, "
                f"expected {' or '.join(repr(name) for name in sorted(self.spec.expected_issuers))}"
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not is_fetchable_url(jwks_uri):
            raise FetchError("discovery document has no https jwks_uri")
        return jwks_uri


def _miss(snapshot: KeySet) -> UnknownKid | NoUsableKeys:
    """What a lookup that found nothing means: an unknown kid (naming the kids the set does
    publish), or no usable key at all (with the skip counts)."""
    if snapshot.keys:
        return UnknownKid(facts=facts(known_kids=[key.kid or "-" for key in snapshot.keys]))
    return NoUsableKeys(facts={"skipped": dict(sorted(snapshot.skipped.items()))})
