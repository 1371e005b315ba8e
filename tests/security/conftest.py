"""Security suite plumbing: Hypothesis profiles, the ``fuzz`` marker, a socket guard, and the
numbers (corpus size, examples tried) printed at the end of the run.

Profiles (``HYPOTHESIS_PROFILE``, default ``ci``):

* ``ci``   derandomized (same examples every run, no example database), a budget of a few
  thousand examples across the properties that finishes well under a minute on two cores;
* ``long`` randomized, ``LONG_FACTOR`` (20) times the budget, with the example database:
  ``make fuzz``.

The profiles are registered under those names for ``--hypothesis-profile``; the properties use the
objects below directly, so another suite's profile of the same name cannot change this one.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Iterator
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, settings

_SUPPRESSED: Final = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
    HealthCheck.large_base_example,
]

CI: Final = settings(
    max_examples=500,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SUPPRESSED,
)
LONG: Final = settings(
    max_examples=10_000,
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SUPPRESSED,
)
settings.register_profile("ci", CI)
settings.register_profile("long", LONG)

PROFILE_NAME: Final = os.environ.get("HYPOTHESIS_PROFILE", "ci")
# Each property declares its ci budget; ``long`` runs LONG_FACTOR times as many examples.
LONG_FACTOR: Final = 20
PROFILE: Final = {"ci": CI, "long": LONG}.get(PROFILE_NAME, CI)

# Filled in by the tests, printed by pytest_terminal_summary.
STATS: Final[dict[str, Any]] = {
    "examples": Counter(),
    "seconds": Counter(),
    "corpus": None,
    "notes": {},
}


def record_examples(name: str, count: int, seconds: float) -> None:
    STATS["examples"][name] += count
    STATS["seconds"][name] += seconds


def record_note(name: str, text: str) -> None:
    """A line of numbers printed under the examples (e.g. answers evaluated, lockouts seen)."""
    STATS["notes"][name] = text


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fuzz: property-based fuzzing (run with HYPOTHESIS_PROFILE=long by make fuzz)"
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    examples: Counter[str] = STATS["examples"]
    if not examples and STATS["corpus"] is None:
        return
    write = terminalreporter.write_line
    terminalreporter.section("security suite")
    if STATS["corpus"] is not None:
        write(f"adversarial corpus: {STATS['corpus']} entries")
    if examples:
        total = sum(examples.values())
        seconds = sum(STATS["seconds"].values())
        write(f"hypothesis profile {PROFILE_NAME!r}: {total} examples in {seconds:.1f} s")
        for name, count in sorted(examples.items()):
            write(f"  {name}: {count} examples, {STATS['seconds'][name]:.1f} s")
    for name, text in sorted(STATS["notes"].items()):
        write(f"{name}: {text}")


class NetworkAttempt(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Any socket connection or name lookup during a security test is recorded and refused.

    The handler fails closed on any exception, so refusing alone could hide an attempt: the list
    is checked at teardown.
    """
    attempts: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(repr(args[:2])[:120])
        raise NetworkAttempt("network access attempted during a security test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield attempts
    assert attempts == [], f"network attempted: {attempts}"
