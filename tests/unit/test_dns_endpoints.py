"""The report's endpoints: what DNS advertises, merged into the host's own endpoints or listed on its own."""

from __future__ import annotations

from mailcert.audit.dns_endpoints import with_dns_endpoints
from mailcert.dns.discover import Advertised, DomainDiscovery
from mailcert.model import ConfiguredCert, Endpoint, Mode
from mailcert.probe.result import Observed, ProbeResult
from mailcert.report.json import endpoint_to_dict

OWN = Endpoint(
    "postfix", 25, Mode.STARTTLS, ("mail.example.com", "smtp.example.com"),
    ConfiguredCert("/etc/letsencrypt/live/mail/fullchain.pem", "/etc/letsencrypt/live/mail/privkey.pem"),
)  # fmt: skip


def discovery(*items: Advertised) -> DomainDiscovery:
    return DomainDiscovery(domain="example.com", resolver="192.0.2.53", advertised=items)


def test_mx_of_a_configured_name_is_merged_into_the_hosts_endpoint() -> None:
    mx = Advertised("MAIL.example.com", 25, "smtp", Mode.STARTTLS, "MX of example.com", "mx", "MX")
    (merged,) = with_dns_endpoints([OWN], [discovery(mx)], {})
    assert merged.advertised_by == ("MX of example.com",)
    assert merged.configured == OWN.configured and merged.hostnames == OWN.hostnames


def test_an_endpoint_only_dns_names_is_listed_with_its_sources_and_what_it_served() -> None:
    srv = Advertised(
        "imap.example.com", 993, "imap", Mode.IMPLICIT, "SRV _imaps._tcp.example.com", "srv", "SRV _imaps"
    )
    auto = Advertised(
        "imap.example.com", 993, "imap", Mode.IMPLICIT, "autoconfig https://autoconfig.example.com/mail/config-v1.1.xml",
        "autoconfig", "socketType SSL",
    )  # fmt: skip
    result = ProbeResult(
        "imap.example.com", "192.0.2.10", 993, Mode.IMPLICIT, Observed.CLOSED, service="imap"
    )
    own, extra = with_dns_endpoints(
        [OWN], [discovery(srv, auto)], {("imap.example.com", 993, Mode.IMPLICIT): result}
    )
    assert own == OWN  # not advertised by DNS: unchanged, and its JSON has no advertised_by
    assert "advertised_by" not in endpoint_to_dict(own)
    assert (extra.service, extra.port, extra.mode, extra.hostnames) == (
        "imap",
        993,
        Mode.IMPLICIT,
        ("imap.example.com",),
    )
    assert extra.configured == ConfiguredCert(None, None) and extra.served is None  # no TLS session was made
    assert endpoint_to_dict(extra)["advertised_by"] == [
        "SRV _imaps._tcp.example.com",
        "autoconfig https://autoconfig.example.com/mail/config-v1.1.xml",
    ]


def test_no_domains_leave_the_endpoints_as_they_are() -> None:
    assert with_dns_endpoints([OWN], [], {}) == [OWN]
