"""A test PKI made with `cryptography`: root → intermediate → leaves of every shape the checks must judge.

All validity periods are fixed around NOW so tests never depend on the clock; tests pass NOW (or another
instant) to the code under test. SHA-1 signatures need the openssl CLI (cryptography refuses to make them):
see `sha1_leaf`.
"""

from __future__ import annotations

import ipaddress
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime(2026, 6, 1, tzinfo=UTC)
START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def new_key(kind: str = "ec") -> PrivateKey:
    """'ec' (P-256), 'ec384', 'rsa' (2048), 'rsa1024'."""
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "rsa1024":
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 — the weak key the check must catch
    raise ValueError(kind)


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: PrivateKey

    @property
    def pem(self) -> bytes:
        return cert_pem(self.cert)

    def key_pem(self, password: bytes | None = None) -> bytes:
        return key_pem(self.key, password)


def cert_pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(key: PrivateKey, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str, key: PrivateKey, issuer: Issued | None, *, path_length: int | None) -> Issued:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(START - timedelta(days=365))
        .not_valid_after(END + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
    )
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


class TestPKI:
    """A root and an intermediate; `leaf()` issues server certificates from the intermediate."""

    __test__ = False  # not a pytest test class

    def __init__(self, name: str = "Mailcert Test") -> None:
        self.root = _ca(f"{name} Root CA", new_key("ec384"), None, path_length=None)
        self.intermediate = _ca(f"{name} Intermediate CA", new_key("ec"), self.root, path_length=0)

    def leaf(
        self,
        sans: Sequence[str] = ("mail.example.test",),
        *,
        cn: str | None = None,
        not_before: datetime = START,
        not_after: datetime = END,
        key: str = "ec",
        eku: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.SERVER_AUTH,),
        include_san: bool = True,
        issuer: Issued | None = None,
        self_signed: bool = False,
    ) -> Issued:
        private = new_key(key)
        subject = _name(cn or (sans[0] if sans else "no-san.example.test"))
        signer = None if self_signed else (issuer or self.intermediate)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if signer is None else signer.cert.subject)
            .public_key(private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if include_san and sans:
            general: list[x509.GeneralName] = []
            for san in sans:
                try:
                    general.append(x509.IPAddress(ipaddress.ip_address(san)))
                except ValueError:
                    general.append(x509.DNSName(san))
            builder = builder.add_extension(x509.SubjectAlternativeName(general), critical=False)
        if eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
        return Issued(builder.sign(private if signer is None else signer.key, hashes.SHA256()), private)

    @property
    def fullchain_of(self) -> bytes:
        return cert_pem(self.intermediate.cert)

    def bundle(self, leaf: Issued) -> bytes:
        """certbot's fullchain.pem: leaf then intermediate."""
        return cert_pem(leaf.cert, self.intermediate.cert)

    def root_pem(self) -> bytes:
        return cert_pem(self.root.cert)


def sha1_leaf(pki: TestPKI, san: str = "mail.example.test") -> Issued:
    """A leaf signed with SHA-1 by the intermediate, made with the openssl CLI (cryptography refuses SHA-1)."""
    private = new_key("rsa")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "leaf.key").write_bytes(key_pem(private))
        (d / "ca.key").write_bytes(key_pem(pki.intermediate.key))
        (d / "ca.pem").write_bytes(pki.intermediate.pem)
        (d / "ext.cnf").write_text(f"subjectAltName=DNS:{san}\nextendedKeyUsage=serverAuth\n")
        subprocess.run(
            ["openssl", "req", "-new", "-key", d / "leaf.key", "-subj", f"/CN={san}", "-out", d / "leaf.csr"],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                "openssl",
                "x509",
                "-req",
                "-in",
                d / "leaf.csr",
                "-CA",
                d / "ca.pem",
                "-CAkey",
                d / "ca.key",
                "-set_serial",
                "4660",
                "-sha1",
                "-days",
                "3650",
                "-extfile",
                d / "ext.cnf",
                "-out",
                d / "leaf.pem",
            ],
            check=True,
            capture_output=True,
        )
        cert = x509.load_pem_x509_certificate((d / "leaf.pem").read_bytes())
    return Issued(cert, private)
