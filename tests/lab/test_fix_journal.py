"""A host-side worker killed mid-switch on a Postfix + Dovecot lab host (issue 18, point 4), Debian 12's and
Debian 13's (Dovecot 2.4: its '<' fault is dovecot-file-lt, the mirror of 2.3's dovecot-missing-lt).

README promises "each host ends fully applied or fully restored". The worker is held at a phase (the
test-only STATE/pause.PHASE file, in the root-only state folder) and SIGKILLed through its pid file: after
the first write, during validation, before the reload, after every step. The run that started it restores
it at once (or records it applied); a run whose control side was gone too is restored by the next `fix`."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailcert.fix import remote
from mailcert.fix.apply.host import HostApplied, apply_host, new_run_id
from mailcert.fix.apply.payload import switch_payload
from mailcert.fix.model import Change, ChangeKind, FileChange, HostPlan, Outcome
from mailcert.inventory.model import InventoryHost
from mailcert.lab.kinds.dovecot import SSL_CONF, is_24
from mailcert.lab.kinds.postfix import MAIN_CF
from mailcert.ssh import StrictConnection
from tests.lab.fixture import Lab
from tests.lab.test_fix_apply import HOST, STATE_DIR, as_gathered, inventory_host, recheck, snapshot

WAIT = 180


@pytest.fixture
def lab(release_lab: Lab) -> Lab:
    """Every test here runs on a Debian 12 host and on a Debian 13 host (Postfix 3.10, Dovecot 2.4)."""
    return release_lab


@dataclass(frozen=True)
class LtFault:
    """The host's Dovecot '<' fault: 2.3's ssl_cert without it, 2.4's ssl_server_cert_file with it."""

    name: str
    planted: str
    fixed: str
    finding: str


def lt_fault(lab: Lab) -> LtFault:
    if is_24(lab.host(HOST)):
        return LtFault(
            "dovecot-file-lt", "ssl_server_cert_file = </", "ssl_server_cert_file = /", "config.syntax"
        )
    return LtFault("dovecot-missing-lt", "ssl_cert = /", "ssl_cert = </", "config.dovecot-missing-lt")


def two_service_plan(lab: Lab) -> HostPlan:
    """Fix leaf-only (main.cf) and the Dovecot '<' fault (10-ssl.conf), reload both."""
    main = lab.host(HOST).path(MAIN_CF).read_text()
    ssl = lab.host(HOST).path(SSL_CONF).read_text()
    lt = lt_fault(lab)
    fixed_main = main.replace("/cert.pem", "/fullchain.pem")
    fixed_ssl = ssl.replace(lt.planted, lt.fixed)
    assert fixed_main != main and fixed_ssl != ssl
    return HostPlan(
        HOST,
        (
            Change(
                ChangeKind.EDIT,
                "main",
                file=FileChange(MAIN_CF, as_gathered(main), as_gathered(fixed_main)),
                service="postfix",
            ),
            Change(
                ChangeKind.EDIT,
                "ssl",
                file=FileChange(SSL_CONF, as_gathered(ssl), as_gathered(fixed_ssl)),
                service="dovecot",
            ),
            Change(ChangeKind.RELOAD, "reload postfix", service="postfix"),
            Change(ChangeKind.RELOAD, "reload dovecot", service="dovecot"),
        ),
    )


def kill_at(lab: Lab, phase: str, run_id: str) -> None:
    """Wait until run `run_id`'s worker is held at `phase`, SIGKILL it (pid file), let later runs go on."""
    state = lab.host(HOST).path(STATE_DIR)
    rundir = state / "runs" / f"{run_id}@{HOST}"
    deadline = time.monotonic() + WAIT
    while not (rundir / "paused").exists():
        assert time.monotonic() < deadline, f"the worker never reached {phase}"
        time.sleep(0.05)
    os.kill(int((rundir / "worker.pid").read_text()), signal.SIGKILL)
    (state / f"pause.{phase}").unlink()


def pause_at(lab: Lab, phase: str) -> None:
    state = lab.host(HOST).path(STATE_DIR)
    state.mkdir(mode=0o700, exist_ok=True)
    (state / f"pause.{phase}").touch()


def killed_with_its_control_side(lab: Lab, host: InventoryHost, plan: HostPlan, phase: str) -> str:
    """Switch `plan`, SIGKILL the worker at `phase`, and drop the control side without recovering anything
    (as a killed `mailcert fix` would): the run's status stays "running". Returns the run id."""
    pause_at(lab, phase)
    run_id = new_run_id()
    conn = StrictConnection(host)
    lock = remote.HostLock(conn, STATE_DIR, run_id)
    lock.acquire()
    said: list[remote.SwitchStatus] = []
    switching = threading.Thread(
        target=lambda: said.append(remote.switch(conn, STATE_DIR, run_id, switch_payload(plan)))
    )
    switching.start()
    kill_at(lab, phase, run_id)
    switching.join(WAIT)
    lock.release()
    conn.close()
    assert said[0].state == "interrupted"
    return run_id


@pytest.mark.parametrize(
    ("phase", "ends"),
    [
        ("writing.2", Outcome.ROLLED_BACK),  # main.cf written, 10-ssl.conf not yet
        ("validating", Outcome.ROLLED_BACK),
        ("reloading", Outcome.ROLLED_BACK),
        ("done", Outcome.APPLIED),  # every step done: completed, not undone
    ],
)
def test_a_killed_worker_ends_fully_restored_or_fully_applied(
    lab: Lab, tmp_path: Path, phase: str, ends: Outcome
) -> None:
    lab.plant(HOST, "leaf-only")
    lab.plant(HOST, lt_fault(lab).name)
    host = inventory_host(lab, tmp_path)
    plan = two_service_plan(lab)
    shot = snapshot(lab, HOST, [MAIN_CF, SSL_CONF])
    before = recheck(host)
    pause_at(lab, phase)
    run_id = new_run_id()
    results: list[HostApplied] = []
    worker = threading.Thread(
        target=lambda: results.append(apply_host(host, plan, run_id=run_id, before=before, recheck=None))
    )
    worker.start()
    kill_at(lab, phase, run_id)
    worker.join(WAIT)
    assert not worker.is_alive()

    [result] = results
    assert {c.outcome for c in result.plan.changes} == {ends}, result.message
    status = lab.host(HOST).path(f"{STATE_DIR}/runs/{run_id}@{HOST}/status").read_text()
    if ends is Outcome.ROLLED_BACK:
        assert result.message is not None and f"the host-side worker died while {phase}" in result.message
        assert snapshot(lab, HOST, [MAIN_CF, SSL_CONF]) == shot
        assert status.startswith("rolled-back\n")
        after = recheck(host)  # the daemons run the restored files: the planted faults are back
        assert {"config.cert-not-fullchain", lt_fault(lab).finding} <= {f.check for f in after.findings}
    else:
        assert status.startswith("applied\n")
        assert lab.host(HOST).path(MAIN_CF).read_text() == plan.changes[0].file.after  # type: ignore[union-attr]
        after = recheck(host)
        assert not {"config.cert-not-fullchain", lt_fault(lab).finding} & {f.check for f in after.findings}
    assert not lab.host(HOST).path(f"{STATE_DIR}/lock").exists()


def test_a_run_killed_with_its_control_side_is_restored_by_the_next_fix(lab: Lab, tmp_path: Path) -> None:
    """The control side and the worker both die mid-validation: status stays "running". The next `fix`
    (here with nothing planned) restores it under the lock and says so."""
    lab.plant(HOST, "leaf-only")
    lab.plant(HOST, lt_fault(lab).name)
    host = inventory_host(lab, tmp_path)
    plan = two_service_plan(lab)
    shot = snapshot(lab, HOST, [MAIN_CF, SSL_CONF])
    run_id = killed_with_its_control_side(lab, host, plan, "validating")
    rundir = lab.host(HOST).path(f"{STATE_DIR}/runs/{run_id}@{HOST}")
    assert (rundir / "status").read_text().startswith("running\n")
    assert snapshot(lab, HOST, [MAIN_CF]) != {MAIN_CF: shot[MAIN_CF]}  # main.cf was left changed

    later = apply_host(host, HostPlan(HOST), run_id=new_run_id(), before=recheck(host), recheck=None)

    assert snapshot(lab, HOST, [MAIN_CF, SSL_CONF]) == shot
    assert [(o.run_id, o.state) for o in later.leftovers] == [(run_id, "rolled-back")]
    assert "the host-side worker died while validating" in later.leftovers[0].reason
    assert later.message is not None and f"restored unfinished run {run_id}" in later.message
    served = lab.exec(HOST, "postconf", "-h", "smtpd_tls_cert_file")
    assert served.stdout.strip().endswith("/cert.pem")  # the planted value, restored
