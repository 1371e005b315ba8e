"""Cold starts: a child process per implementation and scenario, timed from spawn to its first
answer, and where our cold start goes."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from devkit.bench.build import Build
from devkit.idp import LocalIdentityProvider

METHOD_ARN: Final = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/GET/orders"
ROUTES: Final = [
    {"route": "GET /whoami"},
    {"route": "GET /orders", "scopes": ["app.read"]},
    {"route": "POST /orders", "scopes": ["app.write"]},
    {"route": "GET /orders/{id}", "scopes": ["app.read"]},
    {"route": "ANY /admin/{proxy+}", "scopes": ["app.admin"]},
]
#: Each discovery and key-set answer of the "distant" identity provider waits this long.
DISTANT_DELAY_SECONDS: Final = 0.080

# The child: everything between its start and the "ready" line is the cold start (Lambda never
# waits for the interpreter's shutdown). It imports the handler module, answers one event with
# a Lambda-like context, and reports its own timings and peak RSS on stderr.
_CHILD = r"""
import sys, time
t0 = time.perf_counter()
import os
sys.path[:0] = os.environ["BENCH_PATH"].split(os.pathsep)
module = __import__(os.environ["BENCH_MODULE"], fromlist=["handler"])
t1 = time.perf_counter()
import json
event = json.loads(os.environ["BENCH_EVENT"])

class Context:
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:" + function_name
    aws_request_id = "8f2c1a4e-0b6d-4c57-9e21-3d7a5f90c1b8"
    log_group_name = "/aws/lambda/" + function_name
    log_stream_name = "2026/01/01/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self):
        return int(5000 - (time.perf_counter() - t0) * 1000)

t2 = time.perf_counter()
answer = module.handler(event, Context())
t3 = time.perf_counter()
sys.stdout.write("ready\n")
sys.stdout.flush()
effect = answer["policyDocument"]["Statement"][0]["Effect"]
# VmHWM: the peak RSS of this process image. (ru_maxrss would also count the parent's pages:
# the child starts as a copy of the parent, and Linux carries that high-water mark over exec.)
with open("/proc/self/status") as status:
    rss = int(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
report = {"init_ms": (t1 - t0) * 1000, "first_ms": (t3 - t2) * 1000, "maxrss_kb": rss,
          "effect": effect, "t0": t0, "t1": t1, "t2": t2, "t3": t3}
print("BENCH " + json.dumps(report), file=sys.stderr)
"""
_BARE = "import sys; sys.stdout.write('ready\\n'); sys.stdout.flush()"


MODULES: Final = {
    "ours": "jwt_authorizer.app",
    "typical": "typical_authorizer",
    "minimal": "minimal_verifier",
}


@dataclass
class ColdRun:
    """One child process: wall time from spawn to its answer, and what it reported.

    ``phases``: where the time went, in ms, on the monotonic clock the parent, the child and
    the identity provider's threads share (``time.perf_counter`` is CLOCK_MONOTONIC on Linux).
    """

    wall_ms: float
    init_ms: float = 0.0
    first_ms: float = 0.0
    maxrss_mb: float = 0.0
    stdout: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)


class _IdpLog:
    """When requests reached the identity provider, and when it built its answers (right before
    writing them): its public methods, wrapped on this instance for the time of a scenario."""

    _WRAPPED = ("begin_request", "discovery_document", "jwks")

    def __init__(self, idp: LocalIdentityProvider) -> None:
        self.arrivals: list[float] = []
        self.answers: list[float] = []
        self._idp = idp

        def arrival(original: Callable[..., Any]) -> Callable[..., Any]:
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                self.arrivals.append(time.perf_counter())
                return original(*args, **kwargs)

            return wrapped

        def answer(original: Callable[..., Any]) -> Callable[..., Any]:
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                result = original(*args, **kwargs)
                self.answers.append(time.perf_counter())
                return result

            return wrapped

        setattr(idp, "begin_request", arrival(idp.begin_request))  # noqa: B010
        setattr(idp, "discovery_document", answer(idp.discovery_document))  # noqa: B010
        setattr(idp, "jwks", answer(idp.jwks))  # noqa: B010

    def close(self) -> None:
        for name in self._WRAPPED:
            delattr(self._idp, name)  # the class's own methods again

    def window(self, start: float, end: float) -> tuple[float, float] | None:
        """First arrival and last answer between ``start`` and ``end`` (None: no request)."""
        arrivals = [moment for moment in self.arrivals if start <= moment <= end]
        answers = [moment for moment in self.answers if start <= moment <= end]
        if not arrivals or not answers:
            return None
        return arrivals[0], answers[-1]


def _environment(idp: LocalIdentityProvider, implementation: str) -> dict[str, str]:
    audience = idp.audience_for("reader-app")
    base = {
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_LAMBDA_FUNCTION_NAME": f"bench-{implementation}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "POWERTOOLS_SERVICE_NAME": "bench",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
    }
    if implementation == "ours":
        document = {
            "issuers": [
                {
                    "issuer": idp.issuer,
                    "audiences": [audience],
                    "profile": "entra-b2c",
                    "discovery_url": idp.discovery_url,
                }
            ],
            "routes": ROUTES,
        }
        return base | {"AUTH_CONFIG": json.dumps(document)}
    return base | {"ISSUER": idp.issuer, "AUDIENCE": audience, "DISCOVERY_URL": idp.discovery_url}


def _spawn(
    python: str, flags: Sequence[str], code: str, env: Mapping[str, str]
) -> tuple[float, list[str], str]:
    """Milliseconds from spawn to the child's "ready" line, its stdout before it, its stderr."""
    elapsed, lines, stderr, _ = _spawn_at(python, flags, code, env)
    return elapsed, lines, stderr


def _spawn_at(
    python: str, flags: Sequence[str], code: str, env: Mapping[str, str]
) -> tuple[float, list[str], str, float]:
    """:func:`_spawn`, and the moment (perf_counter) the child was spawned."""
    start = time.perf_counter()
    with subprocess.Popen(
        [python, "-E", "-S", *flags, "-c", code],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        lines = []
        for line in child.stdout:
            if line.strip() == "ready":
                break
            lines.append(line)
        elapsed = (time.perf_counter() - start) * 1000
        _, stderr = child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{stderr}")
    return elapsed, lines, stderr, start


def cold_run(
    build: Build,
    idp: LocalIdentityProvider,
    implementation: str,
    event: Mapping[str, Any],
    flags: Sequence[str] = (),
    log: _IdpLog | None = None,
) -> ColdRun:
    if implementation == "bare":
        elapsed, _, _ = _spawn(sys.executable, flags, _BARE, {"PATH": os.environ.get("PATH", "")})
        return ColdRun(elapsed)
    env = _environment(idp, implementation) | {
        "BENCH_PATH": os.pathsep.join(str(path) for path in build.paths[implementation]),
        "BENCH_MODULE": MODULES[implementation],
        "BENCH_EVENT": json.dumps(event),
    }
    elapsed, stdout, stderr, spawned = _spawn_at(sys.executable, flags, _CHILD, env)
    reports = [line for line in stderr.splitlines() if line.startswith("BENCH ")]
    report = json.loads(reports[-1][6:])
    if report["effect"] != "Allow":
        raise RuntimeError(f"{implementation} did not allow the benchmark's request: {report}")
    phases: dict[str, float] = {}
    window = log.window(spawned, report["t3"]) if log is not None else None
    if window is not None:
        first_request, last_answer = window
        phases = {
            "start": (report["t0"] - spawned) * 1000,
            "to_network": (first_request - report["t0"]) * 1000,
            "network": (last_answer - first_request) * 1000,
            "after_network": (report["t1"] - last_answer) * 1000,
            "first_answer": (report["t3"] - report["t2"]) * 1000,
        }
    return ColdRun(
        elapsed,
        init_ms=report["init_ms"],
        first_ms=report["first_ms"],
        maxrss_mb=report["maxrss_kb"] / 1024,
        stdout=stdout,
        phases=phases,
    )


@dataclass
class Scenario:
    """Every run of one scenario, per implementation, in round order."""

    name: str
    runs: dict[str, list[ColdRun]]

    def median(self, implementation: str, attribute: str = "wall_ms") -> float:
        values: list[float] = [getattr(run, attribute) for run in self.runs[implementation]]
        return statistics.median(values)

    def spread(self, implementation: str) -> tuple[float, float]:
        values = [run.wall_ms for run in self.runs[implementation]]
        return min(values), max(values)

    @property
    def short(self) -> str:
        return "80 ms away" if "away" in self.name else "loopback"

    def phase(self, implementation: str, phase: str) -> float:
        values = [run.phases[phase] for run in self.runs[implementation] if run.phases]
        return float(statistics.median(values)) if values else float("nan")

    def ratios(self, numerator: str, denominator: str) -> list[float]:
        return [
            a.wall_ms / b.wall_ms
            for a, b in zip(self.runs[numerator], self.runs[denominator], strict=True)
        ]


IMPLEMENTATIONS: Final = ("bare", "minimal", "typical", "ours")


def cold_start(
    build: Build, idp: LocalIdentityProvider, runs: int, *, delay: float, name: str
) -> Scenario:
    token = idp.mint(scopes=["app.read"], client_id="reader-app")
    event = {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": METHOD_ARN}
    if delay:
        idp.set_mode("slow", delay=delay)
    else:
        idp.set_mode("up")
    log = _IdpLog(idp)
    try:
        for implementation in IMPLEMENTATIONS:  # page cache warm, nothing timed
            cold_run(build, idp, implementation, event)
        results: dict[str, list[ColdRun]] = {name: [] for name in IMPLEMENTATIONS}
        for index in range(runs):
            shift = index % len(IMPLEMENTATIONS)
            order = IMPLEMENTATIONS[shift:] + IMPLEMENTATIONS[:shift]
            for implementation in order:
                results[implementation].append(cold_run(build, idp, implementation, event, log=log))
    finally:
        idp.set_mode("up")
        log.close()
    return Scenario(name, results)


# Everything our cold start imports, once each, in init's order, in one thread without network:
# what each package costs to import (python -X importtime).
_IMPORTS = (
    "import sys, os; sys.path[:0] = os.environ['BENCH_PATH'].split(os.pathsep); "
    "import jwt_authorizer.source, requests, jwt_authorizer.handler; "
    "import jose.backends.cryptography_backend; from aws_lambda_powertools import Logger, Metrics"
)
PACKAGE_GROUPS: Final = {
    "requests (urllib3, idna, certifi, charset_normalizer)": (
        "requests", "urllib3", "idna", "certifi", "charset_normalizer",
    ),
    "python-jose, cryptography": ("jose", "cryptography", "cffi", "_cffi_backend"),
    "Powertools (jmespath, typing_extensions)": (
        "aws_lambda_powertools", "jmespath", "typing_extensions", "botocore",
    ),
    "jwt_authorizer (our modules)": ("jwt_authorizer",),
}  # fmt: skip
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)")


def import_costs(build: Build, runs: int = 3) -> dict[str, float]:
    """Median self time (ms) of the imports of each package group, standard library apart."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "BENCH_PATH": os.pathsep.join(str(path) for path in build.paths["ours"]),
    }
    owner = {top: group for group, tops in PACKAGE_GROUPS.items() for top in tops}
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-E", "-S", "-X", "importtime", "-c", _IMPORTS],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        totals: dict[str, float] = {}
        for line in result.stderr.splitlines():
            match = _IMPORT_LINE.match(line)
            if match is None:
                continue
            top = match.group(2).split(".")[0]
            stdlib = top in sys.stdlib_module_names or top.startswith("_")
            group = owner.get(top, "standard library" if stdlib else "other")
            totals[group] = totals.get(group, 0.0) + int(match.group(1)) / 1000
        for group, value in totals.items():
            samples.setdefault(group, []).append(value)
    return {group: statistics.median(values) for group, values in samples.items()}
