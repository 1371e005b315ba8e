"""``check``: a configuration before it is deployed, as the function would load and use it.

The configuration is loaded by the function's loader from the environment the template would
deploy (:mod:`.source`); with ``--fetch`` every key set is fetched through the function's key
cache and transport, as its init prefetch does (:mod:`.keysets`), so a discovery document that
names another issuer, a certificate nobody trusts or a set without a usable key shows now, not
as ``keys_unavailable`` after the deployment. It then warns about configurations that work but
surprise: rules that cannot always be one cache-safe policy (``policy.find_conflicts``, what the
function logs at init) while the template caches answers, HTTP simple responses cached without
the route key, ``unmatched: authenticated`` next to rules, rules that are not routes of the
template's APIs and API routes no rule governs. ``--scopes`` previews, per route, the answer
the function's handler gives a caller holding those permissions.

The last line is ``config: ok`` (``config: ok, N warnings``) or ``config: error <field>:
<message>``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from devkit.diagnose import keysets
from devkit.diagnose.explain import DecidedValidator, RecordingObserver
from devkit.diagnose.report import Report, shown
from devkit.diagnose.request import RouteRequest, answers
from devkit.diagnose.source import AUTHORIZER, Deployment, describe_environment
from devkit.template import TemplateError, TemplateModel, load_template
from jwt_authorizer.config import Config
from jwt_authorizer.handler import Authorizer
from jwt_authorizer.issuers import IssuerConfig
from jwt_authorizer.keys import KeySource, SourceSpec
from jwt_authorizer.policy import PolicyBuilder, find_conflicts
from jwt_authorizer.principal import Principal
from jwt_authorizer.routes import RouteRule, RouteTable, route_shape
from jwt_authorizer.signature import KeySources

__all__ = ["Finding", "check"]


@dataclass
class Finding:
    """What ``check`` concludes: warnings, and the first error (field and message)."""

    warnings: list[str] = field(default_factory=list)
    error: tuple[str, str] | None = None

    @property
    def line(self) -> str:
        if self.error is not None:
            return f"config: error {self.error[0]}: {self.error[1]}"
        count = len(self.warnings)
        return "config: ok" + (f", {count} warning{'s' if count != 1 else ''}" if count else "")

    @property
    def status(self) -> int:
        return 1 if self.error is not None else 0


def check(
    deployed: Deployment,
    config: Config,
    *,
    fetch: bool = False,
    scopes: frozenset[str] | None = None,
) -> tuple[Report, Finding]:
    """The report and the conclusion for one deployment whose configuration loaded."""
    report = Report()
    finding = Finding()
    report.add("environment", *describe_environment(deployed))
    registry, fetcher, events = keysets.registry(config.keys, fetch=fetch)
    KeySources(config.issuers, registry)  # declares every key set, as the function does
    done: set[SourceSpec] = set()
    for index, entry in enumerate(config.issuers):
        _issuer(report, finding, index, entry)
        for tenant, spec in keysets.specs_of(entry):
            where = f" (tenant {tenant})" if tenant else ""
            report.more(f"keys{where}: {keysets.describe_spec(spec)}")
            if spec in done:
                continue
            done.add(spec)
            source = registry.source(spec)
            if spec.inline_id is not None:
                report.more(f"  {keysets.describe_keys(source.snapshot)}")
            elif fetch:
                source.start_prefetch()
                source.finish_prefetch()
                _fetched(report, finding, index, entry, spec, source, fetcher, events)
    if not fetch and any(spec.inline_id is None for spec in done):
        report.more("(key sets not fetched: run with --fetch to fetch them as the function does)")
    model = _model(deployed, report)
    _routes(report, finding, config, model)
    if scopes is not None:
        _preview(report, config, model, scopes)
    for warning in finding.warnings:
        report.add("warning", warning)
    return report, finding


def _issuer(report: Report, finding: Finding, index: int, entry: IssuerConfig) -> None:
    report.add(f"issuers[{index}]", f"{shown(entry.issuer)} ({entry.profile.name})")
    report.more(
        f"audiences {shown(entry.audiences)}, algorithms {shown(entry.algorithms)}, "
        f"leeway {entry.leeway_seconds} s"
    )
    if entry.ca_bundle:
        report.more(f"ca_bundle {entry.ca_bundle}")


def _fetched(
    report: Report,
    finding: Finding,
    index: int,
    entry: IssuerConfig,
    spec: SourceSpec,
    source: KeySource,
    fetcher: keysets.RecordingFetcher,
    events: keysets.RecordingEvents,
) -> None:
    """What the prefetch of one key set found: the documents, or why it failed."""
    name = f"issuers[{index}]"
    if spec.discovery_url:
        item = fetcher.get(spec.discovery_url)
        if item is not None and isinstance(item.document, dict):
            found = item.document.get("issuer")
            same = found == entry.issuer
            note = "" if same else f" (tokens carry {shown(entry.issuer)})"
            report.more(
                f"  discovery: issuer {shown(found)}{note}, "
                f"jwks_uri {shown(item.document.get('jwks_uri'))}"
            )
    failures = [detail for src, ok, _t, detail in events.fetches if src == spec.name and not ok]
    if source.snapshot is None:
        detail = failures[-1] if failures else "no keys"
        item = fetcher.fetched[-1] if fetcher.fetched else None
        fix = keysets.remedy(detail, tls_reason=item.tls_reason if item else None, entry_name=name)
        why = f" ({item.tls_reason})" if item is not None and item.tls_reason else ""
        report.more(f"  failed: {detail}{why}")
        field_name = (
            f"{name}.discovery_url"
            if spec.discovery_url and entry.discovery_urls
            else f"{name}.jwks_uri"
            if spec.jwks_uri
            else f"{name}.issuer"
        )
        _error(finding, field_name, detail + (f"; {fix}" if fix else ""))
        return
    report.more(f"  key set: {keysets.describe_keys(source.snapshot)}")
    if not source.snapshot.keys:
        _error(
            finding,
            f"{name}.algorithms",
            f"the key set holds no key usable with {sorted(entry.algorithms)} "
            f"({source.snapshot.describe()}): every token would get no_usable_keys",
        )


def _error(finding: Finding, name: str, message: str) -> None:
    if finding.error is None:
        finding.error = (name, message)


def _model(deployed: Deployment, report: Report) -> TemplateModel | None:
    try:
        return load_template(deployed.template, parameter_overrides=dict(deployed.parameters))
    except (TemplateError, OSError) as err:
        report.add("apis", f"(template not read: {err})")
        return None


def _routes(report: Report, finding: Finding, config: Config, model: TemplateModel | None) -> None:
    """The rules, the template's APIs, and what does not fit between them."""
    report.add(
        "routes",
        f"{len(config.routes)} rules, unmatched {config.unmatched}, response_mode "
        f"{config.response_mode}, simple_cache_key {config.simple_cache_key}",
    )
    if config.routes and config.unmatched == "authenticated":
        finding.warnings.append(
            "unmatched is 'authenticated' next to route rules: every route the rules do not "
            "list is open to any valid token (the default with rules is 'deny')"
        )
    ttls = _apis(report, finding, config, model)
    for builder in _builders(config):
        conflicts = find_conflicts(builder)
        if conflicts and max(ttls, default=0) > 0:
            for conflict in conflicts[:5]:
                finding.warnings.append(
                    f"lockout: {conflict.route} (e.g. {conflict.example}) gets 403 from cached "
                    f"answers of callers holding {list(conflict.permissions)} (blocked by "
                    f"{', '.join(conflict.blocked_by)}) while the authorizer TTL "
                    f"({max(ttls)} s) runs; set the TTL to 0, cache per request, or change the "
                    "rules (README, Route rules)"
                )
            if len(conflicts) > 5:
                finding.warnings.append(f"... and {len(conflicts) - 5} more lockouts")


def _builders(config: Config) -> Iterable[PolicyBuilder]:
    """One policy builder per distinct rule set, as the handler builds them."""
    seen: dict[tuple[RouteRule, ...], PolicyBuilder] = {}
    for entry in config.issuers:
        rules = tuple(rule for rule in config.routes if rule.applies_to(entry.issuer))
        if rules and rules not in seen:
            table = RouteTable(rules, unmatched_allows=config.unmatched == "authenticated")
            seen[rules] = PolicyBuilder(table)
    return seen.values()


def _apis(
    report: Report, finding: Finding, config: Config, model: TemplateModel | None
) -> list[int]:
    """The template's APIs whose authorizer is this function; their cache TTLs."""
    if model is None:
        return []
    ttls: list[int] = []
    unruled: dict[str, list[str]] = {}
    rule_shapes = {route_shape(r.method, r.path): r for r in config.routes if not r.is_default}
    for api in model.rest_apis.values():
        for rest_auth in api.authorizers.values():
            if rest_auth.function_id != AUTHORIZER:
                continue
            ttls.append(rest_auth.ttl)
            sources = ", ".join(s.rest_expression() for s in rest_auth.identity_sources)
            report.add("api", f"{api.logical_id}.{rest_auth.name}: REST {rest_auth.payload_type}, "
                       f"TTL {rest_auth.ttl} s, identity {sources}")  # fmt: skip
        _unruled(config, api.logical_id, api.routes, rule_shapes, unruled)
    for http in model.http_apis.values():
        for http_auth in http.authorizers.values():
            auth = http_auth
            if auth.function_id != AUTHORIZER:
                continue
            ttls.append(auth.ttl)
            names = [s.http_expression() for s in auth.identity_sources]
            kind = "simple responses" if auth.simple_responses else "IAM policies"
            report.add("api", f"{http.logical_id}.{auth.name}: HTTP payload "
                       f"{auth.payload_version}, {kind}, TTL {auth.ttl} s, identity "
                       f"{', '.join(names)}")  # fmt: skip
            if auth.simple_responses != (config.response_mode == "simple"):
                _error(
                    finding,
                    "response_mode",
                    f"is {config.response_mode!r} but {http.logical_id}.{auth.name} has "
                    f"EnableSimpleResponses {str(auth.simple_responses).lower()}: every HTTP API "
                    "call would be a 500",
                )
            if auth.simple_responses and auth.ttl > 0 and config.routes:
                _simple_cache_warnings(finding, config, http.logical_id, names)
        _unruled(config, http.logical_id, http.routes, rule_shapes, unruled)
        api_shapes = {
            route_shape(*_split(r.route_key)) for r in http.routes if r.path != "$default"
        }
        simple = any(a.simple_responses for a in http.authorizers.values())
        for shape, rule in rule_shapes.items():
            if shape not in api_shapes and simple and config.simple_cache_key == "route":
                finding.warnings.append(
                    f"route rule {rule.route_key} is not a route of {http.logical_id}: its paths "
                    "reach the authorizer under a wider route key, whose cached simple answers "
                    "also answer them (RouteMismatch); add the route to the API or set "
                    "simple_cache_key to request"
                )
    _unruled_warnings(finding, unruled)
    return ttls


def _simple_cache_warnings(finding: Finding, config: Config, api: str, names: list[str]) -> None:
    if config.simple_cache_key == "route" and "$context.routeKey" not in names:
        finding.warnings.append(
            f"{api}: simple responses with route rules, cached without $context.routeKey among "
            "the identity sources: one cached yes/no answers every route of the token; add "
            "$context.routeKey (SAM: Identity.Context: [routeKey]) or use response_mode iam"
        )
    if config.simple_cache_key == "request" and not {
        "$context.httpMethod",
        "$context.path",
    } <= set(names):
        finding.warnings.append(
            f"{api}: simple_cache_key is 'request' but the identity sources lack "
            "$context.httpMethod and $context.path: a cached answer is reused for other "
            "requests; add them, or set the TTL to 0"
        )


def _unruled(
    config: Config,
    api: str,
    routes: Iterable[object],
    rule_shapes: dict[tuple[str, str], RouteRule],
    found: dict[str, list[str]],
) -> None:
    """API routes behind this authorizer that no rule governs (unmatched: deny → 403)."""
    if not config.routes or config.unmatched != "deny":
        return
    if any(rule.is_default for rule in config.routes):
        return
    paths = {shape[1] for shape in rule_shapes}
    for route in routes:
        key = getattr(route, "route_key", "")
        if getattr(route, "authorizer", None) is None or key == "$default":
            continue
        method, path = _split(key)
        shape = route_shape(method, path)
        governed = (
            shape[1] in paths
            if method == "ANY"
            else shape in rule_shapes or route_shape("ANY", path) in rule_shapes
        )
        if not governed:
            found.setdefault(key, []).append(api)


def _unruled_warnings(finding: Finding, found: dict[str, list[str]]) -> None:
    for key, apis in found.items():
        finding.warnings.append(
            f"route {key} of {' and '.join(apis)} has no rule: with unmatched 'deny' every "
            "caller gets 403 route_not_permitted there"
        )


def _split(route_key: str) -> tuple[str, str]:
    method, _, path = route_key.partition(" ")
    return method, path


def _preview(
    report: Report, config: Config, model: TemplateModel | None, scopes: frozenset[str]
) -> None:
    """The handler's answers, per route, for a caller of each issuer holding ``scopes``."""
    keys: dict[tuple[str, str], str] = {}
    for rule in config.routes:
        if not rule.is_default:
            keys.setdefault(route_shape(rule.method, rule.path), rule.route_key)
    if model is not None:
        for http in model.http_apis.values():
            for route in http.routes:
                if route.authorizer is not None and route.path != "$default":
                    method, path = _split(route.route_key)
                    keys.setdefault(route_shape(method, path), route.route_key)
    shown_scopes = " ".join(sorted(scopes)) or "(none)"
    now = time.time()
    for entry in config.issuers:
        principal = Principal(
            subject="preview",
            issuer=entry.issuer,
            client_id=None,
            permissions=scopes,
            expires_at=now + 3600,
            claims={},
            tenant=entry.tenant_id,
            configured_issuer=entry.issuer,
        )
        recorder = RecordingObserver()
        authorizer = Authorizer(config, DecidedValidator(principal), recorder)
        report.add("preview", f"a token of {shown(entry.issuer)} holding {shown_scopes}:")
        for key in sorted(keys.values()):
            method, path = _split(key)
            concrete = "/".join(_example(part) for part in path.split("/"))
            request = RouteRequest("GET" if method == "ANY" else method, concrete)
            results = answers(authorizer, recorder.take, request, "Bearer preview", config, key)
            shown_answers = ", ".join(
                f"{a.api} {a.status}" + (f" {a.reason}" if a.reason != "ok" else "")
                for a in results
            )
            report.more(f"{key:<28} {shown_answers}")


def _example(segment: str) -> str:
    if segment.startswith("{") and segment.endswith("+}"):
        return "a/b"
    if segment.startswith("{") and segment.endswith("}"):
        return "x1"
    return segment
