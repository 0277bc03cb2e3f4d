"""Load (issue 11): a fleet audit where every host sits behind a slow WAN link (the lab's latency proxy,
`lab up --delay`) and some hosts tarpit (`--tarpit`: one never answers, one trickles a byte a second).
The run completes, the connect timeout holds for the tarpits (each is `unknown` with a timeout reason),
every other host is audited exactly as planted, and the control side's memory stays bounded.

No timing is asserted: the audit runs as a child process with a generous kill-timeout, and its peak
RSS is read from the kernel (wait4) and compared with a bound.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mailcert.lab import lifecycle
from mailcert.lab.peak import run_measured
from mailcert.lab.state import LabState
from tests.lab.fixture import LabManager, own_lab

pytestmark = pytest.mark.lab

HOSTS = 6
DELAY_MS = 100
MEMORY_BOUND_MB = 250  # measured about 110 MB for this run; issue 10's control-side target is 300 MB


@pytest.fixture
def slow_lab(lab_manager: LabManager, tmp_path: Path) -> Iterator[Path]:
    """A lab of its own: 6 hosts behind a 100 ms one-way delay, mx2 expired, mx5 stalls, mx6 trickles."""
    lab_dir = own_lab(lab_manager, tmp_path / "lab")
    done = subprocess.run(
        [
            sys.executable, "-m", "mailcert", "lab", "up", "--dir", str(lab_dir), "--hosts", str(HOSTS),
            "--faults", "mx2:expired", "--delay", str(DELAY_MS), "--tarpit", "mx5,mx6:trickle",
        ],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        assert "latency proxy" in done.stdout
        yield lab_dir
    finally:
        if LabState.load(lab_dir) is not None:
            lifecycle.down(lab_dir, say=lambda _: None)


def _audit_child(inventory: Path, output: Path) -> tuple[int, float, str]:
    """`mailcert audit --timeout 2` as a child: (exit code, its own peak RSS in MB, stderr)."""
    argv = [
        sys.executable, "-m", "mailcert", "-I", str(inventory), "audit", "--timeout", "2", "--forks", "3",
        "--format", "json", "--output", str(output),
    ]  # fmt: skip
    with open(output.with_suffix(".err"), "w+") as err:
        measured = run_measured(argv, stderr=err)  # a hang ends as a kill (exit -9): the run must complete
        err.seek(0)
        return measured.returncode, measured.peak_rss_mb, err.read()


def test_audit_with_slow_and_tarpitting_hosts_completes_with_bounded_memory(slow_lab: Path) -> None:
    inventory = slow_lab / "inventory.yml"
    data = yaml.safe_load(inventory.read_text())
    hosts = data["all"]["hosts"]
    # Every host's SSH goes through the proxy on the control side; probes still go to the host itself.
    assert {h["ansible_host"] for h in hosts.values()} == {"10.213.0.1"}
    assert hosts["mx1"]["ansible_port"] == 22011 and hosts["mx1"]["mailcert_probe_address"] == "10.213.0.11"
    known = (slow_lab / "known_hosts").read_text()
    assert "[10.213.0.1]:22011 ssh-ed25519 " in known  # strict host-key checking, under the proxy's address

    output = slow_lab / "audit.json"
    code, peak_mb, stderr = _audit_child(inventory, output)
    assert "Traceback" not in stderr
    report = json.loads(output.read_text())
    by_name = {h["name"]: h for h in report["hosts"]}
    assert sorted(by_name) == [f"mx{i}" for i in range(1, HOSTS + 1)]
    assert code == 2  # SPEC: a critical host (mx2) beats the hosts that could not be checked

    for tarpit in ("mx5", "mx6"):
        host = by_name[tarpit]
        assert host["status"] == "unknown"
        assert [f["check"] for f in host["findings"]] == ["host.unreachable"]
        assert "within 2 s" in host["error"], host["error"]  # the connect/banner timeout held

    for healthy in ("mx1", "mx3", "mx4"):
        host = by_name[healthy]
        assert host["status"] == "ok", host
        assert host["endpoints"], host  # gathered over the slow link and probed
    expired = by_name["mx2"]
    assert expired["status"] == "critical"
    assert "cert.expired" in {f["check"] for f in expired["findings"]}

    assert peak_mb < MEMORY_BOUND_MB, f"control-side peak RSS {peak_mb:.0f} MB"


def test_lab_down_stops_the_latency_proxy(slow_lab: Path) -> None:
    state = LabState.load(slow_lab)
    assert state is not None
    proxies = [p for p in state.acme if p.role == "latency proxy"]
    assert len(proxies) == 1 and proxies[0].alive()
    lifecycle.down(slow_lab, say=lambda _: None)
    assert not proxies[0].alive()
    assert not os.path.exists(slow_lab / "inventory.yml")
