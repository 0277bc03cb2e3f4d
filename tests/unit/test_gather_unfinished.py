"""The audit finds a `mailcert fix` run whose host-side worker died (issue 18 follow-up 2): the gather
program reads the state folder it is given and prints one "unfinished" record per such run (run, host,
phase) and nothing else of the folder; each becomes a critical finding host.fix-unfinished."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcert.catalogue import default_severity
from mailcert.gather import GatheredHost, gather_argv
from mailcert.gather.unfinished import (
    UnfinishedRun,
    state_folder,
    unfinished_findings,
    unfinished_runs,
    without_finished,
)
from mailcert.inventory.model import InventoryHost
from mailcert.model import HostReport, Severity
from tests.inventory_hosts import host_from_vars

STATE = "/var/lib/mailcert"
DEAD = "20261207T180000Z-dead01"
RECORDED = f"""%MAILCERT-GATHER 1
%R meta
%P clock
MTc2NTEzMDAwMA==
%E
%R unfinished phase=validating
%P {DEAD}@mx1
%E
%R unfinished phase=writing.2
%P 20261207T170000Z-other1@mx2
%E
%R unfinished phase=none
%P not-a-run@mx1
%E
%END
"""


def test_a_recorded_document_gives_one_critical_finding_naming_run_phase_and_what_to_do() -> None:
    gathered = GatheredHost.from_output(RECORDED, name="mx1")
    assert unfinished_runs(gathered, "mx1") == [UnfinishedRun(DEAD, "validating")]  # mx2's is not mx1's
    (finding,) = unfinished_findings(gathered, "mx1")
    assert finding.check == "host.fix-unfinished"
    assert finding.severity is Severity.CRITICAL is default_severity("host.fix-unfinished")
    assert finding.message == (
        f"mailcert fix run {DEAD} did not finish on this host: its host-side worker died while validating "
        "the written files (phase validating); the configuration may be half-changed"
    )
    assert finding.fix == f"run `mailcert fix` (it restores the run) or `mailcert fix --rollback {DEAD}`"
    other = unfinished_findings(gathered, "mx2")
    assert [f.message.split(" died ")[1] for f in other] == [
        "while writing file 2 of the plan (phase writing.2); the configuration may be half-changed"
    ]


def run_record(
    state: Path, name: str, status: str, *, phase: str | None, done: bool, pid: int = 999999
) -> Path:
    rundir = state / "runs" / name
    (rundir / "files").mkdir(parents=True)
    (rundir / "status").write_text(f"{status}\nswitching\n")
    if phase is not None:
        (rundir / "phase").write_text(phase + "\n")
    (rundir / "worker.pid").write_text(f"{pid}\n")
    (rundir / "files" / "1").write_text("password = SECRET-IN-A-BACKUP\n")
    (rundir / "payload").write_text("edit c2VjcmV0 SECRET-IN-A-PAYLOAD\n")
    if done:
        (rundir / "worker.done").touch()
    return rundir


@pytest.fixture
def live_worker() -> Iterator[int]:
    """A process that looks like a working apply worker (its command line names mailcert-apply)."""
    proc = subprocess.Popen(["sh", "-c", "sleep 60", "mailcert-apply"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_the_gather_reports_only_runs_whose_worker_died_and_none_of_their_files(
    tmp_path: Path, live_worker: int
) -> None:
    root = tmp_path / "host"
    state = root / STATE.lstrip("/")
    run_record(state, f"{DEAD}@mx1", "running", phase="reloading", done=False)  # killed: reported
    run_record(state, "20261207T170000Z-nophas@mx1", "running", phase=None, done=False)  # before any step
    run_record(
        state, "20261207T160000Z-restor@mx1", "failed", phase="restoring", done=False
    )  # restore killed
    run_record(state, "20261207T150000Z-ended1@mx1", "applied", phase="done", done=True)
    run_record(state, "20261207T140000Z-rolled@mx1", "rolled-back", phase="validating", done=True)
    run_record(
        state, "20261207T130000Z-living@mx1", "running", phase="validating", done=False, pid=live_worker
    )

    out = subprocess.run(
        ["dash", *gather_argv(str(root), STATE)[1:]], capture_output=True, text=True, check=True, timeout=120
    ).stdout

    assert "SECRET" not in out
    gathered = GatheredHost.from_output(out, name="mx1")
    assert sorted(unfinished_runs(gathered, "mx1"), key=lambda r: r.run_id) == [
        UnfinishedRun("20261207T160000Z-restor", "restoring"),
        UnfinishedRun("20261207T170000Z-nophas", "none"),
        UnfinishedRun(DEAD, "reloading"),
    ]
    without = subprocess.run(
        ["dash", *gather_argv(str(root))[1:]], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert unfinished_runs(GatheredHost.from_output(without, name="mx1"), "mx1") == []


def test_the_state_folder_is_the_inventorys_and_a_bad_one_is_not_read() -> None:
    host = InventoryHost(name="mx1", address="127.0.0.1")
    assert state_folder(host) == STATE
    assert state_folder(host_from_vars({"mailcert_state_dir": "/srv/mc/"})) == "/srv/mc"
    assert state_folder(host_from_vars({"mailcert_state_dir": "relative"})) is None
    assert state_folder(host_from_vars({"mailcert_state_dir": ["/srv/mc"]})) is None
    with pytest.raises(ValueError):
        gather_argv("/", "/state\nrm -rf /")
    assert gather_argv("/", "/my state; x")[-1] == "/my state; x"  # one argument, never shell text


def test_fixs_final_report_drops_only_the_findings_of_runs_it_restored() -> None:
    gathered = GatheredHost.from_output(RECORDED, name="mx2")
    other = "20261207T190000Z-later1"
    findings = (
        *unfinished_findings(gathered, "mx2"),
        *unfinished_findings(
            GatheredHost.from_output(RECORDED.replace("20261207T170000Z-other1", other), name="mx2"), "mx2"
        ),
    )
    report = HostReport("mx2", findings=findings)
    left = without_finished(report, ["20261207T170000Z-other1"])
    assert [f.message.split()[3] for f in left.findings] == [other]
    assert without_finished(report, []) == report
