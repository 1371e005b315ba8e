"""Key rotation and revocation as the provider publishes them, on a fake monotonic clock."""

from __future__ import annotations

from tests.conftest import IdpFactory

from .conftest import HarnessFactory, auth_config, issuer_entry


def test_new_kid_appears_costs_exactly_one_refresh(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    idp = idp_factory(profile="entra-id")
    harness = build_harness(auth_config(issuer_entry(idp)))
    old_token = idp.mint()
    assert harness.outcome(old_token) == "allow"
    assert harness.fetch_count == 1

    idp.rotate_key()  # new signing key, old one still published
    harness.clock.advance(5)
    new_tokens = [idp.mint() for _ in range(20)]

    assert harness.outcome(new_tokens[0]) == "allow"
    assert harness.fetch_count == 2
    assert (idp.request_count("discovery"), idp.request_count("jwks")) == (1, 2)
    for token in [*new_tokens[1:], old_token]:
        assert harness.outcome(token) == "allow"
    assert harness.fetch_count == 2


def test_removed_kid_fails_once_the_ttl_refresh_sees_it_gone(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    """Revocation bound: a withdrawn key verifies for at most ``refresh_seconds``."""
    idp = idp_factory(profile="entra-b2c")
    old = idp.signing_kid
    idp.add_key()  # the next key is pre-published, as Entra and B2C do
    harness = build_harness(auth_config(issuer_entry(idp), refresh_seconds=600))
    assert harness.fetch_count == 1
    old_token = idp.mint(kid=old)

    idp.remove_key(old)
    harness.clock.advance(599.5)
    assert harness.outcome(old_token) == "allow", "cached key must serve until the TTL"
    assert harness.fetch_count == 1

    harness.clock.advance(0.5)  # exactly refresh_seconds after the fetch
    assert harness.outcome(old_token) == "unknown_kid"
    # The TTL refresh only: the kid is looked up in what it fetched, not fetched for again.
    after_ttl = harness.fetch_count
    assert after_ttl == 2

    # Further tokens with the withdrawn kid are answered from the negative cache...
    harness.clock.advance(10)
    for _ in range(50):
        assert harness.outcome(old_token) == "unknown_kid"
    assert harness.fetch_count == after_ttl
    # ...until the cooldown ends, when one more look is allowed (and finds nothing).
    harness.clock.advance(300)
    assert harness.outcome(old_token) == "unknown_kid"
    assert harness.outcome(old_token) == "unknown_kid"
    assert harness.fetch_count == after_ttl + 1
    assert idp.request_count("jwks") == harness.fetch_count


def test_rotation_that_retires_the_old_key(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    """The first token signed with the new key refreshes the set; the old kid is then gone."""
    idp = idp_factory(profile="wso2")
    harness = build_harness(auth_config(issuer_entry(idp)))
    old_token = idp.mint()
    assert harness.outcome(old_token) == "allow"

    idp.rotate_key(retire_previous=True)
    new_token = idp.mint()
    harness.clock.advance(1)
    assert harness.outcome(new_token) == "allow"
    assert harness.outcome(old_token) == "unknown_kid"
    assert harness.fetch_count == 2


def test_withdrawn_kid_first_seen_after_the_ttl_costs_only_the_ttl_refresh(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    """A token never seen before, whose key was withdrawn: the TTL refresh it triggers is the
    only fetch; its kid is then remembered as missing (negative cache) for the cooldown."""
    idp = idp_factory(profile="entra-id")
    old = idp.signing_kid
    idp.add_key()
    harness = build_harness(auth_config(issuer_entry(idp), refresh_seconds=600))
    idp.remove_key(old)
    harness.clock.advance(600)

    token = idp.mint(kid=old)
    assert harness.outcome(token) == "unknown_kid"
    assert harness.fetch_count == 2
    harness.clock.advance(1)
    for _ in range(20):
        assert harness.outcome(token) == "unknown_kid"
    assert harness.fetch_count == 2
