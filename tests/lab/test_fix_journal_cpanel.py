"""A host-side worker killed mid-switch on a lab cPanel host (issue 18, point 4), after cPanel's API calls
(the service certificates installed through whmapi1) and during validation: `mailcert fix -y` restores the
run itself — the API calls undone, the service certificates and keys byte-identical, the status rolled
back. The worker is held by the test-only STATE/pause.validating (the state folder is root's alone)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mailcert.lab import lifecycle
from tests.lab.fixture import LabManager, one_host_lab
from tests.lab.test_cpanel_audit import REPO, cpanel_inventory, last_json

pytestmark = pytest.mark.lab
HOST = "mx1"
STATE_DIR = "/etc/mailcert-state"  # the host's own /etc (the lab's /var/lib is the machine's)
KEPT = [
    "var/cpanel/ssl/exim/myexim.crt", "var/cpanel/ssl/exim/myexim.key",
    "var/cpanel/ssl/dovecot/mydovecot.crt", "var/cpanel/ssl/dovecot/mydovecot.key",
]  # fmt: skip
WAIT = 300


@pytest.fixture(scope="module")
def cpanel_lab(lab_manager: LabManager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from one_host_lab(lab_manager, tmp_path_factory, "cpanel")


def inventory_with_state_dir(lab_dir: Path) -> Path:
    folder = cpanel_inventory(lab_dir)
    host_vars = folder / "host_vars" / f"{HOST}.yml"
    data = yaml.safe_load(host_vars.read_text())
    data["mailcert_state_dir"] = STATE_DIR
    host_vars.write_text(yaml.safe_dump(data))
    return folder


def test_a_worker_killed_after_the_api_calls_is_restored_through_the_api(cpanel_lab: Path) -> None:
    root = cpanel_lab / "hosts" / HOST / "root"
    try:
        lifecycle.plant_fault(cpanel_lab, HOST, "cpanel-hostname-only")
        lifecycle.plant_fault(cpanel_lab, HOST, "cpanel-expired-domain")
        before = {path: (root / path).read_bytes() for path in KEPT}
        state = root / STATE_DIR.lstrip("/")
        state.mkdir(mode=0o700, exist_ok=True)
        (state / "pause.validating").touch()
        inventory = inventory_with_state_dir(cpanel_lab)
        fix = subprocess.Popen(
            [sys.executable, "-m", "mailcert", "-I", str(inventory), "fix", "-y", "--format", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        deadline = time.monotonic() + WAIT
        paused: list[Path] = []
        while not paused:
            assert fix.poll() is None, "fix ended before the worker reached validation"
            assert time.monotonic() < deadline, "the worker never reached validation"
            paused = list((state / "runs").glob(f"*@{HOST}/paused")) if (state / "runs").exists() else []
            time.sleep(0.1)
        rundir = paused[0].parent
        assert (rundir / "api.done").read_text().strip()  # the API calls had been made
        os.kill(int((rundir / "worker.pid").read_text()), signal.SIGKILL)
        (state / "pause.validating").unlink()
        out, err = fix.communicate(timeout=WAIT)

        assert "Traceback" not in err, err
        plan = last_json(out)["plan"]
        assert isinstance(plan, list)
        steps = [e for e in plan if e["kind"] not in ("unfixable", "error", "issue", "install")]
        assert steps and {e["outcome"] for e in steps} == {"rolled-back"}, plan
        assert any("the host-side worker died while validating" in str(e.get("error")) for e in steps), plan
        assert {path: (root / path).read_bytes() for path in KEPT} == before
        assert (rundir / "status").read_text().startswith("rolled-back\n")
    finally:
        (root / STATE_DIR.lstrip("/") / "pause.validating").unlink(missing_ok=True)
        lifecycle.reset_host(cpanel_lab, HOST)
