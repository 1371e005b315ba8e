"""IAM-style evaluation of the policies a Lambda authorizer returns.

API Gateway parses the authorizer's answer strictly (a wrongly cased key, a ``null`` inside a
statement or a missing ``principalId`` is a configuration error, HTTP 500) and then evaluates
the policy against the ``methodArn``/``routeArn``: any matching Deny wins, otherwise a matching
Allow is needed. This module holds both halves so they can be tested without HTTP.

Wildcards follow IAM ARN matching: ``*`` matches any run of characters and ``?`` exactly one.
Within the resource part of an ARN (everything after the fifth ``:``, e.g.
``apiId/stage/GET/pets/1``) ``*`` also crosses ``/``, so ``.../prod/GET/*`` covers
``.../prod/GET/pets/1``. In the colon-separated ARN prefix, a ``*`` stays within its segment
unless it is the segment's last character (IAM lets that one expand across ``:``, which is
why ``arn:aws:execute-api:*`` and plain ``*`` match everything).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any, Final

__all__ = [
    "AuthorizerAnswer",
    "Decision",
    "MalformedAnswerError",
    "Statement",
    "action_matches",
    "arn_matches",
    "evaluate",
    "parse_authorizer_answer",
    "parse_policy",
]

INVOKE_ACTION: Final = "execute-api:Invoke"


class MalformedAnswerError(ValueError):
    """The authorizer's answer cannot be parsed (API Gateway: configuration error, 500)."""


class Decision(Enum):
    """Outcome of evaluating a policy against one ARN."""

    ALLOW = "allow"
    EXPLICIT_DENY = "explicit_deny"
    IMPLICIT_DENY = "implicit_deny"


@dataclass(frozen=True)
class Statement:
    """One parsed policy statement; ``not_*`` flags mark NotAction/NotResource."""

    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_action: bool = False
    not_resource: bool = False
    condition: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class AuthorizerAnswer:
    """A parsed IAM-policy answer: who, what they may do, and context for the backend."""

    principal_id: str
    statements: tuple[Statement, ...]
    context: Mapping[str, Any] = field(default_factory=dict)
    usage_identifier_key: str | None = None


# --------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------


def _glob_to_regex(pattern: str, *, star: str) -> str:
    out: list[str] = []
    for i, ch in enumerate(pattern):
        if ch == "*":
            out.append(".*" if i == len(pattern) - 1 else star)
        elif ch == "?":
            out.append("." if star == ".*" else "[^:]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


@lru_cache(maxsize=4096)
def _arn_regex(pattern: str) -> re.Pattern[str]:
    segments = pattern.split(":", 5)
    parts: list[str] = []
    for index, segment in enumerate(segments):
        is_resource = index == 5
        parts.append(_glob_to_regex(segment, star=".*" if is_resource else "[^:]*"))
    return re.compile(":".join(parts), re.DOTALL)


def arn_matches(pattern: str, arn: str) -> bool:
    """Whether an IAM ``Resource`` pattern matches a concrete ARN (case-sensitive)."""
    return _arn_regex(pattern).fullmatch(arn) is not None


@lru_cache(maxsize=1024)
def _action_regex(pattern: str) -> re.Pattern[str]:
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL)


def action_matches(pattern: str, action: str = INVOKE_ACTION) -> bool:
    """Whether an IAM ``Action`` pattern covers ``action`` (IAM actions ignore case)."""
    return _action_regex(pattern).fullmatch(action) is not None


# --------------------------------------------------------------------------------------------
# Conditions (a small, commonly used subset; unknown operators never match)
# --------------------------------------------------------------------------------------------


def _condition_holds(condition: Mapping[str, Any], keys: Mapping[str, str]) -> bool:
    for operator, tests in condition.items():
        if not isinstance(tests, Mapping):
            return False
        for key, expected in tests.items():
            wanted = [str(v) for v in (expected if isinstance(expected, list) else [expected])]
            if not _test(str(operator), keys.get(str(key).lower()), wanted):
                return False
    return True


def _test(operator: str, actual: str | None, wanted: list[str]) -> bool:
    if_exists = operator.endswith("IfExists")
    op = operator.removesuffix("IfExists")
    if op == "Null":
        return (actual is None) == (wanted[0].lower() == "true")
    if actual is None:
        return if_exists
    if op == "StringEquals":
        return actual in wanted
    if op == "StringNotEquals":
        return actual not in wanted
    if op == "StringEqualsIgnoreCase":
        return actual.lower() in [w.lower() for w in wanted]
    if op == "StringNotEqualsIgnoreCase":
        return actual.lower() not in [w.lower() for w in wanted]
    if op == "StringLike":
        return any(action_matches_case(w, actual) for w in wanted)
    if op == "StringNotLike":
        return not any(action_matches_case(w, actual) for w in wanted)
    if op == "Bool":
        return actual.lower() in [w.lower() for w in wanted]
    if op in ("IpAddress", "NotIpAddress"):
        try:
            address = ipaddress.ip_address(actual)
            inside = any(address in ipaddress.ip_network(w, strict=False) for w in wanted)
        except ValueError:
            return False
        return inside if op == "IpAddress" else not inside
    return False


def action_matches_case(pattern: str, value: str) -> bool:
    """Case-sensitive ``*``/``?`` glob (``StringLike``)."""
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(body, value, re.DOTALL) is not None


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def _statement_matches(
    statement: Statement, arn: str, action: str, condition_keys: Mapping[str, str]
) -> bool:
    action_hit = any(action_matches(a, action) for a in statement.actions)
    if statement.not_action:
        action_hit = not action_hit
    resource_hit = any(arn_matches(r, arn) for r in statement.resources)
    if statement.not_resource:
        resource_hit = not resource_hit
    if not (action_hit and resource_hit):
        return False
    if statement.condition:
        return _condition_holds(statement.condition, condition_keys)
    return True


def evaluate(
    statements: tuple[Statement, ...] | list[Statement],
    arn: str,
    *,
    action: str = INVOKE_ACTION,
    condition_keys: Mapping[str, str] | None = None,
) -> Decision:
    """Explicit deny beats allow; no matching statement is an implicit deny."""
    keys = {k.lower(): v for k, v in (condition_keys or {}).items()}
    allowed = False
    for statement in statements:
        if not _statement_matches(statement, arn, action, keys):
            continue
        if statement.effect == "Deny":
            return Decision.EXPLICIT_DENY
        allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

_POLICY_KEYS: Final = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS: Final = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)


def _string_list(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise MalformedAnswerError(f"{what} must be a string or a non-empty list of strings")


def _parse_statement(raw: Any) -> Statement:
    if not isinstance(raw, dict):
        raise MalformedAnswerError("a Statement entry must be an object")
    unknown = set(raw) - _STATEMENT_KEYS
    if unknown:
        raise MalformedAnswerError(f"unknown statement keys {sorted(unknown)} (case-sensitive)")
    nulls = sorted(k for k, v in raw.items() if v is None)
    if nulls:
        raise MalformedAnswerError(f"null-valued statement keys {nulls}")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedAnswerError(f"Effect must be 'Allow' or 'Deny', got {effect!r}")
    if ("Action" in raw) == ("NotAction" in raw):
        raise MalformedAnswerError("a statement needs exactly one of Action/NotAction")
    if ("Resource" in raw) == ("NotResource" in raw):
        raise MalformedAnswerError("a statement needs exactly one of Resource/NotResource")
    action_key = "Action" if "Action" in raw else "NotAction"
    resource_key = "Resource" if "Resource" in raw else "NotResource"
    condition = raw.get("Condition")
    if condition is not None and not isinstance(condition, dict):
        raise MalformedAnswerError("Condition must be an object")
    return Statement(
        effect=effect,
        actions=_string_list(raw[action_key], action_key),
        resources=_string_list(raw[resource_key], resource_key),
        not_action=action_key == "NotAction",
        not_resource=resource_key == "NotResource",
        condition=condition,
    )


def parse_policy(document: Any) -> tuple[Statement, ...]:
    """Parse a ``policyDocument`` strictly, as API Gateway does."""
    if not isinstance(document, dict):
        raise MalformedAnswerError("policyDocument must be an object")
    unknown = set(document) - _POLICY_KEYS
    if unknown:
        raise MalformedAnswerError(f"unknown policyDocument keys {sorted(unknown)}")
    if "Version" in document and not isinstance(document["Version"], str):
        raise MalformedAnswerError("Version must be a string")
    raw = document.get("Statement")
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise MalformedAnswerError("policyDocument.Statement must be an object or a list")
    return tuple(_parse_statement(s) for s in raw)


def parse_authorizer_answer(answer: Any) -> AuthorizerAnswer:
    """Validate an IAM-policy answer: ``principalId`` + ``policyDocument`` (+ ``context``).

    ``context`` values are not checked here: on REST an object/array value only fails later,
    when the integration request is built (see the emulator), exactly like API Gateway.
    """
    if not isinstance(answer, dict):
        raise MalformedAnswerError(f"the answer must be an object, got {type(answer).__name__}")
    principal = answer.get("principalId")
    if isinstance(principal, bool) or not isinstance(principal, (str, int, float)):
        raise MalformedAnswerError("principalId is missing or not a string")
    principal_id = str(principal)
    if not principal_id:
        raise MalformedAnswerError("principalId is empty")
    if "policyDocument" not in answer:
        raise MalformedAnswerError("policyDocument is missing")
    statements = parse_policy(answer["policyDocument"])
    context = answer.get("context")
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise MalformedAnswerError("context must be an object")
    key = answer.get("usageIdentifierKey")
    return AuthorizerAnswer(
        principal_id=principal_id,
        statements=statements,
        context=context,
        usage_identifier_key=str(key) if key is not None else None,
    )
