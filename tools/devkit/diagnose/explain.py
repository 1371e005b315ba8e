"""``explain``: why the function accepts or rejects a token, stage by stage.

The stages are the function's own, called in the validator's order (``event.read_event`` and
``require_token``, ``tokens.decompose_unverified``, ``issuers.IssuerSet.select``,
``validator.admit``, ``signature.verify_signature`` over the key cache, ``claims.check_claims``,
``principal.principal_of``), and every verdict printed is one a stage returned or raised, with
the values it compared (``errors.facts``). When the signature could be checked, the function's
``TokenValidator`` validates the token again and must agree. With ``--route`` the function's
handler (``handler.Authorizer``) answers the request on each API type, so the answer, its
status and its log line are the function's.

Without ``--fetch`` nothing is fetched: inline keys verify the signature, remote keys do not,
and the report says so and judges the rest. The last line is the verdict and nothing follows:
``verdict: accept``, ``verdict: reject <reason_code>`` or ``verdict: forbidden <reason_code>``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from devkit.diagnose import hints, keysets
from devkit.diagnose.report import Report, age, shown, when
from devkit.diagnose.request import Answer, RouteRequest, answers, read_credential
from jwt_authorizer.claims import check_claims, first_string
from jwt_authorizer.config import Config
from jwt_authorizer.errors import AuthorizerError, KeysUnavailable, TokenRejected, UnknownIssuer
from jwt_authorizer.handler import Authorizer
from jwt_authorizer.issuers import IssuerConfig, IssuerSet
from jwt_authorizer.observe import Observer, token_hash
from jwt_authorizer.principal import Principal, permissions, principal_of
from jwt_authorizer.routes import RouteRule, RouteTable, decide
from jwt_authorizer.signature import KeySources, Verified, verify_signature
from jwt_authorizer.tokens import UnverifiedJwt, decompose_unverified
from jwt_authorizer.validator import TokenValidator, admit

__all__ = ["DecidedValidator", "RecordingObserver", "Verdict", "explain"]

_TIME_CLAIMS: Final = ("exp", "nbf", "iat")
_CLIENT_CLAIMS: Final = ("azp", "appid", "client_id", "cid")


@dataclass(frozen=True)
class Verdict:
    """What the function decides: ``accept``, ``reject <reason>`` or ``forbidden <reason>``."""

    kind: Literal["accept", "reject", "forbidden"]
    reason: str = ""

    @property
    def line(self) -> str:
        return f"verdict: {self.kind}" + (f" {self.reason}" if self.reason else "")

    @property
    def status(self) -> int:
        return 0 if self.kind == "accept" else 1


class DecidedValidator(TokenValidator):
    """The handler's validator, answering with the outcome the stages reached (so the handler
    decides the route and builds the answer even when the signature could not be checked)."""

    def __init__(self, outcome: Principal | AuthorizerError) -> None:  # no key registry needed
        self._outcome = outcome

    def validate(self, token: str, *, deadline: float | None = None) -> Principal:
        if isinstance(self._outcome, Principal):
            return self._outcome
        raise self._outcome


class RecordingObserver(Observer):
    """The handler's observer, keeping what it would log instead of printing it."""

    def __init__(self) -> None:  # no Powertools: nothing is printed
        self.lines: list[dict[str, Any]] = []
        self.metrics: list[str] = []
        self.debug = True  # the handler logs allowed requests only at DEBUG: show them

    def count(self, name: str, value: float = 1) -> None:
        self.metrics.append(name)

    def latency(self, milliseconds: float) -> None:
        return None

    def flush(self) -> None:
        return None

    def take(self) -> list[dict[str, Any]]:
        """What was logged since the last call."""
        taken, self.lines = self.lines, []
        return taken

    def denied(self, *, level: int, reason: str, **fields: Any) -> None:
        name = "ERROR" if level >= logging.ERROR else "INFO"
        self.lines.append({"level": name, "message": "request denied", "reason": reason, **fields})

    def allowed(self, **fields: Any) -> None:
        self.lines.append({"level": "DEBUG", "message": "request allowed", **fields})

    def warning(self, message: str, **fields: Any) -> None:
        self.lines.append({"level": "WARNING", "message": message, **fields})

    def key_fetch(self, source: str, *, ok: bool, trigger: str, detail: str) -> None:
        return None

    def stale_keys(self, source: str, *, age_seconds: float) -> None:
        return None

    def key_set_empty(self, source: str, *, skipped: Mapping[str, int]) -> None:
        return None


@dataclass
class _State:
    """How far the token got."""

    jwt: UnverifiedJwt | None = None
    entry: IssuerConfig | None = None
    index: int = 0
    tenant: str | None = None
    signature_checked: bool = False
    principal: Principal | None = None
    error: AuthorizerError | None = None


def explain(
    credential: str,
    config: Config,
    *,
    fetch: bool = False,
    at: float | None = None,
    route: RouteRequest | None = None,
    http_route_key: str | None = None,
) -> tuple[Report, Verdict]:
    """The report and the verdict for ``credential`` (a token, or an ``Authorization`` value)."""
    now = time.time() if at is None else at
    report = Report()
    registry, fetcher, events = keysets.registry(config.keys, fetch=fetch)
    sources = KeySources(config.issuers, registry)
    report.add("clock", f"{when(now)} ({int(now)}){' from --at' if at is not None else ''}")
    state = _State()
    token = _credential(report, credential, config, route, state)
    if token is not None:
        _token(report, token, config, state)
    if state.jwt is not None and state.error is None:
        _issuer(report, state.jwt, config, state)
    if state.entry is not None and state.error is None:
        assert state.jwt is not None
        _keys(report, state, sources, fetcher, events, fetch=fetch, now=now)
    if state.entry is not None and state.error is None:
        _claims(report, state, now)
    if state.principal is not None and state.entry is not None:
        _permissions(report, state.principal, state.entry, config)
    if token is not None and state.signature_checked:
        _cross_check(report, token, config, registry, state, now)
    verdict = _verdict(state)
    if route is not None:
        outcome: Principal | AuthorizerError | None = state.principal or state.error
        if outcome is not None and not isinstance(outcome, KeysUnavailable):
            recorder = RecordingObserver()
            authorizer = Authorizer(config, DecidedValidator(outcome), recorder)
            verdict = _route(
                report, authorizer, recorder, route, credential, config, http_route_key, state
            )
    if state.principal is not None and not state.signature_checked:
        report.add(
            "note",
            "the signature was not checked (see keys): this verdict holds if it verifies",
        )
    return report, verdict


def _credential(
    report: Report,
    credential: str,
    config: Config,
    route: RouteRequest | None,
    state: _State,
) -> str | None:
    """The event stage: where the token is, as ``read_event`` and ``require_token`` find it."""
    try:
        token, authorization = read_credential(credential, config, route)
    except TokenRejected as err:
        _fail(report, "credential", err)
        state.error = err
        return None
    if authorization != token:
        report.add("credential", f"Authorization: {authorization.split()[0]} <token>")
    return token


def _token(report: Report, token: str, config: Config, state: _State) -> None:
    """The parse stage, and what the token says (never the token itself)."""
    report.add(
        "token",
        f"{len(token)} characters, token_hash {token_hash(token)} (the token is never printed)",
    )
    try:
        jwt = decompose_unverified(token, max_bytes=config.max_token_bytes)
    except TokenRejected as err:
        _fail(report, "parse", err)
        hint = hints.shape_hint(err.detail, token)
        if hint:
            report.more(f"hint: {hint}")
        state.error = err
        return
    state.jwt = jwt
    header = jwt.header
    report.add(
        "header",
        "  ".join(
            f"{name} {shown(header[name])}" for name in ("alg", "kid", "typ") if name in header
        )
        or "(no alg, kid, typ)",
    )
    others = sorted(set(header) - {"alg", "kid", "typ"})
    if others:
        report.more("also: " + ", ".join(others))
    payload = jwt.payload
    report.add("iss", shown(payload.get("iss")))
    report.add("aud", shown(payload.get("aud")))
    for name in ("sub", *_CLIENT_CLAIMS, "tid", "ver", "token_use"):
        if name in payload:
            report.add(name, shown(payload[name]))


def _issuer(report: Report, jwt: UnverifiedJwt, config: Config, state: _State) -> None:
    """The issuer stage: an exact match, or the nearest configured issuer and why it differs."""
    issuers = IssuerSet(config.issuers)
    try:
        entry, tenant = issuers.select(jwt)
    except TokenRejected as err:
        err.about(issuer=jwt.issuer, kid=jwt.kid)
        _fail(report, "issuer", err)
        if isinstance(err, UnknownIssuer) and jwt.issuer is not None:
            configured = ", ".join(shown(entry.issuer) for entry in config.issuers)
            report.more(f"configured: {configured}")
            closest = err.facts.get("closest_issuer")
            report.more(
                "hint: "
                + hints.issuer_hint(jwt.issuer, closest if isinstance(closest, str) else None)
            )
        state.error = err
        return
    index = config.issuers.index(entry)
    where = f" for tenant {tenant}" if tenant else ""
    report.add(
        "issuer", f"ok: issuers[{index}] ({entry.profile.name}){where} is exactly the token's iss"
    )
    state.entry, state.tenant, state.index = entry, tenant, index
    try:
        admit(jwt, entry)
    except TokenRejected as err:
        err.about(issuer=jwt.issuer, kid=jwt.kid)
        _fail(report, "algorithm", err)
        state.error = err
        return
    report.add("algorithm", f"ok: {jwt.alg} is in algorithms {shown(entry.algorithms)}")


def _keys(
    report: Report,
    state: _State,
    sources: KeySources,
    fetcher: keysets.RecordingFetcher,
    events: keysets.RecordingEvents,
    *,
    fetch: bool,
    now: float,
) -> None:
    """The key and signature stages, over the function's key cache."""
    jwt, entry = state.jwt, state.entry
    assert jwt is not None
    assert entry is not None
    own = sources.of(entry, state.tenant)
    for source in own:
        report.add("keys from", keysets.describe_spec(source.spec))
    try:
        verified: Verified = verify_signature(
            jwt, entry, own, now=lambda: now, deadline=None, seen=None
        )
    except KeysUnavailable as err:
        _fetch_log(report, fetcher)
        if not fetch:
            report.add("signature", "not checked: the keys are not fetched without --fetch")
            return
        err.about(issuer=jwt.issuer, kid=jwt.kid)
        _fail(report, "keys", err)
        for _source, ok, _trigger, detail in events.fetches:
            if not ok:
                item = fetcher.fetched[-1] if fetcher.fetched else None
                fix = keysets.remedy(
                    detail,
                    tls_reason=item.tls_reason if item else None,
                    entry_name=f"issuers[{state.index}]",
                )
                if fix:
                    report.more(f"fix: {fix}")
                break
        state.error = err
        return
    except TokenRejected as err:
        _fetch_log(report, fetcher)
        err.about(issuer=jwt.issuer, kid=jwt.kid)
        _fail(report, "key", err)
        if err.reason == "unknown_kid":
            known = err.facts.get("known_kids")
            report.more(
                "hint: "
                + hints.kid_hint(
                    jwt.kid,
                    "x5t" in jwt.header or "x5t#S256" in jwt.header,
                    [str(k) for k in known] if isinstance(known, list) else [],
                    entry.profile.name,
                )
            )
        state.error = err
        return
    _fetch_log(report, fetcher)
    kid = shown(verified.key.kid) if verified.key.kid is not None else "(by x5t)"
    report.add("key", f"ok: kid {kid} ({verified.key.kty}) in {verified.snapshot.describe()}")
    report.add("signature", f"ok: verifies with that key ({jwt.alg})")
    state.signature_checked = True


def _fetch_log(report: Report, fetcher: keysets.RecordingFetcher) -> None:
    """What was fetched: discovery (its issuer and jwks_uri), key sets (their kids)."""
    for item in fetcher.fetched:
        if item.error == keysets.NOT_FETCHED:
            continue
        if item.error is not None:
            why = f" ({item.tls_reason})" if item.tls_reason else ""
            report.add("fetched", f"{item.url}: failed: {item.error}{why}")
            continue
        document = item.document
        if isinstance(document, dict) and "keys" in document:
            kids = [key.get("kid") for key in document["keys"] if isinstance(key, dict)]
            report.add("fetched", f"{item.url}: {len(kids)} keys, kids {shown(kids)}")
        elif isinstance(document, dict):
            report.add(
                "fetched",
                f"{item.url}: issuer {shown(document.get('issuer'))}, "
                f"jwks_uri {shown(document.get('jwks_uri'))}",
            )


def _claims(report: Report, state: _State, now: float) -> None:
    """The claims stage: the values it compares, then its verdict."""
    jwt, entry = state.jwt, state.entry
    assert jwt is not None
    assert entry is not None
    payload = jwt.payload
    report.add("time", f"clock {when(now)}, leeway {entry.leeway_seconds} s")
    for name in _TIME_CLAIMS:
        value = payload.get(name)
        if isinstance(value, int | float):
            relation = "in " + age(value - now) if value > now else age(now - value) + " ago"
            report.more(f"{name} {int(value)} ({when(value)}): {relation}")
        elif name == "exp":
            report.more("exp (absent): required")
    if entry.max_token_age_seconds is not None:
        report.more(f"max_token_age_seconds {entry.max_token_age_seconds}")
    profile = entry.profile
    if profile.token_use is not None:
        report.add(
            "token use",
            f"token_use {shown(payload.get('token_use'))}, must be {profile.token_use!r}",
        )
    if entry.token_types is not None:
        report.add(
            "token type",
            f"typ {shown(jwt.header.get('typ'))}, token_types {shown(entry.token_types)}",
        )
    report.add(
        "audience",
        f"{profile.audience_claim} {shown(payload.get(profile.audience_claim))}, "
        f"audiences {shown(entry.audiences)}",
    )
    if profile.microsoft:
        expected = state.tenant or entry.tenant_id
        report.add("tenant", f"tid {shown(payload.get('tid'))}, expected {shown(expected)}")
    client = first_string(payload, entry.client_id_claims)
    allowed = shown(entry.allowed_client_ids) if entry.allowed_client_ids is not None else "any"
    report.add(
        "client",
        f"{shown(client)} (first of {', '.join(entry.client_id_claims)}), "
        f"allowed_client_ids {allowed}",
    )
    for name, accepted in entry.required_claims:
        report.add("required", f"{name} {shown(payload.get(name))}, accepted {shown(accepted)}")
    try:
        check_claims(payload, jwt.header, entry, now=now, tenant=state.tenant)
    except TokenRejected as err:
        err.about(issuer=jwt.issuer, kid=jwt.kid)
        _fail(report, "claims", err)
        if err.reason == "wrong_audience":
            hint = hints.audience_hint(
                payload.get("aud"), sorted(entry.audiences), entry.profile.name
            )
            if hint:
                report.more(f"hint: {hint}")
        state.error = err
        return
    report.add("claims", "ok")
    state.principal = principal_of(payload, entry, tenant=state.tenant)


def _permissions(report: Report, principal: Principal, entry: IssuerConfig, config: Config) -> None:
    """The permissions per scope claim, and each route rule's verdict for them."""
    claims = principal.claims
    for index, claim in enumerate(entry.scope_claims):
        found = sorted(permissions(claims, (claim,)))
        text = " ".join(found) if found else "(none)" if claim in claims else "(absent)"
        report.add("permissions" if index == 0 else "", f"{claim}: {text}")
    rules = [rule for rule in config.routes if rule.applies_to(entry.issuer)]
    unmatched_allows = config.unmatched == "authenticated"
    held = principal.permissions
    for index, rule in enumerate(rules):
        report.add("rules" if index == 0 else "", _rule_line(rule, held, unmatched_allows))
    fallback = "any valid token" if unmatched_allows else "denied (route_not_permitted)"
    label = "rules" if not rules else ""
    report.add(label, f"{'other routes':<24} {fallback} (unmatched: {config.unmatched})")


def _rule_line(rule: RouteRule, held: frozenset[str], unmatched_allows: bool) -> str:
    needs = []
    if rule.scopes:
        needs.append("any of " + " ".join(sorted(rule.scopes)))
    if rule.all_scopes:
        needs.append("all of " + " ".join(sorted(rule.all_scopes)))
    decision = decide(rule, held, unmatched_allows)
    verdict = (
        "satisfied"
        if decision.allowed
        else "not satisfied, lacks " + " ".join(sorted(decision.missing - held))
    )
    return f"{rule.route_key:<24} {', '.join(needs) or 'any valid token'}: {verdict}"


def _cross_check(
    report: Report, token: str, config: Config, registry: Any, state: _State, now: float
) -> None:
    """The function's validator on the same token, keys and clock: it must agree."""
    validator = TokenValidator(
        config.issuers,
        registry,
        max_token_bytes=config.max_token_bytes,
        verified_token_cache_size=0,
        wall_clock=lambda: now,
    )
    try:
        validator.validate(token)
        theirs = "accept"
    except AuthorizerError as err:
        theirs = err.reason
    ours = state.error.reason if state.error is not None else "accept"
    if theirs != ours:
        report.add("validator", f"the function's TokenValidator says {theirs}: please report")


def _verdict(state: _State) -> Verdict:
    if state.error is not None:
        return Verdict("reject", state.error.reason)
    return Verdict("accept")


def _route(
    report: Report,
    authorizer: Authorizer,
    recorder: RecordingObserver,
    route: RouteRequest,
    credential: str,
    config: Config,
    http_route_key: str | None,
    state: _State,
) -> Verdict:
    """The handler's answer to the request on each API type; the REST one decides."""
    if state.principal is not None and state.entry is not None:
        rules = [rule for rule in config.routes if rule.applies_to(state.entry.issuer)]
        table = RouteTable(rules, unmatched_allows=config.unmatched == "authenticated")
        decision = table.decide(route.method, route.path, state.principal.permissions)
        governed = (
            decision.rule.route_key if decision.rule else f"no rule (unmatched: {config.unmatched})"
        )
        report.add(
            "route", f"{route.method} {route.path}: governed by {governed}: {decision.reason}"
        )
    results = answers(authorizer, recorder.take, route, credential, config, http_route_key)
    rest: Answer | None = None
    for answer in results:
        report.add("answer" if answer is results[0] else "", answer.summary)
        rest = rest or (answer if answer.api == "REST" else None)
    for answer in results:
        for line in answer.log_lines:
            report.add("log line", line)
    if state.error is not None:
        return Verdict("reject", state.error.reason)
    assert rest is not None
    return Verdict("accept") if rest.allowed else Verdict("forbidden", rest.reason)


def _fail(report: Report, label: str, err: AuthorizerError) -> None:
    """A stage's rejection: the reason code, its detail and the values it compared."""
    detail = f" ({err.detail})" if err.detail else ""
    report.add(label, f"{err.reason}: {err.message}{detail}")
    if err.facts:
        report.more("compared: " + ", ".join(f"{k} {shown(v)}" for k, v in err.facts.items()))
