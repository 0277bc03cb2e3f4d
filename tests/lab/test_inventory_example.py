"""The README's first example against real hosts: the committed `inventory/` (three hosts, group_vars,
host_vars), unchanged, in a checkout where `mailcert lab up --hosts 3` has put its files in ./lab. `fab audit`
there (no -I: ./inventory is the default) audits all three hosts, and the exit code is SPEC's for what the
hosts have: 0 when healthy, 1 when only warnings (expiry inside mailcert_warn_days), 2 with a critical fault."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab.fixture import Lab

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
HOSTS = ("mx1", "mx2", "mx3")


def checkout_with_lab(lab: Lab, tmp_path: Path) -> Path:
    """A checkout's fabfile.py and inventory/ (copied byte for byte), with ./lab being this test run's lab
    (the example's paths are ../lab/... from inventory/)."""
    root = tmp_path / "checkout"
    shutil.copytree(REPO / "inventory", root / "inventory")
    shutil.copy(REPO / "fabfile.py", root / "fabfile.py")
    (root / "lab").symlink_to(lab.dir, target_is_directory=True)
    return root


def run_json(argv: list[str], cwd: Path) -> tuple[int, dict[str, dict[str, object]]]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600, cwd=cwd)
    assert "Traceback" not in done.stderr, done.stderr
    report = json.loads(done.stdout)
    return done.returncode, {h["name"]: h for h in report["hosts"]}


def problems(host: dict[str, object]) -> set[str]:
    findings = host["findings"]
    assert isinstance(findings, list)
    return {f["check"] for f in findings if f["severity"] in ("critical", "warning")}


def endpoints(host: dict[str, object]) -> list[dict[str, object]]:
    found = host["endpoints"]
    assert isinstance(found, list)
    return found


def test_fab_audit_in_a_checkout_audits_the_example_fleet_and_exits_by_spec(lab: Lab, tmp_path: Path) -> None:
    root = checkout_with_lab(lab, tmp_path)
    fab = str(Path(sys.executable).with_name("fab"))
    mailcert = str(Path(sys.executable).with_name("mailcert"))

    # Healthy lab: every host audited over SSH and probed on its ports, nothing to report.
    code, hosts = run_json([fab, "audit", "--format", "json"], root)
    assert sorted(hosts) == list(HOSTS)
    for name, host in hosts.items():
        assert host["status"] == "ok", (name, host["error"], problems(host))
        assert host["error"] is None
        served = [e for e in endpoints(host) if e["served"] is not None]
        assert {e["port"] for e in served} == {25, 587, 465, 143, 993, 110, 995}, name
    # mx3 gives its names per service: each port is checked for its own service's names only.
    assert {tuple(e["hostnames"]) for e in endpoints(hosts["mx3"]) if e["port"] == 993} == {
        ("imap.mx3.mailcert.test",)
    }
    assert code == 0

    # Warnings only: as of 10 days before the certificates expire (inside mailcert_warn_days: 21,
    # outside mailcert_crit_days: 7), every host warns and none is critical.
    not_after = min(
        dt.datetime.fromisoformat(str(e["configured"]["not_after"]))  # type: ignore[index]
        for host in hosts.values()
        for e in endpoints(host)
    )
    at = (not_after - dt.timedelta(days=10)).isoformat()
    code, hosts = run_json([fab, "audit", "--format", "json", "--at", at], root)
    assert sorted(hosts) == list(HOSTS)
    for name, host in hosts.items():
        assert host["status"] == "warning", (name, problems(host))
        assert "cert.expiring" in problems(host), name
    assert code == 1

    # A critical fault on one host: the README's `mailcert -I inventory audit`; the other hosts stay ok.
    lab.plant("mx2", "expired")
    code, hosts = run_json([mailcert, "-I", "inventory", "audit", "--format", "json"], root)
    assert sorted(hosts) == list(HOSTS)
    assert hosts["mx2"]["status"] == "critical"
    assert "cert.expired" in problems(hosts["mx2"])
    assert hosts["mx1"]["status"] == hosts["mx3"]["status"] == "ok"
    assert code == 2
