"""The switch survives the control side: SSH dropped mid-apply, SIGINT mid-apply, the control side killed
mid-apply (the next run says how it ended), and a second concurrent run refused by the host lock. On a
Debian 12 host and on a Debian 13 host, same expectations.

The plan's validation blocks (on the host) once the new main.cf is in place, until the test creates a
"go" file: the interruption then lands while the host is inside the switch, without any timing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mailcert.fix.apply.host import HostApplied, apply_host, new_run_id
from mailcert.fix.model import Change, ChangeKind, Command, FileChange, HostPlan, Outcome
from mailcert.fix.remote import HostLock
from mailcert.inventory import InventoryHost, load_inventory
from mailcert.lab.kinds.postfix import MAIN_CF
from mailcert.ssh import StrictConnection
from tests.lab.fixture import Lab
from tests.lab.test_fix_apply import (
    HOST,
    STATE_DIR,
    as_gathered,
    fix_inventory,
    inventory_host,
    recheck,
    snapshot,
)

STARTED = "/run/mailcert-test-started"
GO = "/run/mailcert-test-go"
MARK = "# mailcert interrupt test"
WAIT = 180  # seconds before a test gives up waiting for the host (a failure, never a pass)


@pytest.fixture
def lab(release_lab: Lab) -> Lab:
    """Every test here runs on a Debian 12 host and on a Debian 13 host (Postfix 3.7 and 3.10)."""
    return release_lab


def blocking_plan(text: str) -> HostPlan:
    """main.cf gets MARK; the validation then waits on the host for GO (the baseline run, before the
    write, passes at once)."""
    hold = f"grep -qx '{MARK}' {MAIN_CF} || exit 0; touch {STARTED}; while [ ! -e {GO} ]; do sleep 0.1; done"
    return HostPlan(
        HOST,
        (
            Change(
                ChangeKind.EDIT,
                "mark main.cf",
                file=FileChange(MAIN_CF, as_gathered(text), as_gathered(text) + MARK + "\n"),
            ),
            Change(ChangeKind.RELOAD, "reload postfix", service="postfix"),
        ),
        validations=(Command(("sh", "-c", hold)),),
    )


def _clear(lab: Lab) -> None:
    for path in (STARTED, GO):
        lab.host(HOST).path(path).unlink(missing_ok=True)


def _wait_for(path: Path, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not path.exists():
        assert time.monotonic() < deadline, f"{what} did not happen within {WAIT} s"
        time.sleep(0.1)


DRIVER = """
import json, sys
from mailcert.fix.apply.fleet import HostWork, apply_fleet
from mailcert.inventory import load_inventory
from mailcert.model import HostReport
from tests.lab.test_fix_apply import recheck
from tests.lab.test_fix_interrupt import blocking_plan

inventory, name, run_id, main_cf = sys.argv[1:5]
host = load_inventory(inventory).host(name)
plan = blocking_plan(open(main_cf).read())
def say(line):
    print(line, flush=True)
[result] = apply_fleet([HostWork(host, plan, recheck(host))], run_id=run_id, recheck=recheck, forks=1, say=say)
print("RESULT " + json.dumps({"outcomes": [c.outcome.value for c in result.plan.changes], "message": result.message}))
"""


def _driver(lab: Lab, inventory: Path, run_id: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(inventory), HOST, run_id, str(lab.host(HOST).path(MAIN_CF))],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_ssh_dropped_mid_switch_the_host_finishes_it_and_the_run_says_so(lab: Lab, tmp_path: Path) -> None:
    lab.changed(HOST)
    _clear(lab)
    host = inventory_host(lab, tmp_path)
    text = lab.host(HOST).path(MAIN_CF).read_text()
    before = recheck(host)
    connections: list[StrictConnection] = []

    def connect(h: InventoryHost) -> StrictConnection:
        conn = StrictConnection(h)
        connections.append(conn)
        return conn

    results: list[HostApplied] = []
    worker = threading.Thread(
        target=lambda: results.append(
            apply_host(
                host,
                blocking_plan(text),
                run_id=new_run_id(),
                before=before,
                recheck=recheck,
                connect=connect,
            )
        )
    )
    worker.start()
    _wait_for(lab.host(HOST).path(STARTED), "the switch")
    connections[0].client.get_transport().close()  # the SSH connection dies mid-switch
    lab.host(HOST).path(GO).touch()
    worker.join(WAIT)
    assert not worker.is_alive()

    [result] = results
    assert [c.outcome for c in result.plan.changes] == [Outcome.APPLIED, Outcome.APPLIED], result.message
    assert result.status is not None and "SSH session dropped" in result.status.reason
    assert lab.host(HOST).path(MAIN_CF).read_text() == text + MARK + "\n"  # fully applied, not half
    assert len(connections) >= 2  # it reconnected to learn the host's verdict
    assert not lab.host(HOST).path(f"{STATE_DIR}/lock").exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_sigint_or_sigterm_mid_switch_restores_byte_identical(lab: Lab, tmp_path: Path, signum: int) -> None:
    lab.changed(HOST)
    _clear(lab)
    inventory = fix_inventory(lab, tmp_path)
    shot = snapshot(lab, HOST, [MAIN_CF])
    run_id = new_run_id()
    driver = _driver(lab, inventory, run_id)
    try:
        _wait_for(lab.host(HOST).path(STARTED), "the switch")
        driver.send_signal(signum)
        assert driver.stdout is not None
        said = driver.stdout.readline()
        name = signal.Signals(signum).name
        assert f"{name}: letting each host finish its switch, then restoring it" in said
        lab.host(HOST).path(GO).touch()
        out, _ = driver.communicate(timeout=WAIT)
    finally:
        if driver.poll() is None:
            driver.kill()
    result = json.loads(out.split("RESULT ", 1)[1])
    assert result["outcomes"] == ["rolled-back", "rolled-back"]
    assert f"interrupted by {name}" in result["message"]
    assert snapshot(lab, HOST, [MAIN_CF]) == shot
    status = lab.host(HOST).path(f"{STATE_DIR}/runs/{run_id}@{HOST}/status").read_text()
    assert status.startswith("rolled-back\n")


def test_control_side_killed_mid_switch_the_next_run_says_how_it_ended(lab: Lab, tmp_path: Path) -> None:
    lab.changed(HOST)
    _clear(lab)
    inventory = fix_inventory(lab, tmp_path)
    text = lab.host(HOST).path(MAIN_CF).read_text()
    run_id = new_run_id()
    driver = _driver(lab, inventory, run_id)
    try:
        _wait_for(lab.host(HOST).path(STARTED), "the switch")
        os.kill(driver.pid, signal.SIGKILL)  # no chance to restore: the host must finish on its own
        driver.wait(timeout=WAIT)
    finally:
        if driver.poll() is None:
            driver.kill()
    lab.host(HOST).path(GO).touch()
    _wait_for(lab.host(HOST).path(f"{STATE_DIR}/runs/{run_id}@{HOST}/worker.done"), "the host-side switch")
    assert lab.host(HOST).path(MAIN_CF).read_text() == text + MARK + "\n"  # fully applied and valid

    host = load_inventory(str(inventory)).host(HOST)
    nothing = apply_host(host, HostPlan(HOST), run_id=new_run_id(), before=recheck(host), recheck=None)
    assert [(o.run_id, o.state) for o in nothing.leftovers] == [(run_id, "applied")]
    again = apply_host(host, HostPlan(HOST), run_id=new_run_id(), before=recheck(host), recheck=None)
    assert again.leftovers == ()  # said once


def test_a_second_concurrent_run_refuses_with_the_lock_message(lab: Lab, tmp_path: Path) -> None:
    lab.changed(HOST)
    host = inventory_host(lab, tmp_path)
    text = lab.host(HOST).path(MAIN_CF).read_text()
    shot = snapshot(lab, HOST, [MAIN_CF])
    first = HostLock(StrictConnection(host), STATE_DIR, "20261123T000000Z-firstrun")
    said = first.acquire()
    assert said == "locked" or said.startswith("taken-over")
    try:
        plan = HostPlan(
            HOST,
            (
                Change(
                    ChangeKind.EDIT,
                    "x",
                    file=FileChange(MAIN_CF, as_gathered(text), as_gathered(text) + "# second\n"),
                ),
                Change(ChangeKind.RELOAD, "reload postfix", service="postfix"),
            ),
        )
        result = apply_host(host, plan, run_id=new_run_id(), before=recheck(host), recheck=recheck)
    finally:
        first.release()
        first.conn.close()
    assert [c.outcome for c in result.plan.changes] == [Outcome.SKIPPED, Outcome.SKIPPED]
    assert result.message is not None
    assert "another mailcert run (20261123T000000Z-firstrun" in result.message
    assert snapshot(lab, HOST, [MAIN_CF]) == shot
    assert not lab.host(HOST).path(f"{STATE_DIR}/lock").exists()  # the first run's release freed it
