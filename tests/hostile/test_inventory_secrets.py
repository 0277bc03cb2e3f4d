"""A hostile inventory and the secrets in it, against a REAL sshd on 127.0.0.1.

Host names, addresses, users, key and known_hosts paths full of shell syntax run nothing on the host or
here (canary files). The sudo password and every token-like value never appear in stdout, stderr, the
report file, log records, sshd's log, or the argument lists `ps -eo args` shows on the host while the
audit runs (the host is this machine: sshd on 127.0.0.1)."""

from __future__ import annotations

import logging
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcert.audit.host import AuditSettings
from mailcert.cli import build_program
from mailcert.inventory import load_inventory
from mailcert.inventory.model import Secret
from mailcert.pki.trust import TrustStore
from mailcert.tasks.audit import run_audit
from tests.integration import sshd_fixture
from tests.integration.sshd_fixture import Sshd, free_port
from tests.integration.test_ssh_gather import plant
from tests.pki import NOW

pytestmark = sshd_fixture.NEEDS_ROOT
sshd = sshd_fixture.sshd


class Canaries:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def cmd(self, name: str) -> str:
        return f"touch {self.folder}/{name}"

    def fired(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir())


@pytest.fixture(scope="module")
def canaries(tmp_path_factory: pytest.TempPathFactory) -> Canaries:
    return Canaries(tmp_path_factory.mktemp("canaries"))


@pytest.fixture(scope="module")
def hostile_sudo_user(sshd: Sshd, canaries: Canaries) -> Iterator[tuple[str, str]]:
    """A throwaway sudo user whose password is shell syntax around a unique canary token."""
    name = f"mchost{secrets.token_hex(3)}"
    password = f"Pw'$({canaries.cmd('password-dollar')})`{canaries.cmd('password-tick')}`;|&<>\"{secrets.token_hex(8)}"
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


class ArgvSampler:
    """`ps -eo args` over and over in a thread, while the audit runs on this machine's sshd."""

    def __init__(self) -> None:
        self.samples: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            out = subprocess.run(
                ["ps", "-ww", "-eo", "args"], capture_output=True, text=True, errors="replace", check=False
            )
            self.samples.append(out.stdout)

    def __enter__(self) -> ArgvSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def saw(self, text: str) -> bool:
        return any(text in sample for sample in self.samples)


def test_sudo_password_never_in_process_arguments_on_the_host(
    sshd: Sshd, hostile_sudo_user: tuple[str, str], canaries: Canaries, tmp_path: Path
) -> None:
    name, password = hostile_sudo_user
    planted = plant(tmp_path / "host")
    planted.root.chmod(0o755)
    host = sshd.host(name="mx-sudo", user=name, become=True, become_password=Secret(password))
    settings = AuditSettings(
        now=NOW, probe=False, gather_root=str(planted.root), trust_loader=lambda _b: TrustStore.of([])
    )
    for _attempt in range(5):  # until a sample caught the remote sudo at work (a run takes a moment)
        with ArgvSampler() as sampler:
            [result] = run_audit([host], settings)
        assert result.report.error is None, result.report.error
        assert result.gathered is not None and result.gathered.meta("uid") == "0"  # the password worked
        assert not sampler.saw(password) and not sampler.saw(password[-16:])
        if sampler.saw("sudo -S"):
            break
    else:
        pytest.fail("no `ps` sample caught the remote sudo running: the check proved nothing")
    assert canaries.fired() == []
    assert password[-16:] not in sshd.log.read_text(errors="replace")


def _hostile_inventory(
    sshd: Sshd, tmp_path: Path, canaries: Canaries, user: str, password: str, token: str
) -> Path:
    # key and known_hosts paths that are shell syntax: paramiko opens them as plain file names
    # (the canary command's own slashes make folders: the path is still what a shell would run)
    key = tmp_path / f"key $({canaries.cmd('key-path')}) `x`"
    known = tmp_path / f"known;{canaries.cmd('known-path')};"
    for source, copy in ((sshd.client_key, key), (sshd.known_hosts, known)):
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, copy)
    inventory = tmp_path / "hosts.yml"
    q = lambda text: "'" + text.replace("'", "''") + "'"  # noqa: E731 — YAML single-quoted scalar
    inventory.write_text(
        "all:\n  vars:\n"
        f"    ansible_user: {q(user)}\n"
        f"    ansible_become: true\n"
        f"    ansible_become_password: {q(password)}\n"
        f"    ansible_password: {q('ssh-' + token)}\n"
        f"    api_token: {q(token)}\n"
        f"    mailcert_dns_credentials: {q('dns-' + token)}\n"
        f"    ansible_ssh_private_key_file: {q(str(key))}\n"
        f"    mailcert_known_hosts: {q(str(known))}\n"
        "  hosts:\n"
        f"    {q('mx-$(' + canaries.cmd('hostname').replace(' ', '${IFS}') + ')`x`')}:\n"  # names have no spaces
        f"      ansible_host: 127.0.0.1\n      ansible_port: {sshd.port}\n"
        f"      mailcert_hostnames: [{q('$(' + canaries.cmd('mailcert-hostnames') + ')')}, mail.example.test]\n"
        f"    mx-evil-address:\n      ansible_host: {q('127.0.0.1;' + canaries.cmd('ansible-host'))}\n"
        f"      ansible_port: {sshd.port}\n"
        f"    mx-evil-user:\n      ansible_host: 127.0.0.1\n      ansible_port: {sshd.port}\n"
        f"      ansible_user: {q('root$(' + canaries.cmd('ansible-user') + ')')}\n"
        f"    mx-down:\n      ansible_host: 127.0.0.1\n      ansible_port: {free_port()}\n"
    )
    return inventory


def test_hostile_inventory_runs_nothing_and_leaks_no_secret(
    sshd: Sshd,
    hostile_sudo_user: tuple[str, str],
    canaries: Canaries,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    user, password = hostile_sudo_user
    token = f"tok{secrets.token_hex(12)}"
    inventory = _hostile_inventory(sshd, tmp_path, canaries, user, password, token)
    hosts = load_inventory(inventory).hosts
    assert {h.name for h in hosts} >= {"mx-evil-address", "mx-evil-user"}
    assert all(token not in repr(h) and password not in repr(h) for h in hosts)  # secrets masked in repr
    caplog.set_level(logging.DEBUG)
    report_file = tmp_path / "report.json"
    program = build_program()
    with ArgvSampler() as sampler:
        program.run(
            [
                "mailcert",
                "audit",
                "-I",
                str(inventory),
                "--no-probe",
                "--format",
                "json",
                "--output",
                str(report_file),
            ],
            exit=False,
        )
        program.run(["mailcert", "audit", "-I", str(inventory), "--no-probe", "--timeout", "3"], exit=False)
    out = capsys.readouterr()
    assert report_file.is_file(), out.err
    produced = {
        "stdout": out.out,
        "stderr": out.err,
        "report file": report_file.read_text(),
        "log records": caplog.text,
        "sshd log": sshd.log.read_text(errors="replace"),
        "ps samples": "\n".join(sampler.samples),
    }
    for where, text in produced.items():
        for secret in (password, password[-16:], token):
            assert secret not in text, f"a secret reached the {where}"
    assert "mx-evil-address" in out.out and "mx-evil-user" in out.out  # each failed on its own line
    assert canaries.fired() == []
