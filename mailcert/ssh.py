"""SSH to inventory hosts through Fabric, wrapped once and strictly.

Fabric's Connection accepts any host key (AutoAddPolicy, no known_hosts) and waits 15 s for a banner by
default. StrictConnection checks the host key against the inventory's known_hosts (unknown or changed key →
HostError, never auto-accepted), always sets connect/banner/auth timeouts, uses only the inventory's key
when one is given, and turns every failure into a one-line HostError naming the host.
"""

from __future__ import annotations

import getpass
import logging
import shlex
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko
from fabric import Config, Connection

from mailcert.errors import HostError
from mailcert.inventory.model import DEFAULT_MAX_OUTPUT_BYTES, InventoryHost
from mailcert.known_hosts import HostKeysFor, KnownHosts, parse_known_hosts
from mailcert.quoting import shell_command
from mailcert.ssh_stream import CommandTimeoutError, OutputTooLargeError, run_capped

DEFAULT_TIMEOUT = 10
COMMAND_TIMEOUT = 300
SUDO_PROMPT = "[mailcert sudo password]"

logging.getLogger("paramiko").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class RemoteOutput:
    """What a remote command printed and how it exited."""

    stdout: str
    stderr: str
    exit_status: int


class UnknownHostKey(paramiko.SSHException):  # type: ignore[misc]
    """The server's key is not in known_hosts (raised by our policy instead of paramiko's generic one)."""

    def __init__(self, hostname: str, key: paramiko.PKey) -> None:
        super().__init__(hostname)
        self.hostname = hostname
        self.key = key


class _RefuseUnknownKeys(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]
    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise UnknownHostKey(hostname, key)


def strict_config(**overrides: Any) -> Config:
    """A Fabric Config that reads no ssh_config (the inventory is authoritative) and never reads local
    stdin (cron, CI and pytest have none to give)."""
    settings: dict[str, Any] = {"run": {"in_stream": False, "hide": True, "warn": True}}
    settings.update(overrides)
    return Config(ssh_config=paramiko.SSHConfig(), overrides=settings)


class StrictConnection(Connection):  # type: ignore[misc]
    """A Fabric Connection to one inventory host, with strict host keys and bounded timeouts."""

    # Real class attributes: Fabric's DataProxy would otherwise store them in the shared Config.
    inventory_host: InventoryHost | None = None
    known_hosts_path: str = ""
    exec_count: int = 0
    host_keys: HostKeysFor = HostKeysFor((), ())

    def __init__(
        self, host: InventoryHost, *, timeout: int = DEFAULT_TIMEOUT, config: Config | None = None
    ) -> None:
        timeout = max(1, int(timeout))
        connect_kwargs: dict[str, Any] = {"banner_timeout": timeout, "auth_timeout": timeout}
        if host.private_key_file:
            connect_kwargs.update(
                key_filename=[host.private_key_file], look_for_keys=False, allow_agent=False
            )
        if host.password is not None:
            connect_kwargs["password"] = host.password.reveal()
        super().__init__(
            host=host.address,
            user=host.user or getpass.getuser(),
            port=host.port,
            connect_timeout=timeout,
            connect_kwargs=connect_kwargs,
            config=config if config is not None else strict_config(),
        )
        self.inventory_host = host
        self.known_hosts_path = str(Path(host.known_hosts).expanduser())
        self.exec_count = 0
        self.client.set_missing_host_key_policy(_RefuseUnknownKeys())

    @property
    def name(self) -> str:
        return self.inventory_host.name if self.inventory_host else str(self.host)

    def open(self) -> Any:
        """Connect, checking the host key against known_hosts; every failure is one HostError line."""
        if self.is_connected:
            return None
        host = self.inventory_host
        assert host is not None
        self._load_known_hosts()
        if host.private_key_file and not Path(host.private_key_file).is_file():
            raise HostError(
                f"SSH key {host.private_key_file} not found",
                where=self.name,
                todo="fix ansible_ssh_private_key_file in the inventory",
            )
        try:
            return super().open()
        except Exception as exc:  # noqa: BLE001 — paramiko and sockets raise many types; each becomes one line
            self.close()
            raise connection_error(exc, self) from None

    def _load_known_hosts(self) -> None:
        path = self.known_hosts_path
        if not Path(path).is_file():
            raise HostError(
                f"known_hosts file {path} does not exist",
                where=self.name,
                todo="set mailcert_known_hosts, or add the host with ssh-keyscan after verifying its fingerprint",
            )
        try:
            known = known_hosts(path)
        except OSError as exc:
            raise HostError(
                f"cannot read known_hosts file {path}: {exc.strerror or exc}", where=self.name
            ) from None
        # Only this host's entries, under the name paramiko looks up ("[addr]:port" unless port 22). They
        # are only read, never written back: no key is ever added by mailcert. A revoked key is left out,
        # so offering it fails as unknown or changed, and connection_error names it revoked.
        name = self.host if self.port == 22 else f"[{self.host}]:{self.port}"
        self.host_keys = known.lookup(name)
        for key in self.host_keys.accepted:
            self.client.get_host_keys().add(name, key.get_name(), key)

    def execute(
        self, command: str, *, stdin: str | None = None, timeout: int = COMMAND_TIMEOUT
    ) -> RemoteOutput:
        """Run one command (one SSH exec); `stdin` is written to it then closed. Its output is read as it
        streams and capped at the host's mailcert_max_output_bytes. Failures are HostErrors."""
        self.open()
        self.exec_count += 1
        host = self.inventory_host
        limit = host.max_output_bytes if host is not None else DEFAULT_MAX_OUTPUT_BYTES
        try:
            transport = self.client.get_transport()
            if transport is None or not transport.is_active():
                raise paramiko.SSHException("the SSH connection is closed")
            captured = run_capped(
                transport,
                command,
                stdin=stdin.encode() if stdin is not None else None,
                timeout=timeout,
                limit=limit,
            )
        except CommandTimeoutError:
            raise HostError(
                f"the remote command did not finish within {timeout} s",
                where=self.name,
                todo="look for a hung postconf/doveconf/exim on the host",
            ) from None
        except OutputTooLargeError:
            raise HostError(
                f"the host printed more than {limit} bytes for one command; stopped reading it",
                where=self.name,
                todo="look for a runaway file or command on the host, or raise mailcert_max_output_bytes",
            ) from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise HostError(f"SSH session failed: {_short(exc)}", where=self.name) from None
        return RemoteOutput(
            captured.stdout.decode("utf-8", errors="replace"),
            captured.stderr.decode("utf-8", errors="replace"),
            captured.exit_status,
        )

    def execute_as_root(self, argv: list[str], *, timeout: int = COMMAND_TIMEOUT) -> RemoteOutput:
        """Run `argv` (one SSH exec), through sudo when the inventory says become: the password from the
        inventory goes to `sudo -S` on stdin, never into arguments or logs; without one, `sudo -n`."""
        host = self.inventory_host
        assert host is not None
        if not host.become or (self.user == "root" and host.become_user == "root"):
            return self.execute(shlex.join(argv), timeout=timeout)
        password = host.become_password.reveal() if host.become_password is not None else None
        sudo = ["sudo", "-S", "-p", SUDO_PROMPT] if password is not None else ["sudo", "-n"]
        sudo += ["-u", host.become_user, "--"]
        output = self.execute(
            shlex.join(sudo + argv), stdin=f"{password}\n" if password is not None else None, timeout=timeout
        )
        return RemoteOutput(output.stdout, _strip_prompt(output.stderr), output.exit_status)


def sudo_error(output: RemoteOutput, host: InventoryHost) -> HostError | None:
    """The HostError for a sudo that refused to run the command, or None when sudo let it run."""
    text = output.stderr
    if "sudo:" not in text and "Sorry, try again" not in text:
        return None
    where = host.name
    if "incorrect password" in text or "Sorry, try again" in text:
        return HostError(
            f"sudo refused the become password for {host.user or 'the SSH user'}",
            where=where,
            todo="fix ansible_become_password in the inventory",
        )
    if "a password is required" in text or "no password was provided" in text:
        return HostError(
            "sudo needs a password and the inventory gives none",
            where=where,
            todo="set ansible_become_password (vars or host_vars) or pass --prompt-for-sudo-password",
        )
    if "must have a tty" in text or "no tty present" in text:
        return HostError(
            "sudo on this host insists on a terminal (Defaults requiretty)",
            where=where,
            todo="allow the SSH user to sudo without a tty (Defaults:USER !requiretty)",
        )
    if "not in the sudoers" in text or "is not allowed to" in text or "may not run sudo" in text:
        return HostError(
            f"{host.user or 'the SSH user'} may not use sudo on this host",
            where=where,
            todo="grant it in /etc/sudoers.d, or connect as root",
        )
    if "command not found" in text and "sudo" in text:
        return HostError(
            "sudo is not installed on this host", where=where, todo="install sudo or connect as root"
        )
    first = next((ln for ln in text.splitlines() if "sudo:" in ln), text.strip()[:200])
    return HostError(f"sudo failed: {first.strip()}", where=where)


_known_hosts_lock = threading.Lock()
_known_hosts_parsed: dict[str, tuple[tuple[int, int], KnownHosts]] = {}


def known_hosts(path: str) -> KnownHosts:
    """The known_hosts file parsed once per run and reused while its size and mtime stay the same.

    Parsing a fleet's known_hosts for every host made each host's cost grow with the fleet (issue 4's
    bench: 0.14 s of control CPU per host at 100 hosts); a changed file is parsed again. Its warnings
    (skipped @cert-authority or unreadable lines) go to stderr once per parse, not once per host.
    """
    stat = Path(path).stat()
    version = (stat.st_mtime_ns, stat.st_size)
    with _known_hosts_lock:
        cached = _known_hosts_parsed.get(path)
        if cached is None or cached[0] != version:
            cached = (version, parse_known_hosts(path))
            _known_hosts_parsed[path] = cached
            for warning in cached[1].warnings:
                print(f"mailcert: warning: {warning}", file=sys.stderr)
        return cached[1]


def connection_error(exc: BaseException, conn: StrictConnection) -> HostError:
    """One line for a failed connect: unreachable, no banner, host key unknown or changed, auth refused."""
    host = conn.inventory_host
    assert host is not None
    target = host.ssh_target
    known = conn.known_hosts_path
    keyscan = shell_command("ssh-keyscan", "-p", host.port, host.address)
    offered = exc.key if isinstance(exc, UnknownHostKey | paramiko.BadHostKeyException) else None
    if offered is not None and conn.host_keys.is_revoked(offered):
        return HostError(
            f"host key of {host.address}:{host.port} is REVOKED in {known} (offered {offered.get_name()} "
            f"{offered.fingerprint}); refused",
            where=conn.name,
            todo="suspect a compromised or cloned host: have its admin replace the host key, verify the new "
            "fingerprint out of band, then add it",
        )
    if isinstance(exc, UnknownHostKey):
        return HostError(
            f"host key of {host.address}:{host.port} not in {known} (offered {exc.key.get_name()} "
            f"{exc.key.fingerprint})",
            where=conn.name,
            todo=f"run `{keyscan}`, verify the fingerprint with the host's admin, then add it to {known}",
        )
    if isinstance(exc, paramiko.BadHostKeyException):
        return HostError(
            f"host key of {host.address}:{host.port} CHANGED: offered {exc.key.get_name()} "
            f"{exc.key.fingerprint}, {known} has {exc.expected_key.fingerprint}",
            where=conn.name,
            todo="if the host was reinstalled, verify the new fingerprint out of band, then "
            f"`{shell_command('ssh-keygen', '-R', f'[{host.address}]:{host.port}', '-f', known)}` and add the new "
            "key; otherwise suspect an attack",
        )
    if isinstance(exc, paramiko.PasswordRequiredException):
        return HostError(
            f"SSH key {host.private_key_file} is passphrase-protected",
            where=conn.name,
            todo="load it into ssh-agent and drop ansible_ssh_private_key_file, or use a key without passphrase",
        )
    if isinstance(exc, paramiko.AuthenticationException):
        return HostError(
            f"SSH authentication failed for {target}",
            where=conn.name,
            todo="check ansible_user and ansible_ssh_private_key_file (is the public key in authorized_keys?)",
        )
    if isinstance(exc, socket.gaierror):
        return HostError(
            f"cannot resolve {host.address}", where=conn.name, todo="check ansible_host in the inventory"
        )
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError | ConnectionRefusedError):
        return HostError(
            f"cannot connect to {target}: connection refused",
            where=conn.name,
            todo="is sshd running, and ansible_port right?",
        )
    if isinstance(exc, TimeoutError | socket.timeout):
        return HostError(
            f"cannot connect to {target}: timed out after {conn.connect_timeout} s",
            where=conn.name,
            todo="is the host up and port open (firewall)?",
        )
    text = _short(exc)
    if isinstance(exc, paramiko.SSHException | EOFError) and (
        "banner" in text.lower() or "No existing session" in text or isinstance(exc, EOFError)
    ):
        return HostError(
            f"no SSH banner from {target} within {conn.connect_timeout} s (something answers on the port, "
            "but not an SSH server)",
            where=conn.name,
            todo="check ansible_port, and that sshd is not overloaded",
        )
    if isinstance(exc, OSError):
        return HostError(f"cannot connect to {target}: {text}", where=conn.name)
    return HostError(f"SSH to {target} failed: {text}", where=conn.name)


def _strip_prompt(stderr: str) -> str:
    return stderr.replace(SUDO_PROMPT, "")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
