"""`mailcert verify` / `fab verify`: the read-only audit for cron and monitoring.

Silent with exit 0 when all is well; otherwise one line per problem (cron mails it) and SPEC's exit code.
`--format nagios` prints a Nagios/Icinga status line instead, `--prometheus FILE` writes a node_exporter
textfile, `--state FILE` remembers what this run saw so the next can tell how long things have been so,
`--renew-dry-run` asks certbot on every host whether a renewal would work now.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

from invoke.context import Context
from invoke.tasks import task

from mailcert.audit.host import AuditSettings, HostAudit
from mailcert.errors import MailcertError, UsageError
from mailcert.model import Finding, Report, Severity
from mailcert.report.json import render_json
from mailcert.report.prometheus import write_prometheus
from mailcert.services.certbot.parser import read_certbot
from mailcert.ssh import StrictConnection, sudo_error
from mailcert.tasks.audit import run_audit
from mailcert.tasks.fleet import (
    DEFAULT_FORKS,
    FLEET_HELP,
    TIMEOUT_HELP,
    FleetTask,
    fleet_hosts,
    positive_whole,
    prompted_sudo_password,
)
from mailcert.tasks.options import emit, parse_at
from mailcert.tasks.state import run_state
from mailcert.verify import Thresholds, load_state, memory_findings, observe, save_state, with_findings
from mailcert.verify.lines import render_problems
from mailcert.verify.nagios import render_nagios
from mailcert.verify.renew_central import renew_all, with_reports
from mailcert.verify.renew_dry_run import DRY_RUN_TIMEOUT, RENEW_DRY_RUN, dry_run_findings
from mailcert.verify.renewals import LineageRenewal, last_renewals

VERIFY_FORMATS = ("text", "nagios", "json")


@task(
    klass=FleetTask,
    iterable=["ca_bundle"],
    auto_shortflags=False,
    help={
        **FLEET_HELP,
        **TIMEOUT_HELP,
        "forks": f"hosts checked in parallel (default {DEFAULT_FORKS})",
        "format": "text (default: nothing when OK, one line per problem), nagios (one status line with "
        "perfdata) or json",
        "output": "write the output to this file instead of standard output",
        "at": "evaluate validity and expiry as of this instant (ISO-8601) instead of now",
        "ca_bundle": "extra trusted roots (PEM), for private CAs; repeatable",
        "prometheus": "also write a node_exporter textfile (FILE.prom), atomically",
        "state": "remember what this run saw in this JSON file (read by the next run)",
        "renew_dry_run": "also run `certbot renew --dry-run` on every host and report failures",
        "renew": "renew central-mode certificates (mailcert_acme_mode: central) inside their renewal window",
    },
)
def verify(
    c: Context,
    inventory: str | None = None,
    limit: str | None = None,
    forks: str = str(DEFAULT_FORKS),
    format: str = "text",
    output: str | None = None,
    at: str | None = None,
    ca_bundle: list[str] | None = None,
    prometheus: str | None = None,
    state: str | None = None,
    renew_dry_run: bool = False,
    timeout: str = "10",
    renew: bool = False,
) -> None:
    """Audit every host read-only for cron: silent when all is well, one line per problem otherwise."""
    fmt = format.lower()
    if fmt not in VERIFY_FORMATS:
        raise UsageError(
            f"verify --format {format}: unknown", todo=f"use one of: {', '.join(VERIFY_FORMATS)}"
        )
    if prometheus is not None and not prometheus.endswith(".prom"):
        raise UsageError(
            f"--prometheus {prometheus}: node_exporter's textfile collector reads only files ending in .prom",
            todo="name the file e.g. /var/lib/prometheus/node-exporter/mailcert.prom",
        )
    previous = load_state(state) if state else None  # a broken state file stops the run before any SSH
    hosts = fleet_hosts(c, inventory, limit)
    settings = AuditSettings(
        now=parse_at(at),
        ca_bundles=tuple(ca_bundle or ()),
        connect_timeout=positive_whole(timeout, "--timeout"),
        sudo_password=prompted_sudo_password(c),
    )
    workers = positive_whole(forks, "--forks")
    results = run_audit(hosts, settings, forks=workers, progress=sys.stderr)
    report = Report(
        generated_at=datetime.now(UTC), evaluated_at=settings.now, hosts=tuple(r.report for r in results)
    )
    if renew:  # central mode: mailcert renews what certbot --csr cannot (mailcert/verify/renew_central.py)
        renewed, failed = renew_all(results, settings, workers, lambda line: print(line, file=sys.stderr))
        report = with_findings(replace(report, hosts=with_reports(report.hosts, renewed)), failed)
    if renew_dry_run:
        report = with_findings(report, dry_run_all(results, settings, workers))
    if previous is not None and state is not None:
        current = observe(previous, report)
        report = memory_findings(current, report)
        save_state(state, current)
    if prometheus is not None:
        write_prometheus(prometheus, report, renewals_of(results))
    if fmt == "nagios":
        text = render_nagios(report, thresholds_of(results))
    else:
        text = render_json(report) if fmt == "json" else render_problems(report)
    if text or output:
        emit(text, output)
    run_state().record("verify", report)


def thresholds_of(results: Sequence[HostAudit]) -> dict[str, Thresholds]:
    return {r.host.name: Thresholds(r.host.warn_days, r.host.crit_days) for r in results}


def renewals_of(results: Sequence[HostAudit]) -> dict[str, list[LineageRenewal]]:
    """Each checked host's certbot lineages and when they were last renewed."""
    return {r.host.name: last_renewals(r.gathered) for r in results if r.gathered is not None}


def _dry_run_one(result: HostAudit, settings: AuditSettings) -> list[Finding]:
    conn = StrictConnection(result.host, timeout=settings.connect_timeout)
    try:
        return _checked_dry_run(conn, result)
    except MailcertError as exc:
        return [_dry_run_error(exc.line())]
    finally:
        conn.close()


def _checked_dry_run(conn: StrictConnection, result: HostAudit) -> list[Finding]:
    output = conn.execute_as_root(RENEW_DRY_RUN, timeout=DRY_RUN_TIMEOUT)
    refused = sudo_error(output, result.host)
    if refused is not None:
        return [_dry_run_error(refused.line())]
    return dry_run_findings(output)


def _dry_run_error(reason: str) -> Finding:
    return Finding(
        check="renewal.not-configured",
        severity=Severity.UNKNOWN,
        message=f"could not run `certbot renew --dry-run`: {reason}",
        fix="fix the connection or sudo problem, then run `mailcert verify --renew-dry-run` again",
    )


def dry_run_all(
    results: Sequence[HostAudit], settings: AuditSettings, forks: int
) -> dict[str, list[Finding]]:
    """`certbot renew --dry-run` on every checked host that has certbot lineages, `forks` at a time."""
    eligible = [
        r
        for r in results
        if r.gathered is not None and r.report.error is None and read_certbot(r.gathered).lineages
    ]
    if not eligible:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(eligible)))) as pool:
        found = list(pool.map(lambda r: _dry_run_one(r, settings), eligible))
    return {r.host.name: f for r, f in zip(eligible, found, strict=True) if f}


__all__ = ["dry_run_all", "renewals_of", "thresholds_of", "verify"]
