"""What DNS says about names a certificate is about to be requested for: where each name points (A/AAAA),
the CAA records that govern it (RFC 8659), and whether its zone answers (DNS-01).

`look_up` asks the resolver the audit uses (the edge); `caa_refusal` judges one CAA RRset (pure).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mailcert.dns.records import host
from mailcert.dns.resolver import DnsLookup, Outcome

LETSENCRYPT_CAA = "letsencrypt.org"  # the issuer domain name Let's Encrypt checks CAA `issue` values against


@dataclass(frozen=True)
class CaaRecord:
    flags: int
    tag: str  # issue, issuewild, iodef, ... (lower case)
    value: str  # the property value, unquoted

    @property
    def critical(self) -> bool:
        return bool(self.flags & 128)


@dataclass(frozen=True)
class NameDns:
    """One name to be issued, as the resolver answers for it."""

    name: str
    addresses: tuple[str, ...] = ()  # A and AAAA
    address_outcome: Outcome = Outcome.OK  # NXDOMAIN/NODATA: no address; failed outcomes: unknown
    address_error: str | None = None
    caa_owner: str | None = None  # where the relevant CAA RRset is (None: no CAA up to the TLD)
    caa: tuple[CaaRecord, ...] = ()
    caa_error: str | None = None  # a CAA lookup failed: the CA will refuse too (RFC 8659 §4.1)


def parse_caa(texts: Iterable[str]) -> list[CaaRecord]:
    """`0 issue "letsencrypt.org"` → CaaRecord; malformed records are skipped."""
    found: list[CaaRecord] = []
    for text in texts:
        flags, _, rest = text.strip().partition(" ")
        tag, _, value = rest.strip().partition(" ")
        if not flags.isdigit() or not tag:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        found.append(CaaRecord(int(flags), tag.lower(), value))
    return found


def caa_refusal(records: Iterable[CaaRecord], ca_domain: str, *, wildcard: bool) -> str | None:
    """Why the CAA RRset forbids `ca_domain` to issue (RFC 8659 §4.2, §4.3), or None when it allows it.

    A wildcard name is governed by `issuewild` when the set has one, else by `issue`; a set without the
    governing tag restricts nothing. An unknown tag marked critical forbids every CA."""
    records = list(records)
    critical = [r.tag for r in records if r.critical and r.tag not in ("issue", "issuewild", "iodef")]
    if critical:
        return f"a critical CAA property {critical[0]!r} that CAs do not understand forbids every CA"
    tag = "issuewild" if wildcard and any(r.tag == "issuewild" for r in records) else "issue"
    governing = [r for r in records if r.tag == tag]
    if not governing:
        return None
    allowed = [_issuer(r.value) for r in governing]
    if ca_domain.lower() in allowed:
        return None
    named = ", ".join(f'"{a}"' for a in allowed if a) or "no CA (`;`)"
    return f"CAA `{tag}` allows {named}, not {ca_domain}"


def _issuer(value: str) -> str:
    """The issuer domain name of a property value (`letsencrypt.org; validationmethods=dns-01`)."""
    return value.split(";", 1)[0].strip().rstrip(".").lower()


def look_up(names: Iterable[str], lookup: DnsLookup) -> dict[str, NameDns]:
    """Each name's addresses and governing CAA RRset, asked of `lookup`. Never raises for what DNS does."""
    caa_cache: dict[str, tuple[str | None, tuple[CaaRecord, ...], str | None]] = {}
    found: dict[str, NameDns] = {}
    for name in dict.fromkeys(n.lower().rstrip(".") for n in names):
        base = name.removeprefix("*.")
        addresses: list[str] = []
        outcome = Outcome.NODATA
        error = None
        for rdtype in ("A", "AAAA"):
            answer = lookup.lookup(base, rdtype)
            if answer.outcome is Outcome.OK:
                addresses += answer.records
                outcome = Outcome.OK
            elif answer.outcome.failed:
                error = error or answer.describe_failure()
                outcome = answer.outcome if outcome is not Outcome.OK else outcome
            elif answer.outcome is Outcome.NXDOMAIN and outcome is Outcome.NODATA:
                outcome = Outcome.NXDOMAIN
        owner, caa, caa_error = _caa(base, lookup, caa_cache)
        found[name] = NameDns(name, tuple(addresses), outcome, error, owner, caa, caa_error)
    return found


def _caa(
    name: str, lookup: DnsLookup, cache: dict[str, tuple[str | None, tuple[CaaRecord, ...], str | None]]
) -> tuple[str | None, tuple[CaaRecord, ...], str | None]:
    """The closest CAA RRset walking up from `name` (RFC 8659 §3), stopping below the top-level domain."""
    if name in cache:
        return cache[name]
    labels = host(name).split(".")
    result: tuple[str | None, tuple[CaaRecord, ...], str | None] = (None, (), None)
    if len(labels) >= 2:
        answer = lookup.lookup(name, "CAA")
        records = parse_caa(answer.records) if answer.outcome is Outcome.OK else []
        if answer.outcome.failed:
            result = (name, (), answer.describe_failure())
        elif records:
            result = (name, tuple(records), None)
        elif len(labels) > 2:
            result = _caa(".".join(labels[1:]), lookup, cache)
    cache[name] = result
    return result
