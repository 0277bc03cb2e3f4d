"""Facts about one X.509 certificate, read without network or clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mailcert.pki.der import subject_public_key_info
from mailcert.pki.extensions import extensions_of


@dataclass(frozen=True)
class KeyInfo:
    algorithm: str  # "RSA", "EC", "Ed25519", ...
    bits: int


@lru_cache(maxsize=4096)
def readable(cert: x509.Certificate) -> bool:
    """The fields every check reads (names, validity, signature algorithm) decode; cryptography loads a
    certificate before decoding them, so a loaded certificate can still fail here (cached per certificate)."""
    try:
        _ = (cert.subject, cert.issuer, cert.not_valid_before_utc, cert.not_valid_after_utc)
        _ = (cert.signature_algorithm_oid, cert.subject.rfc4514_string(), cert.issuer.rfc4514_string())
    except Exception:  # noqa: BLE001 — ValueError, TypeError from lazily decoded fields
        return False
    return True


@lru_cache(maxsize=4096)
def sha256_hex(cert: x509.Certificate) -> str:
    """The SHA-256 fingerprint in hex (cached, as the other per-certificate facts: certificates are immutable)."""
    return cert.fingerprint(hashes.SHA256()).hex()


@lru_cache(maxsize=4096)
def spki_der(cert: x509.Certificate) -> bytes:
    try:
        return cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except Exception:  # noqa: BLE001 — a key cryptography cannot load: compare the bytes as encoded
        return subject_public_key_info(cert)


def common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if values:
        value = values[0].value
        return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return name.rfc4514_string() or "(empty name)"


@lru_cache(maxsize=4096)
def describe(cert: x509.Certificate) -> str:
    """Short human label: CN plus the end of its fingerprint, enough to tell two certificates apart (cached)."""
    return f"'{common_name(cert.subject)}' (sha256 …{sha256_hex(cert)[-8:]})"


def san_dns_names(cert: x509.Certificate) -> tuple[str, ...]:
    san = _san(cert)
    return tuple(san.get_values_for_type(x509.DNSName)) if san is not None else ()


def san_ip_addresses(cert: x509.Certificate) -> tuple[str, ...]:
    san = _san(cert)
    return tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress)) if san is not None else ()


def has_san(cert: x509.Certificate) -> bool:
    return _san(cert) is not None


def _san(cert: x509.Certificate) -> x509.SubjectAlternativeName | None:
    """The SAN as OpenSSL reads it: present even when another extension is malformed or repeated; None when
    absent or itself malformed (the chain judge then calls the certificate invalid)."""
    return extensions_of(cert).subject_alt_name


def is_self_issued(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject


def is_self_signed(cert: x509.Certificate) -> bool:
    """Issuer equals subject and the signature verifies with the certificate's own key."""
    return is_self_issued(cert) and signed_by(cert, cert)


@lru_cache(maxsize=8192)
def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """`issuer` signed `cert` (names chain and the signature verifies), legacy SHA-1/MD5 signatures included:
    those must be recognised so they can be reported as weak, not mistaken for a missing issuer. Cached per
    (certificate, issuer): certificates hash and compare by their DER, so each signature is verified once."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except ValueError:
        return _legacy_signature_ok(cert, issuer)
    except Exception:  # noqa: BLE001 — InvalidSignature, TypeError, UnsupportedAlgorithm alike
        return False
    return True


def _legacy_signature_ok(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Verify signatures cryptography's X.509 layer refuses (SHA-1, MD5) with the raw public-key primitives."""
    try:
        algorithm = cert.signature_hash_algorithm
        key = issuer.public_key()
        if algorithm is None:
            return False
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        else:
            return False
    except Exception:  # noqa: BLE001 — any failure means "not signed by this issuer"
        return False
    return True


def key_info(cert: x509.Certificate) -> KeyInfo:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return KeyInfo("RSA", key.key_size)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return KeyInfo("EC", key.curve.key_size)
    if isinstance(key, dsa.DSAPublicKey):
        return KeyInfo("DSA", key.key_size)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return KeyInfo("Ed25519", 256)
    if isinstance(key, ed448.Ed448PublicKey):
        return KeyInfo("Ed448", 456)
    return KeyInfo(type(key).__name__, 0)


def signature_hash_name(cert: x509.Certificate) -> str | None:
    """Lower-case hash name of the signature ("sha1", "md5", "sha256"), None for hashless schemes (Ed25519)."""
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:  # noqa: BLE001 — UnsupportedAlgorithm for md2/md4 and unknown OIDs
        oid_name = cert.signature_algorithm_oid._name.lower()
        return "md5" if "md5" in oid_name else ("md2" if "md2" in oid_name else oid_name)
    return algorithm.name.lower() if algorithm is not None else None


def server_auth_allowed(cert: x509.Certificate) -> tuple[bool, str | None]:
    """Whether a TLS server may present this leaf: EKU (if present) must include serverAuth (or anyEKU),
    and keyUsage (if present) must allow a handshake signature or key exchange. Returns (ok, why-not)."""
    exts = extensions_of(cert)
    eku = exts.extended_key_usage
    if eku is not None and not (
        ExtendedKeyUsageOID.SERVER_AUTH in eku or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku
    ):
        purposes = ", ".join(oid._name for oid in eku) or "none"
        return False, f"its extendedKeyUsage ({purposes}) lacks serverAuth"
    usage = exts.key_usage
    if usage is None:
        return True, None
    if not (usage.digital_signature or usage.key_encipherment or usage.key_agreement):
        return False, "its keyUsage allows neither digitalSignature nor keyEncipherment"
    return True, None


def not_after(cert: x509.Certificate) -> datetime:
    return cert.not_valid_after_utc


def not_before(cert: x509.Certificate) -> datetime:
    return cert.not_valid_before_utc
