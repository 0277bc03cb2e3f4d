"""`mailcert verify --renew`: renew central-mode certificates (mailcert_acme_mode: central) inside their
renewal window. certbot does not renew `--csr` certificates itself, so mailcert drives it from cron.

A host is due when its central certificate expires within `mailcert_renew_before_days` (default 30, at
least mailcert_warn_days) of the evaluation instant (`--at` moves it). The renewal is the fix engine's:
a new CSR on the host (the key kept when mailcert_reuse_key says so, or, left on auto, while a TLSA record
pins it), certbot on the control machine, certificate and chain installed by the switch, the services
using it reloaded, re-checked, rolled back on a new critical finding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from mailcert.audit.host import AuditSettings, HostAudit, audit_host
from mailcert.errors import MailcertError
from mailcert.fix.acme.central import REUSE_KEY
from mailcert.fix.apply.host import apply_host, new_run_id
from mailcert.fix.model import Change, ChangeKind, Command, HostPlan, Outcome
from mailcert.fix.plan.acme import Target
from mailcert.fix.plan.base import PlanState
from mailcert.fix.plan.central import central_target
from mailcert.fix.plan.dane import host_tlsa, pins_spki
from mailcert.fix.roles import roles_for
from mailcert.model import Finding, HostReport, Severity
from mailcert.services.certbot.parser import read_certbot


@dataclass(frozen=True)
class Renewed:
    """One central host's renewal: what was said, the report after it (None: unchanged), a finding on failure."""

    host: str
    line: str | None
    after: HostReport | None = None
    finding: Finding | None = None


def _failed(message: str) -> Finding:
    return Finding(
        check="renewal.not-configured",
        severity=Severity.WARNING,
        message=f"central renewal failed: {message}",
        fix="fix the cause (DNS credentials, the ACME server, the host) and run `mailcert verify --renew` again",
    )


def due_plan(audit: HostAudit, settings: AuditSettings) -> tuple[HostPlan | None, Target | None]:
    """The renewal plan of a central host whose certificate is in its window; (None, target) otherwise."""
    if audit.gathered is None or audit.model is None or audit.report.error is not None:
        return None, None
    files, host = audit.gathered, audit.host
    systemd = bool(audit.gathered.units) or files.is_dir("/run/systemd/system")
    state = PlanState(
        host,
        files,
        audit.model,
        audit.report,
        read_certbot(files),
        roles_for(host.roles_dir),
        settings.now,
        systemd,
        audit.gathered.units,
    )
    target = central_target(state, set())
    if target is None or target.action != "renew":
        return None, target
    if target.command is None:
        raise MailcertError(target.why_not or "the central certificate cannot be renewed", where=host.name)
    command = target.command
    if _keep_key(audit, target):
        command = Command((*command.argv, REUSE_KEY), command.env)
    services = sorted(
        {use.listener.service for use in state.source_uses() if target.fullchain in use.source.cert_files}
    )
    changes = [Change(ChangeKind.ISSUE, f"renew central certificate {target.name}", command=command)]
    changes += [
        Change(ChangeKind.RELOAD, f"reload {s} so it serves the renewed certificate", service=s)
        for s in services
    ]
    return HostPlan(host.name, tuple(changes)), target


def _keep_key(audit: HostAudit, target: Target) -> bool:
    """mailcert_reuse_key: true/false wins; auto keeps the key while a TLSA record of the host pins it."""
    host = audit.host
    if host.reuse_key is not None:
        return host.reuse_key
    assert audit.gathered is not None
    keys = audit.gathered.pem_file(target.privkey).keys
    spki = keys[0].public_key_der if keys else None
    if spki is None:
        return False
    names = [*target.names, *(n for e in audit.report.endpoints for n in e.hostnames)]
    addresses = [host.probe_address or host.address]
    return any(pins_spki(tlsa, spki) for tlsa in host_tlsa(audit.discoveries, names, addresses))


def renew_one(audit: HostAudit, settings: AuditSettings) -> Renewed:
    name = audit.host.name
    try:
        plan, target = due_plan(audit, settings)
    except MailcertError as exc:
        return Renewed(name, None, finding=_failed(exc.line()))
    if plan is None or target is None:
        return Renewed(name, None)

    def recheck(host: object) -> HostReport:
        return audit_host(audit.host, settings).report

    result = apply_host(
        audit.host,
        plan,
        run_id=new_run_id(),
        before=audit.report,
        recheck=recheck,
        roles=roles_for(audit.host.roles_dir),
    )
    if result.message is not None or not all(c.outcome is Outcome.APPLIED for c in result.plan.changes):
        return Renewed(name, None, finding=_failed(result.message or "not applied"))
    kept = (
        "key kept"
        if REUSE_KEY in (plan.changes[0].command.argv if plan.changes[0].command else ())
        else "new key"
    )
    return Renewed(name, f"{name}: renewed central certificate {target.name} ({kept})", after=result.after)


def renew_all(
    results: Sequence[HostAudit], settings: AuditSettings, forks: int, say: Callable[[str], None]
) -> tuple[dict[str, HostReport], dict[str, list[Finding]]]:
    """Renew every due central host; the re-checked reports of renewed hosts and findings for failures."""
    central = [r for r in results if r.host.acme_mode == "central"]
    if not central:
        return {}, {}
    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(central)))) as pool:
        done = list(pool.map(lambda r: renew_one(r, settings), central))
    reports: dict[str, HostReport] = {}
    findings: dict[str, list[Finding]] = {}
    for item in done:
        if item.line:
            say(f"renew: {item.line}")
        if item.after is not None:
            reports[item.host] = item.after
        if item.finding is not None:
            findings[item.host] = [item.finding]
    return reports, findings


def with_reports(hosts: Sequence[HostReport], renewed: dict[str, HostReport]) -> tuple[HostReport, ...]:
    return tuple(replace(renewed[h.name]) if h.name in renewed else h for h in hosts)
