"""What a host is after `fix` applied its plan: the re-check when the change was kept, else the audit; and the
plan with each (port, name) as the re-probe saw it."""

from __future__ import annotations

from dataclasses import replace

from mailcert.fix.apply.host import HostApplied
from mailcert.fix.endpoints import compared
from mailcert.fix.model import HostPlan, Outcome
from mailcert.gather.unfinished import without_finished
from mailcert.model import HostReport


def final_report(before: HostReport, result: HostApplied) -> HostReport:
    """The host as it is now: the re-check when the change was kept, else what the audit saw."""
    kept = any(c.outcome is Outcome.APPLIED for c in result.plan.changes)
    final = result.after if kept and result.after is not None else before
    return without_finished(final, (r.run_id for r in result.recovered))  # this run restored them


def seen_plan(before: HostReport, result: HostApplied) -> HostPlan:
    """The applied plan with each (port, name) as the re-probe saw it (the plan's expectation when there was
    no re-probe)."""
    changes = compared(before, result.after) if result.after is not None else ()
    if not changes:
        return result.plan
    restored = any(c.outcome is Outcome.ROLLED_BACK for c in result.plan.changes)
    return replace(
        result.plan, endpoints=changes, endpoints_from="re-probe, restored" if restored else "re-probe"
    )
