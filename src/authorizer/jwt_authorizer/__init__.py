"""JWT Lambda authorizer for Amazon API Gateway.

The deployed entry point is :mod:`jwt_authorizer.app`; :class:`Authorizer` builds the same thing
from an explicit environment, which is what tests and the local emulator use.
"""

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
