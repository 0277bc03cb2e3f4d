"""`lab up` / `status` / `exec` / `down` as a user runs them, and that `down` leaves nothing behind:
no namespace, veth, mount or process — also after daemons were restarted by hand and after `up` was
killed half-way. These tests take the shared lab down first (one lab per machine)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcert.lab import LabError, lifecycle
from mailcert.lab import network as net
from mailcert.lab.procs import RecordedProcess
from mailcert.lab.state import POINTER, LabState
from tests.lab.fixture import LabManager, own_lab

pytestmark = pytest.mark.lab

MAILCERT = [sys.executable, "-m", "mailcert.cli"]


@pytest.fixture
def own_lab_dir(lab_manager: LabManager, tmp_path: Path) -> Iterator[Path]:
    """A folder for a lab of the test's own; the shared lab is down meanwhile (it comes back on demand)."""
    lab_dir = own_lab(lab_manager, tmp_path / "lab")
    yield lab_dir
    if LabState.load(lab_dir) is not None:  # a failed test must not leave its lab up
        lifecycle.down(lab_dir, say=lambda _: None)


def mailcert(
    *args: str, user: int | None = None, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] if user is not None else []
    code = "import sys; from mailcert.cli import main; main(['mailcert', *sys.argv[1:]])"
    env = dict(os.environ)
    if user is not None:
        env["HOME"] = "/tmp"  # (the caller's HOME may be root's, unreadable for this user)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [*prefix, sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, check=False,
        cwd=Path(__file__).resolve().parents[2], env=env,
    )  # fmt: skip


def recorded_processes(lab_dir: Path) -> list[RecordedProcess]:
    state = LabState.load(lab_dir)
    assert state is not None
    procs = list(state.acme)
    for host in state.hosts.values():
        procs += host.processes + ([host.anchor] if host.anchor else [])
    return procs


def assert_no_trace(lab_dir: Path, processes: list[RecordedProcess], netns_inodes: set[int]) -> None:
    assert not [n for n in net.existing_netns() if n.startswith(net.NETNS_PREFIX)]
    assert not [link for link in net.existing_links() if link.startswith(net.VETH_PREFIX)]
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(lab_dir) not in mounts and "/run/netns/mailcert-" not in mounts
    assert not [p for p in processes if p.alive()]
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            inode = os.stat(pid_dir / "ns" / "net").st_ino
            cmdline = (pid_dir / "cmdline").read_bytes()
        except OSError:
            continue
        assert inode not in netns_inodes, f"process {pid_dir.name} still in a lab namespace"
        assert str(lab_dir).encode() not in cmdline, f"process {pid_dir.name} still uses the lab: {cmdline!r}"
    assert not lab_dir.exists() or not any(lab_dir.iterdir())
    assert not POINTER.exists()


def netns_inodes(lab_dir: Path) -> set[int]:
    state = LabState.load(lab_dir)
    assert state is not None
    return {os.stat(f"/run/netns/{h.netns}").st_ino for h in state.hosts.values()}


def test_up_status_exec_down_as_a_user_runs_them(own_lab_dir: Path) -> None:
    lab_dir = own_lab_dir
    started = mailcert("lab", "up", "--dir", str(lab_dir), "--hosts", "2", "--faults", "demo")
    assert started.returncode == 0, started.stderr
    assert "mx1" in started.stdout and "mx2" in started.stdout
    for name in ("inventory.yml", "known_hosts", "ca-bundle.pem", "id_ed25519", "host_vars/mx1.yml"):
        assert (lab_dir / name).exists(), name
    assert (lab_dir / "hosts/mx1/root/etc/postfix/main.cf").exists()
    assert (lab_dir / "ca-bundle.pem").read_text().count("BEGIN CERTIFICATE") == 2
    assert (
        "mailcert lab Root CA"
        in subprocess.run(
            ["openssl", "x509", "-noout", "-subject", "-in", str(lab_dir / "ca-bundle.pem")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )

    again = mailcert("lab", "up", "--dir", str(lab_dir), "--hosts", "2")
    assert again.returncode == 0 and "already up" in again.stdout

    status = mailcert("lab", "status", "--dir", str(lab_dir), "--format", "json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["state"] == "up"
    assert [(h["name"], h["address"], h["state"]) for h in report["hosts"]] == [
        ("mx1", "10.213.0.11", "running"),
        ("mx2", "10.213.0.12", "running"),
    ]
    assert report["hosts"][1]["faults"] == ["leaf-only", "wrong-mode-587", "dovecot-missing-lt"]

    inside = mailcert("lab", "exec", "mx2", "--dir", str(lab_dir), "--", "postconf", "-h", "myhostname")
    assert inside.returncode == 0 and inside.stdout.strip() == "mail.mx2.mailcert.test"
    assert mailcert("lab", "exec", "mx2", "--dir", str(lab_dir), "--", "sh", "-c", "exit 7").returncode == 7
    # Inside, a host reaches only the lab range: no default route.
    routes = mailcert("lab", "exec", "mx2", "--dir", str(lab_dir), "--", "ip", "-4", "route", "show")
    assert routes.stdout.split() == [
        "10.213.0.0/24",
        "dev",
        "eth0",
        "proto",
        "kernel",
        "scope",
        "link",
        "src",
        "10.213.0.12",
    ]
    # As root, with its own files at the real paths.
    who = mailcert("lab", "exec", "mx2", "--dir", str(lab_dir), "--", "sh", "-c", "id -u; cat /etc/hostname")
    assert who.stdout.split() == ["0", "mail.mx2.mailcert.test"]

    # An admin restarts Postfix by hand and leaves a stray process: pids nobody recorded.
    state = lifecycle.require_state(lab_dir)
    shell = lifecycle.shell_for(state, "mx1")
    shell.run(["postfix", "stop"], what="stopping postfix")
    shell.start_daemon(["postfix", "start"], what="starting postfix", log=Path("/var/log/postfix-start.log"))
    shell.start_daemon(
        ["sh", "-c", "setsid sleep 600 &"], what="leaving a stray process", log=Path("/var/log/stray.log")
    )

    processes, inodes = recorded_processes(lab_dir), netns_inodes(lab_dir)
    stopped = mailcert("lab", "down", "--dir", str(lab_dir))
    assert stopped.returncode == 0, stopped.stderr
    assert_no_trace(lab_dir, processes, inodes)
    assert mailcert("lab", "status", "--dir", str(lab_dir)).returncode == 3


def test_down_cleans_up_after_up_was_killed_half_way(own_lab_dir: Path) -> None:
    lab_dir = own_lab_dir
    code = f"from pathlib import Path; from mailcert.lab import lifecycle; lifecycle.up(Path({str(lab_dir)!r}), 3, 'none')"
    up = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2])
    # Kill `up` as soon as a host's daemons are recorded: the rest is half-built.
    state_file = lab_dir / "state.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and up.poll() is None:
        state = LabState.load(lab_dir) if state_file.exists() else None
        if state and any(h.processes for h in state.hosts.values()):
            break
        time.sleep(0.02)
    up.send_signal(signal.SIGKILL)
    up.wait()
    state = LabState.load(lab_dir)
    assert state is not None and state.phase != "up"
    processes, inodes = recorded_processes(lab_dir), netns_inodes(lab_dir)
    assert lifecycle.down(lab_dir, say=lambda _: None)
    assert_no_trace(lab_dir, processes, inodes)


def test_up_refuses_when_the_lab_range_is_in_use(own_lab_dir: Path) -> None:
    subprocess.run(
        ["ip", "link", "add", "mcl-probe0", "type", "veth", "peer", "name", "mcl-probe1"], check=True
    )
    try:
        subprocess.run(["ip", "addr", "add", "10.213.0.250/32", "dev", "mcl-probe0"], check=True)
        with pytest.raises(LabError, match=r"10\.213\.0\.0/24 is already in use on this machine: mcl-probe0"):
            lifecycle.up(own_lab_dir, 1, "none", say=lambda _: None)
    finally:
        subprocess.run(["ip", "link", "del", "mcl-probe0"], check=True)
    assert not (own_lab_dir / "state.json").exists()


def test_up_refuses_without_root_in_one_line(own_lab_dir: Path) -> None:
    done = mailcert("lab", "up", "--dir", str(own_lab_dir), user=65534)
    assert done.returncode == 3
    assert (
        done.stderr.strip()
        == "mailcert: the lab needs root (network namespaces, bind mounts) — run it with sudo"
    )


def test_up_refuses_when_programs_are_missing_in_one_line(own_lab_dir: Path) -> None:
    done = mailcert("lab", "up", "--dir", str(own_lab_dir), path="/nonexistent")
    assert done.returncode == 3
    line = done.stderr.strip()
    assert line.startswith("mailcert: the lab needs programs that are not installed: ")
    assert "pebble" in line and "postfix" in line
    assert line.endswith("run `sudo sh scripts/install-system-deps` (or `make deps`) and try again")
    assert not own_lab_dir.exists()
