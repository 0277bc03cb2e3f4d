"""Names from DNS against real servers: the lab's dnsmasq serving the lab mail domains (MX, RFC 6186 SRV, TXT,
TLSA) and its nginx serving their autoconfig, autodiscover and MTA-STS documents over HTTPS with lab-CA
certificates (both started by `lab up` on the bridge address), in front of the lab's real Postfix/Dovecot
host mx1. Each fault is planted with mailcert.lab.dns.publish (dnsmasq and nginx restarted with the changed
records or documents); the mail host itself stays healthy.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import dns.message
import dns.rcode
import pytest

from mailcert.audit.domains import audit_domains
from mailcert.audit.host import AuditSettings, audit_host
from mailcert.checks.certs import CheckOptions
from mailcert.dns.resolver import Resolver, parse_resolver
from mailcert.inventory import load_inventory
from mailcert.lab.dns import LabMailDomain, host_spki, lab_resolver, publish
from mailcert.lab.network import GATEWAY
from mailcert.model import Finding, Severity, Status
from mailcert.pki.trust import TrustStore
from tests.lab.fixture import Lab

pytestmark = pytest.mark.lab

HOST = "mx1"
SERVFAIL_ADDRESS = "127.213.0.54"


@dataclass
class DnsLab:
    lab: Lab
    domain: LabMailDomain

    @property
    def resolver(self) -> str:
        return lab_resolver()

    def publish(self, *faults: str) -> LabMailDomain:
        """Restart the lab's dnsmasq and nginx serving the domain with these faults (none: healthy)."""
        publish(self.lab.dir, {HOST: faults} if faults else {})
        return replace(self.domain, faults=frozenset(faults))

    def audit(self, timeout: float = 3.0) -> list[Finding]:
        """The audit's DNS stage for the domain (discovery, probes, checks), trusting the lab's roots."""
        checks = CheckOptions(now=datetime.now(UTC), trust=TrustStore.load([str(self.lab.ca_bundle)]))
        resolver = Resolver(parse_resolver(self.resolver), timeout=timeout)
        return audit_domains([self.domain.domain], checks, dns=resolver)[1]


@pytest.fixture(scope="module")
def dns_lab(lab_session: Lab) -> Iterator[DnsLab]:
    host = lab_session.host(HOST)
    domain = LabMailDomain(host.domain, host.address, str(GATEWAY), host_spki(host))
    running = DnsLab(lab_session, domain)
    running.publish()
    yield running
    running.publish()


@pytest.fixture
def healthy(dns_lab: DnsLab) -> Iterator[DnsLab]:
    yield dns_lab
    dns_lab.publish()


def found(findings: list[Finding], check: str) -> list[Finding]:
    return [f for f in findings if f.check == check]


def test_healthy_domain_adds_no_finding_to_the_whole_audit(healthy: DnsLab) -> None:
    """The audit hook: mailcert_domains + mailcert_resolver on the host; nothing found beyond the host's own."""
    lab = healthy.lab
    host = load_inventory(str(lab.inventory)).host(HOST)
    settings = AuditSettings(now=datetime.now(UTC), ca_bundles=(str(lab.ca_bundle),))
    assert host.domains == (healthy.domain.domain,)  # the lab inventory names the host's domain
    without = audit_host(replace(host, domains=()), settings).report
    report = audit_host(host, settings).report
    assert report.error is None and without.error is None
    assert set(report.findings) == set(without.findings), set(report.findings) ^ set(without.findings)
    assert report.status is without.status


def test_a_fault_in_dns_reaches_the_whole_audit(healthy: DnsLab) -> None:
    healthy.publish("mta-sts-mx-mismatch")
    lab = healthy.lab
    host = load_inventory(str(lab.inventory)).host(HOST)
    settings = AuditSettings(
        now=datetime.now(UTC), ca_bundles=(str(lab.ca_bundle),), resolver=healthy.resolver
    )
    report = audit_host(replace(host, domains=(healthy.domain.domain,)), settings).report
    assert [f.hostname for f in report.findings if f.check == "dns.mta-sts-mismatch"] == [
        healthy.domain.mx_host
    ]
    assert report.status is Status.CRITICAL


def test_healthy_domain_has_every_source_and_no_findings(healthy: DnsLab) -> None:
    from mailcert.dns.discover import discover_domain

    resolver = Resolver(parse_resolver(healthy.resolver))
    discovery = discover_domain(healthy.domain.domain, resolver)
    kinds = {a.kind for a in discovery.advertised}
    assert kinds == {"mx", "srv", "autoconfig", "autodiscover"}
    assert {w.fetched.status for w in discovery.web} == {200}
    assert {(t.hostname, t.port) for t in discovery.tlsa} == {
        (healthy.domain.mx_host, 25), (healthy.domain.name("imap"), 993),
    }  # fmt: skip
    assert discovery.sts_policy is not None and discovery.sts_policy.mode == "enforce"
    assert healthy.audit() == []


def test_tlsa_for_an_old_key_is_found_as_advisory_without_dnssec(healthy: DnsLab) -> None:
    healthy.publish("tlsa-old-key")
    (finding,) = found(healthy.audit(), "dns.tlsa-mismatch")
    assert finding.hostname == healthy.domain.mx_host and finding.port == 25
    assert finding.severity is Severity.WARNING and "advisory" in finding.message  # dnsmasq does no DNSSEC
    assert finding.fix.startswith(f"publish `_25._tcp.{healthy.domain.mx_host}. IN TLSA 3 1 1 ")


def test_srv_advertising_465_as_starttls_is_found(healthy: DnsLab) -> None:
    healthy.publish("srv-465-starttls")
    findings = healthy.audit()
    (finding,) = found(findings, "dns.srv-mismatch")
    assert (finding.port, finding.hostname) == (465, healthy.domain.name("smtp"))
    assert "_submission._tcp" in finding.message and "465 speaks implicit TLS" in finding.message


def test_autoconfig_ssl_on_587_is_found(healthy: DnsLab) -> None:
    healthy.publish("autoconfig-ssl-587")
    (finding,) = found(healthy.audit(), "config.mode-mismatch")
    assert (finding.port, finding.hostname) == (587, healthy.domain.name("smtp"))
    assert "autoconfig" in finding.message and "socketType SSL" in finding.message


def test_mta_sts_mx_not_matching_is_found(healthy: DnsLab) -> None:
    healthy.publish("mta-sts-mx-mismatch")
    (finding,) = found(healthy.audit(), "dns.mta-sts-mismatch")
    assert finding.severity is Severity.CRITICAL and finding.hostname == healthy.domain.mx_host


def test_autodiscover_certificate_for_another_name_is_found(healthy: DnsLab) -> None:
    healthy.publish("autodiscover-wrong-cert")
    findings = healthy.audit()
    assert [(f.check, f.port, f.hostname) for f in findings] == [
        ("cert.name-mismatch", 443, f"autodiscover.{healthy.domain.domain}")
    ]
    assert "Outlook" in findings[0].message


def test_a_silent_dns_server_gives_unknown_findings_not_a_crash(healthy: DnsLab) -> None:
    """dnsmasq forwards timeout.<domain> to a port where nothing answers: every lookup times out."""
    checks = CheckOptions(now=datetime.now(UTC), trust=TrustStore.load([str(healthy.lab.ca_bundle)]))
    resolver = Resolver(parse_resolver(healthy.resolver), timeout=0.5)
    _, findings = audit_domains([f"timeout.{healthy.domain.domain}"], checks, dns=resolver)
    assert {f.check for f in findings} == {"dns.mx-not-covered", "dns.srv-mismatch", "dns.mta-sts-mismatch"}
    assert all(f.severity is Severity.UNKNOWN and "TIMEOUT" in f.message for f in findings)


@pytest.fixture
def servfail_server() -> Iterator[str]:
    """A name server that answers SERVFAIL to everything (as a validating resolver does for a bad signature)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((SERVFAIL_ADDRESS, 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            reply = dns.message.make_response(dns.message.from_wire(data))
            reply.set_rcode(dns.rcode.SERVFAIL)
            sock.sendto(reply.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"{SERVFAIL_ADDRESS}:{sock.getsockname()[1]}"
    stop.set()
    thread.join()
    sock.close()


def test_servfail_gives_unknown_findings_and_the_host_report_says_unknown(
    healthy: DnsLab, servfail_server: str
) -> None:
    checks = CheckOptions(now=datetime.now(UTC), trust=TrustStore.load([str(healthy.lab.ca_bundle)]))
    _, findings = audit_domains([healthy.domain.domain], checks, resolver=servfail_server)
    assert {f.check for f in findings} == {"dns.mx-not-covered", "dns.srv-mismatch", "dns.mta-sts-mismatch"}
    assert all(f.severity is Severity.UNKNOWN and "SERVFAIL" in f.message for f in findings)
