"""known_hosts markers against a REAL sshd: `@revoked` refuses the revoked key (even when a plain line
lists it), `@cert-authority` lines are skipped with one warning instead of making every host UNKNOWN, and a
fleet audit exits per SPEC (a host that could not be checked → 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailcert.audit.host import AuditSettings
from mailcert.cli import build_program
from mailcert.errors import HostError
from mailcert.model import Status
from mailcert.ssh import StrictConnection
from mailcert.tasks.audit import run_audit
from mailcert.tasks.state import run_state
from tests.integration import sshd_fixture
from tests.integration.sshd_fixture import Sshd, fingerprint, keygen, public_line
from tests.integration.test_ssh_gather import plant
from tests.pki import NOW

pytestmark = sshd_fixture.NEEDS_ROOT
sshd = sshd_fixture.sshd


def _ca_line(tmp_path: Path) -> str:
    ca = tmp_path / "host_ca"
    keygen(ca)
    return f"@cert-authority *.example.org,127.0.0.1 {public_line(ca)}\n"


def test_cert_authority_line_is_skipped_with_one_warning(
    sshd: Sshd, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(_ca_line(tmp_path) + sshd.known_hosts.read_text())
    for _ in range(2):  # two connections, one parse of the file: one warning
        conn = StrictConnection(sshd.host(known_hosts=str(known)))
        try:
            assert conn.execute("echo ok").stdout == "ok\n"
        finally:
            conn.close()
    warnings = [ln for ln in capsys.readouterr().err.splitlines() if "@cert-authority" in ln]
    assert len(warnings) == 1
    assert str(known) in warnings[0] and "line(s) 1 skipped" in warnings[0]


def test_host_known_only_through_a_cert_authority_is_refused_as_unknown(sshd: Sshd, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(_ca_line(tmp_path))
    conn = StrictConnection(sshd.host(known_hosts=str(known)))
    with pytest.raises(HostError) as caught:
        conn.execute("touch /tmp/mailcert-should-not-run")
    assert f"not in {known}" in caught.value.line()
    assert fingerprint(sshd.host_key) in caught.value.line()


@pytest.mark.parametrize("pattern", ["*", "[127.0.0.1]:{port}", "!10.0.0.1,[127.0.0.?]:{port}"])
def test_revoked_key_is_refused_even_when_listed(sshd: Sshd, tmp_path: Path, pattern: str) -> None:
    known = tmp_path / "known_hosts"
    hosts = pattern.format(port=sshd.port)
    known.write_text(sshd.known_hosts.read_text() + f"@revoked {hosts} {public_line(sshd.host_key)}\n")
    conn = StrictConnection(sshd.host(known_hosts=str(known)))
    with pytest.raises(HostError) as caught:
        conn.execute("touch /tmp/mailcert-should-not-run")
    line = caught.value.line()
    assert "REVOKED" in line and fingerprint(sshd.host_key) in line and "\n" not in line


def test_revoked_line_for_another_host_does_not_refuse_this_one(sshd: Sshd, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts.read_text() + f"@revoked 10.9.9.9 {public_line(sshd.host_key)}\n")
    conn = StrictConnection(sshd.host(known_hosts=str(known)))
    try:
        assert conn.execute("echo ok").stdout == "ok\n"
    finally:
        conn.close()


def test_fleet_with_markers_audits_the_good_host_and_refuses_the_revoked_one(
    sshd: Sshd, tmp_path: Path
) -> None:
    planted = plant(tmp_path / "host")
    with_ca = tmp_path / "known_hosts_ca"
    with_ca.write_text(_ca_line(tmp_path) + sshd.known_hosts.read_text())
    revoked = tmp_path / "known_hosts_revoked"
    revoked.write_text(with_ca.read_text() + f"@revoked * {public_line(sshd.host_key)}\n")
    hosts = [
        sshd.host(name="mx-good", known_hosts=str(with_ca)),
        sshd.host(name="mx-revoked", known_hosts=str(revoked)),
    ]
    settings = AuditSettings(now=NOW, probe=False, gather_root=str(planted.root), connect_timeout=3)
    good, bad = (r.report for r in run_audit(hosts, settings, forks=2))
    assert good.error is None and good.status is not Status.UNKNOWN
    assert results_gathered(good.findings)
    assert bad.status is Status.UNKNOWN and "REVOKED" in (bad.error or "")
    assert [f.check for f in bad.findings] == ["host.unreachable"]


def results_gathered(findings: object) -> bool:
    return isinstance(findings, tuple) and len(findings) > 0  # the planted host has findings to report


def test_cli_exits_3_when_the_only_host_offers_a_revoked_key(
    sshd: Sshd, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(
        _ca_line(tmp_path) + sshd.known_hosts.read_text() + f"@revoked * {public_line(sshd.host_key)}\n"
    )
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        "all:\n  vars:\n    ansible_user: root\n"
        f"    ansible_ssh_private_key_file: {sshd.client_key}\n    mailcert_known_hosts: {known}\n"
        f"  hosts:\n    mx-revoked:\n      ansible_host: 127.0.0.1\n      ansible_port: {sshd.port}\n"
    )
    build_program().run(
        ["mailcert", "audit", "-I", str(inventory), "--format", "json", "--no-probe"], exit=False
    )
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["status"] == "unknown"
    assert "REVOKED" in report["hosts"][0]["error"] and "InvalidHostKey" not in report["hosts"][0]["error"]
    assert run_state().exit_code == 3
    assert "Traceback" not in captured.err
