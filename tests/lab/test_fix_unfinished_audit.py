"""`audit` reports a fix run whose host-side worker died (issue 18 follow-ups 2 and 4), on a lab host: the
worker is held at "validating" (the test-only STATE/pause.PHASE file) and SIGKILLed with its control side
gone; `mailcert audit` then exits 2 with host.fix-unfinished naming the run and the phase (still one SSH
command: the gather reads the state folder). `mailcert fix -y`, with nothing else to plan, restores the
run and says so (not "nothing to do"), JSON naming the run; the next audit is clean, main.cf as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailcert.fix.model import Change, ChangeKind, FileChange, HostPlan
from mailcert.lab.kinds.postfix import MAIN_CF
from tests.lab.fixture import Lab
from tests.lab.test_fix_apply import HOST, as_gathered, fix_inventory, inventory_host, snapshot
from tests.lab.test_fix_cli import last_json, mailcert
from tests.lab.test_fix_journal import killed_with_its_control_side

pytestmark = pytest.mark.lab


def findings(stdout: str, check: str) -> list[dict[str, object]]:
    (host,) = [h for h in last_json(stdout)["hosts"] if h["name"] == HOST]
    return [f for f in host["findings"] if f["check"] == check]


def test_an_unfinished_run_is_a_critical_finding_until_fix_restores_it(lab: Lab, tmp_path: Path) -> None:
    lab.changed(HOST)
    inventory = str(fix_inventory(lab, tmp_path))
    host = inventory_host(lab, tmp_path)
    text = lab.host(HOST).path(MAIN_CF).read_text()
    shot = snapshot(lab, HOST, [MAIN_CF])
    plan = HostPlan(  # a change no finding asks for: after the restore nothing is left to plan
        HOST,
        (
            Change(
                ChangeKind.EDIT,
                "note",
                file=FileChange(MAIN_CF, as_gathered(text), as_gathered(text) + "# a note\n"),
            ),
            Change(ChangeKind.RELOAD, "reload", service="postfix"),
        ),
    )
    run_id = killed_with_its_control_side(lab, host, plan, "validating")  # nobody restored the run
    assert lab.host(HOST).path(MAIN_CF).read_text().endswith("# a note\n")

    audited = mailcert("-I", inventory, "audit", "--limit", HOST, "--format", "json")

    assert audited.returncode == 2, audited.stdout[-2000:] + audited.stderr[-2000:]
    (finding,) = findings(audited.stdout, "host.fix-unfinished")
    assert finding["severity"] == "critical"
    assert finding["message"] == (
        f"mailcert fix run {run_id} did not finish on this host: its host-side worker died while validating "
        "the written files (phase validating); the configuration may be half-changed"
    )
    assert finding["fix"] == f"run `mailcert fix` (it restores the run) or `mailcert fix --rollback {run_id}`"

    fixed = mailcert("-I", inventory, "fix", "--limit", HOST, "-y", "--format", "json")

    assert fixed.returncode == 0, fixed.stdout[-2000:] + fixed.stderr[-2000:]  # its report: the run restored
    assert findings(fixed.stdout, "host.fix-unfinished") == []
    assert "fix: nothing to do" not in fixed.stderr
    assert (
        f"fix: no change planned; finished earlier runs whose host-side worker had died on {HOST} ({run_id})"
        in fixed.stderr
    ), fixed.stderr[-2000:]
    recovered = [e for e in json.loads(fixed.stdout)["plan"] if e["kind"] == "recovered"]
    assert [(e["host"], e["run_id"], e["outcome"]) for e in recovered] == [(HOST, run_id, "rolled-back")]
    assert snapshot(lab, HOST, [MAIN_CF]) == shot

    again = mailcert("-I", inventory, "audit", "--limit", HOST, "--format", "json")

    assert again.returncode == 0, again.stdout[-2000:]
    assert findings(again.stdout, "host.fix-unfinished") == []
