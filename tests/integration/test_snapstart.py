"""SnapStart: the runtime hooks, registered through ``snapshot_restore_py`` as on Lambda.

A snapshot is simulated the way the runtime takes one: the registered before-snapshot hooks run,
time passes (the key cache's clock may not move at all in a restored microVM: only the wall clock
says how long the snapshot waited), then the after-restore hooks run. The snapshot must hold parsed
keys and no socket; a restored copy must open a new HTTP session, refresh keys past
``refresh_seconds``, never use keys past ``max_stale_seconds``, and reseed its random numbers.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jwt_authorizer import Authorizer
from tests.conftest import IdpFactory
from tests.support.clock import FakeClock

from .conftest import Harness, HarnessFactory, auth_config, issuer_entry

# SnapStart's runtime module (bundled in Lambda's runtime; a Linux-only dev dependency here).
snapshot_restore_py = pytest.importorskip("snapshot_restore_py")

HOUR = 3600.0
DAY = 86400.0


@pytest.fixture(autouse=True)
def _runtime_registries() -> Iterator[None]:
    """The hook registries are the module's globals, as in the runtime: start and end empty."""
    snapshot_restore_py.get_before_snapshot().clear()
    snapshot_restore_py.get_after_restore().clear()
    yield
    snapshot_restore_py.get_before_snapshot().clear()
    snapshot_restore_py.get_after_restore().clear()


def _run(hooks: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]) -> None:
    for function, args, kwargs in hooks:
        function(*args, **kwargs)


class Snapshot:
    """Publish (before-snapshot hooks), wait, restore (after-restore hooks)."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.wall = FakeClock(1_800_000_000.0)
        harness.authorizer._wall_clock = self.wall  # the seam from_environ takes as wall_clock
        assert harness.authorizer.register_snapstart_hooks()

    def take(self) -> None:
        # The runtime runs the before-snapshot hooks in reverse registration order.
        _run(list(reversed(snapshot_restore_py.get_before_snapshot())))

    def restore_after(self, seconds: float, *, key_clock_moves: bool = False) -> None:
        self.wall.advance(seconds)
        if key_clock_moves:
            self.harness.clock.advance(seconds)
        _run(snapshot_restore_py.get_after_restore())


def _prepared(idp_factory: IdpFactory, build_harness: HarnessFactory) -> tuple[Any, Snapshot]:
    idp = idp_factory(profile="entra-b2c")
    harness = build_harness(auth_config(issuer_entry(idp)))
    assert harness.prefetched == {idp.issuer: True}
    snapshot = Snapshot(harness)
    snapshot.take()
    return idp, snapshot


def test_hooks_are_registered_with_the_runtime(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    _, snapshot = _prepared(idp_factory, build_harness)
    authorizer = snapshot.harness.authorizer
    assert [hook for hook, _, _ in snapshot_restore_py.get_before_snapshot()] == [
        authorizer.before_snapshot
    ]
    assert [hook for hook, _, _ in snapshot_restore_py.get_after_restore()] == [
        authorizer.after_restore
    ]


def test_without_the_runtime_module_nothing_is_registered(
    monkeypatch: pytest.MonkeyPatch, idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    import sys

    harness = build_harness(auth_config(issuer_entry(idp_factory(profile="entra-b2c"))))
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails
    assert harness.authorizer.register_snapstart_hooks() is False


def test_the_snapshot_holds_parsed_keys_no_socket_and_no_pending_metric(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    idp, snapshot = _prepared(idp_factory, build_harness)
    harness = snapshot.harness
    assert harness.source.snapshot is not None
    assert harness.source.snapshot.keys
    assert not harness.source.busy
    assert harness.registry._sessions is not None
    assert harness.registry._sessions._session is None  # closed, with its pooled sockets
    # A restore soon after: the keys are fresh, no fetch at all, and a token verifies.
    snapshot.restore_after(60)
    assert harness.outcome(idp.mint()) == "allow"
    assert (idp.request_count("discovery"), idp.request_count("jwks")) == (1, 1)


def test_the_init_metrics_leave_with_the_snapshot(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    idp = idp_factory(profile="entra-b2c")
    harness = build_harness(auth_config(issuer_entry(idp)))
    flushed: list[bool] = []
    harness.observer.flush = lambda: flushed.append(True)  # type: ignore[method-assign]
    Snapshot(harness).take()
    assert flushed == [True]


@pytest.mark.parametrize("key_clock_moves", [False, True], ids=["clock-frozen", "clock-moves"])
def test_keys_past_the_ttl_are_refreshed_on_restore(
    idp_factory: IdpFactory, build_harness: HarnessFactory, key_clock_moves: bool
) -> None:
    idp, snapshot = _prepared(idp_factory, build_harness)
    harness = snapshot.harness
    old_kid = idp.signing_kid
    idp.rotate_key(retire_previous=True)

    snapshot.restore_after(2 * HOUR, key_clock_moves=key_clock_moves)
    # The refresh started in the after-restore hook (discovery and key set read again).
    assert harness.outcome(idp.mint()) == "allow"
    assert (idp.request_count("discovery"), idp.request_count("jwks")) == (2, 2)
    assert old_kid not in {key.kid for key in harness.source.snapshot.keys}  # type: ignore[union-attr]
    assert any(trigger == "restore" for _, trigger, _ in harness.observer.fetches)


def test_keys_past_the_stale_limit_are_never_used_after_restore(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    idp, snapshot = _prepared(idp_factory, build_harness)
    harness = snapshot.harness
    idp.set_mode("down")

    snapshot.restore_after(3 * DAY)  # the key cache's own clock did not move
    assert harness.outcome(idp.mint()) == "keys_unavailable"

    idp.set_mode("up")
    harness.clock.advance(harness.config.keys.retry_seconds)
    assert harness.outcome(idp.mint()) == "allow"


def test_a_restored_copy_opens_a_new_session_and_reseeds_random(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    idp, snapshot = _prepared(idp_factory, build_harness)
    harness = snapshot.harness
    sessions = harness.registry._sessions
    assert sessions is not None
    before = sessions.get()  # as if something had opened one after the snapshot hook
    state = random.getstate()

    snapshot.restore_after(2 * HOUR)
    assert harness.outcome(idp.mint()) == "allow"
    assert sessions.get() is not before
    assert random.getstate() != state


def test_the_first_call_after_restore_is_a_cold_start(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    idp, snapshot = _prepared(idp_factory, build_harness)
    authorizer: Authorizer = snapshot.harness.authorizer
    snapshot.harness.outcome(idp.mint())
    assert authorizer._cold is False
    snapshot.restore_after(60)
    assert authorizer._cold is True
