"""Misses stage: the unknown-kid negative cache of a key set, digests only, bounded."""

from __future__ import annotations

from jwt_authorizer.misses import MissCache


class TestMissCache:
    def test_a_digest_is_16_bytes_and_tells_the_identifiers_apart(self) -> None:
        digests = {
            MissCache.digest(*names)
            for names in [
                ("a", None, None),
                (None, "a", None),
                (None, None, "a"),
                ("a", "b", None),
                ("a", None, "b"),
                ("\ud800", None, None),
                ("k" * 10_000, None, None),
            ]
        }
        assert {len(digest) for digest in digests} == {16}
        assert len(digests) == 7
        assert MissCache.digest("a", None, None) == MissCache.digest("a", None, None)

    def test_bounded_least_recently_missed_first_out(self) -> None:
        cache = MissCache(size=2)
        first, second, third = (MissCache.digest(kid, None, None) for kid in "abc")
        cache.remember(first, 1.0)
        cache.remember(second, 2.0)
        cache.remember(first, 3.0)
        cache.remember(third, 4.0)
        assert cache.digests() == (first, third)
        assert [cache.seen_at(d) for d in (first, second, third)] == [3.0, None, 4.0]
        cache.clear()
        assert (len(cache), cache.digests()) == (0, ())
