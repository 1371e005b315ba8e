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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from threading import Lock
from typing import Final

from .coverage import Coverage, Signature, bits
from .errors import CacheUnsafe
from .event import MethodArn
from .iam import Statement, evaluate, explicitly_denied, literal_resource
from .routes import DEFAULT, Decision, RouteRule, RouteTable, permits, relevant_permissions

_CACHE_SIZE: Final = 512
# The memo of IAM answers per (rule set, method ARN, relevant permissions): entries, and the
# longest path worth remembering (the path is the caller's).
_MEMO_SIZE: Final = 1024
_MEMO_PATH_LIMIT: Final = 256
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

    ``keep_out`` lists candidates that must not be Denies (they match the current request,
    which the rules allow). Steps: every candidate a verdict calls for; drop each Allow that
    reaches a denied signature no Deny covers (soundness); drop each Deny that soundness does
    not need, lockout-causing ones first; drop each Allow another Allow makes redundant.
    Signatures, and so this analysis, cover canonical paths; paths with an empty segment are
    denied by the two slash candidates whenever the answer has a ``*`` Allow and the rules deny
    anything, and when the current request is such a path (``keep_out`` holds a slash
    candidate) the answer keeps only literal Allows, which match canonical paths only.
    """
    candidates = coverage.candidates
    cover = coverage.cover
    signatures = coverage.signatures
    allow = deny = 0
    for index, candidate in enumerate(candidates):
        if candidate.role == "rule":
            if verdicts[candidate.owner]:
                allow |= 1 << index
            else:
                deny |= 1 << index
        elif candidate.role == "default":
            if default_allowed:
                allow |= 1 << index
        elif candidate.role != "slash":
            deny |= 1 << index
    deny &= ~keep_out
    if keep_out & coverage.slash_mask:
        allow &= ~coverage.star_mask
    denied = granted = 0
    for position, signature in enumerate(signatures):
        permitted = default_allowed if signature.winner == DEFAULT else verdicts[signature.winner]
        if permitted:
            granted |= 1 << position
        else:
            denied |= 1 << position
    # Soundness: no Allow may reach a denied signature that no Deny covers.
    exposed = denied & ~_union(cover, deny)
    for index in bits(allow):
        if cover[index] & exposed:
            allow &= ~(1 << index)
    reached = _union(cover, allow)
    needed = denied & reached  # each of these must keep at least one Deny
    # Fewer lockouts: drop the Denies soundness does not need, the most harmful first.
    order = sorted(
        bits(deny),
        key=lambda i: (-_count(cover[i] & granted & reached), _ROLE_ORDER[candidates[i].role]),
    )
    deny = _prune(deny, order, cover, needed)
    denied_reach = _union(cover, deny)
    covered = granted & reached & ~denied_reach
    # Smaller answers: drop Allows whose granted signatures another Allow covers too.
    extra = [i for i in bits(allow) if candidates[i].role != "default"]
    allow = _prune(allow, extra, cover, covered)
    if allow & coverage.star_mask and denied:
        deny |= coverage.slash_mask
    locked = granted & ~(_union(cover, allow) & ~denied_reach)
    lockouts = tuple(
        signature
        for position, signature in enumerate(signatures)
        if locked >> position & 1 and signature.matched & coverage.known_method_mask
    )
    return Plan(allow=allow, deny=deny, lockouts=lockouts)


def _prune(chosen: int, order: list[int], cover: list[int], must: int) -> int:
    """Drop, in ``order``, each candidate of ``chosen`` whose part of ``must`` (a set of
    signatures) stays covered by the others: keeps every signature of ``must`` covered."""
    counts: dict[int, int] = {}
    mine: dict[int, list[int]] = {}
    for index in bits(chosen):
        mine[index] = positions = list(bits(cover[index] & must))
        for position in positions:
            counts[position] = counts.get(position, 0) + 1
    for index in order:
        positions = mine[index]
        if all(counts[position] > 1 for position in positions):
            chosen &= ~(1 << index)
            for position in positions:
                counts[position] -= 1
    return chosen


def _union(cover: list[int], mask: int) -> int:
    found = 0
    for index in bits(mask):
        found |= cover[index]
    return found


def _count(mask: int) -> int:
    return mask.bit_count()


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
        self._defaults = self.coverage.known_method_mask
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
            allow = tuple(arn.resource(texts[i]) for i in bits(plan.allow))
            if plan.allow & self._defaults == self._defaults and not plan.deny:
                # Every known method on every path, nothing denied: every rule that applies to
                # any method (ANY) allows too, so "*" is as safe and much shorter.
                allow = (arn.resource("*"),)
            deny = tuple(arn.resource(texts[i]) for i in bits(plan.deny))
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

    def simple_answer(
        self, held: frozenset[str], arn: MethodArn, route_key: str | None
    ) -> SimpleAnswer:
        """A simple answer cached per route key (``simple_cache_key: route``): may it be true?

        With a route key, the entry is shared by the requests API Gateway routes there; a rule
        of higher precedence governing this request shows that rule is not a route of the API
        (``mismatched``), and its paths share the entry too (this request is decided as well).
        Without one, any request may share it."""
        route = route_of(route_key)
        if route is None:
            return SimpleAnswer(self.simple_allowed(held))
        winner = self.table.winner(arn.method, arn.path)
        mismatched = None
        if winner != DEFAULT and winner not in self.route_closure(*route):
            mismatched = self.table.compiled[winner].rule.route_key
        return SimpleAnswer(self.simple_allowed(held, *route), mismatched)


@dataclass(frozen=True, slots=True)
class RouteAnswer:
    """What the rules answer one request: its decision and, for an IAM answer, the statements
    API Gateway caches. The other fields tell the handler what to count and log: the answer
    left the caller's general policy (``narrowed``: the permissions that shaped it), a rule is
    not a route of the API (``route_mismatch``), the re-check disagreed (``mismatch``)."""

    decision: Decision
    statements: tuple[Statement, ...] = ()
    narrowed: frozenset[str] | None = None
    route_mismatch: str | None = None
    mismatch: bool = False


class Policies:
    """The per-request answers of one configuration.

    One route table and :class:`PolicyBuilder` per distinct rule set (issuers with the same
    rules share the analysis), and a bounded memo of IAM answers: the decision and statements
    are a pure function of the rule set, the method ARN and the permissions the rules look at,
    while the check of the statements against the request runs on every call."""

    def __init__(
        self,
        rules_by_issuer: Mapping[str, tuple[RouteRule, ...]],
        *,
        unmatched_allows: bool,
        simple_cache_key: str = "route",
    ) -> None:
        shared: dict[tuple[RouteRule, ...], PolicyBuilder] = {}
        self._by_issuer: dict[str, PolicyBuilder] = {}
        for issuer, rules in rules_by_issuer.items():
            builder = shared.get(rules)
            if builder is None:
                builder = PolicyBuilder(RouteTable(rules, unmatched_allows=unmatched_allows))
                shared[rules] = builder
            self._by_issuer[issuer] = builder
        self.builders = tuple(shared.values())
        self._per_request = simple_cache_key == "request"
        self._memo: dict[
            tuple[PolicyBuilder, MethodArn, frozenset[str]], tuple[Decision, Answer, str]
        ] = {}

    def clear(self) -> None:
        """Forget the memo and every builder's cached plans."""
        self._memo.clear()
        for builder in self.builders:
            builder.clear()

    def iam(self, issuer: str, arn: MethodArn, held: frozenset[str]) -> RouteAnswer:
        """The IAM answer for ``arn``, re-checked against it with IAM's rules: if the statements
        ever disagreed with the decision (the analysis would be wrong), deny everything."""
        builder = self._by_issuer[issuer]
        key = (builder, arn, builder.key(held))
        found = self._memo.get(key)
        if found is None:
            decision = builder.table.decide(arn.method, arn.path, held)
            found = (
                decision,
                builder.iam_answer(arn, held, decision.allowed),
                arn.resource(f"{arn.method}{arn.path}"),
            )
            if len(arn.path) <= _MEMO_PATH_LIMIT:
                if len(self._memo) >= _MEMO_SIZE:
                    self._memo.clear()
                self._memo[key] = found
        decision, answer, current = found
        if answer.refused:
            decision = Decision(allowed=False, rule=decision.rule, denial=CacheUnsafe)
        if evaluate(answer.statements, current) != decision.allowed:
            deny_all = (Statement("Deny", (arn.resource("*"),)),)
            refused = Decision(allowed=False, rule=decision.rule, denial=CacheUnsafe)
            return RouteAnswer(refused, deny_all, mismatch=True)
        narrowed = key[2] if answer.narrowed else None
        return RouteAnswer(decision, answer.statements, narrowed=narrowed)

    def simple(
        self, issuer: str, arn: MethodArn, route_key: str | None, held: frozenset[str]
    ) -> RouteAnswer:
        """A simple answer is reused for every request sharing its cache entry: with
        ``simple_cache_key: route``, ``true`` only if the rules allow all of them."""
        builder = self._by_issuer[issuer]
        decision = builder.table.decide(arn.method, arn.path, held)
        if not decision.allowed or self._per_request:
            return RouteAnswer(decision)
        shared = builder.simple_answer(held, arn, route_key)
        if not shared.allowed:
            decision = Decision(allowed=False, rule=decision.rule, denial=CacheUnsafe)
        return RouteAnswer(decision, route_mismatch=shared.mismatched)


@dataclass(frozen=True, slots=True)
class SimpleAnswer:
    """Whether a cached ``true`` would be right for every request sharing the entry, and the
    rule that proved not to be a route of the API, if one did."""

    allowed: bool
    mismatched: str | None = None


def route_of(route_key: str | None) -> tuple[str, str] | None:
    """``GET /orders/{id}`` -> ("GET", "/orders/{id}"); ``$default`` -> ("ANY", "$default")."""
    if route_key is None:
        return None
    if route_key == "$default":
        return "ANY", "$default"
    method, _, template = route_key.partition(" ")
    return method, template


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

    A route is reported when the caller's general answer denies it: a Deny that safety needs
    also covers it, or no safe Allow reaches it. When such a caller calls it first, the answer
    is narrower (``PolicyFallback``) and leaves out other routes instead. Paths with empty
    segments are not reported: cached answers never cover them while any route is denied."""
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
    seen: set[tuple[tuple[bool, ...], bool]] = set()
    for held in scenarios:
        verdicts = table.verdicts(held)
        if verdicts in seen:
            continue
        seen.add(verdicts)
        plan = builder.plan(held)
        for signature in plan.lockouts:
            denies = signature.matched & plan.deny
            report(
                signature,
                held,
                sorted(
                    {
                        _owner_label(table, candidates[i].owner, candidates[i].role)
                        for i in bits(denies)
                    }
                )
                or ["no Allow reaching it is safe"],
            )
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
