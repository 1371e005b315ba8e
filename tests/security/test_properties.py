"""Property-based fuzzing of the handler (REST TOKEN, REST REQUEST, HTTP 1.0, HTTP 2.0) and of
the validator.

For every generated input:

* the handler returns a well-formed answer (checked independently of the authorizer's own policy
  code) or raises exactly ``Exception("Unauthorized")`` (or ``KeysUnavailable``, which
  cannot happen here: keys are inline); nothing else escapes;
* the fail-closed safety net (``InternalError``) never fires: it would mean an unexpected
  exception inside the pipeline;
* every denial could be written to a UTF-8 log;
* nothing is allowed unless the credential is one of the valid tokens (and, for mutations, only
  the unmodified token is);
* each call uses less than ``MAX_SECONDS`` of CPU and ``MAX_WALL_SECONDS`` of wall time
  (generous: typical calls take well under a millisecond, the largest inputs about 10 ms).

The number of examples per property depends on the Hypothesis profile (conftest.py); the totals
are printed in the "security suite" section at the end of the run.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jwt_authorizer import Authorizer
from jwt_authorizer.errors import TokenRejected
from tests.security import strategies as hs
from tests.security.conftest import LONG_FACTOR, PROFILE, PROFILE_NAME, record_examples
from tests.security.world import world
from tests.support.hostile import (
    EVENT_KINDS,
    ORDERS,
    Kind,
    Outcome,
    Route,
    event_arn,
    invoke,
    jws,
    leaked,
    make_event,
    secret_fragments,
)
from tests.support.iam import allows
from tests.support.observers import RecordingObserver

pytestmark = pytest.mark.fuzz
MAX_SECONDS: Final = 1.0  # CPU time of the calling thread: immune to other processes' load
MAX_WALL_SECONDS: Final = 5.0  # wall clock, generous: a hang (waiting on anything) still fails


def budget(ci_examples: int) -> settings:
    factor = LONG_FACTOR if PROFILE_NAME == "long" else 1
    return settings(PROFILE, max_examples=ci_examples * factor)


class Harness:
    """Authorizers for every answer mode, one recording observer, and the valid tokens."""

    def __init__(self) -> None:
        w = world()
        self.observer = RecordingObserver()
        self.simple = w.authorizer("simple", observer=self.observer)
        # IAM answers everywhere, 401 raised for HTTP 2.0 too, and every token source enabled.
        self.iam = w.authorizer(
            "iam",
            observer=self.observer,
            token_sources=[
                {"header": "Authorization"},
                {"query": "access_token"},
                {"cookie": "access_token"},
            ],
        )
        self.valid = (
            w.token("b2c"),
            w.token("oidc"),
            w.oidc_ec.sign(w.payload("oidc")),
            w.token("entra"),
            w.token("multi"),
        )
        self.counts: Counter[str] = Counter()

    def call(
        self,
        authorizer: Authorizer,
        event: Any,
        *,
        arn: str | None,
        simple: bool | None,
        credential: str | None = None,
    ) -> Outcome:
        self.observer.reset()
        started, cpu_started = time.perf_counter(), time.thread_time()
        outcome = invoke(authorizer, event, arn=arn, simple=simple)
        elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
        self.counts["examples"] += 1
        self.counts[f"status {outcome.status}"] += 1
        assert outcome.status != -1, f"contract broken: {outcome.problems}"
        assert outcome.status != 500, "keys are inline: KeysUnavailable is impossible here"
        assert cpu < MAX_SECONDS, f"a call used {cpu:.3f} s of CPU"
        assert elapsed < MAX_WALL_SECONDS, f"a call took {elapsed:.3f} s"
        assert self.observer.counts["InternalError"] == 0, self.observer.denials
        assert not self.observer.unloggable, self.observer.unloggable
        if outcome.status in (401, 403):
            assert len(self.observer.denials) == 1, "a denial must be logged exactly once"
        if credential is not None:
            assert not leaked(self.observer.sink.lines, secret_fragments(credential))
        if outcome.status == 401:
            assert outcome.answer is None or outcome.answer == {
                "isAuthorized": False,
                "context": {"error": "invalid_token"},
            }
        return outcome

    def contains_valid_token(self, event: Any) -> bool:
        text = json.dumps(event, default=str)
        return any(token in text for token in self.valid)


def _run(name: str, prop: Callable[[], None], harness: Harness) -> None:
    started = time.perf_counter()
    try:
        prop()
    finally:
        record_examples(name, harness.counts["examples"], time.perf_counter() - started)


# --------------------------------------------------------------------------- properties


def test_any_token_text_in_every_event_kind() -> None:
    """Arbitrary token text (and mutated valid tokens) as the Authorization credential."""
    h = Harness()

    @budget(900)
    @given(
        kind=st.sampled_from(EVENT_KINDS),
        iam=st.booleans(),
        credential=hs.credential_values(h.valid),
    )
    def prop(kind: Kind, iam: bool, credential: str | None) -> None:
        authorizer = h.iam if iam else h.simple
        event = make_event(kind, credential)
        simple = kind == "http-2.0" and not iam
        outcome = h.call(
            authorizer, event, arn=event_arn(kind), simple=simple, credential=credential
        )
        if outcome.status in (200, 403):
            assert credential is not None
            assert credential.strip().split()[-1] in h.valid
            h.counts["allowed"] += outcome.status == 200

    _run("any token text, every kind", prop, h)
    assert h.counts["allowed"] > 0, "no valid token ever reached the handler"


def test_mutated_valid_tokens_are_never_accepted() -> None:
    """Bit flips, segment swaps and splices, truncation, padding, re-encoding, JSON rewrites."""
    h = Harness()
    valid = h.valid

    @budget(900)
    @given(
        kind=st.sampled_from(EVENT_KINDS),
        iam=st.booleans(),
        pair=hs.mutated_tokens(valid),
    )
    def prop(kind: Kind, iam: bool, pair: tuple[str, str]) -> None:
        original, mutated = pair
        authorizer = h.iam if iam else h.simple
        event = make_event(kind, f"Bearer {mutated}")
        simple = kind == "http-2.0" and not iam
        outcome = h.call(authorizer, event, arn=event_arn(kind), simple=simple, credential=mutated)
        if mutated in valid:  # unchanged, or spliced back into another valid token
            assert outcome.status == 200
            h.counts["unmodified"] += mutated == original
        elif outcome.status != 401:
            # Only whitespace around the credential may be dropped (the header is trimmed).
            assert mutated.strip() in valid, f"accepted a modified token ({outcome.status})"
            h.counts["trimmed"] += 1

    _run("mutated tokens, every kind", prop, h)
    assert h.counts["unmodified"] > 0, "the strategy never produced the unmodified token"


def test_validator_accepts_only_the_exact_token() -> None:
    """The same mutations straight into TokenValidator: accepted iff the result is one of the
    valid tokens, character for character (no whitespace, no re-encoding)."""
    h = Harness()
    validator = world().validator()
    for token in h.valid:
        validator.validate(token)  # and warm the verified-token cache

    @budget(1500)
    @given(pair=hs.mutated_tokens(h.valid))
    def prop(pair: tuple[str, str]) -> None:
        _original, mutated = pair
        h.counts["examples"] += 1
        started = time.thread_time()
        try:
            validator.validate(mutated)
            accepted = True
        except TokenRejected:
            accepted = False
        assert time.thread_time() - started < MAX_SECONDS
        assert accepted == (mutated in h.valid)  # splices can rebuild another valid token

    _run("mutated tokens, validator", prop, h)


def test_signed_claims_agree_with_the_oracle() -> None:
    """Genuinely signed tokens with random header/claim changes: the validator accepts exactly
    what an independent reading of the B2C configuration accepts."""
    h = Harness()
    w = world()
    validator = w.validator()

    @budget(500)
    @given(claim_set=hs.signed_claim_sets(w))
    def prop(claim_set: tuple[dict[str, Any], dict[str, Any], bool]) -> None:
        header, payload, trusted = claim_set
        h.counts["examples"] += 1
        token = jws(header, payload, w.b2c if trusted else w.attacker_rsa, alg="RS256")
        expected = hs.oracle_accepts(header, payload, trusted, time.time())
        try:
            validator.validate(token)
            accepted = True
        except TokenRejected:
            accepted = False
        assert accepted == expected
        h.counts["accepted"] += accepted

    _run("signed claim sets vs oracle", prop, h)
    assert h.counts["accepted"] > 0, "the oracle property never saw an acceptable token"


def test_perturbed_events_of_every_kind() -> None:
    """Well-shaped events with fields deleted or replaced by arbitrary JSON."""
    h = Harness()
    credentials = hs.credential_values(h.valid)

    @budget(900)
    @given(iam=st.booleans(), kind_event=hs.perturbed_events(credentials))
    def prop(iam: bool, kind_event: tuple[Kind, dict[str, Any]]) -> None:
        _kind, event = kind_event
        authorizer = h.iam if iam else h.simple
        outcome = h.call(authorizer, event, arn=None, simple=None)
        if outcome.status != 401:
            assert h.contains_valid_token(event), "answered without a valid token"
            h.counts["answered"] += 1

    _run("perturbed events", prop, h)
    assert h.counts["answered"] > 0, "no perturbed event kept a usable valid token"


def test_arbitrary_json_events() -> None:
    """Anything at all as the event."""
    h = Harness()

    @budget(500)
    @given(iam=st.booleans(), event=hs.arbitrary_events)
    def prop(iam: bool, event: Any) -> None:
        outcome = h.call(h.iam if iam else h.simple, event, arn=None, simple=None)
        assert outcome.status == 401

    _run("arbitrary JSON events", prop, h)


def test_pathological_sizes_are_bounded() -> None:
    """Up to 300 000 repetitions of separators, padding, brackets and spaces, in every kind."""
    h = Harness()

    @budget(150)
    @given(kind=st.sampled_from(EVENT_KINDS), parts=hs.pathological_parts)
    def prop(kind: Kind, parts: tuple[str, str, int]) -> None:
        prefix, unit, count = parts  # built here: a 300 kB argument makes a 300 kB repr
        credential = prefix + unit * count
        event = make_event(kind, credential)
        outcome = h.call(h.simple, event, arn=event_arn(kind), simple=None, credential=credential)
        assert outcome.status == 401

    _run("pathological sizes", prop, h)


def test_route_decisions_follow_the_rules() -> None:
    """Valid tokens on arbitrary routes: allowed exactly where the route rules allow, and the
    answer never lets API Gateway through where they do not."""
    h = Harness()
    w = world()
    tokens = {
        frozenset({"app.read", "app.write"}): w.token("b2c"),
        frozenset({"app.read", "admin"}): w.token("b2c", scp="app.read admin"),
        frozenset(): w.token("b2c", scp=None),
    }

    @budget(600)
    @given(
        kind=st.sampled_from(EVENT_KINDS),
        iam=st.booleans(),
        permissions=st.sampled_from(list(tokens)),
        route=hs.routes(),
    )
    def prop(kind: Kind, iam: bool, permissions: frozenset[str], route: Route) -> None:
        event = make_event(kind, f"Bearer {tokens[permissions]}", route)
        arn = event_arn(kind, route)
        simple = kind == "http-2.0" and not iam
        outcome = h.call(h.iam if iam else h.simple, event, arn=arn, simple=simple)
        assert outcome.status in (200, 403)
        assert (outcome.status == 200) == hs.expected_allowed(route, permissions), route
        if outcome.answer is not None and not simple:
            assert allows(outcome.answer, arn) == (outcome.status == 200)
        h.counts["allowed"] += outcome.status == 200

    _run("route decisions", prop, h)
    assert h.counts["allowed"] > 0


def test_orders_route_sanity() -> None:
    """The harness itself: every valid token is allowed on GET /orders in every kind and mode."""
    h = Harness()
    for token in h.valid:
        for kind in EVENT_KINDS:
            for authorizer, simple in ((h.simple, kind == "http-2.0"), (h.iam, False)):
                event = make_event(kind, f"Bearer {token}", ORDERS)
                assert h.call(authorizer, event, arn=event_arn(kind), simple=simple).status == 200
