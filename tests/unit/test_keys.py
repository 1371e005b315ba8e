"""Keys stage: the key cache and its refresh policy, one KeySource at a time.

A fake monotonic clock (tests/support/clock.py) moves time; a serving fetcher
(tests/support/fetchers.py) answers instantly from a dict of URLs, so every fetch is counted
exactly. The same policy against real HTTP servers, slow ones and outages is in
tests/integration.
"""

from __future__ import annotations

from typing import Any

import pytest

from jwt_authorizer.errors import ConfigError, KeysUnavailable, NoUsableKeys, UnknownKid
from jwt_authorizer.keys import KeySettings, KeySource, SourceSpec
from tests.support.clock import FakeClock
from tests.support.constants import ISSUER
from tests.support.fetchers import ServingFetcher
from tests.support.observers import RecordingObserver
from tests.support.signing import SigningKey

URL = "https://idp.example/keys"
DISCOVERY = "https://idp.example/.well-known/openid-configuration"
RS256 = frozenset({"RS256"})
SETTINGS = KeySettings(
    refresh_seconds=600, kid_miss_cooldown_seconds=300, retry_seconds=30, max_stale_seconds=3600
)
OLD = SigningKey.generate("RS256", kid="old")
NEW = SigningKey.generate("RS256", kid="new")
EC = SigningKey.generate("ES256", kid="ec")


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [key.public_jwk() for key in keys]}


class Setup:
    """One key source on a fake clock, its serving fetcher and what it reported."""

    def __init__(
        self,
        documents: dict[str, object] | None = None,
        *,
        spec: SourceSpec | None = None,
        inline: dict[str, Any] | None = None,
    ) -> None:
        self.clock = FakeClock(0.0)
        self.fetcher = ServingFetcher({URL: jwks(OLD)} if documents is None else documents)
        self.events = RecordingObserver()
        self.source = KeySource(
            spec if spec is not None else SourceSpec(name=ISSUER, jwks_uri=URL),
            algorithms=RS256,
            settings=SETTINGS,
            fetcher=self.fetcher,
            clock=self.clock,
            events=self.events,
            inline=inline,
        )

    def kids(self, kid: str) -> list[str | None]:
        """The kids of the keys ``find`` returns for ``kid``."""
        _, keys = self.source.find(kid)
        return [key.kid for key in keys]

    def miss(self, kid: str) -> type[Exception]:
        with pytest.raises((UnknownKid, NoUsableKeys, KeysUnavailable)) as caught:
            self.source.find(kid)
        return type(caught.value)

    @property
    def fetches(self) -> list[tuple[bool, str, str]]:
        return self.events.fetches


def test_the_first_use_fetches_the_key_set() -> None:
    setup = Setup()
    assert setup.source.snapshot is None
    assert setup.kids("old") == ["old"]
    assert setup.fetches == [(True, "initial", "1 keys, 0 skipped")]
    assert (setup.fetcher.calls, setup.source.fetch_count, setup.source.attempts) == ([URL], 1, 1)
    assert setup.source.busy is False


def test_the_key_set_is_refetched_when_its_ttl_passed() -> None:
    setup = Setup()
    snapshot = setup.source.current()
    setup.clock.advance(599)
    assert setup.source.current() is snapshot
    setup.fetcher.documents[URL] = jwks(NEW)
    setup.clock.advance(1)
    refreshed = setup.source.current()
    assert refreshed is not snapshot
    assert [key.kid for key in refreshed.keys] == ["new"]
    assert refreshed.fetched_at == 600.0
    assert [trigger for _, trigger, _ in setup.fetches] == ["initial", "ttl"]


def test_a_failed_refresh_keeps_the_last_good_keys_until_the_stale_limit() -> None:
    setup = Setup()
    good = setup.source.current()
    del setup.fetcher.documents[URL]
    setup.clock.advance(601)
    assert setup.source.current() is good
    assert setup.fetches[-1] == (False, "ttl", "not a configured URL")
    assert (setup.events.counts["StaleKeysInUse"], setup.events.counts["KeySetFetchFailures"]) == (
        1,
        1,
    )
    setup.clock.advance(29)  # retries are paced by retry_seconds
    assert setup.source.current() is good
    assert setup.source.fetch_count == 2
    setup.clock.advance(1)
    assert setup.source.current() is good
    assert setup.source.fetch_count == 3
    setup.clock.now = 3600.0
    assert setup.source.current() is good  # exactly max_stale_seconds old: still used
    setup.clock.now = 3600.5
    with pytest.raises(KeysUnavailable) as caught:
        setup.source.current()
    assert caught.value.detail == "last good keys are older than the stale limit"
    assert setup.events.counts["StaleKeysInUse"] == 4


def test_the_identity_provider_back_before_the_stale_limit() -> None:
    setup = Setup()
    setup.source.current()
    del setup.fetcher.documents[URL]
    setup.clock.advance(601)
    setup.source.current()
    setup.fetcher.documents[URL] = jwks(NEW)
    setup.clock.advance(30)
    assert [key.kid for key in setup.source.current().keys] == ["new"]
    assert [ok for ok, _, _ in setup.fetches] == [True, False, True]


def test_nothing_fetched_yet_is_keys_unavailable() -> None:
    setup = Setup({})
    with pytest.raises(KeysUnavailable) as caught:
        setup.source.current()
    assert caught.value.detail == "no keys fetched yet"
    assert setup.fetches == [(False, "initial", "not a configured URL")]
    assert setup.miss("old") is KeysUnavailable  # paced: no new fetch
    assert setup.source.fetch_count == 1


def test_a_document_that_is_not_a_key_set_is_a_failed_fetch() -> None:
    setup = Setup()
    good = setup.source.current()
    setup.fetcher.documents[URL] = {"error": "maintenance"}
    setup.clock.advance(600)
    assert setup.source.current() is good
    assert setup.fetches[-1] == (False, "ttl", 'key set is not a JSON object with a "keys" list')


class TestUnknownKid:
    def test_an_unknown_kid_refetches_once_per_cooldown(self) -> None:
        setup = Setup()
        assert setup.kids("old") == ["old"]
        assert setup.miss("nope") is UnknownKid
        assert [trigger for _, trigger, _ in setup.fetches] == ["initial", "unknown_kid"]
        assert setup.miss("other") is UnknownKid  # within the cooldown: no fetch
        assert setup.miss("nope") is UnknownKid
        assert setup.source.fetch_count == 2
        assert len(setup.source.misses) == 2
        setup.clock.advance(300)
        assert setup.miss("third") is UnknownKid  # the cooldown ended
        assert setup.source.fetch_count == 3

    def test_a_new_key_is_found_by_the_refresh_its_kid_causes(self) -> None:
        setup = Setup()
        setup.source.current()
        setup.fetcher.documents[URL] = jwks(OLD, NEW)
        assert setup.kids("new") == ["new"]
        assert setup.source.fetch_count == 2
        assert len(setup.source.misses) == 0

    def test_a_kid_missed_again_within_the_cooldown_stays_remembered(self) -> None:
        """The negative cache keeps a kid for the cooldown after its latest miss: a client
        retrying a withdrawn kid never causes a fetch, while another kid may."""
        setup = Setup()
        setup.source.current()
        assert setup.miss("nope") is UnknownKid  # t=0: refreshes, remembered
        setup.clock.advance(299)
        assert setup.miss("nope") is UnknownKid  # t=299: remembered again
        setup.clock.advance(1)
        assert setup.miss("nope") is UnknownKid  # t=300: the kid-miss cooldown ended, but not
        assert setup.source.fetch_count == 2  # the kid's own
        assert setup.miss("other") is UnknownKid
        assert setup.source.fetch_count == 3

    def test_a_successful_fetch_forgets_the_misses(self) -> None:
        setup = Setup()
        setup.source.current()
        assert setup.miss("nope") is UnknownKid
        assert len(setup.source.misses) == 1
        setup.clock.advance(600)
        setup.source.current()
        assert len(setup.source.misses) == 0

    def test_after_a_failure_the_retry_pause_applies_to_unknown_kids_too(self) -> None:
        setup = Setup()
        setup.source.current()
        del setup.fetcher.documents[URL]
        assert setup.miss("nope") is UnknownKid
        assert setup.fetches[-1] == (False, "unknown_kid", "not a configured URL")
        setup.clock.advance(300)  # cooldown over, and well past the retry pause
        assert setup.miss("again") is UnknownKid
        assert setup.source.fetch_count == 3


class TestEmptyKeySets:
    def test_an_empty_key_set_is_applied_like_a_rotation(self) -> None:
        setup = Setup()
        setup.source.current()
        setup.fetcher.documents[URL] = {"keys": [OLD.public_jwk(use="enc")]}
        setup.clock.advance(600)
        assert setup.miss("old") is NoUsableKeys
        assert setup.events.empty_sets == [(ISSUER, {"not_for_signing": 1})]
        assert setup.events.counts["KeySetEmpty"] == 1
        assert setup.fetches[-1] == (True, "ttl", "0 keys, 1 skipped (not_for_signing 1)")

    def test_an_empty_key_set_at_cold_start(self) -> None:
        setup = Setup({URL: {"keys": []}})
        assert setup.miss("old") is NoUsableKeys
        assert setup.source.fetch_count == 1  # one request refreshes at most once
        assert setup.miss("old") is NoUsableKeys  # remembered
        assert setup.source.fetch_count == 1
        assert setup.miss("other") is NoUsableKeys
        assert setup.source.fetch_count == 2  # the kid-miss refresh
        assert setup.miss("third") is NoUsableKeys
        assert setup.source.fetch_count == 2  # then the cooldown


OTHER_ISSUER = (
    "discovery document names a different issuer: {} at " + DISCOVERY + f", expected {ISSUER!r}"
)
NO_HTTPS = "discovery document has no https jwks_uri"


class TestDiscovery:
    SPEC = SourceSpec(name=ISSUER, discovery_url=DISCOVERY, expected_issuers=frozenset({ISSUER}))

    def setup_for(self, document: object) -> Setup:
        return Setup({DISCOVERY: document, URL: jwks(OLD)}, spec=self.SPEC)

    def test_discovery_then_the_key_set(self) -> None:
        setup = self.setup_for({"issuer": ISSUER, "jwks_uri": URL})
        assert setup.kids("old") == ["old"]
        assert setup.fetcher.calls == [DISCOVERY, URL]

    def test_a_ttl_refresh_reads_discovery_again_an_unknown_kid_does_not(self) -> None:
        setup = self.setup_for({"issuer": ISSUER, "jwks_uri": URL})
        setup.source.current()
        assert setup.miss("nope") is UnknownKid
        setup.clock.advance(600)
        setup.source.current()
        assert setup.fetcher.calls == [DISCOVERY, URL, URL, DISCOVERY, URL]

    @pytest.mark.parametrize(
        ("document", "detail"),
        [
            (["not", "an", "object"], "discovery document is not a JSON object"),
            (
                {"issuer": "https://evil.example/", "jwks_uri": URL},
                OTHER_ISSUER.format("'https://evil.example/'"),
            ),
            ({"jwks_uri": URL}, OTHER_ISSUER.format("None")),
            ({"issuer": ISSUER}, NO_HTTPS),
            ({"issuer": ISSUER, "jwks_uri": "http://idp.example/keys"}, NO_HTTPS),
            ({"issuer": ISSUER, "jwks_uri": ["https://idp.example/keys"]}, NO_HTTPS),
        ],
    )
    def test_a_discovery_document_must_name_the_issuer_and_an_https_key_set(
        self, document: object, detail: str
    ) -> None:
        setup = self.setup_for(document)
        with pytest.raises(KeysUnavailable):
            setup.source.current()
        assert setup.fetches == [(False, "initial", detail)]
        assert setup.fetcher.calls == [DISCOVERY]


class TestInline:
    def test_an_inline_set_is_used_at_once_and_never_fetched_or_stale(self) -> None:
        setup = Setup(inline=jwks(OLD), spec=SourceSpec(name=ISSUER, inline_id=1))
        snapshot = setup.source.snapshot
        assert snapshot is not None
        assert setup.kids("old") == ["old"]
        assert setup.miss("nope") is UnknownKid
        setup.clock.advance(10**6)
        assert setup.source.current() is snapshot
        assert (setup.fetcher.calls, setup.fetches, setup.events.counts["StaleKeysInUse"]) == (
            [],
            [],
            0,
        )

    def test_an_inline_set_without_a_usable_key_fails_init(self) -> None:
        with pytest.raises(ConfigError) as caught:
            Setup(inline={"keys": [OLD.public_jwk(alg="RS512")]})
        assert (caught.value.field, caught.value.problem) == (
            f"jwks of {ISSUER}",
            "holds no key usable with the allowed algorithms (0 keys, 1 skipped "
            "(algorithm_not_allowed 1))",
        )


def test_clear_returns_a_source_to_its_just_constructed_state() -> None:
    setup = Setup()
    setup.source.current()
    assert setup.miss("nope") is UnknownKid
    setup.source.clear()
    assert (setup.source.snapshot, setup.source.fetch_count, setup.source.attempts) == (None, 0, 0)
    assert len(setup.source.misses) == 0
    assert setup.kids("old") == ["old"]
    assert setup.fetches[-1] == (True, "initial", "1 keys, 0 skipped")
