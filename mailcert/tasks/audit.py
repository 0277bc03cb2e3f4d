"""`mailcert audit` / `fab audit`: every inventory host over SSH, in parallel, one gather round trip each.

Per host: connect (strict host keys), gather, lint the gathered files with the same code as `lint ROOT`,
compare the host clock, probe every advertised hostname on every TLS port. A host that fails is `unknown`
with its reason; the others go on. `mailcert audit fix` hands the results to `fix` through `last_audit()`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from mailcert.model import Report
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
from mailcert.tasks.options import COMMON_HELP, emit, parse_at, wants_color
from mailcert.tasks.state import run_state

# The stages are imported inside the functions that use them: `mailcert TASK --help` and the start of a
# command import only these declarations (issue 23).
if TYPE_CHECKING:
    from invoke.context import Context

    from mailcert.audit.host import AuditSettings, HostAudit
    from mailcert.inventory import InventoryHost

_LAST: list[HostAudit] = []


@task(
    iterable=("ca_bundle",),
    short=SHORT_FLAGS,
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
    shard: str | None = None,
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
    from mailcert.audit.host import AuditSettings
    from mailcert.dns.resolver import parse_resolver
    from mailcert.report import check_format, render

    check_format(format)
    hosts = fleet_hosts(c, inventory, limit, shard)
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
    """audit_fleet, remembered for the next task of this run (`mailcert audit fix`)."""
    from mailcert.audit.fleet import audit_fleet

    results = audit_fleet(hosts, settings, forks=forks, progress=progress)
    _LAST[:] = results
    return results


def last_audit() -> list[HostAudit]:
    """The hosts of the latest audit in this process (for `mailcert audit fix`)."""
    return list(_LAST)
