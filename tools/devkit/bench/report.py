"""The table ``make bench`` prints, with each goal of issue #12 as a ratio."""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Mapping, Sequence
from typing import Final

from devkit.bench.cold import IMPLEMENTATIONS, Scenario

GOALS: Final = {
    "distant": 0.6,  # cold start, IdP 80 ms away, ours / typical
    "loopback": 0.8,  # cold start, IdP on loopback, ours / typical
    "warm": 2.0,  # warm handler / bare verify + decode
    "rss_mb": 45.0,  # peak RSS of our cold-start process
}


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
