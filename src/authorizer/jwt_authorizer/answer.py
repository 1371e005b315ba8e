"""Every answer API Gateway can receive from us, built in one place.

* REST and HTTP payload 1.0 (and 2.0 in ``iam`` mode): ``principalId`` + ``policyDocument`` +
  ``context`` whose values are strings, numbers or booleans only (arrays or objects make API
  Gateway fail the backend call with a 500), within a size budget.
* HTTP payload 2.0 simple responses: ``isAuthorized`` (a real boolean) + ``context``, where
  lists may stay lists.
* Rejections that must become a 401 are not answers: the handler raises ``Unauthorized``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from .errors import AuthorizerError, InsufficientScope, SenderConstraintFailed
from .iam import Statement
from .principal import Principal
from .routes import Decision

Scalar = str | int | float | bool
_SEPARATORS: Final = (",", ":")


def iam_answer(
    principal_id: str, statements: Iterable[Statement], context: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [statement.as_json() for statement in statements],
        },
        "context": dict(context),
    }


def simple_answer(authorized: bool, context: Mapping[str, Any]) -> dict[str, Any]:
    return {"isAuthorized": authorized is True, "context": dict(context)}


def principal_context(
    principal: Principal,
    context_claims: tuple[tuple[str, str], ...],
) -> dict[str, Any]:
    """The caller as the backend sees it; values are raw here and flattened per answer kind."""
    context: dict[str, Any] = {
        "sub": principal.subject,
        "issuer": principal.issuer,
        "client_id": principal.client_id or "",
        "scopes": " ".join(sorted(principal.permissions)),
        "token_expires": int(principal.expires_at),
    }
    if principal.tenant:
        context["tenant"] = principal.tenant
    for key, claim in context_claims:
        if key not in context and claim in principal.claims:
            context[key] = principal.claims[claim]
    return context


def denial_context(decision: Decision) -> dict[str, Any]:
    """What a gateway response needs to tell the client why (RFC 6750 ``insufficient_scope``)."""
    scope = " ".join(sorted(decision.missing)) if decision.denial is InsufficientScope else ""
    challenge = f', scope="{scope}"' if scope else ""
    return {
        "error": "insufficient_scope",
        "reason": decision.reason,
        "scope": scope,
        "www_authenticate": f'Bearer error="insufficient_scope"{challenge}',
    }


def unauthorized_context(err: AuthorizerError | None, algs: str | None) -> dict[str, Any]:
    """The context of an HTTP simple ``isAuthorized: false`` for a rejected token: RFC 9449's
    ``WWW-Authenticate: DPoP`` challenge for a DPoP failure (``algs``: the accepted proof
    algorithms), else RFC 6750's error. API Gateway shows clients neither (docs/dpop.md)."""
    challenge = err.challenge if isinstance(err, SenderConstraintFailed) else ""
    if not challenge or algs is None:
        return {"error": "invalid_token"}
    return {
        "error": challenge,
        "reason": err.reason if err is not None else "",
        "www_authenticate": f'DPoP error="{challenge}", algs="{algs}"',
    }


def fit_context(
    context: Mapping[str, Any], *, max_bytes: int, scalars_only: bool
) -> tuple[dict[str, Any], list[str]]:
    """Flatten values API Gateway cannot carry and drop (in order) what exceeds the budget.

    Returns the fitted context and the keys dropped, which the caller logs.
    """
    fitted: dict[str, Any] = {}
    dropped: list[str] = []
    if scalars_only:
        # The common case: a few short strings and numbers. JSON spends at most 6 bytes per
        # character (\uXXXX), so when even that bound fits, nothing needs measuring.
        bound = 2
        for key, value in context.items():
            if isinstance(value, str):
                bound += 6 * (len(key) + len(value)) + 6
            elif isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63:
                bound += 6 * len(key) + 26
            else:
                break
        else:
            if bound <= max_bytes:
                return {k: v for k, v in context.items() if v is not None}, dropped
    used = 2
    for key, value in context.items():
        flat = _flatten(value) if scalars_only else _jsonable(value)
        if flat is None:
            continue
        size = _encoded_size(key) + _encoded_size(flat) + 2
        if used + size > max_bytes:
            dropped.append(key)
            continue
        fitted[key] = flat
        used += size
    return fitted, dropped


def _encoded_size(value: object) -> int:
    """Bytes of the JSON encoding, without encoding plain strings (the common case)."""
    if isinstance(value, str) and value.isascii() and value.isprintable():
        return len(value) + 2 + value.count('"') + value.count("\\")
    return len(json.dumps(value, separators=_SEPARATORS))


def _flatten(value: object) -> Scalar | None:
    if value is None:
        return None
    if isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
        return " ".join(str(item) for item in value)
    return json.dumps(value, separators=_SEPARATORS, sort_keys=True, default=str)


def _jsonable(value: object) -> object:
    if value is None:
        return None
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return str(value)
    return value
