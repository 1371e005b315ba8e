"""Config stage: the configuration contract. What a document may hold, the defaults, and errors
that name the field. Where the document comes from (the environment, files, SSM) is
test_source.py's matter; each stage's own checks (inline keys, route keys) are in its module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jwt_authorizer.config import load_config, parse_config
from jwt_authorizer.errors import ConfigError
from jwt_authorizer.keys import KeySettings
from jwt_authorizer.observe import Telemetry
from jwt_authorizer.profiles import PROFILES
from tests.support.dpop import document as dpop_document
from tests.support.signing import SigningKey
from tests.support.stages import issuer_entry

ISS = "https://login.example.com/tenant/v2.0"
RSA_JWK = SigningKey.generate("RS256", kid="config-rsa").public_jwk()


def entry(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"issuer": ISS, "audiences": ["api"]}
    base.update(overrides)
    return base


def config_error(document: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(document)
    return caught.value


class TestLoadConfig:
    """``load_config`` = the environment (test_source.py) + the document (below) + telemetry."""

    def test_environment_variables_build_one_issuer(self) -> None:
        config = load_config(
            {
                "ISSUER": ISS,
                "AUDIENCE": "api, api://orders ",
                "JWKS_URI": "https://login.example.com/keys",
                "ALGORITHMS": "RS256,ES256",
                "ISSUER_PROFILE": "entra-id",
                "SCOPE_CLAIMS": "roles",
                "ALLOWED_CLIENT_IDS": "a,b",
                "ROUTES": '[{"route": "GET /orders", "scopes": ["app.read"]}]',
                "RESPONSE_MODE": "iam",
                "POWERTOOLS_LOG_LEVEL": "warning",
            }
        )
        (issuer,) = config.issuers
        assert issuer.audiences == {"api", "api://orders"}
        assert issuer.algorithms == {"RS256", "ES256"}
        assert issuer.scope_claims == ("roles",)
        assert issuer.client_id_claims == ("azp", "appid")
        assert issuer.allowed_client_ids == frozenset({"a", "b"})
        assert issuer.jwks_uris == ("https://login.example.com/keys",)
        assert [(r.route_key, r.scopes) for r in config.routes] == [
            ("GET /orders", frozenset({"app.read"}))
        ]
        assert (config.unmatched, config.response_mode) == ("deny", "iam")
        assert config.telemetry == Telemetry(log_level="WARNING")

    def test_without_routes_any_valid_token_passes(self) -> None:
        config = load_config({"ISSUER": ISS, "AUDIENCE": "api"})
        assert config.unmatched == "authenticated"
        assert config.issuers[0].algorithms == {"RS256"}
        assert config.issuers[0].leeway_seconds == 60

    def test_missing_audience_fails(self) -> None:
        with pytest.raises(ConfigError) as caught:
            load_config({"ISSUER": ISS})
        assert (caught.value.field, caught.value.problem) == (
            "issuers[0].audiences",
            "must not be empty; list the aud values your API accepts",
        )

    def test_an_environment_error_fails_before_the_document_is_read(self) -> None:
        with pytest.raises(ConfigError) as caught:
            load_config({"AUDIENCE": "api"})
        assert caught.value.field == "ISSUER"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({}, "issuers"),
        ({"issuers": []}, "issuers"),
        ({"issuers": ["x"]}, "issuers[0]"),
        ({"issuers": [{"audiences": ["a"]}]}, "issuers[0].issuer"),
        ({"issuers": [entry(audiences=[])]}, "issuers[0].audiences"),
        ({"issuers": [entry(audiences="")]}, "issuers[0].audiences"),
        ({"issuers": [entry(algorithms=["HS256"])]}, "issuers[0].algorithms"),
        ({"issuers": [entry(algorithms=["none"])]}, "issuers[0].algorithms"),
        ({"issuers": [entry(profile="okta")]}, "issuers[0].profile"),
        ({"issuers": [entry(jwks_uri="http://idp.example.com/keys")]}, "issuers[0].jwks_uri"),
        ({"issuers": [entry(discovery_url="ftp://x/y")]}, "issuers[0].discovery_url"),
        ({"issuers": [entry(issuer="http://idp.example.com")]}, "issuers[0].issuer"),
        ({"issuers": [entry(jwks_uri="https://[::1/keys")]}, "issuers[0].jwks_uri"),
        ({"issuers": [entry(discovery_url="https://[zz]/x")]}, "issuers[0].discovery_url"),
        (
            {"issuers": [entry(jwks_uri="https://user:pw@idp.example.com/keys")]},
            "issuers[0].jwks_uri",
        ),
        ({"issuers": [entry(jwks=[1])]}, "issuers[0].jwks"),
        ({"issuers": [entry(leeway_seconds=-1)]}, "issuers[0].leeway_seconds"),
        ({"issuers": [entry(leeway_seconds=True)]}, "issuers[0].leeway_seconds"),
        ({"issuers": [entry(max_token_age_seconds=0)]}, "issuers[0].max_token_age_seconds"),
        ({"issuers": [entry(ca_bundle="/nonexistent.pem")]}, "issuers[0].ca_bundle"),
        ({"issuers": [entry(required_claims={"tfp": []})]}, "issuers[0].required_claims.tfp"),
        (
            {"issuers": [entry(issuer="https://login.microsoftonline.com/{tenantid}/v2.0")]},
            "issuers[0].tenants",
        ),
        ({"issuers": [entry(tenants=["contoso"])]}, "issuers[0].tenants"),
        ({"issuers": [entry(), entry()]}, "issuers[1].issuer"),
        ({"issuers": [entry()], "routes": [{"scopes": ["a"]}]}, "routes[0].route"),
        ({"issuers": [entry()], "routes": [{"route": "FETCH /x"}]}, "routes[0].route"),
        ({"issuers": [entry()], "routes": [{"route": "GET orders"}]}, "routes[0].route"),
        ({"issuers": [entry()], "routes": [{"route": "GET /{proxy+}/x"}]}, "routes[0].route"),
        (
            {"issuers": [entry()], "routes": [{"route": "GET /a"}, {"route": "get /a"}]},
            "routes[1].route",
        ),
        (
            {"issuers": [entry()], "routes": [{"route": "GET /a", "issuers": ["https://nope"]}]},
            "routes[0].issuers",
        ),
        ({"issuers": [entry()], "unmatched": "allow"}, "unmatched"),
        ({"issuers": [entry()], "response_mode": "policy"}, "response_mode"),
        (
            {"issuers": [entry()], "token_sources": [{"header": "A", "query": "b"}]},
            "token_sources[0]",
        ),
        ({"issuers": [entry()], "context_claims": {"k": 1}}, "context_claims"),
        ({"issuers": [entry()], "keys": {"refresh_seconds": 5}}, "keys.refresh_seconds"),
        ({"issuers": [entry()], "keys": {"max_stale_seconds": 120}}, "keys.max_stale_seconds"),
        (
            {"issuers": [entry()], "keys": {"connect_timeout_seconds": "1"}},
            "keys.connect_timeout_seconds",
        ),
    ],
)
def test_errors_name_the_offending_field(document: dict[str, Any], field: str) -> None:
    assert config_error(document).field == field


TEMPLATE = "https://login.microsoftonline.com/{tenantid}/v2.0"


@pytest.mark.parametrize(
    ("document", "field", "problem"),
    [
        ({"issuers": [entry(issuer="  ")]}, "issuers[0].issuer", "must be a non-empty string"),
        ({"issuers": [entry(ca_bundle=5)]}, "issuers[0].ca_bundle", "must be a non-empty string"),
        (
            {"issuers": [{"issuer": ISS}]},
            "issuers[0].audiences",
            "is required (a JSON array of strings)",
        ),
        (
            {"issuers": [entry(required_claims={"tfp": None})]},
            "issuers[0].required_claims.tfp",
            "is required (a JSON array of strings)",
        ),
        (
            {"issuers": [entry()], "allow_bare_token": "yes"},
            "allow_bare_token",
            "must be true or false",
        ),
        (
            {"issuers": [entry(jwks_uri="https://i/k", discovery_url="https://i/d")]},
            "issuers[0].jwks_uri",
            "give jwks_uri or discovery_url, not both",
        ),
        (
            {"issuers": [entry(issuer=TEMPLATE, profile="entra-id", tenants=["contoso"])]},
            "issuers[0].tenants",
            "'contoso' is not a tenant id (GUID)",
        ),
        (
            {"issuers": [entry(issuer=TEMPLATE, profile="entra-id")]},
            "issuers[0].tenants",
            "an issuer with {tenantid} needs an explicit allow-list of tenant ids",
        ),
        (
            {"issuers": [entry()], "routes": {"GET /a": {}}},
            "routes",
            "must be a list of route rules",
        ),
        (
            {"issuers": [entry()], "token_sources": []},
            "token_sources",
            'must be a non-empty list like [{"header": "Authorization"}]',
        ),
        (
            {"issuers": [entry()], "token_sources": [{"cookie": "a", "x": 1}]},
            "token_sources[0]",
            'must have exactly one of "header", "query", "cookie"',
        ),
        (
            {"issuers": [entry()], "keys": {"refresh_seconds": 7200, "max_stale_seconds": 3600}},
            "keys.max_stale_seconds",
            "must be at least keys.refresh_seconds",
        ),
        ({"issuers": [entry()], "keys": []}, "keys", "must be a JSON object"),
        ({"issuers": "x"}, "issuers", "must be a non-empty list of issuer objects"),
        ({"issuers": [entry(), entry()]}, "issuers[1].issuer", "is configured twice"),
        (
            {"issuers": [entry(issuer="http://idp.example.com")]},
            "issuers[0].issuer",
            "'http://idp.example.com' must be an https URL (plain http only for loopback hosts)",
        ),
    ],
)
def test_each_problem_is_named_exactly(document: dict[str, Any], field: str, problem: str) -> None:
    err = config_error(document)
    assert (err.field, err.problem) == (field, problem)


def test_loopback_http_is_allowed_for_development() -> None:
    config = parse_config({"issuers": [entry(jwks_uri="http://127.0.0.1:8080/keys")]})
    assert config.issuers[0].jwks_uris == ("http://127.0.0.1:8080/keys",)


def test_defaults() -> None:
    config = parse_config({"issuers": [entry()]})
    assert config.keys == KeySettings()
    assert config.keys.refresh_seconds == 3600
    assert config.keys.kid_miss_cooldown_seconds == 300
    assert config.keys.max_stale_seconds == 86400
    assert config.max_token_bytes == 16384
    assert config.response_mode == "simple"
    assert config.http_unauthorized == "deny"
    assert config.allow_bare_token is False
    assert [(s.kind, s.name) for s in config.token_sources] == [("header", "Authorization")]


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_an_issuer_holds_its_profile_and_takes_its_claims_by_default(name: str) -> None:
    """The profiles themselves are pinned in test_profiles.py."""
    issuer = parse_config({"issuers": [entry(profile=name)]}).issuers[0]
    profile = PROFILES[name]
    assert issuer.profile is profile
    assert (issuer.scope_claims, issuer.client_id_claims) == (
        profile.scope_claims,
        profile.client_id_claims,
    )


def test_the_issuer_defaults() -> None:
    issuer = parse_config({"issuers": [entry()]}).issuers[0]
    assert (
        issuer.algorithms,
        issuer.principal_claims,
        issuer.leeway_seconds,
        issuer.allowed_client_ids,
        issuer.token_types,
        issuer.required_claims,
        issuer.max_token_age_seconds,
        issuer.tenants,
        issuer.tenant_id,
        issuer.jwks,
        issuer.jwks_uris,
        issuer.discovery_urls,
    ) == (frozenset({"RS256"}), ("sub",), 60, None, None, (), None, frozenset(), None, None, (), ())


def test_an_inline_key_error_names_the_issuer_and_the_key() -> None:
    """The checks themselves are in test_jwk.py."""
    valid = [
        {"issuer": f"{ISS}/{i}", "audiences": ["api"], "jwks": {"keys": [RSA_JWK]}}
        for i in range(2)
    ]
    private = {**RSA_JWK, "kid": "x", "d": "AQAB"}
    broken = entry(jwks={"keys": [RSA_JWK, private]})
    err = config_error({"issuers": [*valid, broken]})
    assert (err.field, err.problem) == (
        "issuers[2].jwks.keys[1]",
        "holds private key material; publish only the public key (remove 'd')",
    )


@pytest.mark.parametrize("jwks", [[RSA_JWK], {"keys": "x"}, {"key": []}, "keys"])
def test_not_a_key_set(jwks: Any) -> None:
    err = config_error({"issuers": [entry(jwks=jwks)]})
    assert (err.field, err.problem) == ("issuers[0].jwks", 'must be a JWKS object {"keys": [...]}')


def test_entra_tenant_is_read_from_the_issuer() -> None:
    iss = "https://login.microsoftonline.com/2B7E4C91-58A3-4F0D-96C2-E1A07B3D5F84/v2.0"
    issuer = parse_config({"issuers": [entry(issuer=iss, profile="entra-id")]}).issuers[0]
    assert issuer.tenant_id == "2b7e4c91-58a3-4f0d-96c2-e1a07b3d5f84"


def test_route_keys_are_normalised() -> None:
    config = parse_config(
        {"issuers": [entry()], "routes": [{"route": "get /orders/"}, {"route": "$default"}]}
    )
    assert [r.route_key for r in config.routes] == ["GET /orders", "$default"]


def test_relative_ca_bundle_resolves_against_the_function_root(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "idp-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    document = json.dumps({"issuers": [entry(ca_bundle="certs/idp-ca.pem")]})
    config = load_config({"AUTH_CONFIG": document}, base_dir=tmp_path)
    assert config.issuers[0].ca_bundle == str(tmp_path / "certs" / "idp-ca.pem")


def test_unknown_keys_are_rejected_everywhere() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"issuers": [entry()], "unmatchd": "deny"}, "unmatchd"),
        ({"issuers": [entry(audience=["x"])]}, "issuers[0].audience"),
        (
            {"issuers": [entry()], "routes": [{"route": "GET /a", "scope": ["x"]}]},
            "routes[0].scope",
        ),
        ({"issuers": [entry()], "keys": {"refresh": 60}}, "keys.refresh"),
    ]
    for document, field in cases:
        assert config_error(document).field == field


# --------------------------------------------------------------------------- silent weakening
# A configuration that would silently weaken a check fails init, naming the field.


def assert_rejected(document: dict[str, Any], field: str, problem: str) -> None:
    err = config_error(document)
    assert (err.field, err.problem) == (field, problem)


ARRAY = (
    "must be a JSON array of strings, not a string (a string is never split into a list: write "
    '["a", "b"])'
)
ISSUER_LISTS = [
    "audiences",
    "algorithms",
    "scope_claims",
    "client_id_claims",
    "principal_claims",
    "allowed_client_ids",
    "token_types",
]


class TestListsAreJsonArrays:
    @pytest.mark.parametrize("key", ISSUER_LISTS)
    @pytest.mark.parametrize("value", ["a b", "RS256", ""])
    def test_a_string_is_not_a_list_on_an_issuer(self, key: str, value: str) -> None:
        assert_rejected({"issuers": [entry(**{key: value})]}, f"issuers[0].{key}", ARRAY)

    def test_a_string_is_not_a_list_of_tenants(self) -> None:
        iss = "https://login.microsoftonline.com/{tenantid}/v2.0"
        tenant = "2b7e4c91-58a3-4f0d-96c2-e1a07b3d5f84"
        document = {"issuers": [entry(issuer=iss, profile="entra-id", tenants=tenant)]}
        assert_rejected(document, "issuers[0].tenants", ARRAY)

    def test_a_required_claim_value_is_never_split(self) -> None:
        """Before: {"department": "Finance Admins"} accepted a token whose department was
        "Admins" (the string was split on white space)."""
        document = {"issuers": [entry(required_claims={"department": "Finance Admins"})]}
        assert_rejected(document, "issuers[0].required_claims.department", ARRAY)
        accepted = parse_config(
            {"issuers": [entry(required_claims={"department": ["Finance Admins"]})]}
        )
        assert accepted.issuers[0].required_claims == (
            ("department", frozenset({"Finance Admins"})),
        )

    @pytest.mark.parametrize("key", ["scopes", "all_scopes", "issuers"])
    def test_a_string_is_not_a_list_on_a_route(self, key: str) -> None:
        document = {"issuers": [entry()], "routes": [{"route": "GET /a", key: ISS}]}
        assert_rejected(document, f"routes[0].{key}", ARRAY)

    def test_route_scopes_written_as_one_string_are_rejected(self) -> None:
        document = {
            "issuers": [entry()],
            "routes": [{"route": "GET /a"}, {"route": "GET /b", "scopes": "app.read app.write"}],
        }
        assert_rejected(document, "routes[1].scopes", ARRAY)

    @pytest.mark.parametrize("value", [[""], ["a", " "], [1], [None], {"a": 1}, 5, True])
    def test_items_must_be_non_empty_strings(self, value: Any) -> None:
        assert_rejected(
            {"issuers": [entry(allowed_client_ids=value)]},
            "issuers[0].allowed_client_ids",
            "must be a JSON array of strings, each non-empty",
        )

    def test_required_claims_must_be_an_object(self) -> None:
        assert_rejected(
            {"issuers": [entry(required_claims=["tfp"])]},
            "issuers[0].required_claims",
            'must map claim names to JSON arrays of accepted values, e.g. {"tfp": ["B2C_1_a"]}',
        )

    @pytest.mark.parametrize("key", ["discovery_url", "jwks_uri"])
    def test_a_url_string_is_one_url_never_split(self, key: str) -> None:
        url = "https://idp.example.com/keys https://evil.example.com/keys"
        # One (invalid) URL with a space in it, not two URLs.
        parsed = parse_config({"issuers": [entry(**{key: "https://idp.example.com/a"})]})
        attribute = "discovery_urls" if key == "discovery_url" else "jwks_uris"
        assert getattr(parsed.issuers[0], attribute) == ("https://idp.example.com/a",)
        spaced = parse_config({"issuers": [entry(**{key: url})]})
        assert getattr(spaced.issuers[0], attribute) == (url,)
        listed = parse_config(
            {"issuers": [entry(**{key: ["https://a.example.com/k", "https://b.example.com/k"]})]}
        )
        assert getattr(listed.issuers[0], attribute) == (
            "https://a.example.com/k",
            "https://b.example.com/k",
        )

    @pytest.mark.parametrize(
        ("key", "remedy"),
        [
            ("discovery_url", "omit the key to use the issuer + /.well-known/openid-configuration"),
            ("jwks_uri", "omit the key to read it from discovery"),
        ],
    )
    @pytest.mark.parametrize("value", ["", "  ", []])
    def test_an_empty_url_does_not_fall_back_to_discovery(
        self, key: str, remedy: str, value: Any
    ) -> None:
        assert_rejected(
            {"issuers": [entry(**{key: value})]},
            f"issuers[0].{key}",
            f"must not be empty; {remedy}",
        )

    @pytest.mark.parametrize("key", ["discovery_url", "jwks_uri"])
    def test_url_list_items_must_be_strings(self, key: str) -> None:
        assert_rejected(
            {"issuers": [entry(**{key: ["https://a.example.com/k", 7]})]},
            f"issuers[0].{key}",
            "must be a URL or a JSON array of URLs, each a non-empty string",
        )


class TestEmptyListsAreErrors:
    @pytest.mark.parametrize(
        ("key", "remedy"),
        [
            ("allowed_client_ids", "must not be empty; omit the key to allow any client"),
            ("token_types", "must not be empty; omit the key to accept any typ"),
            ("algorithms", 'must not be empty; omit the key for the default ["RS256"]'),
            ("scope_claims", "must not be empty; omit the key for the profile's scope claims"),
            (
                "client_id_claims",
                "must not be empty; omit the key for the profile's client id claims",
            ),
            ("principal_claims", 'must not be empty; omit the key for the default ["sub"]'),
            ("audiences", "must not be empty; list the aud values your API accepts"),
        ],
    )
    def test_empty_issuer_list(self, key: str, remedy: str) -> None:
        assert_rejected({"issuers": [entry(**{key: []})]}, f"issuers[0].{key}", remedy)

    def test_empty_allowed_client_ids_no_longer_means_any_client(self) -> None:
        """Before: [] and "" both parsed to None, i.e. every client allowed."""
        for value, problem in (
            ([], "must not be empty; omit the key to allow any client"),
            ("", ARRAY),
        ):
            assert_rejected(
                {"issuers": [entry(allowed_client_ids=value)]},
                "issuers[0].allowed_client_ids",
                problem,
            )
        assert parse_config({"issuers": [entry()]}).issuers[0].allowed_client_ids is None
        only = parse_config({"issuers": [entry(allowed_client_ids=["app-1"])]}).issuers[0]
        assert only.allowed_client_ids == frozenset({"app-1"})

    def test_empty_token_types_no_longer_disable_the_typ_check(self) -> None:
        assert_rejected(
            {"issuers": [entry(token_types=[])]},
            "issuers[0].token_types",
            "must not be empty; omit the key to accept any typ",
        )
        checked = parse_config({"issuers": [entry(token_types=["at+jwt"])]}).issuers[0]
        assert checked.token_types == frozenset({"at+jwt"})

    def test_empty_tenants(self) -> None:
        iss = "https://login.microsoftonline.com/{tenantid}/v2.0"
        assert_rejected(
            {"issuers": [entry(issuer=iss, profile="entra-id", tenants=[])]},
            "issuers[0].tenants",
            "must not be empty; list the tenant ids (GUIDs) the {tenantid} issuer accepts",
        )

    def test_empty_required_claim_values(self) -> None:
        assert_rejected(
            {"issuers": [entry(required_claims={"tfp": []})]},
            "issuers[0].required_claims.tfp",
            "must not be empty; list the accepted values, or remove the claim",
        )

    def test_empty_route_issuers(self) -> None:
        """A rule for no issuer would never apply: the route would fall to `unmatched`."""
        document = {
            "issuers": [entry()],
            "routes": [{"route": "GET /admin", "scopes": ["app.admin"], "issuers": []}],
            "unmatched": "authenticated",
        }
        assert_rejected(
            document,
            "routes[0].issuers",
            "must not be empty; omit the key to apply the rule to every issuer",
        )

    def test_empty_route_scopes_keep_their_documented_meaning(self) -> None:
        config = parse_config(
            {
                "issuers": [entry()],
                "routes": [
                    {"route": "GET /a", "scopes": []},
                    {"route": "GET /b", "all_scopes": []},
                    {"route": "GET /c", "scopes": [], "all_scopes": []},
                ],
            }
        )
        assert [(r.scopes, r.all_scopes) for r in config.routes] == [(frozenset(), frozenset())] * 3


class TestIssuerSettingsThatWouldBeIgnored:
    def test_tenants_on_an_issuer_without_the_placeholder(self) -> None:
        tenant = "2b7e4c91-58a3-4f0d-96c2-e1a07b3d5f84"
        assert_rejected(
            {"issuers": [entry(profile="entra-id", tenants=[tenant])]},
            "issuers[0].tenants",
            "applies only to an issuer containing {tenantid} (it would be ignored here); "
            "remove it, or template the issuer",
        )

    def test_tenants_on_a_templated_issuer(self) -> None:
        iss = "https://login.microsoftonline.com/{tenantid}/v2.0"
        tenant = "2B7E4C91-58A3-4F0D-96C2-E1A07B3D5F84"
        config = parse_config(
            {"issuers": [entry(issuer=iss, profile="entra-id", tenants=[tenant])]}
        )
        assert config.issuers[0].tenants == {tenant.lower()}

    @pytest.mark.parametrize(
        "source", [{"jwks_uri": "https://idp.example.com/k"}, {"discovery_url": "https://i/d"}]
    )
    def test_inline_jwks_and_a_url(self, source: dict[str, str]) -> None:
        jwks = {"keys": [RSA_JWK]}
        assert_rejected(
            {"issuers": [entry(jwks=jwks, **source)]},
            "issuers[0].jwks",
            "give an inline jwks or a jwks_uri / discovery_url, not both",
        )

    @pytest.mark.parametrize(
        "source", [{"jwks_uri": "https://idp.example.com/k"}, {"jwks": {"keys": []}}]
    )
    def test_discovery_issuer_without_discovery(self, source: dict[str, Any]) -> None:
        if "jwks" in source:
            source = {"jwks": {"keys": [RSA_JWK]}}
        assert_rejected(
            {"issuers": [entry(discovery_issuer="https://other/", **source)]},
            "issuers[0].discovery_issuer",
            "applies only when keys come from discovery; remove it (jwks and jwks_uri skip "
            "discovery and its issuer check)",
        )

    def test_discovery_issuer_with_discovery(self) -> None:
        config = parse_config(
            {
                "issuers": [
                    entry(
                        discovery_url="https://idp.example.com/p/.well-known/openid-configuration",
                        discovery_issuer="https://idp.example.com/p/",
                    )
                ]
            }
        )
        assert config.issuers[0].discovery_issuer == "https://idp.example.com/p/"


class TestBounds:
    @pytest.mark.parametrize(
        ("document", "field", "problem"),
        [
            (
                {"issuers": [entry(leeway_seconds=60000)]},
                "issuers[0].leeway_seconds",
                "must be at most 300 seconds (5 minutes) of clock skew",
            ),
            (
                {"issuers": [entry(leeway_seconds=301)]},
                "issuers[0].leeway_seconds",
                "must be at most 300 seconds (5 minutes) of clock skew",
            ),
            (
                {"issuers": [entry()], "keys": {"max_stale_seconds": 604801}},
                "keys.max_stale_seconds",
                "must be at most 604800 seconds (7 days) of verifying with keys the identity "
                "provider may have revoked",
            ),
            (
                {"issuers": [entry()], "keys": {"refresh_seconds": 86401}},
                "keys.refresh_seconds",
                "must be at most 86400 seconds (1 day) between key-set refreshes",
            ),
            (
                {"issuers": [entry(leeway_seconds=-1)]},
                "issuers[0].leeway_seconds",
                "must be an integer >= 0",
            ),
            (
                {"issuers": [entry()], "keys": {"connect_timeout_seconds": 0.01}},
                "keys.connect_timeout_seconds",
                "must be a number >= 0.05",
            ),
        ],
    )
    def test_out_of_range(self, document: dict[str, Any], field: str, problem: str) -> None:
        err = config_error(document)
        assert (err.field, err.problem) == (field, problem)

    def test_the_bounds_themselves_are_accepted(self) -> None:
        config = parse_config(
            {
                "issuers": [entry(leeway_seconds=300), entry(issuer=ISS + "/x", leeway_seconds=0)],
                "keys": {"refresh_seconds": 86400, "max_stale_seconds": 604800},
            }
        )
        assert [i.leeway_seconds for i in config.issuers] == [300, 0]
        assert (config.keys.refresh_seconds, config.keys.max_stale_seconds) == (86400, 604800)

    def test_the_second_issuer_is_named(self) -> None:
        document = {"issuers": [entry(), entry(issuer=ISS + "/x", leeway_seconds=3600)]}
        assert config_error(document).field == "issuers[1].leeway_seconds"


# ------------------------------------------------------------------ sender-constrained tokens


def test_dpop_and_mtls_default_off_and_the_dpop_block_has_defaults(rsa_key: SigningKey) -> None:
    off = parse_config({"issuers": [issuer_entry(rsa_key)]})
    assert (off.issuers[0].dpop, off.issuers[0].mtls) == ("off", "off")
    assert (off.uses_dpop, off.sender_constrained) == (False, False)
    config = parse_config(
        {"issuers": [issuer_entry(rsa_key, dpop="required")], "dpop": {"replay_table": "t"}}
    )
    assert config.dpop.replay_table == "t"
    assert config.dpop.replay_store == "dynamodb"
    assert (config.dpop.max_age_seconds, config.dpop.clock_skew_seconds) == (60, 5)
    assert config.dpop.replay_cache_size == 10_000
    assert config.dpop.authorizer_cache_off is False
    assert config.dpop.algorithms == (
        "ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512",
    )  # fmt: skip
    mtls = parse_config({"issuers": [issuer_entry(rsa_key, mtls="allowed")]})
    assert (mtls.uses_dpop, mtls.sender_constrained) == (False, True)


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"issuer": {"dpop": "off"}, "dpop": {}}, "dpop"),  # no issuer enables DPoP
        ({"issuer": {"dpop": "allowed"}}, "dpop.replay_table"),
        ({"issuer": {"dpop": "sometimes"}}, "issuers[0].dpop"),
        ({"issuer": {"mtls": "on"}}, "issuers[0].mtls"),
        ({"dpop": {"algorithms": ["HS256"]}}, "dpop.algorithms"),
        ({"dpop": {"algorithms": ["none"]}}, "dpop.algorithms"),
        ({"dpop": {"algorithms": []}}, "dpop.algorithms"),
        ({"dpop": {"htu_base_urls": ["http://api.example.com"]}}, "dpop.htu_base_urls"),
        ({"dpop": {"htu_base_urls": ["https://api.example.com/x?y=1"]}}, "dpop.htu_base_urls"),
        ({"dpop": {"max_age_seconds": 301}}, "dpop.max_age_seconds"),
        ({"dpop": {"max_age_seconds": 0}}, "dpop.max_age_seconds"),
        ({"dpop": {"clock_skew_seconds": 61}}, "dpop.clock_skew_seconds"),
        ({"dpop": {"replay_table": "t"}}, "dpop.replay_table"),  # with the memory store
        ({"dpop": {"replay_store": "redis"}}, "dpop.replay_store"),
        ({"dpop": {"nonce": True}}, "dpop.nonce"),
    ],
)
def test_dpop_settings_that_would_weaken_a_check_fail_init(
    rsa_key: SigningKey, doc: dict[str, Any], field: str
) -> None:
    base = dpop_document(rsa_key, **doc.get("dpop", {}))
    base["issuers"][0].update(doc.get("issuer", {}))
    if "dpop" not in doc:  # the block the helper adds (memory store) would hide the case
        base.pop("dpop")
    with pytest.raises(ConfigError) as caught:
        parse_config(base)
    assert caught.value.field == field
