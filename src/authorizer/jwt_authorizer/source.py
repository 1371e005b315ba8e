"""Where the configuration comes from: the environment, a file in the package, or SSM.

Every environment variable the function reads is read here, once, at init: ``AUTH_CONFIG`` (a
JSON document, ``file:<path>`` or ``ssm:<parameter-name>``), simple mode's ``ISSUER``,
``AUDIENCE``, ... (translated into the ``AUTH_CONFIG`` shape, so the two can never disagree),
``RESPONSE_MODE``, and the Powertools and tracing settings. :mod:`config` validates the result.
Secrets the configuration names by reference (an introspection client's secret) are read here
too (:func:`read_secret`), from SSM Parameter Store or Secrets Manager.

:func:`early_fetches` reads the same document at the very start of init, without validating it,
for the one thing that cannot wait: the key documents to start downloading. It imports nothing
that ``requests`` would not import anyway.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .errors import ConfigError
from .fetch import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_READ_TIMEOUT,
    EarlyFetches,
    EarlyTarget,
)

if TYPE_CHECKING:
    from .observe import Telemetry

_WELL_KNOWN = "/.well-known/openid-configuration"

# How long Powertools Parameters keeps a value before it reads the store again (its cache).
_PARAMETER_MAX_AGE_SECONDS = 300


def read_document(env: Mapping[str, str], base: Path) -> dict[str, Any]:
    """The configuration document: ``AUTH_CONFIG`` when set, else simple mode; with
    ``RESPONSE_MODE`` applied (it must agree with the document)."""
    raw = (env.get("AUTH_CONFIG") or "").strip()
    document = _read_auth_config(raw, base) if raw else _simple_mode_document(env)
    if raw:
        _check_dpop_variable(env, document)
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
    _apply_dpop_variables(env, document)
    return document


def _check_dpop_variable(env: Mapping[str, str], document: Mapping[str, Any]) -> None:
    """With ``AUTH_CONFIG``, ``DPOP`` (the template's ``Dpop`` parameter) cannot set a mode: the
    document must, or the parameter would be silently ignored (bearer tokens accepted where the
    deployment asked for DPoP). An issuer must therefore set the same mode."""
    mode = (env.get("DPOP") or "").strip()
    if mode in ("", "off"):
        return
    if mode not in ("allowed", "required"):
        raise ConfigError("DPOP", "must be off, allowed or required")
    issuers = document.get("issuers")
    if not isinstance(issuers, list) or not any(
        isinstance(entry, dict) and entry.get("dpop") == mode for entry in issuers
    ):
        raise ConfigError(
            "DPOP",
            f'is {mode!r} but no issuer of AUTH_CONFIG sets "dpop": "{mode}"; with '
            "AUTH_CONFIG the mode is set per issuer in the document",
        )


def _apply_dpop_variables(env: Mapping[str, str], document: dict[str, Any]) -> None:
    """``DPOP_REPLAY_TABLE`` and ``DPOP_AUTHORIZER_CACHE_OFF`` (the template sets both when its
    ``Dpop`` parameter is on: it creates the table and gives its DPoP-capable authorizers a TTL
    of 0) fill in the ``dpop`` block of a document that enables DPoP on an issuer, unless the
    document sets those keys itself. Without such an issuer they are ignored."""
    table = (env.get("DPOP_REPLAY_TABLE") or "").strip()
    cache_off = (env.get("DPOP_AUTHORIZER_CACHE_OFF") or "").strip().lower()
    if cache_off not in ("", "true", "false"):
        raise ConfigError("DPOP_AUTHORIZER_CACHE_OFF", "must be true or false")
    issuers = document.get("issuers")
    enabled = isinstance(issuers, list) and any(
        isinstance(entry, dict) and entry.get("dpop", "off") != "off" for entry in issuers
    )
    if not enabled or not (table or cache_off):
        return
    block = document.setdefault("dpop", {})
    if not isinstance(block, dict):
        return  # the configuration check names it
    if table and block.get("replay_store", "dynamodb") == "dynamodb":
        block.setdefault("replay_table", table)
    if cache_off:
        block.setdefault("authorizer_cache_off", cache_off == "true")


def read_telemetry(env: Mapping[str, str]) -> Telemetry:
    """Logging, metrics and tracing settings (Powertools' variable names)."""
    from .observe import Telemetry

    defaults = Telemetry()
    level = (env.get("POWERTOOLS_LOG_LEVEL") or defaults.log_level).strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError("POWERTOOLS_LOG_LEVEL", "must be DEBUG, INFO, WARNING or ERROR")
    return Telemetry(
        service=(env.get("POWERTOOLS_SERVICE_NAME") or "").strip() or defaults.service,
        namespace=(env.get("POWERTOOLS_METRICS_NAMESPACE") or "").strip() or defaults.namespace,
        log_level=level,
        tracing=(env.get("AUTHORIZER_TRACING") or "").strip().lower() == "true",
    )


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
        value = parameters.get_parameter(name, decrypt=True, max_age=_PARAMETER_MAX_AGE_SECONDS)
    except Exception as err:
        raise ConfigError("AUTH_CONFIG", f"cannot read SSM parameter {name}: {err}") from err
    return str(value)


def read_secret(reference: str, force: bool = False) -> str:
    """A secret by reference: ``ssm:<parameter name>`` (a SecureString, decrypted) or
    ``secretsmanager:<secret name or ARN>`` (its ``SecretString``, or its binary as UTF-8).

    Read through Powertools Parameters, whose cache answers for five minutes without a network
    call (``force`` bypasses it: a secret the endpoint refused may have been rotated). Only this
    path imports boto3, and only when an issuer's introspection needs a secret. Errors carry the
    reference, never a value."""
    kind, _, name = reference.partition(":")
    from aws_lambda_powertools.utilities import parameters

    value: object
    if kind == "ssm":
        value = cast(
            object,
            parameters.get_parameter(
                name, decrypt=True, max_age=_PARAMETER_MAX_AGE_SECONDS, force_fetch=force
            ),
        )
    elif kind == "secretsmanager":
        value = cast(
            object,
            parameters.get_secret(name, max_age=_PARAMETER_MAX_AGE_SECONDS, force_fetch=force),
        )
    else:
        raise ValueError(f"{kind or reference[:20]!r} is not ssm: or secretsmanager:")
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if not isinstance(value, str):
        raise ValueError(f"{reference} does not hold a string")
    return value


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
        "dpop": env.get("DPOP"),
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


# --------------------------------------------------------------------------- early fetches


def early_fetches(environ: Mapping[str, str] | None = None, *, base: Path) -> EarlyFetches | None:
    """The key documents the configuration will fetch first, read from the environment before
    anything is validated (``os.environ`` by default); None when there is nothing to fetch.

    Only what is certain without validation is fetched: per issuer, its ``jwks_uri`` list, or
    its discovery documents (``discovery_url``, else the issuer's well-known URL) and the key
    set each names when it names the expected issuer. Issuers with inline keys or a
    ``{tenantid}`` template are left to the key cache. A configuration that is not even JSON,
    or one read from SSM (which init reads with boto3), fetches nothing early; for SSM the
    worker still imports ``requests`` while boto3 loads. Never raises: :func:`read_document`
    and the validation report any problem, with the field at fault.
    """
    env = os.environ if environ is None else environ
    try:
        if (env.get("AUTH_CONFIG") or "").strip().startswith("ssm:"):
            return EarlyFetches(())
        document = read_document(env, base)
        entries = document.get("issuers") or ()
        targets = tuple(dict.fromkeys(t for entry in entries for t in _targets(entry, base)))
        keys = document.get("keys") or {}
        limits = (
            _positive(keys, "connect_timeout_seconds", DEFAULT_CONNECT_TIMEOUT),
            _positive(keys, "read_timeout_seconds", DEFAULT_READ_TIMEOUT),
            int(_positive(keys, "max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES)),
        )
    except Exception:  # anything odd: no head start, the validation says what is wrong
        return None
    if not targets:
        return None
    connect, read, size = limits
    return EarlyFetches(
        targets, connect_timeout=connect, read_timeout=read, max_response_bytes=size
    )


def _targets(entry: object, base: Path) -> list[EarlyTarget]:
    if not isinstance(entry, dict) or "jwks" in entry:
        return []
    issuer = entry.get("issuer")
    if not isinstance(issuer, str) or "{tenantid}" in issuer:
        return []
    ca_bundle = entry.get("ca_bundle")
    if ca_bundle is not None:
        if not isinstance(ca_bundle, str):
            return []
        path = Path(ca_bundle)
        ca_bundle = str(path if path.is_absolute() else base / path)
    jwks_uris = _strings(entry.get("jwks_uri"))
    if jwks_uris:
        return [EarlyTarget(url, ca_bundle) for url in jwks_uris]
    expected = entry.get("discovery_issuer") or issuer
    if not isinstance(expected, str):
        return []
    urls = _strings(entry.get("discovery_url")) or [issuer.rstrip("/") + _WELL_KNOWN]
    return [EarlyTarget(url, ca_bundle, frozenset({expected})) for url in urls]


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return []


def _positive(keys: object, name: str, default: float) -> float:
    value = keys.get(name, default) if isinstance(keys, dict) else default
    valid = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    return float(value) if valid else default
