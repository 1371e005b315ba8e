"""Routes stage: the route grammar, which rule governs a request (API Gateway's precedence), and
the decision for the caller's permissions. Pure: strings and frozensets in, rules and decisions
out. Whether cached answers follow these decisions on every path is test_policy.py's matter."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from jwt_authorizer.errors import ConfigError, InsufficientScope, RouteNotPermitted
from jwt_authorizer.routes import (
    DEFAULT,
    GREEDY,
    LITERAL,
    PARAM,
    Decision,
    RouteRule,
    RouteTable,
    check_not_governed_twice,
    decide,
    parse_route_key,
    path_segments,
    permits,
    relevant_permissions,
    route_shape,
    segment_kind,
)
from tests.support.constants import ISSUER
from tests.support.stages import route_rule as rule

OTHER = "https://other.example.com/"
THIRD = "https://third.example.com/"


def table(*keys: str, unmatched_allows: bool = False) -> RouteTable:
    return RouteTable([rule(key) for key in keys], unmatched_allows=unmatched_allows)


def governing(routes: RouteTable, method: str, path: str) -> str | None:
    found = routes.rule_of(routes.winner(method, path))
    return found.route_key if found is not None else None


# --------------------------------------------------------------------------- the grammar


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("GET /orders", ("GET", "/orders")),
        ("get /orders/", ("GET", "/orders")),
        ("Post /orders/{id}", ("POST", "/orders/{id}")),
        ("ANY /admin/{proxy+}", ("ANY", "/admin/{proxy+}")),
        ("GET /", ("GET", "/")),
        ("  GET   /a  ", ("GET", "/a")),
        ("$default", ("$default", "")),
        (" $default ", ("$default", "")),
        ("GET /odata/$metadata", ("GET", "/odata/$metadata")),
        ("GET /odata/$batch/{id}", ("GET", "/odata/$batch/{id}")),
        ("GET /$", ("GET", "/$")),
        ("GET /a$b", ("GET", "/a$b")),
        ("GET /a.b/{x.y}/{z-1}/{_w}", ("GET", "/a.b/{x.y}/{z-1}/{_w}")),
    ],
)
def test_route_keys_are_parsed_and_normalised(key: str, parsed: tuple[str, str]) -> None:
    assert parse_route_key(key) == parsed


POLICY_VARIABLE = (
    "holds ${...}, IAM policy-variable syntax; a route path cannot contain it "
    "(a '$' alone is fine, e.g. /odata/$metadata)"
)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("GET", "'GET' must look like 'GET /orders/{id}' or '$default'"),
        ("GET /a b", "'GET /a b' must look like 'GET /orders/{id}' or '$default'"),
        ("", "'' must look like 'GET /orders/{id}' or '$default'"),
        ("FETCH /x", "'FETCH' is not an HTTP method (or ANY)"),
        ("GET orders", "path 'orders' must start with /"),
        ("GET /{proxy+}/x", "a greedy {proxy+} segment must be the last one"),
        ("GET /a*b", "path segment 'a*b' is not valid"),
        ("GET /a?", "path segment 'a?' is not valid"),
        ("GET /{a", "path segment '{a' is not valid"),
        ("GET /{a}b", "path segment '{a}b' is not valid"),
        ("GET /{}", "path segment '{}' is not valid"),
        ("GET /a//b", "path segment '' is not valid"),
        ("GET //", "path segment '' is not valid"),
        ("GET /files/${aws:username}", f"path segment '${{aws:username}}' {POLICY_VARIABLE}"),
        ("GET /a/x${y}", f"path segment 'x${{y}}' {POLICY_VARIABLE}"),
        ("GET /${*}/b", f"path segment '${{*}}' {POLICY_VARIABLE}"),
        ("GET /a/${", f"path segment '${{' {POLICY_VARIABLE}"),
    ],
)
def test_malformed_route_keys(key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_route_key(key, "routes[0].route")
    assert (caught.value.field, caught.value.problem) == ("routes[0].route", problem)


@pytest.mark.parametrize(
    ("key", "shape"),
    [
        ("GET /orders/{id}", ("GET", "/orders/{}")),
        ("GET /orders/{orderId}", ("GET", "/orders/{}")),
        ("ANY /admin/{proxy+}", ("ANY", "/admin/{+}")),
        ("ANY /admin/{path+}", ("ANY", "/admin/{+}")),
        ("GET /", ("GET", "/")),
    ],
)
def test_route_shape_ignores_parameter_names(key: str, shape: tuple[str, str]) -> None:
    assert route_shape(*parse_route_key(key)) == shape


def test_path_segments_and_their_kinds() -> None:
    assert path_segments("//a//{b}/{c+}/") == ["a", "{b}", "{c+}"]
    assert path_segments("/") == []
    assert [segment_kind(s) for s in ("a", "{b}", "{c+}", "{", "}")] == [
        LITERAL,
        PARAM,
        GREEDY,
        LITERAL,
        LITERAL,
    ]


# --------------------------------------------------------------------------- one rule per route
# Two rules for one route: the first silently won, the second was dead configuration.


def governed_twice(*specs: tuple[str, Iterable[str] | None]) -> tuple[str, str] | None:
    """Check the rules in order as the configuration does; the error's (field, problem)."""
    earlier: list[RouteRule] = []
    try:
        for index, (key, issuers) in enumerate(specs):
            current = rule(key, issuers=issuers)
            check_not_governed_twice(current, earlier, f"routes[{index}].route")
            earlier.append(current)
    except ConfigError as err:
        return err.field, err.problem
    return None


def test_the_same_template_with_another_parameter_name() -> None:
    assert governed_twice(
        ("GET /orders", None),
        ("GET /orders/{id}", None),
        ("POST /orders", None),
        ("GET /orders/{orderId}", None),
    ) == (
        "routes[3].route",
        "GET /orders/{orderId} is already governed by routes[1] (for the same issuers); "
        "merge the two rules",
    )


@pytest.mark.parametrize(
    ("first", "second", "shown"),
    [
        ("GET /orders/{id}", "GET /orders/{id}", "GET /orders/{id}"),
        ("GET /orders/{id}", "get /orders/{id}/", "GET /orders/{id}"),
        ("ANY /admin/{proxy+}", "ANY /admin/{path+}", "ANY /admin/{path+}"),
        ("GET /a/{x}/b/{y}", "GET /a/{p}/b/{q}", "GET /a/{p}/b/{q}"),
        ("$default", "$default", "$default"),
    ],
)
def test_duplicates(first: str, second: str, shown: str) -> None:
    assert governed_twice((first, None), (second, None)) == (
        "routes[1].route",
        f"{shown} is already governed by routes[0] (for the same issuers); merge the two rules",
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("ANY /x", "GET /x"),
        ("GET /x", "POST /x"),
        ("GET /orders/{id}", "GET /orders/summary"),
        ("GET /orders/{id}", "GET /orders/{id}/items"),
        ("ANY /admin/{proxy+}", "ANY /admin/{id}"),
        ("GET /", "$default"),
    ],
)
def test_different_routes_are_allowed(first: str, second: str) -> None:
    assert governed_twice((first, None), (second, None)) is None


def test_a_rule_without_issuers_overlaps_every_issuer() -> None:
    assert governed_twice(("GET /orders", [OTHER]), ("GET /orders", None)) == (
        "routes[1].route",
        "GET /orders is already governed by routes[0] (for the same issuers); merge the two rules",
    )
    assert governed_twice(("GET /orders", None), ("GET /orders", [OTHER])) == (
        "routes[1].route",
        "GET /orders is already governed by routes[0] (for the same issuers); merge the two rules",
    )


def test_partly_overlapping_issuers_are_named() -> None:
    assert governed_twice(("GET /orders", [ISSUER, OTHER]), ("GET /orders", [OTHER, THIRD])) == (
        "routes[1].route",
        f"GET /orders is already governed by routes[0] (for '{OTHER}'); merge the two rules",
    )


def test_disjoint_issuers_may_share_a_route() -> None:
    assert (
        governed_twice(("GET /orders/{id}", [ISSUER]), ("GET /orders/{orderId}", [OTHER])) is None
    )


# --------------------------------------------------------------------------- precedence

ORDERS = table(
    "GET /orders",
    "GET /orders/{id}",
    "GET /orders/summary",
    "GET /orders/{id}/items",
    "ANY /orders/{id}",
    "ANY /admin/{proxy+}",
    "GET /admin/users",
    "$default",
)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/orders", "GET /orders"),
        ("GET", "/orders/", "GET /orders"),  # empty segments do not route
        ("GET", "//orders//", "GET /orders"),
        ("GET", "/orders/42", "GET /orders/{id}"),
        ("GET", "/orders/summary", "GET /orders/summary"),  # a literal beats {param}
        ("DELETE", "/orders/42", "ANY /orders/{id}"),
        ("DELETE", "/orders/summary", "ANY /orders/{id}"),
        ("GET", "/orders/42/items", "GET /orders/{id}/items"),
        ("GET", "/orders/42/audit", "$default"),  # {id} is one segment
        ("POST", "/orders", "$default"),
        ("GET", "/admin/users", "GET /admin/users"),
        ("POST", "/admin/users", "ANY /admin/{proxy+}"),
        ("GET", "/admin/a/b/c", "ANY /admin/{proxy+}"),
        ("GET", "/admin", "$default"),  # {proxy+} needs a segment
        ("GET", "/admin/", "$default"),
        ("GET", "/", "$default"),
        ("PROPFIND", "/orders/1", "ANY /orders/{id}"),
        ("GET", "/orders/%2A", "GET /orders/{id}"),  # percent escapes are plain text
        ("GET", "/orders/*", "GET /orders/{id}"),  # and so are IAM wildcards
    ],
)
def test_which_rule_governs_a_request(method: str, path: str, expected: str) -> None:
    assert governing(ORDERS, method, path) == expected


def test_literal_before_param_before_greedy_position_by_position() -> None:
    routes = table("GET /{a}/b", "GET /a/{b}", "GET /{proxy+}", "GET /{x}/{y}/{z}")
    assert [governing(routes, "GET", p) for p in ("/a/b", "/x/b", "/a/x", "/x/y", "/x/y/z")] == [
        "GET /a/{b}",
        "GET /{a}/b",
        "GET /a/{b}",
        "GET /{proxy+}",
        "GET /{x}/{y}/{z}",
    ]


def test_a_method_before_any() -> None:
    routes = table("ANY /x", "GET /x", "ANY /{p}")
    assert [governing(routes, m, "/x") for m in ("GET", "POST", "HEAD")] == [
        "GET /x",
        "ANY /x",
        "ANY /x",
    ]
    assert governing(routes, "GET", "/y") == "ANY /{p}"


def test_without_a_default_rule_the_rest_is_unmatched() -> None:
    routes = table("GET /orders")
    assert routes.winner("GET", "/other") == DEFAULT
    assert routes.rule_of(DEFAULT) is None
    assert routes.default_rule is None


# --------------------------------------------------------------------------- decisions


def test_any_of_scopes_and_all_of_all_scopes() -> None:
    read = rule("GET /orders", scopes=["app.read", "app.admin"])
    both = rule("GET /orders/{id}/items", all_scopes=["app.read", "app.write"])
    mixed = rule("POST /orders", scopes=["a", "b"], all_scopes=["c"])
    assert [permits(read, frozenset(h)) for h in ([], ["app.read"], ["app.admin"], ["x"])] == [
        False,
        True,
        True,
        False,
    ]
    assert [permits(both, frozenset(h)) for h in (["app.read"], ["app.read", "app.write"])] == [
        False,
        True,
    ]
    assert [permits(mixed, frozenset(h)) for h in (["a"], ["c"], ["a", "c"], ["b", "c"])] == [
        False,
        False,
        True,
        True,
    ]
    assert permits(rule("GET /whoami"), frozenset()) is True


def test_decide() -> None:
    read = rule("GET /orders", scopes=["app.read", "app.admin"])
    both = rule("GET /orders/{id}/items", all_scopes=["app.read", "app.write"])
    held = frozenset({"app.read"})
    assert decide(read, held, False) == Decision(allowed=True, rule=read)
    assert decide(read, frozenset(), False) == Decision(
        allowed=False,
        rule=read,
        denial=InsufficientScope,
        missing=frozenset({"app.read", "app.admin"}),
    )
    assert decide(both, held, False) == Decision(
        allowed=False, rule=both, denial=InsufficientScope, missing=frozenset({"app.write"})
    )
    assert decide(None, held, True) == Decision(allowed=True, rule=None)
    assert decide(None, held, False) == Decision(allowed=False, rule=None, denial=RouteNotPermitted)


def test_a_decisions_reason() -> None:
    assert [
        d.reason
        for d in (
            Decision(allowed=True, rule=None),
            Decision(allowed=False, rule=None, denial=RouteNotPermitted),
            Decision(allowed=False, rule=None, denial=InsufficientScope),
        )
    ] == ["ok", "route_not_permitted", "insufficient_scope"]


def test_a_table_decides_by_the_governing_rule() -> None:
    routes = RouteTable(
        [rule("GET /orders", scopes=["app.read"]), rule("GET /orders/{id}", scopes=["app.admin"])],
        unmatched_allows=False,
    )
    held = frozenset({"app.read"})
    assert [routes.decide("GET", p, held).reason for p in ("/orders", "/orders/1", "/x")] == [
        "ok",
        "insufficient_scope",
        "route_not_permitted",
    ]
    assert routes.verdicts(held) == ((True, False), False)
    lenient = RouteTable(routes.rules, unmatched_allows=True)
    assert lenient.decide("GET", "/x", held) == Decision(allowed=True, rule=None)
    assert lenient.verdicts(held) == ((True, False), True)


def test_a_default_rule_decides_unmatched_requests_whatever_unmatched_says() -> None:
    routes = RouteTable(
        [rule("GET /orders"), rule("$default", scopes=["app.admin"])], unmatched_allows=True
    )
    default = routes.default_rule
    assert default is not None
    assert routes.decide("GET", "/x", frozenset()) == Decision(
        allowed=False, rule=default, denial=InsufficientScope, missing=frozenset({"app.admin"})
    )
    assert routes.verdicts(frozenset({"app.admin"})) == ((True,), True)
    assert routes.verdicts(frozenset()) == ((True,), False)


def test_rules_for_some_issuers() -> None:
    mine = rule("GET /orders", issuers=[ISSUER])
    assert (mine.applies_to(ISSUER), mine.applies_to(OTHER)) == (True, False)
    assert rule("GET /orders").applies_to(OTHER) is True
    assert (rule("$default").is_default, mine.is_default) == (True, False)


def test_only_the_rules_permissions_can_change_a_decision() -> None:
    rules = [
        rule("GET /a", scopes=["r"]),
        rule("GET /b", all_scopes=["w", "x"]),
        rule("$default", scopes=["r", "d"]),
        rule("GET /c"),
    ]
    assert relevant_permissions(rules) == {"r", "w", "x", "d"}
    assert relevant_permissions([]) == frozenset()
