"""template.yaml and samconfig.toml keep the contract the authorizer, the backend and users rely on.

Pure parsing, no SAM CLI: the structure (logical ids, handlers, runtime, build metadata),
the wiring from parameters to environment variables, the IAM condition on SSM, the API Gateway
settings whose defaults are traps (CORS preflight auth, HTTP API invoke permission, route-aware
caching), gateway responses, log groups and the KeysUnavailable alarm.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from devkit import paths
from devkit.template import (
    Intrinsics,
    TemplateError,
    deployed_environment,
    parameter_pairs,
    read_template,
)
from jwt_authorizer.config import load_config
from jwt_authorizer.profiles import PROFILES

TEMPLATE = read_template(paths.TEMPLATE)
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]
AUTHORIZER = RESOURCES["AuthorizerFunction"]["Properties"]
BACKEND = RESOURCES["BackendFunction"]["Properties"]
REST = RESOURCES["RestApi"]["Properties"]
HTTP = RESOURCES["HttpApi"]["Properties"]
SAMCONFIG = tomllib.loads(paths.SAMCONFIG.read_text(encoding="utf-8"))

CONTRACT_ROUTES = [
    {"route": "GET /whoami", "scopes": []},
    {"route": "GET /orders", "scopes": ["app.read"]},
    {"route": "POST /orders", "scopes": ["app.write"]},
    {"route": "GET /orders/{id}", "scopes": ["app.read"]},
    {"route": "ANY /admin/{proxy+}", "scopes": ["app.admin"]},
]

# environment variable -> the template parameter it comes from
ENV_FROM_PARAMETER = {
    "ISSUER": "Issuer",
    "AUDIENCE": "Audience",
    "DISCOVERY_URL": "DiscoveryUrl",
    "JWKS_URI": "JwksUri",
    "ISSUER_PROFILE": "IssuerProfile",
    "ALGORITHMS": "Algorithms",
    "SCOPE_CLAIMS": "ScopeClaims",
    "ALLOWED_CLIENT_IDS": "AllowedClientIds",
    "ROUTES": "Routes",
    "RESPONSE_MODE": "ResponseMode",
    "POWERTOOLS_SERVICE_NAME": "ServiceName",
    "POWERTOOLS_LOG_LEVEL": "LogLevel",
}

REF = {"Ref": "Architecture"}


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


# API Gateway's cache TTL: shorter when the authorizer introspects (a second revocation budget).
CACHE_TTL = {
    "Fn::If": [
        "HasIntrospectionSecret",
        {"Ref": "IntrospectionAuthorizerCacheTtl"},
        {"Ref": "AuthorizerCacheTtl"},
    ]
}


def default(name: str) -> Any:
    return PARAMETERS[name].get("Default")


# ------------------------------------------------------------------------------- functions


def test_authorizer_function_contract() -> None:
    assert RESOURCES["AuthorizerFunction"]["Type"] == "AWS::Serverless::Function"
    assert AUTHORIZER["CodeUri"] == "src/authorizer/"
    assert AUTHORIZER["Handler"] == "jwt_authorizer.app.handler"
    assert AUTHORIZER["Runtime"] == "python3.13"
    assert AUTHORIZER["Architectures"] == [REF]
    assert AUTHORIZER["Layers"] == [ref("DependenciesLayer")]
    assert AUTHORIZER["MemorySize"] == ref("AuthorizerMemorySize")
    assert default("AuthorizerMemorySize") == 256
    assert AUTHORIZER["Timeout"] == ref("AuthorizerTimeout")
    assert default("AuthorizerTimeout") <= 10  # HTTP APIs wait at most 10 s for an authorizer
    assert PARAMETERS["AuthorizerTimeout"]["MaxValue"] <= 10


#: With SnapStart the APIs call the published alias (a snapshot exists for versions only).
AUTHORIZER_ARN = {
    "Fn::If": [
        "UseSnapStart",
        {"Ref": "AuthorizerFunctionAliaslive"},
        {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]},
    ]
}


def test_snapstart_parameter() -> None:
    assert default("SnapStart") == "false"
    assert set(PARAMETERS["SnapStart"]["AllowedValues"]) == {"false", "true"}
    assert TEMPLATE["Conditions"]["UseSnapStart"] == {"Fn::Equals": [ref("SnapStart"), "true"]}
    assert AUTHORIZER["AutoPublishAlias"] == "live"
    assert AUTHORIZER["SnapStart"] == {
        "ApplyOn": {"Fn::If": ["UseSnapStart", "PublishedVersions", "None"]}
    }
    # SnapStart excludes provisioned concurrency, EFS and ephemeral storage over 512 MB.
    assert "ProvisionedConcurrencyConfig" not in AUTHORIZER
    assert "FileSystemConfigs" not in AUTHORIZER


def test_architecture_parameter() -> None:
    assert default("Architecture") == "arm64"
    assert set(PARAMETERS["Architecture"]["AllowedValues"]) == {"arm64", "x86_64"}


@pytest.mark.parametrize(
    ("function", "module"),
    [
        ("AuthorizerFunction", "jwt_authorizer/app.py"),
        ("BackendFunction", "sample_backend/app.py"),
    ],
)
def test_handlers_exist_in_code_uri(function: str, module: str) -> None:
    props = RESOURCES[function]["Properties"]
    code = paths.REPO_ROOT / props["CodeUri"]
    source = (code / module).read_text(encoding="utf-8")
    handler = props["Handler"].rsplit(".", 1)[1]
    assert re.search(rf"^(def {handler}\(|{handler} = )", source, re.MULTILINE), module


def test_function_code_has_no_requirements_file() -> None:
    # Dependencies come from the layer only; a requirements.txt beside the code would be a second,
    # unpinned dependency list (that the Makefile, copying the directory, would ship as a file).
    for function in ("AuthorizerFunction", "BackendFunction"):
        code = paths.REPO_ROOT / RESOURCES[function]["Properties"]["CodeUri"]
        assert not (code / "requirements.txt").exists(), function


def test_backend_function_contract() -> None:
    assert RESOURCES["BackendFunction"]["Type"] == "AWS::Serverless::Function"
    assert BACKEND["CodeUri"] == "src/backend/"
    assert BACKEND["Handler"] == "sample_backend.app.handler"
    assert BACKEND["Runtime"] == "python3.13"
    assert BACKEND["Architectures"] == [REF]
    assert BACKEND["Layers"] == [ref("DependenciesLayer")]


# ------------------------------------------------------------------------------- environment


@pytest.mark.parametrize(("variable", "parameter"), sorted(ENV_FROM_PARAMETER.items()))
def test_environment_variable_wired_to_parameter(variable: str, parameter: str) -> None:
    assert AUTHORIZER["Environment"]["Variables"][variable] == ref(parameter)


def test_environment_with_defaults() -> None:
    env = deployed_environment(TEMPLATE, "AuthorizerFunction")
    assert env["ALGORITHMS"] == "RS256"
    assert env["RESPONSE_MODE"] == "simple"
    assert env["POWERTOOLS_SERVICE_NAME"] == "jwt-authorizer"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "JwtAuthorizer"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert env["AUTH_CONFIG"] == ""
    for empty in ("ISSUER", "AUDIENCE", "DISCOVERY_URL", "JWKS_URI", "ISSUER_PROFILE"):
        assert env[empty] == ""  # the authorizer treats an empty variable as unset
    assert json.loads(env["ROUTES"]) == CONTRACT_ROUTES


def test_every_parameter_reaches_its_variable() -> None:
    markers = {parameter: f"marker-{parameter}" for parameter in ENV_FROM_PARAMETER.values()}
    env = deployed_environment(TEMPLATE, "AuthorizerFunction", markers, check_parameters=False)
    for variable, parameter in ENV_FROM_PARAMETER.items():
        assert env[variable] == markers[parameter]


def test_auth_config_inline() -> None:
    env = deployed_environment(TEMPLATE, "AuthorizerFunction", {"AuthConfig": '{"issuers": []}'})
    assert env["AUTH_CONFIG"] == '{"issuers": []}'


def test_auth_config_from_ssm_wins() -> None:
    overrides = {"AuthConfig": "file:config.json", "AuthConfigSsmParameter": "/jwt/prod/config"}
    env = deployed_environment(TEMPLATE, "AuthorizerFunction", overrides)
    assert env["AUTH_CONFIG"] == "ssm:/jwt/prod/config"


def test_issuer_profiles_match_the_authorizer() -> None:
    assert set(PARAMETERS["IssuerProfile"]["AllowedValues"]) == {"", *PROFILES}


def test_routes_default_is_the_contract() -> None:
    assert json.loads(default("Routes")) == CONTRACT_ROUTES


def test_defaults_are_a_valid_authorizer_config_once_issuer_and_audience_are_set() -> None:
    overrides = {"Issuer": "https://idp.example.test/", "Audience": "api://orders"}
    env = deployed_environment(TEMPLATE, "AuthorizerFunction", overrides)
    config = load_config(env)
    assert config is not None


# ------------------------------------------------------------------------------- SSM permission


def _ssm_statements(overrides: dict[str, str]) -> list[dict[str, Any]]:
    resolver = Intrinsics(TEMPLATE, parameter_overrides=overrides)
    statements = []
    for function in ("AuthorizerFunction", "BackendFunction"):
        for policy in resolver.resolve(RESOURCES[function]["Properties"].get("Policies", [])):
            if isinstance(policy, dict):
                statements += [
                    statement
                    for statement in policy.get("Statement", [])
                    if "ssm:" in json.dumps(statement.get("Action"))
                ]
    return statements


def test_no_ssm_permission_without_parameter() -> None:
    assert _ssm_statements({}) == []


@pytest.mark.parametrize(
    ("name", "arn"),
    [
        ("/jwt/prod/config", "arn:aws:ssm:us-east-1:123456789012:parameter/jwt/prod/config"),
        ("jwt-config", "arn:aws:ssm:us-east-1:123456789012:parameter/jwt-config"),
    ],
)
def test_ssm_permission_on_that_parameter_only(name: str, arn: str) -> None:
    statements = _ssm_statements({"AuthConfigSsmParameter": name})
    assert statements == [
        {
            "Sid": "ReadAuthorizerConfiguration",
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": arn,
        }
    ]


def test_ssm_policy_is_conditional() -> None:
    policy, *_introspection = AUTHORIZER["Policies"]
    condition, _, otherwise = policy["Fn::If"]
    assert condition == "HasAuthConfigSsmParameter"
    assert otherwise == ref("AWS::NoValue")
    assert TEMPLATE["Conditions"][condition] == {
        "Fn::Not": [{"Fn::Equals": [ref("AuthConfigSsmParameter"), ""]}]
    }


@pytest.mark.parametrize(
    ("value", "ok"),
    [("", True), ("/a/b_c.d-e", True), ("name", True), ("a b", False), ("arn:aws:ssm:x", False)],
)
def test_ssm_parameter_name_pattern(value: str, ok: bool) -> None:
    pattern = PARAMETERS["AuthConfigSsmParameter"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is ok


# ------------------------------------------------------------------------------- introspection


def _secret_statements(overrides: dict[str, str]) -> list[dict[str, Any]]:
    resolver = Intrinsics(TEMPLATE, parameter_overrides=overrides)
    return [
        statement
        for policy in resolver.resolve(AUTHORIZER["Policies"])
        if isinstance(policy, dict)
        for statement in policy.get("Statement", [])
        if statement.get("Sid") == "ReadIntrospectionClientSecret"
    ]


def test_no_secret_permission_without_an_introspection_secret() -> None:
    assert _secret_statements({}) == []


@pytest.mark.parametrize(
    ("reference", "action", "arn"),
    [
        (
            "ssm:/authorizer/introspection-secret",
            "ssm:GetParameter",
            "arn:aws:ssm:us-east-1:123456789012:parameter/authorizer/introspection-secret",
        ),
        (
            "secretsmanager:prod/authorizer/introspection",
            "secretsmanager:GetSecretValue",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/authorizer/introspection-??????",
        ),
    ],
)
def test_the_introspection_secret_and_nothing_else_may_be_read(
    reference: str, action: str, arn: str
) -> None:
    assert _secret_statements({"IntrospectionSecret": reference}) == [
        {
            "Sid": "ReadIntrospectionClientSecret",
            "Effect": "Allow",
            "Action": action,
            "Resource": arn,
        }
    ]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("", True),
        ("ssm:/a/b_c.d-e", True),
        ("ssm:name", False),  # a path, so that the ARN is parameter/<path>
        ("secretsmanager:prod/app+x=y.z@w-1", True),
        ("secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:x", False),
        ("vault:/x", False),
        ("hunter2", False),
    ],
)
def test_introspection_secret_pattern(value: str, ok: bool) -> None:
    pattern = PARAMETERS["IntrospectionSecret"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is ok


def test_introspection_cache_ttl_keeps_the_revocation_budget_small() -> None:
    spec = PARAMETERS["IntrospectionAuthorizerCacheTtl"]
    assert (spec["Default"], spec["MinValue"], spec["MaxValue"]) == (30, 0, 3600)
    assert TEMPLATE["Conditions"]["HasIntrospectionSecret"] == {
        "Fn::Not": [{"Fn::Equals": [ref("IntrospectionSecret"), ""]}]
    }
    for overrides, ttl in (({}, "300"), ({"IntrospectionSecret": "ssm:/a/b"}, "30")):
        resolver = Intrinsics(TEMPLATE, parameter_overrides=overrides)
        assert resolver.resolve(CACHE_TTL) == ttl  # parameter values resolve as text


# ------------------------------------------------------------------------------- layer


def test_dependencies_layer() -> None:
    layer = RESOURCES["DependenciesLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    props = layer["Properties"]
    assert props["ContentUri"] == "layers/deps/"
    assert props["CompatibleRuntimes"] == ["python3.13"]
    assert props["CompatibleArchitectures"] == [REF]
    # sam build resolves the Ref and the Sub from the parameter, so the wheels match the functions.
    assert layer["Metadata"] == {
        "BuildMethod": "makefile",
        "BuildArchitecture": REF,
        "ContextPath": {"Fn::Sub": "layers/deps/arch/${Architecture}"},
    }


@pytest.mark.parametrize("architecture", ["arm64", "x86_64"])
def test_layer_makefile_per_architecture(architecture: str) -> None:
    # SAM passes make no architecture: the ContextPath's Makefile names it, then includes the
    # shared layers/deps/Makefile, which knows that architecture's wheel platforms.
    assert architecture in PARAMETERS["Architecture"]["AllowedValues"]
    makefile = (paths.REPO_ROOT / "layers/deps/arch" / architecture / "Makefile").read_text("utf-8")
    assert f"\nARCH := {architecture}\n" in makefile
    assert "../../Makefile" in makefile
    shared = (paths.REPO_ROOT / "layers/deps/Makefile").read_text(encoding="utf-8")
    assert f"PLATFORMS_{architecture} :=" in shared
    assert "build-DependenciesLayer:" in shared
    assert "--invalidation-mode unchecked-hash" in shared


@pytest.mark.parametrize("function", ["AuthorizerFunction", "BackendFunction"])
def test_function_builds_with_its_makefile(function: str) -> None:
    # make, not SAM's python builder: the package ships with its python3.13 bytecode.
    resource = RESOURCES[function]
    assert resource["Metadata"] == {"BuildMethod": "makefile"}
    makefile = paths.REPO_ROOT / resource["Properties"]["CodeUri"] / "Makefile"
    text = makefile.read_text(encoding="utf-8")
    assert f"\nbuild-{function}:\n" in text
    assert "--invalidation-mode unchecked-hash" in text


def test_layer_lock_has_no_boto3() -> None:
    lock = (paths.REPO_ROOT / "layers/deps/requirements.txt").read_text(encoding="utf-8")
    names = {
        re.split(r"[=<>\[ ;]", line.strip(), maxsplit=1)[0].lower()
        for line in lock.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
    assert "aws-lambda-powertools" in names
    assert not names & {"boto3", "botocore", "s3transfer"}


# ------------------------------------------------------------------------------- REST API


def test_rest_api_auth() -> None:
    assert RESOURCES["RestApi"]["Type"] == "AWS::Serverless::Api"
    assert REST["StageName"] == ref("StageName")
    assert default("StageName") == "v1"
    auth = REST["Auth"]
    assert auth["DefaultAuthorizer"] == "JwtTokenAuthorizer"
    assert auth["AddDefaultAuthorizerToCorsPreflight"] is False
    assert "Cors" in REST

    token = auth["Authorizers"]["JwtTokenAuthorizer"]
    assert token["FunctionArn"] == AUTHORIZER_ARN
    assert token.get("FunctionPayloadType", "TOKEN") == "TOKEN"
    assert token["Identity"]["Header"] == "Authorization"
    assert token["Identity"]["ReauthorizeEvery"] == CACHE_TTL

    request = auth["Authorizers"]["JwtRequestAuthorizer"]
    assert request["FunctionArn"] == AUTHORIZER_ARN
    assert request["FunctionPayloadType"] == "REQUEST"
    assert request["Identity"]["Headers"] == ["Authorization"]
    assert request["Identity"]["ReauthorizeEvery"] == CACHE_TTL


def test_cache_ttl_parameter() -> None:
    spec = PARAMETERS["AuthorizerCacheTtl"]
    assert spec["Default"] == 300
    assert spec["MinValue"] == 0
    assert spec["MaxValue"] == 3600


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", True),
        ("bearer a.b.c", True),
        ("BEARER a-b_c.d.e", True),
        ("bEaReR abc", True),
        ("Basic dXNlcjpwYXNz", False),
        ("Bearer", False),
        ("Bearer ", False),
        ("Bearer  a.b.c", False),
        ("Bearer a.b.c extra", False),
        ("Bearer a.b/c", False),
        ("Bearer a.b.c=", False),
        ("eyJhbGciOiJSUzI1NiJ9.e30.sig", False),
        ("Token a.b.c", False),
    ],
)
def test_token_validation_expression(header: str, accepted: bool) -> None:
    expression = REST["Auth"]["Authorizers"]["JwtTokenAuthorizer"]["Identity"][
        "ValidationExpression"
    ]
    assert bool(re.fullmatch(expression, header)) is accepted


STATIC = re.compile(r"^'[^']*'$")  # a static gateway-response header value


def _gateway_responses(overrides: dict[str, str] | None = None) -> dict[str, Any]:
    resolved = Intrinsics(TEMPLATE, parameter_overrides=overrides).resolve(REST["GatewayResponses"])
    assert isinstance(resolved, dict)
    return resolved


@pytest.mark.parametrize(
    "kind",
    [
        "UNAUTHORIZED",
        "ACCESS_DENIED",
        "AUTHORIZER_FAILURE",
        "AUTHORIZER_CONFIGURATION_ERROR",
        "MISSING_AUTHENTICATION_TOKEN",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    ],
)
def test_gateway_response_has_cors_headers(kind: str) -> None:
    response = _gateway_responses({"CorsAllowOrigin": "https://app.example.test"})[kind]
    headers = response["ResponseParameters"]["Headers"]
    assert headers["Access-Control-Allow-Origin"] == "'https://app.example.test'"
    assert "WWW-Authenticate" in headers["Access-Control-Expose-Headers"]
    for value in headers.values():
        assert STATIC.match(value), value
    assert set(response) <= {"StatusCode", "ResponseParameters", "ResponseTemplates"}


def _body(response: dict[str, Any]) -> dict[str, Any]:
    template = response["ResponseTemplates"]["application/json"]
    # Gateway-response templates substitute $context variables verbatim (no VTL).
    rendered = re.sub(r"\$context\.[A-Za-z.]+", "x", template)
    body = json.loads(rendered)
    assert isinstance(body, dict)
    return body


def test_unauthorized_response() -> None:
    response = _gateway_responses()["UNAUTHORIZED"]
    assert response["StatusCode"] == 401
    headers = response["ResponseParameters"]["Headers"]
    assert headers["WWW-Authenticate"] == '\'Bearer realm="api", error="invalid_token"\''
    assert _body(response)["message"] == "Unauthorized"


def test_access_denied_response() -> None:
    response = _gateway_responses()["ACCESS_DENIED"]
    assert response["StatusCode"] == 403
    headers = response["ResponseParameters"]["Headers"]
    assert headers["WWW-Authenticate"] == "'Bearer error=\"insufficient_scope\"'"
    template = response["ResponseTemplates"]["application/json"]
    assert '"scope":"$context.authorizer.scope"' in template
    assert '"reason":"$context.authorizer.reason"' in template
    assert _body(response)["error"] == "insufficient_scope"


def test_authorizer_failure_responses() -> None:
    responses = _gateway_responses()
    assert responses["AUTHORIZER_FAILURE"]["StatusCode"] == 500
    _body(responses["AUTHORIZER_FAILURE"])
    # A configuration error is permanent: never presented as "temporarily unavailable".
    unavailable = responses["AUTHORIZER_CONFIGURATION_ERROR"]
    assert unavailable["StatusCode"] == 500
    assert _body(unavailable) == {
        "message": "Authorization failed",
        "error": "authorizer_failure",
        "requestId": "x",
    }


# ------------------------------------------------------------------------------- HTTP API


def test_http_api_authorizer() -> None:
    assert RESOURCES["HttpApi"]["Type"] == "AWS::Serverless::HttpApi"
    auth = HTTP["Auth"]
    assert auth["DefaultAuthorizer"] == "JwtHttpAuthorizer"
    authorizer = auth["Authorizers"]["JwtHttpAuthorizer"]
    assert authorizer["FunctionArn"] == AUTHORIZER_ARN
    assert authorizer["AuthorizerPayloadFormatVersion"] == "2.0"  # a string, not 2.0 the float
    assert authorizer["EnableFunctionDefaultPermissions"] is True
    identity = authorizer["Identity"]
    assert identity["Headers"] == ["Authorization"]
    assert "routeKey" in identity["Context"]  # keeps cached simple answers route-aware
    assert identity["ReauthorizeEvery"] == CACHE_TTL


@pytest.mark.parametrize(("mode", "simple"), [("simple", True), ("iam", False)])
def test_simple_responses_follow_response_mode(mode: str, simple: bool) -> None:
    authorizer = HTTP["Auth"]["Authorizers"]["JwtHttpAuthorizer"]
    resolver = Intrinsics(TEMPLATE, parameter_overrides={"ResponseMode": mode})
    assert resolver.resolve(authorizer["EnableSimpleResponses"]) is simple
    environment = deployed_environment(TEMPLATE, "AuthorizerFunction", {"ResponseMode": mode})
    assert environment["RESPONSE_MODE"] == mode
    assert default("ResponseMode") == "simple"


# ------------------------------------------------------------------------------- routes


def _events(kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: event["Properties"]
        for name, event in BACKEND["Events"].items()
        if event["Type"] == kind
    }


def test_rest_routes() -> None:
    events = _events("Api")
    assert all(props["RestApiId"] == ref("RestApi") for props in events.values())
    routes = {f"{p['Method'].upper()} {p['Path']}": p.get("Auth", {}) for p in events.values()}
    expected = {rule["route"] for rule in CONTRACT_ROUTES} | {"GET /health"}
    assert set(routes) == expected
    assert routes["GET /health"] == {"Authorizer": "NONE"}
    assert routes["GET /orders/{id}"] == {"Authorizer": "JwtRequestAuthorizer"}


def test_http_routes() -> None:
    events = _events("HttpApi")
    assert all(props["ApiId"] == ref("HttpApi") for props in events.values())
    routes = {f"{p['Method'].upper()} {p['Path']}": p.get("Auth", {}) for p in events.values()}
    expected = {rule["route"] for rule in CONTRACT_ROUTES} | {"GET /health"}
    assert set(routes) == expected
    assert routes["GET /health"] == {"Authorizer": "NONE"}


# ------------------------------------------------------------------------------- operations


@pytest.mark.parametrize("function", ["AuthorizerFunction", "BackendFunction"])
def test_log_group_with_retention(function: str) -> None:
    groups = [
        resource["Properties"]
        for resource in RESOURCES.values()
        if resource["Type"] == "AWS::Logs::LogGroup"
        and resource["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{function}}}"}
    ]
    assert len(groups) == 1
    assert groups[0]["RetentionInDays"] == ref("LogRetentionDays")
    assert default("LogRetentionDays") == 30


@pytest.mark.parametrize(
    ("name", "metric"),
    [
        ("KeysUnavailableAlarm", "KeysUnavailable"),
        ("ReplayStoreUnavailableAlarm", "ReplayStoreUnavailable"),
    ],
)
def test_fail_closed_alarms(name: str, metric: str) -> None:
    alarm = RESOURCES[name]["Properties"]
    assert alarm["MetricName"] == metric
    variables = AUTHORIZER["Environment"]["Variables"]
    assert alarm["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"] == "JwtAuthorizer"
    assert alarm["Dimensions"] == [
        {"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}
    ]
    assert alarm["Statistic"] == "Sum"
    assert alarm["Period"] == 300
    assert alarm["EvaluationPeriods"] == 1
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"


def test_introspection_alarm_only_with_introspection() -> None:
    alarms = {name for name, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms == {
        "KeysUnavailableAlarm",
        "IntrospectionFailedAlarm",
        "ReplayStoreUnavailableAlarm",  # only with Dpop on (tested with DPoP below)
    }
    assert RESOURCES["ReplayStoreUnavailableAlarm"]["Condition"] == "DpopEnabled"
    resource = RESOURCES["IntrospectionFailedAlarm"]
    assert resource["Condition"] == "HasIntrospectionSecret"
    alarm = resource["Properties"]
    failures, *metrics = alarm["Metrics"]
    assert failures == {
        "Id": "failures",
        "Label": "IntrospectionUnavailable + IntrospectionClientRejected",
        "Expression": "FILL(unavailable, 0) + FILL(rejected, 0)",
        "ReturnData": True,
    }
    variables = AUTHORIZER["Environment"]["Variables"]
    assert [
        (m["Id"], m["ReturnData"], m["MetricStat"]["Metric"]["MetricName"]) for m in metrics
    ] == [
        ("unavailable", False, "IntrospectionUnavailable"),
        ("rejected", False, "IntrospectionClientRejected"),
    ]
    for metric in metrics:
        stat = metric["MetricStat"]
        assert stat["Metric"]["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
        assert stat["Metric"]["Dimensions"] == [
            {"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}
        ]
        assert (stat["Period"], stat["Stat"]) == (300, "Sum")
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (
        1,
        "GreaterThanOrEqualToThreshold",
    )
    assert alarm["TreatMissingData"] == "notBreaching"


def test_outputs() -> None:
    outputs = TEMPLATE["Outputs"]
    for name in ("RestApiUrl", "HttpApiUrl", "AuthorizerFunctionArn", "BackendFunctionArn"):
        assert name in outputs
    assert outputs["AuthorizerFunctionArn"]["Value"] == AUTHORIZER_ARN
    urls = Intrinsics(TEMPLATE)
    rest_url = outputs["RestApiUrl"]["Value"]["Fn::Sub"]
    assert rest_url.endswith("/${StageName}")
    assert urls.parameters["StageName"] == "v1"


# ------------------------------------------------------------------------------- samconfig


def _check_parameter_value(name: str, value: str) -> None:
    spec = PARAMETERS[name]
    if "AllowedValues" in spec:
        assert value in [str(v) for v in spec["AllowedValues"]], (name, value)
    if "AllowedPattern" in spec:
        assert re.fullmatch(spec["AllowedPattern"], value), (name, value)
    if spec["Type"] == "Number":
        number = float(value)
        assert spec.get("MinValue", number) <= number <= spec.get("MaxValue", number), name


@pytest.mark.parametrize("environment", ["default", "wso2"])
def test_samconfig_environment(environment: str) -> None:
    section = SAMCONFIG[environment]
    assert section["global"]["parameters"]["stack_name"]
    assert section["global"]["parameters"]["region"]
    deploy = section["deploy"]["parameters"]
    assert deploy["resolve_s3"] is True
    assert "CAPABILITY_IAM" in deploy["capabilities"]
    overrides = parameter_pairs(section["global"]["parameters"]["parameter_overrides"])
    for name, value in overrides.items():
        _check_parameter_value(name, value)  # also rejects names the template lacks
    # The overrides produce a configuration the authorizer accepts.
    config = load_config(deployed_environment(TEMPLATE, "AuthorizerFunction", overrides))
    assert config is not None


def test_samconfig_identity_providers() -> None:
    default_env = parameter_pairs(
        SAMCONFIG["default"]["global"]["parameters"]["parameter_overrides"]
    )
    assert default_env["IssuerProfile"] == "entra-b2c"
    assert "b2clogin.com" in default_env["Issuer"]
    wso2 = parameter_pairs(SAMCONFIG["wso2"]["global"]["parameters"]["parameter_overrides"])
    assert wso2["IssuerProfile"] == "wso2"
    assert wso2["Issuer"] == "https://is.example.com:9443/oauth2/token"
    assert wso2["JwksUri"] == "https://is.example.com:9443/oauth2/jwks"


def test_resolver_rejects_unknown_override() -> None:
    with pytest.raises(TemplateError, match="NoSuchParameter"):
        Intrinsics(TEMPLATE, parameter_overrides={"NoSuchParameter": "x"})


def test_template_path() -> None:
    assert Path(paths.TEMPLATE).name == "template.yaml"


# ------------------------------------------------------------------------------------ DPoP


def test_dpop_is_off_by_default_and_needs_uncached_answers() -> None:
    assert default("Dpop") == "off"
    assert TEMPLATE["Parameters"]["Dpop"]["AllowedValues"] == ["off", "allowed", "required"]
    rule = TEMPLATE["Rules"]["DpopNeedsUncachedAnswers"]
    assert rule["RuleCondition"] == {"Fn::Not": [{"Fn::Equals": [ref("Dpop"), "off"]}]}
    assert [a["Assert"] for a in rule["Assertions"]] == [
        {"Fn::Equals": [ref("AuthorizerCacheTtl"), "0"]},
        {
            "Fn::Or": [
                {"Fn::Equals": [ref("IntrospectionSecret"), ""]},
                {"Fn::Equals": [ref("IntrospectionAuthorizerCacheTtl"), "0"]},
            ]
        },
    ]
    # Every authorizer's TTL is one of those two parameters, so the rule covers all of them.
    ttls = [
        authorizer["Identity"]["ReauthorizeEvery"]
        for resource in RESOURCES.values()
        if resource["Type"] in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi")
        for authorizer in resource["Properties"]["Auth"]["Authorizers"].values()
    ]
    assert (
        ttls
        == [
            {
                "Fn::If": [
                    "HasIntrospectionSecret",
                    ref("IntrospectionAuthorizerCacheTtl"),
                    ref("AuthorizerCacheTtl"),
                ]
            }
        ]
        * 3
    )


def test_dpop_replay_table_and_the_one_permission_on_it() -> None:
    table = RESOURCES["DpopReplayTable"]
    assert table["Condition"] == "DpopEnabled"
    assert table["Properties"]["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at",
        "Enabled": True,
    }
    assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
    policy = RESOURCES["DpopReplayPolicy"]
    assert policy["Condition"] == "DpopEnabled"
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Sid": "ClaimDpopProofs",
            "Effect": "Allow",
            "Action": "dynamodb:PutItem",
            "Resource": {"Fn::GetAtt": ["DpopReplayTable", "Arn"]},
        }
    ]
    variables = AUTHORIZER["Environment"]["Variables"]
    assert variables["DPOP"] == ref("Dpop")
    assert variables["DPOP_REPLAY_TABLE"] == {"Fn::If": ["DpopEnabled", ref("DpopReplayTable"), ""]}
    assert variables["DPOP_AUTHORIZER_CACHE_OFF"] == {"Fn::If": ["DpopEnabled", "true", ""]}
