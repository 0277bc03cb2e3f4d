"""Entering a lab host and running its daemons: an anchor process holds the host's namespaces.

The anchor is `sleep infinity` started inside the host's network namespace after `unshare --mount
--uts`; it makes the bind mounts first, so every daemon started later (with nsenter into the
anchor's namespaces) sees the host's own /etc/postfix, /etc/dovecot, ... at their real paths.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mailcert.lab import LabError
from mailcert.lab.layout import LabHost
from mailcert.lab.procs import RecordedProcess, run, running

HOST_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/root",
}

# Runs inside the fresh mount namespace: bind each (source, target) pair given as arguments, set the
# host name, say "ready", then become the anchor. The script is fixed; all values are arguments. A /usr of
# its own (a Debian 13 host's, shared by every such host) is made read-only: no host writes into it.
_ANCHOR_SCRIPT = """set -e
mount --make-rprivate /
hostname "$1"; shift
while [ "$#" -gt 1 ]; do
    mount --bind "$1" "$2"
    if [ "$2" = /usr ]; then mount -o remount,bind,ro /usr; fi
    shift 2
done
echo ready
exec sleep infinity
"""


def start_anchor(host: LabHost, binds: Sequence[tuple[Path, str]]) -> RecordedProcess:
    """Start the process that owns the host's mount + UTS namespaces, with the bind mounts in place."""
    args: list[str] = [host.fqdn]
    for source, target in binds:
        args += [str(source), target]
    argv = [
        "ip", "netns", "exec", host.netns,
        "unshare", "--mount", "--uts", "--propagation", "private",
        "sh", "-c", _ANCHOR_SCRIPT, "mailcert-lab-anchor", *args,
    ]  # fmt: skip
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=HOST_ENV,
        start_new_session=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.wait(timeout=5)
        said = proc.stderr.read().strip() if proc.stderr else ""
        raise LabError(f"could not set up {host.name}'s mount namespace: {said or 'no output'}")
    proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()
    return RecordedProcess.of(proc.pid, "anchor")


@dataclass(frozen=True)
class InHost:
    """Commands run as root inside a lab host (its mount, UTS and network namespaces)."""

    host: LabHost
    anchor: RecordedProcess

    def argv(self, command: Sequence[str]) -> list[str]:
        if not self.anchor.alive():
            raise LabError(
                f"lab host {self.host.name} is not running (its anchor process {self.anchor.pid} is gone)",
                todo="run `mailcert lab down` and `mailcert lab up` again",
            )
        return ["nsenter", "-t", str(self.anchor.pid), "-m", "-u", "-n", "--", *command]

    def run(self, command: Sequence[str], *, what: str, timeout: float = 60) -> str:
        return run(self.argv(command), what=f"{self.host.name}: {what}", timeout=timeout)

    def try_run(self, command: Sequence[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(command), capture_output=True, text=True, timeout=timeout, env=HOST_ENV, check=False
        )

    def start_daemon(self, command: Sequence[str], *, what: str, log: Path, timeout: float = 60) -> None:
        """Run a command that forks a daemon: output to `log` (a host path), so no pipe is held open."""
        local_log = self.host.path(str(log))
        local_log.parent.mkdir(parents=True, exist_ok=True)
        with local_log.open("ab") as out:
            done = subprocess.run(
                self.argv(command), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                env=HOST_ENV, cwd="/", timeout=timeout, check=False, start_new_session=True,
            )  # fmt: skip
        if done.returncode != 0:
            tail = local_log.read_text(errors="replace").strip().splitlines()[-3:]
            raise LabError(
                f"{self.host.name}: {what} failed (exit {done.returncode}): {' / '.join(tail)}",
                where=str(local_log),
            )

    def spawn(self, command: Sequence[str], *, role: str, log: Path) -> RecordedProcess:
        """Start a foreground daemon; its output goes to `log` (a host path under the host's root)."""
        local_log = self.host.path(str(log))
        local_log.parent.mkdir(parents=True, exist_ok=True)
        with local_log.open("ab") as out:
            proc = subprocess.Popen(
                self.argv(command),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=HOST_ENV,
                cwd="/",
                start_new_session=True,
            )
        time.sleep(0.05)
        if proc.poll() is not None:
            raise LabError(
                f"{self.host.name}: {role} exited at start (code {proc.returncode}); see {local_log}"
            )
        return RecordedProcess.of(proc.pid, role)

    def running_pid(self, host_path: str) -> int | None:
        """The pid in a daemon's pid file if that process is alive (read through the host's root folder)."""
        try:
            pid = int(self.host.path(host_path).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if running(pid) else None

    def pid_from_file(self, host_path: str, role: str, *, timeout: float = 10) -> RecordedProcess:
        """The pid a daemon wrote to its pid file (read through the host's root folder)."""
        local = self.host.path(host_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                pid = int(local.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                time.sleep(0.05)
                continue
            recorded = RecordedProcess.of(pid, role)
            if recorded.alive():
                return recorded
            time.sleep(0.05)
        raise LabError(f"{self.host.name}: {role} wrote no pid file {host_path} within {timeout:.0f} s")


def start_sshd(shell: InHost) -> RecordedProcess:
    return shell.spawn(["/usr/sbin/sshd", "-D", "-e"], role="sshd", log=Path("/var/log/sshd.log"))
