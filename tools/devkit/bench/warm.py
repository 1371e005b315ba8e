"""The warm path: our handler on distinct tokens against a bare verify and decode of them."""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from devkit.bench.cold import METHOD_ARN, ROUTES
from devkit.idp import LocalIdentityProvider
from devkit.paths import AUTHORIZER_SRC


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _public_key(idp: LocalIdentityProvider) -> rsa.RSAPublicKey:
    jwk = idp.public_jwk()
    numbers = rsa.RSAPublicNumbers(
        int.from_bytes(_b64decode(jwk["e"]), "big"), int.from_bytes(_b64decode(jwk["n"]), "big")
    )
    return numbers.public_key()


class _Unbuffered(io.TextIOBase):
    """stdout as the Lambda runtime gives it to a function: every write is flushed at once."""

    def __init__(self, stream: io.TextIOBase) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        self._stream.flush()
        return written


@contextmanager
def _lambda_stdout() -> Iterator[None]:
    with open(os.devnull, "w", encoding="utf-8") as sink:
        saved = sys.stdout
        sys.stdout = _Unbuffered(sink)
        try:
            yield
        finally:
            sys.stdout = saved


class _Context:
    function_name = "bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
    aws_request_id = "8f2c1a4e-0b6d-4c57-9e21-3d7a5f90c1b8"

    def get_remaining_time_in_millis(self) -> int:
        return 4000


def warm_path(idp: LocalIdentityProvider, rounds: int, tokens: int) -> dict[str, list[float]]:
    """Per-call seconds of each candidate, one value per round (every token once a round)."""
    sys.path.insert(0, str(AUTHORIZER_SRC))
    from jwt_authorizer import Authorizer
    from jwt_authorizer.config import parse_config
    from jwt_authorizer.keyring import KeyRegistry
    from jwt_authorizer.validator import TokenValidator

    document = {
        "issuers": [
            {
                "issuer": idp.issuer,
                "audiences": [idp.audience_for("writer-app")],
                "profile": "entra-b2c",
                "jwks_uri": idp.jwks_uri,
            }
        ],
        "routes": ROUTES,
    }
    config = parse_config(document)
    if tokens <= config.verified_token_cache_size:
        raise ValueError("the warm path needs more tokens than the verified-token cache holds")
    validator = TokenValidator(
        config.issuers,
        KeyRegistry(config.keys),
        max_token_bytes=config.max_token_bytes,
        verified_token_cache_size=config.verified_token_cache_size,
    )
    validator.start_prefetch().wait()
    minted = [
        idp.mint(scopes=["app.read", "app.write"], client_id="writer-app", claims={"jti": str(i)})
        for i in range(tokens)
    ]
    events = [
        {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": METHOD_ARN}
        for token in minted
    ]
    public_key = _public_key(idp)
    context = _Context()

    with _lambda_stdout():
        authorizer = Authorizer.from_environ({"AUTH_CONFIG": json.dumps(document)})

        def bare() -> None:
            for token in minted:
                header_b64, payload_b64, signature_b64 = token.split(".")
                json.loads(_b64decode(header_b64))
                json.loads(_b64decode(payload_b64))
                public_key.verify(
                    _b64decode(signature_b64),
                    f"{header_b64}.{payload_b64}".encode(),
                    padding.PKCS1v15(),
                    hashes.SHA256(),
                )

        def handler() -> None:
            for event in events:
                authorizer(event, context)

        def validate() -> None:
            for token in minted:
                validator.validate(token)

        same = minted[0]

        def cached() -> None:
            for _ in minted:
                validator.validate(same)

        candidates: dict[str, Callable[[], None]] = {
            "bare": bare,
            "validate": validate,
            "handler": handler,
            "cached": cached,
        }
        for function in candidates.values():  # one untimed pass: caches and branches warm
            function()
        # CPU time of this thread: what a CPU-bound call costs, without the time other processes
        # of a shared machine take the CPU away (wall time on an idle machine is the same).
        samples: dict[str, list[float]] = {name: [] for name in candidates}
        for _ in range(rounds):
            for name, function in candidates.items():
                start = time.thread_time()
                function()
                samples[name].append((time.thread_time() - start) / tokens)
    return samples
