"""Zone-file text of MX, SRV, TXT and TLSA answers → typed records. Junk records are skipped, not fatal."""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.rdataclass
import dns.rdatatype
from dns.rdata import Rdata, from_text


def _rdata(rdtype: str, text: str) -> Rdata | None:
    try:
        return from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), text)
    except (dns.exception.DNSException, ValueError, UnicodeError):
        return None


def host(name: object) -> str:
    """A dnspython name as mailcert writes hostnames: lower case, no trailing dot ('' for the root '.')."""
    return str(name).rstrip(".").lower()


@dataclass(frozen=True)
class MxRecord:
    preference: int
    exchange: str  # '' for a null MX (RFC 7505: the domain accepts no mail)


@dataclass(frozen=True)
class SrvRecord:
    priority: int
    weight: int
    port: int
    target: str  # '' for '.': the service is decidedly not offered (RFC 2782)


@dataclass(frozen=True)
class TlsaRecord:
    usage: int  # 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE
    selector: int  # 0 whole certificate, 1 SubjectPublicKeyInfo
    matching: int  # 0 exact, 1 SHA-256, 2 SHA-512
    data: bytes

    def text(self) -> str:
        return f"{self.usage} {self.selector} {self.matching} {self.data.hex()}"


def mx_records(texts: tuple[str, ...]) -> list[MxRecord]:
    found = []
    for text in texts:
        rdata = _rdata("MX", text)
        if rdata is not None:
            found.append(MxRecord(int(rdata.preference), host(rdata.exchange)))  # type: ignore[attr-defined]
    return sorted(found, key=lambda r: (r.preference, r.exchange))


def srv_records(texts: tuple[str, ...]) -> list[SrvRecord]:
    found = []
    for text in texts:
        r = _rdata("SRV", text)
        if r is not None:
            found.append(SrvRecord(int(r.priority), int(r.weight), int(r.port), host(r.target)))  # type: ignore[attr-defined]
    return sorted(found, key=lambda r: (r.priority, -r.weight, r.target, r.port))


def txt_strings(texts: tuple[str, ...]) -> list[str]:
    """Each TXT record as one string (its character-strings joined, as RFC 7208/8461 readers do)."""
    found = []
    for text in texts:
        r = _rdata("TXT", text)
        if r is not None:
            found.append(b"".join(r.strings).decode("utf-8", "replace"))  # type: ignore[attr-defined]
    return found


def tlsa_records(texts: tuple[str, ...]) -> list[TlsaRecord]:
    found = []
    for text in texts:
        r = _rdata("TLSA", text)
        if r is not None:
            found.append(TlsaRecord(int(r.usage), int(r.selector), int(r.mtype), bytes(r.cert)))  # type: ignore[attr-defined]
    return found
