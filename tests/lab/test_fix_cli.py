"""`mailcert audit fix` end to end on the lab with Pebble: every fault the lab can plant is planned, applied,
reloaded and probed clean, a second run plans nothing; `--dry-run` changes no byte; no terminal and no -y
refuses (exit 3); a host locked by another run is refused with the lock message."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mailcert.fix.remote import HostLock
from mailcert.inventory import load_inventory
from mailcert.ssh import StrictConnection
from tests.lab.fixture import Lab
from tests.lab.test_fix_apply import STATE_DIR, fix_inventory

MAILCERT = str(Path(sys.executable).parent / "mailcert")
# Two rounds cover every fault the lab plants (at most one certificate-replacing fault per host a round).
ROUNDS: dict[str, dict[str, tuple[str, ...]]] = {
    "first": {
        "mx1": ("leaf-only", "wrong-mode-587", "dovecot-missing-lt", "expired"),
        "mx2": ("wrong-mode-465", "no-deploy-hook", "name-mismatch"),
        "mx3": ("stale", "self-signed"),
    },
    "second": {"mx1": ("key-mismatch",)},
}


def mailcert(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MAILCERT, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600, check=False
    )


def tree_sums(lab: Lab) -> dict[str, str]:
    """sha256 + mode of every file under each lab host's /etc (configs, certificates, keys, hooks), but
    mailcert's own lock and run records."""
    sums = {}
    for host in lab.hosts:
        root = host.path("/etc")
        for path in sorted(root.rglob("*")):
            if (
                path.is_file()
                and not path.is_symlink()
                and not str(path).startswith(str(root / "mailcert-state"))
            ):
                sums[f"{host.name}:{path.relative_to(root)}"] = (
                    f"{hashlib.sha256(path.read_bytes()).hexdigest()} {path.stat().st_mode:o}"
                )
    return sums


def last_json(stdout: str) -> Any:
    start = 0 if stdout.startswith("{") else stdout.rindex("\n{") + 1
    return json.loads(stdout[start:])


def report_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """A run's JSON report; one with no hosts and no plan (and what it said) when it printed none."""
    try:
        found: dict[str, Any] = last_json(done.stdout)
    except (ValueError, json.JSONDecodeError):
        return {"hosts": [], "plan": [], "unreadable": done.stdout[-2000:] + done.stderr[-2000:]}
    return found


def plant(lab: Lab, faults: dict[str, tuple[str, ...]]) -> None:
    for name, names in faults.items():
        for fault in names:
            lab.plant(name, fault)


def test_dry_run_leaves_every_file_byte_identical(lab: Lab, tmp_path: Path) -> None:
    plant(lab, ROUNDS["first"])
    inventory = str(fix_inventory(lab, tmp_path))
    before = tree_sums(lab)

    done = mailcert("-I", inventory, "fix", "--dry-run", "--format", "json")

    assert done.returncode == 2, done.stderr
    report = json.loads(done.stdout)
    planned = {(e["host"], e["kind"]) for e in report["plan"]}
    assert {"mx1", "mx2", "mx3"} <= {host for host, _ in planned}
    assert all(e["outcome"] == "planned" for e in report["plan"] if e["kind"] not in ("unfixable", "error"))
    assert any(e.get("diff") for e in report["plan"])  # unified diffs are shown
    assert tree_sums(lab) == before


@pytest.mark.parametrize("round_name", list(ROUNDS))
def test_every_lab_fault_is_fixed_end_to_end_and_a_second_run_plans_nothing(
    lab: Lab, tmp_path: Path, round_name: str
) -> None:
    faults = ROUNDS[round_name]
    plant(lab, faults)
    inventory = str(fix_inventory(lab, tmp_path))
    limit = ",".join(faults)

    done = mailcert("-I", inventory, "audit", "--limit", limit, "fix", "-y", "--format", "json")

    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    report = last_json(done.stdout)  # after the audit's own text report
    for host in report["hosts"]:
        critical = [f["check"] for f in host["findings"] if f["severity"] == "critical"]
        assert critical == [], f"{host['name']} after fix: {critical}"
    outcomes = {e["outcome"] for e in report["plan"] if e["kind"] not in ("unfixable", "error")}
    assert outcomes == {"applied"}, report["plan"]

    again = mailcert("-I", inventory, "fix", "--limit", limit, "-y", "--format", "json")

    assert again.returncode in (0, 1), again.stderr
    assert [e for e in last_json(again.stdout)["plan"] if e["kind"] not in ("unfixable",)] == []
    assert "nothing to do" in again.stderr


def test_without_a_terminal_and_without_yes_fix_refuses_and_changes_nothing(lab: Lab, tmp_path: Path) -> None:
    lab.plant("mx1", "leaf-only")
    inventory = str(fix_inventory(lab, tmp_path))
    before = tree_sums(lab)

    done = mailcert("-I", inventory, "fix", "--limit", "mx1")

    assert done.returncode == 3
    assert "no terminal to ask on" in done.stderr and "-y/--yes" in done.stderr
    assert tree_sums(lab) == before


def test_a_host_locked_by_another_run_is_refused_with_the_lock_message(lab: Lab, tmp_path: Path) -> None:
    lab.plant("mx1", "leaf-only")
    inventory = fix_inventory(lab, tmp_path)
    before = tree_sums(lab)
    other = HostLock(
        StrictConnection(load_inventory(str(inventory)).host("mx1")), STATE_DIR, "20261123T000000Z-other1"
    )
    other.acquire()
    try:
        done = mailcert("-I", str(inventory), "fix", "--limit", "mx1", "-y")
    finally:
        other.release()
        other.conn.close()

    assert done.returncode == 2, done.stdout + done.stderr  # still critical: nothing was changed
    assert "another mailcert run (20261123T000000Z-other1" in done.stdout + done.stderr, (
        done.stdout + done.stderr
    )
    assert tree_sums(lab) == before


def test_on_a_terminal_fix_asks_once_and_no_changes_nothing(lab: Lab, tmp_path: Path) -> None:
    lab.plant("mx1", "leaf-only")
    inventory = str(fix_inventory(lab, tmp_path))
    before = tree_sums(lab)
    main, side = pty.openpty()
    os.write(main, b"n\n")  # the answer waits in the terminal until fix asks
    try:
        done = subprocess.run(
            [MAILCERT, "-I", inventory, "fix", "--limit", "mx1"],
            stdin=side,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        os.close(main)
        os.close(side)
    assert done.returncode == 3
    assert "Apply " in done.stdout and "[y/N]" in done.stdout  # one question, after the plan
    assert "smtpd_tls_cert_file" in done.stdout  # the diff was shown before asking
    assert "fix cancelled: nothing was changed" in done.stderr
    assert tree_sums(lab) == before
