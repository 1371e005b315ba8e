"""Errors stage: one class per failure, a stable reason code, a status by family, and messages
that never carry token material."""

from __future__ import annotations

import inspect

import pytest

from jwt_authorizer import errors
from jwt_authorizer.errors import (
    AccessDenied,
    AuthorizerError,
    ConfigError,
    Expired,
    IntrospectionFailed,
    KeysUnavailable,
    MalformedToken,
    ReplayStoreUnavailable,
    SenderConstraintFailed,
    TokenRejected,
    fact,
    loggable,
)

CLASSES = {
    name: cls
    for name, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, AuthorizerError)
}


def test_every_failure_has_its_reason_code_and_status() -> None:
    assert {name: (cls.reason, cls.status) for name, cls in CLASSES.items()} == {
        "AuthorizerError": ("error", 500),
        "TokenRejected": ("error", 401),
        "MalformedRequest": ("malformed_request", 401),
        "MissingToken": ("missing_token", 401),
        "TokenTooLarge": ("token_too_large", 401),
        "MalformedToken": ("malformed_token", 401),
        "UnsupportedAlgorithm": ("unsupported_alg", 401),
        "UnsupportedHeader": ("unsupported_header", 401),
        "UnknownIssuer": ("unknown_issuer", 401),
        "UnknownKid": ("unknown_kid", 401),
        "NoUsableKeys": ("no_usable_keys", 401),
        "FirstPartyToken": ("first_party_token", 401),
        "BadSignature": ("bad_signature", 401),
        "Expired": ("expired", 401),
        "NotYetValid": ("not_yet_valid", 401),
        "IssuedInFuture": ("issued_in_future", 401),
        "TokenTooOld": ("token_too_old", 401),
        "WrongAudience": ("wrong_audience", 401),
        "WrongTenant": ("wrong_tenant", 401),
        "WrongTokenUse": ("wrong_token_use", 401),
        "ClientNotAllowed": ("client_not_allowed", 401),
        "ClaimMismatch": ("claim_mismatch", 401),
        "TokenInactive": ("token_inactive", 401),
        "SenderConstraintFailed": ("error", 401),
        "InvalidDpopProof": ("invalid_dpop_proof", 401),
        "DpopReplay": ("dpop_replay", 401),
        "MissingDpopProof": ("missing_dpop_proof", 401),
        "DpopBindingMismatch": ("dpop_binding_mismatch", 401),
        "DpopUnsupportedEvent": ("dpop_unsupported_event", 401),
        "MissingClientCertificate": ("missing_client_certificate", 401),
        "CertificateMismatch": ("certificate_mismatch", 401),
        "AccessDenied": ("error", 403),
        "InsufficientScope": ("insufficient_scope", 403),
        "RouteNotPermitted": ("route_not_permitted", 403),
        "CacheUnsafe": ("cache_unsafe", 403),
        "KeysUnavailable": ("keys_unavailable", 500),
        "ReplayStoreUnavailable": ("replay_store_unavailable", 500),
        "IntrospectionFailed": ("error", 500),
        "IntrospectionUnavailable": ("introspection_unavailable", 500),
        "IntrospectionClientRejected": ("introspection_client_rejected", 500),
        "ConfigError": ("config_error", 500),
    }


def test_the_families() -> None:
    rejected = {name for name, cls in CLASSES.items() if issubclass(cls, TokenRejected)}
    denied = {name for name, cls in CLASSES.items() if issubclass(cls, AccessDenied)}
    assert len(rejected) == 30  # TokenRejected, its 28 reasons and SenderConstraintFailed
    sender = {name for name, cls in CLASSES.items() if issubclass(cls, SenderConstraintFailed)}
    assert sender == {
        "SenderConstraintFailed",
        "InvalidDpopProof",
        "DpopReplay",
        "MissingDpopProof",
        "DpopBindingMismatch",
        "DpopUnsupportedEvent",
        "MissingClientCertificate",
        "CertificateMismatch",
    }
    assert denied == {"AccessDenied", "InsufficientScope", "RouteNotPermitted", "CacheUnsafe"}
    assert not issubclass(KeysUnavailable, TokenRejected | AccessDenied)
    assert not issubclass(ReplayStoreUnavailable, TokenRejected | AccessDenied)
    failed = {name for name, cls in CLASSES.items() if issubclass(cls, IntrospectionFailed)}
    assert failed == {
        "IntrospectionFailed",
        "IntrospectionUnavailable",
        "IntrospectionClientRejected",
    }
    assert not issubclass(IntrospectionFailed, TokenRejected | AccessDenied)


def test_each_sender_constraint_failure_names_its_dpop_challenge() -> None:
    challenges = {
        name: cls.challenge
        for name, cls in CLASSES.items()
        if issubclass(cls, SenderConstraintFailed) and cls is not SenderConstraintFailed
    }
    assert challenges == {
        "InvalidDpopProof": "invalid_dpop_proof",
        "DpopReplay": "invalid_dpop_proof",
        "MissingDpopProof": "invalid_token",
        "DpopBindingMismatch": "invalid_token",
        "DpopUnsupportedEvent": "invalid_token",
        "MissingClientCertificate": "",
        "CertificateMismatch": "",
    }


def test_the_message_is_fixed_and_the_detail_bounded() -> None:
    err = MalformedToken("x" * 500)
    assert str(err) == "token is not a well-formed signed JWT"
    assert err.args == ("token is not a well-formed signed JWT",)
    assert err.detail == "x" * 200
    assert (err.issuer, err.kid) == (None, None)


def test_about_attaches_a_loggable_issuer_and_kid() -> None:
    err = Expired()
    err.about(issuer="https://idp.example/" + "i" * 200, kid="k\n\ud800" + "k" * 100)
    assert named(err) == (
        "https://idp.example/" + "i" * 100,
        "k\\u000a\\ud800" + "k" * 61,  # 64 characters, then escaped
    )
    err.about(issuer="", kid=None)
    assert named(err) == (None, None)


def named(err: AuthorizerError) -> tuple[str | None, str | None]:
    return err.issuer, err.kid


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        (None, 10, None),
        ("", 10, None),
        ("plain text", 10, "plain text"),
        ("plain text", 5, "plain"),
        ("a\tb", 10, "a\\u0009b"),
        ("\u2028x", 10, "\\u2028x"),
        ("\ud800", 10, "\\ud800"),
        ("abc\x00def", 4, "abc\\u0000"),
        ("caf\u00e9", 10, "caf\u00e9"),
    ],
)
def test_loggable(value: str | None, limit: int, expected: str | None) -> None:
    assert loggable(value, limit) == expected


def test_a_config_error_names_the_field() -> None:
    err = ConfigError("issuers[0].audiences", "must not be empty")
    assert (err.field, err.problem) == ("issuers[0].audiences", "must not be empty")
    assert err.args == ("issuers[0].audiences: must not be empty",)
    assert str(err) == "issuers[0].audiences: must not be empty"
    assert err.detail == "issuers[0].audiences: must not be empty"


def test_fact_shapes() -> None:
    assert fact("a") == "a"
    assert fact(3) == 3
    assert fact(None) is None
    assert fact({"nested": 1}) == "<dict>"
    assert fact(frozenset({"b", "a"})) == ["a", "b"]
