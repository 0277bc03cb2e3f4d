"""`mailcert fix` runs whose host-side worker died mid-switch, as the gather found them in the state folder
(records "unfinished", named RUN@HOST, with the step the worker died in): each is a critical finding
`host.fix-unfinished` until `mailcert fix` or `mailcert fix --rollback RUN` restores it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from mailcert.gather.host import GatheredHost
from mailcert.inventory.model import InventoryHost
from mailcert.model import Finding, HostReport, Severity

_RUN_ID = re.compile(r"[0-9]{8}T[0-9]{6}Z-[A-Za-z0-9]+\Z")
_PHASE = re.compile(r"[a-z0-9.-]{1,40}\Z")


def state_folder(host: InventoryHost) -> str | None:
    """`mailcert_state_dir` (default /var/lib/mailcert) for the gather to look in; None when the value is not
    an absolute path (`fix` refuses it with its own message; the audit does not fail over it)."""
    return host.fix.state_dir if isinstance(host.fix.state_dir, str) else None


@dataclass(frozen=True)
class UnfinishedRun:
    run_id: str
    phase: str  # the journal's word: backing-up, writing.N, commands, validating, reloading, done, restoring


def unfinished_runs(gathered: GatheredHost, host_name: str) -> list[UnfinishedRun]:
    """The unfinished runs of inventory host `host_name` (a state folder may be shared by several names)."""
    runs = []
    for record in gathered.document.of_kind("unfinished"):
        run_id, _, host = record.name.rpartition("@")
        phase = record.fields.get("phase", "none")
        if host == host_name and _RUN_ID.match(run_id):
            runs.append(UnfinishedRun(run_id, phase if _PHASE.match(phase) else "none"))
    return runs


def _while(phase: str) -> str:
    if phase.startswith("writing."):
        return f"while writing file {phase.removeprefix('writing.')} of the plan"
    return {
        "none": "before its first step",
        "backing-up": "while backing up (nothing written yet)",
        "commands": "while running the plan's commands",
        "validating": "while validating the written files",
        "reloading": "while reloading the services",
        "done": "after its last step, before it recorded the end",
        "restoring": "while restoring the files",
    }.get(phase, f"in step {phase}")


def unfinished_finding(run: UnfinishedRun) -> Finding:
    return Finding(
        check="host.fix-unfinished",
        severity=Severity.CRITICAL,
        message=f"mailcert fix run {run.run_id} did not finish on this host: its host-side worker died "
        f"{_while(run.phase)} (phase {run.phase}); the configuration may be half-changed",
        fix=f"run `mailcert fix` (it restores the run) or `mailcert fix --rollback {run.run_id}`",
    )


def unfinished_findings(gathered: GatheredHost, host_name: str) -> list[Finding]:
    return [unfinished_finding(run) for run in unfinished_runs(gathered, host_name)]


def without_finished(report: HostReport, run_ids: Iterable[str]) -> HostReport:
    """The report without the host.fix-unfinished findings of runs since restored (or recorded applied)."""
    gone = tuple(f"mailcert fix run {run_id} " for run_id in run_ids)
    if not gone:
        return report
    kept = tuple(
        f for f in report.findings if not (f.check == "host.fix-unfinished" and f.message.startswith(gone))
    )
    return replace(report, findings=kept)
