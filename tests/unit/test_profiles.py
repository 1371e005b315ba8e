"""Profiles stage: the claim conventions of each identity-provider family, as data.

README.md's profiles table states the same facts; tests/docs/test_config_reference.py checks
that it lists every profile with these claims.
"""

from __future__ import annotations

import dataclasses
from dataclasses import astuple

from jwt_authorizer.profiles import PROFILES, Profile


def test_the_profiles() -> None:
    fields = (
        "scope_claims",
        "client_id_claims",
        "microsoft",
        "tenant_required",
        "audience_claim",
        "token_use",
        "kid_suffix_match",
        "client_is_audience",
    )
    assert tuple(field.name for field in dataclasses.fields(Profile))[1:] == fields
    assert {name: astuple(profile)[1:] for name, profile in PROFILES.items()} == {
        "entra-b2c": (("scp",), ("azp",), True, False, "aud", None, False, False),
        "entra-id": (("scp", "roles"), ("azp", "appid"), True, True, "aud", None, False, False),
        "entra-external-id": (
            ("scp", "roles"),
            ("azp", "appid"),
            True,
            True,
            "aud",
            None,
            False,
            False,
        ),
        "wso2": (("scope",), ("client_id", "azp"), False, False, "aud", None, True, True),
        "cognito": (("scope",), ("client_id",), False, False, "client_id", "access", False, False),
        "oidc": (
            ("scope", "scp"),
            ("client_id", "azp", "cid"),
            False,
            False,
            "aud",
            None,
            False,
            False,
        ),
    }


def test_each_profile_is_filed_under_its_own_name() -> None:
    assert [(name, profile.name) for name, profile in PROFILES.items()] == [
        (name, name) for name in PROFILES
    ]


def test_a_profile_is_a_value() -> None:
    """Issuers hold their profile by reference; equal conventions compare equal."""
    oidc = PROFILES["oidc"]
    assert Profile("oidc", ("scope", "scp"), ("client_id", "azp", "cid")) == oidc
    assert hash(Profile("oidc", ("scope", "scp"), ("client_id", "azp", "cid"))) == hash(oidc)
