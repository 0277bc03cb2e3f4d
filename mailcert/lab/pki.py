"""The lab CA: a root, an intermediate, and host certificates issued the way a public CA would.

Everything is made with `cryptography`; keys are ECDSA P-256 (certbot's default key type) unless a
fault asks for what an admin's `openssl req -x509` would make.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

LEAF_DAYS = 90


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mailcert lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ski(key: PrivateKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


@dataclass(frozen=True)
class Authority:
    """A CA certificate and its key."""

    cert: x509.Certificate
    key: PrivateKey


@dataclass(frozen=True)
class LabCA:
    root: Authority
    intermediate: Authority

    def save(self, folder: Path) -> None:
        """Write the CA under DIR/pki (the keys stay on the control machine, mode 0600)."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "root-ca.pem").write_bytes(cert_pem(self.root.cert))
        (folder / "intermediate-ca.pem").write_bytes(cert_pem(self.intermediate.cert))
        for name, key in (("root-ca.key", self.root.key), ("intermediate-ca.key", self.intermediate.key)):
            path = folder / name
            path.touch(mode=0o600)
            path.write_bytes(key_pem(key))

    @classmethod
    def load(cls, folder: Path) -> LabCA:
        def authority(stem: str) -> Authority:
            cert = x509.load_pem_x509_certificate((folder / f"{stem}.pem").read_bytes())
            key = serialization.load_pem_private_key((folder / f"{stem}.key").read_bytes(), password=None)
            assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
            return Authority(cert, key)

        return cls(authority("root-ca"), authority("intermediate-ca"))


def make_ca(now: dt.datetime) -> LabCA:
    """A fresh root (10 years) and intermediate (5 years)."""
    root_key = new_key()
    root_name = _name("mailcert lab Root CA")
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(_ski(root_key), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    inter_key = new_key()
    inter = (
        x509.CertificateBuilder()
        .subject_name(_name("mailcert lab Intermediate CA"))
        .issuer_name(root_name)
        .public_key(inter_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1825))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(_ski(inter_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(_ski(root_key)), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    return LabCA(Authority(root, root_key), Authority(inter, inter_key))


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _leaf_usage(key: PrivateKey) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=isinstance(key, rsa.RSAPrivateKey),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _san(names: Sequence[str]) -> x509.SubjectAlternativeName:
    general: list[x509.GeneralName] = []
    for name in names:
        try:
            general.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            general.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(general)


def issue_leaf(
    issuer: Authority,
    names: Sequence[str],
    key: PrivateKey,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    """A server certificate for `names` (first one is the CN), as a public CA issues it."""
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_usage(key), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_san(names), critical=False)
        .add_extension(_ski(key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(_ski(issuer.key)), critical=False
        )
        .sign(issuer.key, hashes.SHA256())
    )


def self_signed(
    names: Sequence[str], key: PrivateKey, now: dt.datetime, *, with_san: bool = True
) -> x509.Certificate:
    """What `openssl req -x509 -newkey rsa:2048 -subj /CN=NAME -addext subjectAltName=...` makes; without
    the subjectAltName (`with_san=False`) as an old `openssl req -x509 -subj /CN=NAME` makes it."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ski(key), critical=False)
    )
    if with_san:
        builder = builder.add_extension(_san(names), critical=False)
    return builder.sign(key, hashes.SHA256())
