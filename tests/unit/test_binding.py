"""Sender-constrained tokens through the real handler: how a token must be presented per the
issuer's ``dpop`` and ``mtls`` modes (bearer behaviour unchanged when they are off, a bound token
refused as ``Bearer``, ``required`` refusing unbound tokens, TOKEN authorizers refused), the
certificate binding of RFC 8705 against the event's client certificate, and cold start without
either (none of their modules imported)."""

from __future__ import annotations

from unittest.mock import ANY

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.dpop import (
    API,
    KINDS,
    REST_URL,
    DpopClient,
    allowed,
    authorizer,
    bound_token,
    client_certificate,
    document,
    event,
    rejected,
)
from tests.support.observers import RecordingObserver
from tests.support.signing import SigningKey, claims


def test_allowed_mode_keeps_bearer_tokens(rsa_key: SigningKey) -> None:
    auth = authorizer(document(rsa_key))
    for kind in ("token", *KINDS):
        evt = (
            event(kind, f"Bearer {rsa_key.sign(claims())}")
            if kind != "token"
            else {
                "type": "TOKEN",
                "authorizationToken": f"Bearer {rsa_key.sign(claims())}",
                "methodArn": f"arn:aws:execute-api:eu-west-1:123456789012:{API}/prod/GET/orders",
            }
        )
        assert allowed(auth(evt, None)), kind


def test_a_bound_token_presented_as_bearer_is_refused(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key, client)
    proof = client.proof("GET", REST_URL, token)
    assert (
        rejected(auth, event("request", f"Bearer {token}", [proof]), caplog) == "missing_dpop_proof"
    )
    assert rejected(auth, event("request", f"Bearer {token}"), caplog) == "missing_dpop_proof"


def test_the_dpop_scheme_needs_a_proof(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key, client)
    assert rejected(auth, event("http-1.0", f"DPoP {token}"), caplog) == "missing_dpop_proof"


def test_an_unbound_token_with_the_dpop_scheme_is_a_binding_mismatch(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key)
    proof = client.proof("GET", REST_URL, token)
    assert (
        rejected(auth, event("request", f"DPoP {token}", [proof]), caplog)
        == "dpop_binding_mismatch"
    )


def test_required_mode_refuses_bearer_tokens(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key, dpop="required"))
    plain = rsa_key.sign(claims())
    assert rejected(auth, event("request", f"Bearer {plain}"), caplog) == "missing_dpop_proof"
    token = bound_token(rsa_key, client)
    assert allowed(
        auth(event("request", f"DPoP {token}", [client.proof("GET", REST_URL, token)]), None)
    )


def test_token_authorizers_cannot_do_dpop(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key))
    token = bound_token(rsa_key, client)
    arn = f"arn:aws:execute-api:eu-west-1:123456789012:{API}/prod/GET/orders"
    for value in (f"DPoP {token}", f"Bearer {token}"):
        evt = {"type": "TOKEN", "authorizationToken": value, "methodArn": arn}
        assert rejected(auth, evt, caplog) == "dpop_unsupported_event"


def test_with_dpop_off_nothing_changes(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The DPoP scheme stays what it always was, a credential that is not Bearer; a cnf claim
    is not looked at."""
    auth = authorizer(document(rsa_key, dpop="off"))
    token = bound_token(rsa_key, client)
    assert (
        rejected(
            auth, event("request", f"DPoP {token}", [client.proof("GET", REST_URL, token)]), caplog
        )
        == "malformed_token"
    )
    assert allowed(auth(event("request", f"Bearer {token}"), None))


def test_init_warns_until_the_cache_is_declared_off(
    rsa_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    doc = document(rsa_key)
    doc["dpop"]["authorizer_cache_off"] = False
    caplog.clear()
    authorizer(doc)
    warnings = [r for r in caplog.records if r.getMessage().startswith("DPoP is enabled")]
    assert len(warnings) == 1
    assert warnings[0].levelname == "WARNING"
    caplog.clear()
    authorizer(document(rsa_key))
    assert not [r for r in caplog.records if r.getMessage().startswith("DPoP is enabled")]


@pytest.mark.parametrize("kind", KINDS)
def test_certificate_bound_tokens(
    rsa_key: SigningKey, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key, dpop="off", mtls="allowed"))
    pem, thumbprint = client_certificate()
    other_pem, _ = client_certificate("someone-else")
    token = bound_token(rsa_key, cnf={"x5t#S256": thumbprint})
    assert allowed(auth(event(kind, f"Bearer {token}", cert_pem=pem), None))
    assert (
        rejected(auth, event(kind, f"Bearer {token}", cert_pem=other_pem), caplog)
        == "certificate_mismatch"
    )
    assert rejected(auth, event(kind, f"Bearer {token}"), caplog) == "missing_client_certificate"
    assert allowed(auth(event(kind, f"Bearer {rsa_key.sign(claims())}"), None))


def test_required_certificate_binding(
    rsa_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key, dpop="off", mtls="required"))
    pem, _ = client_certificate()
    assert (
        rejected(auth, event("request", f"Bearer {rsa_key.sign(claims())}", cert_pem=pem), caplog)
        == "certificate_mismatch"
    )


def test_dpop_and_certificate_binding_together(
    rsa_key: SigningKey, client: DpopClient, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(document(rsa_key, mtls="allowed"))
    pem, thumbprint = client_certificate()
    token = bound_token(rsa_key, client, cnf={"x5t#S256": thumbprint})
    proof = client.proof("GET", REST_URL, token)
    assert allowed(auth(event("request", f"DPoP {token}", [proof], cert_pem=pem), None))
    proof = client.proof("GET", REST_URL, token)
    assert (
        rejected(auth, event("request", f"DPoP {token}", [proof]), caplog)
        == "missing_client_certificate"
    )


def test_nothing_new_is_imported_at_init_without_sender_constrained_tokens() -> None:
    """Cold start without DPoP or mTLS: the DPoP modules (and boto3 for them) stay unloaded."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(root / "src" / "authorizer"),
        "ISSUER": "https://idp.example.com/",
        "AUDIENCE": "api",
        "JWKS_URI": "https://127.0.0.1:9/jwks",
    }
    code = (
        "import sys, jwt_authorizer.app; "
        "print(' '.join(m for m in sys.modules if m.startswith(('jwt_authorizer', 'boto3'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert "jwt_authorizer.handler" in loaded
    assert not {
        "jwt_authorizer.dpop",
        "jwt_authorizer.replay",
        "jwt_authorizer.binding",
        "boto3",
    } & set(loaded)


_JUNK = st.one_of(
    st.text(max_size=60),
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,", max_size=400
    ),
)


@settings(
    max_examples=150, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(
    kind=st.sampled_from(KINDS),
    proofs=st.lists(_JUNK, max_size=3),
    scheme=st.sampled_from(["DPoP", "Bearer", "dpop", ""]),
)
def test_hostile_dpop_headers_are_refused_for_a_reason_and_never_allowed(
    rsa_key: SigningKey, client: DpopClient, kind: str, proofs: list[str], scheme: str
) -> None:
    observer = RecordingObserver(keep=False)
    auth = authorizer(document(rsa_key, dpop="required"), observer=observer)
    token = bound_token(rsa_key, client)
    evt = event(kind, f"{scheme} {token}".strip(), proofs)
    if kind == "http-2.0":
        assert auth(evt, None) == {"isAuthorized": False, "context": ANY}
    else:
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            auth(evt, None)
    assert observer.last_reason in {
        "invalid_dpop_proof",
        "missing_dpop_proof",
        "malformed_token",
    }
    assert observer.counts["InternalError"] == 0


@pytest.mark.parametrize(
    ("cnf", "scheme", "mtls", "reason", "detail"),
    [
        ("not-an-object", "Bearer", "off", "malformed_token", "claim cnf is not an object"),
        ({"jkt": 7}, "DPoP", "off", "malformed_token", "claim cnf.jkt is not a string"),
        (
            {"x5t#S256": ["a"]},
            "Bearer",
            "allowed",
            "malformed_token",
            "claim cnf x5t#S256 is not a string",
        ),
    ],
)
def test_a_cnf_claim_of_the_wrong_type_is_malformed(
    rsa_key: SigningKey, cnf: object, scheme: str, mtls: str, reason: str, detail: str
) -> None:
    observer = RecordingObserver()
    auth = authorizer(document(rsa_key, mtls=mtls), observer=observer)
    token = rsa_key.sign(claims(cnf=cnf))
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        auth(event("request", f"{scheme} {token}", ["proof"]), None)
    assert [(d["reason"], d["detail"]) for d in observer.denials] == [(reason, detail)]


def test_the_dpop_scheme_for_an_issuer_without_dpop_is_malformed(rsa_key: SigningKey) -> None:
    """One issuer with certificate binding only: the DPoP scheme is read, and refused."""
    observer = RecordingObserver()
    auth = authorizer(document(rsa_key, dpop="off", mtls="allowed"), observer=observer)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        auth(event("request", f"DPoP {rsa_key.sign(claims())}"), None)
    assert [(d["reason"], d["detail"]) for d in observer.denials] == [
        ("malformed_token", "DPoP scheme for an issuer without dpop")
    ]


@pytest.mark.parametrize(
    "pem",
    [
        "no certificate here",
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----",
        "-----BEGIN CERTIFICATE-----\nQUJD=QUJD\n-----END CERTIFICATE-----",
    ],
)
def test_a_client_certificate_that_does_not_parse_is_a_mismatch(
    rsa_key: SigningKey, pem: str
) -> None:
    observer = RecordingObserver()
    auth = authorizer(document(rsa_key, dpop="off", mtls="allowed"), observer=observer)
    token = bound_token(rsa_key, cnf={"x5t#S256": "A" * 43})
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        auth(event("request", f"Bearer {token}", cert_pem=pem), None)
    assert [d["reason"] for d in observer.denials] == ["certificate_mismatch"]
