"""Identifiers every local stand-in shares, and the loopback rule (bottom layer).

The made-up account, region and stack name appear in ARNs, fake API ids and function names;
one definition keeps the emulator, ``invoke``, the fixtures and the tests in agreement. Nothing
here imports another devkit module.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

__all__ = [
    "ACCOUNT_ID",
    "BIND_HOST",
    "LOOPBACK_HOSTS",
    "LOOPBACK_NAMES",
    "REGION",
    "STACK_NAME",
    "is_loopback_url",
    "require_loopback",
]

REGION: Final = "us-east-1"
#: AWS's documentation account id: never a real account.
ACCOUNT_ID: Final = "123456789012"
#: The stack name local resources are named after (``local-AuthorizerFunction``...).
STACK_NAME: Final = "local"
#: The address every local server binds to.
BIND_HOST: Final = "127.0.0.1"
#: This machine's names, in the order local TLS certificates list them.
LOOPBACK_NAMES: Final = ("127.0.0.1", "::1", "localhost")
LOOPBACK_HOSTS: Final = frozenset(LOOPBACK_NAMES)


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` points at this machine (the only place devkit tools may point to)."""
    return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS


def require_loopback(*urls: str) -> None:
    """Raise ``ValueError`` for the first URL that is not on a loopback host."""
    for url in urls:
        if not is_loopback_url(url):
            raise ValueError(f"refusing to point at a non-loopback URL: {url}")


#: Local stand-in for mutual TLS (the emulator and the IdP serve plain HTTP): a development
#: client sends its certificate's PEM, URL-encoded, in this header; the emulator passes it to
#: authorizers as ``clientCert`` and the IdP binds tokens to it. API Gateway never does this.
CLIENT_CERT_HEADER: Final = "X-Devkit-Client-Cert"
