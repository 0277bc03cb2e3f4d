"""DANE TLSA (RFC 6698, 7671, 7672): does a record match the served chain, and what the next record is.

Usage 3 (DANE-EE) and 1 (PKIX-EE) match the leaf; 2 (DANE-TA) and 0 (PKIX-TA) match a certificate after the
leaf in the chain as served. Selector 0 hashes the whole certificate, 1 its SubjectPublicKeyInfo.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mailcert.dns.records import TlsaRecord

USAGE_NAMES = {0: "PKIX-TA", 1: "PKIX-EE", 2: "DANE-TA", 3: "DANE-EE"}


def tlsa_owner(host: str, port: int) -> str:
    """`_25._tcp.mx.example.com`: where the TLSA records of an endpoint live."""
    return f"_{port}._tcp.{host}"


def spki_der(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _digest(matching: int, data: bytes) -> bytes | None:
    if matching == 0:
        return data
    if matching == 1:
        return hashlib.sha256(data).digest()
    if matching == 2:
        return hashlib.sha512(data).digest()
    return None


def record_matches(record: TlsaRecord, cert: x509.Certificate) -> bool:
    """One record against one certificate (its selector and matching type applied)."""
    if record.selector == 0:
        selected = cert.public_bytes(Encoding.DER)
    elif record.selector == 1:
        selected = spki_der(cert)
    else:
        return False
    return _digest(record.matching, selected) == record.data


def tlsa_matches(record: TlsaRecord, chain: Sequence[x509.Certificate]) -> bool:
    """True when the record matches the served chain (leaf for EE usages, an issuer for TA usages)."""
    if not chain:
        return False
    if record.usage in (1, 3):
        return record_matches(record, chain[0])
    if record.usage in (0, 2):
        return any(record_matches(record, cert) for cert in chain[1:])
    return False


def usable(record: TlsaRecord) -> bool:
    """Records a DANE client can use at all (RFC 7672 §3.1.3: SMTP clients ignore usages 0 and 1)."""
    return record.usage in (2, 3) and record.selector in (0, 1) and record.matching in (0, 1, 2)


def tlsa_pins_key(records: Sequence[TlsaRecord], leaf: x509.Certificate) -> bool:
    """True when a record pins the leaf's key (`3 1 x`): a renewal must keep the key (certbot --reuse-key)."""
    return any(r.usage in (1, 3) and r.selector == 1 and record_matches(r, leaf) for r in records)


def tlsa_pins_certificate(records: Sequence[TlsaRecord], leaf: x509.Certificate) -> bool:
    """True when a record pins the whole leaf (`3 0 x`): every renewal breaks it, even with the key kept."""
    return any(r.usage in (1, 3) and r.selector == 0 and record_matches(r, leaf) for r in records)


def next_tlsa_record(host: str, port: int, spki: bytes) -> str:
    """The `3 1 1` record to publish (before switching keys) for a key whose SubjectPublicKeyInfo is `spki`."""
    return f"{tlsa_owner(host, port)}. IN TLSA 3 1 1 {hashlib.sha256(spki).hexdigest()}"
