"""Benchmarks, measured side by side in one run (``make bench``), from compiled bytecode.

(a) warm path: our whole handler (event in, answer out, metrics flushed) on distinct tokens, so
    that no verified-token cache entry is ever hit, against a bare ``cryptography`` RS256 verify
    plus JSON decode of the same tokens;
(b) cold start to the first answer: a fresh interpreter imports the handler module, reads its
    configuration, fetches discovery and the key set from a loopback identity provider and
    answers one TOKEN event. Ours against the typical hand-written authorizer
    (``bench_baselines/typical_authorizer.py``: PyJWT's PyJWKClient, Powertools Logger and its
    authorizer response, ``requests``) and the floor (``bench_baselines/minimal_verifier.py``:
    ``urllib`` and ``cryptography``), with the identity provider on loopback and 80 ms away
    (each discovery and key-set answer delayed 80 ms);
(c) where our cold start goes: imports by package, our own modules, the network, the first
    answer;
(d) peak memory (max RSS) of our cold-start process.

Each implementation runs from a directory of its own holding exactly what it would ship: our
function package and the layer (the runtime lock, layers/deps/requirements.txt), or a baseline
module and the packages it imports, copied from this environment and compiled as ``sam build``
compiles them (unchecked-hash pycs), plus boto3 and botocore as the Lambda runtime provides them.
The children run with ``-E -S`` (no site-packages, no PYTHON* variables), so nothing else is
importable. Rounds are interleaved (each round runs every implementation once, in a rotating
order) and ratios are taken within a round; the report gives the median and the spread
(min-max) of the rounds. Absolute figures depend on the machine and its load, ratios much less.
"""

from __future__ import annotations

import argparse
import base64
import compileall
import importlib.metadata
import io
import json
import os
import py_compile
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from devkit.idp import LocalIdentityProvider

ROOT: Final = Path(__file__).resolve().parents[2]
AUTHORIZER_SRC: Final = ROOT / "src" / "authorizer"
BASELINES: Final = Path(__file__).resolve().with_name("bench_baselines")
RUNTIME_LOCK: Final = ROOT / "layers" / "deps" / "requirements.txt"
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

# The distributions each baseline ships (besides its module) and those the Lambda Python runtime
# provides to every function (boto3 and what it needs; Powertools imports botocore if present).
TYPICAL_DISTRIBUTIONS: Final = (
    "pyjwt", "cryptography", "cffi", "pycparser",
    "requests", "urllib3", "idna", "certifi", "charset-normalizer",
    "aws-lambda-powertools", "jmespath", "typing-extensions",
)  # fmt: skip
MINIMAL_DISTRIBUTIONS: Final = ("cryptography", "cffi", "pycparser")
LAMBDA_RUNTIME_DISTRIBUTIONS: Final = (
    "boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3",
)  # fmt: skip

GOALS: Final = {
    "distant": 0.6,  # cold start, IdP 80 ms away, ours / typical
    "loopback": 0.8,  # cold start, IdP on loopback, ours / typical
    "warm": 2.0,  # warm handler / bare verify + decode
    "rss_mb": 45.0,  # peak RSS of our cold-start process
}

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


# --------------------------------------------------------------------------- build


@dataclass(frozen=True)
class Build:
    """Where each implementation's code and packages were copied and compiled."""

    root: Path
    paths: Mapping[str, tuple[Path, ...]]  # implementation -> sys.path entries, in order


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked_names(lock: Path) -> list[str]:
    names = []
    for line in lock.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(re.split(r"[\[=<>!~; ]", line, maxsplit=1)[0])
    return names


def _copy_distributions(names: Sequence[str], target: Path) -> None:
    """Copy the installed files of each distribution (no scripts, no bytecode) into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        distribution = importlib.metadata.distribution(name)
        for file in distribution.files or ():
            relative = Path(str(file))
            if relative.parts[0] == ".." or "__pycache__" in relative.parts:
                continue
            source = Path(str(distribution.locate_file(file)))
            if not source.is_file():
                continue
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)


def _link_distributions(names: Sequence[str], target: Path) -> None:
    """The Lambda runtime's own packages (boto3, botocore): linked, with their bytecode."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        distribution = importlib.metadata.distribution(name)
        tops = {
            Path(str(file)).parts[0]
            for file in distribution.files or ()
            if not str(file).startswith("..") and ".dist-info" not in str(file)
        }
        for top in tops:
            source = Path(str(distribution.locate_file(top)))
            link = target / top
            if source.exists() and not link.exists():
                link.symlink_to(source)


def _compile(directory: Path) -> None:
    """Unchecked-hash pycs, as layers/deps/Makefile and src/authorizer/Makefile write them."""
    ok = compileall.compile_dir(
        directory,
        quiet=2,
        workers=1,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not ok:
        raise RuntimeError(f"compileall failed in {directory}")


def build(root: Path) -> Build:
    """Copy and compile every implementation under ``root``."""
    runtime = root / "lambda-runtime"
    _link_distributions(LAMBDA_RUNTIME_DISTRIBUTIONS, runtime)
    task = root / "ours" / "task"
    shutil.copytree(
        AUTHORIZER_SRC / "jwt_authorizer",
        task / "jwt_authorizer",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    layer = root / "ours" / "layer"
    _copy_distributions(_locked_names(RUNTIME_LOCK), layer)
    typical = root / "typical"
    _copy_distributions(TYPICAL_DISTRIBUTIONS, typical)
    shutil.copyfile(BASELINES / "typical_authorizer.py", typical / "typical_authorizer.py")
    minimal = root / "minimal"
    _copy_distributions(MINIMAL_DISTRIBUTIONS, minimal)
    shutil.copyfile(BASELINES / "minimal_verifier.py", minimal / "minimal_verifier.py")
    for directory in (task, layer, typical, minimal):
        _compile(directory)
    return Build(
        root,
        {
            "ours": (task, layer, runtime),
            "typical": (typical, runtime),
            "minimal": (minimal, runtime),
            "bare": (),
        },
    )


# --------------------------------------------------------------------------- cold start

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
    """When the identity provider started and finished each answer (its server threads)."""

    def __init__(self, idp: LocalIdentityProvider) -> None:
        self.answers: list[tuple[float, float]] = []
        serve = idp._serve

        def recorded(handler: Any, method: str) -> None:
            started = time.perf_counter()
            try:
                serve(handler, method)
            finally:
                self.answers.append((started, time.perf_counter()))

        idp._serve = recorded  # type: ignore[method-assign]

    def between(self, start: float, end: float) -> list[tuple[float, float]]:
        return [(a, b) for a, b in self.answers if start <= a <= end]


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
    answers = log.between(spawned, report["t3"]) if log is not None else []
    if answers:
        first_request = answers[0][0]
        last_answer = max(end for _, end in answers)
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
        return statistics.median(getattr(run, attribute) for run in self.runs[implementation])

    def spread(self, implementation: str) -> tuple[float, float]:
        values = [run.wall_ms for run in self.runs[implementation]]
        return min(values), max(values)

    @property
    def short(self) -> str:
        return "80 ms away" if "away" in self.name else "loopback"

    def phase(self, implementation: str, phase: str) -> float:
        values = [run.phases[phase] for run in self.runs[implementation] if run.phases]
        return statistics.median(values) if values else float("nan")

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
        del idp._serve  # the class's own method again
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


# --------------------------------------------------------------------------- warm path


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _public_key(idp: LocalIdentityProvider) -> rsa.RSAPublicKey:
    jwk = idp.public_jwk()
    numbers = rsa.RSAPublicNumbers(
        int.from_bytes(_b64decode(jwk["e"]), "big"), int.from_bytes(_b64decode(jwk["n"]), "big")
    )
    return numbers.public_key()


class _Unbuffered(io.TextIOBase):
    """stdout as the Lambda runtime gives it to a function: every write is flushed at once."""

    def __init__(self, stream: io.TextIOBase) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        self._stream.flush()
        return written


@contextmanager
def _lambda_stdout() -> Iterator[None]:
    with open(os.devnull, "w", encoding="utf-8") as sink:
        saved = sys.stdout
        sys.stdout = _Unbuffered(sink)
        try:
            yield
        finally:
            sys.stdout = saved


class _Context:
    function_name = "bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
    aws_request_id = "8f2c1a4e-0b6d-4c57-9e21-3d7a5f90c1b8"

    def get_remaining_time_in_millis(self) -> int:
        return 4000


def warm_path(idp: LocalIdentityProvider, rounds: int, tokens: int) -> dict[str, list[float]]:
    """Per-call seconds of each candidate, one value per round (every token once a round)."""
    sys.path.insert(0, str(AUTHORIZER_SRC))
    from jwt_authorizer import Authorizer
    from jwt_authorizer.config import parse_config
    from jwt_authorizer.keys import KeyRegistry
    from jwt_authorizer.validator import TokenValidator

    document = {
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
    config = parse_config(document)
    if tokens <= config.verified_token_cache_size:
        raise ValueError("the warm path needs more tokens than the verified-token cache holds")
    validator = TokenValidator(
        config.issuers,
        KeyRegistry(config.keys),
        max_token_bytes=config.max_token_bytes,
        verified_token_cache_size=config.verified_token_cache_size,
    )
    validator.start_prefetch().wait()
    minted = [
        idp.mint(scopes=["app.read", "app.write"], client_id="writer-app", claims={"jti": str(i)})
        for i in range(tokens)
    ]
    events = [
        {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": METHOD_ARN}
        for token in minted
    ]
    public_key = _public_key(idp)
    context = _Context()

    with _lambda_stdout():
        authorizer = Authorizer.from_environ({"AUTH_CONFIG": json.dumps(document)})

        def bare() -> None:
            for token in minted:
                header_b64, payload_b64, signature_b64 = token.split(".")
                json.loads(_b64decode(header_b64))
                json.loads(_b64decode(payload_b64))
                public_key.verify(
                    _b64decode(signature_b64),
                    f"{header_b64}.{payload_b64}".encode(),
                    padding.PKCS1v15(),
                    hashes.SHA256(),
                )

        def handler() -> None:
            for event in events:
                authorizer(event, context)

        def validate() -> None:
            for token in minted:
                validator.validate(token)

        same = minted[0]

        def cached() -> None:
            for _ in minted:
                validator.validate(same)

        candidates: dict[str, Callable[[], None]] = {
            "bare": bare,
            "validate": validate,
            "handler": handler,
            "cached": cached,
        }
        for function in candidates.values():  # one untimed pass: caches and branches warm
            function()
        # CPU time of this thread: what a CPU-bound call costs, without the time other processes
        # of a shared machine take the CPU away (wall time on an idle machine is the same).
        samples: dict[str, list[float]] = {name: [] for name in candidates}
        for _ in range(rounds):
            for name, function in candidates.items():
                start = time.thread_time()
                function()
                samples[name].append((time.thread_time() - start) / tokens)
    return samples


# --------------------------------------------------------------------------- report


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:7.1f} us"


def _verdict(value: float, goal: float) -> str:
    return "met" if value <= goal else "NOT MET"


def _ratio_line(ratios: Sequence[float], goal: float) -> str:
    median = statistics.median(ratios)
    return (
        f"{median:5.2f}x [{min(ratios):.2f}-{max(ratios):.2f}]  "
        f"goal <= {goal:.1f}x: {_verdict(median, goal)}"
    )


def report(
    warm: Mapping[str, Sequence[float]],
    scenarios: Sequence[Scenario],
    *,
    tokens: int,
    imports: Mapping[str, float] | None = None,
) -> tuple[str, int]:
    """The table ``make bench`` prints, and how many of the measured goals were not met."""
    missed = measured = 0
    lines = [
        f"Python {sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} CPUs; compiled "
        "bytecode; medians of interleaved rounds [min-max]",
    ]
    if warm:
        lines += [
            "",
            f"(a) warm path: {tokens} distinct RS256 tokens (no verified-token cache hit), keys "
            "cached; CPU time per call",
        ]
        bare = warm["bare"]
        ratios = {
            name: [a / b for a, b in zip(values, bare, strict=True)]
            for name, values in warm.items()
        }
        labels = {
            "bare": "bare cryptography verify + JSON decode",
            "validate": "our validation (parse, signature, claims)",
            "handler": "our handler: event in, answer out",
            "cached": "same token again (verified-token cache)",
        }
        for name in ("bare", "validate", "handler", "cached"):
            median = statistics.median(warm[name])
            line = f"    {labels[name]:<44}: {_us(median)}  {statistics.median(ratios[name]):5.2f}x"
            if name == "handler":
                line = f"    {labels[name]:<44}: {_us(median)}  " + _ratio_line(
                    ratios[name], GOALS["warm"]
                )
                measured += 1
                missed += statistics.median(ratios[name]) > GOALS["warm"]
            lines.append(line)
    if scenarios:
        lines += [
            "",
            "(b) cold start to the first answer: new process, import, configuration, discovery "
            "+ key set, one TOKEN event",
        ]
        titles = {
            "bare": "bare interpreter (python -c pass)",
            "minimal": "minimal verifier (urllib, cryptography)",
            "typical": "typical authorizer (PyJWT, Powertools, requests)",
            "ours": "ours",
        }
        for scenario in scenarios:
            lines.append(f"  {scenario.name}")
            for implementation in IMPLEMENTATIONS:
                low, high = scenario.spread(implementation)
                lines.append(
                    f"    {titles[implementation]:<49}: {scenario.median(implementation):7.1f} ms "
                    f"[{low:.0f}-{high:.0f}]"
                )
            goal = GOALS["distant" if "away" in scenario.name else "loopback"]
            ratios_ = scenario.ratios("ours", "typical")
            lines.append(f"    {'ours / typical':<49}: {_ratio_line(ratios_, goal)}")
            measured += 1
            missed += statistics.median(ratios_) > goal
            lines.append(
                f"    {'ours: init (import .. keys) / first answer':<49}: "
                f"{scenario.median('ours', 'init_ms'):7.1f} ms / "
                f"{scenario.median('ours', 'first_ms'):.1f} ms"
            )
        lines += [
            "",
            "(c) where our cold start goes (ms, medians; the child, the identity provider and the "
            "bench share one monotonic clock)",
            "    " + " " * 46 + "".join(f"{scenario.short:>14}" for scenario in scenarios),
        ]
        phase_titles = {
            "start": "interpreter start",
            "to_network": "until the first request reaches the IdP",
            "network": "IdP: first request to last answer",
            "after_network": "init after the last answer",
            "first_answer": "first answer",
        }
        for phase, title in phase_titles.items():
            values = "".join(f"{scenario.phase('ours', phase):14.1f}" for scenario in scenarios)
            lines.append(f"    {title:<46}{values}")
        if imports:
            lines.append(
                "    imports, each once, in init's order, one thread, no network (-X importtime):"
            )
            for group, value in sorted(imports.items(), key=lambda item: -item[1]):
                lines.append(f"      {group:<52}: {value:7.1f} ms")
        rss = max(run.maxrss_mb for scenario in scenarios for run in scenario.runs["ours"])
        typical_rss = max(
            run.maxrss_mb for scenario in scenarios for run in scenario.runs["typical"]
        )
        lines += [
            "",
            f"(d) peak RSS of our cold-start process: {rss:.1f} MB (typical: {typical_rss:.1f} MB)"
            f"  goal <= {GOALS['rss_mb']:.0f} MB: {_verdict(rss, GOALS['rss_mb'])}",
        ]
        measured += 1
        missed += rss > GOALS["rss_mb"]
    lines += ["", f"goals met: {measured - missed} of {measured} measured ({len(GOALS)} in all)"]
    return "\n".join(lines), missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7, help="interleaved warm-path rounds")
    parser.add_argument("--tokens", type=int, default=1500, help="distinct tokens per round")
    parser.add_argument("--runs", type=int, default=9, help="cold-start rounds per scenario")
    parser.add_argument("--keep", type=Path, help="build here and keep it (default: a temp dir)")
    parser.add_argument(
        "--only", choices=("warm", "cold"), help="measure one part (the goals need both)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        root = args.keep or Path(scratch)
        if args.keep and root.exists():
            shutil.rmtree(root)
        with LocalIdentityProvider(profile="entra-b2c") as idp:
            warm: dict[str, list[float]] = {}
            scenarios: list[Scenario] = []
            imports: dict[str, float] = {}
            if args.only != "cold":
                warm = warm_path(idp, args.rounds, args.tokens)
            if args.only != "warm":
                built = build(root)
                scenarios = [
                    cold_start(
                        built, idp, args.runs, delay=0.0, name="identity provider on loopback"
                    ),
                    cold_start(
                        built,
                        idp,
                        args.runs,
                        delay=DISTANT_DELAY_SECONDS,
                        name=f"identity provider {DISTANT_DELAY_SECONDS * 1000:.0f} ms away",
                    ),
                ]
                imports = import_costs(built)
    text, _missed = report(warm, scenarios, tokens=args.tokens, imports=imports)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
