"""Names from DNS: what mail clients and senders are told to use, found the way they find it.

One module per source: `mx`, `srv` (RFC 6186), `autoconfig` (Thunderbird), `autodiscover` (Outlook POX),
`mtasts` (RFC 8461), `tlsa` (DANE, RFC 7671/7672); `resolver` wraps dnspython, `web` fetches the HTTPS
documents (connecting only to the addresses our resolver gave), and `discover` ties them into the endpoints
a domain advertises; `audit` is the audit's DNS stage, `endpoints` the report's view of what DNS advertises,
`rollover` what the fix planner needs (DANE pins, records to publish, names from DNS). Every failure
(SERVFAIL, NXDOMAIN, timeouts, junk documents) is data, never an exception.

Public API: `parse_resolver`, `Resolver`, `DnsAnswer`, `discover_domain`, `DomainDiscovery`, `Advertised`,
`tlsa_pins_key`, `next_tlsa_record`, `tlsa_matches`.
"""

from __future__ import annotations

from mailcert.dns.discover import Advertised, DomainDiscovery, discover_domain
from mailcert.dns.resolver import DnsAnswer, Resolver, parse_resolver
from mailcert.dns.tlsa import next_tlsa_record, tlsa_matches, tlsa_pins_key

__all__ = [
    "Advertised",
    "DnsAnswer",
    "DomainDiscovery",
    "Resolver",
    "discover_domain",
    "next_tlsa_record",
    "parse_resolver",
    "tlsa_matches",
    "tlsa_pins_key",
]
