"""Per mail domain: the names, ports and modes clients and senders are told to use, from every source.

MX (senders, port 25), RFC 6186 SRV, Thunderbird autoconfig, Outlook autodiscover, the MTA-STS policy and
the TLSA records of every MX and SRV endpoint. Lookups that fail become findings here; what the endpoints
then serve is judged in mailcert.checks.dns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mailcert.catalogue import default_severity
from mailcert.dns import autoconfig, autodiscover, mtasts
from mailcert.dns.records import TlsaRecord, mx_records, srv_records, tlsa_records, txt_strings
from mailcert.dns.resolver import DnsAnswer, DnsLookup, Outcome
from mailcert.dns.srv import SRV_SERVICES, srv_name
from mailcert.dns.tlsa import tlsa_owner
from mailcert.dns.web import WebFetch, fetch
from mailcert.model import Finding, Mode, Severity

Fetcher = Callable[..., WebFetch]


@dataclass(frozen=True)
class Advertised:
    """One endpoint a domain tells clients (or senders) to use, and who told them."""

    hostname: str
    port: int
    protocol: str  # smtp, imap, pop3
    mode: Mode | None  # None: advertised without TLS
    source: str  # 'MX of example.com', 'SRV _imaps._tcp.example.com', 'autoconfig https://...'
    kind: str  # mx, srv, autoconfig, autodiscover
    wording: str = ""  # how the source said the mode: 'socketType SSL', 'SRV _submission (STARTTLS)'
    address: str | None = None  # where our resolver says the name is


@dataclass(frozen=True)
class TlsaSet:
    """The TLSA RRset of one endpoint (`_25._tcp.mx.example.com`) and whether the resolver validated it."""

    hostname: str
    port: int
    records: tuple[TlsaRecord, ...]
    authenticated: bool


@dataclass(frozen=True)
class WebDocument:
    """An HTTPS endpoint mail software fetches (autoconfig, autodiscover, mta-sts) and what it served."""

    purpose: str
    fetched: WebFetch


@dataclass(frozen=True)
class DomainDiscovery:
    domain: str
    resolver: str
    mx_hosts: tuple[str, ...] = ()
    advertised: tuple[Advertised, ...] = ()
    tlsa: tuple[TlsaSet, ...] = ()
    sts_policy: mtasts.StsPolicy | None = None
    web: tuple[WebDocument, ...] = ()
    findings: tuple[Finding, ...] = ()
    addresses: dict[str, str] = field(default_factory=dict)


class _Collector:
    def __init__(self, domain: str, dns: DnsLookup, fetcher: Fetcher) -> None:
        self.domain, self.dns, self.fetcher = domain, dns, fetcher
        self.advertised: list[Advertised] = []
        self.tlsa: list[TlsaSet] = []
        self.web: list[WebDocument] = []
        self.findings: list[Finding] = []
        self.addresses: dict[str, str | None] = {}
        self.address_failures: dict[str, DnsAnswer] = {}  # A/AAAA lookups that failed (SERVFAIL, timeout)

    def fail(
        self,
        check: str,
        message: str,
        fix: str,
        severity: Severity | None = None,
        *,
        hostname: str | None = None,
        port: int | None = None,
        service: str | None = None,
    ) -> None:
        self.findings.append(
            Finding(
                check=check,
                severity=severity or default_severity(check),
                message=message,
                fix=fix,
                service=service,
                port=port,
                hostname=hostname,
            )
        )

    def lookup_failed(self, check: str, answer: DnsAnswer, what: str) -> None:
        self.fail(
            check,
            f"could not look up {what} of {self.domain}: {answer.describe_failure()} from {self.dns.label}",
            "fix the zone or its DNSSEC signatures (SERVFAIL often means a validation failure), or point "
            "mailcert at a working resolver (--resolver / mailcert_resolver)",
            Severity.UNKNOWN,
        )

    def address_of(self, host: str) -> str | None:
        """The first A (else AAAA) address of `host`, as our resolver gives it; None when there is none."""
        if host not in self.addresses:
            found = None
            for rdtype in ("A", "AAAA"):
                answer = self.dns.lookup(host, rdtype)
                if answer.outcome is Outcome.OK and answer.records:
                    found = answer.records[0]
                    break
                if answer.outcome.failed:
                    self.address_failures.setdefault(host, answer)
            self.addresses[host] = found
        return self.addresses[host]

    def add(self, item: Advertised) -> None:
        self.advertised.append(Advertised(**{**item.__dict__, "address": self.address_of(item.hostname)}))

    def tlsa_of(self, host: str, port: int, check: str) -> None:
        answer = self.dns.lookup(tlsa_owner(host, port), "TLSA")
        if answer.outcome.failed:
            self.fail(
                check,
                f"could not look up TLSA {tlsa_owner(host, port)}: {answer.describe_failure()} from "
                f"{self.dns.label}; DANE senders defer mail while this fails",
                "fix the zone's DNSSEC signatures or the name servers so TLSA lookups answer",
                Severity.UNKNOWN,
                hostname=host,
                port=port,
            )
            return
        records = tlsa_records(answer.records)
        if records:
            self.tlsa.append(TlsaSet(host, port, tuple(records), answer.authenticated))


def discover_domain(
    domain: str, dns: DnsLookup, *, fetcher: Fetcher = fetch, email: str | None = None
) -> DomainDiscovery:
    """Everything `domain` advertises. Lookups and fetches that fail are findings; nothing raises."""
    domain = domain.strip().rstrip(".").lower()
    found = _Collector(domain, dns, fetcher)
    mx_hosts = _mx(found)
    _srv(found)
    mail = email or f"postmaster@{domain}"
    _autoconfig(found, mail)
    _autodiscover(found, mail)
    policy = _mta_sts(found)
    return DomainDiscovery(
        domain=domain,
        resolver=dns.label,
        mx_hosts=tuple(mx_hosts),
        advertised=tuple(dict.fromkeys(found.advertised)),
        tlsa=tuple(found.tlsa),
        sts_policy=policy,
        web=tuple(found.web),
        findings=tuple(found.findings),
        addresses={h: a for h, a in found.addresses.items() if a is not None},
    )


def _mx(found: _Collector) -> list[str]:
    answer = found.dns.lookup(found.domain, "MX")
    if answer.outcome.failed:
        found.lookup_failed("dns.mx-not-covered", answer, "the MX records")
        return []
    if answer.outcome is Outcome.NXDOMAIN:
        found.fail(
            "dns.mx-not-covered",
            f"mail domain {found.domain} does not exist in DNS (NXDOMAIN from {found.dns.label})",
            "correct mailcert_domains, or publish the domain's MX records",
            Severity.WARNING,
        )
        return []
    hosts = [r.exchange for r in mx_records(answer.records) if r.exchange]
    for host in hosts:
        found.add(Advertised(host, 25, "smtp", Mode.STARTTLS, f"MX of {found.domain}", "mx", "MX"))
        failed = found.address_failures.get(host) if found.address_of(host) is None else None
        if failed is not None:
            found.fail(
                "dns.mx-not-covered",
                f"could not look up the address of MX host {host}: {failed.describe_failure()} from "
                f"{found.dns.label}; senders defer mail while this fails",
                "fix the zone or its DNSSEC signatures (SERVFAIL often means a validation failure)",
                Severity.UNKNOWN,
                hostname=host,
                port=25,
                service="smtp",
            )
        elif found.address_of(host) is None:
            found.fail(
                "dns.mx-not-covered",
                f"MX host {host} of {found.domain} has no address (no A or AAAA record): senders cannot deliver",
                f"publish an A/AAAA record for {host}, or point the MX at a host that has one",
                hostname=host,
                port=25,
                service="smtp",
            )
        found.tlsa_of(host, 25, "dns.tlsa-mismatch")
    return hosts


def _srv(found: _Collector) -> None:
    for service in SRV_SERVICES:
        name = srv_name(service, found.domain)
        answer = found.dns.lookup(name, "SRV")
        if answer.outcome.failed:
            found.lookup_failed("dns.srv-mismatch", answer, f"SRV {service.label}")
            continue
        for record in srv_records(answer.records):
            if not record.target:
                continue  # "." — the service is decidedly not offered
            mode = "implicit TLS" if service.mode is Mode.IMPLICIT else "STARTTLS"
            found.add(
                Advertised(
                    record.target, record.port, service.protocol, service.mode, f"SRV {name}", "srv",
                    f"SRV {service.label.split('.')[0]} ({mode})",
                )
            )  # fmt: skip
            found.tlsa_of(record.target, record.port, "dns.tlsa-mismatch")


def _autoconfig(found: _Collector, email: str) -> None:
    for host, path in autoconfig.autoconfig_urls(found.domain):
        address = found.address_of(host)
        if address is None:
            continue
        fetched = found.fetcher(host, f"{path}?emailaddress={email}", address)
        found.web.append(WebDocument("autoconfig", fetched))
        if fetched.status != 200:
            continue
        servers, error = autoconfig.parse_autoconfig(fetched.body, found.domain, email)
        if error:
            found.fail(
                "config.mode-mismatch",
                f"autoconfig document {fetched.url} is unusable: {error}; Thunderbird falls back to guessing",
                "serve a valid config-v1.1.xml (clientConfig) there, or remove it",
                Severity.WARNING,
                hostname=host,
            )
            continue
        for server in servers:
            found.add(Advertised(server.hostname, server.port, server.protocol, server.mode,
                                 f"autoconfig https://{host}{path}", "autoconfig", server.wording))  # fmt: skip
        return  # Thunderbird stops at the first document it gets


def _autodiscover(found: _Collector, email: str) -> None:
    host = autodiscover.autodiscover_host(found.domain)
    address = found.address_of(host)
    if address is None:
        return
    fetched = found.fetcher(
        host,
        autodiscover.AUTODISCOVER_PATH,
        address,
        method="POST",
        body=autodiscover.autodiscover_request(email),
    )
    found.web.append(WebDocument("autodiscover", fetched))
    if fetched.status != 200:
        return
    servers, error = autodiscover.parse_autodiscover(fetched.body)
    if error:
        found.fail(
            "config.mode-mismatch",
            f"autodiscover answer from {fetched.url} is unusable: {error}",
            "serve a POX autodiscover answer with IMAP/POP3/SMTP <Protocol> entries, or remove the endpoint",
            Severity.WARNING,
            hostname=host,
        )
        return
    for server in servers:
        found.add(Advertised(server.hostname, server.port, server.protocol, server.mode,
                             f"autodiscover {fetched.url}", "autodiscover", server.wording))  # fmt: skip


def _mta_sts(found: _Collector) -> mtasts.StsPolicy | None:
    answer = found.dns.lookup(f"_mta-sts.{found.domain}", "TXT")
    if answer.outcome.failed:
        found.lookup_failed("dns.mta-sts-mismatch", answer, "the _mta-sts TXT record")
        return None
    record, problem = mtasts.parse_sts_record(txt_strings(answer.records))
    if problem:
        found.fail("dns.mta-sts-mismatch", f"_mta-sts.{found.domain}: {problem}",
                   "publish exactly one TXT record 'v=STSv1; id=<1-32 letters/digits>'", Severity.WARNING)  # fmt: skip
    if record is None:
        return None
    host = mtasts.policy_host(found.domain)
    address = found.address_of(host)
    if address is None:
        found.fail("dns.mta-sts-mismatch",
                   f"{found.domain} publishes an MTA-STS record but {host} has no address, so no policy can be fetched",
                   f"publish an A/AAAA record for {host} and serve the policy there over HTTPS",
                   Severity.WARNING, hostname=host)  # fmt: skip
        return None
    fetched = found.fetcher(host, mtasts.POLICY_PATH, address)
    found.web.append(WebDocument("mta-sts", fetched))
    if fetched.status != 200:
        redirect = (
            f" (redirect to {fetched.location}; senders do not follow redirects)" if fetched.location else ""
        )
        found.fail("dns.mta-sts-mismatch",
                   f"the MTA-STS policy {fetched.url} cannot be fetched: {fetched.error}{redirect}",
                   f"serve the policy as text/plain with status 200 directly at {fetched.url}",
                   Severity.WARNING, hostname=host, port=443)  # fmt: skip
        return None
    policy = mtasts.parse_policy(fetched.body.decode("utf-8", "replace"))
    if policy.problems:
        found.fail("dns.mta-sts-mismatch", f"the MTA-STS policy {fetched.url} is invalid: {'; '.join(policy.problems)}",
                   "fix the policy (version: STSv1, mode, mx:, max_age) and change the TXT record's id",
                   Severity.WARNING, hostname=host, port=443)  # fmt: skip
    return policy
