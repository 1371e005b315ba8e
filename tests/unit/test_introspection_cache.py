"""The introspection answer cache: its bounds, its order, and how long an answer is trusted."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from jwt_authorizer.introspection_cache import Answer, AnswerCache, estimated_size, lifetime


def answer(size: int, until: float = 100.0) -> Answer:
    return Answer(active=True, claims={}, fresh_until=until, usable_until=until, size=size)


def test_answer_cache_bounds_entries_and_bytes_least_recently_used_out() -> None:
    cache = AnswerCache(entries=3, max_bytes=1000)
    for index in range(3):
        cache.put(bytes([index]), answer(100), now=0)
    assert cache.get(bytes([0]), now=0) is not None  # 0 is now the most recently used
    cache.put(bytes([3]), answer(100), now=0)
    assert [cache.get(bytes([i]), now=0) is not None for i in range(4)] == [
        True, False, True, True,
    ]  # fmt: skip
    cache.put(bytes([4]), answer(800), now=0)  # over the byte budget: the oldest go
    assert len(cache) == 3
    assert cache.bytes == 1000
    assert cache.get(bytes([0]), now=0) is None
    cache.put(bytes([5]), answer(1001), now=0)  # larger than the whole budget: not kept
    assert cache.get(bytes([5]), now=0) is None
    assert cache.get(bytes([4]), now=100) is None  # past usable_until
    cache.clear()
    cache.put(bytes([6]), answer(10, until=5), now=0)
    cache.put(bytes([7]), answer(10), now=6)  # the dead one at the old end goes for free
    assert (len(cache), cache.bytes) == (1, 10)


def test_an_answer_already_past_use_is_not_kept() -> None:
    cache = AnswerCache(entries=3, max_bytes=1000)
    cache.put(b"k", answer(10, until=5), now=5)
    assert (len(cache), cache.bytes) == (0, 0)


def test_the_size_estimate() -> None:
    assert estimated_size(0) == 600
    assert estimated_size(250) == 2600


def times(**overrides: float | bool | None) -> tuple[float, float]:
    arguments: dict[str, float | bool | None] = {
        "active": True,
        "started": 1000.0,
        "now": 1000.5,
        "expires_in": 3600.0,
        "cache_seconds": 60.0,
        "inactive_seconds": 30.0,
        "stale_seconds": 0.0,
    }
    arguments.update(overrides)
    return lifetime(**arguments)  # type: ignore[arg-type]


def test_an_active_answer_lives_the_cache_time_from_when_its_call_started() -> None:
    assert times() == (1060.0, 1060.0)


def test_an_active_answer_never_outlives_its_token() -> None:
    assert times(expires_in=10.0) == (1010.5, 1010.5)
    assert times(expires_in=10.0, stale_seconds=120.0) == (1010.5, 1010.5)


def test_stale_use_extends_only_the_usable_time() -> None:
    assert times(stale_seconds=120.0) == (1060.0, 1180.0)
    assert times(expires_in=100.0, stale_seconds=120.0) == (1060.0, 1100.5)


def test_an_answer_without_exp_lives_the_cache_time() -> None:
    assert times(expires_in=None) == (1060.0, 1060.0)


def test_an_inactive_answer_lives_its_own_short_time() -> None:
    assert times(active=False) == (1030.0, 1030.0)
    assert times(active=False, stale_seconds=5.0) == (1030.0, 1035.0)


def test_cache_time_zero_means_ask_every_time() -> None:
    fresh, usable = times(cache_seconds=0.0)
    assert (fresh, usable) == (1000.0, 1000.0)
    cache = AnswerCache(entries=3, max_bytes=10_000)
    cache.put(b"k", Answer(True, {}, fresh, usable, 600), now=1000.5)
    assert cache.get(b"k", now=1000.5) is None


@given(
    active=st.booleans(),
    started=st.floats(0, 1e6),
    took=st.floats(0, 10),
    expires_in=st.none() | st.floats(-1e4, 1e6),
    cache_seconds=st.integers(0, 900),
    inactive_seconds=st.integers(0, 300),
    stale_seconds=st.integers(0, 300),
)
def test_the_revocation_budget_holds_for_every_input(
    active: bool,
    started: float,
    took: float,
    expires_in: float | None,
    cache_seconds: int,
    inactive_seconds: int,
    stale_seconds: int,
) -> None:
    """An answer is never trusted past its cache time from the call's start, nor used past that
    plus the stale allowance, nor (active) past the token's expiry."""
    now = started + took
    fresh, usable = lifetime(
        active=active,
        started=started,
        now=now,
        expires_in=expires_in,
        cache_seconds=cache_seconds,
        inactive_seconds=inactive_seconds,
        stale_seconds=stale_seconds,
    )
    own = cache_seconds if active else inactive_seconds
    assert fresh <= started + own
    assert fresh <= usable <= started + own + stale_seconds
    if active and expires_in is not None:
        assert fresh <= now + expires_in
        assert usable == fresh or usable <= now + expires_in
    assert not math.isnan(usable)
