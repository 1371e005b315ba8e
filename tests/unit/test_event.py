"""Event stage: method ARNs are split exactly, and nothing in them can become a wildcard; every
event kind is recognised and its credential found where the configuration says. Pure: dicts in,
an AuthorizerRequest or a MalformedRequest out."""

from __future__ import annotations

from typing import Any

import pytest

from jwt_authorizer.errors import MalformedRequest, MalformedToken, MissingToken
from jwt_authorizer.event import (
    AuthorizerRequest,
    MethodArn,
    SenderFacts,
    TokenSource,
    clear_caches,
    read_event,
    require_token,
)
from tests.support.constants import ACCOUNT, REGION, REST_PREFIX, http_arn, rest_arn


def test_method_arn_keeps_colons_and_proxy_paths() -> None:
    arn = MethodArn.parse("arn:aws:execute-api:us-east-1:123456789012:api/stage/GET/files/a:b/c:d")
    assert (arn.api_id, arn.stage, arn.method, arn.path) == (
        "api",
        "stage",
        "GET",
        "/files/a:b/c:d",
    )
    root = MethodArn.parse("arn:aws:execute-api:us-east-1:123456789012:api/stage/GET/")
    assert root.path == "/"


def test_the_path_keeps_every_character() -> None:
    arn = MethodArn.parse("arn:aws:execute-api:us-east-1:1:api/prod/GET//a//b/*/?/%2F/")
    assert arn.path == "//a//b/*/?/%2F/"


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "arn:aws:s3:::bucket",
        "arn:aws:execute-api:us-east-1:1:api",
        "arn:aws:execute-api:us-east-1:1:api//GET/x",
        "arn:aws:execute-api:us-east-1:1:api/*/GET/x",
        "arn:aws:execute-api:us-east-1:*:api/prod/GET/x",
        "arn:aws:execute-api:us-east-1:1:api/prod/G?T/x",
        "arn:aws:execute-api:us-east-1:1:a${x}/prod/GET/x",
    ],
)
def test_bad_arns_are_rejected(arn: str) -> None:
    with pytest.raises(ValueError, match="ARN"):
        MethodArn.parse(arn)


def test_the_prefix_and_resources_of_an_arn() -> None:
    arn = MethodArn.parse(rest_arn("POST", "/orders/1"))
    assert (arn.partition, arn.region, arn.account) == ("aws", REGION, ACCOUNT)
    assert arn.prefix == REST_PREFIX
    assert arn.resource("GET/*") == f"{REST_PREFIX}/GET/*"
    gov = MethodArn.parse("arn:aws-us-gov:execute-api:us-gov-west-1:1:api/v2/GET/x")
    assert gov.prefix == "arn:aws-us-gov:execute-api:us-gov-west-1:1:api/v2"


# --------------------------------------------------------------------------- reading events

HEADER = (TokenSource("header", "Authorization"),)


def read(
    event: object,
    sources: tuple[TokenSource, ...] = HEADER,
    *,
    bare: bool = False,
) -> AuthorizerRequest:
    return read_event(event, token_sources=sources, allow_bare_token=bare)


def token_event(value: object) -> dict[str, Any]:
    return {"type": "TOKEN", "authorizationToken": value, "methodArn": rest_arn()}


def request_event(**fields: Any) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": rest_arn("GET", "/orders/7"),
        "resource": "/orders/{id}",
        "httpMethod": "GET",
        **fields,
    }


def http2_event(**fields: Any) -> dict[str, Any]:
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": http_arn("GET", "/orders/7"),
        "routeKey": "GET /orders/{id}",
        **fields,
    }


def test_each_event_kind() -> None:
    http1 = request_event(version="1.0", methodArn=http_arn("GET", "/orders/7"))
    http1["requestContext"] = {"routeKey": "GET /orders/{id}"}
    requests = [read(token_event("Bearer t")), read(request_event()), read(http1)]
    requests.append(read(http2_event()))
    assert [(r.kind, r.route_key, r.route) for r in requests] == [
        ("token", None, "GET /orders"),
        ("request", "GET /orders/{id}", "GET /orders/7"),
        ("http-1.0", "GET /orders/{id}", "GET /orders/7"),
        ("http-2.0", "GET /orders/{id}", "GET /orders/7"),
    ]
    assert requests[0] == AuthorizerRequest(
        kind="token", arn=MethodArn.parse(rest_arn()), route_key=None, token="t"
    )


@pytest.mark.parametrize(
    ("event", "detail"),
    [
        (None, "event is not an object"),
        ([], "event is not an object"),
        ("x", "event is not an object"),
        ({}, "unknown event type"),
        ({"type": "WEIRD", "methodArn": rest_arn()}, "unknown event type"),
        ({"type": "TOKEN"}, "event has no method or route ARN"),
        ({"type": "TOKEN", "methodArn": 5}, "event has no method or route ARN"),
        ({"version": "2.0", "methodArn": rest_arn()}, "event has no method or route ARN"),
        ({"type": "TOKEN", "methodArn": "garbage"}, "not an execute-api ARN"),
        (
            {"type": "TOKEN", "methodArn": f"{REST_PREFIX}/G*T/x"},
            "execute-api ARN has a wildcard in its prefix or method",
        ),
    ],
)
def test_events_that_are_not_authorizer_events(event: object, detail: str) -> None:
    with pytest.raises(MalformedRequest) as caught:
        read(event)
    assert caught.value.detail == detail


@pytest.mark.parametrize(
    ("fields", "route_key"),
    [
        ({"routeKey": "$default"}, "$default"),
        ({"routeKey": "ANY /{proxy+}"}, "ANY /{proxy+}"),
        ({"routeKey": "GET"}, None),
        ({"routeKey": "GET orders"}, None),
        ({"routeKey": "GET /a b"}, None),
        ({"routeKey": 7}, None),
    ],
)
def test_the_route_key_is_kept_only_when_well_formed(
    fields: dict[str, Any], route_key: str | None
) -> None:
    assert read(http2_event(**fields)).route_key == route_key


def test_a_rest_request_route_key_needs_method_and_resource() -> None:
    assert read(request_event(resource=None)).route_key is None
    assert read(request_event(httpMethod=None)).route_key is None
    http1 = request_event(version="1.0", requestContext="not an object")
    assert read(http1).route_key is None


@pytest.mark.parametrize(
    ("value", "token", "problem"),
    [
        ("Bearer abc", "abc", None),
        ("bearer abc", "abc", None),
        ("BEARER abc", "abc", None),
        ("  Bearer\tabc  ", "abc", None),
        ("Bearer  abc", "abc", None),
        ("Bearer", None, "not a Bearer credential"),
        ("Bearer ", None, "not a Bearer credential"),  # stripped: "Bearer" alone
        ("Bearer a b", None, "not a Bearer credential"),
        ("Basic dXNlcjpwYXNz", None, "not a Bearer credential"),
        ("abc", None, "not a Bearer credential"),
        ("Bearer a, Bearer b", None, "more than one credential in the header"),
        ("", None, None),
        ("   ", None, None),
        (None, None, None),
        (7, None, None),
    ],
)
def test_a_bearer_credential(value: object, token: str | None, problem: str | None) -> None:
    request = read(token_event(value))
    assert (request.token, request.token_problem) == (token, problem)


def test_a_bare_token_only_when_allowed() -> None:
    assert read(token_event("abc"), bare=True).token == "abc"
    assert read(token_event("a b"), bare=True).token_problem == "not a Bearer credential"
    assert read(token_event("Bearer abc"), bare=True).token == "abc"


def test_headers_are_found_case_insensitively() -> None:
    event = request_event(headers={"AUTHORIZATION": "Bearer abc"})
    assert read(event).token == "abc"


def test_a_header_sent_twice_is_ambiguous() -> None:
    event = request_event(
        headers={"Authorization": "Bearer abc"},
        multiValueHeaders={"Authorization": ["Bearer abc", "Bearer def"]},
    )
    assert (read(event).token, read(event).token_problem) == (
        None,
        "more than one header Authorization",
    )
    event = request_event(headers={"authorization": "Bearer a", "Authorization": "Bearer b"})
    assert read(event).token_problem == "more than one header Authorization"


def test_multi_value_headers_win_over_single_ones() -> None:
    event = request_event(
        headers={"Authorization": "Bearer single"},
        multiValueHeaders={"Authorization": ["Bearer multi"]},
    )
    assert read(event).token == "multi"


def test_query_and_cookie_sources() -> None:
    query = (TokenSource("query", "access_token"),)
    cookie = (TokenSource("cookie", "at"),)
    assert read(request_event(queryStringParameters={"access_token": " abc "}), query).token == (
        "abc"
    )
    assert read(request_event(queryStringParameters={"Access_Token": "abc"}), query).token is None
    twice = request_event(multiValueQueryStringParameters={"access_token": ["a", "b"]})
    assert read(twice, query).token_problem == "more than one query access_token"
    jar = request_event(headers={"Cookie": "theme=dark; at=abc"})
    assert read(jar, cookie).token == "abc"
    assert read(http2_event(cookies=["theme=dark", "at=abc"]), cookie).token == "abc"
    assert read(http2_event(cookies=["at=a", "at=b"]), cookie).token_problem == (
        "more than one cookie at"
    )


def test_sources_are_tried_in_order_and_the_first_present_is_used() -> None:
    sources = (TokenSource("header", "X-Token"), TokenSource("query", "access_token"))
    both = request_event(
        headers={"X-Token": "Bearer from-header"},
        queryStringParameters={"access_token": "from-query"},
    )
    assert read(both, sources).token == "from-header"
    assert read(request_event(queryStringParameters={"access_token": "q"}), sources).token == "q"
    assert read(request_event(), sources).token is None


def test_a_token_event_reads_authorization_token_whatever_the_sources() -> None:
    assert read(token_event("Bearer abc"), (TokenSource("cookie", "at"),)).token == "abc"


def test_require_token() -> None:
    assert require_token(read(token_event("Bearer abc"))) == "abc"
    with pytest.raises(MissingToken):
        require_token(read(token_event("")))
    with pytest.raises(MalformedToken) as caught:
        require_token(read(token_event("Basic x")))
    assert caught.value.detail == "not a Bearer credential"


# ------------------------------------------------------------------ sender-constrained tokens


def sender(event: dict[str, Any]) -> AuthorizerRequest:
    return read_event(event, token_sources=HEADER, allow_bare_token=False, sender_constrained=True)


CERT = {"clientCertPem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}


def test_without_sender_constrained_tokens_nothing_more_is_read() -> None:
    request = read(request_event(headers={"Authorization": "DPoP abc", "DPoP": "p"}))
    assert (request.token, request.token_problem, request.scheme, request.sender) == (
        None,
        "not a Bearer credential",
        "Bearer",
        None,
    )


@pytest.mark.parametrize(
    ("value", "token", "scheme"),
    [
        ("DPoP abc", "abc", "DPoP"),
        ("dpop \t abc", "abc", "DPoP"),
        ("Bearer abc", "abc", "Bearer"),
        ("BEARER abc", "abc", "Bearer"),
    ],
)
def test_the_dpop_scheme_is_read_when_configured(value: str, token: str, scheme: str) -> None:
    request = sender(request_event(headers={"Authorization": value}))
    assert (request.token, request.token_problem, request.scheme) == (token, None, scheme)


def test_rest_request_facts() -> None:
    request = sender(
        request_event(
            headers={"Authorization": "DPoP abc", "dpop": "proof-1", "Host": "ignored.example"},
            requestContext={
                "domainName": "api.example.com",
                "path": "/prod/orders/7",
                "identity": {"clientCert": CERT},
            },
        )
    )
    assert request.sender == SenderFacts(
        dpop_proofs=("proof-1",),
        client_cert_pem=CERT["clientCertPem"],
        host="api.example.com",
        path="/prod/orders/7",
    )


def test_http2_facts_and_comma_joined_proofs() -> None:
    request = sender(
        http2_event(
            headers={"authorization": "DPoP abc", "dpop": "proof-1, proof-2"},
            rawPath="/orders/7",
            requestContext={"domainName": "h.example.com", "authentication": {"clientCert": CERT}},
        )
    )
    assert request.sender == SenderFacts(
        dpop_proofs=("proof-1", "proof-2"),
        client_cert_pem=CERT["clientCertPem"],
        host="h.example.com",
        path="/orders/7",
    )


def test_http1_reads_both_certificate_locations_and_falls_back_to_the_host_header() -> None:
    event = request_event(
        version="1.0",
        headers={"Host": "h.example.com"},
        requestContext={"path": "/orders/7", "authentication": {"clientCert": CERT}},
    )
    assert sender(event).sender == SenderFacts(
        client_cert_pem=CERT["clientCertPem"], host="h.example.com", path="/orders/7"
    )


def test_unusable_facts_are_left_out() -> None:
    event = request_event(
        multiValueHeaders={"Host": ["a.example.com", "b.example.com"]},
        requestContext={
            "path": "orders",  # not a path
            "identity": {"clientCert": {"clientCertPem": "  "}},
            "authentication": {"clientCert": "not an object"},
        },
    )
    assert sender(event).sender == SenderFacts()
    assert sender(token_event("DPoP abc")).sender == SenderFacts()
    assert sender(token_event("DPoP abc")).scheme == "DPoP"


def test_a_parsed_arn_is_remembered_until_the_caches_are_cleared() -> None:
    first = read(token_event("Bearer t")).arn
    assert read(token_event("Bearer u")).arn is first
    clear_caches()
    again = read(token_event("Bearer t")).arn
    assert again is not first
    assert again == first
