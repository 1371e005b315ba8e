"""``costmodel``: authorizer calls, IdP key fetches and Lambda cost for a traffic shape.

The model and its formulas are :mod:`devkit.costmodel` (docs/scaling.md derives them).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Final

from devkit.commands.base import Subparsers, UsageError
from devkit.costmodel import (
    LAMBDA_GB_SECOND,
    LAMBDA_REQUEST_PER_MILLION,
    SNAPSTART_CACHE_GB_SECOND,
    SNAPSTART_RESTORE_GB,
    Inputs,
    model,
    render,
)

NAME: Final = "costmodel"


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="authorizer calls, IdP key fetches and Lambda cost for a traffic shape",
        description="Authorizer invocations, IdP key fetches and Lambda cost for a traffic "
        "shape (docs/scaling.md explains the model).",
    )
    add = parser.add_argument
    add("--rps", type=float, required=True, help="API requests per second (R)")
    add("--tokens", type=int, required=True, help="distinct tokens in use at a time (N)")
    add("--ttl", type=int, required=True, help="authorizer result cache TTL in seconds (T; 0-3600)")
    add("--token-lifetime", type=int, default=3600, help="token lifetime in seconds (L)")
    add(
        "--routes-per-token",
        type=int,
        default=1,
        help="cache keys per token (K): routes a token calls when $context.routeKey is an "
        "identity source (HTTP API simple responses); 1 for REST TOKEN authorizers",
    )
    add("--cold-start-rate", type=float, default=0.001, help="fraction of calls that are cold")
    add(
        "--warm-ms",
        type=float,
        default=3.0,
        help="warm invocation duration in ms (read Billed Duration in the REPORT log lines)",
    )
    add(
        "--init-ms",
        type=float,
        default=500.0,
        help="init duration in ms (Init Duration in REPORT lines of cold starts)",
    )
    add("--memory", type=int, default=256, help="function memory in MB")
    add(
        "--key-sets",
        type=int,
        default=1,
        help="distinct key sets (issuers, B2C policies, Entra tenants)",
    )
    add("--refresh-seconds", type=int, default=3600, help="keys.refresh_seconds")
    add("--kid-miss-cooldown-seconds", type=int, default=300, help="keys.kid_miss_cooldown_seconds")
    add(
        "--no-discovery",
        dest="discovery",
        action="store_false",
        help="issuers configure jwks_uri (one request per fetch instead of two)",
    )
    add(
        "--environments",
        type=int,
        default=None,
        help="execution environments kept warm (default: ceil(concurrency), at least 1)",
    )
    add("--free-init", action="store_true", help="do not bill the init phase (before 2025-08)")
    add(
        "--snapstart",
        action="store_true",
        help="SnapStart: cold starts restore a snapshot (restore and cache charges, no init)",
    )
    add(
        "--restore-ms",
        type=float,
        default=100.0,
        help="SnapStart: Billed Restore Duration in ms (REPORT lines of restored environments)",
    )
    add(
        "--snapshot-versions",
        type=int,
        default=1,
        help="SnapStart: published versions whose snapshot is cached (each is charged)",
    )
    add(
        "--price-snapstart-cache",
        type=float,
        default=SNAPSTART_CACHE_GB_SECOND,
        help="SnapStart USD per GB-second of cached snapshot (default UNCONFIRMED)",
    )
    add(
        "--price-snapstart-restore",
        type=float,
        default=SNAPSTART_RESTORE_GB,
        help="SnapStart USD per GB restored (default UNCONFIRMED)",
    )
    add(
        "--api",
        dest="api_type",
        choices=("rest", "http"),
        default="rest",
        help="API type, for the API Gateway price shown for scale",
    )
    add(
        "--price-request",
        type=float,
        default=LAMBDA_REQUEST_PER_MILLION,
        help="Lambda USD per 1M requests",
    )
    add(
        "--price-gbs-arm64",
        type=float,
        default=LAMBDA_GB_SECOND["arm64"],
        help="Lambda USD per GB-second, arm64",
    )
    add(
        "--price-gbs-x86",
        type=float,
        default=LAMBDA_GB_SECOND["x86_64"],
        help="Lambda USD per GB-second, x86_64",
    )
    return parser


def _inputs(args: argparse.Namespace) -> Inputs:
    inputs = Inputs(
        rps=args.rps,
        tokens=args.tokens,
        ttl=args.ttl,
        token_lifetime=args.token_lifetime,
        routes_per_token=args.routes_per_token,
        cold_start_rate=args.cold_start_rate,
        warm_ms=args.warm_ms,
        init_ms=args.init_ms,
        memory_mb=args.memory,
        key_sets=args.key_sets,
        refresh_seconds=args.refresh_seconds,
        kid_miss_cooldown_seconds=args.kid_miss_cooldown_seconds,
        discovery=args.discovery,
        environments=args.environments,
        free_init=args.free_init,
        api_type=args.api_type,
        snapstart=args.snapstart,
        restore_ms=args.restore_ms,
        snapshot_versions=args.snapshot_versions,
    )
    return replace(
        inputs,
        price_request_per_million=args.price_request,
        price_gb_second_arm64=args.price_gbs_arm64,
        price_gb_second_x86_64=args.price_gbs_x86,
        price_snapstart_cache=args.price_snapstart_cache,
        price_snapstart_restore=args.price_snapstart_restore,
    )


def run(args: argparse.Namespace) -> int:
    try:
        inputs = _inputs(args)
    except ValueError as err:
        raise UsageError(str(err)) from err
    print(render(inputs, model(inputs)))
    return 0
