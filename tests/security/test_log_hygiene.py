"""No output line may carry a token: the whole corpus plus allowed and 403 calls, every kind.

Captured: stdout and stderr at the file-descriptor level (Powertools log lines, EMF metrics,
anything printed or written by a library), every log record that reaches the root logger with
all its extra fields, and the text of every exception the handler raised, including its chain
(what the Lambda runtime would report). Secrets are each credential and every piece of it longer
than 16 characters (header, payload and signature segments). Runs at INFO (the default) and at
DEBUG, where allowed requests are logged too.
"""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any, Final

import pytest

from tests.security.corpus import Case, corpus
from tests.security.world import world
from tests.support.hostile import (
    Kind,
    Route,
    event_arn,
    leaked,
    make_event,
    secret_fragments,
)
from tests.support.iam import allows

CHANNELS: Final[tuple[tuple[Kind, str], ...]] = (
    ("token", "simple"),
    ("request", "simple"),
    ("http-1.0", "simple"),
    ("http-2.0", "simple"),
    ("http-2.0", "iam"),
)


def _accepted_cases() -> list[Case]:
    """Valid tokens (allowed, and 403 on a route they lack scope for) from every issuer."""
    w = world()
    tokens = {
        "b2c": w.token("b2c"),
        "oidc": w.token("oidc"),
        "oidc-ec": w.oidc_ec.sign(w.payload("oidc")),
        "entra": w.token("entra"),
        "multi": w.token("multi"),
    }
    cases = []
    for name, token in tokens.items():
        cases.append(Case(f"allowed-{name}", "valid", "ok", "allowed", token=token, status=200))
        cases.append(
            Case(
                f"forbidden-{name}",
                "valid",
                "insufficient_scope",
                "403",
                token=token,
                route=Route("POST", "/admin"),
                status=403,
            )
        )
    return cases


def _exception_text(err: BaseException) -> str:
    return "".join(traceback.format_exception(err, chain=True))


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_no_output_line_contains_token_material(
    level: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", level)
    caplog.set_level(logging.DEBUG)
    w = world()
    authorizers = {"simple": w.authorizer("simple"), "iam": w.authorizer("iam")}
    cases = [*corpus(), *_accepted_cases()]
    secrets: set[str] = set()
    raised: list[str] = []
    messages: set[str] = set()
    allowed = denied = 0
    capfd.readouterr()
    for case in cases:
        secrets |= secret_fragments(*case.secrets())
        for kind, mode in CHANNELS:
            if kind not in case.kinds:
                continue
            try:
                answer: Any = authorizers[mode](case.build_event(kind), None)
            except Exception as err:
                messages.add(f"{type(err).__name__}: {err}")
                raised.append(_exception_text(err))
                denied += 1
                continue
            if "isAuthorized" in answer:
                granted = answer["isAuthorized"] is True
            else:
                granted = allows(answer, event_arn(kind, case.route))
            allowed += granted
            denied += not granted
    out, stderr = capfd.readouterr()
    records = [json.dumps(vars(record), default=str) for record in caplog.records]
    lines = [*out.splitlines(), *stderr.splitlines(), *records, *raised]

    denials = [line for line in out.splitlines() if '"request denied"' in line]
    assert messages == {"Exception: Unauthorized"}
    assert allowed == len(CHANNELS) * 5  # the five allowed-* cases, every channel
    assert len(denials) == denied, "every denial is logged exactly once"
    if level == "DEBUG":
        assert any('"request allowed"' in line for line in out.splitlines())
    assert len(secrets) > len(cases), "secret extraction found too little to check"
    hits = leaked(lines, secrets)
    assert not hits, f"token material in output: {hits[:5]}"
    assert stderr == "", "nothing should be written to stderr"


def test_secret_fragments_cover_every_segment() -> None:
    token = world().token("b2c")
    header, payload, signature = token.split(".")
    fragments = secret_fragments(f"Bearer {token}, Bearer {token}x")
    assert {token, header, payload, signature, f"{signature}x"} <= fragments
    assert leaked([f"prefix {payload[:40]} suffix"], fragments) == []
    assert leaked([f'{{"kid": "{signature}"}}'], fragments) != []


def test_lone_surrogates_in_event_strings_are_still_logged(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Event JSON may carry an escaped lone surrogate (the Lambda runtime decodes ``"\\ud800"``
    into a str that cannot be written as UTF-8): the denial must still reach the log."""
    authorizer = world().authorizer("simple")
    capfd.readouterr()
    event = make_event("token", "Bearer not-a-token", Route("GET", "/orders/\ud800"))
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer(event, None)
    out, err = capfd.readouterr()
    assert "request denied" in out
    assert "Logging error" not in err
