"""A varied fleet of hand-made host reports for the report readers and `report merge`: every severity,
endpoints with and without a served certificate, DNS-advertised ones, unreachable hosts, awkward text,
certbot renewals (some at a fraction of a second, as file times are), and for `fix` each host's
`endpoints_after` and plan entries, `recovered` ones included."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from mailcert.model import (
    ConfiguredCert,
    Endpoint,
    Finding,
    HostReport,
    LineageRenewal,
    Mode,
    ServedCert,
    Severity,
)

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
    return HostReport(name=name, endpoints=endpoints, findings=findings, renewals=_renewals(number, name))


def _renewals(number: int, name: str) -> tuple[LineageRenewal, ...]:
    """mx001: its lineage renewed 2026-10-02T00:00:00.25Z, and `-0001` on 2026-01-01T00:00:00Z."""
    if number % 3 == 2:
        return ()  # no certbot on this host
    renewed = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(days=number, microseconds=250_000 * (number % 4))
    older = (LineageRenewal(f"{name}-0001", datetime(2026, 1, 1, tzinfo=UTC)),) if number % 2 else ()
    return (LineageRenewal(name, renewed), *older)


def fleet(count: int) -> list[HostReport]:
    return [fleet_host(n) for n in range(count)]


def _view(verdict: str, number: int, reason: str | None = None) -> dict[str, object]:
    return {
        "verdict": verdict,
        "reason": reason,
        "subject": f"mx{number:03d}.example.test",
        "sans": [f"mx{number:03d}.example.test"],
        "not_after": datetime(2027, 1, 1, tzinfo=UTC) + timedelta(days=number),  # a datetime, as fix has it
        "sha256": f"{number:02x}" * 32,
    }


def fix_host(number: int) -> HostReport:
    """fleet_host as `fix` reports it: every reachable host with `endpoints_after` (one pair, or none)."""
    host = fleet_host(number)
    if host.error is not None:
        return host
    pairs = (
        {
            "service": "postfix",
            "port": 25,
            "mode": "starttls",
            "hostname": host.name,
            "before": _view("fails", number, "cert.expired: expired"),
            "after": _view("ok", number),
            "after_from": "re-probe" if number % 2 else "plan",
            "worse": False,
        },
    )
    return replace(host, endpoints_after=pairs if number % 4 else ())


def fix_plan(hosts: list[HostReport]) -> tuple[dict[str, object], ...]:
    """The plan a fix run of these hosts writes: each host's entries in the hosts' order, then the earlier
    unfinished runs it restored (kind `recovered`), again in the hosts' order."""
    changes: list[dict[str, object]] = []
    recovered: list[dict[str, object]] = []
    for host in hosts:
        number = int(host.name[2:5])  # mxNNN: the same entries whichever shard the host is in
        changes.append(
            {"host": host.name, "kind": "reload", "description": "reload postfix", "outcome": "applied"}
        )
        if number % 3 == 0:
            changes.append(
                {"host": host.name, "kind": "unfixable", "description": "why", "outcome": "skipped"}
            )
        if number % 5 == 1:
            recovered.append(
                {
                    "host": host.name,
                    "kind": "recovered",
                    "run_id": f"20261206T0{number % 10}0000Z-3f9a1c",
                    "outcome": "rolled-back",
                    "description": "restored",
                }
            )
    return (*changes, *recovered)
