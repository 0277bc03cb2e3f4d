"""What `fix` says about each host after applying: before → after, and what earlier runs left behind."""

from __future__ import annotations

from mailcert.fix.apply import HostApplied
from mailcert.model import HostReport


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
