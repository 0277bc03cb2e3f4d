"""What only memory of earlier runs can say: how long a renewal has waited to be served, and that a
certificate has sat in its renewal window for more than 3 days (renewal.overdue).

certbot-managed lineages already get renewal.overdue from the audit (from certbot's files and log); this
adds it for every other certificate, merged by endpoint so one endpoint never gets it twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from mailcert.model import Finding, HostReport, Report, Severity
from mailcert.verify.state import RENEWAL_WINDOW, EndpointMemory, VerifyState, endpoint_key
from mailcert.wording import day_utc, sha256_prefix

GRACE = timedelta(days=3)

__all__ = ["GRACE", "RENEWAL_WINDOW", "memory_findings", "with_findings"]


def _age(since: datetime, now: datetime) -> str:
    days = int((now - since).total_seconds() // 86400)
    if days >= 1:
        return f"{days} day{'s' if days != 1 else ''} ago"
    hours = int((now - since).total_seconds() // 3600)
    return f"{hours} hour{'s' if hours != 1 else ''} ago" if hours >= 1 else "less than an hour ago"


def _covers(finding: Finding, memory: EndpointMemory) -> bool:
    return finding.service in (None, memory.service) and finding.port in (None, memory.port)


def _stale_note(memory: EndpointMemory, now: datetime) -> str | None:
    configured, served = memory.configured, memory.served
    if configured is None or served is None or configured.sha256 == served.sha256:
        return None
    if configured.first_seen >= now:  # first seen in this very run: nothing remembered yet
        return None
    return (
        f"renewed on disk {_age(configured.first_seen, now)} (verify first saw the new certificate "
        f"{sha256_prefix(configured.sha256)} on {day_utc(configured.first_seen)}), still not served"
    )


def _with_stale_notes(host: HostReport, memories: Sequence[EndpointMemory], now: datetime) -> HostReport:
    noted = [(m, note) for m in memories if (note := _stale_note(m, now))]
    if not noted:
        return host
    findings = []
    for finding in host.findings:
        if finding.check == "tls.stale":
            # A stale finding may stand for several ports of the service (port None): one note per renewal.
            notes = dict.fromkeys(
                note for m, note in noted if _covers(finding, m) and note not in finding.message
            )
            if notes:
                finding = replace(finding, message="; ".join([finding.message.rstrip("."), *notes]))
        findings.append(finding)
    return replace(host, findings=tuple(findings))


def _overdue(host: HostReport, memories: Sequence[EndpointMemory], now: datetime) -> list[Finding]:
    audit_side = [f for f in host.findings if f.check == "renewal.overdue"]
    groups: dict[str, list[EndpointMemory]] = {}
    for memory in memories:
        since = memory.inside_window_since
        if since is None or now - since <= GRACE or any(_covers(f, memory) for f in audit_side):
            continue
        tracked = memory.configured or memory.served
        assert tracked is not None  # inside_window_since is only set for a known certificate
        groups.setdefault(tracked.sha256, []).append(memory)
    findings = []
    for sha256, group in groups.items():
        first = group[0]
        tracked = first.configured or first.served
        since = min(m.inside_window_since for m in group if m.inside_window_since is not None)
        assert tracked is not None and tracked.not_after is not None
        places = ", ".join(f"{m.service}:{m.port}" for m in group)
        services = {m.service for m in group}
        message = (
            f"the certificate {sha256_prefix(sha256)} used on {places} expires {day_utc(tracked.not_after)} and "
            f"has been inside its renewal window ({RENEWAL_WINDOW.days} days before expiry) since "
            f"{day_utc(since)}, {_age(since, now)}: nothing has "
            "replaced it, so renewals are failing or not set up"
        )
        findings.append(
            Finding(
                check="renewal.overdue",
                severity=Severity.WARNING,
                message=message,
                fix="renew it now (for certbot: `certbot renew --cert-name NAME`, then read "
                "/var/log/letsencrypt/letsencrypt.log) and fix what stops the automatic renewal",
                service=services.pop() if len(services) == 1 else None,
                port=first.port if len(group) == 1 else None,
            )
        )
    return findings


def memory_findings(state: VerifyState, report: Report) -> Report:
    """The report with what the state adds: stale findings say since when, overdue renewals are raised.

    `state` is the state after this run (see `observe`), so it holds when each certificate was first seen.
    """
    now = report.evaluated_at
    hosts = []
    for host in report.hosts:
        memories = [
            m
            for e in host.endpoints
            if (m := state.endpoints.get(endpoint_key(host.name, e.service, e.port))) is not None
        ]
        if host.error is None and memories:
            host = _with_stale_notes(host, memories, now)
            host = replace(host, findings=(*host.findings, *_overdue(host, memories, now)))
        hosts.append(host)
    return replace(report, hosts=tuple(hosts))


def with_findings(report: Report, extra: Mapping[str, Sequence[Finding]]) -> Report:
    """The report with more findings for some hosts (by host name), duplicates dropped."""
    hosts = tuple(
        replace(host, findings=tuple(dict.fromkeys((*host.findings, *extra.get(host.name, ())))))
        if extra.get(host.name)
        else host
        for host in report.hosts
    )
    return replace(report, hosts=hosts)
