"""`mailcert audit` against a real sshd: parallel hosts, one failing host does not stop the others,
the report of a reachable host equals `lint` of the same files, exit codes per SPEC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailcert.audit.host import AuditSettings, clock_skew
from mailcert.audit.lint import LintOptions, lint_host
from mailcert.checks.certs import CheckOptions
from mailcert.cli import build_program
from mailcert.hostfs import LocalRoot
from mailcert.inventory.model import Secret
from mailcert.model import Status
from mailcert.pki.trust import TrustStore
from mailcert.tasks.audit import run_audit
from mailcert.tasks.state import run_state
from tests.integration import sshd_fixture
from tests.integration.sshd_fixture import Sshd, free_port, keygen, public_line
from tests.integration.test_ssh_gather import plant
from tests.pki import NOW

pytestmark = sshd_fixture.NEEDS_ROOT
sshd = sshd_fixture.sshd
sudo_user = sshd_fixture.sudo_user


def test_fleet_audit_isolates_failures_and_matches_lint(sshd: Sshd, tmp_path: Path) -> None:
    planted = plant(tmp_path / "host")
    other = tmp_path / "other_ed25519"
    keygen(other)
    changed = tmp_path / "changed_known_hosts"
    changed.write_text(f"[127.0.0.1]:{sshd.port} {public_line(other)}\n")
    hosts = [
        sshd.host(name="mx-down", port=free_port()),
        sshd.host(name="mx-good"),
        sshd.host(name="mx-changed", known_hosts=str(changed)),
    ]
    settings = AuditSettings(now=NOW, probe=False, gather_root=str(planted.root), connect_timeout=3)
    results = run_audit(hosts, settings, forks=3)
    assert [r.report.name for r in results] == ["mx-down", "mx-good", "mx-changed"]  # inventory order
    down, good, changed_key = (r.report for r in results)
    assert down.status is Status.UNKNOWN and "connection refused" in (down.error or "")
    assert [f.check for f in down.findings] == ["host.unreachable"]
    assert changed_key.status is Status.UNKNOWN and "CHANGED" in (changed_key.error or "")
    assert good.error is None
    options = LintOptions(checks=CheckOptions(now=NOW, trust=TrustStore.load([])))
    expected = lint_host(LocalRoot(planted.root), name="mx-good", options=options)
    assert good.findings == expected.findings
    assert good.endpoints == expected.endpoints
    assert results[1].gathered is not None and results[1].gathered.meta("uid") == "0"


def test_clock_skew_is_measured_against_the_gather_window() -> None:
    assert clock_skew(1000, 1000.0, 1030.0) is None
    assert clock_skew(1089, 1000.0, 1030.0) is None  # within 60 s of the end of the window
    late = clock_skew(1100, 1000.0, 1030.0)
    assert late is not None and late.check == "host.clock-skew" and "70 s ahead of" in late.message
    early = clock_skew(900, 1000.0, 1030.0)
    assert early is not None and "100 s behind" in early.message
    assert clock_skew(None, 0.0, 1.0) is None


def test_cli_audit_exit_code_and_json(sshd: Sshd, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        "all:\n  vars:\n    ansible_user: root\n"
        f"    ansible_ssh_private_key_file: {sshd.client_key}\n    mailcert_known_hosts: {sshd.known_hosts}\n"
        f"  hosts:\n    mx-down:\n      ansible_host: 127.0.0.1\n      ansible_port: {free_port()}\n"
    )
    build_program().run(
        ["mailcert", "audit", "-I", str(inventory), "--format", "json", "--no-probe"], exit=False
    )
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "unknown"
    assert report["hosts"][0]["name"] == "mx-down" and "connection refused" in report["hosts"][0]["error"]
    assert run_state().exit_code == 3
    with pytest.raises(SystemExit) as exited:
        build_program().run(["mailcert", "audit", "-I", str(inventory), "--limit", "nope"])
    assert exited.value.code == 3


def test_prompted_sudo_password_serves_become_hosts_without_one(
    sshd: Sshd, sudo_user: tuple[str, str], tmp_path: Path
) -> None:
    name, password = sudo_user
    planted = plant(tmp_path / "host")
    planted.root.chmod(0o755)
    host = sshd.host(name="mx-sudo", user=name, become=True)
    without = run_audit([host], AuditSettings(now=NOW, probe=False, gather_root=str(planted.root)))
    assert "ansible_become_password" in (without[0].report.error or "")
    settings = AuditSettings(
        now=NOW, probe=False, gather_root=str(planted.root), sudo_password=Secret(password)
    )
    [result] = run_audit([host], settings)
    assert result.report.error is None
    assert result.gathered is not None and result.gathered.meta("uid") == "0"


def test_fix_and_its_rollback_use_the_prompted_sudo_password_too(
    sshd: Sshd,
    sudo_user: tuple[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`fix --prompt-for-sudo-password` (or MAILCERT_SUDO_PASSWORD) reached only `audit` and `verify`:
    a plain `fix` could not sudo on a become host whose inventory has no password."""
    name, password = sudo_user
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        f"all:\n  vars:\n    ansible_user: {name}\n    ansible_become: true\n"
        f"    ansible_ssh_private_key_file: {sshd.client_key}\n    mailcert_known_hosts: {sshd.known_hosts}\n"
        f"  hosts:\n    mx-sudo:\n      ansible_host: 127.0.0.1\n      ansible_port: {sshd.port}\n"
    )

    def fix_error(*extra: str) -> str:
        argv = ["mailcert", "fix", "-I", str(inventory), "--dry-run", "--format", "json", *extra]
        build_program().run(argv, exit=False)
        return str(json.loads(capsys.readouterr().out)["hosts"][0]["error"])

    assert "ansible_become_password" in fix_error()
    monkeypatch.setenv("MAILCERT_SUDO_PASSWORD", password)  # what the prompt fills in, without a terminal
    assert "ansible_become_password" not in fix_error()
    with pytest.raises(SystemExit):  # no such run on the host: said once, nothing about sudo
        build_program().run(
            ["mailcert", "fix", "-I", str(inventory), "--rollback", "20260101T000000Z-abcdef"]
        )
    said = capsys.readouterr()
    assert "mx-sudo: not-found" in said.out, said
    assert "become" not in said.out + said.err
