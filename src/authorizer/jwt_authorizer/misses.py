"""The unknown-kid (negative) cache of one key set: which key identifiers tokens asked for
recently and the set did not hold, so that a flood of invented kids costs no network call and
bounded memory. Identifiers are remembered as fixed-size digests, never as the attacker's text.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Final

# The unknown-kid (negative) cache of each key set: at most 1024 entries, each a 16-byte digest
# of the identifiers a token named (never the identifiers: a kid is attacker-chosen and may be
# ~10 KB) and a float. About 160 bytes an entry in CPython 3.13, so under 256 KiB per key set
# whatever the tokens carry (tests/integration/test_key_sets.py measures it).
_NEGATIVE_CACHE_SIZE: Final = 1024
_MISS_DIGEST_BYTES: Final = 16


class MissCache:
    """Recently missed key identifiers, each remembered as a fixed-size digest with the time.

    Bounded in entries (least recently missed first out) and, because no identifier is kept,
    in bytes; see ``_NEGATIVE_CACHE_SIZE``.
    """

    def __init__(self, size: int = _NEGATIVE_CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def digest(kid: str | None, x5t: str | None, x5t_s256: str | None) -> bytes:
        """16 bytes naming what a token asked for (JSON keeps the three apart, and escapes lone
        surrogates instead of failing on them)."""
        text = json.dumps([kid, x5t, x5t_s256])
        return hashlib.blake2b(text.encode("ascii"), digest_size=_MISS_DIGEST_BYTES).digest()

    def seen_at(self, key: bytes) -> float | None:
        return self._entries.get(key)

    def remember(self, key: bytes, now: float) -> None:
        with self._lock:
            self._entries[key] = now
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def digests(self) -> tuple[bytes, ...]:
        with self._lock:
            return tuple(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
