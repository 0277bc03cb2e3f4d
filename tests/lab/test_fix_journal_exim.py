"""A host-side worker killed mid-switch on an Exim + Dovecot lab host (issue 18, point 4): held at a phase
(STATE/pause.PHASE in the root-only state folder) and SIGKILLed through its pid file, the run that started it
restores exim4.conf byte-identical and reloads Exim, or records the run applied when every step was done."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailcert.audit.host import AuditSettings, audit_host
from mailcert.fix.apply.host import HostApplied, apply_host, new_run_id
from mailcert.fix.model import Change, ChangeKind, FileChange, HostPlan, Outcome
from mailcert.inventory import InventoryHost, load_inventory
from mailcert.lab import lifecycle
from mailcert.lab.kinds.exim import EXIM_CONF
from mailcert.model import HostReport
from tests.lab.fixture import LabManager, one_host_lab
from tests.lab.test_fix_apply import as_gathered

pytestmark = pytest.mark.lab
HOST = "mx1"
STATE_DIR = "/etc/mailcert-state"  # each host's own /etc (the lab's /var/lib is the machine's)
WAIT = 180


@pytest.fixture(scope="module")
def exim_lab(lab_manager: LabManager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from one_host_lab(lab_manager, tmp_path_factory, "exim-dovecot")


def host_path(lab_dir: Path, path: str) -> Path:
    return lab_dir / "hosts" / HOST / "root" / path.lstrip("/")


def inventory_host(lab_dir: Path, folder: Path) -> InventoryHost:
    shutil.copy(lab_dir / "inventory.yml", folder / "inventory.yml")
    shutil.copytree(lab_dir / "host_vars", folder / "host_vars", dirs_exist_ok=True)
    (folder / "group_vars").mkdir(exist_ok=True)
    (folder / "group_vars" / "all.yml").write_text(f"mailcert_state_dir: {STATE_DIR}\n")
    return load_inventory(str(folder / "inventory.yml")).host(HOST)


def recheck(host: InventoryHost) -> HostReport:
    return audit_host(host, AuditSettings(now=datetime.now(UTC))).report


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(("phase", "ends"), [("validating", Outcome.ROLLED_BACK), ("done", Outcome.APPLIED)])
def test_a_killed_exim_worker_ends_fully_restored_or_fully_applied(
    exim_lab: Path, tmp_path: Path, phase: str, ends: Outcome
) -> None:
    try:
        lifecycle.plant_fault(exim_lab, HOST, "leaf-only")
        conf = host_path(exim_lab, EXIM_CONF)
        text = conf.read_text()
        fixed = text.replace("/cert.pem", "/fullchain.pem")
        assert fixed != text
        host = inventory_host(exim_lab, tmp_path)
        before = recheck(host)
        assert "config.cert-not-fullchain" in {f.check for f in before.findings}
        shot = (sha(conf), conf.stat().st_mode, conf.stat().st_uid, conf.stat().st_gid)
        state = host_path(exim_lab, STATE_DIR)
        state.mkdir(mode=0o700, exist_ok=True)
        (state / f"pause.{phase}").touch()
        plan = HostPlan(
            HOST,
            (
                Change(
                    ChangeKind.EDIT,
                    "exim",
                    file=FileChange(EXIM_CONF, as_gathered(text), as_gathered(fixed)),
                    service="exim",
                ),
                Change(ChangeKind.RELOAD, "reload exim", service="exim"),
            ),
        )
        run_id = new_run_id()
        results: list[HostApplied] = []
        worker = threading.Thread(
            target=lambda: results.append(apply_host(host, plan, run_id=run_id, before=before, recheck=None))
        )
        worker.start()
        rundir = state / "runs" / f"{run_id}@{HOST}"
        deadline = time.monotonic() + WAIT
        while not (rundir / "paused").exists():
            assert time.monotonic() < deadline, f"the worker never reached {phase}"
            time.sleep(0.05)
        os.kill(int((rundir / "worker.pid").read_text()), signal.SIGKILL)
        (state / f"pause.{phase}").unlink()
        worker.join(WAIT)
        assert not worker.is_alive()

        [result] = results
        assert {c.outcome for c in result.plan.changes} == {ends}, result.message
        after = recheck(host)
        if ends is Outcome.ROLLED_BACK:
            assert (sha(conf), conf.stat().st_mode, conf.stat().st_uid, conf.stat().st_gid) == shot
            assert "config.cert-not-fullchain" in {f.check for f in after.findings}
        else:
            assert conf.read_text() == fixed
            assert "config.cert-not-fullchain" not in {f.check for f in after.findings}
        assert not host_path(exim_lab, f"{STATE_DIR}/lock").exists()
    finally:
        lifecycle.reset_host(exim_lab, HOST)
