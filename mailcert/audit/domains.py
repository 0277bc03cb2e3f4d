"""The audit's DNS stage for one host: discover each mail domain, probe what it advertises, check it."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from mailcert.checks.certs import CheckOptions
from mailcert.checks.dns import ProbeKey, check_discovery, dns_targets
from mailcert.checks.merge import merge_endpoint_findings
from mailcert.dns.discover import DomainDiscovery, discover_domain
from mailcert.dns.resolver import DnsLookup, Resolver, parse_resolver
from mailcert.model import Finding, Severity
from mailcert.probe import probe_all
from mailcert.probe.pool import ProbeMemo
from mailcert.probe.result import ProbeResult


def resolver_for(setting: str | None) -> Resolver:
    """`--resolver` / mailcert_resolver (ADDR[:PORT]) or, when unset, the system's resolvers."""
    return Resolver(parse_resolver(setting) if setting else None)


@dataclass(frozen=True)
class DomainsAudit:
    """The DNS stage's result: what the domains publish, what their endpoints served, the findings."""

    discoveries: tuple[DomainDiscovery, ...]
    results: Mapping[ProbeKey, ProbeResult]
    findings: tuple[Finding, ...]


def audit_domains(
    domains: Sequence[str],
    checks: CheckOptions,
    *,
    resolver: str | None = None,
    dns: DnsLookup | None = None,
    probed: Collection[tuple[str, int]] = (),
) -> tuple[list[DomainDiscovery], list[Finding]]:
    """What each domain tells clients and senders, probed and checked (two connections per server at a time).
    `probed`: (name, port) pairs the host's own probe already judged, so their findings are not repeated."""
    done = check_domains(domains, checks, resolver=resolver, dns=dns, probed=probed)
    return list(done.discoveries), list(done.findings)


def check_domains(
    domains: Sequence[str],
    checks: CheckOptions,
    *,
    resolver: str | None = None,
    dns: DnsLookup | None = None,
    probed: Collection[tuple[str, int]] = (),
    memo: ProbeMemo | None = None,
) -> DomainsAudit:
    """audit_domains, keeping the probe results (the report lists the endpoints DNS advertises). `memo`: the
    host's own probe results, so an endpoint both name is connected to once."""
    lookup = dns or resolver_for(resolver)
    discoveries = [_discover(domain, lookup) for domain in domains]
    targets = dns_targets(discoveries)
    keys = list(targets)
    results = dict(
        zip(keys, probe_all([targets[k] for k in keys], per_host=2, workers=4, memo=memo), strict=True)
    )
    findings: list[Finding] = []
    for discovery in discoveries:
        findings += check_discovery(discovery, results, checks, probed=probed)
    return DomainsAudit(
        tuple(discoveries), results, tuple(merge_endpoint_findings(list(dict.fromkeys(findings))))
    )


def _discover(domain: str, lookup: DnsLookup) -> DomainDiscovery:
    """One domain's discovery; a bug here costs that domain a finding, not the host its whole report."""
    try:
        return discover_domain(domain, lookup)
    except Exception as exc:  # noqa: BLE001 — reported as a finding, the other domains and the host go on
        finding = Finding(
            check="dns.mx-not-covered",
            severity=Severity.UNKNOWN,
            message=f"mailcert failed while reading what {domain} publishes: {type(exc).__name__}: {exc}",
            fix="report this as a mailcert bug, with the domain's MX/SRV/TXT/TLSA records",
        )
        return DomainDiscovery(domain=domain, resolver=lookup.label, findings=(finding,))
