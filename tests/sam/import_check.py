"""Import built Lambda code with nothing but the built layer and function on sys.path.

Run by test_sam_cli.py as ``python3.13 -I -S import_check.py '<json spec>'``: ``-I`` ignores
PYTHON* variables, the user site and the current directory, ``-S`` skips site-packages, so only
the standard library, the layer's ``python/`` directory and the function package can satisfy an
import, as on Lambda (minus the runtime's boto3, which the layer must not need at import).

The network is switched off first: the authorizer prefetches signing keys during init, and this
check must never reach out. Refused attempts are reported, not fatal (prefetch failures are
recorded by the authorizer, never raised).

Spec: {"paths": [...], "modules": [...], "handlers": ["pkg.module.attr", ...], "verify": bool}.
With ``verify``, the authorizer's key stage then parses an RS256 and an ES256 public key (made
here with the layer's ``cryptography``) and verifies a signature with each, through python-jose:
what the layer must be able to do beyond importing.
Prints a JSON report on stdout.
"""

from __future__ import annotations

import importlib
import json
import socket
import sys
from typing import Any

refused: list[str] = []


def _refuse(*args: Any, **_kwargs: Any) -> Any:
    refused.append(repr(args[:2])[:200])
    raise OSError("network access is disabled in the import check")


def _refuse_method(self: socket.socket, *args: Any, **kwargs: Any) -> Any:
    return _refuse(*args, **kwargs)


def _verify_with_the_key_stage() -> list[str]:
    """Parse an RS256 and an ES256 JWK with jwt_authorizer.jwk and verify a signature with each."""
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

    from jwt_authorizer.jwk import parse_jwks

    def b64(value: int, size: int) -> str:
        return base64.urlsafe_b64encode(value.to_bytes(size, "big")).rstrip(b"=").decode()

    message = b"header.payload"
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_public = rsa_key.public_key().public_numbers()
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_public = ec_key.public_key().public_numbers()
    r, s = utils.decode_dss_signature(ec_key.sign(message, ec.ECDSA(hashes.SHA256())))
    jwks = {
        "keys": [
            {"kty": "RSA", "kid": "r", "alg": "RS256", "n": b64(rsa_public.n, 256),
             "e": b64(rsa_public.e, 3)},
            {"kty": "EC", "kid": "e", "crv": "P-256", "x": b64(ec_public.x, 32),
             "y": b64(ec_public.y, 32)},
        ]
    }  # fmt: skip
    signatures = {
        "RS256": rsa_key.sign(message, padding.PKCS1v15(), hashes.SHA256()),
        "ES256": r.to_bytes(32, "big") + s.to_bytes(32, "big"),
    }
    keys = parse_jwks(jwks, frozenset(signatures), fetched_at=0.0).keys
    verified = []
    for key in keys:
        for alg, verify in key.verifiers.items():
            if verify(message, signatures[alg]) and not verify(b"tampered", signatures[alg]):
                verified.append(alg)
    return sorted(verified)


def main() -> int:
    spec = json.loads(sys.argv[1])
    socket.getaddrinfo = _refuse  # type: ignore[assignment]
    socket.create_connection = _refuse  # type: ignore[assignment]
    socket.socket.connect = _refuse_method  # type: ignore[method-assign]
    socket.socket.connect_ex = _refuse_method  # type: ignore[method-assign,assignment]
    sys.path[:0] = spec["paths"]

    imported = []
    for name in spec["modules"]:
        importlib.import_module(name)
        imported.append(name)
    handlers = []
    for dotted in spec["handlers"]:
        module_name, attribute = dotted.rsplit(".", 1)
        target = getattr(importlib.import_module(module_name), attribute)
        if not callable(target):
            raise TypeError(f"{dotted} is not callable")
        handlers.append(dotted)

    verified = _verify_with_the_key_stage() if spec.get("verify") else []

    files = sorted(
        {
            str(getattr(module, "__file__", None))
            for name, module in list(sys.modules.items())
            if getattr(module, "__file__", None) and name != "__main__"
        }
    )
    report = {
        "imported": imported,
        "handlers": handlers,
        "refused_network": refused,
        "verified": verified,
        "top_level_loaded": sorted({name.split(".")[0] for name in sys.modules}),
        "aws_sdk_loaded": sorted(
            name for name in sys.modules if name.split(".")[0] in {"boto3", "botocore"}
        ),
        "files": files,
        "sys_path": sys.path,
    }
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
