"""What `fix` says about each host after applying: before → after, and what earlier runs left behind."""

from __future__ import annotations

from collections.abc import Sequence

from mailcert.fix.apply.host import HostApplied
from mailcert.fix.endpoints import compared
from mailcert.fix.model import Outcome
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
        lines.append(f"{before.name}: {_summary(before)}: {applied.message or 'nothing to do'}")
        return lines
    outcomes = sorted({c.outcome.value for c in applied.plan.changes})
    verdict = "/".join(outcomes)
    why = f" — {applied.message}" if applied.message else ""
    lines.append(f"{before.name}: {_summary(before)} → {_summary(final)}: {verdict}{why}")
    pairs = compared(before, applied.after) if applied.after is not None else ()
    if pairs:
        better = sum(p.after.verdict.rank < p.before.verdict.rank for p in pairs)
        worse = sum(p.worse for p in pairs)
        lines.append(
            f"{before.name}: clients on {len(pairs)} (port, name), as the re-probe saw them: {better} better, "
            f"{len(pairs) - better - worse} same verdict, {worse} worse"
            + (" (restored)" if any(c.outcome is Outcome.ROLLED_BACK for c in applied.plan.changes) else "")
        )
    return lines


def nothing_to_do_line(results: Sequence[HostApplied]) -> str:
    """`fix`'s opening line when no host had anything planned: unless it restored an earlier unfinished run."""
    restored = [f"{r.plan.host} ({', '.join(o.run_id for o in r.recovered)})" for r in results if r.recovered]
    if not restored:
        return "fix: nothing to do"
    return (
        f"fix: no change planned; finished earlier runs whose host-side worker had died on {'; '.join(restored)}"
        " — see below"
    )


def recovered_entries(results: Sequence[HostApplied]) -> list[dict[str, object]]:
    """JSON plan entries of kind "recovered": per host, each earlier run this fix found unfinished (its
    worker dead) and restored (outcome "rolled-back") or recorded applied, with the reason."""
    return [
        {
            "host": r.plan.host,
            "kind": "recovered",
            "run_id": o.run_id,
            "outcome": o.state,
            "description": o.reason,
        }
        for r in results
        for o in r.recovered
    ]
