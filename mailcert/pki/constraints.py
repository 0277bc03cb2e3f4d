"""Name constraints as OpenSSL 3.0 applies them (crypto/x509/v3_ncons.c, `NAME_CONSTRAINTS_check`).

Every certificate below a CA with nameConstraints is checked against them: its subject DN (directoryName),
emailAddress attributes of the subject, every subjectAltName entry, and, for a leaf without a DNS SAN, a
CN that looks like a hostname. Per name type: when permitted subtrees of that type exist, one must match;
no excluded subtree of that type may match. A constraint of a type OpenSSL does not implement (otherName,
registeredID, ...) rejects a certificate that has a name of that type.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence

from cryptography import x509
from cryptography.x509.oid import NameOID

_NAME_CHECK_MAX = 1 << 20  # OpenSSL refuses to compare more names x constraints than this (DoS guard)
_HOSTNAME = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+\.?$")

NameValue = x509.GeneralName


class _UnsupportedError(Exception):
    """OpenSSL's X509_V_ERR_UNSUPPORTED_NAME_SYNTAX / _CONSTRAINT_TYPE."""


def violation(
    cert: x509.Certificate,
    san: x509.SubjectAlternativeName | None,
    constraints: x509.NameConstraints,
    *,
    is_leaf: bool,
) -> str | None:
    """Why `cert` breaks `constraints` (None when it does not)."""
    names = list(_names(cert, san))
    permitted = list(constraints.permitted_subtrees or ())
    excluded = list(constraints.excluded_subtrees or ())
    if names and len(permitted) + len(excluded) > _NAME_CHECK_MAX // len(names):
        return "too many names and name constraints to compare (OpenSSL gives up)"
    for name in names:
        why = _match(name, permitted, excluded)
        if why:
            return why
    if is_leaf and not (san and san.get_values_for_type(x509.DNSName)):
        for cn in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
            value = cn.value if isinstance(cn.value, str) else ""
            if _HOSTNAME.match(value):
                why = _match(x509.DNSName(value), permitted, excluded)
                if why:
                    return why
    return None


def _names(cert: x509.Certificate, san: x509.SubjectAlternativeName | None) -> Iterable[NameValue]:
    if len(cert.subject) > 0:
        yield x509.DirectoryName(cert.subject)
        for email in cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS):
            if isinstance(email.value, str):
                yield x509.RFC822Name(email.value)
    if san is not None:
        yield from san


def _match(name: NameValue, permitted: Sequence[NameValue], excluded: Sequence[NameValue]) -> str | None:
    try:
        same_type = [p for p in permitted if _same_type(name, p)]
        if same_type and not any(_single(name, base) for base in same_type):
            return f"{_show(name)} is outside the permitted name constraints"
        for base in excluded:
            if _same_type(name, base) and _single(name, base):
                return f"{_show(name)} is inside an excluded name constraint ({_show(base)})"
    except _UnsupportedError as exc:
        return f"{_show(name)}: {exc}"
    return None


def _same_type(name: NameValue, base: NameValue) -> bool:
    if type(name) is not type(base):
        return False
    if isinstance(name, x509.OtherName) and isinstance(base, x509.OtherName):
        return name.type_id == base.type_id
    return True


def _single(name: NameValue, base: NameValue) -> bool:
    if isinstance(name, x509.DNSName) and isinstance(base, x509.DNSName):
        return _dns(name.value, base.value)
    if isinstance(name, x509.IPAddress) and isinstance(base, x509.IPAddress):
        return _ip(name.value, base.value)
    if isinstance(name, x509.DirectoryName) and isinstance(base, x509.DirectoryName):
        return _dn(name.value, base.value)
    if isinstance(name, x509.RFC822Name) and isinstance(base, x509.RFC822Name):
        return _email(name.value, base.value)
    if isinstance(name, x509.UniformResourceIdentifier) and isinstance(base, x509.UniformResourceIdentifier):
        return _uri(name.value, base.value)
    raise _UnsupportedError(f"name constraints of type {type(base).__name__} are not supported by OpenSSL")


def _dns(dns: str, base: str) -> bool:
    """nc_dns: base empty matches all; otherwise a right-hand match on a label boundary (or base's own '.')."""
    dns, base = dns.lower(), base.lower()
    if not base:
        return True
    if len(dns) < len(base) or not dns.endswith(base):
        return False
    return len(dns) == len(base) or base.startswith(".") or dns[-len(base) - 1] == "."


def _ip(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | ipaddress.IPv4Network | ipaddress.IPv6Network,
    base: object,
) -> bool:
    if not isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
        raise _UnsupportedError("an IP address subjectAltName that is not a single address")
    if not isinstance(base, ipaddress.IPv4Network | ipaddress.IPv6Network):
        raise _UnsupportedError("an IP name constraint that is not an address and mask")
    if address.version != base.version:
        return False
    mask = int(base.netmask)
    return int(address) & mask == int(base.network_address) & mask


def _dn(subject: x509.Name, base: x509.Name) -> bool:
    """nc_dn: the constraint's RDNs are a prefix of the subject's (compared in canonical, case-folded form)."""
    ours, theirs = _canonical(subject), _canonical(base)
    return ours[: len(theirs)] == theirs


def _canonical(name: x509.Name) -> list[frozenset[tuple[str, str]]]:
    return [
        frozenset(
            (a.oid.dotted_string, " ".join(str(a.value).lower().split()) if isinstance(a.value, str) else "")
            for a in rdn
        )
        for rdn in name.rdns
    ]


def _email(email: str, base: str) -> bool:
    if "@" not in email:
        raise _UnsupportedError("an email address without '@'")
    local, _, host = email.rpartition("@")
    if "@" not in base and base.startswith("."):
        return len(email) > len(base) and email.lower().endswith(base.lower())
    if "@" in base:
        base_local, _, base = base.rpartition("@")
        if base_local and base_local != local:
            return False
    return host.lower() == base.lower()


def _uri(uri: str, base: str) -> bool:
    scheme, sep, rest = uri.partition("://")
    if not sep or not scheme:
        raise _UnsupportedError("a URI without a host")
    host = re.split(r"[:/?#]", rest, maxsplit=1)[0]
    if not host:
        raise _UnsupportedError("a URI without a host")
    if base.startswith("."):
        return host.lower().endswith(base.lower())
    return host.lower() == base.lower()


def _show(name: NameValue) -> str:
    if isinstance(name, x509.DirectoryName):
        return f"subject '{name.value.rfc4514_string()}'"
    if isinstance(name, x509.OtherName):
        return f"otherName {name.type_id.dotted_string}"
    label = {
        x509.DNSName: "DNS",
        x509.IPAddress: "IP",
        x509.RFC822Name: "email",
        x509.UniformResourceIdentifier: "URI",
    }.get(type(name), type(name).__name__)
    return f"{label}:{getattr(name, 'value', '?')}"
