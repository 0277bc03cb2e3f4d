"""Certificates a hostile or broken host may hold: names with control characters and shell syntax,
extensions whose bodies are junk (cryptography parses extensions lazily: loading works, reading them
raises), extreme dates. Made once per test session with `cryptography`."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtensionOID, NameOID

from tests.pki import Issued, TestPKI, new_key

HOSTILE_NAMES = [
    "mail.example.test\nmyhostname = evil.example",
    "\x1b[2J\x1b[31mred",
    "$(touch /tmp/mailcert-canary-cert)",
    "`touch /tmp/mailcert-canary-cert`",
    "| a | b |",
    "</td><script>alert(1)</script>",
    "{{ ''.__class__.__mro__ }}",
    "x" * 2000,
    "*.*.example.test",
    "",
]
JUNK_EXTENSIONS = [
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    ExtensionOID.BASIC_CONSTRAINTS,
    ExtensionOID.EXTENDED_KEY_USAGE,
    ExtensionOID.KEY_USAGE,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
]


@cache
def hostile_certificates() -> tuple[tuple[str, Issued], ...]:
    """(what, certificate + key): each one hostile in one way, issued by a test CA."""
    pki = TestPKI("Hostile")
    made: list[tuple[str, Issued]] = []
    for index, name in enumerate(HOSTILE_NAMES):
        made.append((f"name {index}", _issue(pki, cn=name if 0 < len(name) <= 64 else "x", sans=[name])))
    for oid in JUNK_EXTENSIONS:
        made.append((f"junk {oid.dotted_string}", _issue(pki, junk=oid)))
    made.append(
        (
            "year 1950-9999",
            _issue(pki, start=datetime(1950, 1, 1, tzinfo=UTC), end=datetime(9999, 12, 31, tzinfo=UTC)),
        )
    )
    return tuple(made)


def _issue(
    pki: TestPKI,
    *,
    cn: str = "mail.example.test",
    sans: list[str] | None = None,
    junk: x509.ObjectIdentifier | None = None,
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
    end: datetime = datetime(2027, 1, 1, tzinfo=UTC),
) -> Issued:
    key = new_key("ec")
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(pki.intermediate.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
    )
    if junk is not None:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(junk, b"\x04\x03\xff\x00\x01"), critical=False
        )
    elif sans is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False
        )
    return Issued(builder.sign(pki.intermediate.key, hashes.SHA256()), key)
