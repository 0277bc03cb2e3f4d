"""Running system tools with argument lists, and telling a recorded process from a recycled pid."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mailcert.lab import LabError


def run(argv: Sequence[str], *, what: str, input_text: str | None = None, timeout: float = 60) -> str:
    """Run a tool; its stdout, or a LabError saying what failed and what the tool said."""
    try:
        done = subprocess.run(
            list(argv), input=input_text, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise LabError(
            f"{what}: {argv[0]} is not installed", todo="run `sudo sh scripts/install-system-deps`"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{what}: `{' '.join(argv)}` did not finish within {timeout:.0f} s") from exc
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise LabError(f"{what}: `{' '.join(argv)}` exited {done.returncode}: {' / '.join(said[-3:])}")
    return done.stdout


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, bind mounts)", todo="run it with sudo")


def start_time(pid: int) -> int | None:
    """The kernel's start time of a process (clock ticks since boot), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[19])


@dataclass(frozen=True)
class RecordedProcess:
    """A pid plus its start time: a later process that reuses the pid is not mistaken for it."""

    pid: int
    started: int
    role: str

    @classmethod
    def of(cls, pid: int, role: str) -> RecordedProcess:
        started = start_time(pid)
        if started is None:
            raise LabError(f"{role} (pid {pid}) exited right after it started")
        return cls(pid, started, role)

    def alive(self) -> bool:
        return start_time(self.pid) == self.started and running(self.pid)

    def to_json(self) -> dict[str, object]:
        return {"pid": self.pid, "started": self.started, "role": self.role}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> RecordedProcess:
        return cls(int(str(data["pid"])), int(str(data["started"])), str(data["role"]))


def running(pid: int) -> bool:
    """Whether process `pid` exists and has not exited. A daemon that exited stays a zombie until init reaps
    it (the lab has no PID namespace: that can take seconds), and kill(pid, 0) still succeeds on it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[0] not in ("Z", "X")


def terminate(processes: Sequence[RecordedProcess], *, grace: float = 3.0) -> None:
    """SIGTERM the recorded processes that are still the ones recorded, then SIGKILL what remains."""
    living = [p for p in processes if p.alive()]
    for proc in living:
        _signal(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while living and time.monotonic() < deadline:
        time.sleep(0.05)
        living = [p for p in living if p.alive()]
    for proc in living:
        _signal(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + grace
    while living and time.monotonic() < deadline:
        time.sleep(0.05)
        living = [p for p in living if p.alive()]


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def reap_children() -> None:
    """Collect exited children of this process so they do not linger as zombies."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def start_when_ready(
    argv: Sequence[str], ready: Callable[[], bool], what: str
) -> tuple[RecordedProcess, subprocess.Popen[bytes]]:
    """Start a foreground daemon on the machine and return once `ready()` says it answers (about 5 s at
    most); a daemon that dies or never answers is killed and reported with what it printed."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        if proc.poll() is not None:
            break
        if ready():
            return RecordedProcess.of(proc.pid, what), proc
        time.sleep(0.05)
    err = (
        proc.stderr.read().decode(errors="replace").strip() if proc.stderr and proc.poll() is not None else ""
    )
    proc.kill()
    proc.wait(timeout=5)
    raise LabError(f"{what} did not start: {err or 'it did not answer in time'}")


def stop_started(process: RecordedProcess | None, popen: subprocess.Popen[bytes] | None) -> None:
    """Stop what start_when_ready started (by recorded pid) and reap it."""
    if process is not None:
        terminate([process])
    if popen is not None:
        popen.wait(timeout=5)
