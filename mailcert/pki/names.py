"""Does a certificate cover the name a mail client dialled? RFC 6125 / RFC 7817 rules, no CNAME following."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache


@lru_cache(maxsize=8192)
def normalise(name: str) -> str:
    """Lower-case A-label form without a trailing dot; IDN U-labels are converted (cached: the IDNA codec is
    slow, and lint compares each configured name with many certificates)."""
    name = name.strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


@lru_cache(maxsize=8192)
def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def name_matches(pattern: str, hostname: str) -> bool:
    """One SAN entry against one hostname: a `*` is allowed only as the whole left-most label and stands
    for exactly one label (so `*.example.com` covers `mail.example.com`, not `example.com` nor
    `a.mail.example.com`)."""
    pattern, hostname = normalise(pattern), normalise(hostname)
    if not pattern or not hostname:
        return False
    if pattern == hostname:
        return True
    if not pattern.startswith("*."):
        return False
    suffix = pattern[2:]
    if "*" in suffix or suffix.count(".") < 1:
        return False  # `*.com` and nested wildcards cover nothing
    head, _, rest = hostname.partition(".")
    return bool(head) and rest == suffix


def covers(dns_names: Iterable[str], ip_addresses: Iterable[str], hostname: str) -> bool:
    """True when the SAN (DNS names and IP addresses) covers `hostname`; the CN is never consulted.

    A SAN entry is compared as written, as OpenSSL compares it: a U-label (UTF-8) entry covers nothing, not even
    its A-label form, and an IP entry that is a network (`192.0.2.0/24`, only meaningful in name constraints)
    covers no address."""
    if is_ip(hostname):
        target = ipaddress.ip_address(hostname)
        return any(is_ip(ip) and ipaddress.ip_address(ip) == target for ip in ip_addresses)
    return any(pattern.isascii() and name_matches(pattern, hostname) for pattern in dns_names)
