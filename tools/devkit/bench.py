"""Benchmarks, measured side by side in one run (``make bench``).

(a) hot path: our warm validation of a valid RS256 token, and the full handler (event in ->
    answer out), against a bare ``cryptography`` RS256 verify plus JSON decode of the same token;
(b) cold start: a fresh interpreter that imports the handler, builds the configuration, fetches
    keys from a loopback JWKS server and answers one TOKEN event, against ``python -c pass``;
(c) peak memory (max RSS) of that cold-start process.

Numbers are ratios measured in the same run, interleaved, medians of several rounds: absolute
figures depend on the machine, the ratios much less. ``python -m devkit bench`` (``make bench``)
runs it.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from devkit.events import Stage, token_event
from devkit.idp import LocalIdentityProvider
from devkit.paths import AUTHORIZER_SRC

METHOD_ARN = Stage(api_id="a1b2c3d4e5", name="prod", region="eu-west-1").arn("GET", "/orders")
ROUTES = [
    {"route": "GET /whoami"},
    {"route": "GET /orders", "scopes": ["app.read"]},
    {"route": "POST /orders", "scopes": ["app.write"]},
    {"route": "GET /orders/{id}", "scopes": ["app.read"]},
    {"route": "ANY /admin/{proxy+}", "scopes": ["app.admin"]},
]

# The child prints "ready" on stdout as soon as it has answered: Lambda never pays for the
# interpreter's shutdown, so the cold start is measured up to that line.
_CHILD = r"""
import json, os, resource, sys, time
t0 = time.perf_counter()
import jwt_authorizer.app as app
t1 = time.perf_counter()
answer = app.handler(json.loads(os.environ["BENCH_EVENT"]), None)
t2 = time.perf_counter()
assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow", answer
sys.stdout.write("ready\n")
sys.stdout.flush()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
timings = {"init_ms": (t1 - t0) * 1000, "first_call_ms": (t2 - t1) * 1000, "maxrss_kb": rss}
print(json.dumps(timings), file=sys.stderr)
"""
# Everything the cold start imports, and nothing else: its time is the import share.
_IMPORTS_ONLY = (
    "import sys, json, os, resource, time; import jwt_authorizer.handler, requests;"
    " import jose.backends.cryptography_backend; from aws_lambda_powertools import Logger, Metrics;"
    " sys.stdout.write('ready\\n'); sys.stdout.flush()"
)
_BARE = "import sys; sys.stdout.write('ready\\n'); sys.stdout.flush()"


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _bare_verifier(public_key: rsa.RSAPublicKey, token: str) -> Callable[[], None]:
    """The floor: split, decode header and payload JSON, verify RS256. No checks at all."""

    def run() -> None:
        header_b64, payload_b64, signature_b64 = token.split(".")
        json.loads(_b64decode(header_b64))
        json.loads(_b64decode(payload_b64))
        public_key.verify(
            _b64decode(signature_b64),
            f"{header_b64}.{payload_b64}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )

    return run


def _time_per_call(function: Callable[[], Any], loops: int) -> float:
    start = time.perf_counter()
    for _ in range(loops):
        function()
    return (time.perf_counter() - start) / loops


def _interleaved(
    candidates: dict[str, Callable[[], Any]], rounds: int, loops: int
) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, function in candidates.items():
            samples[name].append(_time_per_call(function, loops))
    return {name: statistics.median(values) for name, values in samples.items()}


def hot_path(idp: LocalIdentityProvider, rounds: int, loops: int) -> dict[str, float]:
    sys.path.insert(0, str(AUTHORIZER_SRC))
    from jwt_authorizer import Authorizer
    from jwt_authorizer.config import parse_config
    from jwt_authorizer.keys import KeyRegistry
    from jwt_authorizer.validator import TokenValidator

    document = _auth_config(idp)
    uncached = parse_config({**document, "verified_token_cache_size": 0})
    validator = TokenValidator(
        uncached.issuers,
        KeyRegistry(uncached.keys),
        max_token_bytes=uncached.max_token_bytes,
        verified_token_cache_size=0,
    )
    validator.start_prefetch().wait()
    cached_config = parse_config(document)
    cached = TokenValidator(
        cached_config.issuers,
        KeyRegistry(cached_config.keys),
        max_token_bytes=cached_config.max_token_bytes,
        verified_token_cache_size=cached_config.verified_token_cache_size,
    )
    cached.start_prefetch().wait()
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        authorizer = Authorizer.from_environ({"AUTH_CONFIG": json.dumps(document)})
    token = idp.mint(scopes=["app.read", "app.write"], client_id="writer-app")
    public_key = _public_key(idp)
    event = token_event(f"Bearer {token}", METHOD_ARN)

    def handler() -> None:
        with contextlib.redirect_stdout(sink):
            authorizer(event, None)
        sink.seek(0)
        sink.truncate()

    validator.validate(token)
    cached.validate(token)
    handler()
    return _interleaved(
        {
            "bare": _bare_verifier(public_key, token),
            "validate": lambda: validator.validate(token),
            "cached": lambda: cached.validate(token),
            "handler": handler,
        },
        rounds,
        loops,
    )


def _public_key(idp: LocalIdentityProvider) -> rsa.RSAPublicKey:
    jwk = idp.public_jwk()
    numbers = rsa.RSAPublicNumbers(
        int.from_bytes(_b64decode(jwk["e"]), "big"), int.from_bytes(_b64decode(jwk["n"]), "big")
    )
    return numbers.public_key()


def _auth_config(idp: LocalIdentityProvider) -> dict[str, Any]:
    return {
        "issuers": [
            {
                "issuer": idp.issuer,
                "audiences": [idp.audience_for("writer-app")],
                "profile": "entra-b2c",
                "jwks_uri": idp.jwks_uri,
            }
        ],
        "routes": ROUTES,
    }


def _run(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Milliseconds from spawn to the child's "ready" line, and the child's stderr."""
    start = time.perf_counter()
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip() == "ready":
                break
        elapsed = (time.perf_counter() - start) * 1000
        _, stderr = child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{stderr}")
    return elapsed, stderr


def cold_start(idp: LocalIdentityProvider, runs: int) -> dict[str, Any]:
    token = idp.mint(scopes=["app.read"], client_id="reader-app")
    event = token_event(f"Bearer {token}", METHOD_ARN)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(AUTHORIZER_SRC),
        "AUTH_CONFIG": json.dumps(_auth_config(idp)),
        "BENCH_EVENT": json.dumps(event),
        "POWERTOOLS_SERVICE_NAME": "bench",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
    }
    python = sys.executable
    ours: list[float] = []
    bare: list[float] = []
    children: list[dict[str, float]] = []
    _run([python, "-c", _CHILD], env)  # warm the page cache and .pyc files once
    for _ in range(runs):
        bare.append(_run([python, "-c", _BARE], env)[0])
        elapsed, stderr = _run([python, "-c", _CHILD], env)
        ours.append(elapsed)
        children.append(json.loads(stderr.strip().splitlines()[-1]))
    imports = [_run([python, "-c", _IMPORTS_ONLY], env)[0] for _ in range(runs)]
    median = statistics.median(ours)
    return {
        "ours_ms": median,
        "bare_ms": statistics.median(bare),
        "init_ms": statistics.median(c["init_ms"] for c in children),
        "first_call_ms": statistics.median(c["first_call_ms"] for c in children),
        "import_ms": statistics.median(imports) - statistics.median(bare),
        "maxrss_mb": max(c["maxrss_kb"] for c in children) / 1024,
    }


def measure(
    rounds: int = 7, loops: int = 2000, runs: int = 11
) -> tuple[dict[str, float], dict[str, Any]]:
    """Both measurements against one local IdP: (hot path, cold start)."""
    with LocalIdentityProvider(profile="entra-b2c") as idp:
        return hot_path(idp, rounds, loops), cold_start(idp, runs)


def report(hot: Mapping[str, float], cold: Mapping[str, Any]) -> str:
    """The side-by-side table ``make bench`` prints."""
    lines: list[str] = []
    lines.append(
        f"Python {sys.version.split()[0]} on {sys.platform}; medians of interleaved rounds\n"
    )
    lines.append("(a) hot path, valid RS256 token, keys cached")
    lines.append(
        f"    bare cryptography verify + JSON decode : {hot['bare'] * 1e6:8.1f} us   1.00x"
    )
    lines.append(
        f"    our full validation (parse+sig+claims) : {hot['validate'] * 1e6:8.1f} us   "
        f"{hot['validate'] / hot['bare']:.2f}x   (target <= 1.3x)"
    )
    lines.append(
        f"    same token again (verified-token cache): {hot['cached'] * 1e6:8.1f} us   "
        f"{hot['cached'] / hot['bare']:.2f}x"
    )
    lines.append(
        f"    handler, event in -> policy out (cache): {hot['handler'] * 1e6:8.1f} us   "
        f"{hot['handler'] / hot['bare']:.2f}x"
    )
    lines.append("\n(b) cold start: new process, import, config, JWKS from loopback, one answer")
    lines.append(f"    bare interpreter start                 : {cold['bare_ms']:8.1f} ms")
    lines.append(
        f"    ours                                   : {cold['ours_ms']:8.1f} ms   "
        f"{cold['ours_ms'] / cold['bare_ms']:.1f}x   (target < 250 ms)"
    )
    lines.append(f"      init (import + config + prefetch)    : {cold['init_ms']:8.1f} ms")
    lines.append(f"      first answer                         : {cold['first_call_ms']:8.1f} ms")
    lines.append(
        f"      imports alone (minus bare start)     : {cold['import_ms']:8.1f} ms   "
        f"{cold['import_ms'] / cold['ours_ms']:.0%} of the total"
    )
    lines.append(
        f"\n(c) peak memory of the cold-start process : {cold['maxrss_mb']:8.1f} MB"
        "   (target <= 60 MB)"
    )
    return "\n".join(lines)
