"""Turn the bytes of a certificate/key file into PEM blocks, reducing private keys to their public half."""

from __future__ import annotations

import base64
import binascii
import re

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from mailcert.facts import BlockKind, PemBlock

MAX_PEM_BYTES = 1024 * 1024

_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9][A-Z0-9 ]{0,60})-----\r?\n(.*?)-----END \1-----", re.DOTALL)
_KEY_LABELS = {"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY"}


def scan_pem(data: bytes) -> tuple[tuple[PemBlock, ...], str | None]:
    """All PEM blocks of `data` in order, and a reason when the data holds no usable PEM at all."""
    blocks: list[PemBlock] = []
    for match in _BLOCK.finditer(data):
        label = match.group(1).decode("ascii")
        blocks.append(_block(label, match.group(0), match.group(2)))
    if blocks:
        return tuple(blocks), None
    return (), _why_no_pem(data)


def _why_no_pem(data: bytes) -> str:
    if not data.strip():
        return "the file is empty"
    if data[:1] == b"\x30":
        return "the file is DER (binary), not PEM; convert it with `openssl x509 -inform der -in FILE`"
    if b"-----BEGIN" in data:
        return "the file has a broken PEM block (BEGIN without a matching END line)"
    return "the file holds no PEM data"


def _block(label: str, whole: bytes, body: bytes) -> PemBlock:
    if label in ("CERTIFICATE", "X509 CERTIFICATE"):
        return _certificate_block(label, body)
    if label in _KEY_LABELS:
        return _key_block(label, whole)
    return PemBlock(kind=BlockKind.OTHER, label=label)


def _certificate_block(label: str, body: bytes) -> PemBlock:
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
        cert = x509.load_der_x509_certificate(der)
        # cryptography parses lazily: a damaged name or public key fails only when read, deep in a check.
        cert.subject, cert.issuer, cert.public_key()
    except (binascii.Error, ValueError) as exc:
        return PemBlock(
            kind=BlockKind.CERTIFICATE, label=label, error=f"corrupt certificate block ({_short(exc)})"
        )
    except UnsupportedAlgorithm as exc:
        return PemBlock(
            kind=BlockKind.CERTIFICATE, label=label, error=f"unsupported certificate key ({_short(exc)})"
        )
    return PemBlock(kind=BlockKind.CERTIFICATE, label=label, der=der)


def _key_block(label: str, whole: bytes) -> PemBlock:
    encrypted = label == "ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in whole
    if encrypted:
        return PemBlock(kind=BlockKind.PRIVATE_KEY, label=label, encrypted=True)
    try:
        key = serialization.load_pem_private_key(whole, password=None)
    except TypeError:
        return PemBlock(kind=BlockKind.PRIVATE_KEY, label=label, encrypted=True)
    except (ValueError, binascii.Error) as exc:
        return PemBlock(
            kind=BlockKind.PRIVATE_KEY, label=label, error=f"corrupt private key block ({_short(exc)})"
        )
    except Exception as exc:  # noqa: BLE001 — unsupported algorithms raise UnsupportedAlgorithm etc.
        return PemBlock(
            kind=BlockKind.PRIVATE_KEY, label=label, error=f"unsupported private key ({_short(exc)})"
        )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return PemBlock(kind=BlockKind.PRIVATE_KEY, label=label, public_key_der=spki)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
