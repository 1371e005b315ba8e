"""``discover``: an identity provider's settings, from its discovery document and key set.

Given an issuer (``iss``) or a discovery URL, fetch discovery with the function's transport,
recognise the provider from what it serves (B2C's per-policy metadata whose ``issuer`` has no
policy, Entra ID v1 and v2 and the ``{tenantid}`` template, External ID's issuer on another
host than its discovery URL, WSO2 IS and Asgardeo's ``/oauth2/token`` issuer, Cognito's
``<region>_<id>`` pool, anything else as generic OIDC), and print a working ``issuers[]``
entry and the matching ``samconfig.toml`` parameter overrides. The entry is then loaded by the
function's configuration loader and its key set fetched through the function's key cache, so
what is printed is known to work (audiences aside: no discovery document names them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from devkit.diagnose import keysets
from devkit.diagnose.report import Report, shown
from jwt_authorizer.config import parse_config
from jwt_authorizer.errors import ConfigError
from jwt_authorizer.fetch import FetchError, HttpFetcher
from jwt_authorizer.keys import KeySettings
from jwt_authorizer.signature import KeySources

__all__ = ["WELL_KNOWN", "Discovery", "discover"]

WELL_KNOWN: Final = "/.well-known/openid-configuration"
AUDIENCE_PLACEHOLDER: Final = "<your API's audience>"
_GUID: Final = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
_COGNITO_POOL: Final = re.compile(r"/[a-z]{2}(?:-[a-z]+)+-\d_[A-Za-z0-9]+$")
_B2C_METADATA: Final = re.compile(r"/[^/]+/(B2C_1A?_[^/]+)/v2\.0/\.well-known/", re.IGNORECASE)
_ALGORITHMS_BY_KEY: Final = {"RSA": "RS256", "P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}


@dataclass
class Discovery:
    """What was found, and the configuration that follows from it."""

    provider: str = "unknown"
    profile: str = "oidc"
    notes: list[str] = field(default_factory=list)
    entry: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    ok: bool = False


def discover(
    target: str,
    *,
    audiences: list[str] | None = None,
    settings: KeySettings | None = None,
    ca_bundle: str | None = None,
) -> tuple[Report, Discovery]:
    """Fetch ``target`` (an issuer or a discovery URL) and say how to configure it."""
    settings = settings or KeySettings()
    report = Report()
    found = Discovery()
    url = target if WELL_KNOWN in target else target.rstrip("/") + WELL_KNOWN
    report.add("discovery", url)
    fetcher = HttpFetcher(
        connect_timeout=settings.connect_timeout_seconds,
        read_timeout=settings.read_timeout_seconds,
        max_response_bytes=settings.max_response_bytes,
    )
    try:
        document = fetcher.get_json(url, ca_bundle=ca_bundle)
    except FetchError as err:
        report.add("failed", str(err))
        fix = keysets.remedy(str(err), tls_reason=None, entry_name="the issuer")
        if fix:
            report.more(f"fix: {fix}")
        if WELL_KNOWN not in target:
            report.more(
                "hint: B2C and External ID publish discovery elsewhere than issuer + "
                f"{WELL_KNOWN}: pass the discovery URL itself"
            )
        return report, found
    if not isinstance(document, dict) or not isinstance(document.get("issuer"), str):
        report.add("failed", "not an OpenID Connect discovery document (no issuer)")
        return report, found
    issuer = str(document["issuer"])
    jwks_uri = document.get("jwks_uri")
    report.add("issuer", shown(issuer))
    report.add("jwks_uri", shown(jwks_uri))
    _recognise(found, issuer, url, target, document)
    report.add("provider", f"{found.provider} (profile {found.profile})")
    for note in found.notes:
        report.more(note)
    algorithms = _algorithms(report, fetcher, jwks_uri, ca_bundle)
    _entry(found, issuer, url, audiences, algorithms, ca_bundle)
    _verify(report, found, settings)
    report.blank()
    report.lines.append("issuers[] entry:")
    report.lines.append(json.dumps(found.entry, indent=2))
    report.blank()
    report.lines.append("samconfig.toml parameter_overrides (simple mode):")
    report.lines.extend(f'  "{name}={value}",' for name, value in found.parameters.items())
    if not audiences:
        report.lines.append(
            f"(replace {AUDIENCE_PLACEHOLDER} with the aud your API's tokens carry: "
            "--audience to fill it in)"
        )
    return report, found


def _recognise(
    found: Discovery, issuer: str, url: str, target: str, document: dict[str, Any]
) -> None:
    host = urlsplit(issuer).hostname or ""
    policy = _B2C_METADATA.search(url)
    default_url = issuer.rstrip("/") + WELL_KNOWN
    if (policy and re.search(rf"/{_GUID}/v2\.0/$", issuer)) or host.endswith("b2clogin.com"):
        found.provider, found.profile = "Entra ID B2C", "entra-b2c"
        found.notes.append(
            "per-policy metadata: the document is served under the policy "
            f"({policy.group(1) if policy else 'in the URL'}), its issuer names none, so "
            "discovery_url must be given"
        )
    elif "{tenantid}" in issuer:
        found.provider, found.profile = "Entra ID, multi-tenant metadata", "entra-id"
        found.notes.append(
            "the issuer is a template: tokens carry their tenant in place of {tenantid}; "
            "list the tenants you accept (tenants)"
        )
    elif host.endswith("ciamlogin.com") or (
        re.search(rf"/{_GUID}/v2\.0$", issuer) and urlsplit(url).hostname != host
    ):
        found.provider, found.profile = "Entra External ID", "entra-external-id"
        found.notes.append(
            f"the issuer is on {host}, the discovery document elsewhere "
            f"({urlsplit(url).hostname}): discovery_url must be given"
        )
    elif "sts.windows.net" in host:
        found.provider, found.profile = "Entra ID (v1 tokens)", "entra-id"
        found.notes.append(
            "v1 tokens: aud is the App ID URI as requested (api://x or api://x/) or the client "
            "id; list every form in audiences"
        )
    elif re.search(rf"/{_GUID}/v2\.0$", issuer) or "tenant_region_scope" in document:
        found.provider, found.profile = "Entra ID (v2 tokens)", "entra-id"
        found.notes.append("app permissions arrive in roles, delegated scopes in scp")
    elif issuer.rstrip("/").endswith("/oauth2/token"):
        found.provider, found.profile = "WSO2 Identity Server / Asgardeo", "wso2"
        found.notes.append(
            "aud is the client id: list the client id of every application allowed to call "
            "the API; the application must issue JWT access tokens (not opaque)"
        )
    elif "cognito-idp." in host or _COGNITO_POOL.search(issuer.rstrip("/")):
        found.provider, found.profile = "Amazon Cognito user pool", "cognito"
        found.notes.append(
            "access tokens have no aud: audiences holds the app client ids (compared with "
            "client_id); scopes are <resource-server>/<scope>"
        )
    else:
        found.provider, found.profile = "generic OpenID Connect", "oidc"
    if url != default_url and found.profile not in ("entra-b2c", "entra-external-id"):
        found.notes.append(f"discovery is not at issuer + {WELL_KNOWN}: discovery_url is given")
    if issuer != target.rstrip("/") and WELL_KNOWN not in target and issuer != target:
        found.notes.append(
            f"the document names issuer {shown(issuer)}, not {shown(target)}: tokens carry the "
            "document's value"
        )


def _algorithms(
    report: Report, fetcher: HttpFetcher, jwks_uri: object, ca_bundle: str | None
) -> list[str]:
    """The algorithms the published keys are for."""
    if not isinstance(jwks_uri, str):
        report.add("keys", "no jwks_uri in the document")
        return ["RS256"]
    try:
        document = fetcher.get_json(jwks_uri, ca_bundle=ca_bundle)
    except FetchError as err:
        report.add("keys", f"failed: {err}")
        return ["RS256"]
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        report.add("keys", "not a key set")
        return ["RS256"]
    found: list[str] = []
    shown_keys = []
    for key in keys:
        if not isinstance(key, dict):
            continue
        alg = key.get("alg") or _ALGORITHMS_BY_KEY.get(
            str(key.get("crv") or key.get("kty")), "EdDSA" if key.get("kty") == "OKP" else None
        )
        use = key.get("use")
        if isinstance(alg, str) and use in (None, "sig") and alg not in found:
            found.append(alg)
        shown_keys.append(f"kid {shown(key.get('kid'))} {key.get('kty')} {alg or '?'} use {use}")
    report.add("keys", f"{len(keys)} published", *shown_keys[:8])
    return found or ["RS256"]


def _entry(
    found: Discovery,
    issuer: str,
    url: str,
    audiences: list[str] | None,
    algorithms: list[str],
    ca_bundle: str | None,
) -> None:
    entry: dict[str, Any] = {
        "issuer": issuer,
        "audiences": audiences or [AUDIENCE_PLACEHOLDER],
        "profile": found.profile,
    }
    if "{tenantid}" in issuer:
        entry["tenants"] = ["<tenant GUID>"]
    if url != issuer.rstrip("/") + WELL_KNOWN:
        entry["discovery_url"] = url
    if algorithms != ["RS256"]:
        entry["algorithms"] = algorithms
    if ca_bundle:
        entry["ca_bundle"] = ca_bundle
    found.entry = entry
    parameters = {
        "IssuerProfile": found.profile,
        "Issuer": issuer,
        "Audience": ",".join(audiences or [AUDIENCE_PLACEHOLDER]),
    }
    if "discovery_url" in entry:
        parameters["DiscoveryUrl"] = url
    parameters["Algorithms"] = ",".join(algorithms)
    found.parameters = parameters


def _verify(report: Report, found: Discovery, settings: KeySettings) -> None:
    """The entry through the function's loader and key cache: it must load and fetch keys."""
    if "tenants" in found.entry:
        report.add("verified", "not verified: fill in tenants first (a {tenantid} issuer)")
        return
    try:
        config = parse_config({"issuers": [found.entry], "keys": _keys_document(settings)})
    except ConfigError as err:
        report.add("verified", f"the function refuses this entry: {err}")
        return
    registry, _fetcher, events = keysets.registry(config.keys, fetch=True)
    sources = KeySources(config.issuers, registry)
    entry = config.issuers[0]
    ready = True
    for source in sources.of(entry, None):
        source.start_prefetch()
        ready = source.finish_prefetch() and ready
    failures = [detail for _s, ok, _t, detail in events.fetches if not ok]
    if not ready or failures:
        report.add(
            "verified", f"the function's key cache failed: {failures[-1] if failures else ''}"
        )
        return
    snapshots = [s.snapshot for s in sources.of(entry, None)]
    usable = sum(len(snap.keys) for snap in snapshots if snap is not None)
    if not usable:
        report.add("verified", "the key set holds no key usable with these algorithms")
        return
    report.add(
        "verified",
        f"the function loads this entry and its key cache fetched {usable} usable "
        f"key{'s' if usable != 1 else ''}",
    )
    found.ok = True


def _keys_document(settings: KeySettings) -> dict[str, Any]:
    return {
        "connect_timeout_seconds": settings.connect_timeout_seconds,
        "read_timeout_seconds": settings.read_timeout_seconds,
    }
