"""How many times API Gateway calls the authorizer, how often it fetches keys, and what it costs.

A back-of-the-envelope model, documented in docs/scaling.md (which derives every formula):

    per-key arrival rate   lam = R / (N * K)
    authorizer calls/s     I   = min(R, R / (1 + lam*T) + (N*K / L) * lam*T / (1 + lam*T))
    cache hit ratio            = 1 - I / R
    concurrency (Little)   C   = I * mean billed duration (s); environments E = max(1, ceil(C))
    cold starts/h              = c * I * 3600
    key-set fetches/h          = S * (cold starts/h + E * 3600 / F)       (metric KeySetFetches)
    HTTP requests to IdP/h     = key-set fetches/h * (2 with discovery, 1 with jwks_uri)
    Lambda $ per 1M requests   = calls per 1M * (P_req / 1e6 + GB * ceil(d_warm) / 1000 * P_gbs)
                                 + cold starts per 1M * GB * ceil(d_init) / 1000 * P_gbs
    with SnapStart (--snapstart), a cold start is a restore instead of an init:
                                 + restores per 1M * GB * (P_restore + ceil(d_restore)/1000 * P_gbs)
                                 + versions * GB * P_cache * seconds per month / requests per month

R requests/s, N distinct tokens in use, K cache keys per token (routes per token when
``$context.routeKey`` is an identity source), T cache TTL (s), L token lifetime (s), c cold-start
fraction of calls, S key sets, F ``keys.refresh_seconds``.

Run: ``PYTHONPATH=tools python -m devkit costmodel --rps 200 --tokens 50 --ttl 300``.
Prices are constants below (overridable with flags); the script never touches the network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

# Public on-demand prices, us-east-1, first usage tier, as listed on
# https://aws.amazon.com/lambda/pricing/ and https://aws.amazon.com/api-gateway/pricing/.
# Other regions and higher tiers differ: pass --price-* flags.
PRICE_DATE: Final = "2025-06"
LAMBDA_REQUEST_PER_MILLION: Final = 0.20  # USD per 1M invocations, both architectures
LAMBDA_GB_SECOND: Final = {"x86_64": 0.0000166667, "arm64": 0.0000133334}  # USD per GB-second
APIGW_REQUEST_PER_MILLION: Final = {"rest": 3.50, "http": 1.00}  # USD per 1M API calls, for scale
# Since 2025-08-01 AWS bills the init phase of on-demand functions on managed runtimes too;
# --free-init models the earlier behaviour.
# SnapStart (Python): a charge per GB-second for each cached snapshot (every published version
# with SnapStart, while it is active, at least 3 hours) and one per GB restored. UNCONFIRMED:
# these are the us-east-1 figures of AWS's pricing example as quoted by third parties; they could
# not be checked against the pricing page from here. Pass --price-snapstart-* with yours.
SNAPSTART_CACHE_GB_SECOND: Final = 0.0000015046  # USD per GB-second cached (UNCONFIRMED)
SNAPSTART_RESTORE_GB: Final = 0.0001397998  # USD per GB restored (UNCONFIRMED)

SECONDS_PER_MONTH: Final = 30 * 24 * 3600


@dataclass(frozen=True)
class Inputs:
    rps: float
    tokens: int
    ttl: int
    token_lifetime: int = 3600
    routes_per_token: int = 1
    cold_start_rate: float = 0.001
    warm_ms: float = 3.0
    init_ms: float = 500.0
    memory_mb: int = 256
    key_sets: int = 1
    refresh_seconds: int = 3600
    discovery: bool = True
    environments: int | None = None
    kid_miss_cooldown_seconds: int = 300
    free_init: bool = False
    price_request_per_million: float = LAMBDA_REQUEST_PER_MILLION
    price_gb_second_x86_64: float = LAMBDA_GB_SECOND["x86_64"]
    price_gb_second_arm64: float = LAMBDA_GB_SECOND["arm64"]
    api_type: str = "rest"
    snapstart: bool = False
    restore_ms: float = 100.0  # Billed Restore Duration: runtime load + after-restore hooks
    snapshot_versions: int = 1  # published versions whose snapshot stays cached
    price_snapstart_cache: float = SNAPSTART_CACHE_GB_SECOND
    price_snapstart_restore: float = SNAPSTART_RESTORE_GB

    def __post_init__(self) -> None:
        if self.rps <= 0 or self.tokens < 1 or self.routes_per_token < 1:
            raise ValueError("rps must be > 0, tokens and routes per token >= 1")
        if self.ttl < 0 or self.token_lifetime <= 0 or self.refresh_seconds <= 0:
            raise ValueError("ttl must be >= 0, token lifetime and refresh seconds > 0")
        if not 0 <= self.cold_start_rate <= 1:
            raise ValueError("cold-start rate is a fraction between 0 and 1")
        if self.memory_mb < 128 or self.warm_ms <= 0 or self.init_ms < 0:
            raise ValueError("memory >= 128 MB, warm duration > 0, init duration >= 0")
        if self.restore_ms < 0 or self.snapshot_versions < 1:
            raise ValueError("restore duration >= 0, at least one snapshot version")


@dataclass(frozen=True)
class Result:
    invocations_per_second: float
    cache_hit_ratio: float
    invocations_per_million: float
    cold_starts_per_hour: float
    concurrency: float
    environments: int
    key_set_fetches_per_hour: float
    idp_requests_per_hour: float
    kid_flood_extra_fetches_per_hour: float
    cost_per_million: dict[str, float]
    cost_per_month: dict[str, float]
    #: SnapStart only: restore charges and snapshot cache per 1M requests (both architectures).
    snapstart_restore_per_million: float = 0.0
    snapstart_cache_per_month: float = 0.0


def invocations_per_second(inputs: Inputs) -> float:
    """Calls API Gateway makes to the authorizer (a renewal model per cache key, see docs)."""
    r = inputs.rps
    keys = inputs.tokens * inputs.routes_per_token
    lam_t = r / keys * inputs.ttl
    calls = r / (1 + lam_t) + (keys / inputs.token_lifetime) * lam_t / (1 + lam_t)
    return min(r, calls)


def model(inputs: Inputs) -> Result:
    calls = invocations_per_second(inputs)
    cold = inputs.cold_start_rate
    warm_billed = math.ceil(inputs.warm_ms)
    init_billed = 0 if inputs.free_init else math.ceil(inputs.init_ms)
    mean_seconds = (inputs.warm_ms + cold * inputs.init_ms) / 1000
    concurrency = calls * mean_seconds
    environments = (
        inputs.environments if inputs.environments is not None else max(1, math.ceil(concurrency))
    )
    cold_per_hour = cold * calls * 3600
    fetches = inputs.key_sets * (cold_per_hour + environments * 3600 / inputs.refresh_seconds)
    per_million = 1_000_000 * calls / inputs.rps
    gigabytes = inputs.memory_mb / 1024
    prices = {"arm64": inputs.price_gb_second_arm64, "x86_64": inputs.price_gb_second_x86_64}
    cost_per_million = {}
    monthly_requests = inputs.rps * SECONDS_PER_MONTH
    restore_charge = cache_month = 0.0
    if inputs.snapstart:
        # Each cold start restores the snapshot: a charge per GB restored, and the billed restore
        # duration. The init runs once per published version (at publish), not per cold start.
        restore_charge = per_million * cold * gigabytes * inputs.price_snapstart_restore
        cache_month = (
            inputs.snapshot_versions * gigabytes * inputs.price_snapstart_cache * SECONDS_PER_MONTH
        )
    for arch, gb_second in prices.items():
        warm_cost = per_million * (
            inputs.price_request_per_million / 1_000_000
            + gigabytes * warm_billed / 1000 * gb_second
        )
        if inputs.snapstart:
            restore_billed = math.ceil(inputs.restore_ms)
            start_cost = restore_charge + (
                per_million * cold * gigabytes * restore_billed / 1000 * gb_second
            )
            start_cost += cache_month / monthly_requests * 1_000_000
        else:
            start_cost = per_million * cold * gigabytes * init_billed / 1000 * gb_second
        cost_per_million[arch] = warm_cost + start_cost
    return Result(
        invocations_per_second=calls,
        cache_hit_ratio=1 - calls / inputs.rps,
        invocations_per_million=per_million,
        cold_starts_per_hour=cold_per_hour,
        concurrency=concurrency,
        environments=environments,
        key_set_fetches_per_hour=fetches,
        idp_requests_per_hour=fetches * (2 if inputs.discovery else 1),
        kid_flood_extra_fetches_per_hour=inputs.key_sets
        * environments
        * 3600
        / inputs.kid_miss_cooldown_seconds,
        cost_per_million=cost_per_million,
        cost_per_month={
            arch: cost * monthly_requests / 1_000_000 for arch, cost in cost_per_million.items()
        },
        snapstart_restore_per_million=restore_charge,
        snapstart_cache_per_month=cache_month,
    )


def _money(value: float) -> str:
    if value < 0.01:
        return f"${value:.6f}"
    return f"${value:,.4f}" if value < 100 else f"${value:,.2f}"


def render(inputs: Inputs, result: Result) -> str:
    apigw = APIGW_REQUEST_PER_MILLION[inputs.api_type]
    rows = [
        ("API requests per second (R)", f"{inputs.rps:g}"),
        ("distinct tokens (N) x cache keys per token (K)",
         f"{inputs.tokens} x {inputs.routes_per_token}"),
        ("authorizer cache TTL (T) / token lifetime (L)",
         f"{inputs.ttl} s / {inputs.token_lifetime} s"),
        ("authorizer invocations per second (I)", f"{result.invocations_per_second:.4f}"),
        ("API Gateway authorizer cache hit ratio", f"{result.cache_hit_ratio:.2%}"),
        ("authorizer invocations per 1M API requests", f"{result.invocations_per_million:,.1f}"),
        ("concurrency (I x mean duration) / environments",
         f"{result.concurrency:.4f} / {result.environments}"),
        ("cold starts per hour", f"{result.cold_starts_per_hour:.2f}"),
        ("key-set fetches per hour (KeySetFetches)", f"{result.key_set_fetches_per_hour:.2f}"),
        ("HTTP requests to the IdP per hour", f"{result.idp_requests_per_hour:.2f}"),
        ("  worst case extra under a random-kid flood",
         f"{result.kid_flood_extra_fetches_per_hour:.2f}"),
        (f"Lambda cost per 1M API requests, arm64 ({inputs.memory_mb} MB)",
         _money(result.cost_per_million["arm64"])),
        (f"Lambda cost per 1M API requests, x86_64 ({inputs.memory_mb} MB)",
         _money(result.cost_per_million["x86_64"])),
        ("Lambda cost per 30-day month at R, arm64 / x86_64",
         f"{_money(result.cost_per_month['arm64'])} / {_money(result.cost_per_month['x86_64'])}"),
        (f"for scale: API Gateway {inputs.api_type.upper()} price per 1M requests", _money(apigw)),
    ]  # fmt: skip
    if inputs.snapstart:
        rows[-1:-1] = [
            ("  of which SnapStart restores (per 1M API requests)",
             _money(result.snapstart_restore_per_million)),
            (f"  of which SnapStart snapshot cache per month ({inputs.snapshot_versions} version)",
             _money(result.snapstart_cache_per_month)),
        ]  # fmt: skip
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    init = "not billed (--free-init)" if inputs.free_init else f"{math.ceil(inputs.init_ms)} ms"
    if inputs.snapstart:
        init = f"at publish only; restore billed {math.ceil(inputs.restore_ms)} ms per cold start"
    lines.append("")
    lines.append(
        f"assumptions: warm call billed {math.ceil(inputs.warm_ms)} ms, init {init}, "
        f"cold-start rate {inputs.cold_start_rate:g}, {inputs.key_sets} key set(s) refreshed "
        f"every {inputs.refresh_seconds} s, {'discovery + JWKS' if inputs.discovery else 'JWKS'}"
        " per fetch"
    )
    lines.append(
        f"prices: us-east-1 list prices as of {PRICE_DATE} (requests "
        f"${inputs.price_request_per_million}/1M, GB-s arm64 ${inputs.price_gb_second_arm64}, "
        f"x86_64 ${inputs.price_gb_second_x86_64}); free tier not subtracted"
    )
    if inputs.snapstart:
        lines.append(
            f"SnapStart prices UNCONFIRMED: cache ${inputs.price_snapstart_cache}/GB-s, restore "
            f"${inputs.price_snapstart_restore}/GB (AWS's us-east-1 example as quoted; check yours)"
        )
    return "\n".join(lines)
