"""What the fix planner needs from DNS: must a renewal keep the key (DANE pins it), which TLSA record to
publish before a key change, and the names DNS adds to a certificate (`mailcert_hostnames_from_dns`).

Pure functions of discoveries and certificates; the planner decides and the applier acts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from mailcert.dns.discover import DomainDiscovery, TlsaSet
from mailcert.dns.tlsa import next_tlsa_record, tlsa_owner, tlsa_pins_certificate, tlsa_pins_key


@dataclass(frozen=True)
class DanePins:
    """The TLSA RRsets that pin a certificate's key (`3 1 x`) or the certificate itself (`3 0 x`)."""

    key_pinned_at: tuple[str, ...]  # `_25._tcp.mx.example.com`: keep the key on renewal
    cert_pinned_at: tuple[str, ...]  # these break on any renewal: publish a 3 1 1 record instead
    validated: bool  # every pinning RRset came with the AD flag (otherwise DANE is advisory today)

    @property
    def reuse_key(self) -> bool:
        return bool(self.key_pinned_at)


def dane_pins(discoveries: Sequence[DomainDiscovery], leaf: x509.Certificate) -> DanePins:
    """Which TLSA records, across the host's domains, pin `leaf` (the certificate a renewal would replace)."""
    key_at: list[str] = []
    cert_at: list[str] = []
    validated = True
    for tlsa in _all_tlsa(discoveries):
        owner = tlsa_owner(tlsa.hostname, tlsa.port)
        pinned = False
        if tlsa_pins_key(tlsa.records, leaf):
            key_at.append(owner)
            pinned = True
        if tlsa_pins_certificate(tlsa.records, leaf):
            cert_at.append(owner)
            pinned = True
        if pinned and not tlsa.authenticated:
            validated = False
    return DanePins(
        tuple(dict.fromkeys(key_at)), tuple(dict.fromkeys(cert_at)), validated and bool(key_at or cert_at)
    )


def reuse_key(setting: bool | None, pins: DanePins) -> bool:
    """mailcert_reuse_key: an explicit true/false wins; `auto` (None) keeps the key while TLSA pins it."""
    return pins.reuse_key if setting is None else setting


def rollover_records(pins: DanePins, next_key_spki: bytes) -> list[str]:
    """The `3 1 1` records to publish (next to the current ones) before the service switches to the new key."""
    records = []
    for owner in dict.fromkeys((*pins.key_pinned_at, *pins.cert_pinned_at)):
        port_label, _, rest = owner.partition("._tcp.")
        records.append(next_tlsa_record(rest, int(port_label.lstrip("_")), next_key_spki))
    return records


def names_from_dns(discoveries: Sequence[DomainDiscovery]) -> list[str]:
    """Every hostname the domains advertise to clients and senders (MX, SRV, autoconfig, autodiscover)."""
    return sorted({item.hostname for d in discoveries for item in d.advertised})


def _all_tlsa(discoveries: Sequence[DomainDiscovery]) -> list[TlsaSet]:
    return [tlsa for d in discoveries for tlsa in d.tlsa]
