"""The control side's calls to the host-side apply program: root execs with input, the host lock, the
detached switch and restore, and what earlier runs left behind.

The lock is held by a `hold` process on the host that lives as long as its SSH channel: a control side
that dies (or loses its connection) leaves a lock the next run can see is dead — unless the detached
worker of that run is still switching, which keeps it held.
"""

from __future__ import annotations

import base64
import shlex
import time
from dataclasses import dataclass
from typing import Any

import paramiko

from mailcert.errors import HostError, MailcertError
from mailcert.fix.worker import EXIT_BUSY, EXIT_NO_RECORD, apply_argv
from mailcert.inventory.model import InventoryHost
from mailcert.ssh import SUDO_PROMPT, RemoteOutput, StrictConnection, sudo_error

LOCK_TIMEOUT = 60
PAYLOAD_MARK = "mailcert-payload"  # apply.sh stores the switch's stdin after this line
SWITCH_TIMEOUT = 900  # the host side gives up waiting after its own limit (600 s) and says so


class HostLockedError(MailcertError):
    """Another mailcert run holds the host's lock."""


class SessionLostError(HostError):
    """The SSH session ended before the host-side program answered (the host goes on without us)."""


@dataclass(frozen=True)
class SwitchStatus:
    """How the host-side switch ended: applied, rolled-back, failed, interrupted (or still running)."""

    state: str
    reason: str

    @property
    def final(self) -> bool:
        return self.state in ("applied", "rolled-back", "failed")


@dataclass(frozen=True)
class Leftover:
    """A run whose end no control side saw (killed, or its connection lost for good)."""

    run_id: str
    state: str
    reason: str


def root_command(host: InventoryHost, user: str, argv: list[str]) -> tuple[str, str]:
    """The command line for `argv` as root (sudo when the inventory says become) and the stdin prefix that
    answers sudo's password prompt ("" when none is needed)."""
    if not host.become or (user == "root" and host.become_user == "root"):
        return shlex.join(argv), ""
    password = host.become_password.reveal() if host.become_password is not None else None
    sudo = ["sudo", "-S", "-p", SUDO_PROMPT] if password is not None else ["sudo", "-n"]
    return shlex.join([*sudo, "-u", host.become_user, "--", *argv]), (
        f"{password}\n" if password is not None else ""
    )


def run_as_root(
    conn: StrictConnection, argv: list[str], *, stdin: str = "", timeout: int = SWITCH_TIMEOUT
) -> RemoteOutput:
    """One SSH exec of `argv` as root with `stdin` (after sudo's password, which sudo reads byte by byte).

    A raw paramiko channel, not Fabric's runner: Fabric feeds a non-terminal stdin one byte per 10 ms,
    which turns a 50 kB payload into minutes. A session that ends without an exit status raises
    SessionLostError."""
    host = conn.inventory_host
    assert host is not None
    command, prefix = root_command(host, str(conn.user), argv)
    conn.open()
    try:
        output = _exec(conn, command, (prefix + stdin).encode(), timeout)
    except TimeoutError:
        raise HostError(f"the remote command did not finish within {timeout} s", where=conn.name) from None
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise SessionLostError(f"SSH session failed: {exc}", where=conn.name) from None
    if output.exit_status < 0:
        raise SessionLostError("the SSH session ended before the command did", where=conn.name)
    stderr = output.stderr.replace(SUDO_PROMPT, "")
    result = RemoteOutput(output.stdout, stderr, output.exit_status)
    if output.exit_status != 0 and not output.stdout.strip():
        refused = sudo_error(result, host)
        if refused is not None:
            raise refused
    return result


def _exec(conn: StrictConnection, command: str, stdin: bytes, timeout: int) -> RemoteOutput:
    transport = conn.client.get_transport()
    if transport is None or not transport.is_active():
        raise EOFError("not connected")
    channel = transport.open_session()
    try:
        channel.settimeout(1.0)
        channel.exec_command(command)
        channel.sendall(stdin)
        channel.shutdown_write()
        out, err = bytearray(), bytearray()
        deadline = time.monotonic() + timeout
        while True:
            try:
                chunk = channel.recv(65536)
            except TimeoutError:
                chunk = None
            if chunk:
                out += chunk
            while channel.recv_stderr_ready():
                err += channel.recv_stderr(65536)
            if chunk == b"" or (chunk is None and channel.exit_status_ready() and not channel.recv_ready()):
                break
            if time.monotonic() > deadline:
                raise TimeoutError
            if not transport.is_active():
                raise EOFError("the SSH connection closed")
        while channel.recv_stderr_ready():
            err += channel.recv_stderr(65536)
        status = channel.recv_exit_status() if transport.is_active() or channel.exit_status_ready() else -1
        return RemoteOutput(out.decode(errors="replace"), err.decode(errors="replace"), status)
    finally:
        channel.close()


# Switch states the control side sets from apply.sh's exit status (EXIT_NO_RECORD), not from its text.
NOT_FOUND = "not-found"  # restore: the host has no record of the run
ABSENT = "absent"  # wait: the switch never started on the host


def parse_status(text: str) -> SwitchStatus:
    lines = text.strip().splitlines()
    if not lines:
        return SwitchStatus("unknown", "the host-side program printed nothing")
    return SwitchStatus(lines[0].strip(), " ".join(ln.strip() for ln in lines[1:]).strip())


def _program_error(output: RemoteOutput, host: str, what: str) -> HostError:
    said = next((ln for ln in output.stderr.splitlines() if "mailcert-apply:" in ln), output.stderr.strip())
    return HostError(f"{what} failed on the host (exit {output.exit_status}): {said[:300]}", where=host)


def switch(conn: StrictConnection, state_dir: str, run_id: str, payload: str) -> SwitchStatus:
    """Hand the payload to the host, which switches on its own; returns when its status file is final.
    A session that ends without the program's answer raises SessionLostError."""
    # The mark line ends what sudo may leave unread on stdin (a password it did not ask for): the host
    # stores only what follows it.
    stdin = f"{PAYLOAD_MARK}\n{payload}"
    output = run_as_root(conn, apply_argv("switch", state_dir, run_id, conn.name), stdin=stdin)
    if output.exit_status != 0:
        raise _program_error(output, conn.name, "the switch")
    return parse_status(output.stdout)


def wait(conn: StrictConnection, state_dir: str, run_id: str) -> SwitchStatus:
    output = run_as_root(conn, apply_argv("wait", state_dir, run_id, conn.name))
    if output.exit_status == EXIT_NO_RECORD:
        return SwitchStatus(
            ABSENT, parse_status(output.stdout).reason or "the switch never started on this host"
        )
    if output.exit_status != 0:
        raise _program_error(output, conn.name, "waiting for the switch")
    return parse_status(output.stdout)


def restore(conn: StrictConnection, state_dir: str, run_id: str, why: str) -> SwitchStatus:
    """Put back every file run `run_id` changed on this host (byte-identical, owner and mode), reload."""
    output = run_as_root(conn, apply_argv("restore", state_dir, run_id, conn.name, " ".join(why.split())))
    if output.exit_status == EXIT_NO_RECORD:
        return SwitchStatus(
            NOT_FOUND, parse_status(output.stdout).reason or f"no record of run {run_id} on this host"
        )
    if output.exit_status != 0:
        raise _program_error(output, conn.name, "the restore")
    return parse_status(output.stdout)


def leftovers(conn: StrictConnection, state_dir: str) -> list[Leftover]:
    """This host's runs whose end no control side saw (records of other inventory names are theirs)."""
    output = run_as_root(conn, apply_argv("leftovers", state_dir), timeout=60)
    return _runs_said(output.stdout, conn.name)


def _runs_said(text: str, host: str) -> list[Leftover]:
    """ "RUN@HOST STATE B64-REASON" lines (leftovers, recover) of inventory host `host`."""
    found = []
    for line in text.splitlines():
        words = line.split()
        run_id, _, name = words[0].rpartition("@") if words else ("", "", "")
        if len(words) >= 2 and name == host:
            reason = base64.b64decode(words[2]).decode(errors="replace") if len(words) > 2 else ""
            found.append(Leftover(run_id, words[1], reason.strip()))
    return found


def recover(conn: StrictConnection, state_dir: str, run_id: str) -> list[Leftover]:
    """Under run `run_id`'s lock: restore (or, every step done, record applied) each earlier run of this host
    whose host-side worker died before it ended; what was done per run."""
    output = run_as_root(conn, apply_argv("recover", state_dir, run_id, conn.name))
    if output.exit_status != 0:
        raise _program_error(output, conn.name, "restoring an unfinished run")
    return _runs_said(output.stdout, conn.name)


def mark_reported(conn: StrictConnection, state_dir: str, run_id: str) -> None:
    run_as_root(conn, apply_argv("reported", state_dir, run_id, conn.name), timeout=60)


class HostLock:
    """The host's mkdir lock, held by a process on the host for as long as our SSH channel stays open."""

    def __init__(self, conn: StrictConnection, state_dir: str, run_id: str) -> None:
        self.conn, self.state_dir, self.run_id = conn, state_dir, run_id
        self.channel: Any = None
        self.said = ""

    def acquire(self) -> str:
        """Take the lock: "locked", "resumed" (ours, after a reconnect) or "taken-over RUN" (a dead run's).
        Another live run's lock raises HostLockedError naming it."""
        host = self.conn.inventory_host
        assert host is not None
        self.conn.open()
        command, prefix = root_command(
            host, str(self.conn.user), apply_argv("hold", self.state_dir, self.run_id)
        )
        try:
            transport = self.conn.client.get_transport()
            channel = transport.open_session()
            channel.settimeout(LOCK_TIMEOUT)
            channel.exec_command(command)
            if prefix:
                channel.sendall(prefix.encode())
            line = _read_line(channel)
        except (TimeoutError, paramiko.SSHException, OSError, EOFError) as exc:
            raise HostError(f"cannot take the host lock: {exc}", where=self.conn.name) from None
        if not line:
            stderr = channel.makefile_stderr("rb").read().decode(errors="replace")
            status = (
                channel.recv_exit_status()
            )  # before close(): closing first loses a status still on its way (-1)
            channel.close()
            output = RemoteOutput("", stderr.replace(SUDO_PROMPT, ""), status)
            if output.exit_status == EXIT_BUSY:
                raise self._busy(output.stderr)
            raise sudo_error(output, host) or _program_error(output, self.conn.name, "taking the host lock")
        self.channel = channel
        self.said = line
        return line

    def _busy(self, stderr: str) -> HostLockedError:
        """The error for apply.sh's EXIT_BUSY, naming the run that holds the lock (its stderr line)."""
        words = next((ln.split() for ln in stderr.splitlines() if ln.startswith("busy ")), ["busy"])
        other = words[1] if len(words) > 1 else "?"
        pid = words[2] if len(words) > 2 else "?"
        since = words[3] if len(words) > 3 else "?"
        return HostLockedError(
            f"another mailcert run ({other}, pid {pid} on the host, since {since}) holds the lock "
            f"{self.state_dir}/lock",
            where=self.conn.name,
            todo="wait for that run to finish and run fix again",
        )

    def release(self) -> None:
        """Close the channel: the holder removes the lock (unless a switch of this run still runs)."""
        channel, self.channel = self.channel, None
        if channel is None:
            return
        try:
            channel.shutdown_write()
            channel.settimeout(LOCK_TIMEOUT)
            channel.recv_exit_status()
        except (TimeoutError, paramiko.SSHException, OSError, EOFError):
            pass
        finally:
            channel.close()


def _read_line(channel: Any) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = channel.recv(1)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()
