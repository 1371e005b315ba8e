"""Route decision: which rule governs a request, and whether the caller satisfies it.

One decision function for every event type: a request is its method and its concrete path, both
read from the method ARN API Gateway sends (``methodArn`` or ``routeArn``), because that ARN is
also what a cached IAM answer is later evaluated against. The route template API Gateway
matched (REST ``resource``, HTTP ``routeKey``) never changes a decision.

Paths are matched the way API Gateway routes: empty segments (``//``, a trailing ``/``) are
ignored, a literal segment beats ``{param}``, which beats ``{proxy+}``, position by position
from the left; an exact method beats ``ANY``; ``$default`` (or ``unmatched``) decides the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from .errors import AccessDenied, ConfigError, InsufficientScope, RouteNotPermitted

LITERAL: Final = 0
PARAM: Final = 1
GREEDY: Final = 2
#: The winner index of a request no rule matches (``$default`` / ``unmatched`` decides it).
DEFAULT: Final = -1
_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})
_SEGMENT_RE: Final = re.compile(r"^(\{[A-Za-z0-9_.-]+\}|\{[A-Za-z0-9_.-]+\+\}|[^{}/*?]+)$")


@dataclass(frozen=True, slots=True)
class RouteRule:
    """A permission rule for one route key in HTTP API form (``GET /orders/{id}``, ``$default``)."""

    route_key: str
    method: str
    path: str
    scopes: frozenset[str] = frozenset()
    all_scopes: frozenset[str] = frozenset()
    issuers: frozenset[str] | None = None

    @property
    def is_default(self) -> bool:
        return self.route_key == "$default"

    def applies_to(self, issuer: str) -> bool:
        return self.issuers is None or issuer in self.issuers


# --------------------------------------------------------------------------- the grammar


def route_shape(method: str, path: str) -> tuple[str, str]:
    """What API Gateway routes on: the method and the template with parameter names ignored
    (``/orders/{id}`` and ``/orders/{orderId}`` are one route, ``{proxy+}`` and ``{path+}`` too)."""
    names = {PARAM: "{}", GREEDY: "{+}"}
    shape = [names.get(segment_kind(s), s) for s in path_segments(path)]
    return method, "/" + "/".join(shape)


def check_not_governed_twice(rule: RouteRule, earlier: list[RouteRule], name: str) -> None:
    """Two rules for one route and overlapping issuers: the first would silently win."""
    shape = route_shape(rule.method, rule.path)
    for index, other in enumerate(earlier):
        if route_shape(other.method, other.path) != shape:
            continue
        if other.issuers is None or rule.issuers is None or other.issuers == rule.issuers:
            overlap = "for the same issuers"
        elif other.issuers & rule.issuers:
            shared = ", ".join(repr(issuer) for issuer in sorted(other.issuers & rule.issuers))
            overlap = f"for {shared}"
        else:
            continue
        raise ConfigError(
            name,
            f"{rule.route_key} is already governed by routes[{index}] ({overlap}); "
            "merge the two rules",
        )


def parse_route_key(route_key: str, name: str = "route") -> tuple[str, str]:
    """Split ``"GET /orders/{id}"`` into method and path, checking both."""
    if route_key.strip() == "$default":
        return "$default", ""
    parts = route_key.split()
    if len(parts) != 2:
        raise ConfigError(name, f"{route_key!r} must look like 'GET /orders/{{id}}' or '$default'")
    method, path = parts[0].upper(), parts[1]
    if method not in _METHODS:
        raise ConfigError(name, f"{parts[0]!r} is not an HTTP method (or ANY)")
    if not path.startswith("/"):
        raise ConfigError(name, f"path {path!r} must start with /")
    segments = path.strip("/").split("/") if path != "/" else []
    for position, segment in enumerate(segments):
        if "${" in segment:
            raise ConfigError(
                name,
                f"path segment {segment!r} holds ${{...}}, IAM policy-variable syntax; a route "
                "path cannot contain it (a '$' alone is fine, e.g. /odata/$metadata)",
            )
        if not _SEGMENT_RE.match(segment):
            raise ConfigError(name, f"path segment {segment!r} is not valid")
        if segment.endswith("+}") and position != len(segments) - 1:
            raise ConfigError(name, "a greedy {proxy+} segment must be the last one")
    return method, path.rstrip("/") or "/"


# --------------------------------------------------------------------------- matching


def path_segments(path: str) -> list[str]:
    """The segments a path routes by: empty ones (``//``, trailing ``/``) are dropped."""
    return [segment for segment in path.split("/") if segment]


def segment_kind(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return GREEDY
    if segment.startswith("{") and segment.endswith("}"):
        return PARAM
    return LITERAL


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule pre-split for matching; ``rank`` orders rules by API Gateway's precedence."""

    rule: RouteRule
    method: str
    segments: tuple[str, ...]
    kinds: tuple[int, ...]
    rank: tuple[tuple[int, ...], int]

    @classmethod
    def of(cls, rule: RouteRule) -> CompiledRule:
        segments = tuple(path_segments(rule.path))
        kinds = tuple(segment_kind(segment) for segment in segments)
        return cls(
            rule=rule,
            method=rule.method,
            segments=segments,
            kinds=kinds,
            rank=((*kinds, 3), 1 if rule.method == "ANY" else 0),
        )

    @classmethod
    def of_key(cls, method: str, path: str) -> CompiledRule:
        """An API route (``routeKey``) compiled like a rule, to compare precedence with rules."""
        return cls.of(RouteRule(route_key=f"{method} {path}", method=method, path=path))

    def matches(self, method: str, segments: Sequence[str]) -> bool:
        if self.method not in (method, "ANY"):
            return False
        for index, kind in enumerate(self.kinds):
            if kind == GREEDY:
                return len(segments) > index
            if index >= len(segments):
                return False
            if kind == LITERAL and self.segments[index] != segments[index]:
                return False
        return len(self.kinds) == len(segments)


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict for one request. ``denial`` is the error class whose reason explains a no;
    ``missing`` lists permissions that would have granted it."""

    allowed: bool
    rule: RouteRule | None
    denial: type[AccessDenied] | None = None
    missing: frozenset[str] = frozenset()

    @property
    def reason(self) -> str:
        return self.denial.reason if self.denial is not None else "ok"


def permits(rule: RouteRule, held: frozenset[str]) -> bool:
    """Any-of ``scopes`` and all-of ``all_scopes``."""
    if rule.scopes and held.isdisjoint(rule.scopes):
        return False
    return rule.all_scopes <= held


class RouteTable:
    """The rules that apply to one configured issuer, compiled once."""

    __slots__ = ("compiled", "default_rule", "rules", "unmatched_allows")

    def __init__(self, rules: Iterable[RouteRule], *, unmatched_allows: bool) -> None:
        self.rules = tuple(rules)
        self.compiled = tuple(CompiledRule.of(rule) for rule in self.rules if not rule.is_default)
        self.default_rule = next((rule for rule in self.rules if rule.is_default), None)
        self.unmatched_allows = unmatched_allows

    def winner(self, method: str, path: str) -> int:
        """Index in :attr:`compiled` of the rule governing the request, or :data:`DEFAULT`."""
        segments = path_segments(path)
        best = DEFAULT
        for index, compiled in enumerate(self.compiled):
            if compiled.matches(method, segments) and (
                best == DEFAULT or compiled.rank < self.compiled[best].rank
            ):
                best = index
        return best

    def rule_of(self, winner: int) -> RouteRule | None:
        return self.default_rule if winner == DEFAULT else self.compiled[winner].rule

    def verdicts(self, held: frozenset[str]) -> tuple[tuple[bool, ...], bool]:
        """Whether ``held`` permits each compiled rule, and the unmatched requests."""
        default = self.default_rule
        default_allowed = permits(default, held) if default else self.unmatched_allows
        return tuple(permits(c.rule, held) for c in self.compiled), default_allowed

    def decide(self, method: str, path: str, held: frozenset[str]) -> Decision:
        return decide(self.rule_of(self.winner(method, path)), held, self.unmatched_allows)


def decide(rule: RouteRule | None, held: frozenset[str], unmatched_allows: bool) -> Decision:
    """The verdict of one rule for ``held``; no rule falls back to ``unmatched``."""
    if rule is None:
        if unmatched_allows:
            return Decision(allowed=True, rule=None)
        return Decision(allowed=False, rule=None, denial=RouteNotPermitted)
    if rule.scopes and held.isdisjoint(rule.scopes):
        return Decision(allowed=False, rule=rule, denial=InsufficientScope, missing=rule.scopes)
    lacking = rule.all_scopes - held
    if lacking:
        return Decision(allowed=False, rule=rule, denial=InsufficientScope, missing=lacking)
    return Decision(allowed=True, rule=rule)


def relevant_permissions(rules: Iterable[RouteRule]) -> frozenset[str]:
    """Only these permissions can change a decision (they key the policy cache)."""
    found: set[str] = set()
    for rule in rules:
        found.update(rule.scopes)
        found.update(rule.all_scopes)
    return frozenset(found)
