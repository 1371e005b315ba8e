"""The independent IAM oracle (iam-simulate, ``tests/support/iam_oracle.py``): the semantics we
rely on, pinned with exact answers, and compared with our own evaluator ``tools/devkit/iam.py``.

Every ``Case`` states iam-simulate's answer and devkit's. Where they differ the case says why:
those are findings, kept here so a change on either side is noticed. A Hypothesis property then
checks that iam-simulate, devkit and the authorizer's own check (``jwt_authorizer.policy``)
agree on random globs over ``{a, b, /, *, ?}`` behind a fixed ARN prefix.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devkit.iam import Decision, evaluate, parse_policy
from jwt_authorizer import iam as authorizer_policy
from tests.security.conftest import LONG_FACTOR, PROFILE, PROFILE_NAME, record_examples
from tests.support.iam_oracle import (
    QUESTION_STANDIN,
    REPO_ROOT,
    STAR_STANDIN,
    IamOracle,
    IamOracleError,
    OutsideOracleDomain,
    literal_request,
)

HEAD: Final = "arn:aws:execute-api:eu-west-1:123456789012:"
API: Final = HEAD + "abcdef1234/"
P: Final = API + "prod/"

ALLOWED: Final = "Allowed"
EXPLICIT: Final = "ExplicitlyDenied"
IMPLICIT: Final = "ImplicitlyDenied"
_DEVKIT: Final = {
    Decision.ALLOW: ALLOWED,
    Decision.EXPLICIT_DENY: EXPLICIT,
    Decision.IMPLICIT_DENY: IMPLICIT,
}


def statement(effect: str, *resources: str, as_list: bool | None = None) -> dict[str, Any]:
    """One statement; ``Resource`` is a string for one pattern unless ``as_list``."""
    listed = len(resources) != 1 if as_list is None else as_list
    return {
        "Action": "execute-api:Invoke",
        "Effect": effect,
        "Resource": list(resources) if listed else resources[0],
    }


def allow(*resources: str, as_list: bool | None = None) -> dict[str, Any]:
    return statement("Allow", *resources, as_list=as_list)


def deny(*resources: str, as_list: bool | None = None) -> dict[str, Any]:
    return statement("Deny", *resources, as_list=as_list)


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def devkit(doc: dict[str, Any], arn: str) -> str:
    return _DEVKIT[evaluate(parse_policy(doc), arn)]


@dataclass(frozen=True)
class Case:
    name: str
    statements: tuple[dict[str, Any], ...]
    resource: str
    oracle: str
    devkit: str | None = None  # None: the same as the oracle
    why: str = ""

    @property
    def document(self) -> dict[str, Any]:
        return document(*self.statements)


def case(
    name: str,
    statements: dict[str, Any] | tuple[dict[str, Any], ...],
    resource: str,
    oracle: str,
    devkit: str | None = None,
    why: str = "",
) -> Case:
    stmts = statements if isinstance(statements, tuple) else (statements,)
    return Case(name, stmts, resource, oracle, devkit, why)


# --------------------------------------------------------------------------- the table

CASES: Final = [
    # '*' crosses '/'
    case("star crosses slash", allow(P + "GET/*"), P + "GET/orders/1/audit", ALLOWED),
    case(
        "star crosses slashes mid-pattern", allow(P + "*/audit"), P + "GET/orders/1/audit", ALLOWED
    ),
    case("star in method crosses into path", allow(P + "*"), P + "DELETE/a/b", ALLOWED),
    case("star spans stage and method", allow(API + "*/orders"), P + "GET/orders", ALLOWED),
    # '*' matches the empty string
    case("star matches empty at end", allow(P + "GET/orders*"), P + "GET/orders", ALLOWED),
    case("star matches empty between slashes", allow(P + "GET/*/audit"), P + "GET//audit", ALLOWED),
    case("star matches empty after slash", allow(P + "GET/orders/*"), P + "GET/orders/", ALLOWED),
    case("slash before star is required", allow(P + "GET/orders/*"), P + "GET/orders", IMPLICIT),
    # '?' matches exactly one character, '/' included
    case("qmark matches one char", allow(P + "GET/a?c"), P + "GET/abc", ALLOWED),
    case("qmark matches slash", allow(P + "GET/a?c"), P + "GET/a/c", ALLOWED),
    case("qmark matches colon", allow(P + "GET/a?c"), P + "GET/a:c", ALLOWED),
    case("qmark needs a char", allow(P + "GET/a?c"), P + "GET/ac", IMPLICIT),
    case("qmark is only one char", allow(P + "GET/a?c"), P + "GET/abbc", IMPLICIT),
    case("trailing qmark needs a char", allow(P + "GET/orders?"), P + "GET/orders", IMPLICIT),
    case("trailing qmark takes the slash", allow(P + "GET/orders?"), P + "GET/orders/", ALLOWED),
    case("qmark in stage", allow(API + "pro?/GET/x"), P + "GET/x", ALLOWED),
    # case: the resource part is case-sensitive everywhere
    case("path is case-sensitive", allow(P + "GET/orders"), P + "GET/Orders", IMPLICIT),
    case("method is case-sensitive", allow(P + "get/orders"), P + "GET/orders", IMPLICIT),
    case("stage is case-sensitive", allow(API + "PROD/GET/x"), P + "GET/x", IMPLICIT),
    case(
        "api id is case-sensitive",
        allow("arn:aws:execute-api:eu-west-1:123456789012:ABCDEF1234/prod/GET/x"),
        P + "GET/x",
        IMPLICIT,
    ),
    case("star does not fold case", allow(P + "GET/ORDERS*"), P + "GET/orders/1", IMPLICIT),
    # ... but not in partition/service/region/account
    case(
        "region is case-insensitive in iam-simulate",
        allow("arn:aws:execute-api:EU-WEST-1:123456789012:abcdef1234/prod/GET/x"),
        P + "GET/x",
        ALLOWED,
        IMPLICIT,
        "iam-simulate matches the first fields with a case-insensitive regex; devkit and "
        "the authorizer compare them exactly (the authorizer copies them from the methodArn)",
    ),
    case(
        "partition and service are case-insensitive in iam-simulate",
        allow("arn:AWS:Execute-API:eu-west-1:123456789012:abcdef1234/prod/GET/x"),
        P + "GET/x",
        ALLOWED,
        IMPLICIT,
        "as above",
    ),
    # '*' in the colon-separated fields stays within its field
    case(
        "star in region",
        allow("arn:aws:execute-api:*:123456789012:abcdef1234/prod/GET/x"),
        P + "GET/x",
        ALLOWED,
    ),
    case(
        "star in account",
        allow("arn:aws:execute-api:eu-west-1:*:abcdef1234/prod/GET/x"),
        P + "GET/x",
        ALLOWED,
    ),
    case(
        "partial star in region",
        allow("arn:aws:execute-api:eu-*-1:1234*:abcdef1234/prod/*"),
        P + "GET/x",
        ALLOWED,
    ),
    case(
        "qmarks in region",
        allow("arn:aws:execute-api:eu?west?1:123456789012:abcdef1234/*"),
        P + "GET/x",
        ALLOWED,
    ),
    case(
        "star in region does not cross colons",
        allow("arn:aws:execute-api:*:abcdef1234/prod/GET/a:b"),
        P + "GET/a:b",
        IMPLICIT,
        ALLOWED,
        "a field-final '*' crosses ':' in devkit (region '*' takes the region and the "
        "account); iam-simulate matches field by field",
    ),
    case(
        "star in account field ending the resource part",
        allow("arn:aws:execute-api:eu-west-1:123456789012:*"),
        P + "GET/x",
        ALLOWED,
    ),
    case("all resources", allow("*"), P + "GET/x", ALLOWED),
    # Deny wins; no matching statement is an implicit deny
    case(
        "deny wins over allow",
        (allow(P + "GET/*"), deny(P + "GET/orders/*")),
        P + "GET/orders/1",
        EXPLICIT,
    ),
    case(
        "deny wins whatever the order",
        (deny(P + "GET/orders/*"), allow(P + "*")),
        P + "GET/orders/1",
        EXPLICIT,
    ),
    case(
        "deny elsewhere leaves the allow",
        (allow(P + "GET/*"), deny(P + "GET/orders/*")),
        P + "GET/items",
        ALLOWED,
    ),
    case("deny without allow", deny(P + "GET/orders/*"), P + "GET/orders/1", EXPLICIT),
    case("deny not matching, no allow", deny(P + "GET/orders/*"), P + "GET/items", IMPLICIT),
    case("no matching statement", allow(P + "GET/orders"), P + "POST/orders", IMPLICIT),
    case(
        "other api id",
        allow(P + "*"),
        "arn:aws:execute-api:eu-west-1:123456789012:zzzzzz9999/prod/GET/x",
        IMPLICIT,
    ),
    case(
        "other account",
        allow(P + "*"),
        "arn:aws:execute-api:eu-west-1:999999999999:abcdef1234/prod/GET/x",
        IMPLICIT,
    ),
    case("other stage", allow(P + "*"), API + "dev/GET/x", IMPLICIT),
    # Resource as a string or a list
    case("resource string", allow(P + "GET/x", as_list=False), P + "GET/x", ALLOWED),
    case("resource one-element list", allow(P + "GET/x", as_list=True), P + "GET/x", ALLOWED),
    case("resource list, second matches", allow(P + "GET/y", P + "GET/x"), P + "GET/x", ALLOWED),
    case("resource list, none matches", allow(P + "GET/y", P + "GET/z"), P + "GET/x", IMPLICIT),
    case(
        "deny list, second matches",
        (allow(P + "*"), deny(P + "GET/y", P + "GET/x")),
        P + "GET/x",
        EXPLICIT,
    ),
    # the root resource: .../prod/GET/
    case("root exact", allow(P + "GET/"), P + "GET/", ALLOWED),
    case("root under GET/*", allow(P + "GET/*"), P + "GET/", ALLOWED),
    case("root under GET*", allow(P + "GET*"), P + "GET/", ALLOWED),
    case("root is not GET", allow(P + "GET"), P + "GET/", IMPLICIT),
    case("GET is not root", allow(P + "GET/"), P + "GET", IMPLICIT),
    case("root denied", (allow(P + "*"), deny(P + "GET/")), P + "GET/", EXPLICIT),
    case("root pattern is not a prefix", allow(P + "GET/"), P + "GET/x", IMPLICIT),
    # double and trailing slashes are just characters
    case("double slash is not single", allow(P + "GET/orders"), P + "GET//orders", IMPLICIT),
    case("single slash is not double", allow(P + "GET//orders"), P + "GET/orders", IMPLICIT),
    case("double slash exact", allow(P + "GET//orders"), P + "GET//orders", ALLOWED),
    case(
        "qmark cannot match an empty segment",
        allow(P + "GET/?/orders"),
        P + "GET//orders",
        IMPLICIT,
    ),
    case("trailing slash is a character", allow(P + "GET/orders"), P + "GET/orders/", IMPLICIT),
    case("pattern trailing slash", allow(P + "GET/orders/"), P + "GET/orders", IMPLICIT),
    case("trailing slash under star", allow(P + "GET/orders*"), P + "GET/orders/", ALLOWED),
    # percent-encodings are never decoded, on either side
    case("encoded slash is not a slash", allow(P + "GET/orders/*"), P + "GET/orders%2F1", IMPLICIT),
    case("encoded slash under star", allow(P + "GET/orders*"), P + "GET/orders%2F1", ALLOWED),
    case("pattern encoded slash", allow(P + "GET/a%2Fb"), P + "GET/a/b", IMPLICIT),
    case("pattern encoded slash exact", allow(P + "GET/a%2Fb"), P + "GET/a%2Fb", ALLOWED),
    case("encoding case matters", allow(P + "GET/a%2fb"), P + "GET/a%2Fb", IMPLICIT),
    case("encoded star is no wildcard", allow(P + "GET/%2A"), P + "GET/x", IMPLICIT),
    case("encoded star vs literal star", allow(P + "GET/%2A"), P + "GET/*", IMPLICIT),
    case("encoded utf-8 vs raw", allow(P + "GET/caf%C3%A9"), P + "GET/caf\u00e9", IMPLICIT),
    case("raw utf-8", allow(P + "GET/caf\u00e9"), P + "GET/caf\u00e9", ALLOWED),
    # a literal '*' or '?' in the requested ARN (through the stand-ins) matches only wildcards
    case("literal star vs literal text", allow(P + "GET/orders"), P + "GET/*", IMPLICIT),
    case("literal star vs other char", allow(P + "GET/x"), P + "GET/*", IMPLICIT),
    case("literal star vs star", allow(P + "GET/*"), P + "GET/*", ALLOWED),
    case("literal star vs qmark", allow(P + "GET/?"), P + "GET/*", ALLOWED),
    case("literal star in path vs prefix", allow(P + "GET/orders/1"), P + "GET/orders/*", IMPLICIT),
    case(
        "literal star and deny",
        (allow(P + "*"), deny(P + "GET/orders/1")),
        P + "GET/orders/*",
        ALLOWED,
    ),
    case(
        "literal star caught by deny star",
        (allow(P + "*"), deny(P + "GET/orders/*")),
        P + "GET/orders/*",
        EXPLICIT,
    ),
    case("literal qmark vs literal text", allow(P + "GET/x"), P + "GET/?", IMPLICIT),
    case("literal qmark vs qmark", allow(P + "GET/?"), P + "GET/?", ALLOWED),
    case("literal qmark vs star", allow(P + "GET/*"), P + "GET/a?b", ALLOWED),
    case(
        "literal star in region",
        allow(P + "*"),
        "arn:aws:execute-api:*:123456789012:abcdef1234/prod/GET/x",
        IMPLICIT,
    ),
    # '$' and policy variables
    case("dollar is literal", allow(P + "GET/$x"), P + "GET/$x", ALLOWED),
    case(
        "${$} is a literal dollar",
        allow(P + "GET/${$}x"),
        P + "GET/$x",
        ALLOWED,
        IMPLICIT,
        "devkit reads '${$}' as four literal characters",
    ),
    case("${*} is no wildcard", allow(P + "GET/${*}"), P + "GET/x", IMPLICIT),
    case("${?} is no wildcard", allow(P + "GET/${?}"), P + "GET/x", IMPLICIT),
    case(
        "unknown variable never matches",
        allow(P + "GET/${x}"),
        P + "GET/${x}",
        IMPLICIT,
        ALLOWED,
        "iam-simulate resolves ${x} (absent: never matches); devkit reads text",
    ),
    case(
        "unknown variable in a deny never matches",
        (allow(P + "*"), deny(P + "GET/${x}")),
        P + "GET/${x}",
        ALLOWED,
        EXPLICIT,
        "as above: the Deny does not apply",
    ),
    case(
        "aws:username is not filled from the principal",
        allow(P + "GET/${aws:username}"),
        P + "GET/caller",
        IMPLICIT,
    ),
    case(
        "a variable's default value is used",
        allow(P + "GET/${aws:username, 'd'}"),
        P + "GET/d",
        ALLOWED,
        IMPLICIT,
        "devkit has no policy variables",
    ),
    case("unterminated ${ is literal", allow(P + "GET/${x"), P + "GET/${x", ALLOWED),
]


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_oracle_and_devkit_on_the_table(iam_oracle: IamOracle, c: Case) -> None:
    assert iam_oracle.evaluate(c.document, [c.resource]) == [c.oracle], c.why
    assert devkit(c.document, c.resource) == (c.devkit or c.oracle), c.why


def test_the_table_in_one_batch_per_policy(iam_oracle: IamOracle) -> None:
    """Batching resources on one line changes nothing."""
    doc = document(allow(P + "GET/*", P + "POST/orders"), deny(P + "GET/orders/*/*"))
    arns = [
        P + "GET/",
        P + "GET/orders/1",
        P + "GET/orders/1/a",
        P + "POST/orders",
        P + "POST/orders/1",
        P + "GET/*/*",
        P + "GET/orders/*/x",
    ]
    expected = [ALLOWED, ALLOWED, EXPLICIT, ALLOWED, IMPLICIT, ALLOWED, EXPLICIT]
    assert iam_oracle.evaluate(doc, arns) == expected
    assert [iam_oracle.evaluate(doc, [a])[0] for a in arns] == expected
    assert [devkit(doc, a) for a in arns] == expected


def test_disagreements_are_only_the_documented_ones() -> None:
    differing = {c.name for c in CASES if c.devkit not in (None, c.oracle)}
    assert all(c.why for c in CASES if c.name in differing)
    assert len(differing) == 7


# --------------------------------------------------------------------------- outside the domain


def test_a_star_in_the_request_is_a_wildcard_to_raw_iam_simulate(iam_oracle: IamOracle) -> None:
    """The gap the stand-ins close: unmapped, a requested '*' overlaps any narrower Allow."""
    doc = document(allow(P + "GET/orders/1"))
    assert iam_oracle.evaluate_raw(doc, [P + "GET/orders/*"]) == [ALLOWED]
    assert iam_oracle.evaluate_raw(doc, [P + "GET/*"]) == [ALLOWED]
    assert iam_oracle.evaluate(doc, [P + "GET/orders/*"]) == [IMPLICIT]
    # A Deny narrower than the requested "pattern" does not apply to it.
    denied = document(allow(P + "*"), deny(P + "GET/orders/1"))
    assert iam_oracle.evaluate_raw(denied, [P + "GET/orders/*"]) == [ALLOWED]
    # runSimulation switches to its wildcard mode; the answer is the same here.
    assert iam_oracle.evaluate_raw(doc, [P + "GET/orders/*"], engine="validated") == [ALLOWED]


def test_a_qmark_in_the_request_is_literal_even_raw(iam_oracle: IamOracle) -> None:
    doc = document(allow(P + "GET/x"))
    assert iam_oracle.evaluate_raw(doc, [P + "GET/?"]) == [IMPLICIT]
    assert iam_oracle.evaluate_raw(document(allow(P + "GET/${?}")), [P + "GET/?"]) == [ALLOWED]


def test_stand_ins() -> None:
    assert literal_request(P + "GET/a*b?c") == P + f"GET/a{STAR_STANDIN}b{QUESTION_STANDIN}c"
    assert literal_request(P + "GET/abc") == P + "GET/abc"
    for standin in (STAR_STANDIN, QUESTION_STANDIN):
        assert standin.upper() == standin.lower() == standin
        assert standin.casefold() == standin


def test_the_literal_star_variable_is_refused_with_a_star_request(iam_oracle: IamOracle) -> None:
    """'${*}' is a literal '*' in iam-simulate; the stand-in would hide it from the request's '*'
    (raw: the request's '*' is a wildcard instead). So the wrapper refuses the pair."""
    doc = document(allow(P + "GET/${*}"))
    with pytest.raises(OutsideOracleDomain, match="stand-in mapping would not be exact"):
        iam_oracle.evaluate(doc, [P + "GET/*"])
    with pytest.raises(OutsideOracleDomain):
        iam_oracle.evaluate(document(allow(P + "GET/${?}")), [P + "GET/?"])
    assert iam_oracle.evaluate(doc, [P + "GET/x"]) == [IMPLICIT]  # no '*' requested: fine


@pytest.mark.parametrize(
    ("pattern", "raw", "devkit_answer"),
    [
        # short ARNs are padded with '*' fields
        ("arn:aws:execute-api:*", ALLOWED, ALLOWED),
        ("arn:aws:execute-api:eu-*", ALLOWED, ALLOWED),
        ("arn:aws:execute-api:eu-*1", ALLOWED, IMPLICIT),
        ("arn:aws:execute-api:eu-west-1:123*", ALLOWED, ALLOWED),
        ("arn:aws:execute-api:eu-*:abcdef1234/prod/GET/x", IMPLICIT, ALLOWED),
        ("arn:aws:*:abcdef1234/prod/GET/x", IMPLICIT, ALLOWED),
        ("foo", ALLOWED, IMPLICIT),
        ("GET/*", ALLOWED, IMPLICIT),
        # the leading 'arn' field is never compared
        ("xarn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/GET/x", ALLOWED, IMPLICIT),
        # the first fields are unescaped regular expressions
        ("arn:aws:execute-api:eu.west.1:123456789012:abcdef1234/prod/GET/x", ALLOWED, IMPLICIT),
        # the API id is compared literally
        ("arn:aws:execute-api:eu-west-1:123456789012:*/prod/GET/x", IMPLICIT, ALLOWED),
        ("arn:aws:execute-api:eu-west-1:123456789012:abcdef123?/prod/GET/x", IMPLICIT, ALLOWED),
        ("arn:aws:execute-api:eu-west-1:123456789012:abc*/prod/GET/x", IMPLICIT, ALLOWED),
    ],
)
def test_patterns_outside_the_domain_are_refused(
    iam_oracle: IamOracle, pattern: str, raw: str, devkit_answer: str
) -> None:
    """What raw iam-simulate says on these is pinned, and evaluate() refuses them."""
    doc = document(allow(pattern))
    arn = P + "GET/x"
    assert iam_oracle.evaluate_raw(doc, [arn]) == [raw]
    assert devkit(doc, arn) == devkit_answer
    with pytest.raises(OutsideOracleDomain):
        iam_oracle.evaluate(doc, [arn])


@pytest.mark.parametrize("terminator", ["\n", "\r", "\u2028", "\u2029"])
def test_wildcards_never_match_line_terminators(iam_oracle: IamOracle, terminator: str) -> None:
    """iam-simulate's '*' and '?' are JavaScript's '.' (no dotAll); IAM's presumably are not,
    devkit's are not. Requests with a line terminator are outside the domain."""
    arn = P + f"GET/a{terminator}b"
    for pattern in (P + "GET/*", P + "GET/a?b"):
        assert iam_oracle.evaluate_raw(document(allow(pattern)), [arn]) == [IMPLICIT]
        assert devkit(document(allow(pattern)), arn) == ALLOWED
    assert iam_oracle.evaluate_raw(document(allow(arn)), [arn]) == [ALLOWED]
    with pytest.raises(OutsideOracleDomain, match="line terminator"):
        iam_oracle.evaluate(document(allow(P + "GET/*")), [arn])


def test_a_qmark_matches_one_utf16_code_unit(iam_oracle: IamOracle) -> None:
    """Beyond U+FFFF a character is two code units to iam-simulate's '?' and one to devkit's."""
    arn = P + "GET/a\U0001f600b"
    assert iam_oracle.evaluate_raw(document(allow(P + "GET/a?b")), [arn]) == [IMPLICIT]
    assert iam_oracle.evaluate_raw(document(allow(P + "GET/a??b")), [arn]) == [ALLOWED]
    assert devkit(document(allow(P + "GET/a?b")), arn) == ALLOWED
    assert devkit(document(allow(P + "GET/a??b")), arn) == IMPLICIT
    with pytest.raises(OutsideOracleDomain, match="UTF-16"):
        iam_oracle.evaluate(document(allow(P + "GET/a?b")), [arn])
    # Without a '?' in the policy the answer is exact: '*' and literals are not affected.
    assert iam_oracle.evaluate(document(allow(P + "GET/a*")), [arn]) == [ALLOWED]
    assert iam_oracle.evaluate(document(allow(arn)), [arn]) == [ALLOWED]
    assert iam_oracle.evaluate(document(allow(P + "GET/a\U0001f601b")), [arn]) == [IMPLICIT]


def test_regex_syntax_in_the_first_fields_breaks_iam_simulate(iam_oracle: IamOracle) -> None:
    doc = document(allow("arn:aws:execute-api:eu-west-(:123456789012:abcdef1234/prod/GET/x"))
    with pytest.raises(IamOracleError, match="Invalid regular expression"):
        iam_oracle.evaluate_raw(doc, [P + "GET/x"])
    with pytest.raises(OutsideOracleDomain):
        iam_oracle.evaluate(doc, [P + "GET/x"])


def test_requests_outside_the_domain_are_refused(iam_oracle: IamOracle) -> None:
    doc = document(allow(P + "*"))
    for bad in ("GET/x", "arn:aws:execute-api:eu-west-1", P + "GET/" + STAR_STANDIN):
        with pytest.raises(OutsideOracleDomain):
            iam_oracle.evaluate(doc, [bad])
    with pytest.raises(OutsideOracleDomain, match="stand-in"):
        iam_oracle.evaluate(document(allow(P + "GET/" + QUESTION_STANDIN)), [P + "GET/x"])
    with pytest.raises(TypeError):
        iam_oracle.evaluate(doc, P + "GET/x")


# --------------------------------------------------------------------------- the engine


def test_invalid_policies_are_errors(iam_oracle: IamOracle) -> None:
    """API Gateway rejects these answers (500); so does the oracle, through runSimulation's
    validation. Keys are case-sensitive, values of Effect too; Action values are not."""
    lower_key = {
        "Version": "2012-10-17",
        "Statement": [{"action": "execute-api:Invoke", "Effect": "Allow", "Resource": P + "*"}],
    }
    lower_effect = document(statement("allow", P + "*"))
    for bad in (lower_key, lower_effect, document(allow(""))):
        with pytest.raises(IamOracleError, match="refused"):
            iam_oracle.evaluate(bad, [P + "GET/x"])
    lower_action = document(
        {"Action": "execute-api:invoke", "Effect": "Allow", "Resource": P + "*"}
    )
    assert iam_oracle.evaluate(lower_action, [P + "GET/x"]) == [ALLOWED]
    single = {"Version": "2012-10-17", "Statement": allow(P + "*")}
    assert iam_oracle.evaluate(single, [P + "GET/x"]) == [ALLOWED]
    assert iam_oracle.evaluate(document(), [P + "GET/x"]) == [IMPLICIT]
    assert iam_oracle.evaluate(document(allow(P + "*")), []) == []


def test_other_actions(iam_oracle: IamOracle) -> None:
    doc = document(
        {"Action": "execute-api:ManageConnections", "Effect": "Allow", "Resource": P + "*"}
    )
    assert iam_oracle.evaluate(doc, [P + "GET/x"]) == [IMPLICIT]
    wildcard = document({"Action": "execute-api:*", "Effect": "Allow", "Resource": P + "*"})
    assert iam_oracle.evaluate(wildcard, [P + "GET/x"]) == [ALLOWED]


def test_run_simulation_refuses_the_root_arn(iam_oracle: IamOracle) -> None:
    """Why the oracle evaluates with runUnsafeSimulation: iam-data's execute-api-general type
    needs a non-empty path, so runSimulation cannot answer for GET /."""
    doc = document(allow(P + "GET/*"))
    assert iam_oracle.evaluate_raw(doc, [P + "GET/"], engine="validated") == [
        "Error:no.resource.types"
    ]
    assert iam_oracle.evaluate_raw(doc, [P + "GET/"]) == [ALLOWED]


def test_both_entry_points_agree_on_concrete_arns(iam_oracle: IamOracle) -> None:
    concrete = [
        c
        for c in CASES
        if not c.resource.endswith("/GET/")
        and "*" not in c.resource
        and not c.resource.endswith("/GET")
    ]
    assert len(concrete) > 50
    for c in concrete:
        unsafe = iam_oracle.evaluate_raw(c.document, [c.resource])
        validated = iam_oracle.evaluate_raw(c.document, [c.resource], engine="validated")
        assert unsafe == validated == [c.oracle], c.name


def test_the_installed_version_is_the_pinned_one(iam_oracle: IamOracle) -> None:
    manifest = json.loads((REPO_ROOT / "package.json").read_text(encoding="utf-8"))
    pinned = manifest["devDependencies"]
    assert pinned["@cloud-copilot/iam-simulate"] == iam_oracle.version
    assert all(version[:1].isdigit() for version in pinned.values()), pinned  # exact versions
    lock = json.loads((REPO_ROOT / "package-lock.json").read_text(encoding="utf-8"))
    entry = lock["packages"]["node_modules/@cloud-copilot/iam-simulate"]
    assert entry["version"] == iam_oracle.version == "0.1.173"


def test_a_second_oracle_process_and_close() -> None:
    with IamOracle() as oracle:
        assert oracle.evaluate(document(allow(P + "*")), [P + "GET/x"]) == [ALLOWED]
    with pytest.raises(IamOracleError):
        oracle.evaluate(document(allow(P + "*")), [P + "GET/x"])


def test_throughput(iam_oracle: IamOracle) -> None:
    """Batched and warm, the oracle answers thousands of requests per second (about 5 000 to
    7 000 on two idle cores, 1 000 on two busy ones); the floor only catches a collapse. The
    figure is printed in the security suite's summary."""
    doc = document(
        allow(P + "GET/orders", P + "GET/orders/*", P + "POST/orders", P + "*/health"),
        deny(P + "GET/orders/*/*", P + "DELETE/*"),
    )
    arns = [P + ("GET", "POST", "DELETE")[i % 3] + f"/orders/{i}" for i in range(200)]
    started = time.perf_counter()
    while time.perf_counter() - started < 0.5:  # warm up V8's JIT
        iam_oracle.evaluate(doc, arns)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < 1.5:
        iam_oracle.evaluate(doc, arns)
        count += len(arns)
    seconds = time.perf_counter() - started
    record_examples("iam oracle throughput (evaluations)", count, seconds)
    assert count / seconds > 200, f"{count / seconds:.0f} evaluations/s"


# --------------------------------------------------------------------------- the property

ALPHABET: Final = "ab/*?"
LITERALS: Final = "ab/"
globs: Final = st.text(alphabet=ALPHABET, max_size=8)
concrete_text: Final = st.text(alphabet=ALPHABET, max_size=10)


def _budget(ci_examples: int) -> settings:
    factor = LONG_FACTOR if PROFILE_NAME == "long" else 1
    return settings(PROFILE, max_examples=ci_examples * factor)


@st.composite
def instance_of(draw: st.DrawFn, glob: str) -> str:
    """A concrete text the glob matches (its wildcards filled in), maybe perturbed."""
    out: list[str] = []
    for ch in glob:
        if ch == "*":
            out.append(draw(st.text(alphabet=ALPHABET, max_size=3)))
        elif ch == "?":
            out.append(draw(st.sampled_from(ALPHABET)))
        else:
            out.append(ch)
    text = "".join(out)
    if text and draw(st.booleans()):
        index = draw(st.integers(0, len(text) - 1))
        text = text[:index] + draw(st.sampled_from(["", *LITERALS, "*"])) + text[index + 1 :]
    return text


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], list[str], list[str], list[str]]:
    allows = draw(st.lists(globs, min_size=0, max_size=3))
    denies = draw(st.lists(globs, min_size=0, max_size=2))
    statements = []
    if allows:
        statements.append(
            allow(
                *(API + g for g in allows),
                as_list=draw(st.booleans()) if len(allows) == 1 else True,
            )
        )
    if denies:
        statements.append(deny(*(API + g for g in denies)))
    patterns = allows + denies
    sources = [concrete_text] + [instance_of(g) for g in patterns]
    resources = draw(st.lists(st.one_of(sources), min_size=1, max_size=6))
    return document(*statements), [API + r for r in resources], allows, denies


OUTCOMES: Final[Counter[str]] = Counter()


@pytest.mark.fuzz
def test_iam_simulate_devkit_and_the_authorizer_agree_on_random_globs(
    iam_oracle: IamOracle,
) -> None:
    """Random globs over {a, b, /, *, ?} after '...:abcdef1234/', random concrete resources over
    the same alphabet ('*' and '?' literal in them) and instances of the globs."""
    started, before = time.perf_counter(), sum(OUTCOMES.values())

    @_budget(1000)
    @given(scenarios())
    def agree(scenario: tuple[dict[str, Any], list[str], list[str], list[str]]) -> None:
        doc, arns, allows, denies = scenario
        oracle = iam_oracle.evaluate(doc, arns)
        ours = [devkit(doc, arn) for arn in arns]
        assert oracle == ours, list(zip(arns, oracle, ours, strict=True))
        statements = []
        if allows:
            statements.append(authorizer_policy.Statement("Allow", tuple(API + g for g in allows)))
        if denies:
            statements.append(authorizer_policy.Statement("Deny", tuple(API + g for g in denies)))
        for arn, answer in zip(arns, oracle, strict=True):
            assert authorizer_policy.evaluate(statements, arn) == (answer == ALLOWED), arn
            assert authorizer_policy.explicitly_denied(statements, arn) == (answer == EXPLICIT)
            OUTCOMES[answer] += 1

    try:
        agree()
    finally:
        record_examples(
            "iam oracle vs devkit and policy.py (resources)",
            sum(OUTCOMES.values()) - before,
            time.perf_counter() - started,
        )
    # The generator must reach every outcome, or the property proves little.
    assert all(OUTCOMES[o] > 50 for o in (ALLOWED, EXPLICIT, IMPLICIT)), OUTCOMES
