"""What `fix` does for each kind of service, keyed by the names of services/registry (one entry each,
tests/unit/test_service_registry.py checks both ways). The descriptor there says what a service is; this
says how its changes are planned, so services/ never imports fix/.

The planner (fix/plan/planner.py) runs the entries' steps phase by phase, each phase in registry order:
a service that takes the whole host over (cPanel: its files change only through its API) plans alone;
otherwise the edits that must come before certificates are planned (Postfix: which listeners' paths it
repairs), then certificates (fix/plan/certs.py), then each service's own config edits, then what renewal
needs (certbot's deploy hook, for the lineages just planned).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mailcert.fix.model import HostPlan
from mailcert.fix.plan import cpanel as plan_cpanel
from mailcert.fix.plan import dovecot as plan_dovecot
from mailcert.fix.plan import exim as plan_exim
from mailcert.fix.plan import postfix as plan_postfix
from mailcert.fix.plan.base import PlanState, SourceUse
from mailcert.fix.plan.hooks import plan_hook


@dataclass(frozen=True)
class ServicePlanner:
    """The planning steps of one service; a step it has no part in is None."""

    owns_host: Callable[[PlanState], bool] | None = None  # True: plan_host plans the whole host
    plan_host: Callable[[PlanState], HostPlan] | None = None
    before_certificates: Callable[[PlanState, list[SourceUse]], set[int]] | None = None  # → ports repaired
    config: Callable[[PlanState], None] | None = None
    renewal: Callable[[PlanState, list[SourceUse], dict[int, str]], None] | None = None


PLANNERS: dict[str, ServicePlanner] = {
    "postfix": ServicePlanner(before_certificates=plan_postfix.fix_config),
    "dovecot": ServicePlanner(config=plan_dovecot.fix_config),
    "exim": ServicePlanner(config=plan_exim.fix_config),
    "cpanel": ServicePlanner(owns_host=plan_cpanel.is_cpanel, plan_host=plan_cpanel.plan_cpanel),
    "certbot": ServicePlanner(renewal=plan_hook),
}
