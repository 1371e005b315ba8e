"""Source stage: every environment variable the function reads, turned into the configuration
document (``AUTH_CONFIG`` inline, ``file:`` or ``ssm:``, or simple mode's variables) and the
telemetry settings. Pure but for ``file:`` (a temporary directory) and ``ssm:`` (moto's server on
127.0.0.1). What the document then means is test_config.py's matter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jwt_authorizer.errors import ConfigError
from jwt_authorizer.observe import Telemetry
from jwt_authorizer.source import read_document, read_telemetry
from tests.support.aws import REGION, aws_endpoint, moto_server

ISS = "https://login.example.com/tenant/v2.0"
DOCUMENT = {"issuers": [{"issuer": ISS, "audiences": ["api"]}]}
HERE = Path("/function-root")


def document(env: dict[str, str], base: Path = HERE) -> dict[str, Any]:
    return read_document(env, base)


def rejected(env: dict[str, str], base: Path = HERE) -> tuple[str, str]:
    with pytest.raises(ConfigError) as caught:
        read_document(env, base)
    return caught.value.field, caught.value.problem


class TestSimpleMode:
    def test_every_variable_becomes_the_document(self) -> None:
        assert document(
            {
                "ISSUER": f" {ISS} ",
                "AUDIENCE": "api, api://orders ",
                "JWKS_URI": "https://login.example.com/keys",
                "DISCOVERY_URL": " ",
                "ALGORITHMS": "RS256,ES256",
                "ISSUER_PROFILE": "entra-id",
                "SCOPE_CLAIMS": "roles",
                "ALLOWED_CLIENT_IDS": "a,b",
                "CA_BUNDLE": "certs/ca.pem",
                "ROUTES": '[{"route": "GET /orders", "scopes": ["app.read"]}]',
                "RESPONSE_MODE": "iam",
                "UNRELATED": "ignored",
            }
        ) == {
            "issuers": [
                {
                    "issuer": ISS,
                    "audiences": ["api", "api://orders"],
                    "jwks_uri": "https://login.example.com/keys",
                    "profile": "entra-id",
                    "ca_bundle": "certs/ca.pem",
                    "algorithms": ["RS256", "ES256"],
                    "scope_claims": ["roles"],
                    "allowed_client_ids": ["a", "b"],
                }
            ],
            "routes": [{"route": "GET /orders", "scopes": ["app.read"]}],
            "response_mode": "iam",
        }

    def test_only_issuer_and_audience(self) -> None:
        assert document({"ISSUER": ISS, "AUDIENCE": "api"}) == DOCUMENT

    def test_a_missing_audience_is_left_for_the_configuration_to_name(self) -> None:
        assert document({"ISSUER": ISS}) == {"issuers": [{"issuer": ISS, "audiences": []}]}

    @pytest.mark.parametrize("value", [None, "", "   "])
    def test_a_missing_issuer_names_the_variable(self, value: str | None) -> None:
        env = {"AUDIENCE": "api"} if value is None else {"ISSUER": value, "AUDIENCE": "api"}
        assert rejected(env) == (
            "ISSUER",
            "set ISSUER (or AUTH_CONFIG) to the exact iss of your tokens",
        )

    @pytest.mark.parametrize("variable", ["ALGORITHMS", "SCOPE_CLAIMS", "ALLOWED_CLIENT_IDS"])
    def test_a_list_variable_of_commas_only_is_an_error(self, variable: str) -> None:
        """Before: "," parsed to no items, and ALLOWED_CLIENT_IDS="," allowed any client."""
        assert rejected({"ISSUER": ISS, "AUDIENCE": "api", variable: " , ,"}) == (
            variable,
            "lists no items; leave it empty for the default",
        )

    @pytest.mark.parametrize("variable", ["ALGORITHMS", "SCOPE_CLAIMS", "ALLOWED_CLIENT_IDS"])
    @pytest.mark.parametrize("value", ["", " "])
    def test_an_empty_list_variable_means_the_default(self, variable: str, value: str) -> None:
        assert document({"ISSUER": ISS, "AUDIENCE": "api", variable: value}) == DOCUMENT

    def test_a_comma_separated_value_is_split_on_commas_only(self) -> None:
        (issuer,) = document(
            {"ISSUER": ISS, "AUDIENCE": "api one, api two", "ALLOWED_CLIENT_IDS": "a b,c"}
        )["issuers"]
        assert (issuer["audiences"], issuer["allowed_client_ids"]) == (
            ["api one", "api two"],
            ["a b", "c"],
        )

    def test_bad_routes_json(self) -> None:
        field, problem = rejected({"ISSUER": ISS, "AUDIENCE": "api", "ROUTES": "[not json"})
        assert (field, problem.startswith("not valid JSON (")) == ("ROUTES", True)

    def test_routes_are_passed_on_for_the_configuration_to_check(self) -> None:
        env = {"ISSUER": ISS, "AUDIENCE": "api", "ROUTES": '"GET /orders"'}
        assert document(env)["routes"] == "GET /orders"


class TestAuthConfig:
    def test_inline_json(self) -> None:
        assert document({"AUTH_CONFIG": json.dumps(DOCUMENT)}) == DOCUMENT

    def test_a_file_relative_to_the_function_root(self, tmp_path: Path) -> None:
        (tmp_path / "auth.json").write_text(json.dumps(DOCUMENT))
        assert document({"AUTH_CONFIG": "file:auth.json"}, tmp_path) == DOCUMENT

    def test_an_absolute_file(self, tmp_path: Path) -> None:
        path = tmp_path / "auth.json"
        path.write_text(json.dumps(DOCUMENT))
        assert document({"AUTH_CONFIG": f" file:{path} "}) == DOCUMENT

    def test_a_missing_file(self, tmp_path: Path) -> None:
        assert rejected({"AUTH_CONFIG": "file:nope.json"}, tmp_path) == (
            "AUTH_CONFIG",
            f"cannot read {tmp_path / 'nope.json'}: No such file or directory",
        )

    @pytest.mark.parametrize(
        ("raw", "problem"),
        [
            ("[]", "must be a JSON object"),
            ('"string"', "must be a JSON object"),
            ("null", "must be a JSON object"),
        ],
    )
    def test_not_an_object(self, raw: str, problem: str) -> None:
        assert rejected({"AUTH_CONFIG": raw}) == ("AUTH_CONFIG", problem)

    def test_not_json(self) -> None:
        field, problem = rejected({"AUTH_CONFIG": "{"})
        assert (field, problem.startswith("not valid JSON (")) == ("AUTH_CONFIG", True)

    def test_auth_config_wins_over_simple_mode(self) -> None:
        env = {"AUTH_CONFIG": json.dumps(DOCUMENT), "ISSUER": "https://x", "AUDIENCE": "y"}
        assert document(env) == DOCUMENT

    def test_an_empty_auth_config_means_simple_mode(self) -> None:
        assert document({"AUTH_CONFIG": "  ", "ISSUER": ISS, "AUDIENCE": "api"}) == DOCUMENT

    def test_an_ssm_reference_needs_a_name(self) -> None:
        assert rejected({"AUTH_CONFIG": "ssm:"}) == ("AUTH_CONFIG", "ssm: needs a parameter name")


class TestResponseMode:
    def test_the_variable_is_applied_to_a_document_without_one(self) -> None:
        env = {"AUTH_CONFIG": json.dumps(DOCUMENT), "RESPONSE_MODE": " iam "}
        assert document(env) == {**DOCUMENT, "response_mode": "iam"}

    def test_the_variable_must_agree_with_the_document(self) -> None:
        iam = json.dumps({**DOCUMENT, "response_mode": "iam"})
        assert document({"AUTH_CONFIG": iam, "RESPONSE_MODE": "iam"})["response_mode"] == "iam"
        assert rejected({"AUTH_CONFIG": iam, "RESPONSE_MODE": "simple"}) == (
            "RESPONSE_MODE",
            "is 'simple' but AUTH_CONFIG says response_mode 'iam'; they must match the API's "
            "EnableSimpleResponses",
        )

    def test_an_empty_variable_changes_nothing(self) -> None:
        assert document({"AUTH_CONFIG": json.dumps(DOCUMENT), "RESPONSE_MODE": ""}) == DOCUMENT


class TestSsm:
    """SSM Parameter Store through moto's server mode (a real HTTP endpoint on 127.0.0.1)."""

    @pytest.fixture
    def ssm_endpoint(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
        import boto3

        with moto_server() as url, aws_endpoint(monkeypatch, url):
            yield boto3.client("ssm", region_name=REGION)

    def test_a_secure_string_parameter(self, ssm_endpoint: Any) -> None:
        ssm_endpoint.put_parameter(
            Name="/authorizer/config", Type="SecureString", Value=json.dumps(DOCUMENT)
        )
        assert document({"AUTH_CONFIG": "ssm:/authorizer/config"}) == DOCUMENT

    def test_a_missing_parameter_fails_init(self, ssm_endpoint: Any) -> None:
        field, problem = rejected({"AUTH_CONFIG": "ssm:/authorizer/missing"})
        assert (field, problem.startswith("cannot read SSM parameter /authorizer/missing: ")) == (
            "AUTH_CONFIG",
            True,
        )


class TestTelemetry:
    def test_the_defaults(self) -> None:
        assert read_telemetry({}) == Telemetry(
            service="jwt-authorizer", namespace="JwtAuthorizer", log_level="INFO", tracing=False
        )

    def test_powertools_and_tracing_variables(self) -> None:
        assert read_telemetry(
            {
                "POWERTOOLS_SERVICE_NAME": " orders-authorizer ",
                "POWERTOOLS_METRICS_NAMESPACE": "Orders",
                "POWERTOOLS_LOG_LEVEL": "debug",
                "AUTHORIZER_TRACING": " TRUE ",
            }
        ) == Telemetry(
            service="orders-authorizer", namespace="Orders", log_level="DEBUG", tracing=True
        )

    @pytest.mark.parametrize("value", ["", "false", "1", "yes"])
    def test_tracing_only_with_true(self, value: str) -> None:
        assert read_telemetry({"AUTHORIZER_TRACING": value}).tracing is False

    def test_an_unknown_log_level(self) -> None:
        with pytest.raises(ConfigError) as caught:
            read_telemetry({"POWERTOOLS_LOG_LEVEL": "verbose"})
        assert (caught.value.field, caught.value.problem) == (
            "POWERTOOLS_LOG_LEVEL",
            "must be DEBUG, INFO, WARNING or ERROR",
        )


# ------------------------------------------------------------------ the template's DPoP variables


def test_dpop_variables_fill_the_dpop_block_of_a_document_that_enables_dpop() -> None:
    enabled = {"issuers": [{"issuer": ISS, "audiences": ["api"], "dpop": "allowed"}]}
    env = {
        "AUTH_CONFIG": json.dumps(enabled),
        "DPOP_REPLAY_TABLE": "replay",
        "DPOP_AUTHORIZER_CACHE_OFF": "true",
    }
    assert document(env)["dpop"] == {"replay_table": "replay", "authorizer_cache_off": True}
    own = {**enabled, "dpop": {"replay_table": "mine", "authorizer_cache_off": False}}
    assert document({**env, "AUTH_CONFIG": json.dumps(own)})["dpop"] == own["dpop"]
    memory = {**enabled, "dpop": {"replay_store": "memory"}}
    assert document({**env, "AUTH_CONFIG": json.dumps(memory)})["dpop"] == {
        "replay_store": "memory",
        "authorizer_cache_off": True,
    }


def test_dpop_variables_are_ignored_without_an_issuer_that_enables_dpop() -> None:
    env = {"AUTH_CONFIG": json.dumps(DOCUMENT), "DPOP_REPLAY_TABLE": "replay"}
    assert "dpop" not in document(env)
    assert rejected({**env, "DPOP_AUTHORIZER_CACHE_OFF": "yes"}) == (
        "DPOP_AUTHORIZER_CACHE_OFF",
        "must be true or false",
    )


def test_simple_mode_dpop_variable() -> None:
    doc = document(
        {
            "ISSUER": "https://idp.example.com/",
            "AUDIENCE": "api",
            "DPOP": "required",
            "DPOP_REPLAY_TABLE": "replay",
        }
    )
    assert doc["issuers"][0]["dpop"] == "required"
    assert doc["dpop"] == {"replay_table": "replay"}


def test_with_auth_config_the_dpop_variable_must_match_an_issuer() -> None:
    """The template's Dpop parameter is not silently ignored when AUTH_CONFIG is used."""
    plain = {"AUTH_CONFIG": json.dumps(DOCUMENT)}
    assert document({**plain, "DPOP": "off"}) == DOCUMENT
    assert rejected({**plain, "DPOP": "required"}) == (
        "DPOP",
        'is \'required\' but no issuer of AUTH_CONFIG sets "dpop": "required"; with AUTH_CONFIG '
        "the mode is set per issuer in the document",
    )
    allowed = {"issuers": [{"issuer": ISS, "audiences": ["api"], "dpop": "allowed"}]}
    assert rejected({"AUTH_CONFIG": json.dumps(allowed), "DPOP": "required"})[0] == "DPOP"
    assert document({"AUTH_CONFIG": json.dumps(allowed), "DPOP": "allowed"}) == allowed
    assert rejected({**plain, "DPOP": "yes"}) == ("DPOP", "must be off, allowed or required")
