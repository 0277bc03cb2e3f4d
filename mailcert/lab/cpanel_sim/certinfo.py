"""SIMULATOR: cPanel's `certificate_info` hash for a PEM certificate (fields as in reference §4.2)."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def load(pem: str) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return None


def certificate_info(pem: str) -> dict[str, object] | None:
    """The parsed certificate as cPanel describes it; None when it cannot be parsed (as cPanel says)."""
    cert = load(pem)
    if cert is None:
        return None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        domains = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        domains = [cn] if (cn := _attr(cert.subject, NameOID.COMMON_NAME)) else []
    key = cert.public_key()
    info: dict[str, object] = {
        "domains": domains,
        "is_self_signed": int(cert.issuer == cert.subject),
        "not_after": int(cert.not_valid_after_utc.timestamp()),
        "not_before": int(cert.not_valid_before_utc.timestamp()),
        "issuer": {
            "commonName": _attr(cert.issuer, NameOID.COMMON_NAME),
            "organizationName": _attr(cert.issuer, NameOID.ORGANIZATION_NAME),
        },
        "issuer_text": cert.issuer.rfc4514_string(),
        "signature_algorithm": cert.signature_algorithm_oid._name,
        "modulus": None,
        "modulus_length": None,
        "ecdsa_curve_name": None,
        "ecdsa_public": None,
    }
    if isinstance(key, rsa.RSAPublicKey):
        info |= {
            "key_algorithm": "rsaEncryption",
            "modulus": format(key.public_numbers().n, "x"),
            "modulus_length": key.key_size,
        }
    elif isinstance(key, ec.EllipticCurvePublicKey):
        point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        info |= {
            "key_algorithm": "id-ecPublicKey",
            "ecdsa_curve_name": key.curve.name,
            "ecdsa_public": point.hex(),
        }
    return info


def key_matches(cert_pem: str, key_pem: str) -> bool:
    """True when key_pem is the private key of cert_pem's public key."""
    cert = load(cert_pem)
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError):
        return False
    if cert is None:
        return False
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return bool(key.public_key().public_bytes(der, spki) == cert.public_key().public_bytes(der, spki))
