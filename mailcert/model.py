"""The report's domain objects: findings, endpoints, hosts. Pure data, frozen; JSON lives in report/json."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"
    UNKNOWN = "unknown"


class Status(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"

    @property
    def exit_code(self) -> int:
        """Nagios-style exit code, as SPEC fixes it."""
        return {Status.OK: 0, Status.WARNING: 1, Status.CRITICAL: 2, Status.UNKNOWN: 3}[self]


class Mode(enum.StrEnum):
    STARTTLS = "starttls"
    IMPLICIT = "implicit"


@dataclass(frozen=True)
class Finding:
    """One problem a client would hit (or that will make it hit one), with where it is and how to fix it."""

    check: str
    severity: Severity
    message: str
    fix: str
    service: str | None = None
    port: int | None = None
    hostname: str | None = None
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class ConfiguredCert:
    """The certificate a service is configured to use, as read from disk."""

    cert_file: str | None
    key_file: str | None
    sha256: str | None = None
    not_after: datetime | None = None
    sans: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServedCert:
    """What a client received on the wire."""

    sha256: str
    not_after: datetime
    sans: tuple[str, ...]
    chain_length: int
    tls_version: str


class Verdict(enum.StrEnum):
    """How a client judges what one (port, name) serves: chain to a trusted root, names, validity, key."""

    OK = "ok"
    WARNING = "warning"  # verifies, with a warning (expires soon, weak signature)
    FAILS = "fails"  # the client refuses it, or the port does not answer

    @property
    def rank(self) -> int:
        """How a client treats it: it accepts `ok` and `warning` alike (a certificate that expires in 10
        days verifies today), and refuses `fails`. Only a higher rank is worse for a client."""
        return 1 if self is Verdict.FAILS else 0


@dataclass(frozen=True)
class ClientView:
    """What a client dialing `hostname` on an endpoint gets (the leaf, in short) and its verdict on it."""

    hostname: str
    verdict: Verdict
    reason: str | None = None  # the first problem, in its finding's words (check: message)
    subject: str | None = None  # the leaf's CN
    sha256: str | None = None
    not_after: datetime | None = None
    sans: tuple[str, ...] = ()


@dataclass(frozen=True)
class Endpoint:
    service: str
    port: int
    mode: Mode
    hostnames: tuple[str, ...]
    configured: ConfiguredCert
    served: ServedCert | None = None
    # Where clients or senders are told to use it, besides the host's own config: 'MX of example.com',
    # 'SRV _imaps._tcp.example.com', 'autoconfig https://...' (mailcert_domains; JSON `advertised_by`).
    advertised_by: tuple[str, ...] = ()
    # The certificate is one the server picks by SNI (an SNI map entry, Dovecot local_name, an Exim
    # ${tls_in_sni} expansion), not the listener's default: only a name that selects it can reach it.
    by_sni: bool = False
    # Per client name, what the probe saw and how a client judged it (empty when not probed); `fix` compares
    # these before and after a change, (port, name) by (port, name).
    clients: tuple[ClientView, ...] = ()


@dataclass(frozen=True)
class LineageRenewal:
    """A certbot lineage and when its current certificate was written (its last successful renewal)."""

    lineage: str
    renewed_at: datetime


@dataclass(frozen=True)
class HostReport:
    name: str
    endpoints: tuple[Endpoint, ...] = ()
    findings: tuple[Finding, ...] = ()
    error: str | None = None
    # The host's certbot lineages and when each was last renewed (audit, verify, fix: from the gathered
    # files; JSON `renewals`), so the Prometheus textfile can be written again from the JSON report.
    renewals: tuple[LineageRenewal, ...] = ()
    # fix only: per (port, name) a client uses, before → after, as the JSON report's `endpoints_after`
    # entries (JSON-shaped, as Report.plan is); None where the host has no such list (not fixed).
    endpoints_after: tuple[dict[str, object], ...] | None = None

    @property
    def status(self) -> Status:
        if self.error is not None:
            return Status.UNKNOWN
        return worst_status(severity_status(f.severity) for f in self.findings)


@dataclass(frozen=True)
class Report:
    generated_at: datetime
    evaluated_at: datetime
    hosts: tuple[HostReport, ...]
    plan: tuple[dict[str, object], ...] | None = None
    schema: str = field(default="mailcert/1")

    @property
    def status(self) -> Status:
        """Run status per SPEC: critical beats unknown beats warning beats ok."""
        statuses = [h.status for h in self.hosts]
        if Status.CRITICAL in statuses:
            return Status.CRITICAL
        if Status.UNKNOWN in statuses:
            return Status.UNKNOWN
        if Status.WARNING in statuses:
            return Status.WARNING
        return Status.OK


def severity_status(severity: Severity) -> Status:
    return {
        Severity.CRITICAL: Status.CRITICAL,
        Severity.WARNING: Status.WARNING,
        Severity.INFO: Status.OK,
        Severity.UNKNOWN: Status.UNKNOWN,
    }[severity]


def worst_status(statuses: Iterable[Status]) -> Status:
    order = [Status.OK, Status.WARNING, Status.UNKNOWN, Status.CRITICAL]
    worst = Status.OK
    for status in statuses:
        if order.index(status) > order.index(worst):
            worst = status
    return worst
