"""Schema stage: typed reading of a configuration document, each error naming its field."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jwt_authorizer.errors import ConfigError
from jwt_authorizer.schema import LIMITS, Reader


def error_of(call: Callable[[], object]) -> str:
    with pytest.raises(ConfigError) as raised:
        call()
    return str(raised.value)


def test_a_document_that_is_not_an_object_is_named() -> None:
    assert error_of(lambda: Reader(["a"], "issuers[0]")) == "issuers[0]: must be a JSON object"


def test_an_unknown_key_is_an_error_naming_its_path() -> None:
    reader = Reader({"audiences": ["a"], "audience": "a"}, "issuers[1]")
    assert reader.strings("audiences") == ("a",)
    assert error_of(reader.finish) == "issuers[1].audience: is not a known setting (typo?)"


def test_limits_are_looked_up_by_the_documented_path() -> None:
    reader = Reader({"leeway_seconds": 301}, "issuers[3]")
    bounds: tuple[float, float | None] = (0, 300)
    assert reader.limits("leeway_seconds") == bounds
    assert LIMITS["issuers[].leeway_seconds"] == bounds
    assert error_of(lambda: reader.integer("leeway_seconds", 60)) == (
        "issuers[3].leeway_seconds: must be at most 300 seconds (5 minutes) of clock skew"
    )


def test_a_number_below_its_minimum_names_the_minimum() -> None:
    reader = Reader({"refresh_seconds": 0}, "keys")
    minimum = LIMITS["keys.refresh_seconds"][0]
    assert error_of(lambda: reader.integer("refresh_seconds", 600)) == (
        f"keys.refresh_seconds: must be an integer >= {minimum:g}"
    )


def test_a_string_is_never_split_into_a_list() -> None:
    reader = Reader({"allowed_client_ids": "a b"}, "")
    assert error_of(lambda: reader.strings("allowed_client_ids")).startswith(
        "allowed_client_ids: must be a JSON array of strings, not a string"
    )


def test_an_empty_list_is_an_error_unless_allowed() -> None:
    reader = Reader({"scopes": [], "tenants": []}, "routes[0]")
    assert reader.strings("scopes", allow_empty=True) == ()
    assert error_of(lambda: reader.strings("tenants", remedy="omit the key")) == (
        "routes[0].tenants: must not be empty; omit the key"
    )
