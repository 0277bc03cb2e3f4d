"""Discovery and the dns.* checks on recorded answers: what a domain advertises (zone-file records as a
resolver returns them, documents as a web server returns them) against what the endpoints serve."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mailcert.checks.certs import CheckOptions
from mailcert.checks.dns import ProbeKey, check_discovery, dns_targets, probe_key
from mailcert.dns.discover import DomainDiscovery, discover_domain
from mailcert.dns.resolver import DnsAnswer, Outcome
from mailcert.dns.web import WebFetch
from mailcert.model import Finding, Mode, Severity
from mailcert.pki.trust import TrustStore
from mailcert.probe.result import Observed, ProbeResult
from tests.pki import Issued, TestPKI

D = "example.test"
PKI = TestPKI("DNS checks")
MAIL = PKI.leaf([f"mail.{D}", f"smtp.{D}", f"imap.{D}", f"pop.{D}"])
WEB = {name: PKI.leaf([name]) for name in (f"autoconfig.{D}", f"mta-sts.{D}", D)}
WRONG_AUTODISCOVER = PKI.leaf([f"www.other.{D}"])
NOW = datetime(2026, 6, 1, tzinfo=UTC)
OPTS = CheckOptions(now=NOW, trust=TrustStore.of([PKI.root.cert]))


def spki_hex(issued: Issued) -> str:
    key = issued.cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(key).hexdigest()


def zone(**changes: tuple[str, ...] | Outcome) -> dict[tuple[str, str], DnsAnswer]:
    records: dict[tuple[str, str], tuple[str, ...] | Outcome] = {
        (D, "MX"): ("10 mail.example.test.",),
        (f"_submissions._tcp.{D}", "SRV"): ("0 1 465 smtp.example.test.",),
        (f"_submission._tcp.{D}", "SRV"): ("0 1 587 smtp.example.test.",),
        (f"_imaps._tcp.{D}", "SRV"): ("0 1 993 imap.example.test.",),
        (f"_pop3._tcp.{D}", "SRV"): ("0 0 0 .",),
        (f"_25._tcp.mail.{D}", "TLSA"): (f"3 1 1 {spki_hex(MAIL)}",),
        (f"_mta-sts.{D}", "TXT"): ('"v=STSv1; id=1"',),
    }
    for host in ("mail", "smtp", "imap", "pop", "autoconfig", "autodiscover", "mta-sts"):
        records[(f"{host}.{D}", "A")] = (
            "192.0.2.10" if host in ("mail", "smtp", "imap", "pop") else "192.0.2.80",
        )
    for key, value in changes.items():
        name, _, rdtype = key.rpartition("__")
        records[(name.replace("_dot_", ".").replace("_us_", "_"), rdtype)] = value
    answers = {}
    for (name, rdtype), value in records.items():
        if isinstance(value, Outcome):
            answers[(name, rdtype)] = DnsAnswer(name, rdtype, value, error="recorded")
        else:
            answers[(name, rdtype)] = DnsAnswer(name, rdtype, Outcome.OK, value)
    return answers


class RecordedDns:
    label = "recorded answers"

    def __init__(self, answers: Mapping[tuple[str, str], DnsAnswer], authenticated: bool = False) -> None:
        self.answers = answers
        self.authenticated = authenticated

    def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        answer = self.answers.get((name, rdtype), DnsAnswer(name, rdtype, Outcome.NXDOMAIN))
        if self.authenticated:
            return DnsAnswer(answer.name, answer.rdtype, answer.outcome, answer.records, True, answer.error)
        return answer


AUTOCONFIG = f"""<clientConfig version="1.1"><emailProvider id="{D}">
<incomingServer type="imap"><hostname>imap.{D}</hostname><port>993</port><socketType>SSL</socketType></incomingServer>
<outgoingServer type="smtp"><hostname>smtp.{D}</hostname><port>587</port><socketType>{{socket}}</socketType></outgoingServer>
</emailProvider></clientConfig>"""
POLICY = "version: STSv1\r\nmode: enforce\r\nmx: {mx}\r\nmax_age: 86400\r\n"


def web(socket: str = "STARTTLS", mx: str = f"mail.{D}", autodiscover_cert: object = None):  # type: ignore[no-untyped-def]
    def fetcher(host: str, path: str, address: str, **_: object) -> WebFetch:
        leaf = WEB.get(host) or (autodiscover_cert if host.startswith("autodiscover.") else None)
        chain = (
            (leaf.cert.public_bytes(Encoding.DER), PKI.intermediate.cert.public_bytes(Encoding.DER))
            if leaf
            else ()
        )
        if host == f"autoconfig.{D}":
            return WebFetch(
                host,
                path,
                address,
                chain,
                200,
                AUTOCONFIG.replace("{socket}", socket).encode(),
                connected=True,
            )
        if host == f"mta-sts.{D}":
            return WebFetch(host, path, address, chain, 200, POLICY.format(mx=mx).encode(), connected=True)
        if host.startswith("autodiscover.") and leaf:
            return WebFetch(host, path, address, chain, 404, b"", error="HTTP 404", connected=True)
        return WebFetch(host, path, address, error="connection refused (nothing listens on this port)")

    return fetcher


def served(
    discovery: DomainDiscovery, *, leaf: object = MAIL, speaks: Mapping[int, Mode] | None = None
) -> dict[ProbeKey, ProbeResult]:
    """What the one mail server serves: `leaf` everywhere; each port speaks its standard mode unless told."""
    standard = {
        25: Mode.STARTTLS,
        587: Mode.STARTTLS,
        143: Mode.STARTTLS,
        110: Mode.STARTTLS,
        465: Mode.IMPLICIT,
        993: Mode.IMPLICIT,
        995: Mode.IMPLICIT,
    }
    chain = (leaf.cert.public_bytes(Encoding.DER), PKI.intermediate.cert.public_bytes(Encoding.DER))  # type: ignore[attr-defined]
    results = {}
    for key, target in dns_targets([discovery]).items():
        mode = (speaks or {}).get(target.port, standard[target.port])
        observed = Observed.IMPLICIT if mode is Mode.IMPLICIT else Observed.STARTTLS
        results[key] = ProbeResult(target.hostname, target.address, target.port, target.expected_mode, observed,
                                   chain, "TLSv1.3", protocol=target.protocol, service=target.service)  # fmt: skip
    return results


def findings_of(dns: RecordedDns, fetcher, **kwargs: object) -> list[Finding]:  # type: ignore[no-untyped-def]
    discovery = discover_domain(D, dns, fetcher=fetcher)
    return check_discovery(discovery, served(discovery, **kwargs), OPTS)  # type: ignore[arg-type]


def checks(findings: list[Finding]) -> list[tuple[str, str, int | None, str | None]]:
    return sorted((f.check, f.severity.value, f.port, f.hostname) for f in findings)


def test_healthy_domain_advertises_mx_srv_autoconfig_and_has_no_findings() -> None:
    discovery = discover_domain(D, RecordedDns(zone()), fetcher=web())
    advertised = {(a.hostname, a.port, a.mode, a.kind) for a in discovery.advertised}
    assert advertised == {
        (f"mail.{D}", 25, Mode.STARTTLS, "mx"),
        (f"smtp.{D}", 465, Mode.IMPLICIT, "srv"),
        (f"smtp.{D}", 587, Mode.STARTTLS, "srv"),
        (f"imap.{D}", 993, Mode.IMPLICIT, "srv"),
        (f"imap.{D}", 993, Mode.IMPLICIT, "autoconfig"),
        (f"smtp.{D}", 587, Mode.STARTTLS, "autoconfig"),
    }  # _pop3._tcp target "." = not offered
    assert all(a.address == "192.0.2.10" for a in discovery.advertised)
    assert discovery.sts_policy is not None and discovery.sts_policy.mode == "enforce"
    assert check_discovery(discovery, served(discovery), OPTS) == []


def test_srv_advertising_465_as_starttls_is_srv_mismatch() -> None:
    answers = zone(**{f"_us_submission._tcp_dot_{D}__SRV": ("0 1 465 smtp.example.test.",)})
    found = findings_of(RecordedDns(answers), web())
    assert checks(found) == [("dns.srv-mismatch", "critical", 465, f"smtp.{D}")]
    assert "with STARTTLS" in found[0].message and "465 speaks implicit TLS" in found[0].message


def test_autoconfig_ssl_on_587_is_config_mode_mismatch() -> None:
    found = findings_of(RecordedDns(zone()), web(socket="SSL"))
    assert checks(found) == [("config.mode-mismatch", "critical", 587, f"smtp.{D}")]
    assert "socketType SSL" in found[0].message and "<socketType>STARTTLS</socketType>" in found[0].fix


def test_mx_not_covered_and_mta_sts_enforce_policy_then_fails_its_pkix_check() -> None:
    other = PKI.leaf([f"smtp.{D}", f"imap.{D}"])
    found = findings_of(RecordedDns(zone()), web(), leaf=other)
    got = {(f.check, f.port, f.hostname) for f in found}
    assert ("dns.mx-not-covered", 25, f"mail.{D}") in got
    assert ("dns.mta-sts-mismatch", 25, f"mail.{D}") in got
    assert ("dns.tlsa-mismatch", 25, f"mail.{D}") in got  # another key is served than the TLSA pins


def test_mta_sts_mx_not_matching_is_critical_in_enforce_mode() -> None:
    found = findings_of(RecordedDns(zone()), web(mx=f"*.elsewhere.{D}"))
    assert checks(found) == [("dns.mta-sts-mismatch", "critical", 25, f"mail.{D}")]
    assert "*.elsewhere.example.test" in found[0].message and f"mx: mail.{D}" in found[0].fix


def test_tlsa_for_an_old_key_is_advisory_without_dnssec_and_critical_with_it() -> None:
    old = (
        PKI.leaf([f"mail.{D}"])
        .cert.public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    answers = zone(**{f"_us_25._tcp_dot_mail_dot_{D}__TLSA": (f"3 1 1 {hashlib.sha256(old).hexdigest()}",)})
    unsigned = [f for f in findings_of(RecordedDns(answers), web()) if f.check == "dns.tlsa-mismatch"]
    assert [f.severity for f in unsigned] == [Severity.WARNING]
    assert "advisory" in unsigned[0].message and "not DNSSEC-validated" in unsigned[0].message
    signed = [
        f
        for f in findings_of(RecordedDns(answers, authenticated=True), web())
        if f.check == "dns.tlsa-mismatch"
    ]
    assert [f.severity for f in signed] == [Severity.CRITICAL]
    assert f"3 1 1 {spki_hex(MAIL)}" in signed[0].fix  # the record to publish for the served key


def test_autodiscover_certificate_for_another_name_is_a_name_mismatch_outlook_warns_about() -> None:
    found = findings_of(RecordedDns(zone()), web(autodiscover_cert=WRONG_AUTODISCOVER))
    assert checks(found) == [("cert.name-mismatch", "critical", 443, f"autodiscover.{D}")]
    assert "Outlook shows a certificate warning" in found[0].message


def test_servfail_and_timeout_are_unknown_findings_and_the_rest_is_still_checked() -> None:
    answers = zone(**{f"{D}__MX": Outcome.SERVFAIL, f"_us_imaps._tcp_dot_{D}__SRV": Outcome.TIMEOUT})
    found = findings_of(RecordedDns(answers), web())
    assert checks(found) == [
        ("dns.mx-not-covered", "unknown", None, None),
        ("dns.srv-mismatch", "unknown", None, None),
    ]
    assert "SERVFAIL for example.test MX" in found[0].message
    assert "TIMEOUT for _imaps._tcp.example.test SRV" in found[1].message


def test_probe_key_uses_the_advertised_mode() -> None:
    discovery = discover_domain(D, RecordedDns(zone()), fetcher=web(socket="SSL"))
    keys = {probe_key(a) for a in discovery.advertised}
    assert (f"smtp.{D}", 587, Mode.IMPLICIT) in keys and (f"smtp.{D}", 587, Mode.STARTTLS) in keys


def test_mta_sts_policy_behind_a_redirect_is_not_followed_and_is_reported() -> None:
    plain = web()

    def redirecting(host: str, path: str, address: str, **kwargs: object) -> WebFetch:
        if host == f"mta-sts.{D}":
            return WebFetch(
                host, path, address, (), 301, b"", location="https://www.example.test/p", error="HTTP 301"
            )
        return plain(host, path, address, **kwargs)

    found = findings_of(RecordedDns(zone()), redirecting)
    assert checks(found) == [("dns.mta-sts-mismatch", "warning", 443, f"mta-sts.{D}")]
    assert "senders do not follow redirects" in found[0].message


def test_endpoints_the_host_probe_already_judged_are_not_reported_twice() -> None:
    expired = PKI.leaf(
        [f"mail.{D}", f"smtp.{D}", f"imap.{D}", f"pop.{D}"],
        not_before=datetime(2025, 1, 1, tzinfo=UTC),
        not_after=datetime(2026, 2, 1, tzinfo=UTC),
    )
    discovery = discover_domain(D, RecordedDns(zone()), fetcher=web())
    results = served(discovery, leaf=expired)
    alone = {f.check for f in check_discovery(discovery, results, OPTS)}
    assert "cert.expired" in alone
    probed = [(a.hostname, a.port) for a in discovery.advertised]
    again = {f.check for f in check_discovery(discovery, results, OPTS, probed=probed)}
    assert "cert.expired" not in again
    assert "dns.mta-sts-mismatch" in again  # what the source adds stays: enforce-mode senders refuse it
