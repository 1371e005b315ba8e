"""Regression tests for the parse-stage bugs this suite found (both fixed in ``tokens.py``).

1. The compact-JWS pattern ended in ``$``, which also matches *before a trailing newline*:
   ``TokenValidator.validate("<valid token>\\n")`` accepted the valid token (a second spelling
   of one token, and a second verified-token cache entry). The handler was not exposed, because
   the event layer strips whitespace around every credential, but the validator is a public
   unit and must not rely on its caller.
2. JSON allows escaped lone surrogates (``"\\ud800"``); Python decodes them into strings that
   cannot be encoded as UTF-8. A kid or iss holding one made the "request denied" line fail to
   write (Powertools logs with ``ensure_ascii=False``): the denial vanished from the logs, with
   a traceback on stderr instead. Such strings are now a malformed token.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from jwt_authorizer.errors import TokenRejected
from tests.security.world import world
from tests.support.hostile import event_arn, invoke, jws, make_event


def _reason(token: str) -> str:
    try:
        world().validator().validate(token)
    except TokenRejected as err:
        return err.reason
    return "accepted"


@pytest.mark.parametrize("suffix", ["\n", "\r\n", "\r", "\x0b", "\x0c", " ", "\t", "\x00"])
def test_trailing_characters_are_not_ignored(suffix: str) -> None:
    token = world().token("b2c")
    assert _reason(token) == "accepted"
    assert _reason(token + suffix) == "malformed_token"
    assert _reason(suffix + token) == "malformed_token"


@pytest.mark.parametrize(
    ("where", "header", "payload_extra"),
    [
        ("kid", '{"alg":"RS256","kid":"b2c-rsa-1\\ud800"}', ""),
        ("header member name", '{"alg":"RS256","kid":"b2c-rsa-1","\\udc00":1}', ""),
        ("iss", None, '"iss":"https://x.example/\\udfff"'),
        ("claim inside a list", None, '"groups":["a","\\ud83d"]'),
        ("nested claim", None, '"ext":{"a":{"b":["\\ude00x"]}}'),
        ("reversed pair", None, '"name":"\\ude00\\ud83d"'),
    ],
)
def test_lone_surrogates_are_malformed(where: str, header: str | None, payload_extra: str) -> None:
    w = world()
    valid = json.dumps(w.payload("b2c"), separators=(",", ":"))
    payload = valid[:-1] + ("," + payload_extra if payload_extra else "") + "}"
    if '"iss"' in payload_extra:
        payload = payload.replace(f'"iss":"{w.payload("b2c")["iss"]}",', "", 1)
    token = jws(header or {"alg": "RS256", "kid": w.b2c.kid}, payload, w.b2c, alg="RS256")
    assert _reason(token) == "malformed_token", where


def test_surrogate_pairs_are_ordinary_text() -> None:
    """An escaped pair is a real character (an emoji in a display name must keep working)."""
    w = world()
    payload = json.dumps(w.payload("b2c", name="x"), separators=(",", ":"))
    payload = payload.replace('"name":"x"', '"name":"\\ud83d\\ude00 and \\\\ud800 literally"')
    token = jws({"alg": "RS256", "kid": w.b2c.kid}, payload, w.b2c, alg="RS256")
    assert _reason(token) == "accepted"
    principal = w.validator().validate(token)
    assert principal.claims["name"] == "\U0001f600 and \\ud800 literally"


def test_every_denial_field_is_loggable(capfd: pytest.CaptureFixture[str]) -> None:
    """The original symptom: no "request denied" line, a logging traceback on stderr."""
    w = world()
    authorizer = w.authorizer("simple")
    capfd.readouterr()
    token = jws('{"alg":"RS256","kid":"\\ud800"}', w.payload("b2c"), w.b2c, alg="RS256")
    event: dict[str, Any] = make_event("token", f"Bearer {token}")
    assert invoke(authorizer, event, arn=event_arn("token"), simple=False).status == 401
    out, err = capfd.readouterr()
    assert "request denied" in out
    assert "Logging error" not in err
    assert err == ""
