"""Policy stage: which statements answer a request, chosen so that an answer API Gateway caches
never allows, on any later request, what the route rules deny; it may deny more (a lockout)
only where the init analysis says so.

First the plans and answers themselves, pure (``make_plan``, ``PolicyBuilder``) on small tables
with exact statements; then the cache-safety matrix through the handler, every token x first
request x later request on every event kind. Answers are evaluated with the devkit's IAM
evaluator (tests/support/iam.py), written independently from the product, with API Gateway's
rules: explicit Deny wins, no matching Allow denies. tests/security/test_cache_safety.py repeats
this with a third-party evaluator and generated route tables.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from jwt_authorizer import Authorizer
from jwt_authorizer.config import parse_config
from jwt_authorizer.coverage import bits
from jwt_authorizer.errors import CacheUnsafe
from jwt_authorizer.event import MethodArn
from jwt_authorizer.iam import Statement, evaluate
from jwt_authorizer.policy import (
    Conflict,
    Plan,
    Policies,
    PolicyBuilder,
    RouteAnswer,
    SimpleAnswer,
    find_conflicts,
    make_plan,
    route_of,
)
from jwt_authorizer.routes import Decision, RouteTable
from tests.support import iam
from tests.support.constants import HTTP_PREFIX, REST_PREFIX, rest_arn
from tests.support.hostile import Route, make_event
from tests.support.signing import SigningKey, claims
from tests.support.stages import issuer_entry, make_authorizer, route_rule

REST = REST_PREFIX
HTTP = HTTP_PREFIX
RULES: list[dict[str, Any]] = [
    {"route": "GET /whoami"},
    {"route": "GET /orders", "scopes": ["app.read"]},
    {"route": "POST /orders", "scopes": ["app.write"]},
    {"route": "GET /orders/{id}", "scopes": ["app.read"]},
    {"route": "DELETE /orders/{id}", "scopes": ["app.admin"]},
    {"route": "GET /orders/summary", "scopes": ["app.report"]},
    {"route": "GET /orders/{id}/items", "all_scopes": ["app.read", "app.write"]},
    {"route": "ANY /admin/{proxy+}", "scopes": ["app.admin"]},
]
ROUTES = [
    ("GET", "/whoami"),
    ("GET", "/orders"),
    ("POST", "/orders"),
    ("GET", "/orders/42"),
    ("DELETE", "/orders/42"),
    ("GET", "/orders/summary"),
    ("GET", "/orders/42/items"),
    ("PUT", "/admin/users/7"),
    ("GET", "/admin/x"),
    ("PATCH", "/orders/42"),
]
#: Paths an attacker chooses: IAM wildcards, empty segments, encodings, deep and unlisted paths.
HOSTILE = [
    ("GET", "/*"),
    ("GET", "/orders*"),
    ("GET", "/orders/*"),
    ("GET", "/orders/?"),
    ("GET", "/*/*"),
    ("GET", "/orders/"),
    ("POST", "/orders/"),
    ("POST", "//orders"),
    ("GET", "//orders/42"),
    ("GET", "/orders//42"),
    ("DELETE", "/orders/42/"),
    ("GET", "/orders/42/audit"),
    ("GET", "/orders/42/items/x"),
    ("GET", "/orders/%2A"),
    ("GET", "/orders/a%2Fb"),
    ("GET", "/"),
    ("GET", "/admin"),
    ("GET", "/admin/"),
    ("POST", "/whoami"),
    ("HEAD", "/orders"),
]
PERMISSIONS = ["app.read", "app.write", "app.admin", "app.report"]
HELD = [
    frozenset(held)
    for size in range(len(PERMISSIONS) + 1)
    for held in itertools.combinations(PERMISSIONS, size)
]


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate("RS256", kid="policy-key")


def allows(answer: dict[str, Any], prefix: str, method: str, path: str) -> bool:
    return iam.allows(answer, f"{prefix}/{method}{path}")


def call(authorizer: Authorizer, kind: str, token: str, method: str, path: str) -> dict[str, Any]:
    event = make_event(kind, f"Bearer {token}", Route(method, path))  # type: ignore[arg-type]
    answer: dict[str, Any] = authorizer(event, None)
    return answer


def canonical(path: str) -> bool:
    """No empty segment: paths with one are documented as never covered by a cached answer
    while a route is denied, and a first call on one gets a narrow answer."""
    return "//" not in path and (path == "/" or not path.endswith("/"))


def builder_for(rules: list[dict[str, Any]], key: SigningKey, unmatched: str) -> PolicyBuilder:
    config = parse_config({"issuers": [issuer_entry(key)], "routes": rules, "unmatched": unmatched})
    return PolicyBuilder(RouteTable(config.routes, unmatched_allows=unmatched == "authenticated"))


def governing_route(builder: PolicyBuilder, method: str, path: str) -> str:
    rule = builder.table.rule_of(builder.table.winner(method, path))
    return rule.route_key if rule is not None else "(requests no rule matches)"


# --------------------------------------------------------------------------- plans, pure

FILES = RouteTable(
    [route_rule("GET /files/public"), route_rule("GET /files/{name}", scopes=["files.read"])],
    unmatched_allows=True,
)
ALL_METHODS = ["GET/*", "POST/*", "PUT/*", "PATCH/*", "DELETE/*", "HEAD/*", "OPTIONS/*"]
SLASHES = ["*//*", "*/*/"]


def plan_texts(builder: PolicyBuilder, plan: Plan) -> tuple[list[str], list[str], list[str]]:
    """(allowed patterns, denied patterns, lockout witnesses) of a plan."""
    texts = [candidate.text for candidate in builder.coverage.candidates]
    return (
        [texts[i] for i in bits(plan.allow)],
        [texts[i] for i in bits(plan.deny)],
        [signature.witness for signature in plan.lockouts],
    )


def planned(
    keys: list[str], verdicts: tuple[bool, ...], default_allowed: bool
) -> tuple[list[str], list[str], list[str]]:
    builder = PolicyBuilder(RouteTable([route_rule(k) for k in keys], unmatched_allows=False))
    return plan_texts(builder, make_plan(builder.coverage, verdicts, default_allowed))


def short(statements: tuple[Statement, ...]) -> list[tuple[str, list[str]]]:
    """Statements with the REST prefix cut off their resources."""
    cut = len(REST) + 1
    return [(s.effect, [resource[cut:] for resource in s.resources]) for s in statements]


class TestPlans:
    def test_an_allowed_literal_route_and_nothing_else(self) -> None:
        assert planned(["GET /a"], (True,), False) == (["GET/a"], [], [])

    def test_nothing_allowed_is_an_empty_plan(self) -> None:
        assert planned(["GET /a"], (False,), False) == ([], [], [])

    def test_everything_allowed(self) -> None:
        assert planned(["GET /a"], (True,), True) == (ALL_METHODS, [], [])

    def test_a_denied_route_inside_an_allowed_default(self) -> None:
        """The wildcard Allows need a Deny for the route, and for paths with empty segments."""
        assert planned(["GET /a"], (False,), True) == (ALL_METHODS, ["GET/a", *SLASHES], [])

    def test_a_parameter_allows_one_segment_and_takes_back_deeper_paths(self) -> None:
        assert planned(["GET /orders/{id}"], (True,), False) == (
            ["GET/orders/*"],
            ["GET/orders/*/*", *SLASHES],
            [],
        )

    def test_the_readme_lockouts(self) -> None:
        """README, *What it costs: lockouts*: a Deny that safety needs covers an allowed route."""
        builder = PolicyBuilder(FILES)
        assert plan_texts(builder, builder.plan(frozenset())) == (
            ALL_METHODS,
            ["GET/files/*", *SLASHES],
            ["GET/files/public", "GET/files/x/x"],
        )
        assert plan_texts(builder, builder.plan(frozenset({"files.read"}))) == (
            ALL_METHODS,
            [],
            [],
        )
        assert planned(["GET /orders/{id}", "GET /orders/{id}/items"], (True, True), False) == (
            ["GET/orders/*"],
            ["GET/orders/*/*", *SLASHES],
            ["GET/orders/x/items"],
        )

    def test_keep_out_drops_denies_that_would_match_the_request(self) -> None:
        builder = PolicyBuilder(FILES)
        _, matched = builder.coverage.signature_of("GET", "/files/public")
        narrowed = builder.plan(frozenset(), keep_out=matched & builder.deny_capable)
        assert plan_texts(builder, narrowed) == (
            ["GET/files/public", *ALL_METHODS[1:]],
            SLASHES,
            ["GET/", "GET/x", "GET/files/x/x"],
        )


class TestAnswers:
    BUILDER = PolicyBuilder(FILES)

    def answer(self, path: str, held: frozenset[str], allowed: bool) -> tuple[object, ...]:
        found = self.BUILDER.iam_answer(MethodArn.parse(rest_arn("GET", path)), held, allowed)
        return short(found.statements), found.narrowed, found.refused

    def test_the_general_answer(self) -> None:
        assert self.answer("/other", frozenset(), True) == (
            [("Allow", ALL_METHODS), ("Deny", ["GET/files/*", *SLASHES])],
            False,
            False,
        )

    def test_a_denied_request_is_denied_explicitly(self) -> None:
        assert self.answer("/files/secret", frozenset(), False) == (
            [("Allow", ALL_METHODS), ("Deny", ["GET/files/*", *SLASHES])],
            False,
            False,
        )

    def test_an_allowed_request_the_general_answer_denies_gets_a_narrower_one(self) -> None:
        assert self.answer("/files/public", frozenset(), True) == (
            [("Allow", ["GET/files/public", *ALL_METHODS[1:]]), ("Deny", SLASHES)],
            True,
            False,
        )
        assert self.answer("/files/a/b", frozenset(), True) == (
            [("Allow", ["GET/files/a/b", "GET/files/public", *ALL_METHODS[1:]]), ("Deny", SLASHES)],
            True,
            False,
        )

    def test_a_request_no_cacheable_answer_can_allow_is_refused(self) -> None:
        """Its path holds a wildcard: its own ARN cannot be an Allow (``cache_unsafe``)."""
        assert self.answer("/files/public/*", frozenset(), True) == (
            [("Allow", ["GET/files/public", *ALL_METHODS[1:]]), ("Deny", SLASHES)],
            False,
            True,
        )

    def test_everything_allowed_is_one_resource(self) -> None:
        assert self.answer("/files/x", frozenset({"files.read"}), True) == (
            [("Allow", ["*"])],
            False,
            False,
        )

    def test_nothing_allowed_still_has_a_statement(self) -> None:
        only_a = [route_rule("GET /a", scopes=["x"])]
        builder = PolicyBuilder(RouteTable(only_a, unmatched_allows=False))
        arn = MethodArn.parse(rest_arn("GET", "/b*"))
        assert short(builder.iam_answer(arn, frozenset(), False).statements) == [("Deny", ["*"])]
        arn = MethodArn.parse(rest_arn("GET", "/b"))
        assert short(builder.iam_answer(arn, frozenset(), False).statements) == [
            ("Deny", ["GET/b"])
        ]

    def test_plans_are_cached_per_relevant_permissions(self) -> None:
        assert self.BUILDER.key(frozenset({"files.read", "unrelated"})) == {"files.read"}
        assert self.BUILDER.plan(frozenset()) is self.BUILDER.plan(frozenset({"unrelated"}))
        first = self.BUILDER.plan(frozenset())
        self.BUILDER.clear()
        assert self.BUILDER.plan(frozenset()) == first
        assert self.BUILDER.plan(frozenset()) is not first


class TestSharedSimpleAnswers:
    BUILDER = PolicyBuilder(FILES)

    def test_true_only_when_every_request_sharing_the_entry_is_allowed(self) -> None:
        builder = self.BUILDER
        reader = frozenset({"files.read"})
        assert (builder.simple_allowed(frozenset()), builder.simple_allowed(reader)) == (
            False,
            True,
        )
        assert builder.simple_allowed(frozenset(), "GET", "/files/public") is True
        assert builder.simple_allowed(frozenset(), "GET", "/files/{name}") is False
        assert builder.simple_allowed(frozenset(), "ANY", "$default") is True

    def test_per_route_key(self) -> None:
        arn = MethodArn.parse(rest_arn("GET", "/files/public"))
        assert self.BUILDER.simple_answer(frozenset(), arn, "GET /files/public") == SimpleAnswer(
            allowed=True
        )
        assert self.BUILDER.simple_answer(frozenset(), arn, None) == SimpleAnswer(allowed=False)

    def test_a_rule_that_is_not_a_route_of_the_api(self) -> None:
        """API Gateway routed GET /files/secret to a wider route: the rule that decides it is
        not a route of the API, and its paths share that route's cache entry."""
        arn = MethodArn.parse(rest_arn("GET", "/files/secret"))
        assert self.BUILDER.simple_answer(frozenset(), arn, "ANY /{proxy+}") == SimpleAnswer(
            allowed=True, mismatched="GET /files/{name}"
        )

    @pytest.mark.parametrize(
        ("route_key", "route"),
        [
            ("GET /orders/{id}", ("GET", "/orders/{id}")),
            ("$default", ("ANY", "$default")),
            (None, None),
        ],
    )
    def test_route_of(self, route_key: str | None, route: tuple[str, str] | None) -> None:
        assert route_of(route_key) == route


def test_the_readme_lockouts_are_reported_at_init() -> None:
    assert find_conflicts(PolicyBuilder(FILES)) == (
        Conflict("GET /files/public", "GET/files/public", (), ("GET /files/{name}",)),
        Conflict("(requests no rule matches)", "GET/files/x/x", (), ("GET /files/{name}",)),
    )
    builder = PolicyBuilder(RouteTable([route_rule("GET /a")], unmatched_allows=False))
    assert find_conflicts(builder) == ()


# --------------------------------------------------------------------------- through the handler


@pytest.mark.parametrize("kind", ["token", "request", "http-1.0", "http-2.0"])
@pytest.mark.parametrize(
    ("unmatched", "default_rule"),
    [("deny", False), ("authenticated", False), ("deny", True)],
)
def test_no_cached_answer_allows_what_the_rules_deny(
    key: SigningKey, kind: str, unmatched: str, default_rule: bool
) -> None:
    """Every token x first request x later request, on every event kind: a cached answer never
    allows a later request that a fresh call denies, and every lockout of a route (a cached 403
    where a fresh call would pass) concerns a route the init analysis reports."""
    default = [{"route": "$default", "scopes": ["app.read"]}] if default_rule else []
    rules = [*RULES, *default]
    document = {"issuers": [issuer_entry(key)], "routes": rules, "unmatched": unmatched}
    document["response_mode"] = "iam"
    authorizer = make_authorizer(document)
    builder = builder_for(rules, key, unmatched)
    reported = {conflict.route for conflict in find_conflicts(builder)}
    prefix = HTTP if kind.startswith("http") else REST
    requests = ROUTES + HOSTILE
    evaluated = unsafe = 0
    lockouts: set[tuple[frozenset[str], str, str, str, str]] = set()
    for held in HELD:
        token = key.sign(claims(scp=" ".join(sorted(held)) or None))
        answers = {request: call(authorizer, kind, token, *request) for request in requests}
        fresh = {r: allows(answers[r], prefix, *r) for r in requests}
        for first, later in itertools.product(requests, requests):
            cached = allows(answers[first], prefix, *later)
            evaluated += 1
            if cached and not fresh[later]:
                unsafe += 1
            if fresh[later] and not cached and canonical(first[1]) and canonical(later[1]):
                lockouts.add((held, *first, *later))
    assert unsafe == 0
    assert evaluated == len(HELD) * len(requests) ** 2
    # A lockout is explained when the init analysis reports the route left out, or the route
    # called first (that caller's general answer denied it, so it got a narrower answer).
    unexplained = {
        (held, first_method, first_path, method, path)
        for held, first_method, first_path, method, path in lockouts
        if governing_route(builder, method, path) not in reported
        and governing_route(builder, first_method, first_path) not in reported
    }
    assert unexplained == set()


def test_every_event_kind_decides_the_same(key: SigningKey) -> None:
    """Same method, path and token: TOKEN, REQUEST, HTTP 1.0 and HTTP 2.0 (IAM and simple
    answers) agree, whatever template API Gateway says it matched."""
    rules = [
        {"route": "GET /admin/{id}", "scopes": ["admin"]},
        {"route": "ANY /{proxy+}", "scopes": ["read"]},
        {"route": "DELETE /things/{id}", "scopes": ["admin"]},
    ]
    iam = make_authorizer({"issuers": [issuer_entry(key)], "routes": rules, "response_mode": "iam"})
    simple = make_authorizer(
        {
            "issuers": [issuer_entry(key)],
            "routes": rules,
            "simple_cache_key": "request",
        }
    )
    reader = key.sign(claims(scp="read"))
    cases = [
        (Route("GET", "/admin/1", "/{proxy+}"), False),
        (Route("GET", "/admin/1", "/admin/{id}"), False),
        (Route("DELETE", "/things/9", "/{proxy+}"), False),
        (Route("GET", "/things/9", "/{proxy+}"), True),
        (Route("POST", "/admin/1", "/{proxy+}"), True),
    ]
    for route, expected in cases:
        for kind in ("token", "request", "http-1.0", "http-2.0"):
            prefix = HTTP if kind.startswith("http") else REST
            event = make_event(kind, f"Bearer {reader}", route)
            assert allows(iam(event, None), prefix, route.method, route.path) is expected, (
                kind,
                route,
            )
        answer = simple(make_event("http-2.0", f"Bearer {reader}", route), None)
        assert answer["isAuthorized"] is expected, route


class TestIssueAttacks:
    """The attacks the review reproduced, each against the fixed authorizer."""

    FILES: ClassVar[list[dict[str, Any]]] = [
        {"route": "GET /files/public"},
        {"route": "GET /files/{name}", "scopes": ["files.read"]},
        {"route": "$default"},
    ]

    @pytest.mark.parametrize(
        ("first", "allowed"),
        [("/*", True), ("/files*", True), ("/users/*/*", True), ("/files/?ecret", False)],
    )
    def test_a_wildcard_in_the_path_is_never_copied_into_an_allow(
        self, key: SigningKey, first: str, allowed: bool
    ) -> None:
        """The README's fallback example: a token without files.read calls a path holding IAM
        wildcards first; its cached answer must not open GET /files/secret."""
        authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": self.FILES})
        token = key.sign(claims(scp="app.read"))
        answer = call(authorizer, "token", token, "GET", first)
        assert not allows(answer, REST, "GET", "/files/secret")
        assert not allows(answer, REST, "GET", "/files/x")
        assert allows(answer, REST, "GET", first) is allowed

    def test_the_fallback_keeps_other_routes_and_stays_safe(self, key: SigningKey) -> None:
        authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": self.FILES})
        token = key.sign(claims(scp="app.read"))
        answer = call(authorizer, "token", token, "GET", "/files/public")
        assert allows(answer, REST, "GET", "/files/public")
        assert allows(answer, REST, "POST", "/anything")
        assert not allows(answer, REST, "GET", "/files/secret")
        assert not allows(answer, REST, "GET", "/files/*")
        # GET/* would also reach /files/secret: other GET routes are the documented lockout.
        assert not allows(answer, REST, "GET", "/other")

    def test_template_and_path_disagreeing_is_a_deny(self, key: SigningKey) -> None:
        rules = [
            {"route": "GET /admin/{id}", "scopes": ["admin"]},
            {"route": "ANY /{proxy+}", "scopes": ["read"]},
        ]
        authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": rules})
        token = key.sign(claims(scp="read"))
        event = make_event("request", f"Bearer {token}", Route("GET", "/admin/1", "/{proxy+}"))
        answer = authorizer(event, None)
        assert not allows(answer, REST, "GET", "/admin/1")
        assert answer["context"]["reason"] == "insufficient_scope"

    def test_deny_deeper_paths_versus_a_greedy_route(self, key: SigningKey) -> None:
        """Deny GET/files/*/* (deeper paths under {name}) also covers GET /files/public/x, which
        ANY /{proxy+} allows: reported at init, and the request itself is answered right."""
        rules: list[dict[str, Any]] = [
            {"route": "GET /files/{name}", "scopes": ["files.read"]},
            {"route": "ANY /{proxy+}"},
        ]
        builder = builder_for(rules, key, "deny")
        assert find_conflicts(builder) == (
            Conflict(
                route="ANY /{proxy+}",
                example="GET/files/x/x",
                permissions=(),
                blocked_by=("GET /files/{name}",),
            ),
        )
        authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": rules})
        token = key.sign(claims(scp="files.read"))
        fresh = call(authorizer, "token", token, "GET", "/files/public/x")
        assert allows(fresh, REST, "GET", "/files/public/x")
        assert allows(fresh, REST, "GET", "/files/a")

    @pytest.mark.parametrize("unmatched", ["deny", "authenticated"])
    def test_trailing_and_doubled_slashes(self, key: SigningKey, unmatched: str) -> None:
        rules = [
            {"route": "GET /orders", "scopes": ["app.admin"]},
            {"route": "GET /orders/{id}", "scopes": ["app.read"]},
            {"route": "POST /orders", "scopes": ["app.write"]},
        ]
        authorizer = make_authorizer(
            {"issuers": [issuer_entry(key)], "routes": rules, "unmatched": unmatched}
        )
        token = key.sign(claims(scp="app.read"))
        cached = call(authorizer, "token", token, "GET", "/orders/1")
        for method, path in [
            ("GET", "/orders/"),
            ("GET", "//orders"),
            ("POST", "/orders/"),
            ("POST", "//orders"),
            ("POST", "/orders//"),
        ]:
            assert not allows(cached, REST, method, path), (method, path)
            fresh = call(authorizer, "token", token, method, path)
            assert not allows(fresh, REST, method, path), (method, path)
        assert allows(cached, REST, "GET", "/orders/2")

    def test_rules_for_a_tenant_issuer_apply(self, key: SigningKey) -> None:
        tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
        issuer = "https://login.microsoftonline.com/{tenantid}/v2.0"
        concrete = issuer.replace("{tenantid}", tenant)
        document = {
            "issuers": [
                issuer_entry(key, issuer=issuer, profile="entra-id", tenants=[tenant]),
            ],
            "routes": [
                {"route": "GET /orders", "scopes": ["app.read"], "issuers": [issuer]},
                {"route": "$default"},
            ],
        }
        authorizer = make_authorizer(document)
        for scp, expected in ((None, False), ("app.read", True)):
            token = key.sign(claims(iss=concrete, tid=tenant, scp=scp))
            answer = call(authorizer, "token", token, "GET", "/orders")
            assert allows(answer, REST, "GET", "/orders") is expected, scp


class TestSimpleAnswers:
    """A simple answer has no resource: it is reused for every request with the same identity
    sources, so it may only be true when all of them are allowed."""

    RULES: ClassVar[list[dict[str, Any]]] = [
        {"route": "GET /orders/{id}", "scopes": ["app.read"]},
        {"route": "GET /orders/summary", "scopes": ["app.report"]},
        {"route": "ANY /{proxy+}", "scopes": ["app.read"]},
    ]

    def make(self, key: SigningKey, cache_key: str) -> Callable[[Route, str], bool]:
        authorizer = make_authorizer(
            {"issuers": [issuer_entry(key)], "routes": self.RULES, "simple_cache_key": cache_key}
        )

        def decide(route: Route, scp: str) -> bool:
            event = make_event("http-2.0", f"Bearer {key.sign(claims(scp=scp))}", route)
            allowed = authorizer(event, None)["isAuthorized"]
            assert isinstance(allowed, bool)
            return allowed

        return decide

    def test_route_key_answers_cover_the_route_not_more_specific_routes(
        self, key: SigningKey
    ) -> None:
        decide = self.make(key, "route")
        assert decide(Route("GET", "/orders/1", "/orders/{id}"), "app.read") is True
        assert decide(Route("GET", "/orders/summary", "/orders/summary"), "app.read") is False
        assert decide(Route("GET", "/other", "/{proxy+}"), "app.read") is True

    def test_the_default_route_answers_for_unmatched_requests(self, key: SigningKey) -> None:
        decide = self.make(key, "route")
        assert decide(Route("GET", "/", "$default"), "app.read app.report") is False

    def test_a_rule_finer_than_the_api_routes_is_reported_and_decided_fresh(
        self, key: SigningKey
    ) -> None:
        """GET /orders/summary reaching the authorizer as ANY /{proxy+}: that rule is not a
        route of the API, so cached answers for ANY /{proxy+} also answer it. Logged and
        counted; this request is still decided by its own rule."""
        authorizer = make_authorizer(
            {"issuers": [issuer_entry(key)], "routes": self.RULES, "simple_cache_key": "route"}
        )
        event = make_event(
            "http-2.0",
            f"Bearer {key.sign(claims(scp='app.read'))}",
            Route("GET", "/orders/summary"),
        )
        event["routeKey"] = event["requestContext"]["routeKey"] = "ANY /{proxy+}"
        assert authorizer(event, None)["isAuthorized"] is False

    def test_per_request_cache_keys_answer_the_request(self, key: SigningKey) -> None:
        decide = self.make(key, "request")
        assert decide(Route("GET", "/other", "$default"), "app.read") is True
        assert decide(Route("GET", "/orders/summary", "$default"), "app.read") is False


def test_expected_decisions_for_a_reader(key: SigningKey) -> None:
    authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": RULES})
    token = key.sign(claims(scp="app.read"))
    verdicts = {
        request: allows(call(authorizer, "token", token, *request), REST, *request)
        for request in ROUTES
    }
    assert verdicts == {
        ("GET", "/whoami"): True,
        ("GET", "/orders"): True,
        ("POST", "/orders"): False,
        ("GET", "/orders/42"): True,
        ("DELETE", "/orders/42"): False,
        ("GET", "/orders/summary"): False,
        ("GET", "/orders/42/items"): False,
        ("PUT", "/admin/users/7"): False,
        ("GET", "/admin/x"): False,
        ("PATCH", "/orders/42"): False,
    }


def test_reader_policy_is_exact(key: SigningKey) -> None:
    authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": RULES})
    answer = call(authorizer, "token", key.sign(claims(scp="app.read")), "GET", "/orders")
    assert answer["policyDocument"]["Statement"] == [
        {
            "Action": "execute-api:Invoke",
            "Effect": "Allow",
            "Resource": [f"{REST}/GET/whoami", f"{REST}/GET/orders", f"{REST}/GET/orders/*"],
        },
        {
            "Action": "execute-api:Invoke",
            "Effect": "Deny",
            "Resource": [
                f"{REST}/GET/orders/*/*",
                f"{REST}/GET/orders/summary",
                f"{REST}/*//*",
                f"{REST}/*/*/",
            ],
        },
    ]


def test_no_rules_allow_everything_in_one_resource(key: SigningKey) -> None:
    authorizer = make_authorizer({"issuers": [issuer_entry(key)]})
    answer = call(authorizer, "token", key.sign(claims()), "GET", "/anything")
    assert answer["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{REST}/*"}
    ]


def test_denied_route_gets_an_explicit_deny(key: SigningKey) -> None:
    authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": RULES})
    answer = call(authorizer, "token", key.sign(claims(scp="app.read")), "POST", "/orders")
    assert iam.decision(answer, f"{REST}/POST/orders") is iam.Decision.EXPLICIT_DENY
    assert answer["context"]["error"] == "insufficient_scope"
    assert answer["context"]["scope"] == "app.write"


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_partition_region_account_api_and_stage_come_from_the_incoming_arn(
    key: SigningKey, partition: str
) -> None:
    authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": RULES})
    prefix = f"arn:{partition}:execute-api:cn-north-1:210987654321:zz99/v2"
    event = {
        "type": "TOKEN",
        "authorizationToken": "Bearer " + key.sign(claims(scp="app.read")),
        "methodArn": f"{prefix}/GET/orders",
    }
    answer = authorizer(event, None)
    for statement in answer["policyDocument"]["Statement"]:
        resources = statement["Resource"]
        for resource in [resources] if isinstance(resources, str) else resources:
            assert resource.startswith(f"{prefix}/")
    assert allows(answer, prefix, "GET", "/orders")


def test_colon_path_policy_still_matches(key: SigningKey) -> None:
    rules = [{"route": "GET /files/{name}", "scopes": ["app.read"]}]
    authorizer = make_authorizer({"issuers": [issuer_entry(key)], "routes": rules})
    answer = call(authorizer, "token", key.sign(claims(scp="app.read")), "GET", "/files/a:b")
    assert allows(answer, REST, "GET", "/files/a:b")


# --------------------------------------------------------------------------- Policies


class TestPolicies:
    """The per-request answers of a configuration: shared analysis, the memo, the re-check."""

    RULES = (
        route_rule("GET /files/public"),
        route_rule("GET /files/{name}", scopes=["files.read"]),
    )
    ARN = MethodArn.parse(rest_arn("GET", "/files/secret"))

    def policies(self, **options: Any) -> Policies:
        return Policies(
            {"https://a.example/": self.RULES, "https://b.example/": self.RULES, "https://c/": ()},
            unmatched_allows=False,
            **options,
        )

    def test_issuers_with_the_same_rules_share_one_builder(self) -> None:
        assert len(self.policies().builders) == 2

    def test_an_iam_answer_and_its_decision(self) -> None:
        routed = self.policies().iam("https://a.example/", self.ARN, frozenset({"files.read"}))
        assert routed.decision.allowed is True
        assert routed.decision.rule == self.RULES[1]
        assert (routed.narrowed, routed.route_mismatch, routed.mismatch) == (None, None, False)
        assert evaluate(routed.statements, rest_arn("GET", "/files/secret")) is True

    def test_the_memo_answers_again_and_clear_forgets_it(self) -> None:
        policies = self.policies()
        first = policies.iam("https://a.example/", self.ARN, frozenset())
        assert policies.iam("https://a.example/", self.ARN, frozenset({"unrelated"})) == first
        assert len(policies._memo) == 1
        policies.clear()
        assert len(policies._memo) == 0

    def test_a_reanswer_that_disagrees_with_the_decision_denies_everything(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        policies = self.policies()
        monkeypatch.setattr("jwt_authorizer.policy.evaluate", lambda statements, arn: False)
        routed = policies.iam("https://a.example/", self.ARN, frozenset({"files.read"}))
        assert routed == RouteAnswer(
            Decision(allowed=False, rule=self.RULES[1], denial=CacheUnsafe),
            (Statement("Deny", (f"{REST_PREFIX}/*",)),),
            mismatch=True,
        )

    def test_simple_answers_per_request_are_the_decision(self) -> None:
        policies = self.policies(simple_cache_key="request")
        arn = MethodArn.parse(rest_arn("GET", "/files/public"))
        assert policies.simple("https://a.example/", arn, "GET /files/{name}", frozenset()) == (
            RouteAnswer(Decision(allowed=True, rule=self.RULES[0]))
        )
