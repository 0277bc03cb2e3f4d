"""One SSH exec with its output read as it streams, under a byte cap and a deadline.

Fabric/Invoke kept every chunk a host printed in lists of str and joined them at the end, all of it before
any size check: a host printing 20 MB grew the control process by 59 MB here (101 MB in the security
review), and a host printing without end grew it until the command timed out, so `--forks 50` hostile hosts
could exhaust it. Here stdout and stderr go into two byte buffers whose total may not pass the host's cap
(`mailcert_max_output_bytes`); one byte more and the channel is closed (sshd then ends the command), so
the control machine holds host output bounded by forks × cap (the bytes, then their decoded text).
"""

from __future__ import annotations

import select
import threading
import time
from dataclasses import dataclass

import paramiko

CHUNK = 64 * 1024
POLL_SECONDS = 0.1


class OutputTooLargeError(Exception):
    """The command printed more than the cap allows (stdout and stderr together)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class CommandTimeoutError(Exception):
    """The command did not finish within its deadline."""


@dataclass(frozen=True)
class Captured:
    stdout: bytearray  # the buffers read into, not copies: the caller decodes them once
    stderr: bytearray
    exit_status: int


def run_capped(
    transport: paramiko.Transport, command: str, *, stdin: bytes | None, timeout: float, limit: int
) -> Captured:
    """Run `command` in a new session of `transport`; stdin (if any) is written, then closed."""
    deadline = time.monotonic() + timeout
    channel = transport.open_session(timeout=timeout)
    try:
        channel.exec_command(command)
        writer = _write_stdin(channel, stdin)
        out, err = bytearray(), bytearray()
        while True:
            got = _drain(channel, out, err, limit)
            if channel.eof_received and not channel.recv_ready() and not channel.recv_stderr_ready():
                break
            if channel.closed or not transport.is_active():
                _drain(channel, out, err, limit)
                if not channel.exit_status_ready():
                    raise EOFError("the SSH session ended before the command did")
                break
            if time.monotonic() > deadline:
                raise CommandTimeoutError()
            if not got:
                # The channel's fileno becomes readable when stdout data or EOF arrives; stderr alone is
                # picked up at the next poll.
                select.select([channel], [], [], POLL_SECONDS)
        while not channel.status_event.wait(POLL_SECONDS):
            if not transport.is_active():
                raise EOFError("the SSH session ended before the command did")
            if time.monotonic() > deadline:
                raise CommandTimeoutError()
        if writer is not None:
            writer.join(timeout=1)
        return Captured(out, err, channel.recv_exit_status())
    finally:
        channel.close()


def _drain(channel: paramiko.Channel, out: bytearray, err: bytearray, limit: int) -> bool:
    got = False
    while channel.recv_ready():
        out += channel.recv(CHUNK)
        got = True
        _check(out, err, limit)
    while channel.recv_stderr_ready():
        err += channel.recv_stderr(CHUNK)
        got = True
        _check(out, err, limit)
    return got


def _check(out: bytearray, err: bytearray, limit: int) -> None:
    if len(out) + len(err) > limit:
        raise OutputTooLargeError(limit)


def _write_stdin(channel: paramiko.Channel, data: bytes | None) -> threading.Thread | None:
    """Send stdin from a thread: a command that prints before it reads must not deadlock against us."""
    if data is None:
        channel.shutdown_write()
        return None

    def send() -> None:
        try:
            channel.sendall(data)
            channel.shutdown_write()
        except (OSError, EOFError, paramiko.SSHException):
            pass  # the command ended or the session broke: the reader reports it

    thread = threading.Thread(target=send, name="mailcert-ssh-stdin", daemon=True)
    thread.start()
    return thread
