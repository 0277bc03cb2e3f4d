"""How every report format spells the same things: UTC times, where a finding is, counts, finding order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from mailcert.model import Finding, HostReport, Report, Severity, Status
from mailcert.quoting import shown, shown_lines

# Most severe first; the order findings are listed in and the order counts are spelt in.
SEVERITY_ORDER: tuple[Severity, ...] = (Severity.CRITICAL, Severity.UNKNOWN, Severity.WARNING, Severity.INFO)
STATUS_ORDER: tuple[Status, ...] = (Status.CRITICAL, Status.UNKNOWN, Status.WARNING, Status.OK)


def iso_utc(moment: datetime) -> str:
    """ISO-8601 in UTC with a `Z`, to the second; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def day_utc(moment: datetime) -> str:
    """The UTC date only (YYYY-MM-DD), for tables."""
    return iso_utc(moment)[:10]


def sha256_prefix(fingerprint: str, length: int = 12) -> str:
    """The first hex digits of a SHA-256 fingerprint, colons dropped, lowercase."""
    return fingerprint.replace(":", "").lower()[:length]


def printable(text: str) -> str:
    """`text` with control characters (ANSI escapes from hostile config values, NULs ...) and bidi controls
    made visible. Newlines and tabs stay: for text that spans lines on purpose (diffs, scripts)."""
    return shown_lines(text)


def one_line(text: str) -> str:
    """mailcert.quoting.shown: for every value shown on one line (names, paths, table cells, messages, fixes),
    where a hostile newline would otherwise forge a line of the report."""
    return shown(text)


def where(finding: Finding) -> str:
    """Where a finding is: `file:line`, else `service:port`, else the service; then the hostname in brackets."""
    if finding.file:
        place = f"{finding.file}:{finding.line}" if finding.line is not None else finding.file
    elif finding.port is not None:
        place = f"{finding.service}:{finding.port}" if finding.service else f"port {finding.port}"
    else:
        place = finding.service or ""
    if finding.hostname:
        place = f"{place} ({finding.hostname})" if place else finding.hostname
    return place or "host"


def group_key(finding: Finding) -> tuple[int, str, int]:
    """Sort key of a finding's (service, port) group: host-level findings first, then by service and port."""
    if finding.service is None and finding.port is None:
        return (0, "", -1)
    return (1, finding.service or "", -1 if finding.port is None else finding.port)


def group_title(finding: Finding) -> str:
    """The heading of a finding's (service, port) group."""
    if finding.service is None and finding.port is None:
        return "host"
    if finding.port is None:
        return f"{finding.service}"
    return f"{finding.service} port {finding.port}" if finding.service else f"port {finding.port}"


def grouped_findings(host: HostReport) -> list[tuple[str, list[Finding]]]:
    """Findings by (service, port) group, host-level first; most severe first within a group (else as given)."""
    groups: dict[tuple[int, str, int], list[Finding]] = {}
    for finding in host.findings:
        groups.setdefault(group_key(finding), []).append(finding)
    return [
        (group_title(findings[0]), sorted(findings, key=lambda f: SEVERITY_ORDER.index(f.severity)))
        for _key, findings in sorted(groups.items())
    ]


def severity_counts(findings: Iterable[Finding]) -> dict[Severity, int]:
    counts = dict.fromkeys(SEVERITY_ORDER, 0)
    for finding in findings:
        counts[finding.severity] += 1
    return counts


def status_counts(hosts: Sequence[HostReport]) -> dict[Status, int]:
    counts = dict.fromkeys(STATUS_ORDER, 0)
    for host in hosts:
        counts[host.status] += 1
    return counts


def all_findings(report: Report) -> list[Finding]:
    return [finding for host in report.hosts for finding in host.findings]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def counts_phrase(report: Report) -> str:
    """`2 hosts (1 critical, 1 ok), 3 findings (2 critical, 1 warning)`: non-zero counts only."""
    hosts = status_counts(report.hosts)
    severities = severity_counts(all_findings(report))
    host_part = ", ".join(f"{n} {status.value}" for status, n in hosts.items() if n)
    finding_part = ", ".join(f"{n} {severity.value}" for severity, n in severities.items() if n)
    text = _plural(len(report.hosts), "host")
    if host_part:
        text += f" ({host_part})"
    text += ", " + _plural(sum(severities.values()), "finding")
    if finding_part:
        text += f" ({finding_part})"
    return text
