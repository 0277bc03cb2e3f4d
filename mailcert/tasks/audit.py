"""`mailcert audit` / `fab audit`: every inventory host over SSH, in parallel, one gather round trip each.

Per host: connect (strict host keys), gather, lint the gathered files with the same code as `lint ROOT`,
compare the host clock, probe every advertised hostname on every TLS port. A host that fails is `unknown`
with its reason; the others go on. `mailcert audit fix` hands the results to `fix` through `last_audit()`.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TextIO

from invoke.context import Context
from invoke.tasks import task

from mailcert.audit.host import AuditSettings, HostAudit, audit_host
from mailcert.dns.resolver import parse_resolver
from mailcert.inventory import InventoryHost
from mailcert.model import Report, Status
from mailcert.report import check_format, render
from mailcert.tasks.fleet import (
    DEFAULT_FORKS,
    FLEET_HELP,
    TIMEOUT_HELP,
    FleetTask,
    fleet_hosts,
    is_tty,
    positive_whole,
    prompted_sudo_password,
)
from mailcert.tasks.options import COMMON_HELP, emit, parse_at, wants_color
from mailcert.tasks.state import run_state

_LAST: list[HostAudit] = []


@task(
    klass=FleetTask,
    iterable=["ca_bundle"],
    auto_shortflags=False,
    help={
        **FLEET_HELP,
        **TIMEOUT_HELP,
        "forks": f"hosts audited in parallel (default {DEFAULT_FORKS})",
        "no_probe": "do not connect to the mail ports (files only)",
        "resolver": "DNS server ADDR[:PORT] for mailcert_domains lookups (default: mailcert_resolver, else the system's)",
        **{k.replace("-", "_"): v for k, v in COMMON_HELP.items() if k not in ("warn-days", "crit-days")},
    },
)
def audit(
    c: Context,
    inventory: str | None = None,
    limit: str | None = None,
    forks: str = str(DEFAULT_FORKS),
    format: str = "text",
    output: str | None = None,
    at: str | None = None,
    ca_bundle: list[str] | None = None,
    no_probe: bool = False,
    timeout: str = "10",
    resolver: str | None = None,
) -> None:
    """Audit every inventory host over SSH: gather its files in one round trip, lint them, probe its ports."""
    check_format(format)
    hosts = fleet_hosts(c, inventory, limit)
    settings = AuditSettings(
        now=parse_at(at),
        ca_bundles=tuple(ca_bundle or ()),
        connect_timeout=positive_whole(timeout, "--timeout"),
        probe=not no_probe,
        sudo_password=prompted_sudo_password(c),
        resolver=str(parse_resolver(resolver)) if resolver else None,
    )
    results = run_audit(hosts, settings, forks=positive_whole(forks, "--forks"), progress=sys.stderr)
    report = Report(
        generated_at=datetime.now(UTC), evaluated_at=settings.now, hosts=tuple(r.report for r in results)
    )
    emit(render(report, format, color=wants_color(output)), output)
    run_state().record("audit", report)


def run_audit(
    hosts: Sequence[InventoryHost],
    settings: AuditSettings,
    *,
    forks: int = DEFAULT_FORKS,
    progress: TextIO | None = None,
) -> list[HostAudit]:
    """Every host's audit, in inventory order, at most `forks` at a time (each host costs the same however
    large the fleet). Progress goes to `progress` only when it is a terminal."""
    meter = _Progress(len(hosts), progress if progress is not None and is_tty(progress) else None)
    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(hosts) or 1))) as pool:
        futures = [pool.submit(_one, host, settings, meter) for host in hosts]
        results = [future.result() for future in futures]
    meter.finish()
    _LAST[:] = results
    return results


def last_audit() -> list[HostAudit]:
    """The hosts of the latest audit in this process (for `mailcert audit fix`)."""
    return list(_LAST)


def _one(host: InventoryHost, settings: AuditSettings, meter: _Progress) -> HostAudit:
    result = audit_host(host, settings)
    meter.done(failed=result.report.status is Status.UNKNOWN)
    return result


class _Progress:
    """`audit: 7/30 hosts done, 1 failed` on one terminal line, redrawn; nothing when not a terminal."""

    def __init__(self, total: int, stream: TextIO | None) -> None:
        self.total, self.stream = total, stream
        self.finished = self.failed = 0
        self.lock = threading.Lock()
        self._draw()

    def done(self, *, failed: bool) -> None:
        with self.lock:
            self.finished += 1
            self.failed += int(failed)
            self._draw()

    def finish(self) -> None:
        if self.stream is not None:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def _draw(self) -> None:
        if self.stream is None:
            return
        failed = f", {self.failed} failed" if self.failed else ""
        self.stream.write(f"\r\x1b[Kaudit: {self.finished}/{self.total} hosts done{failed}")
        self.stream.flush()
