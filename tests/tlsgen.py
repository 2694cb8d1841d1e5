"""A throwaway PKI for TLS tests: one CA, a server certificate, an optional client one.

Generation is pure (values in, values out); :func:`write_pki` is the only function that
touches the disk. Keys are ECDSA P-256 (fast to make, accepted by Go's crypto/tls and by
OpenSSL); certificates are short-lived and carry the extensions a strict verifier
(OpenSSL's ``X509_V_FLAG_X509_STRICT``, Go) wants: SANs, key usages, key identifiers.

::

    pki = make_pki()                              # CA + server cert for 127.0.0.1/localhost
    files = write_pki(pki, tmp_path)              # PEM files
    files.ca_cert, files.server_cert, files.server_key
    files.client_cert, files.client_key           # None unless make_pki(client=True)
    make_self_signed()                            # a server certificate no CA vouches for
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "DEFAULT_HOSTS",
    "DEFAULT_VALIDITY",
    "CertifiedKey",
    "Pki",
    "PkiFiles",
    "make_ca",
    "make_client_certificate",
    "make_pki",
    "make_self_signed",
    "make_server_certificate",
    "write_pki",
]

#: The names a loopback test server answers to.
DEFAULT_HOSTS: Final = ("127.0.0.1", "localhost")
#: Long enough for a test session, short enough to be useless if it leaks.
DEFAULT_VALIDITY: Final = datetime.timedelta(days=1)
# Backdate a little: the verifier's clock may be a moment behind ours.
_SKEW: Final = datetime.timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class CertifiedKey:
    """A certificate and its private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        """PKCS#8, unencrypted."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


@dataclass(frozen=True, slots=True)
class Pki:
    ca: CertifiedKey
    server: CertifiedKey
    client: CertifiedKey | None = None


@dataclass(frozen=True, slots=True)
class PkiFiles:
    """Where :func:`write_pki` put the PEM files."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path | None = None
    client_key: Path | None = None


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "polyarch tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, key_cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=key_cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _builder(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    *,
    now: datetime.datetime | None,
    validity: datetime.timedelta,
) -> x509.CertificateBuilder:
    start = (now or datetime.datetime.now(datetime.UTC)) - _SKEW
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _SKEW + validity)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def make_ca(
    common_name: str = "polyarch tests CA",
    *,
    now: datetime.datetime | None = None,
    validity: datetime.timedelta = DEFAULT_VALIDITY,
) -> CertifiedKey:
    """A self-signed CA that may sign leaf certificates only (``pathlen:0``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    certificate = (
        _builder(name, key, now=now, validity=validity)
        .issuer_name(name)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True), critical=True)
        .sign(key, hashes.SHA256())
    )
    return CertifiedKey(certificate, key)


def _leaf(
    ca: CertifiedKey,
    common_name: str,
    usage: x509.ObjectIdentifier,
    sans: Sequence[x509.GeneralName],
    *,
    now: datetime.datetime | None,
    validity: datetime.timedelta,
) -> CertifiedKey:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(_name(common_name), key, now=now, validity=validity)
        .issuer_name(ca.certificate.subject)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(key_cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return CertifiedKey(builder.sign(ca.key, hashes.SHA256()), key)


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def make_server_certificate(
    ca: CertifiedKey,
    hosts: Sequence[str] = DEFAULT_HOSTS,
    *,
    now: datetime.datetime | None = None,
    validity: datetime.timedelta = DEFAULT_VALIDITY,
) -> CertifiedKey:
    """A server certificate signed by *ca*: IP SANs for addresses, DNS SANs for names.

    Verifiers match the SANs only (the common name is ignored), so every host is a SAN.
    """
    if not hosts:
        raise ValueError("a server certificate needs at least one host")
    return _leaf(
        ca,
        hosts[0],
        ExtendedKeyUsageOID.SERVER_AUTH,
        [_general_name(host) for host in hosts],
        now=now,
        validity=validity,
    )


def make_self_signed(
    hosts: Sequence[str] = DEFAULT_HOSTS,
    *,
    now: datetime.datetime | None = None,
    validity: datetime.timedelta = DEFAULT_VALIDITY,
) -> CertifiedKey:
    """A server certificate for *hosts* signed by its own key, as a quick test registry
    has one: nothing can verify it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(hosts[0])
    certificate = (
        _builder(name, key, now=now, validity=validity)
        .issuer_name(name)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(key_cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([_general_name(host) for host in hosts]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return CertifiedKey(certificate, key)


def make_client_certificate(
    ca: CertifiedKey,
    common_name: str = "polyarch tests client",
    *,
    now: datetime.datetime | None = None,
    validity: datetime.timedelta = DEFAULT_VALIDITY,
) -> CertifiedKey:
    """A client certificate (``clientAuth``) signed by *ca*."""
    return _leaf(ca, common_name, ExtendedKeyUsageOID.CLIENT_AUTH, [], now=now, validity=validity)


def make_pki(
    hosts: Sequence[str] = DEFAULT_HOSTS,
    *,
    client: bool = False,
    now: datetime.datetime | None = None,
    validity: datetime.timedelta = DEFAULT_VALIDITY,
) -> Pki:
    """A fresh CA, a server certificate for *hosts* and, with *client*, a client one."""
    ca = make_ca(now=now, validity=validity)
    return Pki(
        ca=ca,
        server=make_server_certificate(ca, hosts, now=now, validity=validity),
        client=make_client_certificate(ca, now=now, validity=validity) if client else None,
    )


def write_pki(pki: Pki, directory: Path) -> PkiFiles:
    """Write *pki* as PEM files into *directory* (created if missing).

    ``ca.crt``, ``server.crt``, ``server.key`` and, with a client, ``client.cert`` and
    ``client.key`` (docker's names for a client pair in ``certs.d/<host>/``). The CA key is
    not written: nothing needs it on disk. Keys are readable by the owner only.
    """
    directory.mkdir(parents=True, exist_ok=True)

    def write(name: str, data: bytes, *, secret: bool = False) -> Path:
        path = directory / name
        path.write_bytes(data)
        if secret:
            path.chmod(0o600)
        return path

    files = PkiFiles(
        ca_cert=write("ca.crt", pki.ca.certificate_pem),
        server_cert=write("server.crt", pki.server.certificate_pem),
        server_key=write("server.key", pki.server.key_pem, secret=True),
    )
    if pki.client is None:
        return files
    return dataclasses.replace(
        files,
        client_cert=write("client.cert", pki.client.certificate_pem),
        client_key=write("client.key", pki.client.key_pem, secret=True),
    )
