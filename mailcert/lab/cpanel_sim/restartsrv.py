"""SIMULATOR of cPanel's /scripts/restartsrv_exim and /scripts/restartsrv_dovecot: stop the real daemon,
start it again, say whether it came back (exit 0) or not (exit 1).

Usage on a lab `cpanel` host: /scripts/restartsrv_exim, /scripts/restartsrv_dovecot
(or: python -m mailcert.lab.cpanel_sim.restartsrv exim|dovecot).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mailcert.lab import procs

# The lab's cPanel Exim: Debian's exim4 binary, copied with its compiled-in config path set to
# /etc/exim.conf (cPanel's build reads that file); see mailcert/lab/kinds/cpanel.py.
EXIM_BIN = "/usr/local/cpanel/mailcert-sim/exim"
EXIM_PID = "/run/exim4/exim.pid"
EXIM_START = [EXIM_BIN, "-bd", "-q30m", "-oP", EXIM_PID]
DOVECOT_PID = "/run/dovecot/master.pid"


def _pid(pid_file: str) -> int | None:
    try:
        pid = int(Path(pid_file).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if procs.running(pid) else None


def _stop(pid_file: str, timeout: float = 10) -> None:
    pid = _pid(pid_file)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not procs.running(pid):
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def _start(argv: list[str], log: str) -> subprocess.CompletedProcess[str]:
    with Path(log).open("ab") as out:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=False, cwd="/")
    return subprocess.CompletedProcess(argv, done.returncode, "", "")


def _wait(pid_file: str, timeout: float = 10) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = _pid(pid_file)
        if pid is not None:
            return pid
        time.sleep(0.05)
    return None


def restart(service: str) -> tuple[bool, str]:
    """Restart the real daemon; (came back, one line for the admin)."""
    if service == "exim":
        check = subprocess.run([EXIM_BIN, "-bV"], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            last = (check.stdout + check.stderr).strip().splitlines()[-1:] or ["no output"]
            return False, f"exim configuration check failed: {last[0]}"
        _stop(EXIM_PID)
        Path(EXIM_PID).unlink(missing_ok=True)
        _start(EXIM_START, "/var/log/exim-restartsrv.log")
        pid = _wait(EXIM_PID)
    elif service == "dovecot":
        _stop(DOVECOT_PID)
        _start(["dovecot"], "/var/log/dovecot-restartsrv.log")
        pid = _wait(DOVECOT_PID)
    else:
        return False, f"SIMULATOR: restartsrv_{service} is not simulated"
    if pid is None:
        return False, f"{service} failed to start."
    return True, f"{service} restarted successfully."


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage (SIMULATOR of cPanel's restartsrv_*): restartsrv exim|dovecot", file=sys.stderr)
        return 2
    ok, line = restart(args[0])
    print(line, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
