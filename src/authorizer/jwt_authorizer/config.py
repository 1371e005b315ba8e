"""The configuration contract: one parser from environment to frozen values, run once at init.

Two ways in, one shape out:

* ``AUTH_CONFIG``: a JSON document, ``file:<path>`` or ``ssm:<parameter-name>``;
* simple single-issuer mode from ``ISSUER``, ``AUDIENCE``, ... when ``AUTH_CONFIG`` is absent.

Simple mode is translated into the ``AUTH_CONFIG`` shape and parsed by the same code, so the two
can never disagree. Every problem raises :class:`ConfigError` naming the offending field: a bad
deployment fails at init instead of silently denying (or allowing) later.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from .errors import ConfigError

ASYMMETRIC_ALGORITHMS: Final = frozenset(
    {
        "RS256", "RS384", "RS512",
        "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512",
        "EdDSA",
    }
)  # fmt: skip
PROFILES: Final = ("entra-b2c", "entra-id", "entra-external-id", "wso2", "cognito", "oidc")
TENANT_PLACEHOLDER: Final = "{tenantid}"
GUID_RE: Final = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_GUID_IN_PATH_RE: Final = re.compile(
    r"/([0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})(?:/|$)"
)
_LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})
# Every numeric setting's bounds, by documented path; the README's Type column states the same
# (tests/docs checks both ways). An upper bound exists where a larger value would quietly weaken
# a check: hours of clock skew, weeks of trusting keys the identity provider may have revoked.
LIMITS: Final[Mapping[str, tuple[float, float | None]]] = {
    "max_token_bytes": (256, None),
    "context_max_bytes": (256, None),
    "verified_token_cache_size": (0, None),
    "issuers[].leeway_seconds": (0, 300),
    "issuers[].max_token_age_seconds": (1, None),
    "keys.refresh_seconds": (60, 86400),
    "keys.kid_miss_cooldown_seconds": (1, None),
    "keys.retry_seconds": (1, None),
    "keys.max_stale_seconds": (60, 604800),
    "keys.connect_timeout_seconds": (0.05, None),
    "keys.read_timeout_seconds": (0.05, None),
    "keys.max_response_bytes": (1024, None),
}
_ABOVE_LIMIT: Final[Mapping[str, str]] = {
    "issuers[].leeway_seconds": "300 seconds (5 minutes) of clock skew",
    "keys.refresh_seconds": "86400 seconds (1 day) between key-set refreshes",
    "keys.max_stale_seconds": (
        "604800 seconds (7 days) of verifying with keys the identity provider may have revoked"
    ),
}
_INDEX_RE: Final = re.compile(r"\[\d+\]")
_SEGMENT_RE: Final = re.compile(r"^(\{[A-Za-z0-9_.-]+\}|\{[A-Za-z0-9_.-]+\+\}|[^{}/*?]+)$")


@dataclass(frozen=True, slots=True)
class Profile:
    """Claim conventions of one identity-provider family (see identity-provider-tokens.md)."""

    scope_claims: tuple[str, ...]
    client_id_claims: tuple[str, ...]
    microsoft: bool = False
    tenant_required: bool = False
    audience_claim: str = "aud"
    token_use: str | None = None
    kid_suffix_match: bool = False


PROFILE_DEFAULTS: Final[Mapping[str, Profile]] = {
    "entra-b2c": Profile(scope_claims=("scp",), client_id_claims=("azp",), microsoft=True),
    "entra-id": Profile(
        scope_claims=("scp", "roles"),
        client_id_claims=("azp", "appid"),
        microsoft=True,
        tenant_required=True,
    ),
    "entra-external-id": Profile(
        scope_claims=("scp", "roles"),
        client_id_claims=("azp", "appid"),
        microsoft=True,
        tenant_required=True,
    ),
    "wso2": Profile(
        scope_claims=("scope",), client_id_claims=("client_id", "azp"), kid_suffix_match=True
    ),
    "cognito": Profile(
        scope_claims=("scope",),
        client_id_claims=("client_id",),
        audience_claim="client_id",
        token_use="access",  # noqa: S106 - a claim value, not a secret
    ),
    "oidc": Profile(scope_claims=("scope", "scp"), client_id_claims=("client_id", "azp", "cid")),
}


@dataclass(frozen=True, slots=True)
class IssuerConfig:
    """Everything needed to accept tokens from one issuer. ``issuer`` is compared exactly."""

    issuer: str
    audiences: frozenset[str]
    profile: str
    algorithms: frozenset[str]
    scope_claims: tuple[str, ...]
    client_id_claims: tuple[str, ...]
    principal_claims: tuple[str, ...]
    leeway_seconds: int
    discovery_urls: tuple[str, ...] = ()
    discovery_issuer: str | None = None
    jwks_uris: tuple[str, ...] = ()
    jwks: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)
    allowed_client_ids: frozenset[str] | None = None
    required_claims: tuple[tuple[str, frozenset[str]], ...] = ()
    max_token_age_seconds: int | None = None
    ca_bundle: str | None = None
    tenants: frozenset[str] = frozenset()
    tenant_id: str | None = None
    token_types: frozenset[str] | None = None
    microsoft: bool = False
    tenant_required: bool = False
    audience_claim: str = "aud"
    token_use: str | None = None
    kid_suffix_match: bool = False

    @property
    def templated(self) -> bool:
        """Entra multi-tenant metadata issuers carry a literal ``{tenantid}``."""
        return TENANT_PLACEHOLDER in self.issuer


@dataclass(frozen=True, slots=True)
class KeySettings:
    """How key sets are fetched and cached; defaults follow Microsoft's rollover guidance."""

    refresh_seconds: int = 3600
    kid_miss_cooldown_seconds: int = 300
    retry_seconds: int = 30
    max_stale_seconds: int = 86400
    connect_timeout_seconds: float = 1.0
    read_timeout_seconds: float = 2.0
    max_response_bytes: int = 512 * 1024


@dataclass(frozen=True, slots=True)
class RouteRule:
    """A permission rule for one route key in HTTP API form (``GET /orders/{id}``, ``$default``)."""

    route_key: str
    method: str
    path: str
    scopes: frozenset[str] = frozenset()
    all_scopes: frozenset[str] = frozenset()
    issuers: frozenset[str] | None = None

    @property
    def is_default(self) -> bool:
        return self.route_key == "$default"

    def applies_to(self, issuer: str) -> bool:
        return self.issuers is None or issuer in self.issuers


@dataclass(frozen=True, slots=True)
class TokenSource:
    """Where a REQUEST-type event carries the token."""

    kind: Literal["header", "query", "cookie"]
    name: str


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
    keys: KeySettings = KeySettings()


# --------------------------------------------------------------------------- loading


def load_config(
    environ: Mapping[str, str] | None = None, *, base_dir: Path | None = None
) -> Config:
    """Read the configuration from the environment (``os.environ`` by default)."""
    env = os.environ if environ is None else environ
    base = base_dir if base_dir is not None else Path(__file__).resolve().parent.parent
    raw = (env.get("AUTH_CONFIG") or "").strip()
    document = _read_auth_config(raw, base) if raw else _simple_mode_document(env)
    mode = (env.get("RESPONSE_MODE") or "").strip()
    if mode:
        # The template sets RESPONSE_MODE from the same parameter as the HTTP API's
        # EnableSimpleResponses: a document that disagrees would make every HTTP call a 500.
        if document.get("response_mode", mode) != mode:
            raise ConfigError(
                "RESPONSE_MODE",
                f"is {mode!r} but AUTH_CONFIG says response_mode "
                f"{document['response_mode']!r}; they must match the API's EnableSimpleResponses",
            )
        document["response_mode"] = mode
    return parse_config(document, base_dir=base)


def _read_auth_config(raw: str, base: Path) -> dict[str, Any]:
    if raw.startswith("file:"):
        path = Path(raw[5:])
        path = path if path.is_absolute() else base / path
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError("AUTH_CONFIG", f"cannot read {path}: {err.strerror}") from err
    elif raw.startswith("ssm:"):
        text = _read_ssm_parameter(raw[4:])
    else:
        text = raw
    try:
        document = json.loads(text)
    except ValueError as err:
        raise ConfigError("AUTH_CONFIG", f"not valid JSON ({err})") from err
    if not isinstance(document, dict):
        raise ConfigError("AUTH_CONFIG", "must be a JSON object")
    return document


def _read_ssm_parameter(name: str) -> str:
    """Only this path imports boto3 (through Powertools Parameters), and only at init."""
    if not name:
        raise ConfigError("AUTH_CONFIG", "ssm: needs a parameter name")
    from aws_lambda_powertools.utilities import parameters

    try:
        value = parameters.get_parameter(name, decrypt=True, max_age=300)
    except Exception as err:
        raise ConfigError("AUTH_CONFIG", f"cannot read SSM parameter {name}: {err}") from err
    return str(value)


def _csv(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _simple_mode_document(env: Mapping[str, str]) -> dict[str, Any]:
    issuer = (env.get("ISSUER") or "").strip()
    if not issuer:
        raise ConfigError("ISSUER", "set ISSUER (or AUTH_CONFIG) to the exact iss of your tokens")
    entry: dict[str, Any] = {"issuer": issuer, "audiences": _csv(env.get("AUDIENCE"))}
    optional = {
        "discovery_url": env.get("DISCOVERY_URL"),
        "jwks_uri": env.get("JWKS_URI"),
        "profile": env.get("ISSUER_PROFILE"),
        "ca_bundle": env.get("CA_BUNDLE"),
    }
    entry.update({key: value.strip() for key, value in optional.items() if value and value.strip()})
    lists = {
        ("ALGORITHMS", "algorithms"): env.get("ALGORITHMS"),
        ("SCOPE_CLAIMS", "scope_claims"): env.get("SCOPE_CLAIMS"),
        ("ALLOWED_CLIENT_IDS", "allowed_client_ids"): env.get("ALLOWED_CLIENT_IDS"),
    }
    for (variable, key), value in lists.items():
        if value and value.strip():  # empty or unset: the default (the template's empty default)
            items = _csv(value)
            if not items:  # "," or " , ": not the default, and not "any client" either
                raise ConfigError(variable, "lists no items; leave it empty for the default")
            entry[key] = items
    document: dict[str, Any] = {"issuers": [entry]}
    routes = (env.get("ROUTES") or "").strip()
    if routes:
        try:
            document["routes"] = json.loads(routes)
        except ValueError as err:
            raise ConfigError("ROUTES", f"not valid JSON ({err})") from err
    return document


# --------------------------------------------------------------------------- parsing


class _Reader:
    """Typed access to one JSON object, naming the field path in every error."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(path, "must be a JSON object")
        self.data: dict[str, Any] = data
        self.path = path
        self.read: set[str] = set()

    def raw(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return self.data.get(key, default)

    def finish(self) -> None:
        """Unknown keys are errors: a typo must not silently change what is enforced."""
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            raise ConfigError(self.name(unknown[0]), "is not a known setting (typo?)")

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def string(self, key: str, default: str | None = None) -> str | None:
        value = self.raw(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(self.name(key), "must be a non-empty string")
        return value.strip()

    def strings(
        self, key: str, *, required: bool = False, allow_empty: bool = False, remedy: str = ""
    ) -> tuple[str, ...] | None:
        """A JSON array of non-empty strings; ``None`` when the key is absent.

        A string is never split into a list ("Finance Admins" is not ["Finance", "Admins"]), and
        an empty array is an error unless ``allow_empty``: where absence means "any" or "the
        default", ``[]`` would silently mean that too. ``remedy`` says what to do instead.
        """
        value = self.raw(key)
        if value is None:
            if required:
                raise ConfigError(self.name(key), "is required (a JSON array of strings)")
            return None
        if isinstance(value, str):
            raise ConfigError(
                self.name(key),
                "must be a JSON array of strings, not a string (a string is never split into a "
                'list: write ["a", "b"])',
            )
        if not isinstance(value, list) or not all(
            isinstance(item, str) and item.strip() for item in value
        ):
            raise ConfigError(self.name(key), "must be a JSON array of strings, each non-empty")
        if not value and not allow_empty:
            raise ConfigError(self.name(key), f"must not be empty{'; ' if remedy else ''}{remedy}")
        return tuple(item.strip() for item in value)

    def urls(self, key: str, *, remedy: str) -> tuple[str, ...]:
        """One URL as a string, or a JSON array of URLs (a string is one URL, never split)."""
        value = self.raw(key)
        if value is None:
            return ()
        if isinstance(value, str):
            if not value.strip():
                raise ConfigError(self.name(key), f"must not be empty; {remedy}")
            return (value.strip(),)
        if not isinstance(value, list) or not all(
            isinstance(item, str) and item.strip() for item in value
        ):
            raise ConfigError(
                self.name(key), "must be a URL or a JSON array of URLs, each a non-empty string"
            )
        if not value:
            raise ConfigError(self.name(key), f"must not be empty; {remedy}")
        return tuple(item.strip() for item in value)

    def limits(self, key: str) -> tuple[float, float | None]:
        """The bounds :data:`LIMITS` sets for this key (``issuers[0].x`` -> ``issuers[].x``)."""
        return LIMITS[_INDEX_RE.sub("[]", self.name(key))]

    def _check_maximum(self, key: str, value: float) -> None:
        maximum = self.limits(key)[1]
        if maximum is not None and value > maximum:
            generic = _INDEX_RE.sub("[]", self.name(key))
            raise ConfigError(
                self.name(key), f"must be at most {_ABOVE_LIMIT.get(generic, f'{maximum:g}')}"
            )

    def integer(self, key: str, default: int | None) -> int | None:
        minimum = self.limits(key)[0]
        value = self.raw(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(self.name(key), f"must be an integer >= {minimum:g}")
        self._check_maximum(key, value)
        return value

    def number(self, key: str, default: float) -> float:
        minimum = self.limits(key)[0]
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise ConfigError(self.name(key), f"must be a number >= {minimum:g}")
        self._check_maximum(key, value)
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise ConfigError(self.name(key), "must be true or false")
        return value

    def choice(self, key: str, options: tuple[str, ...], default: str) -> str:
        value = self.raw(key, default)
        if value not in options:
            raise ConfigError(self.name(key), f"must be one of {', '.join(options)}")
        return str(value)


def parse_config(document: Mapping[str, Any], *, base_dir: Path | None = None) -> Config:
    """Validate a configuration document (the ``AUTH_CONFIG`` shape) into a :class:`Config`.

    Relative file paths (``ca_bundle``) resolve against ``base_dir``, the function root.
    """
    top = _Reader(dict(document), "")
    issuer_docs = top.raw("issuers")
    if not isinstance(issuer_docs, list) or not issuer_docs:
        raise ConfigError("issuers", "must be a non-empty list of issuer objects")
    issuers = tuple(
        _parse_issuer(_Reader(doc, f"issuers[{i}]"), base_dir) for i, doc in enumerate(issuer_docs)
    )
    seen: set[str] = set()
    for i, entry in enumerate(issuers):
        if entry.issuer in seen:
            raise ConfigError(f"issuers[{i}].issuer", "is configured twice")
        seen.add(entry.issuer)
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
    )
    top.finish()
    return config


def _parse_issuer(entry: _Reader, base_dir: Path | None) -> IssuerConfig:
    issuer = entry.string("issuer")
    if issuer is None:
        raise ConfigError(entry.name("issuer"), "is required (the exact iss of your tokens)")
    profile_name = entry.choice("profile", PROFILES, "oidc")
    profile = PROFILE_DEFAULTS[profile_name]
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
        _check_inline_jwks(jwks, entry.name("jwks"), frozenset(algorithms))
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
        if not GUID_RE.fullmatch(tenant):
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
    claims_reader = _Reader(required, entry.name("required_claims"))
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
    tenant_match = _GUID_IN_PATH_RE.search(issuer) if profile.microsoft else None
    parsed = IssuerConfig(
        issuer=issuer,
        audiences=frozenset(audiences or ()),
        profile=profile_name,
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
        tenant_id=tenant_match.group(1).lower() if tenant_match else None,
        token_types=frozenset(token_types) if token_types is not None else None,
        microsoft=profile.microsoft,
        tenant_required=profile.tenant_required,
        audience_claim=profile.audience_claim,
        token_use=profile.token_use,
        kid_suffix_match=profile.kid_suffix_match,
    )
    entry.finish()
    return parsed


def _check_url(name: str, url: str) -> None:
    if not is_fetchable_url(url):
        raise ConfigError(
            name, f"{url!r} must be an https URL (plain http only for loopback hosts)"
        )


def is_fetchable_url(url: str) -> bool:
    """Keys travel over HTTPS only; plain HTTP is accepted for loopback development servers."""
    try:
        parsed = urlsplit(url)
        hostname = parsed.hostname
    except ValueError:  # e.g. "https://[::1/keys": an unbalanced IPv6 literal
        return False
    if not hostname or parsed.username or parsed.password:
        return False
    if parsed.scheme == "https":
        return True
    return parsed.scheme == "http" and hostname in _LOOPBACK_HOSTS


def _parse_routes(value: object, issuers: set[str]) -> tuple[RouteRule, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError("routes", "must be a list of route rules")
    rules: list[RouteRule] = []
    for i, doc in enumerate(value):
        entry = _Reader(doc, f"routes[{i}]")
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
        _check_not_governed_twice(rule, rules, entry.name("route"))
        entry.finish()
        rules.append(rule)
    return tuple(rules)


def route_shape(method: str, path: str) -> tuple[str, str]:
    """What API Gateway routes on: the method and the template with parameter names ignored
    (``/orders/{id}`` and ``/orders/{orderId}`` are one route, ``{proxy+}`` and ``{path+}`` too)."""
    segments = path.strip("/").split("/") if path.strip("/") else []
    shape = ["{+}" if s.endswith("+}") else "{}" if s.startswith("{") else s for s in segments]
    return method, "/" + "/".join(shape)


def _check_not_governed_twice(rule: RouteRule, earlier: list[RouteRule], name: str) -> None:
    """Two rules for one route and overlapping issuers: the first would silently win."""
    shape = route_shape(rule.method, rule.path)
    for index, other in enumerate(earlier):
        if route_shape(other.method, other.path) != shape:
            continue
        if other.issuers is None or rule.issuers is None or other.issuers == rule.issuers:
            overlap = "for the same issuers"
        elif other.issuers & rule.issuers:
            shared = ", ".join(repr(issuer) for issuer in sorted(other.issuers & rule.issuers))
            overlap = f"for {shared}"
        else:
            continue
        raise ConfigError(
            name,
            f"{rule.route_key} is already governed by routes[{index}] ({overlap}); "
            "merge the two rules",
        )


def parse_route_key(route_key: str, name: str = "route") -> tuple[str, str]:
    """Split ``"GET /orders/{id}"`` into method and path, checking both."""
    if route_key.strip() == "$default":
        return "$default", ""
    parts = route_key.split()
    if len(parts) != 2:
        raise ConfigError(name, f"{route_key!r} must look like 'GET /orders/{{id}}' or '$default'")
    method, path = parts[0].upper(), parts[1]
    if method not in _METHODS:
        raise ConfigError(name, f"{parts[0]!r} is not an HTTP method (or ANY)")
    if not path.startswith("/"):
        raise ConfigError(name, f"path {path!r} must start with /")
    segments = path.strip("/").split("/") if path != "/" else []
    for position, segment in enumerate(segments):
        if "${" in segment:
            raise ConfigError(
                name,
                f"path segment {segment!r} holds ${{...}}, IAM policy-variable syntax; a route "
                "path cannot contain it (a '$' alone is fine, e.g. /odata/$metadata)",
            )
        if not _SEGMENT_RE.match(segment):
            raise ConfigError(name, f"path segment {segment!r} is not valid")
        if segment.endswith("+}") and position != len(segments) - 1:
            raise ConfigError(name, "a greedy {proxy+} segment must be the last one")
    return method, path.rstrip("/") or "/"


# --------------------------------------------------------------------------- inline key sets

# What an inline key may be, checked without any cryptography (keys.py builds the verifiers).
_RSA_KEY_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_KEY_CURVES: Final[Mapping[str, tuple[str, int]]] = {
    "P-256": ("ES256", 32),
    "P-384": ("ES384", 48),
    "P-521": ("ES512", 66),
}
_OKP_KEY_CURVES: Final[Mapping[str, int]] = {"Ed25519": 32, "Ed448": 57}
_PRIVATE_MEMBERS: Final = ("d", "p", "q", "dp", "dq", "qi", "k", "oth")
_MIN_RSA_BITS: Final = 2048
_BASE64URL_RE: Final = re.compile(r"[A-Za-z0-9_-]+")


def _check_inline_jwks(jwks: Mapping[str, Any], name: str, algorithms: frozenset[str]) -> None:
    """Every inline key must be a usable public signing key for this issuer.

    keys.py skips a key it cannot use, which is right for a fetched set (one odd key must not
    take its neighbours down) but wrong for configuration: a broken inline key would surface as
    a runtime key error, or, with private members, publish a secret in the function's
    environment. Here each problem is an init error naming ``issuers[i].jwks.keys[j]``.
    """
    keys = jwks["keys"]
    if not keys:
        raise ConfigError(name, "holds no keys; give at least one public signing key")
    for index, jwk in enumerate(keys):
        _check_inline_jwk(jwk, f"{name}.keys[{index}]", algorithms)


def _check_inline_jwk(jwk: object, name: str, algorithms: frozenset[str]) -> None:
    if not isinstance(jwk, dict):
        raise ConfigError(name, "must be a JWK object")
    kty = jwk.get("kty")
    if not isinstance(kty, str) or not kty:
        raise ConfigError(name, 'must have a string "kty" (RSA, EC or OKP)')
    if kty == "oct":
        raise ConfigError(name, "is a symmetric (oct) key; HMAC keys are never accepted")
    private = [member for member in _PRIVATE_MEMBERS if member in jwk]
    if private:
        raise ConfigError(
            name,
            "holds private key material; publish only the public key "
            f"(remove {', '.join(repr(member) for member in private)})",
        )
    for member in ("kid", "alg", "use", "x5t", "x5t#S256"):
        if member in jwk and not (isinstance(jwk[member], str) and jwk[member]):
            raise ConfigError(name, f"{member!r} must be a non-empty string")
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise ConfigError(name, f'has use {use!r}; an inline key set holds signing keys ("sig")')
    ops = jwk.get("key_ops")
    if ops is not None and not (isinstance(ops, list) and "verify" in ops):
        raise ConfigError(name, 'has key_ops without "verify"; it could never verify a token')
    possible = _key_algorithms(jwk, kty, name)
    declared = jwk.get("alg")
    if declared is not None:
        if declared not in possible:
            raise ConfigError(name, f"alg {declared!r} does not fit {_describe_key(jwk)}")
        possible = frozenset({declared})
    if not possible & algorithms:
        raise ConfigError(
            name,
            f"fits none of the issuer's algorithms ({', '.join(sorted(algorithms))}): "
            f"{_describe_key(jwk)} verifies {', '.join(sorted(possible))} only; add its "
            "algorithm to algorithms or remove the key",
        )


def _describe_key(jwk: Mapping[str, Any]) -> str:
    """``an RSA key``, ``an EC P-256 key`` (every supported kty takes "an")."""
    curve = jwk.get("crv")
    return f"an {jwk['kty']} {curve} key" if isinstance(curve, str) else f"an {jwk['kty']} key"


def _key_algorithms(jwk: Mapping[str, Any], kty: str, name: str) -> frozenset[str]:
    """Check the key's required public members; return the algorithms its type allows."""
    if kty == "RSA":
        modulus = _base64url_member(jwk, "n", name)
        exponent = int.from_bytes(_base64url_member(jwk, "e", name), "big")
        if exponent < 3 or exponent % 2 == 0:
            raise ConfigError(name, "'e' must be an odd public exponent of at least 3")
        bits = int.from_bytes(modulus, "big").bit_length()
        if bits < _MIN_RSA_BITS:
            raise ConfigError(
                name, f"RSA modulus is {bits} bits; at least {_MIN_RSA_BITS} are required"
            )
        return _RSA_KEY_ALGORITHMS
    curve = jwk.get("crv")
    if kty == "EC":
        if curve not in _EC_KEY_CURVES:
            raise ConfigError(name, f"crv must be one of {', '.join(_EC_KEY_CURVES)}")
        alg, size = _EC_KEY_CURVES[str(curve)]
        for member in ("x", "y"):
            if len(_base64url_member(jwk, member, name)) != size:
                raise ConfigError(name, f"{member!r} must be {size} bytes for {curve}")
        return frozenset({alg})
    if kty == "OKP":
        if curve not in _OKP_KEY_CURVES:
            raise ConfigError(name, f"crv must be one of {', '.join(_OKP_KEY_CURVES)}")
        size = _OKP_KEY_CURVES[str(curve)]
        if len(_base64url_member(jwk, "x", name)) != size:
            raise ConfigError(name, f"'x' must be {size} bytes for {curve}")
        return frozenset({"EdDSA"})
    raise ConfigError(name, f"kty {kty!r} is not supported; use RSA, EC or OKP public keys")


def _base64url_member(jwk: Mapping[str, Any], member: str, name: str) -> bytes:
    """A required member in unpadded base64url (RFC 7518), decoded."""
    value = jwk.get(member)
    if value is None:
        raise ConfigError(name, f"{jwk['kty']} key needs {member!r}")
    if not isinstance(value, str) or not _BASE64URL_RE.fullmatch(value) or len(value) % 4 == 1:
        raise ConfigError(name, f"{member!r} must be a base64url string (no padding)")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _parse_token_sources(value: object) -> tuple[TokenSource, ...]:
    if value is None:
        return (TokenSource("header", "Authorization"),)
    if not isinstance(value, list) or not value:
        raise ConfigError(
            "token_sources", 'must be a non-empty list like [{"header": "Authorization"}]'
        )
    sources = []
    for i, doc in enumerate(value):
        entry = _Reader(doc, f"token_sources[{i}]")
        kinds = [kind for kind in ("header", "query", "cookie") if kind in entry.data]
        if len(kinds) != 1 or len(entry.data) != 1:
            raise ConfigError(entry.path, 'must have exactly one of "header", "query", "cookie"')
        name = entry.string(kinds[0])
        sources.append(TokenSource(kinds[0], name or ""))
    return tuple(sources)


def _parse_key_settings(value: object) -> KeySettings:
    entry = _Reader(value, "keys")
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
