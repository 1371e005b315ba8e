"""End-to-end fixtures: the local IdP and the API Gateway emulator on free loopback ports.

The stack is :class:`devkit.stack.LocalStack`, the very thing ``make demo`` runs: template.yaml
served by the emulator, the authorizer pointed at the IdP through template parameters. Tests
talk plain HTTP to both servers; the emulator, not the test, decides what a client sees.

Time is faked only where the product accepts a clock (its key registry): a test moves past the
key refresh interval and the stale limit by advancing :class:`FakeClock`, never by sleeping.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
import requests

from devkit.fixtures import template_routes
from devkit.idp import LocalIdentityProvider
from devkit.stack import LocalStack
from tests.support.clock import FakeClock

StackFactory = Callable[..., LocalStack]
Handler = Callable[[dict[str, Any], Any], Any]


def clocked_authorizer(clock: FakeClock) -> Callable[[Mapping[str, str]], Handler]:
    """``Authorizer.from_environ`` with the key registry on ``clock`` (the product's seam)."""

    def build(environment: Mapping[str, str]) -> Handler:
        from jwt_authorizer.handler import Authorizer

        return Authorizer.from_environ(environment, clock=clock)

    return build


def auth_config(idp: LocalIdentityProvider, **keys: Any) -> str:
    """An ``AuthConfig`` parameter equivalent to the simple parameters, plus key settings."""
    document = {
        "issuers": [
            {
                "issuer": idp.issuer,
                "profile": idp.profile,
                "audiences": [idp.audience],
                "discovery_url": idp.discovery_url,
            }
        ],
        "routes": template_routes(),
        "response_mode": "simple",
        "keys": keys,
    }
    return json.dumps(document)


def mint(idp: LocalIdentityProvider, **kwargs: Any) -> str:
    """``idp.mint`` with a unique ``jti``: B2C-shaped tokens minted for the same client in the
    same second would otherwise be identical, and API Gateway's cache would answer for them."""
    claims = {"jti": str(uuid.uuid4()), **kwargs.pop("claims", {})}
    return idp.mint(claims=claims, **kwargs)


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
    )
    return str(decoded["kid"])


@pytest.fixture
def stack_factory(idp_signing_key_pem: str) -> Iterator[StackFactory]:
    """Start stacks with any :class:`LocalStack` arguments; all are stopped at teardown."""
    started: list[LocalStack] = []

    def factory(**kwargs: Any) -> LocalStack:
        kwargs.setdefault("signing_key_pem", idp_signing_key_pem)
        stack = LocalStack(**kwargs)
        started.append(stack)
        return stack.start()

    yield factory
    for stack in started:
        stack.stop()


@pytest.fixture
def stack(stack_factory: StackFactory) -> LocalStack:
    return stack_factory()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """Loopback only: proxies and CA variables from the environment are ignored."""
    with requests.Session() as session:
        session.trust_env = False
        yield session
