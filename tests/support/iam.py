"""How API Gateway reads an authorizer's IAM answer, for assertions: ``tools/devkit/iam.py``.

The devkit's evaluator (strict answer parsing, explicit Deny wins, IAM ARN wildcards) is written
independently of the authorizer's own ``jwt_authorizer.iam`` and ``policy``; a third party's,
``@cloud-copilot/iam-simulate``, is :mod:`tests.support.iam_oracle`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devkit.iam import Decision, evaluate, parse_authorizer_answer

__all__ = ["Decision", "allows", "decision"]


def decision(answer: Mapping[str, Any], arn: str) -> Decision:
    """What API Gateway concludes for ``arn`` from an IAM answer (raises on a malformed one)."""
    return evaluate(parse_authorizer_answer(dict(answer)).statements, arn)


def allows(answer: Mapping[str, Any], arn: str) -> bool:
    """Whether API Gateway lets a request for ``arn`` through with this (cached) answer."""
    return decision(answer, arn) is Decision.ALLOW
