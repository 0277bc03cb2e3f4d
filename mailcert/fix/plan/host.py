"""Plan one audited host as `fix` does: the planner, then DANE's and the ACME pre-flight's holds, then the
no-worse invariant again for what they held back."""

from __future__ import annotations

from mailcert.audit.host import AuditSettings, HostAudit
from mailcert.audit.lint import LintOptions
from mailcert.audit.options import lint_options, trust_bundles
from mailcert.errors import MailcertError
from mailcert.fix.model import HostPlan
from mailcert.fix.plan.acme_check import with_acme_preflight
from mailcert.fix.plan.dane import config_names, dane_safe, with_dns_names
from mailcert.fix.plan.planner import plan_host, still_no_worse
from mailcert.fix.roles import roles_for


def plan_audited_host(
    audit: HostAudit,
    settings: AuditSettings,
    *,
    install_certbot: bool = False,
    roles: str | None = None,
) -> HostPlan:
    """The host's plan; `roles` (--roles) beats the host's mailcert_roles_dir."""
    if audit.model is None or audit.report.error is not None:
        return HostPlan(audit.host.name, error=f"not planned: {audit.report.error or 'no facts gathered'}")
    try:
        # mailcert_domains: names DNS gives the host (mailcert_hostnames_from_dns), DANE-safe certbot steps
        host = with_dns_names(audit.host, audit.discoveries, config_names(audit.model))
        options = _lint_options(audit, settings)
        role_set = roles_for(roles or audit.host.roles_dir)
        plan = plan_host(
            audit,
            host,
            now=settings.now,
            install_certbot=install_certbot,
            roles=role_set,
            lint_options=options,
        )
        safe = dane_safe(plan, audit.gathered, host, audit.report, audit.discoveries)
        # ACME pre-flight (issue 18.7): names that cannot validate are left out of certbot, said up front
        checked = with_acme_preflight(safe, host, audit.gathered, settings.resolver)
        if checked.changes == plan.changes:
            return checked
        # DANE or the pre-flight held a certbot step back: the reloads that counted on its certificate are
        # judged again, so none of them makes a (port, name) worse (issue 18.1)
        return still_no_worse(checked, audit, host, now=settings.now, lint_options=options, roles=role_set)
    except MailcertError as exc:
        return HostPlan(audit.host.name, error=exc.line())


def _lint_options(audit: HostAudit, settings: AuditSettings) -> LintOptions:
    """How the planner lints the result before anything is sent: as the audit lints (same roots, names, and
    the daemon versions the host reported)."""
    host = audit.host
    trust = settings.trust_loader(trust_bundles(host, settings.ca_bundles))  # read once per run
    versions = audit.gathered.versions if audit.gathered is not None else None
    return lint_options(host, now=settings.now, trust=trust, versions=versions)
