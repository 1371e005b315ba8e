"""Denial log lines carry the values each stage compared (errors.facts), never the token."""

from __future__ import annotations

import time
from typing import Any

import pytest

from jwt_authorizer.errors import FACT_CHARS, FACT_ITEMS, fact
from tests.support.signing import SigningKey, claims
from tests.unit.conftest import AUDIENCE, ISSUER, issuer_entry, make_authorizer
from tests.unit.test_handler import token_event, unauthorized

ENTRA_TENANT = "2b7e4c91-58a3-4f0d-96c2-e1a07b3d5f84"
ENTRA_ISS = f"https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate("RS256", kid="facts-1")


def denial(
    document: dict[str, Any], credential: str, caplog: pytest.LogCaptureFixture
) -> dict[str, Any]:
    """The one ``request denied`` record's fields for ``credential``."""
    authorizer = make_authorizer(document)
    caplog.clear()
    unauthorized(authorizer, token_event("Bearer " + credential))
    (record,) = [r for r in caplog.records if r.getMessage() == "request denied"]
    fields = dict(vars(record))
    assert credential not in repr(fields)
    return fields


def test_wrong_audience_names_both_sides(key: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    document = {"issuers": [issuer_entry(key)]}
    fields = denial(document, key.sign(claims(aud=["api://x", "api://y/"])), caplog)
    assert fields["reason"] == "wrong_audience"
    assert fields["token_aud"] == ["api://x", "api://y/"]
    assert fields["audiences"] == [AUDIENCE]


def test_unknown_issuer_names_the_closest_configured_one(
    key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    fields = denial({"issuers": [issuer_entry(key)]}, key.sign(claims(iss=ISSUER + "x")), caplog)
    assert fields["reason"] == "unknown_issuer"
    assert fields["issuer"] == ISSUER + "x"
    assert fields["closest_issuer"] == ISSUER
    far = denial({"issuers": [issuer_entry(key)]}, key.sign(claims(iss="urn:zzz")), caplog)
    assert far["closest_issuer"] is None


def test_time_claims_name_the_clock_and_the_leeway(
    key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    exp = int(time.time()) - 3600
    fields = denial({"issuers": [issuer_entry(key)]}, key.sign(claims(exp=exp)), caplog)
    assert fields["reason"] == "expired"
    assert fields["exp"] == exp
    assert fields["leeway"] == 60
    assert abs(fields["now"] - time.time()) < 60


def test_tenant_and_client_name_what_was_expected(
    key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    entra = {"issuers": [issuer_entry(key, issuer=ENTRA_ISS, profile="entra-id")]}
    other = "11111111-2222-3333-4444-555555555555"
    fields = denial(entra, key.sign(claims(iss=ENTRA_ISS, tid=other)), caplog)
    assert (fields["token_tid"], fields["expected_tenant"]) == (other, ENTRA_TENANT)
    clients = {"issuers": [issuer_entry(key, allowed_client_ids=["a", "b"])]}
    fields = denial(clients, key.sign(claims(azp="intruder")), caplog)
    assert fields["token_client_id"] == "intruder"
    assert fields["allowed_client_ids"] == ["a", "b"]


def test_algorithm_and_required_claims(key: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    required = {"issuers": [issuer_entry(key, required_claims={"tfp": ["B2C_1A_X"]})]}
    fields = denial(required, key.sign(claims(tfp="B2C_1_other")), caplog)
    assert (fields["claim"], fields["token_value"], fields["accepted"]) == (
        "tfp",
        "B2C_1_other",
        ["B2C_1A_X"],
    )
    ps = SigningKey.generate("PS256", kid="facts-1")
    fields = denial({"issuers": [issuer_entry(key)]}, ps.sign(claims(), alg="PS256"), caplog)
    assert (fields["alg"], fields["algorithms"]) == ("PS256", ["RS256"])


def test_unknown_kid_lists_the_published_kids(
    key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    fields = denial({"issuers": [issuer_entry(key)]}, key.sign(claims(), kid="other"), caplog)
    assert fields["reason"] == "unknown_kid"
    assert fields["known_kids"] == ["facts-1"]


def test_hostile_values_are_bounded_and_escaped(
    key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    aud = ["\u2028evil\x00" + "a" * 500] + [f"x{i}" for i in range(50)]
    fields = denial({"issuers": [issuer_entry(key)]}, key.sign(claims(aud=aud)), caplog)
    shown = fields["token_aud"]
    assert len(shown) == FACT_ITEMS + 1
    assert shown[-1] == f"+{len(aud) - FACT_ITEMS} more"
    assert shown[0].startswith("\\u2028evil\\u0000")
    assert len(shown[0]) <= FACT_CHARS + 20


def test_fact_shapes() -> None:
    assert fact("a") == "a"
    assert fact(3) == 3
    assert fact(None) is None
    assert fact({"nested": 1}) == "<dict>"
    assert fact(frozenset({"b", "a"})) == ["a", "b"]
