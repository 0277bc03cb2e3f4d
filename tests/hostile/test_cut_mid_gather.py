"""The SSH connection of one host is cut while its gather program runs (its sshd session process killed,
on a REAL sshd): that host is `unknown` with a one-line reason, the other host of the same run finishes,
and no temporary folder is left behind by the killed program's host side."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from mailcert.audit.host import AuditSettings
from mailcert.model import Status
from mailcert.pki.trust import TrustStore
from mailcert.tasks.audit import run_audit
from tests.integration import sshd_fixture
from tests.integration.sshd_fixture import Sshd
from tests.integration.test_ssh_gather import plant
from tests.pki import NOW, key_pem, new_key

pytestmark = sshd_fixture.NEEDS_ROOT
sshd = sshd_fixture.sshd

KEYS = 150  # each one an `openssl pkey` on the host: the gather runs long enough to be caught


class Cutter:
    """Watches `ps` for the first gather program reading ROOT and kills its sshd session process."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.killed: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set() and self.killed is None:
            out = subprocess.run(
                ["ps", "-ww", "-eo", "pid=,ppid=,args="], capture_output=True, text=True, check=False
            )
            for line in out.stdout.splitlines():
                _pid, ppid, args = line.split(None, 2) if len(line.split(None, 2)) == 3 else (0, 0, "")
                if "mailcert-gather" in args and self.root in args and not args.startswith(("sudo", "ps")):
                    parent = subprocess.run(
                        ["ps", "-o", "args=", "-p", str(ppid)], capture_output=True, text=True, check=False
                    )
                    if "sshd" in parent.stdout:
                        os.kill(int(ppid), signal.SIGKILL)
                        self.killed = int(ppid)
                        return

    def __enter__(self) -> Cutter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_connection_cut_mid_gather_fails_that_host_only(sshd: Sshd, tmp_path: Path) -> None:
    planted = plant(tmp_path / "host")
    bulk = planted.root / "etc/letsencrypt/archive/bulk"
    bulk.mkdir(parents=True)
    key = key_pem(new_key("ec"))
    for index in range(KEYS):
        (bulk / f"privkey{index}.pem").write_bytes(key)
    settings = AuditSettings(
        now=NOW, probe=False, gather_root=str(planted.root), trust_loader=lambda _b: TrustStore.of([])
    )
    hosts = [sshd.host(name="mx-a"), sshd.host(name="mx-b")]
    for _attempt in range(3):  # until the cutter caught a gather at work
        with Cutter(planted.root) as cutter:
            results = run_audit(hosts, settings, forks=2)
        if cutter.killed is not None:
            break
    else:
        pytest.fail("no gather program was seen running: nothing was cut, the test proved nothing")
    statuses = sorted(r.report.status is Status.UNKNOWN for r in results)
    assert statuses == [False, True]  # exactly one host lost, the other finished
    cut = next(r.report for r in results if r.report.status is Status.UNKNOWN)
    assert cut.error and "\n" not in cut.error, cut.error
    assert [f.check for f in cut.findings] == ["host.unreachable"]
    finished = next(r for r in results if r.report.status is not Status.UNKNOWN)
    assert finished.gathered is not None and finished.report.error is None
