"""Just enough DER to read a certificate's extension list the way OpenSSL does when cryptography refuses it.

cryptography parses all extensions of a certificate at once and raises when any one of them is malformed or
repeated (`DuplicateExtension`), so one broken authorityInfoAccess hides a valid subjectAltName. OpenSSL looks
at each extension on its own. Here the TBSCertificate is split into its extensions (OID, critical, value), and
a single extension can be read with cryptography by re-wrapping it alone into a copy of the certificate (the
signature is not checked when loading, so the copy needs no key).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding


class DerError(ValueError):
    """The bytes are not the DER structure expected."""


@dataclass(frozen=True)
class Tlv:
    tag: int
    value: bytes
    encoded: bytes  # the whole element, header included


@dataclass(frozen=True)
class RawExtension:
    oid: str  # dotted form
    critical: bool
    value: bytes  # the extnValue OCTET STRING's content
    encoded: bytes  # the whole Extension element


def read_tlv(data: bytes, offset: int = 0) -> tuple[Tlv, int]:
    """The element at `offset` and the offset just after it (single-byte tags, definite lengths only)."""
    if offset + 2 > len(data):
        raise DerError("truncated element")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-byte tag")
    length = data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise DerError("bad length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise DerError("truncated element")
    return Tlv(tag, data[start:end], data[offset:end]), end


def children(data: bytes) -> list[Tlv]:
    """The elements one after another in `data` (the content of a SEQUENCE or SET)."""
    items: list[Tlv] = []
    offset = 0
    while offset < len(data):
        item, offset = read_tlv(data, offset)
        items.append(item)
    return items


def encode(tag: int, value: bytes) -> bytes:
    length = len(value)
    if length < 0x80:
        return bytes([tag, length]) + value
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + value


def decode_oid(value: bytes) -> str:
    if not value:
        raise DerError("empty OID")
    arcs: list[int] = []
    current = 0
    for byte in value:
        current = (current << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(current)
            current = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


def _tbs_parts(cert: x509.Certificate) -> list[Tlv]:
    tbs, _ = read_tlv(cert.tbs_certificate_bytes)
    return children(tbs.value)


def raw_extensions(cert: x509.Certificate) -> list[RawExtension]:
    """Every extension in the order the certificate lists them, duplicates included."""
    found: list[RawExtension] = []
    for part in _tbs_parts(cert):
        if part.tag != 0xA3:  # [3] EXPLICIT Extensions
            continue
        sequence, _ = read_tlv(part.value)
        for ext in children(sequence.value):
            fields = children(ext.value)
            if len(fields) < 2 or fields[0].tag != 0x06:
                raise DerError("bad Extension")
            critical = len(fields) == 3 and fields[1].tag == 0x01 and fields[1].value != b"\x00"
            if fields[-1].tag != 0x04:
                raise DerError("extnValue is not an OCTET STRING")
            found.append(RawExtension(decode_oid(fields[0].value), critical, fields[-1].value, ext.encoded))
    return found


def with_only(cert: x509.Certificate, extension: RawExtension) -> x509.Certificate:
    """A copy of `cert` holding only `extension`, for reading that one with cryptography (signature invalid)."""
    parts = [p.encoded for p in _tbs_parts(cert) if p.tag != 0xA3]
    parts.append(encode(0xA3, encode(0x30, extension.encoded)))
    tbs = encode(0x30, b"".join(parts))
    outer, _ = read_tlv(cert.public_bytes(Encoding.DER))
    fields = children(outer.value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the original was loaded already; its warnings were given then
        return x509.load_der_x509_certificate(encode(0x30, tbs + b"".join(f.encoded for f in fields[1:])))


_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
_EC_PUBLIC_KEY_DER = bytes.fromhex("06072a8648ce3d0201")  # that OID as DER encodes it (tag, length, value)


def has_explicit_ec_parameters(cert: x509.Certificate) -> bool:
    """The subjectPublicKeyInfo gives an EC key with explicit curve parameters instead of a named curve
    (OpenSSL refuses it in a chain: "Certificate public key has explicit ECC parameters")."""
    try:
        if cert.public_key_algorithm_oid.dotted_string != _EC_PUBLIC_KEY:
            return False
    except Exception:  # noqa: BLE001, S110 — an algorithm cryptography cannot name: the walk below decides
        pass
    tbs = cert.tbs_certificate_bytes
    at = tbs.find(_EC_PUBLIC_KEY_DER)
    after = at + len(_EC_PUBLIC_KEY_DER)
    if at >= 0 and tbs.find(_EC_PUBLIC_KEY_DER, after) < 0 and tbs[after : after + 1] == b"\x06":
        return False  # the certificate's one id-ecPublicKey is followed by a curve's OID: a named curve
    try:
        spki = children(read_tlv(subject_public_key_info(cert))[0].value)
        algorithm = children(spki[0].value)
        return (
            decode_oid(algorithm[0].value) == _EC_PUBLIC_KEY
            and len(algorithm) > 1
            and algorithm[1].tag == 0x30
        )
    except (DerError, IndexError, ValueError):
        return False


def subject_public_key_info(cert: x509.Certificate) -> bytes:
    """The subjectPublicKeyInfo element as the certificate encodes it (also when the key itself is unusable)."""
    parts = [p for p in _tbs_parts(cert) if p.tag not in (0xA0, 0x81, 0x82, 0xA3)]
    return parts[5].encoded
