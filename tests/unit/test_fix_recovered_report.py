"""What `fix` says when nothing was planned but it restored an earlier run whose host-side worker had died
(issue 18 follow-up 4): not "nothing to do", but what happened, in text and in the JSON plan entries."""

from __future__ import annotations

from mailcert.fix.apply.host import HostApplied
from mailcert.fix.model import HostPlan
from mailcert.fix.remote import Leftover
from mailcert.model import Finding, HostReport, Severity
from mailcert.report.fix_applied import before_after, nothing_to_do_line, recovered_entries

RUN = "20261207T180000Z-abc123"
WHY = "the host-side worker died while validating: restored by run 20261207T181500Z-def456"
RESTORED = f"restored unfinished run {RUN}: {WHY} — run mailcert fix again to plan from the restored files"


def restored_host() -> HostApplied:
    gone = Leftover(RUN, "rolled-back", WHY)
    return HostApplied(HostPlan("mx1"), message=RESTORED, leftovers=(gone,), recovered=(gone,))


def test_nothing_planned_and_nothing_restored_is_nothing_to_do() -> None:
    assert nothing_to_do_line([HostApplied(HostPlan("mx1")), HostApplied(HostPlan("mx2"))]) == (
        "fix: nothing to do"
    )
    assert recovered_entries([HostApplied(HostPlan("mx1"))]) == []


def test_a_restored_run_is_said_instead_of_nothing_to_do() -> None:
    line = nothing_to_do_line([HostApplied(HostPlan("mx2")), restored_host()])
    assert line == (
        f"fix: no change planned; finished earlier runs whose host-side worker had died on mx1 ({RUN}) — see below"
    )


def test_the_hosts_line_says_it_restored_the_run_not_nothing_to_do() -> None:
    before = HostReport("mx1", findings=(Finding("config.cert-not-fullchain", Severity.CRITICAL, "x", "y"),))
    lines = before_after(before, restored_host(), before)
    assert lines[-1] == f"mx1: critical (1 finding): {RESTORED}"
    assert not any("nothing to do" in line for line in lines)


def test_json_names_each_recovered_run_per_host() -> None:
    assert recovered_entries([HostApplied(HostPlan("mx2")), restored_host()]) == [
        {"host": "mx1", "kind": "recovered", "run_id": RUN, "outcome": "rolled-back", "description": WHY}
    ]
