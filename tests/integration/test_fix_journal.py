"""A host-side worker killed mid-switch (SIGKILL, found by its pid file) at every step boundary, on this
machine as root (issue 18, point 4): the next run of the host restores it — files byte-identical, tables
rebuilt, services reloaded — or, every step done, records it applied. And a rollback of a run that wrote
no file (a reload only) ends cleanly with a status word (point 2)."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mailcert.fix.apply.payload import switch_payload
from mailcert.fix.model import Change, ChangeKind, Command, FileChange, HostPlan
from mailcert.fix.worker import EXIT_NO_RECORD, apply_argv
from tests.integration.test_fix_remote import facts, hold, program, release

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the apply program runs as root on hosts")


def journal_plan(site: Path) -> HostPlan:
    """Three file writes, a table built from one of them, a validation and a reload that leave a trace."""
    etc = site / "etc"
    log = site / "reloads.log"
    return HostPlan(
        "local",
        (
            Change(ChangeKind.EDIT, "e1", file=FileChange(str(etc / "main.cf"), "a = old\n", "a = new\n")),
            Change(ChangeKind.EDIT, "e2", file=FileChange(str(etc / "table"), "k old\n", "k new\n")),
            Change(
                ChangeKind.CREATE, "c", file=FileChange(str(etc / "hook"), None, "#!/bin/sh\n", mode=0o755)
            ),
            Change(
                ChangeKind.COMMAND,
                "build",
                command=Command(("cp", str(etc / "table"), str(etc / "table.db"))),
            ),
            Change(ChangeKind.RELOAD, "r", command=Command(("sh", "-c", f"cat {etc / 'main.cf'} >>{log}"))),
        ),
        validations=(Command(("true",)),),
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "main.cf").write_text("a = old\n")
    (etc / "table").write_text("k old\n")
    (etc / "table.db").write_text("k old\n")
    (tmp_path / "reloads.log").write_text("")
    return tmp_path


def files_of(site: Path) -> list[tuple[str, int, int, int] | None]:
    return [facts(site / "etc" / name) for name in ("main.cf", "table", "table.db", "hook")]


def kill_worker_at(site: Path, phase: str, run_id: str) -> str:
    """Switch run `run_id`, hold its worker at `phase`, SIGKILL it; what the switch said."""
    state = site / "state"
    state.mkdir(mode=0o700, exist_ok=True)
    pause = state / f"pause.{phase}"
    pause.touch()
    rundir = state / "runs" / f"{run_id}@local"
    holder, _ = hold(state, run_id)
    try:
        switch = subprocess.Popen(
            apply_argv("switch", str(state), run_id, "local"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert switch.stdin is not None
        switch.stdin.write("mailcert-payload\n" + switch_payload(journal_plan(site)))
        switch.stdin.close()
        deadline = time.monotonic() + 60
        while not (rundir / "paused").exists():
            assert time.monotonic() < deadline, f"the worker never reached {phase}"
            time.sleep(0.05)
        assert (rundir / "phase").read_text() == f"{phase}\n"
        os.kill(int((rundir / "worker.pid").read_text()), signal.SIGKILL)
        assert switch.stdout is not None
        said = switch.stdout.read()
        switch.wait(timeout=60)
    finally:
        pause.unlink()
        release(holder)
    return said


@pytest.mark.parametrize(
    "phase", ["backing-up", "writing.1", "writing.2", "writing.3", "commands", "validating", "reloading"]
)
def test_a_worker_killed_at_any_step_is_restored_by_the_next_run(site: Path, phase: str) -> None:
    before = files_of(site)
    said = kill_worker_at(site, phase, "R1")
    assert said.startswith("interrupted\n")
    assert (site / "state" / "runs" / "R1@local" / "status").read_text().startswith("running\n")
    reloads = (site / "reloads.log").read_text()

    holder, _ = hold(site / "state", "R2")
    try:
        recovered = program(site / "state", "recover", "R2")
        again = program(site / "state", "recover", "R2")
    finally:
        release(holder)

    assert recovered.returncode == 0, recovered.stderr
    run, state, reason = recovered.stdout.split()
    assert (run, state) == ("R1@local", "rolled-back")
    why = base64.b64decode(reason).decode()
    assert why.startswith(f"the host-side worker died while {phase}")
    assert files_of(site) == before  # byte-identical, owner, mode; the new hook gone; the table rebuilt
    if phase == "backing-up":  # nothing written: nothing reloaded
        assert (site / "reloads.log").read_text() == reloads
    else:  # the restored main.cf is what the daemons were reloaded with
        assert (site / "reloads.log").read_text() == reloads + "a = old\n"
    assert again.stdout == ""  # handled once
    assert program(site / "state", "leftovers").stdout.split()[:2] == ["R1@local", "rolled-back"]


def test_a_worker_killed_after_every_step_was_done_is_recorded_applied(site: Path) -> None:
    said = kill_worker_at(site, "done", "R1")
    assert said.startswith("interrupted\n")
    holder, _ = hold(site / "state", "R2")
    try:
        recovered = program(site / "state", "recover", "R2")
    finally:
        release(holder)
    assert recovered.stdout.split()[:2] == ["R1@local", "applied"]
    assert (site / "etc" / "main.cf").read_text() == "a = new\n"
    assert (site / "etc" / "table.db").read_text() == "k new\n"
    assert (site / "reloads.log").read_text() == "a = new\n"


def test_a_later_rollback_of_a_killed_run_restores_it(site: Path) -> None:
    before = files_of(site)
    kill_worker_at(site, "validating", "R1")
    holder, _ = hold(site / "state", "R1")
    try:
        undone = program(site / "state", "restore", "R1", "by hand")
    finally:
        release(holder)
    assert undone.stdout.splitlines()[0] == "rolled-back", undone.stdout + undone.stderr
    assert files_of(site) == before


def test_the_rollback_of_a_reload_only_run_has_nothing_to_restore_and_says_so(site: Path) -> None:
    plan = HostPlan("local", (Change(ChangeKind.RELOAD, "r", command=Command(("true",))),))
    state = site / "state"
    holder, _ = hold(state, "R1")
    try:
        assert program(state, "switch", "R1", stdin=switch_payload(plan)).stdout.startswith("applied\n")
        undone = program(state, "restore", "R1", "bad re-probe")
    finally:
        release(holder)
    assert undone.returncode == 0, undone.stderr
    assert undone.stdout.splitlines() == [
        "rolled-back",
        "nothing to restore: run R1 wrote no file on this host (bad re-probe)",
    ]


def test_the_rollback_of_a_run_the_host_never_saw_is_the_status_word_not_found(site: Path) -> None:
    state = site / "state"
    holder, _ = hold(state, "NEVER")
    try:
        gone = program(state, "restore", "NEVER", "by hand")
    finally:
        release(holder)
    assert gone.returncode == EXIT_NO_RECORD
    assert gone.stdout.splitlines()[0] == "not-found"
    assert "no record of run NEVER on this host" in gone.stdout
