"""Cache-safe IAM policies: one answer that is right for every route of the API.

API Gateway caches an authorizer's policy per token and re-evaluates it for every later call,
on any route, for the whole TTL. A policy that only allows the current ``methodArn`` therefore
turns the next route into a 403. We compute, from the route rules and the caller's permissions,
Allow statements for every route the caller may call and Deny statements for the routes it may
not, then *check* the result the way API Gateway will evaluate it (any matching Deny wins, no
matching Allow is an implicit deny) against a sample request for every rule and against the
current request. If IAM's wildcard semantics cannot express the rules exactly (``*`` also
crosses ``/``), we fall back to a policy for the current route only, which is never too
permissive, and say so in the logs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Final, Literal

from .claims import Principal
from .config import RouteRule
from .routes import RouteTable, RouteTarget, decide, split_path

Effect = Literal["Allow", "Deny"]
_SAMPLE_SEGMENT: Final = "sample~value"
_MAX_RESOURCE_LENGTH: Final = 512


@dataclass(frozen=True, slots=True)
class MethodArn:
    """``arn:{partition}:execute-api:{region}:{account}:{api}/{stage}/{VERB}/{path}``.

    Split on the first five colons only: a path may itself contain colons.
    """

    partition: str
    region: str
    account: str
    api_id: str
    stage: str
    method: str
    path: str

    @classmethod
    def parse(cls, arn: str) -> MethodArn:
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "execute-api":
            raise ValueError("not an execute-api ARN")
        api_parts = parts[5].split("/", 3)
        if len(api_parts) < 3 or not all(api_parts[:3]):
            raise ValueError("execute-api ARN lacks api id, stage or method")
        path = "/" + (api_parts[3] if len(api_parts) == 4 else "")
        return cls(
            partition=parts[1],
            region=parts[3],
            account=parts[4],
            api_id=api_parts[0],
            stage=api_parts[1],
            method=api_parts[2],
            path=path,
        )

    @property
    def prefix(self) -> str:
        return (
            f"arn:{self.partition}:execute-api:{self.region}:{self.account}:"
            f"{self.api_id}/{self.stage}"
        )

    def resource(self, method_and_path: str) -> str:
        return f"{self.prefix}/{method_and_path}"


@dataclass(frozen=True, slots=True)
class Statement:
    effect: Effect
    resources: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        """Exact key casing and no null members: API Gateway rejects anything else."""
        resource: object = self.resources[0] if len(self.resources) == 1 else list(self.resources)
        return {"Action": "execute-api:Invoke", "Effect": self.effect, "Resource": resource}


def rule_pattern(rule: RouteRule) -> str:
    """The method-and-path part of a rule's ARN: ``{id}`` and ``{proxy+}`` become ``*``."""
    if rule.is_default:
        return "*"
    method = "*" if rule.method == "ANY" else rule.method
    segments = ["*" if segment.startswith("{") else segment for segment in split_path(rule.path)]
    return f"{method}/" + "/".join(segments)


def _deeper_variants(rule: RouteRule) -> list[str]:
    """Patterns for requests where a one-segment wildcard (``ANY``, ``{param}``) spans several
    segments: IAM's ``*`` allows them, the route template does not."""
    parts = rule_pattern(rule).split("/")
    greedy = [s.endswith("+}") for s in split_path(rule.path)]
    variants = []
    for index, part in enumerate(parts):
        if part == "*" and not (index > 0 and greedy[index - 1]):
            variants.append("/".join([*parts[:index], "*/*", *parts[index + 1 :]]))
    return variants


def _sample(rule: RouteRule) -> tuple[str, str]:
    """A concrete request the rule governs: (method, path), parameters filled in."""
    segments = []
    for segment in split_path(rule.path):
        if segment.endswith("+}"):
            segments.extend([_SAMPLE_SEGMENT, _SAMPLE_SEGMENT])
        elif segment.startswith("{"):
            segments.append(_SAMPLE_SEGMENT)
        else:
            segments.append(segment)
    return ("GET" if rule.method == "ANY" else rule.method), "/" + "/".join(segments)


def glob_matches(pattern: str, value: str) -> bool:
    """IAM ARN matching: ``*`` is any run of characters (``/`` included), ``?`` is one.

    No regular expression: ``.*`` backtracking costs len(value)**k for k stars, and the path is
    the caller's. Between stars, the leftmost occurrence of each piece is the right one, so one
    left-to-right scan decides (linear in the value, for each piece).
    """
    pieces = pattern.split("*")
    first, last = pieces[0], pieces[-1]
    if len(pieces) == 1:
        return len(value) == len(first) and _piece_at(first, value, 0)
    tail = len(value) - len(last)
    if tail < len(first) or not _piece_at(first, value, 0) or not _piece_at(last, value, tail):
        return False
    position = len(first)
    for piece in pieces[1:-1]:
        found = _find_piece(piece, value, position, tail)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def _piece_at(piece: str, value: str, start: int) -> bool:
    if "?" not in piece:
        return value.startswith(piece, start)
    if start + len(piece) > len(value):
        return False
    return all(p in ("?", v) for p, v in zip(piece, value[start : start + len(piece)], strict=True))


def _find_piece(piece: str, value: str, start: int, end: int) -> int:
    """Leftmost index >= start where ``piece`` fits entirely before ``end``, or -1."""
    if "?" not in piece:
        return value.find(piece, start, end)
    for index in range(start, end - len(piece) + 1):
        if _piece_at(piece, value, index):
            return index
    return -1


def evaluate(statements: Iterable[Statement], resource: str) -> bool:
    """What API Gateway will conclude for ``resource``: explicit Deny wins, else any Allow."""
    allowed = False
    for statement in statements:
        if any(glob_matches(pattern, resource) for pattern in statement.resources):
            if statement.effect == "Deny":
                return False
            allowed = True
    return allowed


def explicitly_denied(statements: Iterable[Statement], resource: str) -> bool:
    return any(
        statement.effect == "Deny" and any(glob_matches(p, resource) for p in statement.resources)
        for statement in statements
    )


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """Statements for every route, plus whether they passed the cache-safety check."""

    statements: tuple[Statement, ...]
    cache_safe: bool


def route_policy(
    arn: MethodArn, table: RouteTable, principal: Principal, *, unmatched_allows: bool
) -> RoutePolicy:
    """Build the statements for all routes and check them against a sample of every rule."""
    decide_for = partial(decide, principal=principal, unmatched_allows=unmatched_allows)
    default_allowed = decide_for(table.default_rule).allowed
    concrete = [rule for rule in table.rules if not rule.is_default]
    verdicts = {rule: decide_for(rule).allowed for rule in concrete}
    allowed = [rule for rule in concrete if verdicts[rule]]
    denied = [rule for rule in concrete if not verdicts[rule]]
    allow_patterns = ["*"] if default_allowed else _unique(rule_pattern(r) for r in allowed)
    sample_of = {rule: _sample(rule) for rule in concrete}
    samples = [f"{sample_of[r][0]}{sample_of[r][1]}" for r in allowed]
    candidates = [rule_pattern(r) for r in denied]
    if not default_allowed:
        # Unlisted routes are denied: take back what a one-segment '*' grants beyond its segment.
        candidates += [wider for r in allowed for wider in _deeper_variants(r)]
    deny_patterns = [
        pattern
        for pattern in _unique(candidates)
        if not any(glob_matches(pattern, sample) for sample in samples)
    ]
    statements = []
    if allow_patterns:
        statements.append(Statement("Allow", tuple(arn.resource(p) for p in allow_patterns)))
    if deny_patterns:
        statements.append(Statement("Deny", tuple(arn.resource(p) for p in deny_patterns)))
    safe = all(
        evaluate(statements, arn.resource(f"{method}{path}"))
        == decide_for(table.match(RouteTarget(method, path=path))).allowed
        for method, path in sample_of.values()
    )
    return RoutePolicy(statements=tuple(statements), cache_safe=safe)


def current_route_statement(arn: MethodArn, effect: Effect) -> Statement:
    """The narrow fallback: this method and path only. An ARN too long for a policy resource
    cannot be allowed precisely, so it is denied instead (never widened)."""
    resource = arn.resource(f"{arn.method}{arn.path}")
    if len(resource) > _MAX_RESOURCE_LENGTH:
        return Statement("Deny", (arn.resource(f"{arn.method}/*"),))
    return Statement(effect, (resource,))


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
