"""Observe stage: logs and metrics behind a few methods, and every log line written, whatever
the request carried: request-derived strings are escaped.

Powertools writes UTF-8 with ``ensure_ascii=False``: a lone surrogate (``"\\ud800"``, which JSON
events may carry) in any field made the write fail, so the line vanished and a traceback went to
stderr. A ``PolicyFallback`` warning naming such a route was the case reproduced.
"""

from __future__ import annotations

import hashlib
import logging

import pytest

from jwt_authorizer.observe import DeferredEvents, Observer, Telemetry, token_hash
from tests.support.constants import REST_PREFIX as PREFIX
from tests.support.iam import Decision, decision
from tests.support.observers import RecordingObserver, json_lines, metrics_line
from tests.support.signing import SigningKey, claims
from tests.support.stages import issuer_entry, make_authorizer

# GET /files/{name} needs a scope the caller lacks, so a cacheable answer denies GET/files/*; a
# deeper path under it belongs to $default and is allowed: the answer has to be narrowed to this
# route (PolicyFallback), and the warning names the route.
FALLBACK_RULES = [
    {"route": "GET /files/{name}", "scopes": ["files.admin"]},
    {"route": "$default"},
]


def test_policy_fallback_warning_with_a_lone_surrogate_in_the_path_is_logged(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    # A service name of its own: Powertools binds a logger's handler to the stdout of the moment.
    key = SigningKey.generate("RS256", kid="observe-key")
    authorizer = make_authorizer(
        {"issuers": [issuer_entry(key)], "routes": FALLBACK_RULES},
        POWERTOOLS_SERVICE_NAME=f"observe-{request.node.name}",
    )
    capsys.readouterr()
    event = {
        "type": "TOKEN",
        "authorizationToken": "Bearer " + key.sign(claims(scp="app.read")),
        "methodArn": f"{PREFIX}/GET/files/a/\ud800b",
    }
    answer = authorizer(event, None)
    assert decision(answer, event["methodArn"]) is Decision.ALLOW
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    (warning,) = [line for line in json_lines(captured.out) if line.get("level") == "WARNING"]
    assert warning["route"] == "GET /files/a/\\ud800b"
    metrics = next(line for line in json_lines(captured.out) if "_aws" in line)
    assert metrics["PolicyFallback"] == [1.0]
    assert metrics["Allowed"] == [1.0]


def observer(request: pytest.FixtureRequest) -> Observer:
    """Call it inside the test, after capsys took stdout: Powertools binds its handler to the
    stdout of the moment, once per service name (hence one name per test)."""
    return Observer(service=f"observe-{request.node.name}", namespace="ObserveTest")


def test_warning_escapes_strings_inside_lists(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    observer(request).warning(
        "context keys dropped to fit the size budget", dropped=["ok", "x\ud800", ""]
    )
    (line,) = json_lines(capsys.readouterr().out)
    assert line["dropped"] == ["ok", "x\\ud800", ""]


def test_warning_escapes_control_characters(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    observer(request).warning(
        "w", route="GET /a\nINFO forged line\u2028", nested={"k\udfff": ("v\x00",)}
    )
    (line,) = json_lines(capsys.readouterr().out)
    assert line["route"] == "GET /a\\u000aINFO forged line\\u2028"
    assert line["nested"] == {"k\\udfff": ["v\\u0000"]}


def test_key_fetch_lines_are_escaped_but_not_shortened(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    long_url = "https://idp.example.com/" + "k" * 400
    observer(request).key_fetch(
        long_url, ok=False, trigger="initial", detail="HTTP 404 from \ud800"
    )
    (line,) = [line for line in json_lines(capsys.readouterr().out) if "message" in line]
    assert line["message"] == "key set fetch failed"
    assert line["source"] == long_url
    assert line["detail"] == "HTTP 404 from \\ud800"


def test_denied_escapes_nested_request_strings(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    observer(request).denied(
        level=20, reason="malformed_request", route="\ud800", detail=["a\ud800"]
    )
    (line,) = json_lines(capsys.readouterr().out)
    assert (line["route"], line["detail"]) == ("\\ud800", ["a\\ud800"])


# --------------------------------------------------------------------------- the methods


def test_a_token_hash_is_twelve_hex_digits_of_sha256() -> None:
    assert token_hash("abc") == hashlib.sha256(b"abc").hexdigest()[:12] == "ba7816bf8f01"
    assert token_hash("\ud800") == hashlib.sha256(b"\xed\xa0\x80").hexdigest()[:12]
    assert (token_hash(""), token_hash(None)) == ("", "")


def test_metrics_are_summed_and_flushed_as_one_emf_line(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = observer(request)
    recorder.count("Allowed")
    recorder.count("Allowed")
    recorder.count("Reason_expired", 3)
    recorder.latency(1.23456)
    recorder.flush()
    metrics = metrics_line(capsys.readouterr().out)
    # A count is one value per flush (the sum), so a metric costs the same whatever its count.
    assert (metrics["Allowed"], metrics["Reason_expired"], metrics["ValidationLatency"]) == (
        [2.0],
        [3.0],
        [1.235],
    )
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ObserveTest"


def test_a_denial_is_one_line_at_its_level(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = observer(request)
    recorder.denied(level=logging.INFO, reason="expired", status=401, client_id="", kid=None)
    recorder.denied(level=logging.ERROR, reason="keys_unavailable", status=500)
    first, second = json_lines(capsys.readouterr().out)
    assert (first["level"], first["message"], first["reason"], first["status"]) == (
        "INFO",
        "request denied",
        "expired",
        401,
    )
    # Empty strings become null, and Powertools leaves null fields out of the line.
    assert ("client_id" in first, "kid" in first) == (False, False)
    assert (second["level"], second["reason"]) == ("ERROR", "keys_unavailable")


def test_allows_are_logged_at_debug_only(capsys: pytest.CaptureFixture[str]) -> None:
    quiet = Observer(service="observe-allow-info", namespace="ObserveTest", log_level="INFO")
    quiet.allowed(route="GET /orders")
    assert json_lines(capsys.readouterr().out) == []
    loud = Observer(service="observe-allow-debug", namespace="ObserveTest", log_level="DEBUG")
    loud.allowed(route="GET /orders")
    (line,) = json_lines(capsys.readouterr().out)
    assert (line["level"], line["message"], line["route"]) == (
        "DEBUG",
        "request allowed",
        "GET /orders",
    )


def test_key_events(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> None:
    recorder = RecordingObserver()
    recorder.key_fetch("https://idp/keys", ok=True, trigger="ttl", detail="1 keys, 0 skipped")
    recorder.key_fetch("https://idp/keys", ok=False, trigger="ttl", detail="HTTP 500")
    recorder.stale_keys("https://idp/keys", age_seconds=4000.0)
    recorder.key_set_empty("https://idp/keys", skipped={"private_key": 1, "malformed": 2})
    assert dict(recorder.counts) == {
        "KeySetFetches": 2,
        "KeySetFetchFailures": 1,
        "StaleKeysInUse": 1,
        "KeySetEmpty": 1,
    }
    assert [line["message"] for line in json_lines("\n".join(recorder.sink.lines))] == [
        "key set fetched",
        "key set fetch failed",
        "key set holds no usable key",
    ]
    (empty,) = recorder.logged("key set holds no usable key")
    assert (empty["level"], empty["skipped"], empty["skipped_reasons"]) == (
        "WARNING",
        3,
        {"malformed": 2, "private_key": 1},
    )


def test_an_observer_of_the_telemetry_settings() -> None:
    built = Observer.of(Telemetry(service="observe-of", namespace="ObserveOf", log_level="ERROR"))
    assert (built.logger.service, built.logger.log_level) == ("observe-of", logging.ERROR)


def test_key_events_before_the_observer_exists_are_replayed() -> None:
    deferred = DeferredEvents()
    deferred.key_fetch("a", ok=True, trigger="prefetch", detail="1 keys, 0 skipped")
    deferred.key_set_empty("b", skipped={"malformed": 1})
    deferred.stale_keys("c", age_seconds=1.0)
    recorder = RecordingObserver()
    deferred.attach(recorder)
    assert (recorder.fetches, recorder.empty_sets) == (
        [(True, "prefetch", "1 keys, 0 skipped")],
        [("b", {"malformed": 1})],
    )
    assert recorder.counts["StaleKeysInUse"] == 1
    deferred.key_fetch("a", ok=False, trigger="ttl", detail="down")  # forwarded at once
    assert recorder.fetches[-1] == (False, "ttl", "down")
