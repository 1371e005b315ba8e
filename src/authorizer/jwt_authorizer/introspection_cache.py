"""The introspection answers of one execution environment: the revocation budget, in memory.

An answer is kept under a digest of its token (the caller's; the token is never stored) for as
long as :func:`lifetime` allows: an active answer until the earlier of the token's expiry and
the configured cache time (how long a revoked token may still pass), an inactive one briefly.
:class:`AnswerCache` bounds the answers in number and in estimated bytes, least recently used
out, and never returns one past its ``usable_until``.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

# Estimated memory of one cached answer: a fixed part (entry, digest, answer object) plus a
# multiple of the JSON body, whose parsed form is several times larger than its text.
# tests/unit/test_introspect.py measures it against tracemalloc.
ENTRY_BYTES: Final = 600
BYTES_PER_BODY_BYTE: Final = 8


@dataclass(frozen=True, slots=True)
class Answer:
    """One introspection answer as remembered: whether the token was active and, if so, the
    answer's members (``active`` removed). Times are on the cache's clock."""

    active: bool
    claims: Mapping[str, Any]
    #: Trusted until then (the earlier of ``exp`` and the cache time).
    fresh_until: float
    #: May stand in for a failed call until then (stale-if-error); == ``fresh_until`` if off.
    usable_until: float
    #: Estimated bytes in memory (what the byte bound counts).
    size: int


def estimated_size(body_bytes: int) -> int:
    """What an answer whose JSON body had ``body_bytes`` bytes is counted as."""
    return ENTRY_BYTES + BYTES_PER_BODY_BYTE * body_bytes


def lifetime(
    *,
    active: bool,
    started: float,
    now: float,
    expires_in: float | None,
    cache_seconds: float,
    inactive_seconds: float,
    stale_seconds: float,
) -> tuple[float, float]:
    """(fresh_until, usable_until) of an answer on the cache's clock.

    ``started``: when the call started (the cache time counts from then, so a slow answer is not
    trusted longer); ``now``: when it ended; ``expires_in``: seconds from ``now`` to the token's
    ``exp`` (None: the answer gave none). Active: fresh until the earlier of ``started +
    cache_seconds`` and the expiry; usable ``stale_seconds`` longer, never past the expiry.
    Inactive: fresh for ``inactive_seconds`` from ``started``, usable ``stale_seconds`` longer.
    """
    if active:
        ends = now + expires_in if expires_in is not None else math.inf
        fresh = min(started + cache_seconds, ends)
        usable = min(fresh + stale_seconds, ends)
    else:
        fresh = started + inactive_seconds
        usable = fresh + stale_seconds
    return fresh, max(fresh, usable)


class AnswerCache:
    """Answers by token digest: at most ``entries`` of them and ``max_bytes`` estimated bytes,
    least recently used out; an answer past its ``usable_until`` is never returned."""

    def __init__(self, *, entries: int, max_bytes: int) -> None:
        self.entries = entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._answers: OrderedDict[bytes, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes, now: float) -> Answer | None:
        with self._lock:
            answer = self._answers.get(key)
            if answer is None:
                return None
            if now >= answer.usable_until:
                self._drop(key)
                return None
            self._answers.move_to_end(key)
            return answer

    def put(self, key: bytes, answer: Answer, now: float) -> None:
        if answer.size > self.max_bytes or now >= answer.usable_until:
            return
        with self._lock:
            if key in self._answers:
                self._drop(key)
            self._answers[key] = answer
            self.bytes += answer.size
            while self._answers:  # answers past use at the old end go first, for free
                oldest_key, oldest = next(iter(self._answers.items()))
                if now < oldest.usable_until:
                    break
                self._drop(oldest_key)
            while len(self._answers) > self.entries or self.bytes > self.max_bytes:
                self._drop(next(iter(self._answers)))

    def _drop(self, key: bytes) -> None:
        answer = self._answers.pop(key)
        self.bytes -= answer.size

    def clear(self) -> None:
        """Forget every answer."""
        with self._lock:
            self._answers.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._answers)
