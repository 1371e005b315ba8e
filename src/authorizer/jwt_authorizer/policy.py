"""The answer's policy: as many of the caller's routes as one cache-safe IAM policy can hold.

API Gateway caches an authorizer's answer (per token, or per identity-source values) and
evaluates it for later calls, on any method and path, for the whole TTL. So an answer must hold
for every ARN it may be checked against, not only for the request that produced it:

* **never wider than the rules**: no ARN the answer allows is denied by the route rules, for any
  method and any path API Gateway can produce (``*``, ``?``, ``//``, a trailing ``/``, percent
  encodings, deep paths under greedy routes). Proved per answer from the route table's
  signatures (:mod:`.coverage`), and rechecked against the request with IAM's own rules;
* **right for this request**: allowed exactly when the rules allow it;
* **as wide as it can be**: every other route the caller may call is covered too, unless IAM's
  wildcards cannot express the difference (then that route gets a 403 from the cached answer
  until it expires: a *lockout*, counted, and reported at init for the rule sets that cause it).

No resource is ever built from request data that IAM would read as a wildcard: patterns come
from the configured rules, and a request's own ARN is used only when it is literal.

HTTP API simple responses carry no resource at all: a cached ``true`` is reused for every
request with the same identity-source values, so the answer is ``true`` only if the rules allow
every request that may share that cache entry (``simple_cache_key``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from threading import Lock
from typing import Final

from .config import RouteRule
from .coverage import Coverage, Signature
from .event import MethodArn
from .iam import Statement, explicitly_denied, literal_resource
from .routes import DEFAULT, RouteTable, permits, relevant_permissions

_CACHE_SIZE: Final = 512
#: Deny candidates are dropped first when they lock routes out; slash patterns last.
_ROLE_ORDER: Final = {"deeper": 0, "rule": 1, "root": 2, "slash": 3, "default": 4}


@dataclass(frozen=True, slots=True)
class Plan:
    """Which candidates an answer uses (bitmasks) and which allowed routes it leaves out."""

    allow: int
    deny: int
    lockouts: tuple[Signature, ...]


@dataclass(frozen=True, slots=True)
class Answer:
    """The statements for one request, and whether they had to leave this request's own
    general policy (``narrowed``) or could not allow it at all (``refused``)."""

    statements: tuple[Statement, ...]
    narrowed: bool = False
    refused: bool = False


def make_plan(
    coverage: Coverage,
    verdicts: tuple[bool, ...],
    default_allowed: bool,
    *,
    keep_out: int = 0,
) -> Plan:
    """Choose the candidates of a sound answer for one verdict vector.

    ``keep_out`` lists Deny candidates that must not be used (they match the current request,
    which the rules allow). Steps: every candidate a verdict calls for; drop each Allow that
    reaches a denied signature no Deny covers (soundness); drop each Deny that soundness does
    not need, lockout-causing ones first; drop each Allow another Allow makes redundant.
    """
    candidates = coverage.candidates
    allow = deny = 0
    for index, candidate in enumerate(candidates):
        bit = 1 << index
        if candidate.role == "rule":
            if verdicts[candidate.owner]:
                allow |= bit
            else:
                deny |= bit
        elif candidate.role == "default":
            if default_allowed:
                allow |= bit
        else:
            deny |= bit
    deny &= ~keep_out

    def permitted(signature: Signature) -> bool:
        return default_allowed if signature.winner == DEFAULT else verdicts[signature.winner]

    denied = [s.matched for s in coverage.signatures if not permitted(s)]
    granted = [s for s in coverage.signatures if permitted(s)]
    for matched in denied:
        if matched & allow and not matched & deny:
            allow &= ~matched
    uncovered_needs = [m for m in denied if m & allow]

    def lockouts_caused(bit: int) -> int:
        return sum(1 for s in granted if s.matched & bit and s.matched & allow)

    order = sorted(
        (1 << i for i in range(len(candidates)) if deny >> i & 1),
        key=lambda bit: (
            -lockouts_caused(bit),
            _ROLE_ORDER[candidates[bit.bit_length() - 1].role],
        ),
    )
    for bit in order:
        trial = deny & ~bit
        if all(matched & trial for matched in uncovered_needs):
            deny = trial
    covered = [s.matched for s in granted if s.matched & allow and not s.matched & deny]
    for index in range(len(candidates)):
        bit = 1 << index
        if allow & bit and candidates[index].role != "default":
            trial = allow & ~bit
            if all(matched & trial for matched in covered if matched & bit):
                allow = trial
    lockouts = tuple(
        s
        for s in granted
        if s.matched & coverage.known_method_mask
        and not s.matched & coverage.slash_mask
        and not (s.matched & allow and not s.matched & deny)
    )
    return Plan(allow=allow, deny=deny, lockouts=lockouts)


class PolicyBuilder:
    """Answers for one route table; plans cached per verdict vector (caller-independent)."""

    def __init__(self, table: RouteTable) -> None:
        self.table = table
        self.coverage = Coverage(table)
        self._relevant = relevant_permissions(table.rules)
        self._plans: dict[tuple[frozenset[str], int], Plan] = {}
        self._statements: dict[tuple[str, Plan], tuple[Statement, ...]] = {}
        self._closures: dict[str, frozenset[int]] = {}
        self._lock = Lock()
        self.deny_capable = sum(
            1 << i for i, c in enumerate(self.coverage.candidates) if c.role != "default"
        )

    def clear(self) -> None:
        """Forget every cached plan, statement list and route closure."""
        with self._lock:
            self._plans.clear()
            self._statements.clear()
            self._closures.clear()

    def key(self, held: frozenset[str]) -> frozenset[str]:
        return held & self._relevant

    def plan(self, held: frozenset[str], keep_out: int = 0) -> Plan:
        key = (self.key(held), keep_out)
        found = self._plans.get(key)
        if found is None:
            verdicts, default_allowed = self.table.verdicts(key[0])
            found = make_plan(self.coverage, verdicts, default_allowed, keep_out=keep_out)
            with self._lock:
                if len(self._plans) >= _CACHE_SIZE:
                    self._plans.clear()
                self._plans[key] = found
        return found

    def iam_answer(self, arn: MethodArn, held: frozenset[str], allowed: bool) -> Answer:
        """The statements answering ``arn`` for a caller holding ``held``; ``allowed`` is the
        route decision for this request."""
        plan = self.plan(held)
        _, matched = self.coverage.signature_of(arn.method, arn.path)
        current = arn.resource(f"{arn.method}{arn.path}")
        exact = literal_resource(current)
        if not allowed:
            statements = self._emit(arn, plan)
            if exact and not explicitly_denied(statements, current):
                # An explicit Deny: the client gets the "explicit deny" 403.
                statements = _add_deny(statements, current)
            elif not statements:
                # A policy needs a statement; this one allows nothing, so denying every route
                # takes nothing away.
                statements = (Statement("Deny", (arn.resource("*"),)),)
            return Answer(statements)
        if matched & plan.allow and not matched & plan.deny:
            return Answer(self._emit(arn, plan))
        # The general answer cannot allow this request (a Deny that soundness needs covers it,
        # or no sound Allow reaches it): answer without those Denies, and this request exactly.
        narrowed = self.plan(held, keep_out=matched & self.deny_capable)
        statements = self._emit(arn, narrowed)
        if matched & narrowed.allow and not matched & narrowed.deny:
            return Answer(statements, narrowed=True)
        if exact:
            return Answer(_add_allow(statements, current), narrowed=True)
        return Answer(statements or (Statement("Deny", (arn.resource("*"),)),), refused=True)

    def _emit(self, arn: MethodArn, plan: Plan) -> tuple[Statement, ...]:
        key = (arn.prefix, plan)
        found = self._statements.get(key)
        if found is None:
            texts = [c.text for c in self.coverage.candidates]
            allow = tuple(arn.resource(texts[i]) for i in _bits(plan.allow))
            deny = tuple(arn.resource(texts[i]) for i in _bits(plan.deny))
            found = tuple(
                statement
                for statement in (Statement("Allow", allow), Statement("Deny", deny))
                if statement.resources
            )

            with self._lock:
                if len(self._statements) >= _CACHE_SIZE:
                    self._statements.clear()
                self._statements[key] = found
        return found

    def route_closure(self, method: str, template: str) -> frozenset[int]:
        """Winners of the requests API Gateway routes to ``method template`` (cached)."""
        route = f"{method} {template}"
        found = self._closures.get(route)
        if found is None:
            found = self.coverage.route_closure(method, template)
            with self._lock:
                if len(self._closures) >= _CACHE_SIZE:
                    self._closures.clear()
                self._closures[route] = found
        return found

    def simple_allowed(
        self, held: frozenset[str], method: str | None = None, template: str | None = None
    ) -> bool:
        """Whether the rules allow every request that may share a simple answer's cache entry:
        those API Gateway routes to ``method template``, or every request (no route given)."""
        verdicts, default_allowed = self.table.verdicts(self.key(held))
        winners: Iterable[int] = (
            range(-1, len(verdicts))
            if method is None or template is None
            else self.route_closure(method, template)
        )
        return all(default_allowed if w == DEFAULT else verdicts[w] for w in winners)


def _add_allow(statements: tuple[Statement, ...], resource: str) -> tuple[Statement, ...]:
    allow = [s for s in statements if s.effect == "Allow"]
    rest = tuple(s for s in statements if s.effect != "Allow")
    resources = (resource, *allow[0].resources) if allow else (resource,)
    return (Statement("Allow", resources), *rest)


def _add_deny(statements: tuple[Statement, ...], resource: str) -> tuple[Statement, ...]:
    deny = [s for s in statements if s.effect == "Deny"]
    rest = tuple(s for s in statements if s.effect != "Deny")
    resources = (*deny[0].resources, resource) if deny else (resource,)
    return (*rest, Statement("Deny", resources))


def _bits(mask: int) -> Iterable[int]:
    index = 0
    while mask:
        if mask & 1:
            yield index
        mask >>= 1
        index += 1


@dataclass(frozen=True, slots=True)
class Conflict:
    """A route some callers may call that cached answers cannot always cover."""

    route: str
    example: str
    permissions: tuple[str, ...]
    blocked_by: tuple[str, ...]


def find_conflicts(builder: PolicyBuilder) -> tuple[Conflict, ...]:
    """Routes that cached answers cannot always cover, for the callers most likely to meet
    them: holding nothing, everything, each rule's minimal permissions, all but one.

    Two kinds: a route the caller's general answer denies (a Deny that safety needs also
    covers it, or no safe Allow reaches it), and a route that a narrower answer, given when the
    caller first calls such a route, leaves out. Paths with empty segments are not reported:
    cached answers never cover them while any route is denied (documented)."""
    table = builder.table
    relevant = sorted(relevant_permissions(table.rules))
    scenarios: dict[frozenset[str], None] = {frozenset(): None, frozenset(relevant): None}
    for rule in table.rules:
        for held in _minimal_grants(rule):
            scenarios[held] = None
    for permission in relevant:
        scenarios[frozenset(relevant) - {permission}] = None
    found: dict[tuple[str, tuple[str, ...]], Conflict] = {}

    def report(signature: Signature, held: frozenset[str], blockers: list[str]) -> None:
        route = _route_label(table, signature.winner)
        key = (route, tuple(blockers))
        if key not in found:
            found[key] = Conflict(route, signature.witness, tuple(sorted(held)), key[1])

    candidates = builder.coverage.candidates
    for held in scenarios:
        plan = builder.plan(held)
        for signature in plan.lockouts:
            denies = signature.matched & plan.deny
            report(
                signature,
                held,
                sorted(
                    {
                        _owner_label(table, candidates[i].owner, candidates[i].role)
                        for i in _bits(denies)
                    }
                )
                or ["no Allow reaching it is safe"],
            )
            narrowed = builder.plan(held, keep_out=signature.matched & builder.deny_capable)
            cause = f"an answer cached for {_route_label(table, signature.winner)}"
            for other in narrowed.lockouts:
                if other.winner != signature.winner:
                    report(other, held, [cause])
    return tuple(found.values())


def _route_label(table: RouteTable, winner: int) -> str:
    governing = table.rule_of(winner)
    return governing.route_key if governing else "(requests no rule matches)"


def _owner_label(table: RouteTable, owner: int, role: str) -> str:
    if role == "slash":
        return "paths with empty segments"
    if role == "root":
        return "the root path /"
    governing = table.rule_of(owner)
    name = governing.route_key if governing is not None else "$default"
    return f"{name} (deeper paths)" if role == "deeper" else name


def _minimal_grants(rule: RouteRule) -> list[frozenset[str]]:
    """The smallest permission sets that satisfy ``rule`` (one per any-of choice, capped)."""
    base = frozenset(rule.all_scopes)
    if not rule.scopes:
        return [base]
    grants = [base | {scope} for scope in sorted(rule.scopes)[:8]]
    return [held for held in grants if permits(rule, held)]
