"""A certificate's extensions read one by one, as OpenSSL reads them, without ever raising.

What OpenSSL does with them (crypto/x509/v3_purp.c, `ossl_x509v3_cache_extensions` and
`X509_supported_extension`, OpenSSL 3.0):
- a critical extension it does not implement makes it refuse the chain ("unhandled critical extension");
- an extension it decodes (basicConstraints, keyUsage, extendedKeyUsage, SKI, AKI, subjectAltName, nameConstraints,
  CRL distribution points, ...) that is malformed, empty where it may not be, or present twice marks the whole
  certificate invalid: it is never accepted, neither as a leaf nor as an issuer;
- an extension it does not decode (authorityInfoAccess, say) may be malformed without consequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from mailcert.pki.der import DerError, RawExtension, children, raw_extensions, read_tlv, with_only

# X509_supported_extension: the extensions OpenSSL may see marked critical.
OPENSSL_SUPPORTED = frozenset(
    {
        "2.16.840.1.113730.1.1",  # nsCertType
        "2.5.29.15",  # keyUsage
        "2.5.29.17",  # subjectAltName
        "2.5.29.19",  # basicConstraints
        "2.5.29.32",  # certificatePolicies
        "2.5.29.31",  # cRLDistributionPoints
        "2.5.29.37",  # extendedKeyUsage
        "1.3.6.1.5.5.7.1.7",  # sbgp-ipAddrBlock
        "1.3.6.1.5.5.7.1.8",  # sbgp-autonomousSysNum
        "1.3.6.1.5.5.7.48.1.5",  # OCSP noCheck
        "2.5.29.36",  # policyConstraints
        "1.3.6.1.5.5.7.1.14",  # proxyCertInfo
        "2.5.29.30",  # nameConstraints
        "2.5.29.33",  # policyMappings
        "2.5.29.54",  # inhibitAnyPolicy
    }
)
# The extensions OpenSSL decodes when it first looks at a certificate: broken or repeated, the certificate is invalid.
OPENSSL_DECODED = frozenset(
    {
        "2.5.29.19",
        "2.5.29.15",
        "2.5.29.37",
        "2.5.29.14",  # subjectKeyIdentifier
        "2.5.29.35",  # authorityKeyIdentifier
        "2.5.29.17",
        "2.5.29.30",
        "2.5.29.31",
        "2.16.840.1.113730.1.1",
        "1.3.6.1.5.5.7.1.14",
    }
)
_NAME_CONSTRAINTS = "2.5.29.30"
_NAMES = {
    "2.5.29.19": "basicConstraints",
    "2.5.29.15": "keyUsage",
    "2.5.29.37": "extendedKeyUsage",
    "2.5.29.14": "subjectKeyIdentifier",
    "2.5.29.35": "authorityKeyIdentifier",
    "2.5.29.17": "subjectAltName",
    "2.5.29.30": "nameConstraints",
    "2.5.29.31": "cRLDistributionPoints",
    "1.3.6.1.5.5.7.1.1": "authorityInfoAccess",
}


def extension_name(oid: str) -> str:
    return _NAMES.get(oid, oid)


@dataclass(frozen=True)
class Extensions:
    """What a client reads from one certificate's extensions; `invalid` non-empty means OpenSSL refuses it."""

    values: dict[str, x509.ExtensionType]  # dotted OID -> parsed value (first occurrence)
    critical_unknown: tuple[str, ...] = ()  # dotted OIDs of critical extensions OpenSSL does not implement
    invalid: tuple[str, ...] = ()  # why OpenSSL marks the certificate invalid (malformed/duplicate extension)
    ignored: tuple[str, ...] = ()  # malformed extensions OpenSSL does not decode (no consequence)
    present: frozenset[str] = frozenset()  # dotted OIDs of every extension the certificate lists

    def get(self, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
        return self.values.get(kind.oid.dotted_string)

    @property
    def basic_constraints(self) -> x509.BasicConstraints | None:
        value = self.values.get(ExtensionOID.BASIC_CONSTRAINTS.dotted_string)
        return value if isinstance(value, x509.BasicConstraints) else None

    @property
    def key_usage(self) -> x509.KeyUsage | None:
        value = self.values.get(ExtensionOID.KEY_USAGE.dotted_string)
        return value if isinstance(value, x509.KeyUsage) else None

    @property
    def extended_key_usage(self) -> x509.ExtendedKeyUsage | None:
        value = self.values.get(ExtensionOID.EXTENDED_KEY_USAGE.dotted_string)
        return value if isinstance(value, x509.ExtendedKeyUsage) else None

    @property
    def subject_alt_name(self) -> x509.SubjectAlternativeName | None:
        value = self.values.get(ExtensionOID.SUBJECT_ALTERNATIVE_NAME.dotted_string)
        return value if isinstance(value, x509.SubjectAlternativeName) else None

    @property
    def name_constraints(self) -> x509.NameConstraints | None:
        value = self.values.get(ExtensionOID.NAME_CONSTRAINTS.dotted_string)
        return value if isinstance(value, x509.NameConstraints) else None

    @property
    def subject_key_identifier(self) -> bytes | None:
        value = self.values.get(ExtensionOID.SUBJECT_KEY_IDENTIFIER.dotted_string)
        return value.digest if isinstance(value, x509.SubjectKeyIdentifier) else None

    @property
    def authority_key_identifier(self) -> x509.AuthorityKeyIdentifier | None:
        value = self.values.get(ExtensionOID.AUTHORITY_KEY_IDENTIFIER.dotted_string)
        return value if isinstance(value, x509.AuthorityKeyIdentifier) else None


@lru_cache(maxsize=4096)
def extensions_of(cert: x509.Certificate) -> Extensions:
    """The extensions of `cert`, read as OpenSSL reads them (cached: certificates are immutable)."""
    try:
        parsed = cert.extensions
    except Exception:  # noqa: BLE001 — malformed or duplicate extension (DuplicateExtension, ValueError, TypeError)
        return _one_by_one(cert)
    values = {ext.oid.dotted_string: ext.value for ext in parsed}
    critical = tuple(
        ext.oid.dotted_string
        for ext in parsed
        if ext.critical and ext.oid.dotted_string not in OPENSSL_SUPPORTED
    )
    invalid = _empty_usage(values)
    return Extensions(values, critical, invalid, present=frozenset(values))


def _one_by_one(cert: x509.Certificate) -> Extensions:
    try:
        raw = raw_extensions(cert)
    except (DerError, ValueError):
        return Extensions({}, invalid=("its extensions cannot be decoded",))
    values: dict[str, x509.ExtensionType] = {}
    invalid: list[str] = []
    ignored: list[str] = []
    seen: set[str] = set()
    for ext in raw:
        name = extension_name(ext.oid)
        if ext.oid in seen:
            if ext.oid in OPENSSL_DECODED:
                invalid.append(f"it has two {name} extensions")
            continue
        seen.add(ext.oid)
        value = _parse_one(cert, ext)
        if value is None and ext.oid == _NAME_CONSTRAINTS and _no_subtrees(ext.value):
            continue  # OpenSSL reads an empty nameConstraints as constraining nothing; cryptography refuses it
        if value is not None:
            values[ext.oid] = value
        elif ext.oid in OPENSSL_DECODED:
            invalid.append(f"its {name} extension is malformed")
        else:
            ignored.append(f"its {name} extension is malformed")
    critical = tuple(e.oid for e in raw if e.critical and e.oid not in OPENSSL_SUPPORTED)
    return Extensions(
        values,
        tuple(dict.fromkeys(critical)),
        (*invalid, *_empty_usage(values)),
        tuple(ignored),
        frozenset(seen),
    )


def _parse_one(cert: x509.Certificate, ext: RawExtension) -> x509.ExtensionType | None:
    try:
        alone = with_only(cert, ext)
        return alone.extensions.get_extension_for_oid(x509.ObjectIdentifier(ext.oid)).value
    except Exception:  # noqa: BLE001 — any refusal means this one extension is malformed
        return None


def _no_subtrees(value: bytes) -> bool:
    """A nameConstraints value holding no subtree at all (both absent, or both empty sequences)."""
    try:
        outer, _ = read_tlv(value)
        return outer.tag == 0x30 and all(
            part.tag in (0xA0, 0xA1) and not part.value for part in children(outer.value)
        )
    except DerError:
        return False


def _empty_usage(values: dict[str, x509.ExtensionType]) -> tuple[str, ...]:
    """RFC 5280 4.2.1.3: a keyUsage with no bit set is invalid (OpenSSL: EXFLAG_INVALID)."""
    usage = values.get(ExtensionOID.KEY_USAGE.dotted_string)
    if isinstance(usage, x509.KeyUsage) and not any(
        (
            usage.digital_signature,
            usage.content_commitment,
            usage.key_encipherment,
            usage.data_encipherment,
            usage.key_agreement,
            usage.key_cert_sign,
            usage.crl_sign,
        )
    ):
        return ("its keyUsage extension sets no usage",)
    return ()
