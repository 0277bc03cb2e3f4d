"""`mailcert fix` / `mailcert audit fix` / `fab audit fix`: audit (or reuse this run's audit), plan, show,
confirm, apply per host under the host lock, re-check, keep or roll back; `--rollback RUN-ID` undoes a run.

Ctrl-C and SIGTERM during apply do not abandon a host half-changed: the switch in progress finishes on
the host (it does not need us), then is restored; the run ends with exit 3 saying so.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from mailcert.errors import UsageError
from mailcert.model import HostReport, Report
from mailcert.tasks.audit import last_audit, run_audit
from mailcert.tasks.declare import task
from mailcert.tasks.fleet import (
    DEFAULT_FORKS,
    FLEET_HELP,
    SHORT_FLAGS,
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
    from mailcert.fix.apply.host import HostApplied, Interruption
    from mailcert.fix.model import HostPlan
    from mailcert.inventory import InventoryHost


@task(
    iterable=("ca_bundle",),
    short=SHORT_FLAGS,
    help={
        **FLEET_HELP,
        "forks": f"hosts worked on in parallel (default {DEFAULT_FORKS})",
        "dry_run": "show the plan (diffs, commands, findings each step removes) and change nothing",
        "yes": "apply without asking (for automation); without it fix asks once on a terminal",
        "rollback": "restore every file run RUN-ID changed (as printed by fix), reload, and stop",
        "roles": "a local roles folder whose role.yml and templates override the packaged roles (owned by "
        "you or root, not group/world-writable; default: the inventory's mailcert_roles_dir, else none)",
        "install_certbot": "a host that needs certbot and lacks it gets it installed first, with its package "
        "manager (apt-get, dnf or yum); without this the plan says how to install it",
        **{k.replace("-", "_"): v for k, v in COMMON_HELP.items() if k not in ("warn-days", "crit-days")},
    },
)
def fix(
    c: Context,
    inventory: str | None = None,
    limit: str | None = None,
    shard: str | None = None,
    forks: str = str(DEFAULT_FORKS),
    dry_run: bool = False,
    yes: bool = False,
    rollback: str | None = None,
    install_certbot: bool = False,
    roles: str | None = None,
    format: str = "text",
    output: str | None = None,
    at: str | None = None,
    ca_bundle: list[str] | None = None,
) -> None:
    """Plan the changes that remove the audit's findings, show them, apply them, re-probe; roll back what fails."""
    from mailcert.audit.host import AuditSettings
    from mailcert.fix.apply.host import Interruption, new_run_id
    from mailcert.fix.apply.result import final_report, seen_plan
    from mailcert.fix.apply.rollback import check_run_id
    from mailcert.fix.plan.host import plan_audited_host
    from mailcert.fix.roles import roles_for, warn_unnamed_roles_folder
    from mailcert.report import check_format
    from mailcert.report.fix_applied import before_after, nothing_to_do_line, recovered_entries

    check_format(format)
    workers = positive_whole(forks, "--forks")
    sudo_password = prompted_sudo_password(c)  # --prompt-for-sudo-password: for become hosts without one
    if rollback:
        hosts = [
            replace(h, become_password=sudo_password) if h.become and h.become_password is None else h
            for h in fleet_hosts(c, inventory, limit, shard)
        ]
        _rollback(check_run_id(rollback), hosts, workers)
        return
    settings = AuditSettings(now=parse_at(at), ca_bundles=tuple(ca_bundle or ()), sudo_password=sudo_password)
    if roles:
        roles_for(roles)  # an unsafe --roles folder stops the run before any host is touched
    warn_unnamed_roles_folder(roles)
    audits = _audits(fleet_hosts(c, inventory, limit, shard), settings, workers)
    plans = [
        plan_audited_host(audit, settings, install_certbot=install_certbot, roles=roles) for audit in audits
    ]
    befores = [audit.report for audit in audits]
    say = sys.stdout if format == "text" and not output else sys.stderr
    if dry_run:
        _finish(settings.now, befores, plans, format, output)
        return
    run_id = new_run_id()
    nothing_planned = all(p.empty for p in plans)
    if not nothing_planned:
        _confirm(yes, plans)
        print(f"fix: run {run_id} (undo later with `mailcert fix --rollback {run_id}`)", file=say, flush=True)
    interruption = Interruption()
    results = _apply_all(audits, plans, run_id, settings, bool(at), workers, interruption, say, roles)
    if nothing_planned:  # said after the hosts were seen: an unfinished earlier run may have been restored
        print(nothing_to_do_line(results), file=say)
    finals = [final_report(audit.report, result) for audit, result in zip(audits, results, strict=True)]
    for before, result, final in zip(befores, results, finals, strict=True):
        for line in before_after(before, result, final):
            print(line, file=say)
    seen = [seen_plan(before, result) for before, result in zip(befores, results, strict=True)]
    _finish(settings.now, finals, seen, format, output, recovered_entries(results))
    if interruption.is_set:
        print(f"fix: {interruption.why}; changed hosts were restored", file=sys.stderr)
        run_state().forced_code = 3


def _audits(hosts: list[InventoryHost], settings: AuditSettings, workers: int) -> list[HostAudit]:
    """This run's audit (`mailcert audit fix`) of the selected hosts; otherwise a fresh audit."""
    if "audit" in run_state().reports and last_audit():
        wanted = {h.name for h in hosts}
        return [a for a in last_audit() if a.host.name in wanted]
    return run_audit(hosts, settings, forks=workers, progress=sys.stderr)


def _confirm(yes: bool, plans: Sequence[HostPlan], stream: TextIO = sys.stdin) -> None:
    from mailcert.audit.fleet import is_tty
    from mailcert.report.fix_plan import render_text

    if yes:
        return
    changing = [p for p in plans if not p.empty]
    count = sum(len(p.changes) for p in changing)
    if not is_tty(stream):
        raise UsageError(
            f"fix would make {count} change(s) on {len(changing)} host(s) and there is no terminal to ask on",
            todo="review `mailcert fix --dry-run`, then run again with -y/--yes",
        )
    print(render_text(changing))
    answer = input(f"Apply {count} change(s) on {len(changing)} host(s)? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise UsageError("fix cancelled: nothing was changed")


def _apply_all(
    audits: Sequence[HostAudit],
    plans: Sequence[HostPlan],
    run_id: str,
    settings: AuditSettings,
    fixed_instant: bool,
    workers: int,
    interruption: Interruption,
    say: TextIO,
    roles: str | None = None,
) -> list[HostApplied]:
    from mailcert.audit.host import audit_host
    from mailcert.fix.apply.fleet import HostWork, apply_fleet, printer
    from mailcert.fix.roles import roles_for

    def recheck(host: InventoryHost) -> HostReport:
        # Without --at, "now" is after the change: a certificate issued a moment ago is valid by then.
        return audit_host(
            host, settings if fixed_instant else replace(settings, now=datetime.now(UTC))
        ).report

    work = [
        HostWork(a.host, p, a.report, roles_for(roles or a.host.roles_dir))
        for a, p in zip(audits, plans, strict=True)
    ]
    return apply_fleet(
        work, run_id=run_id, recheck=recheck, forks=workers, say=printer(say), interruption=interruption
    )


def _finish(
    now: datetime,
    hosts: Sequence[HostReport],
    plans: Sequence[HostPlan],
    format: str,
    output: str | None,
    recovered: Sequence[dict[str, object]] = (),
) -> None:
    from mailcert.report import render
    from mailcert.report.fix_plan import (
        plan_entries,
        render_markdown,
        render_text,
        with_endpoints_after,
    )

    report = with_endpoints_after(
        Report(
            generated_at=datetime.now(UTC),
            evaluated_at=now,
            hosts=tuple(hosts),
            plan=(*plan_entries(plans), *recovered),
        ),
        plans,
    )
    if format == "text":  # the plan as people read it: numbered steps, what each removes, diffs, commands
        text = render(replace(report, plan=None), format, color=wants_color(output))
        emit(text + "\n" + render_text(plans), output)
    elif (
        format == "markdown"
    ):  # a pull-request comment: findings, then per host a step table, diffs collapsed
        emit(render(replace(report, plan=None), format) + "\n" + render_markdown(plans), output)
    else:  # json, sarif, html; JSON gives each planned host its `endpoints_after` (before → after per pair)
        emit(render(report, format, color=wants_color(output)), output)
    state = run_state()
    state.record("fix", report)
    state.forced_code = report.status.exit_code  # the final state, not the audit's before it


def _rollback(run_id: str, hosts: Sequence[InventoryHost], workers: int) -> None:
    from mailcert.fix.apply.rollback import rollback_host

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(hosts) or 1))) as pool:
        results = list(pool.map(lambda h: rollback_host(h, run_id), hosts))
    for result in results:
        print(f"{result.host}: {result.state}{' — ' + result.reason if result.reason else ''}")
    if not any(r.state == "rolled-back" for r in results):
        raise UsageError(f"run {run_id} was rolled back on no host", todo="check the RUN-ID and --limit")
    bad = [r for r in results if r.state in ("failed", "error")]
    run_state().forced_code = 3 if bad else 0
