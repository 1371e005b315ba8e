"""What an IAM answer covers, worked out exactly over every ARN API Gateway can check it against.

A cached answer is evaluated against the ``METHOD/path`` of later requests, and IAM's ``*``
crosses ``/`` and matches nothing at all, so a pattern written for one route also reaches other
routes, deeper paths and paths with empty segments. Sampling cannot show that an answer is safe;
this module decides it for all paths at once.

Every pattern the policy stage may use is a sequence of whole segments: literals, and ``*``
between slashes, which matches exactly a run of one or more segments (each possibly empty). The
route decision only ever compares a segment with the rules' literals. So any two non-empty
segments equal to no literal behave alike, and the paths reduce to words over a finite alphabet:
the literals, the empty segment and one "other". Over that alphabet the route decision and every
pattern are finite automata; a breadth-first walk of their product reaches every combination of
"which rule decides" and "which patterns match" that any real ARN can produce, with a witness
ARN for each. These *signatures* are all the policy stage needs to choose a safe answer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, Literal

from .routes import DEFAULT, GREEDY, LITERAL, PARAM, CompiledRule, RouteTable, path_segments

#: The methods API Gateway routes (``ANY`` stands for all of them).
METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
#: Any other non-empty segment. A real segment never contains "/", so this never equals one.
OTHER: Final = "/"
_DEAD: Final = -1
_DONE: Final = -2  # a greedy {proxy+} has taken the rest of the path
SLASH_OWNER: Final = -2

Role = Literal["rule", "deeper", "default", "root", "slash"]
Token = str | None  # None: "*", one or more whole segments


@dataclass(frozen=True, slots=True)
class Candidate:
    """A pattern the policy stage may put in an answer, and why it exists.

    * ``rule``: the route's own pattern (``{param}`` and ``{proxy+}`` become ``*``), per method;
    * ``deeper``: the same with one ``{param}`` spanning several segments (``*/*``), to take back
      what IAM's ``*`` grants beyond a one-segment parameter;
    * ``default``: ``METHOD/*``, every path, for the requests no rule matches;
    * ``root``: ``METHOD/``, the root path, which ``METHOD/*`` also matches;
    * ``slash``: ``*//*`` and ``*/*/``, every path with an empty segment.
    """

    tokens: tuple[Token, ...]
    role: Role
    owner: int  # compiled-rule index for rule/deeper; DEFAULT; SLASH_OWNER

    @property
    def text(self) -> str:
        return "/".join("*" if token is None else token for token in self.tokens)


@dataclass(frozen=True, slots=True)
class Signature:
    """One reachable combination: the deciding rule (or DEFAULT), the matching candidates (a
    bitmask over :attr:`Coverage.candidates`), and an ARN suffix that produces it."""

    winner: int
    matched: int
    witness: str


def _candidates(compiled: tuple[CompiledRule, ...]) -> tuple[Candidate, ...]:
    found: list[Candidate] = []
    for owner, rule in enumerate(compiled):
        methods = METHODS if rule.method == "ANY" else (rule.method,)
        path: tuple[Token, ...] = tuple(
            segment if kind == LITERAL else None
            for segment, kind in zip(rule.segments, rule.kinds, strict=True)
        ) or ("",)
        found += [Candidate((method, *path), "rule", owner) for method in methods]
        for index, kind in enumerate(rule.kinds):
            if kind == PARAM:
                deeper = (*path[:index], None, None, *path[index + 1 :])
                found += [Candidate((method, *deeper), "deeper", owner) for method in methods]
    found += [Candidate((method, None), "default", DEFAULT) for method in METHODS]
    found += [Candidate((method, ""), "root", DEFAULT) for method in METHODS]
    found += [
        Candidate((None, "", None), "slash", SLASH_OWNER),
        Candidate((None, None, ""), "slash", SLASH_OWNER),
    ]
    return tuple(found)


class _Patterns:
    """All candidates as one bit-parallel NFA over segments (shift-and): each candidate's
    ``*`` is two positions, "one segment" then "any more"; a state is a bitmask of positions,
    and one step is a few integer operations whatever the number of candidates."""

    def __init__(self, candidates: tuple[Candidate, ...]) -> None:
        self._literal: dict[str, int] = {}  # symbol -> positions expecting that literal
        self._at: dict[int, str] = {}  # literal position -> its literal
        self._one = 0  # positions taking any one segment
        self._many = 0  # positions looping on any segment (epsilon to the next position)
        self._ends: dict[int, int] = {}  # position bit of each candidate's end -> candidate bit
        self.initial = 0
        position = 0
        for index, candidate in enumerate(candidates):
            self.initial |= 1 << position
            for token in candidate.tokens:
                if token is None:
                    self._one |= 1 << position
                    self._many |= 1 << (position + 1)
                    position += 2
                else:
                    self._literal[token] = self._literal.get(token, 0) | 1 << position
                    self._at[position] = token
                    position += 1
            self._ends[1 << position] = 1 << index
            position += 1
        self._literal_positions = sum(1 << p for p in self._at)
        self._end_mask = sum(self._ends)
        self.initial = self._close(self.initial)
        self._accepted: dict[int, int] = {}
        self._expected: dict[int, frozenset[str]] = {}

    def _close(self, mask: int) -> int:
        return mask | (mask & self._many) << 1

    def step(self, mask: int, symbol: str) -> int:
        moved = (mask & (self._literal.get(symbol, 0) | self._one)) << 1
        return self._close(moved | (mask & self._many))

    def expected(self, mask: int) -> frozenset[str]:
        """The literals some live position waits for: every other segment acts alike."""
        found = self._expected.get(mask)
        if found is None:
            waiting = mask & self._literal_positions
            found = frozenset(self._at[p] for p in _bits(waiting))
            self._expected[mask] = found
        return found

    def accepted(self, mask: int) -> int:
        ends = mask & self._end_mask
        found = self._accepted.get(ends)
        if found is None:
            found = 0
            remaining = ends
            while remaining:
                low = remaining & -remaining
                found |= self._ends[low]
                remaining ^= low
            self._accepted[ends] = found
        return found


class Coverage:
    """The signatures of one route table, computed once (they do not depend on the caller).

    Only *canonical* paths (no empty segment, or exactly the root ``/``) are enumerated: paths
    with an empty segment are handled by the two ``slash`` candidates, which the policy stage
    uses to deny all of them whenever it must (see :func:`policy.make_plan`).
    """

    def __init__(self, table: RouteTable) -> None:
        self.table = table
        self._compiled = table.compiled
        self.candidates = _candidates(self._compiled)
        self.slash_mask = _mask(i for i, c in enumerate(self.candidates) if c.role == "slash")
        self.star_mask = _mask(i for i, c in enumerate(self.candidates) if None in c.tokens)
        #: Exactly the paths with one of the methods API Gateway routes match a default
        #: candidate (``METHOD/*``): signatures without one stand for other methods.
        self.known_method_mask = _mask(
            i for i, c in enumerate(self.candidates) if c.role == "default"
        )
        literals = {segment for rule in self._compiled for segment in rule.segments}
        literals |= {t for c in self.candidates for t in c.tokens if t}
        self._literals = frozenset(literals | set(METHODS))
        self._order = sorted(range(len(self._compiled)), key=lambda i: self._compiled[i].rank)
        self._patterns = _Patterns(self.candidates)
        # The route decision's states, interned: id -> per-rule matcher states.
        self._dstates: list[tuple[int, ...]] = []
        self._dindex: dict[tuple[int, ...], int] = {}
        self._dnext: dict[tuple[int, str], int] = {}
        self._dexpected: list[frozenset[str]] = []
        self._dwinner: list[int] = []
        self._other_path = _fresh("x", self._literals)
        self._other_method = _fresh("PROPFIND", self._literals)
        self.signatures = tuple(self._walk())
        #: For each candidate, the signatures it matches (a bitmask over :attr:`signatures`).
        self.cover = [0] * len(self.candidates)
        for index, signature in enumerate(self.signatures):
            for candidate in _bits(signature.matched):
                self.cover[candidate] |= 1 << index

    # -- the route decision as an automaton

    def _intern(self, state: tuple[int, ...]) -> int:
        found = self._dindex.get(state)
        if found is None:
            found = len(self._dstates)
            self._dindex[state] = found
            self._dstates.append(state)
            expected = set()
            winner = DEFAULT
            for index in self._order:
                value = state[index]
                if value == _DONE or value == len(self._compiled[index].kinds):
                    winner = index
                    break
            for rule, value in zip(self._compiled, state, strict=True):
                if 0 <= value < len(rule.kinds) and rule.kinds[value] == LITERAL:
                    expected.add(rule.segments[value])
            self._dexpected.append(frozenset(expected))
            self._dwinner.append(winner)
        return found

    def _method_state(self, symbol: str) -> int:
        return self._intern(
            tuple(0 if r.method in (symbol, "ANY") else _DEAD for r in self._compiled)
        )

    def _step_rules(self, state: int, symbol: str) -> int:
        """One path segment; empty segments do not route."""
        if symbol == "":
            return state
        key = (state, symbol)
        found = self._dnext.get(key)
        if found is None:
            current = self._dstates[state]
            found = self._intern(
                tuple(_advance(r, s, symbol) for r, s in zip(self._compiled, current, strict=True))
            )
            self._dnext[key] = found
        return found

    # -- the walk

    def _walk(self) -> Iterator[Signature]:
        emitted: set[tuple[int, int]] = set()
        for method in (*METHODS, OTHER):
            rules = self._method_state(method)
            mask = self._patterns.step(self._patterns.initial, method)
            name = self._other_method if method == OTHER else method
            root = (self._dwinner[rules], self._patterns.accepted(self._patterns.step(mask, "")))
            if root[1] and root not in emitted:
                emitted.add(root)
                yield Signature(root[0], root[1], f"{name}/")
            start = (rules, mask)
            parents: dict[tuple[int, int], tuple[tuple[int, int], str]] = {}
            seen = {start}
            queue = deque([start])
            while queue:
                current = queue.popleft()
                rules, mask = current
                relevant = (self._dexpected[rules] | self._patterns.expected(mask)) - {""}
                for symbol in (OTHER, *sorted(relevant)):
                    next_mask = self._patterns.step(mask, symbol)
                    if not next_mask:  # no candidate can match this path or any longer one
                        continue
                    state = (self._step_rules(rules, symbol), next_mask)
                    if state in seen:
                        continue
                    seen.add(state)
                    parents[state] = (current, symbol)
                    queue.append(state)
                    key = (self._dwinner[state[0]], self._patterns.accepted(next_mask))
                    if key[1] and key not in emitted:
                        emitted.add(key)
                        yield Signature(key[0], key[1], self._witness(name, parents, state))

    def _witness(
        self,
        method: str,
        parents: dict[tuple[int, int], tuple[tuple[int, int], str]],
        state: tuple[int, int],
    ) -> str:
        symbols: list[str] = []
        current = state
        while current in parents:
            current, symbol = parents[current]
            symbols.append(self._other_path if symbol == OTHER else symbol)
        return method + "/" + "/".join(reversed(symbols))

    # -- one concrete request

    def signature_of(self, method: str, path: str) -> tuple[int, int]:
        """(winner, matched candidates) of a concrete request (``path`` starts with ``/``),
        through the same automata as the walk."""
        symbol = self._symbol(method)
        state = self._method_state(symbol)
        mask = self._patterns.step(self._patterns.initial, symbol)
        for segment in path[1:].split("/"):
            symbol = self._symbol(segment)
            state = self._step_rules(state, symbol)
            if mask:
                mask = self._patterns.step(mask, symbol)
        return self._dwinner[state], self._patterns.accepted(mask) if mask else 0

    def _symbol(self, segment: str) -> str:
        return segment if segment == "" or segment in self._literals else OTHER

    def route_closure(self, method: str, template: str) -> frozenset[int]:
        """The winners of every request API Gateway can route to the route ``method template``
        (``ANY`` for any method, ``$default`` for every path), except requests a rule of higher
        precedence than that route decides: those are routed to that rule's own route."""
        if template == "$default":  # every rule takes precedence over $default
            return frozenset({DEFAULT})
        route = CompiledRule.of_key(method, template)
        winners: set[int] = set()

        def add(rules: int, position: int) -> None:
            if position == _DONE or position == len(route.kinds):
                winner = self._dwinner[rules]
                if winner == DEFAULT or self._compiled[winner].rank >= route.rank:
                    winners.add(winner)

        for verb in (*METHODS, OTHER):
            if route.method not in (verb, "ANY"):
                continue
            start = (self._method_state(verb), 0)
            add(*start)
            seen = {start}
            queue = deque([start])
            while queue:
                rules, position = queue.popleft()
                relevant = set(self._dexpected[rules])
                if 0 <= position < len(route.kinds) and route.kinds[position] == LITERAL:
                    relevant.add(route.segments[position])
                for symbol in (OTHER, *sorted(relevant)):
                    step = _advance(route, position, symbol)
                    if step == _DEAD:
                        continue
                    state = (self._step_rules(rules, symbol), step)
                    if state not in seen:
                        seen.add(state)
                        queue.append(state)
                        add(*state)
        return frozenset(winners)


def _mask(indexes: Iterable[int]) -> int:
    mask = 0
    for index in indexes:
        mask |= 1 << index
    return mask


def _bits(mask: int) -> Iterator[int]:
    """Indexes of the set bits, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _advance(rule: CompiledRule, state: int, symbol: str) -> int:
    """One non-empty segment through one rule's matcher."""
    if state < 0:
        return state
    if state == len(rule.kinds):
        return _DEAD
    kind = rule.kinds[state]
    if kind == GREEDY:
        return _DONE
    if kind == PARAM or rule.segments[state] == symbol:
        return state + 1
    return _DEAD


def _fresh(base: str, taken: frozenset[str]) -> str:
    candidate, n = base, 0
    while candidate in taken:
        n += 1
        candidate = f"{base}{n}"
    return candidate


__all__ = ["METHODS", "Candidate", "Coverage", "Signature", "bits", "path_segments"]

bits = _bits
