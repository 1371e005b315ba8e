"""What a near miss usually means: one-line hints next to the function's verdicts.

The verdicts come from the function's stages; these functions only read the values they
compared (an unknown ``iss`` and the closest configured issuer, a token that is not a JWS, a
``kid`` a key set lacks) and name the usual cause, as docs/troubleshooting.md does.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

__all__ = ["audience_hint", "issuer_hint", "kid_hint", "shape_hint"]

_UUID: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def issuer_hint(iss: str, closest: str | None) -> str:
    """Why ``iss`` is not ``closest`` (compared exactly: no normalisation)."""
    if closest is None:
        return (
            "no configured issuer is even alike: a token from another identity provider or "
            "tenant, or an issuer missing from the configuration"
        )
    if iss.rstrip("/") == closest.rstrip("/"):
        has = "has" if iss.endswith("/") else "lacks"
        return (
            f"the token's iss {has} the trailing slash the configured issuer "
            f"{'lacks' if has == 'has' else 'has'}: copy iss exactly (B2C, Entra v1 and Auth0 end "
            "with /, Entra v2 and External ID do not)"
        )
    if iss.lower() == closest.lower():
        return "the two differ in letter case only: issuers are compared exactly"
    if "sts.windows.net" in iss and "login.microsoftonline.com" in closest:
        return (
            "an Entra v1 token (sts.windows.net) where the v2 issuer is configured: set the "
            "API's accessTokenAcceptedVersion to 2, or configure the v1 issuer too"
        )
    if "login.microsoftonline.com" in iss and "sts.windows.net" in closest:
        return (
            "an Entra v2 token where the v1 issuer (sts.windows.net) is configured: configure the "
            "v2 issuer https://login.microsoftonline.com/<tenant>/v2.0 too"
        )
    if ("/tfp/" in iss) != ("/tfp/" in closest):
        return (
            "one is B2C's tfp issuer format, the other the GUID format: the user flow's token "
            "compatibility setting decides which the tokens carry"
        )
    if ("/auth/realms/" in iss) != ("/auth/realms/" in closest):
        return "Keycloak before 17 puts /auth before /realms/: copy iss from a real token"
    token_url, configured_url = urlsplit(iss), urlsplit(closest)
    if token_url.path == configured_url.path and token_url.netloc != configured_url.netloc:
        return (
            f"same path, another host ({token_url.netloc} versus {configured_url.netloc}): a "
            "custom domain, an External ID host variant, or another environment"
        )
    index = next(
        (i for i, (a, b) in enumerate(zip(iss, closest, strict=False)) if a != b),
        min(len(iss), len(closest)),
    )
    return f"compared character by character, they differ from position {index}"


def audience_hint(token_aud: object, audiences: list[str], profile: str) -> str | None:
    """Why no ``aud`` value is accepted, when a usual mix-up explains it."""
    values = token_aud if isinstance(token_aud, list) else [token_aud]
    tokens = [value for value in values if isinstance(value, str)]
    if not tokens:
        if profile == "cognito":
            return None
        return "the token has no aud: Cognito access tokens have none (profile cognito)"
    for value in tokens:
        for accepted in audiences:
            if value.rstrip("/") == accepted.rstrip("/"):
                return (
                    f"{value!r} and {accepted!r} differ by a trailing slash: Entra v1 "
                    "tokens carry the App ID URI as requested; list both forms"
                )
    if any(_UUID.fullmatch(a) for a in audiences) and any(v.startswith("api://") for v in tokens):
        return (
            "the token names the App ID URI, audiences the client id: Entra v1 tokens carry the "
            "URI as requested; list it too (or issue v2 tokens)"
        )
    if any(_UUID.fullmatch(v) for v in tokens) and any(a.startswith("api://") for a in audiences):
        return (
            "the token names a client id, audiences an App ID URI: B2C and Entra v2 tokens carry "
            "the API's client id GUID; list that"
        )
    if profile == "wso2":
        return "WSO2 puts the calling application's client id in aud: list every caller's"
    return None


def shape_hint(detail: str, token: str) -> str | None:
    """What a token that is not a signed JWT probably is."""
    if detail == "jwe":
        return (
            "five segments: an encrypted token (JWE); turn token encryption off for this API at "
            "the identity provider"
        )
    if detail == "unsigned":
        return "an unsecured JWT (alg none, empty signature): never accepted"
    if detail != "shape":
        return None
    segments = token.count(".") + 1
    if segments == 1 and _UUID.fullmatch(token.strip()):
        return (
            "an opaque token (a UUID), not a JWT: WSO2 and Asgardeo issue these by default (set "
            "the application's token type to JWT); Auth0 without the audience parameter too"
        )
    if segments == 1:
        return (
            "one segment: an opaque or reference token, not a JWT (or only part of one was copied)"
        )
    if segments != 3:
        return f"{segments} segments where a signed JWT has 3: a truncated or joined copy?"
    return "three segments, but not all of them base64url: a copy with spaces or quotes?"


def kid_hint(kid: str | None, has_x5t: bool, known: list[str], profile: str) -> str:
    """Why a key set holds no key for a token."""
    if kid is None and not has_x5t:
        return "the token names no key (neither kid nor x5t): hand-made tokens often lack it"
    stripped = kid.rpartition("_")[0] if kid else ""
    if (
        profile != "wso2"
        and kid
        and any(k == stripped or k.rpartition("_")[0] == kid for k in known)
    ):
        return "the kids differ by a _<alg> suffix only, as WSO2's do: use profile wso2"
    return (
        "no published key has this kid: a key from another key set (a B2C custom policy versus "
        "a user flow, Entra per-app keys: ?appid=), or a new key within the refresh cooldown"
    )
