"""Benchmarks, measured side by side in one run (``make bench``, ``python -m devkit bench``),
from compiled bytecode.

(a) warm path: our whole handler (event in, answer out, metrics flushed) on distinct tokens, so
    that no verified-token cache entry is ever hit, against a bare ``cryptography`` RS256 verify
    plus JSON decode of the same tokens;
(b) cold start to the first answer: a fresh interpreter imports the handler module, reads its
    configuration, fetches discovery and the key set from a loopback identity provider and
    answers one TOKEN event. Ours against the typical hand-written authorizer
    (``bench/baselines/typical_authorizer.py``: PyJWT's PyJWKClient, Powertools Logger and its
    authorizer response, ``requests``) and the floor (``bench/baselines/minimal_verifier.py``:
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

Modules: :mod:`.build` (the per-implementation directories), :mod:`.cold` (cold starts and
where they go), :mod:`.warm` (the warm path), :mod:`.report` (the table and the goals);
``baselines/`` holds the two authorizers ours is compared with.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from devkit.bench.build import build
from devkit.bench.cold import DISTANT_DELAY_SECONDS, Scenario, cold_start, import_costs
from devkit.bench.report import GOALS, report
from devkit.bench.warm import warm_path
from devkit.idp import LocalIdentityProvider

__all__ = ["GOALS", "run"]


def run(
    *, rounds: int, tokens: int, runs: int, only: str | None = None, keep: Path | None = None
) -> tuple[str, int]:
    """Measure (``only``: "warm" or "cold", else both) and return the report and how many of
    the measured goals were missed. ``keep``: build there and keep it (else a temp dir)."""
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        root = keep or Path(scratch)
        if keep is not None and root.exists():
            shutil.rmtree(root)
        with LocalIdentityProvider(profile="entra-b2c") as idp:
            warm: dict[str, list[float]] = {}
            scenarios: list[Scenario] = []
            imports: dict[str, float] = {}
            if only != "cold":
                warm = warm_path(idp, rounds, tokens)
            if only != "warm":
                built = build(root)
                loopback = "identity provider on loopback"
                distant = f"identity provider {DISTANT_DELAY_SECONDS * 1000:.0f} ms away"
                scenarios = [
                    cold_start(built, idp, runs, delay=0.0, name=loopback),
                    cold_start(built, idp, runs, delay=DISTANT_DELAY_SECONDS, name=distant),
                ]
                imports = import_costs(built)
    return report(warm, scenarios, tokens=tokens, imports=imports)
