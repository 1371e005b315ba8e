"""The scaling model of docs/scaling.md, checked against numbers worked out by hand."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import pytest

from devkit.cli import main
from devkit.costmodel import Inputs, invocations_per_second, model


def test_worked_example_from_the_docs() -> None:
    # R = 200/s, N = 50 tokens, K = 1, T = 300 s, L = 3600 s
    # lam = 200 / 50 = 4/s; lam*T = 1200
    # I = 200/1201 + (50/3600) * 1200/1201 = (200 + 16.666...)/1201 = 0.1804052...
    inputs = Inputs(rps=200, tokens=50, ttl=300, token_lifetime=3600)
    assert invocations_per_second(inputs) == pytest.approx(216.6666667 / 1201, rel=1e-9)
    result = model(inputs)
    assert result.cache_hit_ratio == pytest.approx(1 - 0.1804052 / 200, rel=1e-6)
    # 1M requests take 5000 s at 200/s: 0.1804052 * 5000 = 902.026 authorizer calls
    assert result.invocations_per_million == pytest.approx(902.026, abs=1e-3)


def test_no_cache_means_one_call_per_request() -> None:
    assert invocations_per_second(Inputs(rps=123, tokens=5, ttl=0)) == 123


def test_calls_never_exceed_requests() -> None:
    # one request per token: every request is a first sight, however long the TTL
    assert invocations_per_second(Inputs(rps=10, tokens=10_000, ttl=3600, token_lifetime=60)) <= 10


def test_route_keys_multiply_cache_entries() -> None:
    one = invocations_per_second(Inputs(rps=100, tokens=10, ttl=300))
    four = invocations_per_second(Inputs(rps=100, tokens=10, ttl=300, routes_per_token=4))
    # per-key rate 10/s vs 2.5/s: 100/3001 + (10/3600)(3000/3001) vs 100/751 + (40/3600)(750/751)
    assert one == pytest.approx(100 / 3001 + (10 / 3600) * 3000 / 3001)
    assert four == pytest.approx(100 / 751 + (40 / 3600) * 750 / 751)


def test_costs_key_fetches_and_environments_by_hand() -> None:
    inputs = Inputs(
        rps=1,
        tokens=1,
        ttl=0,
        cold_start_rate=0.0,
        warm_ms=0.4,  # billed as 1 ms
        init_ms=0,
        memory_mb=1024,
        key_sets=2,
        refresh_seconds=1800,
        environments=3,
    )
    result = model(inputs)
    # 1M requests -> 1M calls; each: $0.20/1M + 1 GB * 0.001 s * price
    assert result.cost_per_million["arm64"] == pytest.approx(0.2 + 0.001 * 0.0000133334 * 1e6)
    assert result.cost_per_million["x86_64"] == pytest.approx(0.2 + 0.001 * 0.0000166667 * 1e6)
    # 2 key sets * 3 environments * 3600/1800 refreshes, no cold starts; discovery doubles it
    assert result.key_set_fetches_per_hour == pytest.approx(12)
    assert result.idp_requests_per_hour == pytest.approx(24)
    # random-kid flood: 2 sets * 3 environments * 3600/300
    assert result.kid_flood_extra_fetches_per_hour == pytest.approx(72)


def test_cold_starts_bill_the_init_phase() -> None:
    cold = model(
        Inputs(rps=10, tokens=1, ttl=0, warm_ms=1, memory_mb=512, init_ms=300, cold_start_rate=0.01)
    )
    free = model(
        Inputs(
            rps=10,
            tokens=1,
            ttl=0,
            warm_ms=1,
            memory_mb=512,
            init_ms=300,
            cold_start_rate=0.01,
            free_init=True,
        )
    )
    # per 1M calls: 10,000 cold starts * 0.5 GB * 0.3 s * price
    extra = 10_000 * 0.5 * 0.3 * 0.0000133334
    assert cold.cost_per_million["arm64"] - free.cost_per_million["arm64"] == pytest.approx(extra)
    assert cold.cold_starts_per_hour == pytest.approx(0.01 * 10 * 3600)
    # Little's law: 10/s * (1 ms + 0.01 * 300 ms) = 0.04 -> one environment
    assert cold.concurrency == pytest.approx(0.04)
    assert cold.environments == 1


def test_cli_prints_the_table_and_rejects_nonsense() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["costmodel", "--rps", "200", "--tokens", "50", "--ttl", "300"]) == 0
    assert "authorizer invocations per 1M API requests         902.0" in out.getvalue()
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["costmodel", "--rps", "200", "--tokens", "50", "--ttl", "-1"]) == 2


def test_snapstart_bills_restores_and_the_snapshot_cache_instead_of_init() -> None:
    common: dict[str, Any] = {"rps": 10, "tokens": 1, "ttl": 0, "warm_ms": 1, "memory_mb": 512}
    plain = model(Inputs(**common, init_ms=300, cold_start_rate=0.01))
    snap = model(
        Inputs(
            **common,
            init_ms=300,
            cold_start_rate=0.01,
            snapstart=True,
            restore_ms=80,
            snapshot_versions=2,
            price_snapstart_cache=0.000001,
            price_snapstart_restore=0.0001,
        )
    )
    # per 1M calls: 10,000 restores * 0.5 GB * ($0.0001 per GB + 0.08 s * GB-s price)
    restores = 10_000 * 0.5 * (0.0001 + 0.08 * 0.0000133334)
    # 2 cached versions * 0.5 GB * $0.000001 per GB-s for 30 days, spread over the month's
    # 10/s * 30 days = 25.92M requests
    cache_month = 2 * 0.5 * 0.000001 * 30 * 86400
    warm = plain.cost_per_million["arm64"] - 10_000 * 0.5 * 0.3 * 0.0000133334
    assert snap.snapstart_cache_per_month == pytest.approx(cache_month)
    assert snap.snapstart_restore_per_million == pytest.approx(10_000 * 0.5 * 0.0001)
    assert snap.cost_per_million["arm64"] == pytest.approx(warm + restores + cache_month / 25.92)
    with pytest.raises(ValueError, match="snapshot"):
        Inputs(rps=1, tokens=1, ttl=0, snapstart=True, snapshot_versions=0)
