"""Fixtures for the SSH tests: a REAL OpenSSH sshd on 127.0.0.1 (free port, own host key, authorized_keys
and config in tmp, `UsePAM no`, `StrictModes no`, LogLevel DEBUG1 to count exec requests), and a
throwaway sudo user with a password (removed afterwards). Needs root."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from mailcert.inventory.model import InventoryHost

NEEDS_ROOT = pytest.mark.skipif(
    os.geteuid() != 0, reason="starts sshd and creates a sudo test user: needs root (CI runs as root)"
)
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def keygen(path: Path, kind: str = "ed25519") -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().split()[1] if path.suffix else Path(f"{path}.pub").read_text()


def public_line(path: Path) -> str:
    kind, blob = Path(f"{path}.pub").read_text().split()[:2]
    return f"{kind} {blob}"


def fingerprint(path: Path) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{path}.pub"], check=True, capture_output=True, text=True
    )
    return out.stdout.split()[1]  # "256 SHA256:... comment (ED25519)"


@dataclass
class Sshd:
    dir: Path
    port: int
    host_key: Path
    client_key: Path
    known_hosts: Path
    log: Path

    def host(self, **changes: object) -> InventoryHost:
        base = InventoryHost(
            name="mx-test",
            address="127.0.0.1",
            port=self.port,
            user="root",
            private_key_file=str(self.client_key),
            known_hosts=str(self.known_hosts),
        )
        return replace(base, **changes)  # type: ignore[arg-type]

    def exec_requests(self) -> int:
        """Exec requests sshd has logged so far (LogLevel DEBUG1), counted on the server side."""
        return self.log.read_text(errors="replace").count("req exec")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    base = tmp_path_factory.mktemp("sshd")
    host_key, client_key = base / "host_ed25519", base / "client_ed25519"
    keygen(host_key)
    keygen(client_key)
    # sshd reads authorized_keys as the logging-in user: keep it where the sudo test user can read it.
    keys_dir = Path(tempfile.mkdtemp(prefix="mailcert-sshd-keys-"))
    keys_dir.chmod(0o755)
    authorized = keys_dir / "authorized_keys"
    authorized.write_text(Path(f"{client_key}.pub").read_text())
    authorized.chmod(0o644)
    port = free_port()
    config = base / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {base}/sshd.pid\n"
        f"AuthorizedKeysFile {authorized}\nUsePAM no\nStrictModes no\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "LogLevel DEBUG1\n"
    )
    known_hosts = base / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {public_line(host_key)}\n")
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    log = base / "sshd.log"
    process = subprocess.Popen([SSHD, "-D", "-f", str(config), "-E", str(log)])
    try:
        _wait_listening(port, process)
        yield Sshd(base, port, host_key, client_key, known_hosts, log)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(keys_dir, ignore_errors=True)


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError("sshd exited at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            threading.Event().wait(0.05)
    raise RuntimeError("sshd did not start listening")


@pytest.fixture(scope="module")
def sudo_user(sshd: Sshd) -> Iterator[tuple[str, str]]:
    """A throwaway user with a password and a sudoers rule that asks for it; removed afterwards."""
    name = f"mcsudo{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(12)
    rule = Path(f"/etc/sudoers.d/mailcert-test-{name}")
    subprocess.run(["useradd", "-M", "-s", "/bin/sh", name], check=True)
    try:
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
        rule.write_text(f"{name} ALL=(ALL) ALL\nDefaults:{name} !lecture\n")
        rule.chmod(0o440)
        yield name, password
    finally:
        rule.unlink(missing_ok=True)
        subprocess.run(["userdel", name], check=False)
