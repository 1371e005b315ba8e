"""API Gateway's authorizer result cache: identity-source values -> answer, for a TTL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AuthorizerCache"]


@dataclass
class AuthorizerCache:
    """Authorizer result cache: identity-source values -> (stored at, result)."""

    clock: Callable[[], float]
    entries: dict[tuple[Any, ...], tuple[float, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: tuple[Any, ...], ttl: int) -> Any:
        with self.lock:
            hit = self.entries.get(key)
            if hit is None:
                return None
            if self.clock() - hit[0] >= ttl:
                del self.entries[key]
                return None
            return hit[1]

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        with self.lock:
            self.entries[key] = (self.clock(), value)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
