"""What `fix` says about an applied run: the report's `plan` entries (SPEC) and a before/after line per host."""

from __future__ import annotations

from collections.abc import Sequence

from mailcert.fix.apply import HostApplied
from mailcert.fix.model import HostPlan
from mailcert.model import HostReport


def plan_entries(plans: Sequence[HostPlan]) -> tuple[dict[str, object], ...]:
    """SPEC's `plan` section: each change with host, kind, description, removes, diff or command, outcome."""
    entries: list[dict[str, object]] = []
    for plan in plans:
        for change in plan.changes:
            entry: dict[str, object] = {
                "host": plan.host,
                "kind": change.kind.value,
                "description": change.description
                + (f" (removes: {', '.join(change.removes)})" if change.removes else ""),
                "removes": list(change.removes),
                "outcome": change.outcome.value,
            }
            if plan.run_id:
                entry["run_id"] = plan.run_id
            if change.file is not None:
                entry["file"] = change.file.path
                entry["diff"] = change.file.diff
            if change.command is not None:
                entry["command"] = change.command.shown()
            if change.service:
                entry["service"] = change.service
            if change.error:
                entry["error"] = change.error
            entries.append(entry)
        for why in plan.unfixable:
            entries.append({"host": plan.host, "kind": "unfixable", "description": why, "outcome": "skipped"})
        if plan.error:
            entries.append({"host": plan.host, "kind": "error", "description": plan.error, "outcome": "skipped"})
    return tuple(entries)


def _summary(report: HostReport) -> str:
    if report.error is not None:
        return "unknown"
    count = len(report.findings)
    return f"{report.status.value} ({count} finding{'s' if count != 1 else ''})"


def before_after(before: HostReport, applied: HostApplied, final: HostReport) -> list[str]:
    """`mx1: critical (5 findings) → ok (0 findings): applied` and what earlier runs left behind."""
    lines = []
    for old in applied.leftovers:
        lines.append(
            f"{before.name}: earlier run {old.run_id} ended without its control side seeing it: "
            f"{old.state}{' — ' + old.reason if old.reason else ''}"
        )
    if applied.lock_note:
        lines.append(f"{before.name}: {applied.lock_note}")
    if applied.plan.empty:
        lines.append(f"{before.name}: {_summary(before)}: nothing to do")
        return lines
    outcomes = sorted({c.outcome.value for c in applied.plan.changes})
    verdict = "/".join(outcomes)
    why = f" — {applied.message}" if applied.message else ""
    lines.append(f"{before.name}: {_summary(before)} → {_summary(final)}: {verdict}{why}")
    return lines
