"""The devkit's CloudFormation/SAM resolver (devkit.template), without HTTP or functions.

Loading (short tags), parameters (defaults, overrides, constraints), intrinsic functions and
conditions, SAM's Globals merge, and the model the emulator and ``invoke`` read: functions,
REST and HTTP APIs, their authorizers, gateway responses and routes.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from devkit import paths
from devkit.constants import ACCOUNT_ID, REGION
from devkit.template import (
    Intrinsics,
    TemplateError,
    TemplateModel,
    deployed_environment,
    fake_api_id,
    load_template,
    load_yaml,
    merge_globals,
    parameter_pairs,
    parse_template,
    read_template,
)

TEMPLATES = Path(__file__).parent / "templates"


def yaml_text(text: str) -> dict[str, Any]:
    return load_yaml(textwrap.dedent(text))


def model(text: str, tmp_path: Path, **kwargs: Any) -> TemplateModel:
    return parse_template(yaml_text(text), base_dir=tmp_path, **kwargs)


def intrinsics(text: str, **kwargs: Any) -> Intrinsics:
    return Intrinsics(yaml_text(text), **kwargs)


# ============================================================================================
# Loading
# ============================================================================================


def test_short_tags_become_long_forms() -> None:
    document = yaml_text(
        """
        A: !Ref Param
        B: !GetAtt Fn.Arn
        C: !GetAtt Bucket.Attr.With.Dots
        D: !Sub "${AWS::Region}-x"
        E: !Sub ["${X}", {X: !Ref Param}]
        F: !If [Cond, !Ref AWS::NoValue, 1]
        G: !Equals [a, b]
        H: !Condition Cond
        I: !Select [0, !Split [",", "a,b"]]
        J: !FindInMap [Map, Top, Second]
        """
    )
    assert document == {
        "A": {"Ref": "Param"},
        "B": {"Fn::GetAtt": ["Fn", "Arn"]},
        "C": {"Fn::GetAtt": ["Bucket", "Attr.With.Dots"]},
        "D": {"Fn::Sub": "${AWS::Region}-x"},
        "E": {"Fn::Sub": ["${X}", {"X": {"Ref": "Param"}}]},
        "F": {"Fn::If": ["Cond", {"Ref": "AWS::NoValue"}, 1]},
        "G": {"Fn::Equals": ["a", "b"]},
        "H": {"Condition": "Cond"},
        "I": {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]},
        "J": {"Fn::FindInMap": ["Map", "Top", "Second"]},
    }


def test_template_root_must_be_a_mapping() -> None:
    with pytest.raises(TemplateError, match="mapping"):
        load_yaml("- a\n- b\n")


def test_read_template_reads_the_project_template() -> None:
    document = read_template(paths.TEMPLATE)
    props = document["Resources"]["AuthorizerFunction"]["Properties"]
    assert props["Handler"] == "jwt_authorizer.app.handler"
    assert props["MemorySize"] == {"Ref": "AuthorizerMemorySize"}


def test_parameter_pairs() -> None:
    assert parameter_pairs(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    for bad in ("novalue", "=value"):
        with pytest.raises(TemplateError, match="Name=value"):
            parameter_pairs([bad])


# ============================================================================================
# Parameters and pseudo-parameters
# ============================================================================================

PARAMETERS = """
Parameters:
  Env: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Size: {Type: Number, Default: 256}
  Names: {Type: CommaDelimitedList, Default: "a, b,c"}
  Empty: {Type: CommaDelimitedList, Default: ""}
  Flag: {Type: String, Default: true}
  Name: {Type: String, Default: ok, AllowedPattern: "[a-z]+"}
"""


def test_parameter_defaults_and_types() -> None:
    values = intrinsics(PARAMETERS).parameters
    assert values == {
        "Env": "dev",
        "Size": "256",  # every value is text, as CloudFormation passes it
        "Names": ["a", "b", "c"],
        "Empty": [],
        "Flag": "true",
        "Name": "ok",
    }


def test_parameter_overrides_are_checked() -> None:
    assert intrinsics(PARAMETERS, parameter_overrides={"Env": "prod"}).parameters["Env"] == "prod"
    with pytest.raises(TemplateError, match="AllowedValues"):
        intrinsics(PARAMETERS, parameter_overrides={"Env": "qa"})
    with pytest.raises(TemplateError, match="AllowedPattern"):
        intrinsics(PARAMETERS, parameter_overrides={"Name": "NOT-OK"})
    with pytest.raises(TemplateError, match="undeclared"):
        intrinsics(PARAMETERS, parameter_overrides={"Nope": "1"})
    unchecked = intrinsics(
        PARAMETERS, parameter_overrides={"Env": "qa", "Name": "X"}, check_parameters=False
    )
    assert (unchecked.parameters["Env"], unchecked.parameters["Name"]) == ("qa", "X")


def test_a_parameter_without_default_needs_an_override() -> None:
    text = "Parameters:\n  Required: {Type: String}\n"
    with pytest.raises(TemplateError, match="no Default"):
        intrinsics(text)
    assert intrinsics(text, parameter_overrides={"Required": "x"}).parameters == {"Required": "x"}


@pytest.mark.parametrize(
    ("region", "partition", "suffix"),
    [
        ("us-east-1", "aws", "amazonaws.com"),
        ("cn-north-1", "aws-cn", "amazonaws.com.cn"),
        ("us-gov-west-1", "aws-us-gov", "amazonaws.com"),
    ],
)
def test_pseudo_parameters(region: str, partition: str, suffix: str) -> None:
    x = intrinsics("{}", region=region, stack_name="stk")
    resolved = x.resolve(
        {
            "region": {"Ref": "AWS::Region"},
            "account": {"Ref": "AWS::AccountId"},
            "partition": {"Ref": "AWS::Partition"},
            "suffix": {"Ref": "AWS::URLSuffix"},
            "stack": {"Ref": "AWS::StackName"},
            "gone": {"Ref": "AWS::NoValue"},
        }
    )
    assert resolved == {
        "region": region,
        "account": ACCOUNT_ID,
        "partition": partition,
        "suffix": suffix,
        "stack": "stk",
    }
    with pytest.raises(TemplateError, match="pseudo-parameter"):
        x.resolve({"Ref": "AWS::Nope"})


def test_the_local_defaults_are_the_devkit_constants() -> None:
    x = intrinsics("{}")
    assert (x.region, x.account_id, x.stack_name, x.partition) == (
        REGION,
        ACCOUNT_ID,
        "local",
        "aws",
    )


# ============================================================================================
# Intrinsic functions
# ============================================================================================

RESOURCES = """
Parameters:
  Env: {Type: String, Default: dev}
  Names: {Type: CommaDelimitedList, Default: "a,b"}
Mappings:
  Sizes: {dev: {Mem: 128}, prod: {Mem: 1024}}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler}
  Named:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler, FunctionName: my-function}
  Api:
    Type: AWS::Serverless::Api
    Properties: {StageName: v1}
  Layer:
    Type: AWS::Serverless::LayerVersion
  Bucket:
    Type: AWS::S3::Bucket
"""


def test_ref_of_parameters_and_resources() -> None:
    x = intrinsics(RESOURCES, stack_name="stk")
    assert x.resolve({"Ref": "Env"}) == "dev"
    assert x.resolve({"Ref": "Names"}) == ["a", "b"]
    assert x.resolve({"Ref": "Fn"}) == "stk-Fn"
    assert x.resolve({"Ref": "Named"}) == "my-function"
    assert x.resolve({"Ref": "Api"}) == fake_api_id("stk", "Api")
    assert x.resolve({"Ref": "Layer"}) == f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:Layer:1"
    assert x.resolve({"Ref": "Bucket"}) == "Bucket"
    with pytest.raises(TemplateError, match="unknown name Nope"):
        x.resolve({"Ref": "Nope"})


def test_fake_api_ids_are_stable_and_shaped_like_real_ones() -> None:
    api_id = fake_api_id("local", "RestApi")
    assert api_id == fake_api_id("local", "RestApi") != fake_api_id("other", "RestApi")
    assert len(api_id) == 10
    assert api_id.isalnum()
    assert api_id == api_id.lower()


def test_get_att_and_tracing_values_back_to_resources() -> None:
    x = intrinsics(RESOURCES)
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:local-Fn"
    assert x.resolve({"Fn::GetAtt": ["Fn", "Arn"]}) == arn
    assert x.resolve({"Fn::GetAtt": "Fn.Arn"}) == arn
    endpoint = x.resolve({"Fn::GetAtt": ["Api", "ApiEndpoint"]})
    assert endpoint == f"https://{fake_api_id('local', 'Api')}.execute-api.{REGION}.amazonaws.com"
    assert x.resolve({"Fn::GetAtt": ["Bucket", "Arn"]}) == "Bucket.Arn"
    uri = x.resolve({"Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/${Fn.Arn}/x"})
    assert x.logical_id_for(arn) == "Fn"
    assert x.logical_id_for(uri) == "Fn"  # an ARN inside a longer string still names Fn
    assert x.logical_id_for(endpoint) == "Api"
    assert x.logical_id_for("Bucket") == "Bucket"
    assert x.logical_id_for("elsewhere") is None
    with pytest.raises(TemplateError, match="unknown resource"):
        x.resolve({"Fn::GetAtt": ["Nope", "Arn"]})


def test_sub() -> None:
    x = intrinsics(RESOURCES, stack_name="stk")
    assert x.resolve({"Fn::Sub": "${AWS::StackName}-${Env}-${Fn}-${!Literal}"}) == (
        "stk-dev-stk-Fn-${Literal}"
    )
    assert x.resolve({"Fn::Sub": "${Names}"}) == "a,b"  # a list parameter joined by commas
    assert x.resolve({"Fn::Sub": ["${X}/${Env}", {"X": {"Ref": "AWS::AccountId"}}]}) == (
        f"{ACCOUNT_ID}/dev"
    )
    assert x.resolve({"Fn::Sub": "${Fn.Arn}"}).endswith(":function:stk-Fn")
    with pytest.raises(TemplateError, match="unknown name Missing"):
        x.resolve({"Fn::Sub": "${Missing}"})


def test_short_and_long_intrinsics(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """
        Parameters:
          Env: {Type: String, Default: dev, AllowedValues: [dev, prod]}
          Names: {Type: CommaDelimitedList, Default: "a, b,c"}
        Mappings:
          Sizes: {dev: {Mem: 128}, prod: {Mem: 1024}}
        Conditions:
          IsDev: !Equals [!Ref Env, dev]
          Both: !And [!Condition IsDev, !Not [!Equals [!Ref Env, prod]]]
          Either: {"Fn::Or": [{"Condition": "IsDev"}, false]}
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Handler: app.handler
              MemorySize: !FindInMap [Sizes, !Ref Env, Mem]
              Environment:
                Variables:
                  ARN: !GetAtt Fn.Arn
                  LONG_ARN: {"Fn::GetAtt": [Fn, Arn]}
                  SUB: !Sub "${AWS::StackName}-${Env}-${AWS::Region}-${AWS::Partition}-${!Literal}"
                  SUB_LIST: !Sub ["${X}/${AWS::AccountId}", {X: !Ref Env}]
                  JOIN: !Join ["+", !Ref Names]
                  SELECT: !Select [1, !Split [",", "x,y,z"]]
                  IF: !If [Both, yes-both, nope]
                  EITHER: !If [Either, "1", "0"]
                  GONE: !If [IsDev, !Ref AWS::NoValue, kept]
                  NUM: 5
                  FLAG: true
        """
    )
    model = parse_template(load_yaml(text), base_dir=tmp_path, stack_name="stk")
    fn = model.functions["Fn"]
    assert fn.memory_size == 128
    arn = "arn:aws:lambda:us-east-1:123456789012:function:stk-Fn"
    assert fn.arn == arn
    assert fn.environment == {
        "ARN": arn,
        "LONG_ARN": arn,
        "SUB": "stk-dev-us-east-1-aws-${Literal}",
        "SUB_LIST": "dev/123456789012",
        "JOIN": "a+b+c",
        "SELECT": "y",
        "IF": "yes-both",
        "EITHER": "1",
        "NUM": "5",
        "FLAG": "true",
    }
    assert fn.code_uri == tmp_path
    assert model.intrinsics.logical_id_for(arn) == "Fn"

    prod = parse_template(
        load_yaml(text), base_dir=tmp_path, parameter_overrides={"Env": "prod"}, region="eu-west-1"
    )
    env = prod.functions["Fn"].environment
    assert prod.functions["Fn"].memory_size == 1024
    assert env["IF"] == "nope"
    assert env["GONE"] == "kept"
    assert env["SUB_LIST"] == "prod/123456789012"
    with pytest.raises(TemplateError, match="AllowedValues"):
        parse_template(load_yaml(text), base_dir=tmp_path, parameter_overrides={"Env": "qa"})
    with pytest.raises(TemplateError, match="undeclared"):
        parse_template(load_yaml(text), base_dir=tmp_path, parameter_overrides={"Nope": "1"})


def test_select_split_join_find_in_map_base64() -> None:
    x = intrinsics(RESOURCES)
    assert x.resolve({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}) == "y"
    assert x.resolve({"Fn::Select": ["0", {"Ref": "Names"}]}) == "a"
    assert x.resolve({"Fn::Join": ["+", {"Ref": "Names"}]}) == "a+b"
    assert x.resolve({"Fn::Join": ["", ["a", 1, True]]}) == "a1true"
    assert x.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Mem"]}) == 128
    default = {"DefaultValue": 64}
    assert x.resolve({"Fn::FindInMap": ["Sizes", "qa", "Mem", default]}) == 64
    assert x.resolve({"Fn::Base64": "hi"}) == "aGk="
    with pytest.raises(TemplateError, match="out of range"):
        x.resolve({"Fn::Select": [5, ["a"]]})
    with pytest.raises(TemplateError, match="not found"):
        x.resolve({"Fn::FindInMap": ["Sizes", "qa", "Mem"]})
    with pytest.raises(TemplateError, match="not supported"):
        x.resolve({"Fn::Transform": {"Name": "AWS::Include"}})


CONDITIONS = """
Parameters:
  Env: {Type: String, Default: dev}
Conditions:
  IsDev: !Equals [!Ref Env, dev]
  IsProd: !Not [!Condition IsDev]
  Both: !And [!Condition IsDev, !Not [!Equals [!Ref Env, prod]]]
  Either: {"Fn::Or": [{"Condition": "IsProd"}, false]}
  Loop: !Condition Loop
"""


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ("dev", {"IsDev": True, "IsProd": False, "Both": True, "Either": False}),
        ("prod", {"IsDev": False, "IsProd": True, "Both": False, "Either": True}),
    ],
)
def test_conditions(env: str, expected: dict[str, bool]) -> None:
    x = intrinsics(CONDITIONS, parameter_overrides={"Env": env})
    assert {name: x.condition(name) for name in expected} == expected
    chosen = x.resolve({"Fn::If": ["IsDev", "dev-value", "other-value"]})
    assert chosen == ("dev-value" if env == "dev" else "other-value")


def test_condition_errors() -> None:
    x = intrinsics(CONDITIONS)
    with pytest.raises(TemplateError, match="refers to itself"):
        x.condition("Loop")
    with pytest.raises(TemplateError, match="unknown condition"):
        x.condition("Nope")


def test_no_value_removes_the_key_or_the_item() -> None:
    x = intrinsics(CONDITIONS)
    no_value = {"Ref": "AWS::NoValue"}
    resolved = x.resolve(
        {
            "kept": 1,
            "dropped": {"Fn::If": ["IsDev", no_value, "x"]},
            "list": ["a", {"Fn::If": ["IsDev", no_value, "b"]}, "c"],
        }
    )
    assert resolved == {"kept": 1, "list": ["a", "c"]}


# ============================================================================================
# Globals and deployed environments
# ============================================================================================


def test_merge_globals_like_sam() -> None:
    merged = merge_globals(
        {"Timeout": 3, "Layers": ["g"], "Env": {"Variables": {"A": "g", "B": "g"}}},
        {"Timeout": 10, "Layers": ["own"], "Env": {"Variables": {"B": "own"}}},
    )
    assert merged == {
        "Timeout": 10,
        "Layers": ["g", "own"],
        "Env": {"Variables": {"A": "g", "B": "own"}},
    }
    # an intrinsic function is a value, not a map to merge into
    assert merge_globals({"Ref": "A"}, {"Other": 1}) == {"Other": 1}
    assert merge_globals({"X": 1}, {"Fn::If": ["C", 1, 2]}) == {"Fn::If": ["C", 1, 2]}


GLOBALS = """
Parameters:
  Mode: {Type: String, Default: simple, AllowedValues: [simple, iam]}
Conditions:
  Simple: !Equals [!Ref Mode, simple]
Globals:
  Function:
    Timeout: 10
    Layers: [global-layer]
    Environment: {Variables: {A: global, B: global}}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      CodeUri: code/
      Layers: [own-layer]
      Environment:
        Variables:
          B: own
          MODE: !Ref Mode
          ONLY_SIMPLE: !If [Simple, "yes", !Ref AWS::NoValue]
          NUM: 5
          FLAG: true
  Bucket:
    Type: AWS::S3::Bucket
"""


def test_globals_merge_into_functions(tmp_path: Path) -> None:
    fn = model(GLOBALS, tmp_path).functions["Fn"]
    assert fn.timeout == 10
    assert fn.code_uri == tmp_path / "code"
    assert fn.environment == {
        "A": "global",
        "B": "own",
        "MODE": "simple",
        "ONLY_SIMPLE": "yes",
        "NUM": "5",
        "FLAG": "true",
    }


def test_deployed_environment() -> None:
    template = yaml_text(GLOBALS)
    assert deployed_environment(template, "Fn", {"Mode": "iam"}) == {
        "A": "global",
        "B": "own",
        "MODE": "iam",
        "NUM": "5",
        "FLAG": "true",
    }
    with pytest.raises(TemplateError, match="AllowedValues"):
        deployed_environment(template, "Fn", {"Mode": "marker"})
    unchecked = deployed_environment(template, "Fn", {"Mode": "marker"}, check_parameters=False)
    assert unchecked["MODE"] == "marker"
    with pytest.raises(TemplateError, match="not an AWS::Serverless::Function"):
        deployed_environment(template, "Bucket")


def test_project_template_environment_with_defaults() -> None:
    env = deployed_environment(read_template(paths.TEMPLATE), "AuthorizerFunction")
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "JwtAuthorizer"
    assert env["AUTH_CONFIG"] == ""
    assert env == load_template(paths.TEMPLATE).functions["AuthorizerFunction"].environment


# ============================================================================================
# The SAM shapes the emulator reads
# ============================================================================================


def test_function_defaults_and_names(tmp_path: Path) -> None:
    text = """
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties: {Handler: app.handler, Runtime: python3.13}
      Named:
        Type: AWS::Serverless::Function
        Properties:
          Handler: pkg/mod.handler
          FunctionName: custom
          MemorySize: 512
          Timeout: 9
          CodeUri: src/
      Inline:
        Type: AWS::Serverless::Function
        Properties: {Handler: index.handler, InlineCode: "def handler(e, c): pass"}
    """
    functions = model(text, tmp_path, stack_name="stk").functions
    fn, named, inline = functions["Fn"], functions["Named"], functions["Inline"]
    assert (fn.function_name, fn.timeout, fn.memory_size, fn.runtime) == (
        "stk-Fn",
        3,
        128,
        "python3.13",
    )
    assert fn.code_uri == tmp_path  # no CodeUri: the template's folder
    assert fn.arn == f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:stk-Fn"
    assert (named.function_name, named.memory_size, named.timeout) == ("custom", 512, 9)
    assert named.code_uri == tmp_path / "src"
    assert inline.code_uri is None


def test_resources_whose_condition_is_false_are_left_out(tmp_path: Path) -> None:
    text = """
    Parameters:
      WithExtra: {Type: String, Default: "false"}
    Conditions:
      Extra: !Equals [!Ref WithExtra, "true"]
    Resources:
      Fn: {Type: AWS::Serverless::Function, Properties: {Handler: a.h}}
      ExtraFn:
        Type: AWS::Serverless::Function
        Condition: Extra
        Properties: {Handler: a.h}
    """
    assert set(model(text, tmp_path).functions) == {"Fn"}
    with_extra = model(text, tmp_path, parameter_overrides={"WithExtra": "true"})
    assert set(with_extra.functions) == {"Fn", "ExtraFn"}


def test_rest_api_authorizers_routes_and_gateway_responses() -> None:
    rest = load_template(TEMPLATES / "rest_api.yaml")
    api = rest.rest_apis["Api"]
    assert (api.stage_name, api.default_authorizer) == ("test", "TokenAuth")
    assert api.api_id == fake_api_id("local", "Api")
    token = api.authorizers["TokenAuth"]
    assert (token.payload_type, token.function_id, token.ttl) == ("TOKEN", "AuthFn", 300)
    assert token.validation_expression == "^Bearer [-a-z0-9.]+$"
    assert [s.rest_expression() for s in token.identity_sources] == [
        "method.request.header.Authorization"
    ]
    request = api.authorizers["RequestAuth"]
    assert request.payload_type == "REQUEST"
    assert [s.rest_expression() for s in request.identity_sources] == [
        "method.request.header.X-Api-Key",
        "method.request.querystring.tenant",
    ]
    assert set(api.gateway_responses) == {"UNAUTHORIZED", "ACCESS_DENIED"}  # !If -> NoValue
    unauthorized = api.gateway_responses["UNAUTHORIZED"]
    assert unauthorized.headers["WWW-Authenticate"] == "'Bearer realm=\"devkit\"'"
    routes = {(r.method, r.path): r for r in api.routes}
    assert routes[("GET", "/pets/{petId}")].authorizer == "TokenAuth"
    assert routes[("ANY", "/files/{proxy+}")].function_id == "BackendFn"
    assert routes[("GET", "/public")].authorizer is None  # Auth.Authorizer: NONE
    assert routes[("GET", "/tenant")].authorizer == "RequestAuth"
    preflight = routes[("OPTIONS", "/pets")]  # Cors: SAM adds a mock OPTIONS method per path
    assert (preflight.function_id, preflight.authorizer) == (None, None)
    assert rest.intrinsics.logical_id_for(rest.functions["AuthFn"].arn) == "AuthFn"


def test_http_api_authorizers_and_routes() -> None:
    http = load_template(TEMPLATES / "http_api.yaml").http_apis["HttpApi"]
    simple = http.authorizers["Simple"]
    assert (simple.payload_version, simple.simple_responses, simple.invoke_permission) == (
        "2.0",
        True,
        True,
    )
    per_route = http.authorizers["PerRoute"]
    assert [s.http_expression() for s in per_route.identity_sources] == [
        "$request.header.Authorization",
        "$context.routeKey",
    ]
    v1 = http.authorizers["V1"]
    assert (v1.payload_version, v1.ttl, v1.invoke_permission) == ("1.0", 0, True)
    assert http.authorizers["NoPerm"].invoke_permission is False  # SAM's HTTP API default
    keys = {r.route_key for r in http.routes}
    assert {"GET /v1", "ANY /items/{id}"} <= keys


def test_project_template_model() -> None:
    project = load_template(paths.TEMPLATE)
    rest, http = project.rest_apis["RestApi"], project.http_apis["HttpApi"]
    assert rest.stage_name == "v1"
    assert {a.function_id for a in rest.authorizers.values()} == {"AuthorizerFunction"}
    assert {a.payload_type for a in rest.authorizers.values()} == {"TOKEN", "REQUEST"}
    jwt = http.authorizers["JwtHttpAuthorizer"]
    assert (jwt.payload_version, jwt.simple_responses) == ("2.0", True)
    assert "$context.routeKey" in [s.http_expression() for s in jwt.identity_sources]
    iam = load_template(paths.TEMPLATE, parameter_overrides={"ResponseMode": "iam"})
    assert iam.http_apis["HttpApi"].authorizers["JwtHttpAuthorizer"].simple_responses is False
    assert project.functions["AuthorizerFunction"].code_uri == paths.AUTHORIZER_SRC


def test_implicit_apis_and_default_routes(tmp_path: Path) -> None:
    text = """
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Handler: app.handler
          Events:
            Rest: {Type: Api, Properties: {Path: //r/, Method: x-amazon-apigateway-any-method}}
            Http: {Type: HttpApi, Properties: {Path: /h, Method: get, PayloadFormatVersion: "1.0"}}
            Catch: {Type: HttpApi}
    """
    built = model(text, tmp_path, http_default_ttl=60)
    rest = built.rest_apis["ServerlessRestApi"]
    assert rest.stage_name == "Prod"
    (route,) = rest.routes
    assert (route.method, route.path, route.route_key) == ("ANY", "/r", "ANY /r")
    http = built.http_apis["ServerlessHttpApi"]
    assert http.stage_name == "$default"
    by_key = {r.route_key: r for r in http.routes}
    assert by_key["GET /h"].payload_version == "1.0"
    assert by_key["$default"].payload_version == "2.0"


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        (
            "Api: {Type: AWS::Serverless::Api, Properties: {DefinitionBody: {}}}",
            "DefinitionBody",
        ),
        ("Api: {Type: AWS::Serverless::Api, Properties: {}}", "StageName is required"),
        (
            "Api: {Type: AWS::Serverless::Api, Properties: {StageName: v1, Auth: "
            "{DefaultAuthorizer: Missing}}}",
            "not an emulated Lambda authorizer",
        ),
        (
            "Api: {Type: AWS::Serverless::Api, Properties: {StageName: v1, Auth: {Authorizers: "
            "{A: {FunctionArn: !GetAtt Fn.Arn, Identity: {ReauthorizeEvery: 4000}}}}}}",
            "ReauthorizeEvery",
        ),
        (
            "Api: {Type: AWS::Serverless::Api, Properties: {StageName: v1, GatewayResponses: "
            "{UNAUTHORIZED: {Body: x}}}}",
            "unknown keys",
        ),
        (
            "Api: {Type: AWS::Serverless::HttpApi, Properties: {Auth: {Authorizers: {A: "
            "{FunctionArn: !GetAtt Fn.Arn, AuthorizerPayloadFormatVersion: '1.0', "
            "EnableSimpleResponses: true}}}}}",
            "needs payload format 2.0",
        ),
        (
            "Api: {Type: AWS::Serverless::HttpApi, Properties: {Auth: {Authorizers: {A: "
            "{FunctionArn: !GetAtt Fn.Arn, AuthorizerPayloadFormatVersion: '3.0'}}}}}",
            "must be 1.0 or 2.0",
        ),
    ],
)
def test_what_the_emulator_cannot_honour_is_rejected(
    tmp_path: Path, snippet: str, message: str
) -> None:
    text = "Resources:\n  Fn: {Type: AWS::Serverless::Function, Properties: {Handler: a.h}}\n"
    text += f"  {snippet}\n"
    with pytest.raises(TemplateError, match=message):
        parse_template(load_yaml(text), base_dir=tmp_path)


def test_route_errors(tmp_path: Path) -> None:
    def route(props: str) -> str:
        return (
            "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
            f"      Handler: a.h\n      Events: {{E: {{Type: Api, Properties: {props}}}}}\n"
        )

    for props, message in (
        ("{Path: /x, Method: trace}", "unsupported method"),
        ("{Path: /x}", "Method is required"),
        ("{Path: x, Method: get}", "must start with /"),
        ("{Path: /x, Method: get, RestApiId: Nowhere}", "names no API"),
        ("{Path: /x, Method: get, Auth: {Authorizer: AWS_IAM}}", "not an emulated"),
    ):
        with pytest.raises(TemplateError, match=message):
            parse_template(load_yaml(route(props)), base_dir=tmp_path)


def test_unemulated_authorizer_on_a_route_is_rejected(tmp_path: Path) -> None:
    text = """
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Handler: app.handler
          Events:
            Get:
              Type: HttpApi
              Properties: {ApiId: !Ref Api, Path: /x, Method: GET}
      Api:
        Type: AWS::Serverless::HttpApi
        Properties:
          Auth:
            DefaultAuthorizer: Jwt
            Authorizers:
              Jwt:
                IdentitySource: $request.header.Authorization
                JwtConfiguration: {issuer: "https://idp.example", audience: [x]}
    """
    with pytest.raises(TemplateError, match="not an emulated Lambda authorizer"):
        model(text, tmp_path)


def test_explicit_lambda_permission_grants_http_api_invocation(tmp_path: Path) -> None:
    text = """
    Resources:
      Fn: {Type: AWS::Serverless::Function, Properties: {Handler: a.h}}
      Api:
        Type: AWS::Serverless::HttpApi
        Properties:
          Auth:
            Authorizers:
              A: {FunctionArn: !GetAtt Fn.Arn, AuthorizerPayloadFormatVersion: "2.0"}
      Permission:
        Type: AWS::Lambda::Permission
        Properties:
          Action: lambda:InvokeFunction
          FunctionName: !Ref Fn
          Principal: apigateway.amazonaws.com
    """
    http = model(text, tmp_path).http_apis["Api"]
    assert http.authorizers["A"].invoke_permission is True
