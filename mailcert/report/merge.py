"""`report merge`: the reports of several runs (the shards of one fleet, as a rule) as one report.

The rules (docs/contract-additions.md):
- hosts are sorted by name, so the result does not depend on the order the files are given in, nor on
  which shard a host fell into; a host in two inputs is refused (its two results may disagree, and
  picking one would hide the other), naming both files;
- `generated_at` and `evaluated_at` are the earliest of the inputs': the merged report is as old as its
  oldest part, so an alert on a stale `mailcert_last_run_timestamp_seconds` fires when one shard's job
  stopped writing fresh reports;
- `plan` (fix reports) is every input's plan entries, ordered by their host as the hosts are, and present
  only when some input has one; as in one run's plan, the `recovered` entries (earlier runs this fix
  restored) come after all the others;
- everything else a host carries (its `renewals`, fix's `endpoints_after`) stays with the host;
- the status, and so the exit code, follows from the merged hosts exactly as for one run (SPEC).
"""

from __future__ import annotations

from collections.abc import Sequence

from mailcert.errors import UsageError
from mailcert.model import HostReport, Report


def merge_reports(named: Sequence[tuple[str, Report]]) -> Report:
    """One report from (file name, report) pairs; a UsageError when there are none or a host repeats."""
    if not named:
        raise UsageError(
            "report merge: no reports given", todo="name the JSON reports: report merge a.json b.json"
        )
    owner: dict[str, str] = {}
    hosts: list[HostReport] = []
    for source, report in named:
        for host in report.hosts:
            if owner.get(host.name) == source:
                raise UsageError(
                    f"report merge: {source} is given twice", todo="name each shard's report once"
                )
            if host.name in owner:
                raise UsageError(
                    f"report merge: host {host.name!r} is in both {owner[host.name]} and {source}",
                    todo="merge the reports of one run's shards (same inventory, same N, each K once)",
                )
            owner[host.name] = source
            hosts.append(host)
    hosts.sort(key=lambda h: h.name)
    order = {host.name: index for index, host in enumerate(hosts)}
    plans = [report.plan for _, report in named if report.plan is not None]
    plan = None
    if plans:
        entries = [entry for entries in plans for entry in entries]
        plan = tuple(
            sorted(entries, key=lambda e: (_recovered(e), order.get(str(e.get("host")), len(order))))
        )
    return Report(
        generated_at=min(report.generated_at for _, report in named),
        evaluated_at=min(report.evaluated_at for _, report in named),
        hosts=tuple(hosts),
        plan=plan,
    )


def _recovered(entry: dict[str, object]) -> bool:
    """fix writes its plan as every host's changes, then the earlier runs it found unfinished."""
    return entry.get("kind") == "recovered"


__all__ = ["merge_reports"]
