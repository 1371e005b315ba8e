"""The local stack (identity provider + API Gateway emulator) behind ``demo`` and ``serve``.

:class:`LocalStack` starts the development IdP on 127.0.0.1, points the template's authorizer at
it through parameter overrides (issuer, audience, and the per-policy discovery URL B2C needs),
builds the authorizer the way its Lambda init does (``Authorizer.from_environ`` on the
function's resolved environment) and serves ``template.yaml`` with the emulator. The end-to-end
tests use the same class, so the demo and the tests cannot drift apart.

Only loopback addresses are ever configured: :class:`LocalStack` refuses an IdP whose URLs are
not on 127.0.0.1, because the authorizer fetches whatever it is pointed at.

Also here: the client-credentials grant against a local IdP (what ``token`` and the demo do)
and the state file through which ``token`` finds a running ``serve``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import requests

from devkit.constants import require_loopback
from devkit.emulator import Emulator
from devkit.idp import (
    DEFAULT_CLIENTS_FILE,
    DpopKey,
    LocalIdentityProvider,
    Profile,
    load_clients,
    scope_values,
)
from devkit.paths import AUTHORIZER_SRC, TEMPLATE, state_dir
from devkit.runtime import FunctionError, Handler, LambdaRuntime
from devkit.template import load_template, read_template

__all__ = [
    "AUTHORIZER",
    "IDENTITY_PARAMETERS",
    "LocalStack",
    "client_credentials",
    "http_session",
    "running_idp_url",
    "stack_parameters",
    "state_file",
    "user_parameters",
]

AUTHORIZER: Final = "AuthorizerFunction"

AuthorizerFactory = Callable[[Mapping[str, str]], Handler]


def state_file() -> Path:
    """Written by ``serve`` so that ``python -m devkit token`` finds the running IdP."""
    return state_dir() / "serve.json"


def _default_authorizer(environment: Mapping[str, str]) -> Handler:
    """What ``jwt_authorizer.app`` does at init, on an explicit environment."""
    from jwt_authorizer import Authorizer

    return Authorizer.from_environ(environment)


def _dpop_authorizer(environment: Mapping[str, str]) -> Handler:
    """The same, with DPoP proofs remembered in memory: there is no DynamoDB table locally (and
    one execution environment serves every request)."""
    from jwt_authorizer import Authorizer
    from jwt_authorizer.replay import MemoryReplayStore

    return Authorizer.from_environ(environment, replay_store=MemoryReplayStore())


def stack_parameters(idp: LocalIdentityProvider) -> dict[str, str]:
    """Template parameter overrides that make the authorizer trust ``idp`` (and only it)."""
    if idp.audience is None:  # WSO2's aud is the client id; Cognito's audiences are client ids
        audience = ",".join(sorted(idp.audience_for(client) for client in idp.clients))
    else:
        audience = idp.audience
    require_loopback(idp.issuer, idp.discovery_url)
    return {
        "Issuer": idp.issuer,
        "Audience": audience,
        "IssuerProfile": idp.profile,
        # B2C publishes discovery only under the per-policy URL: it must be given explicitly.
        "DiscoveryUrl": idp.discovery_url,
    }


def profile_routes(idp: LocalIdentityProvider, template: Path) -> dict[str, str]:
    """The template's default ``Routes`` with the permissions named as ``idp``'s tokens name
    them (Cognito: ``orders-api/app.read``); nothing when they are named alike."""
    if idp.profile != "cognito":
        return {}
    default = read_template(template).get("Parameters", {}).get("Routes", {}).get("Default")
    if not isinstance(default, str):
        return {}
    rules = json.loads(default)
    for rule in rules:
        for key in ("scopes", "all_scopes"):
            if key in rule:
                rule[key] = scope_values(idp.profile, rule[key])
    return {"Routes": json.dumps(rules, separators=(",", ":"))}


#: The template parameters that name the identity provider: ``serve`` and ``demo`` point them at
#: the local one whatever a user's configuration says (nothing but 127.0.0.1 is ever fetched).
IDENTITY_PARAMETERS: Final = frozenset(
    {"Issuer", "Audience", "IssuerProfile", "DiscoveryUrl", "JwksUri", "AllowedClientIds"}
)


def user_parameters(
    user: Mapping[str, str],
) -> Callable[[LocalIdentityProvider], dict[str, str]]:
    """A user's template parameters (``samconfig.toml``, ``--parameter-overrides``, an
    ``AuthConfig`` document) for :class:`LocalStack`, made to trust the local IdP only.

    Simple mode keeps everything but :data:`IDENTITY_PARAMETERS`. A document keeps its routes
    and settings, its ``issuers`` become the local IdP's one entry (with the first issuer's
    ``scope_claims`` and ``principal_claims``), and route rules lose their ``issuers`` lists,
    which name issuers the local stack does not have. An unreadable document is a ValueError."""
    kept = {k: v for k, v in user.items() if k not in IDENTITY_PARAMETERS}
    kept.pop("AuthConfigSsmParameter", None)

    def parameters(idp: LocalIdentityProvider) -> dict[str, str]:
        text = kept.get("AuthConfig", "").strip()
        if not text:
            return dict(kept)
        if text.startswith("file:"):
            text = (AUTHORIZER_SRC / text[len("file:") :]).read_text(encoding="utf-8")
        document = json.loads(text)
        if not isinstance(document, dict):
            raise ValueError("AuthConfig: not a JSON object")
        first = (document.get("issuers") or [{}])[0]
        local = stack_parameters(idp)
        entry: dict[str, Any] = {
            "issuer": local["Issuer"],
            "audiences": local["Audience"].split(","),
            "profile": idp.profile,
            "discovery_url": local["DiscoveryUrl"],
        }
        if isinstance(first, dict):
            entry.update({k: first[k] for k in ("scope_claims", "principal_claims") if k in first})
        document["issuers"] = [entry]
        for rule in document.get("routes") or []:
            if isinstance(rule, dict):
                rule.pop("issuers", None)
        return kept | {"AuthConfig": json.dumps(document, separators=(",", ":"))}

    return parameters


class LocalStack:
    """The local IdP and the emulator, wired together on 127.0.0.1; a context manager.

    ``parameters`` adds template parameter overrides (e.g. ``AuthConfig``) on top of
    :func:`stack_parameters`; ``authorizer_factory`` builds the authorizer from the function's
    resolved environment (tests inject one with a fake key-cache clock); ``idp_audience`` is the
    ``aud`` the identity provider puts in its tokens (default: its profile's). ``dpop``
    (``allowed`` or ``required``) sets the template's ``Dpop`` parameter, a cache TTL of 0 as
    the template demands with it, and an in-memory replay store.
    """

    def __init__(
        self,
        *,
        template: str | Path = TEMPLATE,
        profile: Profile = "entra-b2c",
        idp_port: int = 0,
        ports: Mapping[str, int] | None = None,
        parameters: Callable[[LocalIdentityProvider], Mapping[str, str]] | None = None,
        authorizer_factory: AuthorizerFactory = _default_authorizer,
        signing_key_pem: str | bytes | None = None,
        emulator_clock: Callable[[], float] = time.monotonic,
        idp_audience: str | None = None,
        dpop: str = "off",
    ) -> None:
        self.template = Path(template)
        self._dpop = dpop
        if dpop != "off" and authorizer_factory is _default_authorizer:
            authorizer_factory = _dpop_authorizer
        self.idp = LocalIdentityProvider(
            profile=profile, port=idp_port, signing_key_pem=signing_key_pem, audience=idp_audience
        )
        self._ports = dict(ports or {})
        self._parameters = parameters
        self._factory = authorizer_factory
        self._clock = emulator_clock
        self.environment: dict[str, str] = {}
        self.parameter_overrides: dict[str, str] = {}
        self._emulator: Emulator | None = None

    @property
    def emulator(self) -> Emulator:
        if self._emulator is None:
            raise RuntimeError("the stack is not started")
        return self._emulator

    def start(self) -> Self:
        """Start the IdP, build the authorizer (prefetching keys from it), then the emulator."""
        self.idp.start()
        try:
            overrides = stack_parameters(self.idp) | profile_routes(self.idp, self.template)
            if self._dpop != "off":
                overrides |= {"Dpop": self._dpop, "AuthorizerCacheTtl": "0"}
            if self._parameters is not None:
                overrides.update(self._parameters(self.idp))
            self.parameter_overrides = overrides
            function = load_template(self.template, parameter_overrides=overrides).functions[
                AUTHORIZER
            ]
            # The authorizer's init phase, done now: it prefetches the IdP's keys.
            runtime = LambdaRuntime(function, init=self._factory)
            error = runtime.initialise()
            if error is not None:
                raise FunctionError(error["errorType"], error["errorMessage"])
            self.environment = dict(runtime.environment)
            self._emulator = Emulator(
                self.template,
                parameter_overrides=overrides,
                functions={AUTHORIZER: runtime},
                ports=self._ports,
                clock=self._clock,
            ).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop whatever was started; safe to call twice."""
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None
        self.idp.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def rest_url(self) -> str:
        return self.emulator.url("RestApi")

    @property
    def http_url(self) -> str:
        return self.emulator.url("HttpApi")

    @property
    def authorizer_invocations(self) -> int:
        return self.emulator.invocation_count(AUTHORIZER)

    def token_scope(self) -> str:
        """The ``scope`` a real client of this provider sends for the API's permissions."""
        return self.idp.client_scope()

    def get_token(self, client_id: str, session: requests.Session | None = None) -> str:
        """An access token for ``client_id`` through the token endpoint (client credentials)."""
        answer = client_credentials(
            self.idp.base_url, client_id, scope=self.token_scope() or None, session=session
        )
        return str(answer["access_token"])


# --------------------------------------------------------------------------------------------
# Talking to a local IdP over HTTP
# --------------------------------------------------------------------------------------------


def http_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback only: never through a proxy
    return session


def client_credentials(
    idp_url: str,
    client_id: str,
    *,
    secret: str | None = None,
    scope: str | None = None,
    session: requests.Session | None = None,
    dpop: DpopKey | None = None,
) -> dict[str, Any]:
    """The client-credentials grant against a local IdP (its index names the token endpoint);
    with ``dpop``, a DPoP proof of that key goes along and the token is bound to it."""
    require_loopback(idp_url)
    if secret is None:
        clients = load_clients(DEFAULT_CLIENTS_FILE)
        if client_id not in clients:
            raise ValueError(f"unknown client {client_id!r}; pass its secret")
        secret = clients[client_id].client_secret
    http = session if session is not None else http_session()
    index = http.get(idp_url.rstrip("/") + "/", timeout=5).json()
    endpoint = str(index["token_endpoint"])
    require_loopback(endpoint)
    form = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
    headers = {"DPoP": dpop.proof("POST", endpoint)} if dpop is not None else {}
    response = http.post(endpoint, data=form, auth=(client_id, secret), headers=headers, timeout=5)
    document: dict[str, Any] = response.json()
    if response.status_code != 200:
        raise ValueError(f"token endpoint answered {response.status_code}: {document}")
    return document


def running_idp_url() -> str | None:
    """The IdP of a running ``serve``, if its state file exists and it answers."""
    try:
        state = json.loads(state_file().read_text(encoding="utf-8"))
        url = str(state["idp"])
        require_loopback(url)
        with http_session() as http:
            http.get(url + "/", timeout=0.5).raise_for_status()
    except (OSError, ValueError, KeyError, requests.RequestException):
        return None
    return url
