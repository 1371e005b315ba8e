"""The configuration contract: one validated, frozen :class:`Config`, read once at init.

:mod:`source` reads the environment into a document (``AUTH_CONFIG`` or simple mode); this
module validates it. Each stage owns the type of its own settings (issuers, keys, route rules,
token sources, telemetry); this module only composes them. Every problem raises
:class:`ConfigError` naming the offending field, and unknown keys are errors: a bad deployment
fails at init instead of silently denying (or allowing) later.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from .errors import ConfigError
from .event import TokenSource
from .fetch import is_fetchable_url
from .issuers import TENANT_PLACEHOLDER, IntrospectionSpec, IssuerConfig, is_guid, tenant_in
from .jwk import ASYMMETRIC_ALGORITHMS, check_inline_jwks
from .keys import KeySettings
from .observe import Telemetry
from .profiles import PROFILES
from .routes import RouteRule, check_not_governed_twice, parse_route_key
from .schema import Reader
from .source import read_document, read_telemetry

_MODES: Final = ("off", "allowed", "required")
INTROSPECTION_AUTH_METHODS: Final = ("client_secret_basic", "client_secret_post")
# Where a client secret may come from: an SSM parameter (a SecureString) or a Secrets Manager
# secret (by name or ARN). The names' characters are those AWS allows. Compiled on first use
# (re caches it): a configuration without introspection never pays for it at init.
_REFERENCE_PATTERN: Final = (
    r"ssm:/?[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*"
    r"|secretsmanager:(?:[A-Za-z0-9/_+=.@\-]+"
    r"|arn:aws[a-z\-]*:secretsmanager:[a-z0-9\-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@\-]+)"
)
_INTROSPECTION_KEYS: Final = (
    "introspection_client_id",
    "introspection_client_secret",
    "introspection_auth_method",
    "opaque_tokens",
    "introspect_jwts",
    "introspection_cache_seconds",
    "introspection_jwt_cache_seconds",
    "introspection_inactive_cache_seconds",
    "introspection_stale_seconds",
)


@dataclass(frozen=True, slots=True)
class DpopSettings:
    """The ``dpop`` block: how proofs are checked and where replays are remembered. Plain
    values, so that a deployment without DPoP imports none of the DPoP modules."""

    algorithms: tuple[str, ...] = tuple(sorted(ASYMMETRIC_ALGORITHMS))
    max_age_seconds: int = 60
    clock_skew_seconds: int = 5
    htu_base_urls: tuple[str, ...] = ()
    replay_store: Literal["dynamodb", "memory"] = "dynamodb"
    replay_table: str | None = None
    replay_cache_size: int = 10_000
    authorizer_cache_off: bool = False


@dataclass(frozen=True, slots=True)
class IntrospectionSettings:
    """How introspection answers are cached and fetched, shared by every introspecting issuer."""

    cache_entries: int = 4096
    cache_bytes: int = 8 * 1024 * 1024
    connect_timeout_seconds: float = 1.0
    read_timeout_seconds: float = 2.0
    max_response_bytes: int = 64 * 1024


@dataclass(frozen=True, slots=True)
class Config:
    """The whole, validated configuration of one authorizer function."""

    issuers: tuple[IssuerConfig, ...]
    routes: tuple[RouteRule, ...] = ()
    unmatched: Literal["deny", "authenticated"] = "authenticated"
    response_mode: Literal["simple", "iam"] = "simple"
    http_unauthorized: Literal["deny", "raise"] = "deny"
    simple_cache_key: Literal["route", "request"] = "route"
    token_sources: tuple[TokenSource, ...] = (TokenSource("header", "Authorization"),)
    allow_bare_token: bool = False
    max_token_bytes: int = 16 * 1024
    context_claims: tuple[tuple[str, str], ...] = ()
    context_max_bytes: int = 4096
    verified_token_cache_size: int = 1024
    keys: KeySettings = field(default_factory=KeySettings)
    telemetry: Telemetry = field(default_factory=Telemetry)
    introspection: IntrospectionSettings = field(default_factory=IntrospectionSettings)
    dpop: DpopSettings = field(default_factory=DpopSettings)

    @property
    def uses_dpop(self) -> bool:
        return any(entry.dpop != "off" for entry in self.issuers)

    @property
    def sender_constrained(self) -> bool:
        """Some issuer enables DPoP or certificate binding (the event layer reads more)."""
        return any(entry.dpop != "off" or entry.mtls != "off" for entry in self.issuers)

    @property
    def introspecting(self) -> bool:
        """Whether any issuer is introspected (only then is the introspection stage built)."""
        return any(entry.introspection is not None for entry in self.issuers)


# --------------------------------------------------------------------------- loading


def load_config(
    environ: Mapping[str, str] | None = None, *, base_dir: Path | None = None
) -> Config:
    """Read the configuration from the environment (``os.environ`` by default).

    Relative paths (``file:`` configurations, ``ca_bundle``) resolve against ``base_dir``, the
    function root by default."""
    env = os.environ if environ is None else environ
    base = base_dir if base_dir is not None else Path(__file__).resolve().parent.parent
    config = parse_config(read_document(env, base), base_dir=base)
    return replace(config, telemetry=read_telemetry(env))


# --------------------------------------------------------------------------- parsing


def parse_config(document: Mapping[str, Any], *, base_dir: Path | None = None) -> Config:
    """Validate a configuration document (the ``AUTH_CONFIG`` shape) into a :class:`Config`.

    Relative file paths (``ca_bundle``) resolve against ``base_dir``, the function root.
    """
    top = Reader(dict(document), "")
    issuer_docs = top.raw("issuers")
    if not isinstance(issuer_docs, list) or not issuer_docs:
        raise ConfigError("issuers", "must be a non-empty list of issuer objects")
    issuers = tuple(
        _parse_issuer(Reader(doc, f"issuers[{i}]"), base_dir) for i, doc in enumerate(issuer_docs)
    )
    seen: set[str] = set()
    for i, entry in enumerate(issuers):
        if entry.issuer in seen:
            raise ConfigError(f"issuers[{i}].issuer", "is configured twice")
        seen.add(entry.issuer)
    _check_one_opaque_issuer(issuers)
    routes = _parse_routes(top.raw("routes"), seen)
    unmatched_default = "deny" if routes else "authenticated"
    context_claims = top.raw("context_claims", {})
    if not isinstance(context_claims, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) and v for k, v in context_claims.items()
    ):
        raise ConfigError("context_claims", "must map context keys to claim names (strings)")
    config = Config(
        issuers=issuers,
        routes=routes,
        unmatched=top.choice("unmatched", ("deny", "authenticated"), unmatched_default),  # type: ignore[arg-type]
        response_mode=top.choice("response_mode", ("simple", "iam"), "simple"),  # type: ignore[arg-type]
        http_unauthorized=top.choice("http_unauthorized", ("deny", "raise"), "deny"),  # type: ignore[arg-type]
        simple_cache_key=top.choice(  # type: ignore[arg-type]
            "simple_cache_key", ("route", "request"), "route"
        ),
        token_sources=_parse_token_sources(top.raw("token_sources")),
        allow_bare_token=top.boolean("allow_bare_token", False),
        max_token_bytes=top.integer("max_token_bytes", 16 * 1024) or 16 * 1024,
        context_claims=tuple(sorted(context_claims.items())),
        context_max_bytes=top.integer("context_max_bytes", 4096) or 4096,
        verified_token_cache_size=top.integer("verified_token_cache_size", 1024) or 0,
        keys=_parse_key_settings(top.raw("keys", {})),
        introspection=_parse_introspection_settings(
            top.raw("introspection"), any(entry.introspection for entry in issuers)
        ),
    )
    dpop = top.raw("dpop")
    if dpop is not None:
        if not config.uses_dpop:
            raise ConfigError(
                "dpop",
                'applies only when an issuer sets "dpop" to "allowed" or "required" (it would '
                "be ignored here); remove it, or enable DPoP on an issuer",
            )
        config = replace(config, dpop=_parse_dpop(dpop))
    elif config.uses_dpop:
        config = replace(config, dpop=_parse_dpop({}))
    top.finish()
    return config


def _parse_dpop(value: object) -> DpopSettings:
    entry = Reader(value, "dpop")
    defaults = DpopSettings()
    algorithms = entry.strings("algorithms", remedy="omit the key for every asymmetric algorithm")
    for alg in algorithms or ():
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise ConfigError(
                entry.name("algorithms"),
                f"{alg!r} is not allowed; use asymmetric algorithms only "
                f"({', '.join(sorted(ASYMMETRIC_ALGORITHMS))})",
            )
    base_urls = entry.strings("htu_base_urls", remedy="omit the key to derive it from the event")
    for url in base_urls or ():
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
            raise ConfigError(
                entry.name("htu_base_urls"),
                f"{url!r} must be an https URL without query or fragment (the scheme, host and "
                "base path clients call, e.g. https://api.example.com/orders-api)",
            )
    store = entry.choice("replay_store", ("dynamodb", "memory"), defaults.replay_store)
    table = entry.string("replay_table")
    if store == "dynamodb" and table is None:
        raise ConfigError(
            entry.name("replay_table"),
            "is required with the dynamodb replay store (the template creates one when its "
            'Dpop parameter is on); "replay_store": "memory" remembers proofs in one execution '
            "environment only",
        )
    if store == "memory" and table is not None:
        raise ConfigError(entry.name("replay_table"), "applies only to the dynamodb replay store")
    settings = DpopSettings(
        algorithms=tuple(sorted(algorithms)) if algorithms else defaults.algorithms,
        max_age_seconds=entry.integer("max_age_seconds", defaults.max_age_seconds)
        or defaults.max_age_seconds,
        clock_skew_seconds=entry.integer("clock_skew_seconds", defaults.clock_skew_seconds) or 0,
        htu_base_urls=tuple(url.rstrip("/") for url in base_urls or ()),
        replay_store=store,  # type: ignore[arg-type]
        replay_table=table,
        replay_cache_size=entry.integer("replay_cache_size", defaults.replay_cache_size) or 0,
        authorizer_cache_off=entry.boolean("authorizer_cache_off", defaults.authorizer_cache_off),
    )
    entry.finish()
    return settings


def _parse_issuer(entry: Reader, base_dir: Path | None) -> IssuerConfig:
    issuer = entry.string("issuer")
    if issuer is None:
        raise ConfigError(entry.name("issuer"), "is required (the exact iss of your tokens)")
    profile = PROFILES[entry.choice("profile", tuple(PROFILES), "oidc")]
    audiences = entry.strings(
        "audiences", required=True, remedy="list the aud values your API accepts"
    )
    algorithms = entry.strings("algorithms", remedy='omit the key for the default ["RS256"]') or (
        "RS256",
    )
    for alg in algorithms:
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise ConfigError(
                entry.name("algorithms"),
                f"{alg!r} is not allowed; use asymmetric algorithms only "
                f"({', '.join(sorted(ASYMMETRIC_ALGORITHMS))})",
            )
    jwks = entry.raw("jwks")
    if jwks is not None and not (isinstance(jwks, dict) and isinstance(jwks.get("keys"), list)):
        raise ConfigError(entry.name("jwks"), 'must be a JWKS object {"keys": [...]}')
    # A string (one URL), or a list: B2C signs with different keys per policy under one issuer.
    discovery_urls = entry.urls(
        "discovery_url",
        remedy="omit the key to use the issuer + /.well-known/openid-configuration",
    )
    jwks_uris = entry.urls("jwks_uri", remedy="omit the key to read it from discovery")
    for key, urls in (("discovery_url", discovery_urls), ("jwks_uri", jwks_uris)):
        for url in urls:
            _check_url(entry.name(key), url)
    if jwks_uris and discovery_urls:
        raise ConfigError(entry.name("jwks_uri"), "give jwks_uri or discovery_url, not both")
    if jwks is not None and (jwks_uris or discovery_urls):
        # The inline set would win and the URL would be silently ignored.
        raise ConfigError(
            entry.name("jwks"),
            "give an inline jwks or a jwks_uri / discovery_url, not both",
        )
    if jwks is not None:
        check_inline_jwks(jwks, entry.name("jwks"), frozenset(algorithms))
    if jwks is None and not jwks_uris and not discovery_urls:
        _check_url(entry.name("issuer"), issuer.replace(TENANT_PLACEHOLDER, "tenant"))
    tenant_list = entry.strings(
        "tenants", remedy="list the tenant ids (GUIDs) the {tenantid} issuer accepts"
    )
    if tenant_list is not None and TENANT_PLACEHOLDER not in issuer:
        raise ConfigError(
            entry.name("tenants"),
            "applies only to an issuer containing {tenantid} (it would be ignored here); "
            "remove it, or template the issuer",
        )
    tenants = frozenset(tenant_list or ())
    for tenant in tenants:
        if not is_guid(tenant):
            raise ConfigError(entry.name("tenants"), f"{tenant!r} is not a tenant id (GUID)")
    if TENANT_PLACEHOLDER in issuer and not tenants:
        raise ConfigError(
            entry.name("tenants"),
            "an issuer with {tenantid} needs an explicit allow-list of tenant ids",
        )
    ca_bundle = entry.string("ca_bundle")
    if ca_bundle is not None:
        path = Path(ca_bundle)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise ConfigError(entry.name("ca_bundle"), f"file {path} does not exist")
        ca_bundle = str(path)
    required = entry.raw("required_claims", {})
    if not isinstance(required, dict):
        raise ConfigError(
            entry.name("required_claims"),
            'must map claim names to JSON arrays of accepted values, e.g. {"tfp": ["B2C_1_a"]}',
        )
    claims_reader = Reader(required, entry.name("required_claims"))
    required_claims = tuple(
        (
            name,
            frozenset(
                claims_reader.strings(
                    name, required=True, remedy="list the accepted values, or remove the claim"
                )
                or ()
            ),
        )
        for name in sorted(required)
    )
    allowed_clients = entry.strings("allowed_client_ids", remedy="omit the key to allow any client")
    token_types = entry.strings("token_types", remedy="omit the key to accept any typ")
    discovery_issuer = entry.string("discovery_issuer")
    if discovery_issuer is not None and (jwks is not None or jwks_uris):
        # Only discovery documents are checked against it: elsewhere it would check nothing.
        raise ConfigError(
            entry.name("discovery_issuer"),
            "applies only when keys come from discovery; remove it (jwks and jwks_uri skip "
            "discovery and its issuer check)",
        )
    parsed = IssuerConfig(
        issuer=issuer,
        audiences=frozenset(audiences or ()),
        profile=profile,
        algorithms=frozenset(algorithms),
        scope_claims=entry.strings(
            "scope_claims", remedy="omit the key for the profile's scope claims"
        )
        or profile.scope_claims,
        client_id_claims=entry.strings(
            "client_id_claims", remedy="omit the key for the profile's client id claims"
        )
        or profile.client_id_claims,
        principal_claims=entry.strings(
            "principal_claims", remedy='omit the key for the default ["sub"]'
        )
        or ("sub",),
        leeway_seconds=entry.integer("leeway_seconds", 60) or 0,
        discovery_urls=discovery_urls,
        discovery_issuer=discovery_issuer,
        jwks_uris=jwks_uris,
        jwks=jwks,
        allowed_client_ids=frozenset(allowed_clients) if allowed_clients is not None else None,
        required_claims=required_claims,
        max_token_age_seconds=entry.integer("max_token_age_seconds", None),
        ca_bundle=ca_bundle,
        tenants=frozenset(t.lower() for t in tenants),
        tenant_id=tenant_in(issuer) if profile.microsoft else None,
        token_types=frozenset(token_types) if token_types is not None else None,
        dpop=entry.choice("dpop", _MODES, "off"),
        mtls=entry.choice("mtls", _MODES, "off"),
        introspection=_parse_introspection(entry, issuer),
    )
    entry.finish()
    return parsed


def _parse_introspection(entry: Reader, issuer: str) -> IntrospectionSpec | None:
    """An issuer's introspection settings; every one that would be ignored is an error."""
    endpoint = entry.string("introspection_endpoint")
    if endpoint is None:
        for key in _INTROSPECTION_KEYS:
            if key in entry.data:
                raise ConfigError(
                    entry.name(key),
                    "applies only with introspection_endpoint (it would be ignored); set the "
                    "endpoint, or remove it",
                )
        return None
    _check_url(entry.name("introspection_endpoint"), endpoint)
    client_id = entry.string("introspection_client_id")
    if client_id is None:
        raise ConfigError(
            entry.name("introspection_client_id"),
            "is required with introspection_endpoint (the authorizer's own client id there)",
        )
    secret = entry.raw("introspection_client_secret")
    if secret is None:
        raise ConfigError(
            entry.name("introspection_client_secret"),
            "is required with introspection_endpoint: ssm:<parameter name> (a SecureString) or "
            "secretsmanager:<secret name or ARN>",
        )
    if not isinstance(secret, str) or re.fullmatch(_REFERENCE_PATTERN, secret.strip()) is None:
        # Never echo the value: it may be the secret itself.
        raise ConfigError(
            entry.name("introspection_client_secret"),
            "must be a reference to the secret, ssm:<parameter name> (a SecureString) or "
            "secretsmanager:<secret name or ARN>, never the secret itself (it would sit in the "
            "function's configuration and logs)",
        )
    opaque = entry.boolean("opaque_tokens", False)
    check_jwts = entry.boolean("introspect_jwts", False)
    if not opaque and not check_jwts:
        raise ConfigError(
            entry.name("introspection_endpoint"),
            "is used only with opaque_tokens or introspect_jwts (it would be ignored); set one",
        )
    if opaque and TENANT_PLACEHOLDER in issuer:
        raise ConfigError(
            entry.name("opaque_tokens"),
            "cannot apply to an issuer with {tenantid}: an opaque token names no tenant",
        )
    for key, needs, flag in (
        ("introspection_cache_seconds", "opaque_tokens", opaque),
        ("introspection_jwt_cache_seconds", "introspect_jwts", check_jwts),
    ):
        if key in entry.data and not flag:
            raise ConfigError(
                entry.name(key), f"applies only with {needs} (it would be ignored); remove it"
            )
    defaults = IntrospectionSpec(endpoint, client_id, secret)
    return IntrospectionSpec(
        endpoint=endpoint,
        client_id=client_id,
        client_secret=secret.strip(),
        auth_method=entry.choice(
            "introspection_auth_method", INTROSPECTION_AUTH_METHODS, defaults.auth_method
        ),
        opaque_tokens=opaque,
        introspect_jwts=check_jwts,
        cache_seconds=_given(entry.integer("introspection_cache_seconds", defaults.cache_seconds)),
        jwt_cache_seconds=_given(
            entry.integer("introspection_jwt_cache_seconds", defaults.jwt_cache_seconds)
        ),
        inactive_cache_seconds=_given(
            entry.integer("introspection_inactive_cache_seconds", defaults.inactive_cache_seconds)
        ),
        stale_seconds=_given(entry.integer("introspection_stale_seconds", defaults.stale_seconds)),
    )


def _given(value: int | None) -> int:
    """An integer read with a default (so never None); 0 stays 0."""
    assert value is not None
    return value


def _check_one_opaque_issuer(issuers: tuple[IssuerConfig, ...]) -> None:
    """An opaque token names no issuer: which one takes them must not be a guess."""
    first: int | None = None
    for i, entry in enumerate(issuers):
        if entry.introspection is not None and entry.introspection.opaque_tokens:
            if first is not None:
                raise ConfigError(
                    f"issuers[{i}].opaque_tokens",
                    f"issuers[{first}] already takes the opaque tokens; an opaque token names "
                    "no issuer, so only one issuer may",
                )
            first = i


def _parse_introspection_settings(value: object, used: bool) -> IntrospectionSettings:
    defaults = IntrospectionSettings()
    if value is None:
        return defaults
    if not used:
        raise ConfigError(
            "introspection",
            "applies only when an issuer has an introspection_endpoint (it would be ignored)",
        )
    entry = Reader(value, "introspection")
    settings = IntrospectionSettings(
        cache_entries=_given(entry.integer("cache_entries", defaults.cache_entries)),
        cache_bytes=_given(entry.integer("cache_bytes", defaults.cache_bytes)),
        connect_timeout_seconds=entry.number(
            "connect_timeout_seconds", defaults.connect_timeout_seconds
        ),
        read_timeout_seconds=entry.number("read_timeout_seconds", defaults.read_timeout_seconds),
        max_response_bytes=_given(entry.integer("max_response_bytes", defaults.max_response_bytes)),
    )
    entry.finish()
    return settings


def _check_url(name: str, url: str) -> None:
    if not is_fetchable_url(url):
        raise ConfigError(
            name, f"{url!r} must be an https URL (plain http only for loopback hosts)"
        )


def _parse_routes(value: object, issuers: set[str]) -> tuple[RouteRule, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError("routes", "must be a list of route rules")
    rules: list[RouteRule] = []
    for i, doc in enumerate(value):
        entry = Reader(doc, f"routes[{i}]")
        route_key = entry.string("route")
        if route_key is None:
            raise ConfigError(entry.name("route"), 'is required, e.g. "GET /orders/{id}"')
        method, path = parse_route_key(route_key, entry.name("route"))
        rule_issuers = entry.strings(
            "issuers", remedy="omit the key to apply the rule to every issuer"
        )
        for issuer in rule_issuers or ():
            if issuer not in issuers:
                raise ConfigError(entry.name("issuers"), f"{issuer!r} is not a configured issuer")
        rule = RouteRule(
            route_key=f"{method} {path}" if method != "$default" else "$default",
            method=method,
            path=path,
            # [] is explicit: any valid token (the documented meaning of no permission).
            scopes=frozenset(entry.strings("scopes", allow_empty=True) or ()),
            all_scopes=frozenset(entry.strings("all_scopes", allow_empty=True) or ()),
            issuers=frozenset(rule_issuers) if rule_issuers is not None else None,
        )
        check_not_governed_twice(rule, rules, entry.name("route"))
        entry.finish()
        rules.append(rule)
    return tuple(rules)


def _parse_token_sources(value: object) -> tuple[TokenSource, ...]:
    if value is None:
        return (TokenSource("header", "Authorization"),)
    if not isinstance(value, list) or not value:
        raise ConfigError(
            "token_sources", 'must be a non-empty list like [{"header": "Authorization"}]'
        )
    sources = []
    for i, doc in enumerate(value):
        entry = Reader(doc, f"token_sources[{i}]")
        kinds = [kind for kind in ("header", "query", "cookie") if kind in entry.data]
        if len(kinds) != 1 or len(entry.data) != 1:
            raise ConfigError(entry.path, 'must have exactly one of "header", "query", "cookie"')
        name = entry.string(kinds[0])
        sources.append(TokenSource(kinds[0], name or ""))
    return tuple(sources)


def _parse_key_settings(value: object) -> KeySettings:
    entry = Reader(value, "keys")
    defaults = KeySettings()
    settings = KeySettings(
        refresh_seconds=entry.integer("refresh_seconds", defaults.refresh_seconds)
        or defaults.refresh_seconds,
        kid_miss_cooldown_seconds=entry.integer(
            "kid_miss_cooldown_seconds", defaults.kid_miss_cooldown_seconds
        )
        or defaults.kid_miss_cooldown_seconds,
        retry_seconds=entry.integer("retry_seconds", defaults.retry_seconds)
        or defaults.retry_seconds,
        max_stale_seconds=entry.integer("max_stale_seconds", defaults.max_stale_seconds)
        or defaults.max_stale_seconds,
        connect_timeout_seconds=entry.number(
            "connect_timeout_seconds", defaults.connect_timeout_seconds
        ),
        read_timeout_seconds=entry.number("read_timeout_seconds", defaults.read_timeout_seconds),
        max_response_bytes=entry.integer("max_response_bytes", defaults.max_response_bytes)
        or defaults.max_response_bytes,
    )
    if settings.max_stale_seconds < settings.refresh_seconds:
        raise ConfigError("keys.max_stale_seconds", "must be at least keys.refresh_seconds")
    entry.finish()
    return settings
