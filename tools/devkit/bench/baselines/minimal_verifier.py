"""The floor of ``make bench``: a JWT check with ``urllib`` and ``cryptography`` only.

Discovery and the key set are read with ``urllib.request`` at init; a call splits the token,
verifies RS256 with the key its ``kid`` names, checks ``exp``, ``iss`` and ``aud``, and allows
the method ARN. No logging, no metrics, no route rules, no key refresh: not something to deploy,
only a measure of how little a cold start can load.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.request
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ISSUER = os.environ["ISSUER"]
AUDIENCE = os.environ["AUDIENCE"]


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


_jwks = _get(_get(os.environ["DISCOVERY_URL"])["jwks_uri"])
KEYS = {
    key["kid"]: rsa.RSAPublicNumbers(
        int.from_bytes(_b64(key["e"]), "big"), int.from_bytes(_b64(key["n"]), "big")
    ).public_key()
    for key in _jwks["keys"]
    if key.get("kty") == "RSA"
}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        scheme, _, token = event["authorizationToken"].partition(" ")
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(_b64(header_b64))
        KEYS[header["kid"]].verify(
            _b64(signature_b64),
            f"{header_b64}.{payload_b64}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
        claims = json.loads(_b64(payload_b64))
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        valid = (
            scheme.lower() == "bearer"
            and header.get("alg") == "RS256"
            and claims["iss"] == ISSUER
            and AUDIENCE in audiences
            and claims["exp"] > time.time()
        )
    except Exception:
        valid = False
    if not valid:
        raise Exception("Unauthorized")
    return {
        "principalId": claims["sub"],
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ],
        },
    }
