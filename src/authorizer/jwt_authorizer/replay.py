"""DPoP replay protection: a proof's ``jti`` is accepted once within its ``iat`` window, across
every execution environment.

:class:`ReplayGuard` keeps a bounded local cache (per execution environment) in front of a
shared :class:`ReplayStore`: a proof this environment already saw is refused without a network
call; any other is claimed in the store with one conditional write, which succeeds for exactly
one caller. :class:`DynamoDbReplayStore` is the shared store (``PutItem`` with
``attribute_not_exists`` and a TTL attribute); boto3 is the Lambda runtime's, imported only when
DPoP is configured. A store that cannot answer raises :class:`ReplayStoreUnavailable` (fail
closed: a 500 that API Gateway does not cache). :class:`MemoryReplayStore` keeps claims in this
execution environment only: for local development and single-environment tests.

Store keys are digests (:func:`replay_key`), never the attacker's ``jti`` itself.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any, Final, Protocol

from .errors import ReplayStoreUnavailable

#: DynamoDB item attributes: the partition key (a digest) and the TTL attribute (epoch seconds).
KEY_ATTRIBUTE: Final = "pk"
TTL_ATTRIBUTE: Final = "expires_at"
_CONDITIONAL_FAILED: Final = "ConditionalCheckFailedException"


def replay_key(issuer: str, jkt: str, jti: str) -> str:
    """The store key of a proof: SHA-256 over issuer, key thumbprint and ``jti`` (64 hex
    digits, whatever the ``jti`` holds)."""
    material = "\x00".join(("dpop", issuer, jkt, jti)).encode("utf-8", "surrogatepass")
    return hashlib.sha256(material).hexdigest()


class ReplayStore(Protocol):
    def claim(self, key: str, expires_at: int, now: float) -> bool:
        """True for the first claim of ``key`` before ``expires_at``; False for a replay.
        Raises :class:`ReplayStoreUnavailable` when it cannot tell."""


class MemoryReplayStore:
    """Claims in this execution environment only (development, tests): not shared, so a proof
    replayed to another execution environment is not seen. Full of live claims, it refuses to
    answer (fail closed) rather than forget one."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._claims: dict[str, float] = {}
        self._lock = threading.Lock()

    def claim(self, key: str, expires_at: int, now: float) -> bool:
        with self._lock:
            known = self._claims.get(key)
            if known is not None and known > now:
                return False
            if len(self._claims) >= self.size:
                self._claims = {k: t for k, t in self._claims.items() if t > now}
                if len(self._claims) >= self.size:
                    raise ReplayStoreUnavailable("memory replay store is full")
            self._claims[key] = expires_at
            return True

    def clear(self) -> None:
        with self._lock:
            self._claims.clear()


class DynamoDbReplayStore:
    """One conditional ``PutItem`` per proof: the item is written only if no live item has the
    key (an expired item that DynamoDB's TTL has not deleted yet does not count)."""

    def __init__(
        self,
        table: str,
        *,
        client: Any = None,
        connect_timeout: float = 1.0,
        read_timeout: float = 1.0,
    ) -> None:
        self.table = table
        if client is None:
            import boto3  # the Lambda runtime's; only deployments with DPoP get here
            from botocore.config import Config

            client = boto3.client(
                "dynamodb",
                config=Config(
                    connect_timeout=connect_timeout,
                    read_timeout=read_timeout,
                    retries={"max_attempts": 2, "mode": "standard"},
                ),
            )
        self._client = client

    def claim(self, key: str, expires_at: int, now: float) -> bool:
        try:
            self._client.put_item(
                TableName=self.table,
                Item={KEY_ATTRIBUTE: {"S": key}, TTL_ATTRIBUTE: {"N": str(expires_at)}},
                ConditionExpression=f"attribute_not_exists({KEY_ATTRIBUTE}) OR #t < :now",
                ExpressionAttributeNames={"#t": TTL_ATTRIBUTE},
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
            )
        except Exception as err:
            response = getattr(err, "response", None)
            code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
            if code == _CONDITIONAL_FAILED:
                return False
            raise ReplayStoreUnavailable(f"{type(err).__name__} from {self.table}") from None
        return True


class ReplayGuard:
    """A bounded local cache of claimed keys in front of the shared store."""

    def __init__(
        self,
        store: ReplayStore,
        *,
        cache_size: int,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.cache_size = cache_size
        self._now = wall_clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_use(self, key: str, expires_at: int) -> bool:
        """True exactly once per key within its window, across every guard sharing the store."""
        now = self._now()
        with self._lock:
            known = self._seen.get(key)
        if known is not None and known > now:
            return False
        first = self.store.claim(key, expires_at, now)
        self._remember(key, float(expires_at), now)
        return first

    def clear(self) -> None:
        """Forget the local cache (the store still knows every claim): SnapStart, tests."""
        with self._lock:
            self._seen.clear()

    def _remember(self, key: str, expires_at: float, now: float) -> None:
        if not self.cache_size:
            return
        with self._lock:
            if len(self._seen) >= self.cache_size:
                # Forgetting only costs a store round trip: the store still knows the key.
                self._seen = {k: t for k, t in self._seen.items() if t > now}
                while len(self._seen) >= self.cache_size:
                    self._seen.pop(next(iter(self._seen)))
            self._seen[key] = expires_at
