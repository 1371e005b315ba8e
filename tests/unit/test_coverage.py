"""Coverage stage: every class of method ARNs a cached answer can be checked against, for small
route tables, exactly: the candidate patterns, the signatures (which rule decides, which
patterns match, an example), a concrete request's signature, and route closures."""

from __future__ import annotations

import pytest

from jwt_authorizer.coverage import METHODS, Coverage, bits
from jwt_authorizer.routes import DEFAULT, RouteTable
from tests.support.stages import route_rule as rule


def coverage(*keys: str) -> Coverage:
    return Coverage(RouteTable([rule(key) for key in keys], unmatched_allows=False))


def texts(cover: Coverage, mask: int) -> list[str]:
    return [cover.candidates[index].text for index in bits(mask)]


def signatures(cover: Coverage) -> list[tuple[int, list[str], str]]:
    return [(s.winner, texts(cover, s.matched), s.witness) for s in cover.signatures]


ONE = coverage("GET /a")
PROXY = coverage("GET /orders/{id}", "ANY /{proxy+}")


def test_the_candidates_of_one_literal_route() -> None:
    assert [(c.text, c.role, c.owner) for c in ONE.candidates] == [
        ("GET/a", "rule", 0),
        *((f"{method}/*", "default", DEFAULT) for method in METHODS),
        *((f"{method}/", "root", DEFAULT) for method in METHODS),
        ("*//*", "slash", -2),
        ("*/*/", "slash", -2),
    ]
    assert texts(ONE, ONE.slash_mask) == ["*//*", "*/*/"]
    assert texts(ONE, ONE.known_method_mask) == [f"{method}/*" for method in METHODS]
    assert texts(ONE, ONE.star_mask) == [*(f"{method}/*" for method in METHODS), "*//*", "*/*/"]


def test_the_signatures_of_one_literal_route() -> None:
    """GET/a is the rule's class; GET/ and every other GET path are the default's; each other
    method has the same two classes. No pattern matches other methods: no class for them."""
    assert signatures(ONE) == [
        (DEFAULT, ["GET/*", "GET/"], "GET/"),
        (DEFAULT, ["GET/*"], "GET/x"),
        (0, ["GET/a", "GET/*"], "GET/a"),
        *(
            signature
            for method in METHODS[1:]
            for signature in (
                (DEFAULT, [f"{method}/*", f"{method}/"], f"{method}/"),
                (DEFAULT, [f"{method}/*"], f"{method}/x"),
            )
        ),
    ]


@pytest.mark.parametrize(
    ("method", "path", "winner", "matched"),
    [
        ("GET", "/a", 0, ["GET/a", "GET/*"]),
        ("GET", "/a/", 0, ["GET/*", "*/*/"]),  # routes like /a; GET/a does not match it
        ("GET", "//a", 0, ["GET/*", "*//*"]),
        ("GET", "/b", DEFAULT, ["GET/*"]),
        ("GET", "/a/b", DEFAULT, ["GET/*"]),
        ("GET", "/", DEFAULT, ["GET/*", "GET/"]),
        ("POST", "/a", DEFAULT, ["POST/*"]),
        ("PROPFIND", "/a", DEFAULT, []),
        ("PROPFIND", "//", DEFAULT, ["*//*", "*/*/"]),
    ],
)
def test_the_signature_of_a_request(
    method: str, path: str, winner: int, matched: list[str]
) -> None:
    found_winner, found_matched = ONE.signature_of(method, path)
    assert (found_winner, texts(ONE, found_matched)) == (winner, matched)


def test_a_parameter_and_a_greedy_route() -> None:
    """{id} becomes * (one segment in the rule, any run for IAM), so a "deeper" candidate
    GET/orders/*/* exists to take back what IAM's * grants beyond one segment; ANY becomes one
    candidate per method."""
    assert [(c.text, c.role, c.owner) for c in PROXY.candidates[:9]] == [
        ("GET/orders/*", "rule", 0),
        ("GET/orders/*/*", "deeper", 0),
        *((f"{method}/*", "rule", 1) for method in METHODS),
    ]
    assert len(PROXY.candidates) == 9 + 7 + 7 + 2
    assert signatures(PROXY)[:4] == [
        (DEFAULT, ["GET/*", "GET/*", "GET/"], "GET/"),
        (1, ["GET/*", "GET/*"], "GET/x"),
        (0, ["GET/orders/*", "GET/*", "GET/*"], "GET/orders/x"),
        (1, ["GET/orders/*", "GET/orders/*/*", "GET/*", "GET/*"], "GET/orders/x/x"),
    ]
    assert len(PROXY.signatures) == 4 + 2 * 6


def test_each_candidate_covers_the_signatures_it_matches() -> None:
    for index in range(len(PROXY.candidates)):
        expected = sum(
            1 << position
            for position, signature in enumerate(PROXY.signatures)
            if signature.matched >> index & 1
        )
        assert PROXY.cover[index] == expected
    deeper = 1
    assert [PROXY.signatures[p].witness for p in bits(PROXY.cover[deeper])] == ["GET/orders/x/x"]


@pytest.mark.parametrize(
    ("method", "template", "winners"),
    [
        ("GET", "/orders/{id}", {0}),
        ("GET", "/orders/{orderId}", {0}),
        ("ANY", "/{proxy+}", {1}),  # GET /orders/x is routed to GET /orders/{id} instead
        ("GET", "/orders/summary", {0}),  # not a rule: its requests are decided by {id}
        ("GET", "/other/{x}", {1}),
        ("POST", "/orders/{id}", {1}),
        ("ANY", "$default", {DEFAULT}),
    ],
)
def test_route_closures(method: str, template: str, winners: set[int]) -> None:
    """Which rules govern the requests API Gateway routes to a route key (simple answers)."""
    assert PROXY.route_closure(method, template) == winners


def test_the_closure_of_an_api_route_no_rule_matches() -> None:
    """GET /orders/x goes to the API's GET /orders/{id} route, not to /{proxy+}: only
    requests no rule matches are left."""
    cover = coverage("GET /orders/{id}")
    assert cover.route_closure("ANY", "/{proxy+}") == {DEFAULT}
    assert cover.route_closure("GET", "/{proxy+}") == {DEFAULT}
    assert cover.route_closure("GET", "/orders/{id}/items") == {DEFAULT}


def test_a_table_without_rules() -> None:
    empty = coverage()
    assert len(empty.candidates) == 7 + 7 + 2
    assert {s.winner for s in empty.signatures} == {DEFAULT}
    assert len(empty.signatures) == 2 * 7


def test_bits() -> None:
    assert list(bits(0)) == []
    assert list(bits(0b101001)) == [0, 3, 5]
