"""`mailcert lab up --central` on its own one-host lab: BIND on the bridge serves the host's challenge
zones, the inventory is in central mode, and `mailcert fix -y` (the CLI, as a user runs it) replaces an
expired certificate through DNS-01 on a host whose port 80 is closed. `lab down` removes BIND, the second
Pebble and BIND's address."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import yaml
from cryptography import x509

from mailcert.lab import lifecycle
from mailcert.lab.bind import LAB_BIND_ADDRESS
from mailcert.lab.state import LabState
from tests.lab.fixture import LabManager, own_lab


def mailcert_cli(*args: str) -> subprocess.CompletedProcess[str]:
    program = Path(sys.executable).with_name("mailcert")
    return subprocess.run(
        [str(program), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=900,
        check=False,
    )


def test_lab_up_central_then_fix_issues_through_dns01(lab_manager: LabManager, tmp_path: Path) -> None:
    lab_dir = own_lab(lab_manager, tmp_path / "lab")
    try:
        result = lifecycle.up(lab_dir, 1, "mx1:expired", say=lambda _: None, central=True)
        host = result.hosts[0]
        group_vars = yaml.safe_load((lab_dir / "group_vars" / "all.yml").read_text())
        assert group_vars["mailcert_acme_mode"] == "central"
        assert group_vars["mailcert_acme_challenge"] == "dns-rfc2136"
        zone = f"_acme-challenge.{host.fqdn}"
        answer = dns.query.udp(dns.message.make_query(zone, "SOA"), LAB_BIND_ADDRESS, port=53, timeout=2)
        assert answer.flags & dns.flags.AA and answer.answer
        shell = lifecycle.shell_for(lifecycle.require_state(lab_dir), host.name)
        listening = shell.try_run(["ss", "-Hltn", "sport = :80"])
        assert listening.returncode == 0 and listening.stdout.strip() == ""

        done = mailcert_cli("fix", "-y", "-I", str(lab_dir / "inventory.yml"))
        assert done.returncode == 0, done.stdout + done.stderr
        leaf = x509.load_pem_x509_certificate(
            host.path(f"/etc/mailcert/live/{host.fqdn}/cert.pem").read_bytes()
        )
        assert "Pebble" in leaf.issuer.rfc4514_string()
        audit = mailcert_cli("audit", "-I", str(lab_dir / "inventory.yml"))
        assert audit.returncode == 0, audit.stdout + audit.stderr
    finally:
        state = LabState.load(lab_dir)
        processes = list(state.acme) if state else []
        lifecycle.down(lab_dir, say=lambda _: None)
    assert not any(p.alive() for p in processes)
    shown = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    assert f" {LAB_BIND_ADDRESS}/" not in shown
