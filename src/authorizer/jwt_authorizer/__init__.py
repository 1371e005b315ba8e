"""JWT Lambda authorizer for Amazon API Gateway.

The deployed entry point is :mod:`jwt_authorizer.app`; :class:`Authorizer` builds the same thing
from an explicit environment, which is what tests and the local emulator use.

The names below are loaded on first use (PEP 562): importing the entry point must not import the
whole package before it has started the key downloads (see :mod:`jwt_authorizer.app`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Config, load_config, parse_config
    from .errors import AuthorizerError, ConfigError, KeysUnavailable, TokenRejected
    from .handler import Authorizer

__all__ = [
    "Authorizer",
    "AuthorizerError",
    "Config",
    "ConfigError",
    "KeysUnavailable",
    "TokenRejected",
    "load_config",
    "parse_config",
]

_HOMES = {
    "Authorizer": "handler",
    "AuthorizerError": "errors",
    "Config": "config",
    "ConfigError": "errors",
    "KeysUnavailable": "errors",
    "TokenRejected": "errors",
    "load_config": "config",
    "parse_config": "config",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
