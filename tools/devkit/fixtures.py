"""Regenerate ``events/``: ``sam local invoke`` fixtures, ``env.json`` and expected answers.

``python -m devkit fixtures`` (or ``make fixtures``) rewrites every generated file from two
fixed inputs, so the output is byte-for-byte reproducible and a diff shows real changes only:

* the committed development key ``events/dev-signing-key.pem`` (development only: it signs
  tokens for the issuer below and nothing else, and is public by design);
* a fixed clock: tokens are issued at ``FIXED_NOW`` (2025-01-01) and, except the expired one,
  expire in 2100, so the authorizer's real-time checks need no clock injection.

Tokens are minted by the local IdP (:mod:`devkit.idp`, Entra B2C shape) under
``https://dev-issuer.invalid/...``: ``.invalid`` is a reserved TLD (RFC 2606), so this issuer can
never match a real one, and ``env.json`` carries the JWKS inline, so nothing is fetched.

Expected answers are recorded by running each fixture through :func:`devkit.invoke.invoke_function`
(the code path of ``python -m devkit invoke``); the replay test compares the same call's output
with them and also checks each outcome's meaning independently of the recording.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devkit.events import (
    SAMPLE_SOURCE_IP,
    SAMPLE_USER_AGENT,
    Request,
    Stage,
    client_request,
    http_authorizer_context,
    http_authorizer_event_v1,
    http_authorizer_event_v2,
    http_proxy_event_v2,
    rest_authorizer_context,
    rest_proxy_event,
    rest_request_event,
    token_event,
)
from devkit.idp import (
    DEFAULT_CLIENTS_FILE,
    DEFAULT_TENANT_ID,
    LocalIdentityProvider,
    Profile,
    load_clients,
)
from devkit.invoke import invoke_function
from devkit.paths import EVENTS_DIR, TEMPLATE

KEY_FILE_NAME: Final = "dev-signing-key.pem"

DEV_ISSUER_URL: Final = "https://dev-issuer.invalid"
#: The development issuer: the B2C shape (tenant GUID path, trailing slash) on a reserved TLD.
DEV_ISSUER: Final = f"{DEV_ISSUER_URL}/{DEFAULT_TENANT_ID}/v2.0/"
FIXED_NOW: Final = 1_735_689_600  # 2025-01-01T00:00:00Z: iat/nbf of every fixture token
FAR_FUTURE: Final = 4_102_444_800  # 2100-01-01T00:00:00Z: exp of the unexpired ones
EXPIRED_LIFETIME: Final = 3600  # the expired token lived one hour on 2025-01-01

#: The stages the fixtures' requests arrive on (made-up API ids, the template's stage names).
REST: Final = Stage(api_id="devrest001", name="v1")
HTTP: Final = Stage(api_id="devhttp001", name="$default")
SOURCE_IP: Final = SAMPLE_SOURCE_IP
USER_AGENT: Final = SAMPLE_USER_AGENT
_ID_NAMESPACE: Final = uuid.UUID("6f1d2c3b-8a47-4e59-9b0c-1d2e3f405162")

EventKind = Literal["rest-token", "rest-request", "http-v1", "http-v2"]
Outcome = Literal["allowed", "forbidden", "expired", "bad-signature", "missing-token"]
EVENT_KINDS: Final[tuple[EventKind, ...]] = ("rest-token", "rest-request", "http-v1", "http-v2")
OUTCOMES: Final[tuple[Outcome, ...]] = (
    "allowed",
    "forbidden",
    "expired",
    "bad-signature",
    "missing-token",
)

HEADER_NOTE: Final = (
    "DEVELOPMENT ONLY - NEVER USE IN PRODUCTION. This key signs the event fixtures' tokens for "
    f"the issuer {DEV_ISSUER} (a reserved .invalid name) and is public by design. "
    "Regenerate with: python -m devkit fixtures --new-key"
)


# --------------------------------------------------------------------------------------------
# Key and tokens
# --------------------------------------------------------------------------------------------


def read_key(events_dir: Path = EVENTS_DIR) -> bytes:
    """The committed development key (PEM, after the explanatory comment lines)."""
    path = events_dir / KEY_FILE_NAME
    text = path.read_text(encoding="ascii")
    start = text.index("-----BEGIN")
    return text[start:].encode("ascii")


def write_new_key(events_dir: Path) -> None:
    """Create a fresh development key, with a warning header no one can miss."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    header = "".join(f"# {line}\n" for line in _wrap(HEADER_NOTE, 96))
    events_dir.mkdir(parents=True, exist_ok=True)
    (events_dir / KEY_FILE_NAME).write_text(header + pem, encoding="ascii")


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return [*lines, current] if current else lines


def development_idp(
    *, now: float = FIXED_NOW, events_dir: Path = EVENTS_DIR, profile: Profile = "entra-b2c"
) -> LocalIdentityProvider:
    """An IdP (never started) that signs with the development key; in the default profile its
    issuer is ``DEV_ISSUER``, in the others that provider's issuer shape on the same host."""
    idp = LocalIdentityProvider(
        profile=profile,
        signing_key_pem=read_key(events_dir),
        public_url=DEV_ISSUER_URL,
        now=lambda: now,
    )
    assert profile != "entra-b2c" or idp.issuer == DEV_ISSUER, idp.issuer
    return idp


@dataclass(frozen=True)
class Shape:
    """How to shape a development token beyond its profile's standard claims: ``claims`` and
    ``header`` override members (``iss``, ``aud``, ``sub``, ``alg``, ``kid`` among them); an
    ``alg`` of ``none`` leaves the signature off (``header.payload.``). The signature is
    otherwise always RS256 with the development key, whatever the header claims."""

    profile: Profile = "entra-b2c"
    claims: Mapping[str, Any] = field(default_factory=dict)
    header: Mapping[str, Any] = field(default_factory=dict)


def mint_development_token(
    client_id: str,
    *,
    scopes: Sequence[str] | None = None,
    lifetime: int = 3600,
    shape: Shape | None = None,
    now: float | None = None,
) -> str:
    """A token accepted with ``events/env.json`` (default shape), valid from ``now`` (default:
    the clock) for ``lifetime`` seconds. An unknown client is a ValueError."""
    clients = load_clients(DEFAULT_CLIENTS_FILE)
    if client_id not in clients:
        raise ValueError(f"unknown client {client_id!r} (known: {', '.join(clients)})")
    shape = shape or Shape()
    idp = development_idp(now=time.time() if now is None else now, profile=shape.profile)
    token = idp.mint(
        client_id=client_id,
        scopes=scopes,
        lifetime=lifetime,
        claims=shape.claims,
        header=shape.header,
    )
    if shape.header.get("alg") == "none":
        return token.rpartition(".")[0] + "."
    return token


def ungranted_scopes(client_id: str, scopes: Sequence[str]) -> list[str]:
    """The ``scopes`` the devkit clients file does not grant ``client_id`` (which the real token
    endpoint would refuse: ``invalid_scope``)."""
    clients = load_clients(DEFAULT_CLIENTS_FILE)
    granted = set(clients[client_id].scopes) if client_id in clients else set()
    return [scope for scope in scopes if scope not in granted]


@dataclass(frozen=True)
class Tokens:
    """The fixture tokens; all but ``expired`` are valid until 2100."""

    reader: str  # reader-app, app.read
    writer: str  # writer-app, app.read app.write
    write_only: str  # writer-app asking only for app.write (no app.read)
    expired: str  # reader-app, expired 2025-01-01T01:00:00Z
    tampered: str  # reader's token with scp edited to add app.write: signature no longer matches


def make_tokens(idp: LocalIdentityProvider) -> Tokens:
    lifetime = FAR_FUTURE - FIXED_NOW
    reader = idp.mint(client_id="reader-app", scopes=["app.read"], lifetime=lifetime)
    header, payload, signature = reader.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scp"] = "app.read app.write"
    forged = (
        base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode())
        .rstrip(b"=")
        .decode("ascii")
    )
    return Tokens(
        reader=reader,
        writer=idp.mint(
            client_id="writer-app", scopes=["app.read", "app.write"], lifetime=lifetime
        ),
        write_only=idp.mint(client_id="writer-app", scopes=["app.write"], lifetime=lifetime),
        expired=idp.mint(client_id="reader-app", scopes=["app.read"], lifetime=EXPIRED_LIFETIME),
        tampered=f"{header}.{forged}.{signature}",
    )


# --------------------------------------------------------------------------------------------
# Events (the shapes come from devkit.events, as the emulator's do)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One client request, named after the fixture it becomes (the name seeds its ids)."""

    name: str
    method: str
    resource: str  # route template, e.g. /orders/{id}
    path: str
    authorization: str | None
    path_parameters: Mapping[str, str] | None = None
    body: str | None = None

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.resource}"

    def request(self, stage: Stage) -> Request:
        """The request as API Gateway receives it on ``stage``, ids and time fixed."""
        return client_request(
            self.method,
            self.path,
            stage=stage,
            authorization=self.authorization,
            resource=self.resource,
            path_parameters=self.path_parameters,
            body=self.body,
            user_agent=USER_AGENT,
            source_ip=SOURCE_IP,
            request_id=str(uuid.uuid5(_ID_NAMESPACE, self.name)),
            epoch_ms=FIXED_NOW * 1000,
        )


def authorizer_event(kind: EventKind, call: Call) -> dict[str, Any]:
    """The fixture of ``kind``: identity sources as template.yaml's authorizers have them."""
    present = [call.authorization] if call.authorization is not None else []
    if kind == "rest-token":
        return token_event(call.authorization or "", REST.arn(call.method, call.path))
    if kind == "rest-request":
        return rest_request_event(REST, call.request(REST))
    if kind == "http-v1":  # an API configured that way; the template's HttpApi uses 2.0
        return http_authorizer_event_v1(HTTP, call.request(HTTP), present)
    # the template's HTTP API identity sources: the Authorization header and the route key
    return http_authorizer_event_v2(HTTP, call.request(HTTP), [*present, call.route_key])


def authorizer_calls(tokens: Tokens) -> dict[tuple[EventKind, Outcome], Call]:
    """Which request each fixture carries.

    REST REQUEST fixtures call ``GET /orders/{id}`` (the template's REQUEST-authorizer route,
    which needs app.read); the others call ``POST /orders`` (app.write). "forbidden" is a valid
    token lacking the route's scope; "bad-signature" is the reader's token with ``scp`` edited to
    add app.write, which would pass if the signature were not checked.
    """
    result: dict[tuple[EventKind, Outcome], Call] = {}
    for kind in EVENT_KINDS:
        if kind == "rest-request":
            route: dict[str, Any] = {
                "method": "GET",
                "resource": "/orders/{id}",
                "path": "/orders/o-1001",
                "path_parameters": {"id": "o-1001"},
            }
            allowed, forbidden = tokens.reader, tokens.write_only
        else:
            route = {"method": "POST", "resource": "/orders", "path": "/orders"}
            allowed, forbidden = tokens.writer, tokens.reader
        by_outcome: dict[Outcome, str | None] = {
            "allowed": allowed,
            "forbidden": forbidden,
            "expired": tokens.expired,
            "bad-signature": tokens.tampered,
            "missing-token": None,
        }
        for outcome, token in by_outcome.items():
            name = f"{kind}-{outcome}"
            authorization = f"Bearer {token}" if token is not None else None
            result[(kind, outcome)] = Call(name=name, authorization=authorization, **route)
    return result


def backend_events(
    tokens: Tokens, rest_answer: Mapping[str, Any], http_answer: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Proxy events as the backend receives them after the allowed authorizer answers.

    REST: ``requestContext.authorizer`` is the answer's context with numbers and booleans turned
    into strings, plus ``principalId`` and ``integrationLatency``. HTTP 2.0 with simple
    responses: ``requestContext.authorizer.lambda`` is the context as returned (JSON types kept).
    """
    rest_call = Call(
        name="backend-rest-get-order",
        method="GET",
        resource="/orders/{id}",
        path="/orders/o-1001",
        authorization=f"Bearer {tokens.reader}",
        path_parameters={"id": "o-1001"},
    )
    rest = rest_proxy_event(
        REST,
        rest_call.request(REST),
        authorizer=rest_authorizer_context(
            rest_answer["context"], rest_answer["principalId"], integration_latency=12
        ),
    )
    http_call = Call(
        name="backend-http-post-orders",
        method="POST",
        resource="/orders",
        path="/orders",
        authorization=f"Bearer {tokens.writer}",
        body=json.dumps({"item": "coffee beans", "quantity": 2}, separators=(",", ":")),
    )
    http = http_proxy_event_v2(
        HTTP,
        http_call.request(HTTP),
        authorizer=http_authorizer_context(dict(http_answer["context"])),
    )
    return {"rest-get-order": rest, "http-post-orders": http}


# --------------------------------------------------------------------------------------------
# env.json
# --------------------------------------------------------------------------------------------


def template_routes(template: Path = TEMPLATE) -> list[Any]:
    """The route rules template.yaml gives the authorizer by default (its Routes parameter)."""
    from devkit.template import load_template

    model = load_template(template)
    routes: list[Any] = json.loads(model.functions["AuthorizerFunction"].environment["ROUTES"])
    return routes


def env_vars(idp: LocalIdentityProvider, template: Path = TEMPLATE) -> dict[str, dict[str, str]]:
    """``--env-vars`` content: the whole configuration inline, JWKS included (no network)."""
    config = {
        "issuers": [
            {
                "issuer": DEV_ISSUER,
                "profile": "entra-b2c",
                "audiences": [idp.audience],
                "jwks": idp.jwks(),
            }
        ],
        "routes": template_routes(template),
        "response_mode": "simple",
    }
    return {"AuthorizerFunction": {"AUTH_CONFIG": json.dumps(config, separators=(",", ":"))}}


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def generate(events_dir: Path = EVENTS_DIR, *, key_dir: Path | None = None) -> dict[str, str]:
    """Every generated file of ``events/`` (relative path -> content), nothing written.

    The key is read from ``key_dir`` (default: ``events_dir``).
    """
    idp = development_idp(events_dir=key_dir or events_dir)
    tokens = make_tokens(idp)
    env = env_vars(idp)
    files: dict[str, str] = {"env.json": _dump(env)}
    answers: dict[str, Any] = {}
    for (kind, outcome), call in authorizer_calls(tokens).items():
        event = authorizer_event(kind, call)
        name = f"{kind}-{outcome}"
        files[f"authorizer/{name}.json"] = _dump(event)
        output = invoke_function("AuthorizerFunction", event, env_vars=env).output
        answers[name] = output
        files[f"expected/authorizer/{name}.json"] = _dump(output)
    backend = backend_events(tokens, answers["rest-request-allowed"], answers["http-v2-allowed"])
    for name, event in backend.items():
        files[f"backend/{name}.json"] = _dump(event)
        output = invoke_function("BackendFunction", event, env_vars=env).output
        files[f"expected/backend/{name}.json"] = _dump(output)
    return files


def orphan_files(events_dir: Path, files: Mapping[str, str]) -> list[str]:
    """JSON files in the generated folders that generation no longer produces."""
    found = [
        path.relative_to(events_dir).as_posix()
        for folder in ("authorizer", "backend", "expected")
        for path in sorted((events_dir / folder).rglob("*.json"))
    ]
    return [name for name in found if name not in files]


@dataclass(frozen=True)
class Sync:
    """How ``events/`` compares with what generation makes."""

    files: Mapping[str, str]  # every generated file: relative path -> content
    stale: list[str]  # missing or different
    orphans: list[str]  # present but not generated any more


def sync(out: Path = EVENTS_DIR, *, write: bool) -> Sync:
    """Compare ``out`` with a fresh generation; with ``write``, make it equal (orphans deleted).

    The development key must exist (:func:`write_new_key` creates one).
    """
    files = generate(out)
    stale = [
        name
        for name, content in files.items()
        if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != content
    ]
    orphans = orphan_files(out, files)
    if write:
        for name in orphans:
            (out / name).unlink()
        for name in stale:
            path = out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[name], encoding="utf-8")
    return Sync(files, stale, orphans)
