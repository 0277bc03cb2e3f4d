"""Audit one inventory host: SSH, one gather round trip, lint of the gathered files, clock skew, probe.

Every failure of a host becomes that host's `unknown` report with a one-line reason; nothing here raises
for a bad host, so the other hosts go on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from mailcert.audit.lint import HostModel, lint_host_model
from mailcert.audit.options import lint_options, trust_bundles
from mailcert.checks.certs import CheckOptions
from mailcert.checks.merge import merge_endpoint_findings
from mailcert.dns.discover import DomainDiscovery
from mailcert.errors import MailcertError
from mailcert.gather.host import GatheredHost
from mailcert.gather.remote import gather_host
from mailcert.gather.unfinished import state_folder, unfinished_findings
from mailcert.inventory.model import InventoryHost, Secret
from mailcert.model import ClientView, Endpoint, Finding, HostReport, ServedCert, Severity
from mailcert.pki.trust import TrustStore, TrustStores
from mailcert.services.certbot.renewals import last_renewals
from mailcert.ssh import DEFAULT_TIMEOUT, StrictConnection

if TYPE_CHECKING:
    from mailcert.probe.pool import ProbeMemo

MAX_CLOCK_SKEW = 60


@dataclass(frozen=True)
class AuditSettings:
    """What every host's audit shares: the instant to judge validity at, trust, timeouts, whether to probe."""

    now: datetime
    ca_bundles: tuple[str, ...] = ()
    connect_timeout: int = DEFAULT_TIMEOUT
    probe: bool = True
    gather_root: str = "/"  # where the host's / is (tests plant trees elsewhere)
    sudo_password: Secret | None = (
        None  # --prompt-for-sudo-password: for become hosts the inventory gives none
    )
    # each set of bundles loaded once per run (settings are made once per run and shared by its hosts)
    trust_loader: Callable[[Sequence[str]], TrustStore] = field(default_factory=TrustStores)
    resolver: str | None = None  # --resolver ADDR[:PORT] for mailcert_domains (beats mailcert_resolver)


@dataclass(frozen=True)
class HostAudit:
    """One host's result: its report, and (when gathering worked) the facts and lint model for `fix`."""

    host: InventoryHost
    report: HostReport
    gathered: GatheredHost | None = None
    model: HostModel | None = None
    discoveries: tuple[DomainDiscovery, ...] = ()  # what mailcert_domains publish (fix: DANE, names from DNS)


def audit_host(host: InventoryHost, settings: AuditSettings) -> HostAudit:
    """The host's report; a host that cannot be reached or read is `unknown` with its reason."""
    try:
        return _audit(host, settings)
    except MailcertError as exc:
        return HostAudit(
            # The todo goes to the finding's fix (and once into the error line), not also into the reason.
            host,
            unreachable(
                host.name,
                exc.what if exc.where in (None, host.name) else f"{exc.where}: {exc.what}",
                exc.todo,
            ),
        )
    except Exception as exc:  # noqa: BLE001 — one host's bug must not stop the fleet; reported, not hidden
        return HostAudit(
            host, unreachable(host.name, f"mailcert failed on this host: {type(exc).__name__}: {exc}")
        )


def unreachable(name: str, reason: str, todo: str | None = None) -> HostReport:
    finding = Finding(
        check="host.unreachable",
        severity=Severity.UNKNOWN,
        message=reason,
        fix=todo or "fix the connection problem, then run the audit again",
    )
    return HostReport(name=name, findings=(finding,), error=reason + (f" — {todo}" if todo else ""))


def _audit(host: InventoryHost, settings: AuditSettings) -> HostAudit:
    if host.become and host.become_password is None and settings.sudo_password is not None:
        host = replace(host, become_password=settings.sudo_password)
    conn = StrictConnection(host, timeout=settings.connect_timeout)
    try:
        before = time.time()
        gathered = gather_host(conn, root=settings.gather_root, state_dir=state_folder(host))
        after = time.time()
    finally:
        conn.close()
    trust = settings.trust_loader(trust_bundles(host, settings.ca_bundles))
    options = lint_options(host, now=settings.now, trust=trust, versions=gathered.versions)
    checks = options.checks
    report, model = lint_host_model(gathered, name=host.name, options=options)
    findings = list(report.findings)
    skew = clock_skew(gathered.clock, before, after)
    if skew is not None:
        findings.append(skew)
    findings += unfinished_findings(gathered, host.name)  # a fix run whose host-side worker died
    endpoints = list(report.endpoints)
    from mailcert.probe.pool import ProbeMemo

    memo = ProbeMemo()  # the DNS stage reuses what the host's own probe got for the same endpoint
    if settings.probe and endpoints:
        endpoints, probe_findings = probe_endpoints(host, endpoints, checks, findings, memo=memo)
        findings += probe_findings
    discoveries: tuple[DomainDiscovery, ...] = ()
    if settings.probe and host.domains:  # names, ports and modes the domains' DNS advertises (mailcert.dns)
        from mailcert.audit.dns_endpoints import with_dns_endpoints
        from mailcert.audit.domains import check_domains

        resolver = settings.resolver or host.resolver
        probed = [(name, e.port) for e in endpoints for name in e.hostnames]
        dns = check_domains(host.domains, checks, resolver=resolver, probed=probed, memo=memo)
        findings += dns.findings
        discoveries = dns.discoveries
        endpoints = with_dns_endpoints(endpoints, dns.discoveries, dns.results)
    return HostAudit(
        host,
        replace(
            report,
            endpoints=tuple(endpoints),
            findings=tuple(findings),
            renewals=tuple(last_renewals(gathered)),  # in the JSON report, so `report merge` has them too
        ),
        gathered,
        model,
        discoveries,
    )


def clock_skew(host_clock: int | None, before: float, after: float) -> Finding | None:
    """host.clock-skew when the host's clock (read during the gather) is more than 60 s off ours."""
    if host_clock is None:
        return None
    if host_clock < before - MAX_CLOCK_SKEW:
        offset = host_clock - before
    elif host_clock > after + MAX_CLOCK_SKEW:
        offset = host_clock - after
    else:
        return None
    direction = "behind" if offset < 0 else "ahead of"
    return Finding(
        check="host.clock-skew",
        severity=Severity.WARNING,
        message=f"the host's clock is {abs(int(offset))} s {direction} this machine's: certificates may look "
        "not yet valid or expired to it, and renewals run at the wrong time",
        fix="run time synchronisation on the host (systemd-timesyncd, chrony or ntpd) and check its time zone",
    )


def probe_endpoints(
    host: InventoryHost,
    endpoints: Sequence[Endpoint],
    checks: CheckOptions,
    lint_findings: Sequence[Finding],
    memo: ProbeMemo | None = None,
) -> tuple[list[Endpoint], list[Finding]]:
    """Probe every advertised hostname on every TLS port of the host, as a client would."""
    from mailcert.checks.served import check_consistency, check_probe, served_cert, served_chain
    from mailcert.checks.verdict import client_view
    from mailcert.probe import probe_all, target_for

    address = host.probe_address or host.address
    targets = []
    owners: list[int] = []
    for index, endpoint in enumerate(endpoints):
        if not endpoint.hostnames and endpoint.by_sni:
            # no client name selects this SNI certificate: by address the server answers with its default
            # one, which says nothing about this entry (its files are checked by lint all the same)
            continue
        for name in endpoint.hostnames or (address,):
            targets.append(target_for(name, endpoint.port, address=address, mode=endpoint.mode))
            owners.append(index)
    # An endpoint no client name is advertised for (e.g. a default certificate every name of which has its
    # own SNI entry, as on cPanel) is probed by address for what it serves; the address is no name a client
    # checks, so a name mismatch there says nothing.
    unnamed = {index for index, endpoint in enumerate(endpoints) if not endpoint.hostnames}
    # one host: 2 connections at a time, as `probe` does
    results = probe_all(targets, per_host=2, workers=2, memo=memo)
    served: dict[int, ServedCert] = {}
    clients: dict[int, list[ClientView]] = {}
    reported = {(f.check, f.port) for f in lint_findings}
    findings: list[Finding] = []
    for index, result in zip(owners, results, strict=True):
        endpoint = endpoints[index]
        cert = served_cert(result)
        same_leaf = cert is not None and cert.sha256 == endpoint.configured.sha256
        probed = check_probe(
            result,
            checks,
            configured_sha256=endpoint.configured.sha256,
            configured_not_after=endpoint.configured.not_after,
            service=endpoint.service,
        )
        if index not in unnamed:  # what this client name got, and its verdict (fix compares them)
            leaf = served_chain(result)[0][:1]
            clients.setdefault(index, []).append(
                client_view(result.hostname, probed, leaf[0] if leaf else None)
            )
        for finding in probed:
            # The served leaf is the configured one: its cert.* faults are already reported from the files.
            duplicate = (finding.check, finding.port) in reported or (finding.check, None) in reported
            if index in unnamed and finding.check == "cert.name-mismatch":
                continue
            if not (same_leaf and finding.check.startswith("cert.") and duplicate):
                findings.append(finding)
        if cert is not None and index not in served:
            served[index] = cert
    findings += check_consistency(results)
    updated = [
        replace(endpoint, served=served.get(i, endpoint.served), clients=tuple(clients.get(i, ())))
        for i, endpoint in enumerate(endpoints)
    ]
    return updated, merge_endpoint_findings(_unique(findings))


def _unique(findings: Sequence[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))
