"""Key sets as the function fetches them, recorded for a report.

:class:`RecordingFetcher` is the function's own transport (``jwt_authorizer.fetch.HttpFetcher``,
with the configuration's timeouts and size cap) wrapped to remember every document and failure;
without ``--fetch`` it refuses to fetch, and the key cache then reports the keys unavailable, as
the function would. :class:`RecordingEvents` receives what the key cache reports (the same
``key set fetch failed`` details the function logs). Nothing here decides anything: the key
cache (``jwt_authorizer.keys``) does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from jwt_authorizer.fetch import FetchError, HttpFetcher
from jwt_authorizer.issuers import IssuerConfig
from jwt_authorizer.jwk import KeySet
from jwt_authorizer.keyring import KeyRegistry
from jwt_authorizer.keys import KeySettings, SourceSpec
from jwt_authorizer.signature import source_specs

__all__ = [
    "NOT_FETCHED",
    "Fetched",
    "RecordingEvents",
    "RecordingFetcher",
    "describe_keys",
    "describe_spec",
    "registry",
    "remedy",
    "specs_of",
]

#: The failure a refused fetch reports (the function would have fetched).
NOT_FETCHED: Final = "not fetched (run with --fetch to fetch it, as the function does)"
_TLS_REASON: Final = re.compile(
    r"(certificate verify failed: [^(')\]]+|hostname mismatch[^(')\]]*|"
    r"wrong version number|unknown ca|self[- ]signed certificate[^(')\]]*)",
    re.IGNORECASE,
)


@dataclass
class Fetched:
    """One document fetched (or not)."""

    url: str
    ca_bundle: str | None
    document: Any = None
    error: str | None = None
    #: For a TLS failure: why the certificate was refused.
    tls_reason: str | None = None


class RecordingFetcher:
    """The function's fetcher, remembering what it fetched; refuses when ``enabled`` is off."""

    def __init__(self, settings: KeySettings, *, enabled: bool) -> None:
        self.enabled = enabled
        self.fetched: list[Fetched] = []
        self._inner = HttpFetcher(
            connect_timeout=settings.connect_timeout_seconds,
            read_timeout=settings.read_timeout_seconds,
            max_response_bytes=settings.max_response_bytes,
        )

    def get_json(self, url: str, *, ca_bundle: str | None) -> object:
        record = Fetched(url, ca_bundle)
        self.fetched.append(record)
        if not self.enabled:
            record.error = NOT_FETCHED
            raise FetchError(NOT_FETCHED)
        try:
            record.document = self._inner.get_json(url, ca_bundle=ca_bundle)
        except FetchError as err:
            record.error = str(err)
            record.tls_reason = _tls_reason(err)
            raise
        return record.document

    def get(self, url: str) -> Fetched | None:
        """The last fetch of ``url``."""
        return next((item for item in reversed(self.fetched) if item.url == url), None)


def _tls_reason(err: BaseException) -> str | None:
    """Why a TLS handshake failed, from the exception chain (``requests`` wraps ``ssl``)."""
    cause: BaseException | None = err.__cause__
    while cause is not None:
        found = _TLS_REASON.search(str(cause))
        if found:
            return found.group(1).strip()
        cause = cause.__cause__ or cause.__context__
    return None


@dataclass
class RecordingEvents:
    """What the key cache reports (the ``KeyEvents`` protocol)."""

    fetches: list[tuple[str, bool, str, str]] = field(default_factory=list)
    empty: list[tuple[str, dict[str, int]]] = field(default_factory=list)

    def key_fetch(self, source: str, *, ok: bool, trigger: str, detail: str) -> None:
        self.fetches.append((source, ok, trigger, detail))

    def stale_keys(self, source: str, *, age_seconds: float) -> None:
        return None

    def key_set_empty(self, source: str, *, skipped: Mapping[str, int]) -> None:
        self.empty.append((source, dict(skipped)))


def registry(
    settings: KeySettings, *, fetch: bool
) -> tuple[KeyRegistry, RecordingFetcher, RecordingEvents]:
    """A key registry like the function's, recording what it fetches."""
    fetcher = RecordingFetcher(settings, enabled=fetch)
    events = RecordingEvents()
    return KeyRegistry(settings, fetcher=fetcher, events=events), fetcher, events


def specs_of(entry: IssuerConfig) -> list[tuple[str | None, SourceSpec]]:
    """Every key set an issuer uses, with its tenant (templated issuers: one per tenant)."""
    tenants: list[str | None] = [*sorted(entry.tenants)] if entry.templated else [None]
    return [(tenant, spec) for tenant in tenants for spec in source_specs(entry, tenant)]


def describe_spec(spec: SourceSpec) -> str:
    """Where a key set comes from, in one line."""
    if spec.inline_id is not None:
        return "inline jwks (no network)"
    if spec.jwks_uri:
        return f"jwks_uri {spec.jwks_uri}"
    expected = " or ".join(repr(name) for name in sorted(spec.expected_issuers))
    return f"discovery {spec.discovery_url} (must name issuer {expected})"


def describe_keys(snapshot: KeySet | None) -> str:
    """``2 usable keys: kid 'abc' RSA (RS256 PS256), ...; 1 skipped (not_for_signing 1)``."""
    if snapshot is None:
        return "no keys"
    shown = []
    for key in snapshot.keys[:8]:
        kid = repr(key.kid) if key.kid is not None else "(no kid)"
        shown.append(f"kid {_cut(kid, 48)} {key.kty} ({' '.join(sorted(key.verifiers))})")
    if len(snapshot.keys) > 8:
        shown.append(f"+{len(snapshot.keys) - 8} more")
    text = f"{len(snapshot.keys)} usable key{'s' if len(snapshot.keys) != 1 else ''}"
    if shown:
        text += ": " + ", ".join(shown)
    skipped = sum(snapshot.skipped.values())
    if skipped:
        reasons = ", ".join(
            f"{reason} {count}" for reason, count in sorted(snapshot.skipped.items())
        )
        text += f"; {skipped} skipped ({reasons})"
    return text


def remedy(detail: str, *, tls_reason: str | None, entry_name: str) -> str | None:
    """What to do about a failed fetch, from its detail (the function's own message)."""
    if detail.startswith("discovery document names a different issuer"):
        return (
            f"set {entry_name}.discovery_issuer to the issuer the document names (B2C per-policy "
            "metadata, an External ID host variant, a tfp issuer), or use jwks_uri"
        )
    if "SSLError" in detail:
        why = f" ({tls_reason})" if tls_reason else ""
        return (
            f"the server's certificate is not trusted{why}: set {entry_name}.ca_bundle to a PEM "
            "of its CA, relative to the function root (e.g. certs/idp-ca.pem for "
            "src/authorizer/certs/idp-ca.pem, /var/task/certs/idp-ca.pem on Lambda)"
        )
    if detail.startswith("HTTP 404") and "/.well-known/openid-configuration" in detail:
        return (
            f"no discovery document at that URL (the default one is the issuer + "
            f"/.well-known/openid-configuration): set {entry_name}.discovery_url to the "
            "provider's metadata URL (B2C: the policy's) or give jwks_uri"
        )
    if detail.startswith("HTTP 30"):
        return "redirects are not followed: configure the final URL"
    if "ConnectionError" in detail or "ConnectTimeout" in detail or "ReadTimeout" in detail:
        return "the identity provider cannot be reached from here (network, firewall, host name)"
    if detail.startswith("no answer within"):
        return "the server answers too slowly: raise keys.read_timeout_seconds, or fix the server"
    return None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
