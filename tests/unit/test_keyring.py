"""Keyring stage: the key sources of a process, shared between issuers, prefetched together.

The refresh policy of each source is tested in test_keys.py.
"""

from __future__ import annotations

from jwt_authorizer.keyring import KeyRegistry
from jwt_authorizer.keys import SourceSpec
from tests.support.clock import FakeClock
from tests.support.constants import ISSUER
from tests.support.fetchers import ServingFetcher
from tests.unit.test_keys import EC, OLD, RS256, SETTINGS, URL, jwks


class TestRegistry:
    def test_equal_specs_share_one_source_and_their_algorithms(self) -> None:
        fetcher = ServingFetcher({URL: {"keys": [OLD.public_jwk(), EC.public_jwk()]}})
        registry = KeyRegistry(SETTINGS, fetcher=fetcher, clock=FakeClock(0.0))
        first = SourceSpec(name="first issuer", jwks_uri=URL)
        second = SourceSpec(name="second issuer", jwks_uri=URL)
        registry.declare(first, ["RS256"])
        registry.declare(second, ["ES256"])
        source = registry.source(first)
        assert registry.source(second) is source
        assert registry.sources() == (source,)
        assert [key.kid for key in source.current().keys] == ["old", "ec"]
        assert fetcher.calls == [URL]

    def test_prefetch_reports_each_source(self) -> None:
        fetcher = ServingFetcher({URL: jwks(OLD)})
        registry = KeyRegistry(SETTINGS, fetcher=fetcher, clock=FakeClock(0.0))
        up = SourceSpec(name="up", jwks_uri=URL)
        down = SourceSpec(name="down", jwks_uri="https://down.example/keys")
        for spec in (up, down):
            registry.declare(spec, RS256)
        assert registry.start_prefetch([up, down]).wait() == {"up": True, "down": False}
        assert sorted(fetcher.calls) == ["https://down.example/keys", URL]
        assert registry.start_prefetch([up]).wait() == {"up": True}  # held: nothing fetched
        assert len(fetcher.calls) == 2

    def test_clear_empties_every_source_and_keeps_them(self) -> None:
        registry = KeyRegistry(SETTINGS, fetcher=ServingFetcher({URL: jwks(OLD)}))
        spec = SourceSpec(name=ISSUER, jwks_uri=URL)
        registry.declare(spec, RS256)
        source = registry.source(spec)
        source.current()
        registry.clear()
        assert registry.sources() == (source,)
        assert source.snapshot is None
