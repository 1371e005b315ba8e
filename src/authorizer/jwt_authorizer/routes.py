"""Route rules: which rule governs a request, and whether a principal satisfies it.

Pure functions. A request is identified by its method plus either the route template API Gateway
matched (REST ``resource``, HTTP ``routeKey``) or, for TOKEN events, the concrete path from the
method ARN; concrete paths are matched the way API Gateway routes (literal beats ``{param}``
beats ``{proxy+}``; an exact method beats ``ANY``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from .claims import Principal
from .config import RouteRule
from .errors import InsufficientScope, RouteNotPermitted

_LITERAL: Final = 0
_PARAM: Final = 1
_GREEDY: Final = 2


@dataclass(frozen=True, slots=True)
class RouteTarget:
    """What a request calls. ``template`` wins over ``path`` when both are known."""

    method: str
    path: str | None = None
    template: str | None = None
    is_default_route: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict for one route; ``missing`` lists scopes that would have granted it."""

    allowed: bool
    rule: RouteRule | None
    reason: str = "ok"  # else the reason code of InsufficientScope or RouteNotPermitted
    missing: frozenset[str] = frozenset()


def split_path(path: str) -> list[str]:
    return list(path.strip("/").split("/")) if path.strip("/") else []


def _segment_kind(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return _GREEDY
    if segment.startswith("{") and segment.endswith("}"):
        return _PARAM
    return _LITERAL


def normalise_template(path: str) -> str:
    """``/orders/{orderId}`` and ``/orders/{id}`` are the same route."""
    kinds = {_PARAM: "{}", _GREEDY: "{+}"}
    return "/" + "/".join(kinds.get(_segment_kind(s), s) for s in split_path(path))


def _path_matches(template_segments: tuple[str, ...], path_segments: list[str]) -> bool:
    for index, segment in enumerate(template_segments):
        kind = _segment_kind(segment)
        if kind == _GREEDY:
            return len(path_segments) > index
        if index >= len(path_segments):
            return False
        if kind == _LITERAL and segment != path_segments[index]:
            return False
        if kind == _PARAM and not path_segments[index]:
            return False
    return len(template_segments) == len(path_segments)


def _specificity(rule: RouteRule) -> tuple[tuple[int, ...], int]:
    kinds = tuple(_segment_kind(s) for s in split_path(rule.path))
    return (*kinds, 3), 1 if rule.method == "ANY" else 0


@dataclass(frozen=True, slots=True)
class _Entry:
    rule: RouteRule
    segments: tuple[str, ...]
    template: str
    rank: tuple[tuple[int, ...], int]


class RouteTable:
    """The rules that apply to one issuer, pre-split so matching a request is cheap."""

    __slots__ = ("_default", "_entries", "rules")

    def __init__(self, rules: Iterable[RouteRule], issuer: str | None = None) -> None:
        self.rules = tuple(rule for rule in rules if issuer is None or rule.applies_to(issuer))
        self._entries = tuple(
            _Entry(
                rule,
                tuple(split_path(rule.path)),
                normalise_template(rule.path),
                _specificity(rule),
            )
            for rule in self.rules
            if not rule.is_default
        )
        self._default = next((rule for rule in self.rules if rule.is_default), None)

    @property
    def default_rule(self) -> RouteRule | None:
        return self._default

    def match(self, target: RouteTarget) -> RouteRule | None:
        """The rule that governs ``target``: template first, then concrete path, then $default."""
        if target.is_default_route:
            return self._default
        methods = (target.method.upper(), "ANY")
        candidates = [entry for entry in self._entries if entry.rule.method in methods]
        if target.template is not None:
            wanted = normalise_template(target.template)
            exact = [entry for entry in candidates if entry.template == wanted]
            if exact:
                return min(exact, key=_rank).rule
        if target.path is not None:
            segments = split_path(target.path)
            matching = [entry for entry in candidates if _path_matches(entry.segments, segments)]
            if matching:
                return min(matching, key=_rank).rule
        return self._default


def _rank(entry: _Entry) -> tuple[tuple[int, ...], int]:
    return entry.rank


def decide(rule: RouteRule | None, principal: Principal, *, unmatched_allows: bool) -> Decision:
    """Any-of ``scopes`` and all-of ``all_scopes``; no rule falls back to ``unmatched``."""
    if rule is None:
        if unmatched_allows:
            return Decision(allowed=True, rule=None)
        return Decision(allowed=False, rule=None, reason=RouteNotPermitted.reason)
    held = principal.permissions
    if rule.scopes and held.isdisjoint(rule.scopes):
        return Decision(
            allowed=False, rule=rule, reason=InsufficientScope.reason, missing=rule.scopes
        )
    lacking = rule.all_scopes - held
    if lacking:
        return Decision(allowed=False, rule=rule, reason=InsufficientScope.reason, missing=lacking)
    return Decision(allowed=True, rule=rule)


def relevant_permissions(rules: Iterable[RouteRule]) -> frozenset[str]:
    """Only these permissions can change a decision (used to key the policy cache)."""
    found: set[str] = set()
    for rule in rules:
        found.update(rule.scopes)
        found.update(rule.all_scopes)
    return frozenset(found)
