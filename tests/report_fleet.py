"""A varied fleet of hand-made host reports for the report readers and `report merge`: every severity,
endpoints with and without a served certificate, DNS-advertised ones, unreachable hosts, awkward text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailcert.model import ConfiguredCert, Endpoint, Finding, HostReport, Mode, ServedCert, Severity

_SEVERITIES = (Severity.CRITICAL, Severity.WARNING, Severity.INFO, Severity.UNKNOWN)
_CHECKS = ("cert.name-mismatch", "cert.expiring", "config.overridden", "host.unreachable", "tls.stale")


def fleet_host(number: int) -> HostReport:
    """Host `mx{number}`: its kind follows from the number, so any range of numbers mixes them."""
    name = f"mx{number:03d}.example.test"
    if number % 7 == 3:
        reason = f"cannot connect to 127.0.0.{number % 250}:22: connection refused"
        unreachable = Finding("host.unreachable", Severity.UNKNOWN, reason, "is sshd running?")
        return HostReport(name=name, error=f"{reason} — is sshd running?", findings=(unreachable,))
    expiry = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(days=number, seconds=number)
    configured = ConfiguredCert(
        cert_file=f"/etc/letsencrypt/live/{name}/fullchain.pem",
        key_file=None if number % 5 == 0 else f"/etc/letsencrypt/live/{name}/privkey.pem",
        sha256=None if number % 4 == 0 else f"{number:02x}" * 32,
        not_after=None if number % 4 == 0 else expiry,
        sans=(name, f"imap{number}.example.test"),
    )
    served = ServedCert(f"{number + 1:02x}" * 32, expiry, (name,), 1 + number % 3, "TLSv1.3")
    endpoints = (
        Endpoint("postfix", 25, Mode.STARTTLS, (name,), configured, served if number % 2 else None),
        Endpoint(
            "dovecot",
            993,
            Mode.IMPLICIT,
            (f"imap{number}.example.test",),
            configured,
            served,
            advertised_by=("SRV _imaps._tcp.example.test",) if number % 3 == 0 else (),
        ),
    )
    findings = tuple(
        Finding(
            check=_CHECKS[(number + i) % len(_CHECKS)],
            severity=_SEVERITIES[(number + i) % len(_SEVERITIES)],
            message=f"finding {i} on {name}: “quoted”, a tab\tand a C1 control \x9b[31m",
            fix="do the thing",
            service="postfix" if i % 2 else None,
            port=25 if i % 2 else None,
            hostname=name if i % 3 == 0 else None,
            file="/etc/postfix/main.cf" if i == 1 else None,
            line=12 + i if i == 1 else None,
        )
        for i in range(number % 4)
    )
    return HostReport(name=name, endpoints=endpoints, findings=findings)


def fleet(count: int) -> list[HostReport]:
    return [fleet_host(n) for n in range(count)]
