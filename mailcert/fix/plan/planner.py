"""Plan `fix` for one host: a pure function of the audit's facts, findings and the inventory.

Order of the plan: ISSUE (certbot) first, then EDIT/CREATE of files, then COMMANDs, then RELOADs; the
validations run after writing and before reloading. Every finding no change removes is listed in
`unfixable` with the reason. A host that is already right yields an empty plan.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime

from mailcert.audit.host import HostAudit
from mailcert.audit.lint import HostModel, LintOptions
from mailcert.errors import MailcertError
from mailcert.facts import HostFiles
from mailcert.fix.model import Change, ChangeKind, Command, HostPlan
from mailcert.fix.plan.base import PlanState, label
from mailcert.fix.plan.certs import CERT_CHECKS, plan_certificates
from mailcert.fix.plan.hooks import plan_key_permissions, plan_stale, plan_timer
from mailcert.fix.plan.reload import BROKEN_ON_THE_WIRE
from mailcert.fix.plan.result_lint import TRUST_DEPENDENT, default_lint_options, refusal
from mailcert.fix.plan.served import keep_served
from mailcert.fix.plan.services import PLANNERS
from mailcert.fix.roles import RoleSet, load_roles
from mailcert.inventory.model import InventoryHost
from mailcert.model import HostReport
from mailcert.services.certbot.parser import read_certbot
from mailcert.services.registry import SERVICES

# Findings that no change on the host can remove, and why.
NOT_ON_HOST = {
    "dns.": "needs a DNS change (mailcert does not edit DNS)",
    "host.clock-skew": "fix time synchronisation on the host (chrony, systemd-timesyncd)",
    "host.unreachable": "the host could not be checked",
    "tls.unreachable": "the port does not answer: start the service or open the firewall",
}
_ORDER = {
    ChangeKind.INSTALL: -1,
    ChangeKind.ISSUE: 0,
    ChangeKind.EDIT: 1,
    ChangeKind.CREATE: 1,
    ChangeKind.COMMAND: 2,
    ChangeKind.RELOAD: 3,
}
_roles_cache: RoleSet | None = None


def plan_host(
    audit: HostAudit,
    host: InventoryHost,
    *,
    now: datetime,
    roles: RoleSet | None = None,
    install_certbot: bool = False,
    lint_options: LintOptions | None = None,
) -> HostPlan:
    """The host's plan from its audit; a host that could not be gathered gets a plan with only `error`."""
    if audit.gathered is None or audit.model is None:
        reason = audit.report.error or "the host's files were not gathered"
        return HostPlan(host=host.name, error=f"nothing planned: {reason}")
    return plan_from(
        audit.gathered,
        audit.model,
        audit.report,
        host,
        now=now,
        units=audit.gathered.units,
        roles=roles,
        install_certbot=install_certbot,
        lint_options=lint_options,
    )


def plan_from(
    files: HostFiles,
    model: HostModel,
    report: HostReport,
    host: InventoryHost,
    *,
    now: datetime,
    units: Mapping[str, object] | None = None,
    roles: RoleSet | None = None,
    install_certbot: bool = False,
    lint_options: LintOptions | None = None,
) -> HostPlan:
    """The plan from the parts of an audit (tests build them from a local tree with lint_host_model).

    The result is linted before the plan is returned (`lint_options`: the audit's; default: the inventory's
    names and thresholds, no trusted roots, so chain and trust findings are not judged): a plan whose result has a new critical config/cert/key
    finding comes back refused, without changes, its `error` naming the finding."""
    options = lint_options or default_lint_options(host, now)
    ignored = TRUST_DEPENDENT if lint_options is None else frozenset()
    try:
        state = _state(files, model, report, host, now, units or {}, roles or _default_roles())
        state.install_certbot = install_certbot
        planned = _plan(state, options, ignored)
        why = refusal(files, planned, options=options, ignored=ignored)
        if why is None:
            return planned
        return HostPlan(host=host.name, unfixable=planned.unfixable, error=why)
    except MailcertError as exc:
        return HostPlan(host=host.name, error=exc.line())
    except Exception as exc:  # noqa: BLE001 — one host's bug must not stop the fleet; reported, not hidden
        return HostPlan(
            host=host.name, error=f"mailcert failed planning this host: {type(exc).__name__}: {exc}"
        )


def _default_roles() -> RoleSet:
    global _roles_cache  # roles are files of this installation: read once per run
    if _roles_cache is None:
        _roles_cache = load_roles()
    return _roles_cache


def _state(
    files: HostFiles, model: HostModel, report: HostReport, host: InventoryHost, now: datetime,
    units: Mapping[str, object], roles: RoleSet,
) -> PlanState:  # fmt: skip
    systemd = bool(units) or files.is_dir("/run/systemd/system")
    return PlanState(host, files, model, report, read_certbot(files), roles, now, systemd, units)


def _plan(state: PlanState, options: LintOptions, ignored: frozenset[str]) -> HostPlan:
    for planner in PLANNERS.values():  # cPanel's files change only through cPanel's API: it plans alone
        if planner.owns_host is not None and planner.plan_host is not None and planner.owns_host(state):
            return planner.plan_host(state)
    for finding in state.problems():
        reason = next((why for prefix, why in NOT_ON_HOST.items() if finding.check.startswith(prefix)), None)
        if reason:
            state.cannot(reason, [finding])
    uses = state.source_uses()
    repaired: set[int] = set()
    for planner in PLANNERS.values():
        if planner.before_certificates is not None:
            repaired |= planner.before_certificates(state, uses)
    planned = plan_certificates(state, uses, repaired)
    for planner in PLANNERS.values():
        if planner.config is not None:
            planner.config(state)
    for planner in PLANNERS.values():
        if planner.renewal is not None:
            planner.renewal(state, uses, planned)
    plan_stale(state)
    plan_key_permissions(state, uses)
    plan_timer(state)
    changes = [*state.changes, *state.edit_changes()]
    _served_by_reload(state)
    changes += _reloads(state)
    changes.sort(key=lambda c: _ORDER[c.kind])
    for finding in state.problems():
        if finding not in state.covered:
            state.unfixable.append(f"{label(finding)}: not changed automatically — {finding.fix}")
    held = keep_served(state, changes, options, ignored)  # no reload makes a (port, name) worse
    changes = held.changes
    state.unfixable += held.unfixable
    roles = state.roles
    return HostPlan(
        host=state.host.name,
        changes=tuple(changes),
        unfixable=tuple(state.unfixable),
        validations=_validations(changes, roles),
        endpoints=held.endpoints,
    )


def _validations(changes: Sequence[Change], roles: RoleSet) -> tuple[Command, ...]:
    validations: list[Command] = []
    for change in changes:
        if change.service == "certbot" and change.file is not None:
            validations.append(Command(("sh", "-n", change.file.path)))  # the hook parses as sh
        if change.kind is ChangeKind.RELOAD and change.service:
            for argv in roles.role(change.service).validate:
                if Command(argv) not in validations:
                    validations.append(Command(argv))
    return tuple(validations)


def still_no_worse(
    plan: HostPlan,
    audit: HostAudit,
    host: InventoryHost,
    *,
    now: datetime,
    lint_options: LintOptions,
    roles: RoleSet | None = None,
) -> HostPlan:
    """The invariant again, on a plan a later stage trimmed (DANE holding a certbot step back keeps the
    reloads): a reload whose service would now serve worse files is dropped, with why."""
    if audit.gathered is None or audit.model is None or plan.error is not None or plan.empty:
        return plan
    try:
        state = _state(
            audit.gathered,
            audit.model,
            audit.report,
            host,
            now,
            audit.gathered.units,
            roles or _default_roles(),
        )
        held = keep_served(state, plan.changes, lint_options, frozenset())
    except MailcertError as exc:
        return HostPlan(host=plan.host, unfixable=plan.unfixable, error=exc.line())
    return dataclasses.replace(
        plan,
        changes=tuple(held.changes),
        unfixable=tuple(dict.fromkeys([*plan.unfixable, *held.unfixable])),
        validations=_validations(held.changes, state.roles),
        endpoints=held.endpoints,
    )


# What a client saw on the wire that reloading the service fixes once its files are right.
_SEEN_ON_THE_WIRE = CERT_CHECKS | BROKEN_ON_THE_WIRE


def _served_by_reload(state: PlanState) -> None:
    """Probe findings (no file) on a service this plan reloads are removed by that reload, unless lint
    still has the same problem in the service's files."""
    left = [f for f in state.problems() if f not in state.covered]
    for finding in left:
        if finding.file is not None or finding.service not in state.reload:
            continue
        if finding.check not in _SEEN_ON_THE_WIRE:
            continue
        in_files = any(
            f.check == finding.check and f.service == finding.service and f.file is not None for f in left
        )
        if not in_files:
            state.reload_service(finding.service, [finding])


def _reloads(state: PlanState) -> list[Change]:
    changes = []
    order = list(SERVICES)
    for service, findings in sorted(state.reload.items(), key=lambda item: [*order, item[0]].index(item[0])):
        if service not in state.roles.roles or service == "certbot":
            continue
        argv = state.reload_argv(service)
        if not argv:
            continue
        removes = tuple(dict.fromkeys(label(f) for f in findings))
        changes.append(
            Change(
                ChangeKind.RELOAD,
                f"reload {service} so it loads the changed files and certificates",
                removes,
                command=Command(argv),
                service=service,
            )
        )
    return changes
