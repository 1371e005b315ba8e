"""``python -m devkit token``: in-process tokens shaped member by member; ordinary mistakes are
one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from devkit.cli import main

ROOT = Path(__file__).parents[2]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def part(token: str, index: int) -> dict[str, Any]:
    segment = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


def test_shaping_flags_set_the_members() -> None:
    status, out, err = run(
        "token",
        "--embedded",
        "--iss", "https://other.example/",
        "--aud", '["a","b"]',
        "--sub", "s-1",
        "--claim", "tid=11111111-2222-3333-4444-555555555555",
        "--claim", "exp=1",
        "--header", "typ=at+jwt",
        "--alg", "PS256",
        "--kid", "k-9",
        "--at", "1735689600",
    )  # fmt: skip
    assert status == 0
    token = out.strip()
    assert part(token, 0) == {"typ": "at+jwt", "alg": "PS256", "kid": "k-9"}
    claims = part(token, 1)
    assert (claims["iss"], claims["aud"], claims["sub"], claims["exp"], claims["iat"]) == (
        "https://other.example/",
        ["a", "b"],
        "s-1",
        1,
        1735689600,
    )
    assert claims["tid"] == "11111111-2222-3333-4444-555555555555"
    assert err == (
        "token minted in-process for reader-app shaped with --iss, --aud, --sub, --claim,"
        " --header, --alg, --kid, --at (explain it with: python -m devkit explain -)\n"
    )


def test_alg_none_is_an_unsigned_token() -> None:
    _status, out, _err = run("token", "--alg", "none")
    head, _payload, signature = out.strip().split(".")
    assert (json.loads(base64.urlsafe_b64decode(head + "==="))["alg"], signature) == ("none", "")


def test_each_profile_mints_its_shape() -> None:
    _status, out, _err = run("token", "--profile", "cognito", "--at", "1735689600")
    claims = part(out.strip(), 1)
    assert ("aud" in claims, claims["token_use"], claims["client_id"]) == (
        False,
        "access",
        "reader-app",
    )
    _status, out, _err = run("token", "--profile", "wso2", "--at", "1735689600")
    assert part(out.strip(), 0)["typ"] == "at+jwt"


def test_an_ungranted_scope_is_minted_with_a_note() -> None:
    status, _out, err = run("token", "--embedded", "--scope", "app.read app.write")
    assert status == 0
    assert err.split("\n")[0] == (
        "note: reader-app is not granted app.write: the IdP would refuse this scope"
        " (invalid_scope); minted anyway"
    )


def test_mistakes_are_one_line_and_exit_2() -> None:
    assert run("token", "--embedded", "--client", "nobody") == (
        2,
        "",
        "devkit token: unknown client 'nobody' (known: reader-app, writer-app, admin-app)\n",
    )
    assert run("token", "--claim", "novalue")[0] == 2
    assert run("token", "--idp", "http://127.0.0.1:9", "--aud", "x") == (
        2,
        "",
        "devkit token: --aud shapes in-process tokens: drop --idp\n",
    )


def test_a_closed_pipe_ends_quietly() -> None:
    environ = {**os.environ, "PYTHONPATH": str(ROOT / "tools")}
    reader = subprocess.Popen(
        [sys.executable, "-m", "devkit", "token", "--json", "--embedded"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environ,
        cwd=ROOT,
    )
    assert reader.stdout is not None
    reader.stdout.close()  # like `| head -c 0`: nobody reads
    _out, err = reader.communicate(timeout=60)
    assert (reader.returncode, err.decode()) == (
        1,
        "token minted in-process for reader-app under the development issuer"
        " https://dev-issuer.invalid/5b8e2f4a-9c13-4d67-b0a2-7e1f3c9d8a54/v2.0/ (accepted with"
        " --env-vars events/env.json)\n",
    )
