"""Sender-constrained tokens: is the token presented by the holder of the key it is bound to?

Runs after the token validated (signature and claims), per the issuer's ``dpop`` and ``mtls``
modes (``off`` leaves bearer behaviour exactly as it was):

* DPoP (RFC 9449): ``Authorization: DPoP <token>`` with exactly one ``DPoP`` header whose proof
  passes :func:`dpop.verify_proof`, a token whose ``cnf.jkt`` is the proof key's thumbprint, and
  a ``jti`` not seen before (:class:`replay.ReplayGuard`, checked last so that a request refused
  for another reason does not use the proof up). A token with ``cnf.jkt`` presented as
  ``Bearer`` is refused; with ``required``, so is any token without a proof. TOKEN authorizers
  see one header only: DPoP is refused there (``dpop_unsupported_event``).
* Certificates (RFC 8705 section 3): a token with ``cnf["x5t#S256"]`` must arrive with a client
  certificate (API Gateway mutual TLS) whose DER SHA-256 thumbprint it names; with
  ``required``, only such tokens are accepted.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from .dpop import ProofKeys, ProofRules, b64url, clear_caches, expected_urls, verify_proof
from .errors import (
    CertificateMismatch,
    DpopBindingMismatch,
    DpopReplay,
    DpopUnsupportedEvent,
    InvalidDpopProof,
    MalformedToken,
    MissingClientCertificate,
    MissingDpopProof,
)
from .event import AuthorizerRequest
from .issuers import IssuerConfig
from .principal import Principal
from .replay import ReplayGuard, replay_key

_PEM_RE: Final = re.compile(
    r"-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----"
)


class SenderCheck:
    """The DPoP and certificate-binding rules of every issuer that enables them."""

    def __init__(
        self,
        issuers: tuple[IssuerConfig, ...],
        *,
        rules: ProofRules | None,
        guard: ReplayGuard | None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuers = {entry.issuer: entry for entry in issuers}
        self.rules = rules
        self._guard = guard
        self._now = wall_clock
        self._keys = ProofKeys()

    def clear(self) -> None:
        """Forget the proofs this execution environment remembers (the store keeps them), the
        proof keys it parsed and the request URLs it normalised."""
        if self._guard is not None:
            self._guard.clear()
        self._keys.clear()
        clear_caches()

    def check(self, request: AuthorizerRequest, token: str, principal: Principal) -> None:
        """Raise a :class:`SenderConstraintFailed` (or ``malformed_token``) unless the token
        is presented as its issuer's modes require."""
        entry = self._issuers[principal.configured_issuer]
        if entry.dpop == "off" and entry.mtls == "off":
            if request.scheme == "DPoP":
                raise MalformedToken("DPoP scheme for an issuer without dpop")
            return
        cnf = principal.claims.get("cnf")
        if cnf is not None and not isinstance(cnf, Mapping):
            raise MalformedToken("claim cnf is not an object")
        cnf = cnf or {}
        if entry.dpop != "off":
            self._dpop(entry, request, token, principal, cnf.get("jkt"))
        elif request.scheme == "DPoP":
            raise MalformedToken("DPoP scheme for an issuer without dpop")
        if entry.mtls != "off":
            _certificate(entry, request, cnf.get("x5t#S256"))

    def _dpop(
        self,
        entry: IssuerConfig,
        request: AuthorizerRequest,
        token: str,
        principal: Principal,
        jkt: Any,
    ) -> None:
        if jkt is not None and not isinstance(jkt, str):
            raise MalformedToken("claim cnf.jkt is not a string")
        if request.kind == "token":
            if request.scheme == "DPoP" or jkt is not None or entry.dpop == "required":
                raise DpopUnsupportedEvent("TOKEN authorizer")
            return
        if request.scheme != "DPoP":
            if jkt is not None:
                raise MissingDpopProof("DPoP-bound token presented as Bearer")
            if entry.dpop == "required":
                raise MissingDpopProof("the issuer requires DPoP")
            return
        rules, guard, facts = self.rules, self._guard, request.sender
        if rules is None or guard is None or facts is None:  # never, with dpop configured
            raise InvalidDpopProof("DPoP is not configured")
        if not facts.dpop_proofs:
            raise MissingDpopProof("no DPoP header")
        if len(facts.dpop_proofs) != 1:
            raise InvalidDpopProof("more than one DPoP header")
        urls = expected_urls(rules, host=facts.host, path=facts.path, api_path=request.arn.path)
        proof = verify_proof(
            facts.dpop_proofs[0],
            rules=rules,
            method=request.arn.method,
            urls=urls,
            access_token=token,
            now=self._now(),
            keys=self._keys,
        )
        if jkt is None:
            raise DpopBindingMismatch("token has no cnf.jkt")
        if not hmac.compare_digest(jkt.encode("utf-8", "surrogatepass"), proof.jkt.encode()):
            raise DpopBindingMismatch("cnf.jkt is not the proof key's thumbprint")
        # Kept until the proof can no longer be accepted: iat + max age (+ skew, for clocks).
        expires_at = math.ceil(proof.iat + rules.max_age_seconds + rules.clock_skew_seconds)
        if not guard.first_use(replay_key(principal.issuer, proof.jkt, proof.jti), expires_at):
            raise DpopReplay()


def _certificate(entry: IssuerConfig, request: AuthorizerRequest, bound: Any) -> None:
    if bound is None:
        if entry.mtls == "required":
            raise CertificateMismatch("token has no cnf x5t#S256")
        return
    if not isinstance(bound, str):
        raise MalformedToken("claim cnf x5t#S256 is not a string")
    pem = request.sender.client_cert_pem if request.sender is not None else None
    if pem is None:
        raise MissingClientCertificate("TOKEN authorizer" if request.kind == "token" else "")
    der = certificate_der(pem)
    if der is None:
        raise CertificateMismatch("client certificate does not parse")
    if not hmac.compare_digest(
        bound.encode("utf-8", "surrogatepass"), b64url(hashlib.sha256(der).digest()).encode()
    ):
        raise CertificateMismatch()


def certificate_der(pem: str) -> bytes | None:
    """The DER bytes of the first certificate of a PEM text (API Gateway's ``clientCertPem``);
    None when there is none or it is not base64."""
    found = _PEM_RE.search(pem)
    if found is None:
        return None
    try:
        return binascii.a2b_base64("".join(found.group(1).split()).encode("ascii"))
    except (binascii.Error, ValueError):
        return None
