"""Cache safety against a third-party IAM evaluator, on generated route tables.

Hypothesis generates route tables (literals, ``{param}``, ``{proxy+}``, ``ANY``, ``$default``,
routes nested under parameters and under greedy routes), permission sets and hostile requests
(IAM wildcards, empty segments, percent-encodings, deep paths). For each, the authorizer answers
a first request on every event kind; the answer API Gateway would cache is then evaluated by
``@cloud-copilot/iam-simulate`` (tests/support/iam_oracle.py) against every later request, and
compared with what the rules say, computed here by an independent reading of the rules.

Properties:

* **never wider**: no cached answer allows a later request the rules deny;
* **right for the first request**: the answer allows it exactly when the rules do, unless the
  path holds ``*``, ``?`` or ``${`` and no cacheable answer can allow it (``cache_unsafe``);
* **simple answers** (route cache key): a cached ``true`` for a route key is never reused for a
  request of that route key the rules deny (API routes = the rules' routes).

Lockouts (cached 403 where the rules allow) are counted and printed, not failed: they are the
documented cost.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.security.conftest import (
    LONG_FACTOR,
    PROFILE,
    PROFILE_NAME,
    record_examples,
    record_note,
)
from tests.support.constants import HTTP_PREFIX, REST_PREFIX
from tests.support.hostile import Route, make_event
from tests.support.iam_oracle import IamOracle
from tests.support.signing import SigningKey, claims
from tests.support.stages import issuer_entry, make_authorizer

REST: Final = REST_PREFIX
HTTP: Final = HTTP_PREFIX
LITERALS: Final = ("a", "b", "files", "public")
METHODS: Final = ("GET", "POST", "DELETE")
SCOPES: Final = ("s1", "s2")
UNSAFE: Final = ("*", "?", "${")
KEY: Final = SigningKey.generate("RS256", kid="cache-safety")
STATS: Final[Counter[str]] = Counter()


@dataclass(frozen=True)
class Rule:
    method: str  # or ANY
    segments: tuple[str, ...]  # literals, "{p}", "{g+}"
    scopes: frozenset[str]
    all_scopes: frozenset[str]

    @property
    def key(self) -> str:
        return f"{self.method} /" + "/".join(self.segments)

    def document(self) -> dict[str, Any]:
        return {
            "route": self.key,
            "scopes": sorted(self.scopes),
            "all_scopes": sorted(self.all_scopes),
        }

    def permits(self, held: frozenset[str]) -> bool:
        return (not self.scopes or bool(held & self.scopes)) and self.all_scopes <= held


def _kind(segment: str) -> int:
    return 2 if segment.endswith("+}") else 1 if segment.startswith("{") else 0


def _matches(rule: Rule, method: str, segments: list[str]) -> bool:
    if rule.method not in (method, "ANY"):
        return False
    for index, template in enumerate(rule.segments):
        if _kind(template) == 2:
            return len(segments) > index
        if index >= len(segments) or (_kind(template) == 0 and template != segments[index]):
            return False
    return len(segments) == len(rule.segments)


def _precedence(rule: Rule) -> tuple[tuple[int, ...], int]:
    return (*(_kind(s) for s in rule.segments), 3), int(rule.method == "ANY")


def governing(rules: tuple[Rule, ...], method: str, path: str) -> Rule | None:
    """API Gateway's routing, read independently: empty segments ignored, literal before
    {param} before {proxy+} left to right, a method before ANY."""
    segments = [segment for segment in path.split("/") if segment]
    found = [rule for rule in rules if _matches(rule, method, segments)]
    return min(found, key=_precedence) if found else None


@dataclass(frozen=True)
class Table:
    rules: tuple[Rule, ...]
    default: frozenset[str] | None  # scopes of a $default rule, or None
    unmatched: str

    def allowed(self, method: str, path: str, held: frozenset[str]) -> bool:
        rule = governing(self.rules, method, path)
        if rule is not None:
            return rule.permits(held)
        if self.default is not None:
            return not self.default or bool(held & self.default)
        return self.unmatched == "authenticated"

    def document(self, response_mode: str) -> dict[str, Any]:
        routes = [rule.document() for rule in self.rules]
        if self.default is not None:
            routes.append({"route": "$default", "scopes": sorted(self.default)})
        return {
            "issuers": [issuer_entry(KEY)],
            "routes": routes,
            "unmatched": self.unmatched,
            "response_mode": response_mode,
        }


segment_templates = st.sampled_from([*LITERALS, "{p}", "{g+}"])


@st.composite
def rules(draw: st.DrawFn) -> Rule:
    depth = draw(st.integers(0, 3))
    segments: list[str] = []
    for position in range(depth):
        segment = draw(segment_templates)
        if segment.startswith("{"):
            segment = segment[:-1] + str(position) + "}" if segment == "{p}" else "{g+}"
        segments.append(segment)
        if segment == "{g+}":
            break
    subsets = st.frozensets(st.sampled_from(SCOPES), max_size=2)
    return Rule(
        method=draw(st.sampled_from(("GET", "POST", "ANY"))),
        segments=tuple(segments),
        scopes=draw(subsets),
        all_scopes=draw(subsets),
    )


def _same_route(a: Rule, b: Rule) -> bool:
    shape = [("{}" if s.startswith("{") else s) for s in a.segments]
    other = [("{}" if s.startswith("{") else s) for s in b.segments]
    return a.method == b.method and shape == other


@st.composite
def tables(draw: st.DrawFn) -> Table:
    chosen: list[Rule] = []
    for rule in draw(st.lists(rules(), min_size=1, max_size=6)):
        if not any(_same_route(rule, other) for other in chosen):
            chosen.append(rule)
    default = draw(st.none() | st.frozensets(st.sampled_from(SCOPES), max_size=1))
    return Table(tuple(chosen), default, draw(st.sampled_from(("deny", "authenticated"))))


request_segments = st.sampled_from(
    [*LITERALS, "x", "", "*", "?", "a*", "%2A", "${*}", "files*", "p%2Fq"]
)


@st.composite
def requests(draw: st.DrawFn, table: Table) -> tuple[str, str]:
    """A hostile request, or a concrete instance of one of the table's routes."""
    method = draw(st.sampled_from(METHODS))
    if len(table.rules) > 0 and draw(st.booleans()):
        rule = draw(st.sampled_from(table.rules))
        segments = []
        for template in rule.segments:
            if template.startswith("{"):
                count = draw(st.integers(1, 2)) if template.endswith("+}") else 1
                segments += [draw(request_segments) or "v" for _ in range(count)]
            else:
                segments.append(template)
        if draw(st.integers(0, 3)) == 0:  # deeper than the route
            segments.append(draw(request_segments))
        method = rule.method if rule.method != "ANY" else method
        return method, "/" + "/".join(segments)
    segments = draw(st.lists(request_segments, max_size=4))
    return method, "/" + "/".join(segments)


def canonical(path: str) -> bool:
    return "//" not in path and (path == "/" or not path.endswith("/"))


def budget(ci_examples: int) -> settings:
    factor = LONG_FACTOR if PROFILE_NAME == "long" else 1
    return settings(PROFILE, max_examples=ci_examples * factor)


@pytest.mark.fuzz
def test_no_cached_answer_allows_what_the_rules_deny(iam_oracle: IamOracle) -> None:
    started = time.perf_counter()

    @budget(250)
    @given(data=st.data(), table=tables(), held=st.frozensets(st.sampled_from(SCOPES)))
    def prop(data: st.DataObject, table: Table, held: frozenset[str]) -> None:
        authorizer = make_authorizer(table.document("iam"))
        token = KEY.sign(claims(scp=" ".join(sorted(held)) or None))
        firsts = data.draw(st.lists(requests(table), min_size=1, max_size=3))
        laters = data.draw(st.lists(requests(table), min_size=4, max_size=12))
        STATS["examples"] += 1
        for kind in ("token", "request", "http-1.0", "http-2.0"):
            prefix = HTTP if kind.startswith("http") else REST
            for method, path in firsts:
                event = make_event(kind, f"Bearer {token}", Route(method, path))
                answer = authorizer(event, None)
                arns = [f"{prefix}/{m}{p}" for m, p in [(method, path), *laters]]
                verdicts = iam_oracle.evaluate(answer["policyDocument"], arns)
                STATS["answers"] += 1
                STATS["evaluated"] += len(arns)
                expected = table.allowed(method, path, held)
                got = verdicts[0] == "Allowed"
                if expected and not got and any(m in path for m in UNSAFE):
                    assert answer["context"]["reason"] == "cache_unsafe", (kind, path)
                    STATS["cache_unsafe"] += 1
                else:
                    assert got == expected, (kind, method, path, answer)
                for (m, p), verdict in zip(laters, verdicts[1:], strict=True):
                    allowed = table.allowed(m, p, held)
                    if verdict == "Allowed":
                        assert allowed, (kind, (method, path), (m, p), answer)
                    elif allowed:
                        STATS["lockouts" if canonical(p) else "lockouts, empty segment"] += 1

    try:
        prop()
    finally:
        record_examples(
            "cache safety vs iam-simulate (answers)",
            STATS["answers"],
            time.perf_counter() - started,
        )
        record_note(
            "cache safety",
            f"{STATS['examples']} route tables, {STATS['answers']} answers, "
            f"{STATS['evaluated']} ARNs evaluated by iam-simulate, 0 unsafe; lockouts seen: "
            f"{STATS['lockouts']} canonical, {STATS['lockouts, empty segment']} with an empty "
            f"segment; cache_unsafe first requests: {STATS['cache_unsafe']}",
        )
    assert STATS["evaluated"] > 0


@pytest.mark.fuzz
def test_simple_answers_are_never_reused_for_a_denied_request() -> None:
    """Route-keyed simple answers: API routes are the rules' routes (plus $default); a cached
    true for a route key must be right for every request API Gateway routes to that key."""
    started, before = time.perf_counter(), STATS["simple"]

    @budget(150)
    @given(data=st.data(), table=tables(), held=st.frozensets(st.sampled_from(SCOPES)))
    def prop(data: st.DataObject, table: Table, held: frozenset[str]) -> None:
        authorizer = make_authorizer(table.document("simple"))
        token = KEY.sign(claims(scp=" ".join(sorted(held)) or None))
        calls = data.draw(st.lists(requests(table), min_size=2, max_size=10))
        granted: set[str] = set()
        for method, path in calls:
            rule = governing(table.rules, method, path)
            route_key = rule.key if rule is not None else "$default"
            event = make_event("http-2.0", f"Bearer {token}", Route(method, path))
            event["routeKey"] = event["requestContext"]["routeKey"] = route_key
            STATS["simple"] += 1
            if authorizer(event, None)["isAuthorized"]:
                assert table.allowed(method, path, held), (method, path)
                granted.add(route_key)
        for method, path in calls:
            rule = governing(table.rules, method, path)
            if (rule.key if rule is not None else "$default") in granted:
                assert table.allowed(method, path, held), (method, path, granted)

    try:
        prop()
    finally:
        record_examples(
            "simple answers per route key (calls)",
            STATS["simple"] - before,
            time.perf_counter() - started,
        )
