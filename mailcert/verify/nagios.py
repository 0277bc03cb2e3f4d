"""`--format nagios`: the one status line of a Nagios/Icinga plugin, with days left per endpoint as perfdata.

`MAILCERT CRITICAL - 2 critical, 1 warning | 'mx1_postfix_25_days'=12;21;7 ...` — the exit code (same as
always, SPEC's 0-3) is what the monitoring system acts on; the text is what it shows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from mailcert.model import Endpoint, Report, Severity
from mailcert.wording import severity_counts

_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")


@dataclass(frozen=True)
class Thresholds:
    """A host's expiry thresholds in days (inventory mailcert_warn_days / mailcert_crit_days)."""

    warn_days: int = 21
    crit_days: int = 7


def days_left(endpoint: Endpoint, now: datetime) -> int | None:
    """Whole days until the certificate clients get expires (served; configured when nothing was served).

    Rounded down, so "0" means it expires within a day; negative once it has expired.
    """
    cert = endpoint.served or endpoint.configured
    if cert.not_after is None:
        return None
    return math.floor((cert.not_after - now).total_seconds() / 86400)


def perfdata_label(host: str, endpoint: Endpoint) -> str:
    """`'mx1_postfix_25_days'`: quoted, with characters Nagios parsers trip over (quotes, =, spaces) as `_`."""
    raw = f"{host}_{endpoint.service}_{endpoint.port}_days"
    return "'" + _LABEL_UNSAFE.sub("_", raw) + "'"


def _summary(report: Report) -> str:
    counts = severity_counts(f for host in report.hosts for f in host.findings)
    unreachable = sum(1 for host in report.hosts if host.error is not None)
    parts = [f"{counts[Severity.CRITICAL]} critical"] if counts[Severity.CRITICAL] else []
    if counts[Severity.WARNING]:
        parts.append(f"{counts[Severity.WARNING]} warning")
    if unreachable:
        parts.append(f"{unreachable} host{'s' if unreachable != 1 else ''} not checked")
    elif counts[Severity.UNKNOWN]:
        parts.append(f"{counts[Severity.UNKNOWN]} unknown")
    if parts:
        return ", ".join(parts)
    endpoints = sum(len(host.endpoints) for host in report.hosts)
    hosts = len(report.hosts)
    return f"{hosts} host{'s' if hosts != 1 else ''}, {endpoints} endpoint{'s' if endpoints != 1 else ''} OK"


def render_nagios(report: Report, thresholds: Mapping[str, Thresholds] | None = None) -> str:
    """The status line (ends in a newline). Thresholds per host name; SPEC's defaults for hosts not given."""
    perf: list[str] = []
    for host in report.hosts:
        limits = (thresholds or {}).get(host.name, Thresholds())
        for endpoint in host.endpoints:
            days = days_left(endpoint, report.evaluated_at)
            if days is not None:
                perf.append(
                    f"{perfdata_label(host.name, endpoint)}={days};{limits.warn_days};{limits.crit_days}"
                )
    line = f"MAILCERT {report.status.value.upper()} - {_summary(report)}"
    return f"{line} | {' '.join(perf)}\n" if perf else line + "\n"
