"""Throw-away TLS material for local servers (the local IdP, demos, tests).

Everything here is for loopback development only: a fresh self-signed CA per run, a server
certificate for ``127.0.0.1``/``localhost`` signed by it, and PEM files a client can be pointed at
(``requests.get(url, verify=ca_bundle_path)``). A *second*, unrelated CA can be written too, so
tests can prove that a client really checks the chain instead of trusting anything.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devkit.constants import LOOPBACK_NAMES

__all__ = [
    "CertificateAuthority",
    "ServerCredentials",
    "create_ca",
    "issue_server_cert",
    "server_ssl_context",
    "write_ca_bundle",
    "write_server_credentials",
]

# Short validity on purpose: this material is regenerated on every run.
_VALIDITY = dt.timedelta(days=2)
_BACKDATE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA key and its self-signed certificate."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        """The CA certificate as PEM, i.e. what goes into a client's trust bundle."""
        return self.cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class ServerCredentials:
    """Paths to the files a TLS server needs, plus the CA bundle clients should trust."""

    cert_chain_path: Path
    key_path: Path
    ca_bundle_path: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "apigw-jwt-authorizer devkit"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def create_ca(common_name: str = "local-idp development CA") -> CertificateAuthority:
    """Create a new self-signed CA (EC P-256: fast to generate, accepted by every client)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(key=key, cert=cert)


def _san_entries(hosts: list[str]) -> list[x509.GeneralName]:
    """DNS names and IP addresses for the SAN; IPs must be IPAddress entries to match."""
    entries: list[x509.GeneralName] = []
    seen: set[str] = set()
    for host in hosts:
        if not host or host in seen:
            continue
        seen.add(host)
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            entries.append(x509.DNSName(host))
    return entries


def issue_server_cert(
    ca: CertificateAuthority,
    hosts: list[str] | None = None,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """Issue a serverAuth certificate for ``hosts`` (default: 127.0.0.1, ::1 and localhost)."""
    names = hosts if hosts else list(LOOPBACK_NAMES)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_san_entries(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    return key, cert


def write_ca_bundle(path: Path, ca: CertificateAuthority | None = None) -> Path:
    """Write ``ca`` (or a brand-new, unrelated CA) as a PEM bundle and return the path."""
    authority = ca if ca is not None else create_ca("unrelated development CA")
    path.write_bytes(authority.cert_pem)
    return path


def write_server_credentials(
    directory: Path,
    hosts: list[str] | None = None,
) -> ServerCredentials:
    """Create a CA and a server certificate under ``directory`` (private key file mode 0600)."""
    ca = create_ca()
    key, cert = issue_server_cert(ca, hosts)
    ca_path = write_ca_bundle(directory / "ca.pem", ca)
    chain_path = directory / "server-chain.pem"
    chain_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca.cert_pem)
    key_path = directory / "server-key.pem"
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ServerCredentials(cert_chain_path=chain_path, key_path=key_path, ca_bundle_path=ca_path)


def server_ssl_context(credentials: ServerCredentials) -> ssl.SSLContext:
    """A server-side context (TLS 1.2+) loaded with ``credentials``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(credentials.cert_chain_path, credentials.key_path)
    return context
