"""SSH against a REAL OpenSSH sshd on 127.0.0.1 (own host key, authorized_keys, config, as root).

Host keys: known → runs; unknown → refused with the offered fingerprint; changed → refused naming both.
Unreachable and silent ports fail fast with one line; sudo with a password works with no TTY.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from mailcert.errors import HostError
from mailcert.inventory.model import Secret
from mailcert.ssh import StrictConnection
from tests.integration import sshd_fixture
from tests.integration.sshd_fixture import Sshd, fingerprint, free_port, keygen, public_line

pytestmark = sshd_fixture.NEEDS_ROOT
sshd = sshd_fixture.sshd
sudo_user = sshd_fixture.sudo_user


def test_known_host_key_runs_the_command(sshd: Sshd) -> None:
    conn = StrictConnection(sshd.host())
    try:
        output = conn.execute("echo mailcert; id -u")
    finally:
        conn.close()
    assert output.stdout.split() == ["mailcert", "0"]
    assert output.exit_status == 0


def test_hashed_known_hosts_entries_are_honoured(sshd: Sshd, tmp_path: Path) -> None:
    hashed = tmp_path / "known_hosts"
    shutil.copy(sshd.known_hosts, hashed)
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(hashed)], check=True, capture_output=True)
    assert hashed.read_text().startswith("|1|")
    conn = StrictConnection(sshd.host(known_hosts=str(hashed)))
    try:
        assert conn.execute("echo ok").stdout == "ok\n"
    finally:
        conn.close()


def test_unknown_host_key_is_refused_with_its_fingerprint(sshd: Sshd, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    conn = StrictConnection(sshd.host(known_hosts=str(empty)))
    with pytest.raises(HostError) as caught:
        conn.execute("touch /tmp/should-not-run")
    message = caught.value.line()
    assert f"not in {empty}" in message
    assert fingerprint(sshd.host_key) in message
    assert "ssh-keyscan" in message
    assert "\n" not in message
    # never auto-accepted: the file was not written
    assert empty.read_text() == ""


def test_changed_host_key_is_refused_naming_the_offered_fingerprint(sshd: Sshd, tmp_path: Path) -> None:
    other = tmp_path / "other_ed25519"
    keygen(other)
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {public_line(other)}\n")
    conn = StrictConnection(sshd.host(known_hosts=str(known)))
    with pytest.raises(HostError) as caught:
        conn.execute("true")
    message = caught.value.line()
    assert "CHANGED" in message
    assert fingerprint(sshd.host_key) in message  # what the server offered
    assert fingerprint(other) in message  # what known_hosts expected
    assert "\n" not in message


def test_known_hosts_edited_during_a_run_is_read_again(sshd: Sshd, tmp_path: Path) -> None:
    # known_hosts is parsed once per run and reused; an admin's `ssh-keygen -R` (or a new entry) between
    # two connections must still count: the second connection sees the edited file.
    known = tmp_path / "known_hosts"
    shutil.copy(sshd.known_hosts, known)
    first = StrictConnection(sshd.host(known_hosts=str(known)))
    try:
        assert first.execute("echo ok").stdout == "ok\n"
    finally:
        first.close()
    other = tmp_path / "other_ed25519"
    keygen(other)
    known.write_text(f"[127.0.0.1]:{sshd.port} {public_line(other)}\n")
    second = StrictConnection(sshd.host(known_hosts=str(known)))
    with pytest.raises(HostError) as caught:
        second.execute("true")
    assert "CHANGED" in caught.value.line()


def test_missing_known_hosts_file_is_a_host_error(sshd: Sshd, tmp_path: Path) -> None:
    conn = StrictConnection(sshd.host(known_hosts=str(tmp_path / "nope")))
    with pytest.raises(HostError, match="does not exist"):
        conn.execute("true")


def test_wrong_key_is_an_authentication_error(sshd: Sshd, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger_ed25519"
    keygen(stranger)
    conn = StrictConnection(sshd.host(private_key_file=str(stranger)))
    with pytest.raises(HostError, match=re.escape("authentication failed for root@127.0.0.1")):
        conn.execute("true")


def test_closed_port_fails_at_once(sshd: Sshd) -> None:
    conn = StrictConnection(sshd.host(port=free_port()), timeout=2)
    with pytest.raises(HostError, match="connection refused") as caught:
        conn.execute("true")
    assert caught.value.where == "mx-test"


def test_port_without_ssh_banner_fails_within_the_timeout(sshd: Sshd) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])  # accept, then never say anything
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        conn = StrictConnection(sshd.host(port=silent.getsockname()[1]), timeout=1)
        with pytest.raises(HostError, match="no SSH banner"):
            conn.execute("true")
    finally:
        stop.set()
        thread.join()
        for sock in held:
            sock.close()
        silent.close()


def test_become_with_password_from_inventory_runs_as_root_without_tty(
    sshd: Sshd, sudo_user: tuple[str, str]
) -> None:
    name, password = sudo_user
    host = sshd.host(user=name, become=True, become_password=Secret(password))
    conn = StrictConnection(host)
    try:
        plain = conn.execute("id -un")
        as_root = conn.execute_as_root(["id", "-u"])
    finally:
        conn.close()
    assert plain.stdout.strip() == name
    assert as_root.stdout.strip() == "0"
    assert password not in as_root.stdout + as_root.stderr
    # the password never reached sshd's record of the command line
    assert password not in sshd.log.read_text(errors="replace")


def test_become_with_wrong_password_is_a_host_error(sshd: Sshd, sudo_user: tuple[str, str]) -> None:
    from mailcert.gather.remote import gather_host

    name, _ = sudo_user
    conn = StrictConnection(sshd.host(user=name, become=True, become_password=Secret("wrong-password")))
    try:
        with pytest.raises(HostError, match="sudo refused the become password"):
            gather_host(conn)
    finally:
        conn.close()


def test_become_without_password_says_what_to_set(sshd: Sshd, sudo_user: tuple[str, str]) -> None:
    from mailcert.gather.remote import gather_host

    name, _ = sudo_user
    conn = StrictConnection(sshd.host(user=name, become=True))
    try:
        with pytest.raises(HostError, match="ansible_become_password"):
            gather_host(conn)
    finally:
        conn.close()
