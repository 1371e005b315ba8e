"""DPoP replay protection: a proof is accepted once within its window, in one execution
environment (the local cache) and across several sharing a store; a store that cannot answer
fails closed. The DynamoDB store against moto's server is in tests/integration."""

from __future__ import annotations

import pytest

from jwt_authorizer.errors import ReplayStoreUnavailable
from jwt_authorizer.replay import MemoryReplayStore, ReplayGuard, replay_key
from tests.support.dpop import (
    HTTP_URL,
    REST_URL,
    DpopClient,
    allowed,
    authorizer,
    bound_token,
    document,
    event,
    rejected,
)
from tests.support.observers import RecordingObserver
from tests.support.signing import SigningKey


def test_a_replayed_proof_is_refused(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key, client)
    evt = event("request", f"DPoP {token}", [client.proof("GET", REST_URL, token)])
    assert allowed(auth(evt, None))
    assert rejected(auth, evt, caplog) == "dpop_replay"
    fresh = event("request", f"DPoP {token}", [client.proof("GET", REST_URL, token)])
    assert allowed(auth(fresh, None))


def test_a_replay_reaching_a_fresh_local_cache_is_refused_by_the_store(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Two execution environments (separate local caches) sharing one store."""
    store = MemoryReplayStore()
    first, second = (authorizer(document(rsa_key), replay_store=store) for _ in range(2))
    token = bound_token(rsa_key, client)
    evt = event("http-2.0", f"DPoP {token}", [client.proof("GET", HTTP_URL, token)])
    assert allowed(first(evt, None))
    assert rejected(second, evt, caplog) == "dpop_replay"


class CountingStore:
    """A store that remembers nothing and counts the claims it is asked for."""

    def __init__(self, answer: bool = True) -> None:
        self.answer = answer
        self.calls: list[tuple[str, int, float]] = []

    def claim(self, key: str, expires_at: int, now: float) -> bool:
        self.calls.append((key, expires_at, now))
        return self.answer


class DownStore:
    def claim(self, key: str, expires_at: int, now: float) -> bool:
        raise ReplayStoreUnavailable("ConnectTimeoutError from dpop-replay")


def test_the_guard_asks_the_store_only_for_proofs_it_has_not_seen() -> None:
    store = CountingStore()
    guard = ReplayGuard(store, cache_size=2, wall_clock=lambda: 100.0)
    assert guard.first_use("a", 200) is True
    assert guard.first_use("a", 200) is False
    assert store.calls == [("a", 200, 100.0)]
    for name in "bcd":  # evicts "a" from the local cache: the store decides again
        guard.first_use(name, 200)
    guard.first_use("a", 200)
    assert [call[0] for call in store.calls] == ["a", "b", "c", "d", "a"]


def test_the_local_cache_forgets_a_proof_once_its_window_closed() -> None:
    now = [100.0]
    store = CountingStore()
    guard = ReplayGuard(store, cache_size=10, wall_clock=lambda: now[0])
    assert guard.first_use("a", 160) is True
    now[0] = 160.0
    assert guard.first_use("a", 220) is True  # the store is asked again (and decides)
    assert len(store.calls) == 2


def test_the_stores_answer_is_final_and_remembered() -> None:
    store = CountingStore(answer=False)
    guard = ReplayGuard(store, cache_size=10, wall_clock=lambda: 100.0)
    assert guard.first_use("a", 200) is False
    assert guard.first_use("a", 200) is False
    assert len(store.calls) == 1


def test_without_a_local_cache_every_proof_reaches_the_store() -> None:
    store = CountingStore()
    guard = ReplayGuard(store, cache_size=0, wall_clock=lambda: 100.0)
    guard.first_use("a", 200)
    guard.first_use("a", 200)
    assert len(store.calls) == 2


def test_the_memory_store_claims_once_and_fails_closed_when_full_of_live_claims() -> None:
    store = MemoryReplayStore(size=2)
    assert store.claim("a", 200, 100.0) is True
    assert store.claim("a", 200, 150.0) is False
    assert store.claim("a", 300, 200.0) is True  # expired at 200: claimable again
    assert store.claim("b", 300, 200.0) is True
    with pytest.raises(ReplayStoreUnavailable) as caught:
        store.claim("c", 300, 200.0)
    assert caught.value.detail == "memory replay store is full"
    assert store.claim("c", 400, 300.0) is True  # the expired claims made room


def test_replay_keys_are_digests_of_issuer_key_and_jti() -> None:
    key = replay_key("https://idp.example.com/", "jkt-1", "jti-1")
    assert key == "0f8f97a8a095faff1e6655acad20c66f2308187978458fee15d035dd8aa41cca"
    assert replay_key("https://idp.example.com/", "jkt-2", "jti-1") != key
    assert replay_key("https://other.example.com/", "jkt-1", "jti-1") != key
    assert replay_key("https://idp.example.com/", "jkt-1", "jti-\ud800") != key


def test_a_store_that_cannot_answer_fails_closed_with_an_uncached_500(
    rsa_key: SigningKey, client: DpopClient
) -> None:
    observer = RecordingObserver()
    auth = authorizer(document(rsa_key), replay_store=DownStore(), observer=observer)
    token = bound_token(rsa_key, client)
    with pytest.raises(ReplayStoreUnavailable) as caught:
        auth(event("request", f"DPoP {token}", [client.proof("GET", REST_URL, token)]), None)
    assert str(caught.value) == "the DPoP replay store is unavailable"
    assert [(d["reason"], d["status"]) for d in observer.denials] == [
        ("replay_store_unavailable", 500)
    ]
    assert observer.counts["ReplayStoreUnavailable"] == 1
    assert "Unauthorized" not in observer.counts


def test_a_proof_refused_for_another_reason_is_not_used_up(
    rsa_key: SigningKey, client: DpopClient
) -> None:
    store = CountingStore()
    auth = authorizer(document(rsa_key), replay_store=store)
    token = bound_token(rsa_key, client)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        auth(event("request", f"DPoP {token}", [client.proof("POST", REST_URL, token)]), None)
    assert store.calls == []


def test_clear_forgets_the_local_cache_but_not_the_store() -> None:
    store = MemoryReplayStore()
    guard = ReplayGuard(store, cache_size=10, wall_clock=lambda: 100.0)
    assert guard.first_use("a", 200) is True
    guard.clear()
    assert guard.first_use("a", 200) is False  # the store still knows it
    store.clear()
    guard.clear()
    assert guard.first_use("a", 200) is True


def test_snapshot_clears_the_local_cache(rsa_key: SigningKey, client: DpopClient) -> None:
    store = CountingStore()
    auth = authorizer(document(rsa_key), replay_store=store)
    token = bound_token(rsa_key, client)
    evt = event("request", f"DPoP {token}", [client.proof("GET", REST_URL, token)])
    assert allowed(auth(evt, None))
    auth.before_snapshot()
    assert allowed(auth(evt, None))  # the store (which remembers nothing here) was asked again
    assert len(store.calls) == 2
