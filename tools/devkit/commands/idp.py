"""``idp``: the local identity provider alone, in the foreground (development only)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Final

from devkit.commands.base import Subparsers, UsageError
from devkit.constants import BIND_HOST
from devkit.idp import (
    B2C_POLICY,
    DEFAULT_CLIENTS_FILE,
    DEFAULT_TENANT_ID,
    DEFAULT_TENANT_NAME,
    PROFILES,
    LocalIdentityProvider,
)

NAME: Final = "idp"


def _sample_curl(idp: LocalIdentityProvider) -> str:
    client = next(iter(idp.clients.values()), None)
    client_id, secret = (client.client_id, client.client_secret) if client else ("ID", "SECRET")
    scope = idp.client_scope() or (" ".join(client.scopes) if client else "app.read")
    cacert = f" --cacert {idp.ca_bundle_path}" if idp.ca_bundle_path else ""
    return (
        f"curl -sS{cacert} -u {client_id}:{secret} -d grant_type=client_credentials "
        f"--data-urlencode 'scope={scope}' {idp.token_endpoint}"
    )


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="run the local identity provider alone, in the foreground",
        description=(
            "Run a local identity provider (development and tests only; never deploy it). "
            "It serves OIDC discovery, a JWKS and a client-credentials token endpoint shaped "
            "like Azure AD B2C, WSO2 IS or Entra ID, and stays in the foreground until Ctrl-C."
        ),
        epilog="Clients file format: "
        '{"clients": [{"client_id": "...", "client_secret": "...", "scopes": ["app.read"]}]}',
    )
    parser.add_argument("--profile", choices=PROFILES, default="entra-b2c")
    parser.add_argument("--host", default=BIND_HOST, help="address to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a fresh local CA")
    parser.add_argument(
        "--clients", type=Path, default=DEFAULT_CLIENTS_FILE, help="clients JSON file"
    )
    parser.add_argument("--audience", help="aud of issued tokens (default depends on profile)")
    parser.add_argument("--tenant-id", default=DEFAULT_TENANT_ID, help="tenant GUID (Entra)")
    parser.add_argument("--tenant-name", default=DEFAULT_TENANT_NAME, help="B2C tenant short name")
    parser.add_argument("--policy", default=B2C_POLICY, help="B2C policy in the URLs and tfp")
    parser.add_argument("--token-lifetime", type=int, default=3600, help="seconds")
    parser.add_argument(
        "--signing-key", type=Path, help="RSA private key PEM to sign with (default: generate)"
    )
    parser.add_argument(
        "--public-url",
        help="base URL clients use if not the bound address, e.g. http://host.docker.internal:8080",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the endpoints as one JSON line instead"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser


def _idp_from_args(args: argparse.Namespace) -> LocalIdentityProvider:
    return LocalIdentityProvider(
        profile=args.profile,
        host=args.host,
        port=args.port,
        clients=args.clients,
        audience=args.audience,
        token_lifetime=args.token_lifetime,
        tls=args.tls,
        signing_key_pem=args.signing_key.read_bytes() if args.signing_key else None,
        tenant_id=args.tenant_id,
        tenant_name=args.tenant_name,
        policy=args.policy,
        public_url=args.public_url,
    )


def run(args: argparse.Namespace) -> int:
    """Foreground server for demos: print the endpoints, then serve until interrupted."""
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    try:
        idp = _idp_from_args(args)
    except (OSError, ValueError) as exc:
        raise UsageError(f"local IdP: {exc}") from exc
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        idp.start()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc} (try --port 0)", file=sys.stderr)
        return 1
    try:
        info = {
            "profile": idp.profile,
            "issuer": idp.issuer,
            "discovery_url": idp.discovery_url,
            "jwks_uri": idp.jwks_uri,
            "token_endpoint": idp.token_endpoint,
            "audience": idp.audience,
            "ca_bundle_path": str(idp.ca_bundle_path) if idp.ca_bundle_path else None,
            "signing_kid": idp.signing_kid,
        }
        if args.json:
            print(json.dumps(info), flush=True)
        else:
            print(f"local IdP ({idp.profile}) - development only, never deploy", flush=True)
            for name, value in info.items():
                if name != "profile":
                    print(f"  {name:<15} {value if value is not None else '-'}")
            print("  clients:")
            for client in idp.clients.values():
                scopes = " ".join(client.scopes)
                print(f"    {client.client_id} / {client.client_secret}  [{scopes}]")
            print(f"get a token:\n  {_sample_curl(idp)}")
            print("Ctrl-C to stop.", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        idp.stop()
    return 0
