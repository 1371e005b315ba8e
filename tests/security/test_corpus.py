"""Every corpus entry, through the real handler, for every event kind it applies to.

For each entry and kind we check what API Gateway would do with the answer (401, or 403 with a
policy that does not allow the called ARN, never 200), the reason in the single "request denied"
log line and its ``Reason_<code>`` metric, and that nothing was fetched or written to stderr.
HTTP payload 2.0 runs twice: simple responses (``isAuthorized``) and IAM policies.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Final

import pytest

from jwt_authorizer import Authorizer, errors
from tests.security.conftest import STATS
from tests.security.corpus import Case, corpus
from tests.security.world import world
from tests.support.fetchers import NoNetworkFetcher, ServingFetcher
from tests.support.hostile import Kind, event_arn, invoke
from tests.support.observers import RecordingObserver, emitted_metrics, json_lines

CASES: Final = corpus()
CHANNELS: Final[tuple[tuple[Kind, str], ...]] = (
    ("token", "simple"),
    ("request", "simple"),
    ("http-1.0", "simple"),
    ("http-2.0", "simple"),
    ("http-2.0", "iam"),
)
MINIMUM_ENTRIES: Final = 200


def _reason_codes() -> set[str]:
    return {
        cls.reason
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.AuthorizerError)
    }


def test_corpus_size_and_coverage() -> None:
    STATS["corpus"] = len(CASES)
    categories = Counter(case.category for case in CASES)
    assert len(CASES) >= MINIMUM_ENTRIES
    assert set(categories) >= {
        "alg", "hmac", "confusion", "kid", "embedded-key", "jwe", "crit", "duplicates", "time",
        "issuer", "audience", "entra", "signature", "size", "encoding", "nested", "placement",
        "event", "route",
    }  # fmt: skip
    assert {case.reason for case in CASES} <= _reason_codes()
    assert {case.status for case in CASES} == {401, 403}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_entry(case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    fetcher = NoNetworkFetcher()
    authorizers = {
        "simple": world().authorizer("simple", fetcher=fetcher),
        "iam": world().authorizer("iam", fetcher=fetcher),
    }
    capsys.readouterr()
    failures: list[str] = []
    channels = [(kind, mode) for kind, mode in CHANNELS if kind in case.kinds]
    assert channels, "a corpus entry must apply to at least one event kind"
    for kind, mode in channels:
        label = f"{kind}/{mode}"
        event = case.build_event(kind)
        outcome = invoke(
            authorizers[mode],
            event,
            arn=event_arn(kind, case.route),
            simple=kind == "http-2.0" and mode == "simple",
        )
        output = capsys.readouterr()
        lines = json_lines(output.out)
        denials = [line for line in lines if line.get("message") == "request denied"]
        if outcome.status != case.status:
            failures.append(
                f"{label}: status {outcome.status} {outcome.problems}, want {case.status}"
            )
        if outcome.status == 200 or (outcome.answer and outcome.answer.get("isAuthorized")):
            failures.append(f"{label}: ALLOWED")
        if len(denials) != 1:
            failures.append(f"{label}: {len(denials)} denial log lines")
        elif (denials[0].get("reason"), denials[0].get("status")) != (case.reason, case.status):
            failures.append(
                f"{label}: logged {denials[0].get('reason')}/{denials[0].get('status')}, "
                f"want {case.reason}/{case.status}"
            )
        if f"Reason_{case.reason}" not in emitted_metrics(lines):
            failures.append(f"{label}: no Reason_{case.reason} metric")
        if output.err:
            failures.append(f"{label}: wrote to stderr: {output.err[:200]!r}")
    assert fetcher.calls == [], "a corpus entry made the authorizer fetch keys"
    assert not failures, "\n".join(failures)


def test_embedded_key_headers_are_never_fetched() -> None:
    """With a *remote* key set, jku/x5u/jwk/x5c tokens may make us refresh the configured key set
    (an unknown kid, once per cooldown), but never fetch anything the token names."""
    w = world()
    jwks_uri = (
        "https://contoso.b2clogin.com/contoso.onmicrosoft.com/b2c_1a_signin/discovery/v2.0/keys"
    )
    fetcher = ServingFetcher({jwks_uri: {"keys": [w.b2c.public_jwk()]}})
    document = w.document("iam")
    entry = document["issuers"][0]
    entry.pop("jwks")
    entry["jwks_uri"] = jwks_uri
    authorizer = Authorizer.from_environ(
        {"AUTH_CONFIG": json.dumps(document)}, fetcher=fetcher, observer=RecordingObserver()
    )
    cases = [case for case in CASES if case.category == "embedded-key"]
    assert len(cases) >= 12
    for case in cases:
        for kind in ("token", "request"):
            outcome = invoke(authorizer, case.build_event(kind), arn=None, simple=False)
            assert outcome.status == 401, case.name
    assert set(fetcher.calls) == {jwks_uri}
    assert len(fetcher.calls) <= 2, "prefetch plus at most one unknown-kid refresh"
