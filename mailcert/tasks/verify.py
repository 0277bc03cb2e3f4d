"""`mailcert verify` / `fab verify`: the read-only audit for cron and monitoring.

Silent with exit 0 when all is well; otherwise one line per problem (cron mails it) and SPEC's exit code.
`--format nagios` prints a Nagios/Icinga status line instead, `--prometheus FILE` writes a node_exporter
textfile, `--state FILE` remembers what this run saw so the next can tell how long things have been so,
`--renew-dry-run` asks certbot on every host whether a renewal would work now.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mailcert.errors import UsageError
from mailcert.model import Report
from mailcert.tasks.audit import run_audit
from mailcert.tasks.declare import task
from mailcert.tasks.fleet import (
    DEFAULT_FORKS,
    FLEET_HELP,
    SHORT_FLAGS,
    TIMEOUT_HELP,
    fleet_hosts,
    positive_whole,
    prompted_sudo_password,
)
from mailcert.tasks.options import emit, parse_at
from mailcert.tasks.state import run_state

# The stages are imported inside the functions that use them: `mailcert TASK --help` and the start of a
# command import only these declarations (issue 23).
if TYPE_CHECKING:
    from invoke.context import Context

VERIFY_FORMATS = ("text", "nagios", "json")


@task(
    iterable=("ca_bundle",),
    short=SHORT_FLAGS,
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
    shard: str | None = None,
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
    from mailcert.audit.host import AuditSettings
    from mailcert.report.json import render_json
    from mailcert.report.prometheus import write_prometheus
    from mailcert.verify import load_state, memory_findings, observe, save_state, with_findings
    from mailcert.verify.fleet import dry_run_all, thresholds_of
    from mailcert.verify.lines import render_problems
    from mailcert.verify.nagios import render_nagios
    from mailcert.verify.renew_central import renew_all, with_reports

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
    hosts = fleet_hosts(c, inventory, limit, shard)
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
        write_prometheus(prometheus, report)
    if fmt == "nagios":
        text = render_nagios(report, thresholds_of(results))
    else:
        text = render_json(report) if fmt == "json" else render_problems(report)
    if text or output:
        emit(text, output)
    run_state().record("verify", report)


__all__ = ["verify"]
