"""How API Gateway evaluates an IAM answer: statements, ARN wildcards, explicit Deny wins.

This module states the gateway's rules and nothing of ours, so the policy stage can check every
answer against them before returning it. ``*`` in a resource matches any run of characters,
``/`` included; ``?`` matches exactly one. The resource of a request is compared literally.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

Effect = Literal["Allow", "Deny"]
#: A request path holding one of these cannot be echoed into a resource: IAM would read it as a
#: wildcard (``*``, ``?``) or as a policy variable (``${...}``).
UNSAFE_IN_RESOURCE: Final = ("*", "?", "${")
#: The longest resource API Gateway accepts in an authorizer's policy statement.
MAX_RESOURCE_LENGTH: Final = 512


def literal_resource(resource: str) -> bool:
    """Whether ``resource`` matches only itself (and fits in a statement)."""
    return len(resource) <= MAX_RESOURCE_LENGTH and not any(
        marker in resource for marker in UNSAFE_IN_RESOURCE
    )


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of an answer: ``execute-api:Invoke`` on ``resources``."""

    effect: Effect
    resources: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        """Exact key casing and no null members: API Gateway rejects anything else."""
        resource: object = self.resources[0] if len(self.resources) == 1 else list(self.resources)
        return {"Action": "execute-api:Invoke", "Effect": self.effect, "Resource": resource}


def glob_matches(pattern: str, value: str) -> bool:
    """IAM ARN matching: ``*`` is any run of characters (``/`` included), ``?`` is one.

    No regular expression: ``.*`` backtracking costs len(value)**k for k stars, and the path is
    the caller's. Between stars, the leftmost occurrence of each piece is the right one, so one
    left-to-right scan decides (linear in the value, for each piece).
    """
    pieces = _pieces(pattern)
    if pieces is None:
        return pattern == value
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


#: Each pattern split at its stars once (None: no wildcard). The patterns are the answers'
#: resources, a few per rule and API stage; bounded anyway.
_PIECES: dict[str, tuple[str, ...] | None] = {}
_PIECES_LIMIT: Final = 4096


def _pieces(pattern: str) -> tuple[str, ...] | None:
    try:
        return _PIECES[pattern]
    except KeyError:
        pass
    found = tuple(pattern.split("*")) if "*" in pattern or "?" in pattern else None
    if len(_PIECES) >= _PIECES_LIMIT:
        _PIECES.clear()
    _PIECES[pattern] = found
    return found


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
    """What API Gateway concludes for ``resource``: a matching Deny wins, else any Allow."""
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
