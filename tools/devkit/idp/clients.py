"""The identity provider's confidential clients (``idp-clients.json``)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from devkit.paths import IDP_CLIENTS_FILE

__all__ = ["DEFAULT_CLIENTS_FILE", "TOKEN_TYPES", "Client", "client_from_mapping", "load_clients"]

DEFAULT_CLIENTS_FILE: Final = IDP_CLIENTS_FILE


#: What the token endpoint issues to a client: signed JWTs, or opaque tokens that only the
#: introspection endpoint can explain (WSO2's default token issuer).
TOKEN_TYPES: Final = ("jwt", "opaque")


@dataclass(frozen=True)
class Client:
    """A confidential client allowed to use the client-credentials grant."""

    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    token_type: str = "jwt"  # noqa: S105 - a token format, not a secret


def client_from_mapping(entry: object, index: int) -> Client:
    if not isinstance(entry, Mapping):
        raise ValueError(f"client #{index} must be an object, got {type(entry).__name__}")
    client_id = entry.get("client_id")
    secret = entry.get("client_secret")
    scopes = entry.get("scopes", [])
    if not isinstance(client_id, str) or not client_id or ":" in client_id:
        raise ValueError(f"client #{index}: client_id must be a non-empty string without ':'")
    if not isinstance(secret, str) or not secret:
        raise ValueError(f"client #{index} ({client_id}): client_secret must be a non-empty string")
    if not isinstance(scopes, list) or not all(
        isinstance(s, str) and s and not any(c.isspace() for c in s) and "/" not in s
        for s in scopes
    ):
        raise ValueError(
            f"client #{index} ({client_id}): scopes must be a list of bare scope names "
            "(no spaces, no resource prefix)"
        )
    token_type = entry.get("token_type", "jwt")
    if token_type not in TOKEN_TYPES:
        raise ValueError(
            f"client #{index} ({client_id}): token_type must be one of {', '.join(TOKEN_TYPES)}"
        )
    return Client(
        client_id=client_id,
        client_secret=secret,
        scopes=tuple(dict.fromkeys(scopes)),
        token_type=token_type,
    )


def load_clients(
    source: str | os.PathLike[str] | Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
) -> dict[str, Client]:
    """Load clients from a JSON file path, a ``{"clients": [...]}`` mapping or a list of dicts.

    Validation is strict so a typo in a demo's clients file fails loudly at start-up instead of
    surfacing later as a puzzling ``invalid_client``.
    """
    data: object
    if source is None:
        source = DEFAULT_CLIENTS_FILE
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON: {exc}") from exc
    else:
        data = source
    if isinstance(data, Mapping):
        data = data.get("clients")
    if not isinstance(data, Sequence) or isinstance(data, str | bytes):
        raise ValueError('clients must be a list or an object {"clients": [...]}')
    clients: dict[str, Client] = {}
    for index, entry in enumerate(data):
        client = client_from_mapping(entry, index)
        if client.client_id in clients:
            raise ValueError(f"duplicate client_id {client.client_id!r}")
        clients[client.client_id] = client
    return clients
