"""Typed reading of a configuration document: every value checked for its type and bounds,
every error naming the field's path (``issuers[0].audiences``), every unknown key an error.

:data:`LIMITS` holds every numeric setting's bounds; :mod:`config` says which fields exist and
what they mean.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from .errors import ConfigError

# Every numeric setting's bounds, by documented path; the README's Type column states the same
# (tests/docs checks both ways). An upper bound exists where a larger value would quietly weaken
# a check: hours of clock skew, weeks of trusting keys the identity provider may have revoked.
LIMITS: Final[Mapping[str, tuple[float, float | None]]] = {
    "max_token_bytes": (256, None),
    "context_max_bytes": (256, None),
    "verified_token_cache_size": (0, None),
    "issuers[].leeway_seconds": (0, 300),
    "issuers[].max_token_age_seconds": (1, None),
    "keys.refresh_seconds": (60, 86400),
    "keys.kid_miss_cooldown_seconds": (1, None),
    "keys.retry_seconds": (1, None),
    "keys.max_stale_seconds": (60, 604800),
    "keys.connect_timeout_seconds": (0.05, None),
    "keys.read_timeout_seconds": (0.05, None),
    "keys.max_response_bytes": (1024, None),
    "dpop.max_age_seconds": (1, 300),
    "dpop.clock_skew_seconds": (0, 60),
    "dpop.replay_cache_size": (0, None),
    "issuers[].introspection_cache_seconds": (0, 900),
    "issuers[].introspection_jwt_cache_seconds": (0, 900),
    "issuers[].introspection_inactive_cache_seconds": (0, 300),
    "issuers[].introspection_stale_seconds": (0, 300),
    "introspection.cache_entries": (1, None),
    "introspection.cache_bytes": (65536, None),
    "introspection.connect_timeout_seconds": (0.05, None),
    "introspection.read_timeout_seconds": (0.05, None),
    "introspection.max_response_bytes": (1024, None),
}
_ABOVE_LIMIT: Final[Mapping[str, str]] = {
    "issuers[].leeway_seconds": "300 seconds (5 minutes) of clock skew",
    "keys.refresh_seconds": "86400 seconds (1 day) between key-set refreshes",
    "keys.max_stale_seconds": (
        "604800 seconds (7 days) of verifying with keys the identity provider may have revoked"
    ),
    "dpop.max_age_seconds": "300 seconds: every proof stays replayable that long",
    "dpop.clock_skew_seconds": "60 seconds of proofs dated in the future",
    "issuers[].introspection_cache_seconds": (
        "900 seconds (15 minutes) of a revoked token still passing"
    ),
    "issuers[].introspection_jwt_cache_seconds": (
        "900 seconds (15 minutes) of a revoked token still passing"
    ),
    "issuers[].introspection_stale_seconds": (
        "300 seconds (5 minutes) of trusting old answers while the endpoint fails"
    ),
}
_INDEX_RE: Final = re.compile(r"\[\d+\]")


class Reader:
    """Typed access to one JSON object, naming the field path in every error."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(path, "must be a JSON object")
        self.data: dict[str, Any] = data
        self.path = path
        self.read: set[str] = set()

    def raw(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return self.data.get(key, default)

    def finish(self) -> None:
        """Unknown keys are errors: a typo must not silently change what is enforced."""
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            raise ConfigError(self.name(unknown[0]), "is not a known setting (typo?)")

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def string(self, key: str, default: str | None = None) -> str | None:
        value = self.raw(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(self.name(key), "must be a non-empty string")
        return value.strip()

    def strings(
        self, key: str, *, required: bool = False, allow_empty: bool = False, remedy: str = ""
    ) -> tuple[str, ...] | None:
        """A JSON array of non-empty strings; ``None`` when the key is absent.

        A string is never split into a list ("Finance Admins" is not ["Finance", "Admins"]), and
        an empty array is an error unless ``allow_empty``: where absence means "any" or "the
        default", ``[]`` would silently mean that too. ``remedy`` says what to do instead.
        """
        value = self.raw(key)
        if value is None:
            if required:
                raise ConfigError(self.name(key), "is required (a JSON array of strings)")
            return None
        if isinstance(value, str):
            raise ConfigError(
                self.name(key),
                "must be a JSON array of strings, not a string (a string is never split into a "
                'list: write ["a", "b"])',
            )
        if not isinstance(value, list) or not all(
            isinstance(item, str) and item.strip() for item in value
        ):
            raise ConfigError(self.name(key), "must be a JSON array of strings, each non-empty")
        if not value and not allow_empty:
            raise ConfigError(self.name(key), f"must not be empty{'; ' if remedy else ''}{remedy}")
        return tuple(item.strip() for item in value)

    def urls(self, key: str, *, remedy: str) -> tuple[str, ...]:
        """One URL as a string, or a JSON array of URLs (a string is one URL, never split)."""
        value = self.raw(key)
        if value is None:
            return ()
        if isinstance(value, str):
            if not value.strip():
                raise ConfigError(self.name(key), f"must not be empty; {remedy}")
            return (value.strip(),)
        if not isinstance(value, list) or not all(
            isinstance(item, str) and item.strip() for item in value
        ):
            raise ConfigError(
                self.name(key), "must be a URL or a JSON array of URLs, each a non-empty string"
            )
        if not value:
            raise ConfigError(self.name(key), f"must not be empty; {remedy}")
        return tuple(item.strip() for item in value)

    def limits(self, key: str) -> tuple[float, float | None]:
        """The bounds :data:`LIMITS` sets for this key (``issuers[0].x`` -> ``issuers[].x``)."""
        return LIMITS[_INDEX_RE.sub("[]", self.name(key))]

    def _check_maximum(self, key: str, value: float) -> None:
        maximum = self.limits(key)[1]
        if maximum is not None and value > maximum:
            generic = _INDEX_RE.sub("[]", self.name(key))
            raise ConfigError(
                self.name(key), f"must be at most {_ABOVE_LIMIT.get(generic, f'{maximum:g}')}"
            )

    def integer(self, key: str, default: int | None) -> int | None:
        minimum = self.limits(key)[0]
        value = self.raw(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(self.name(key), f"must be an integer >= {minimum:g}")
        self._check_maximum(key, value)
        return value

    def number(self, key: str, default: float) -> float:
        minimum = self.limits(key)[0]
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise ConfigError(self.name(key), f"must be a number >= {minimum:g}")
        self._check_maximum(key, value)
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise ConfigError(self.name(key), "must be true or false")
        return value

    def choice(self, key: str, options: tuple[str, ...], default: str) -> str:
        value = self.raw(key, default)
        if value not in options:
            raise ConfigError(self.name(key), f"must be one of {', '.join(options)}")
        return str(value)
