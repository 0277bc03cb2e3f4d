"""Output from a host is read as it streams, under a byte cap (`mailcert_max_output_bytes`), against REAL
sshds: a hostile host whose sshd answers every command with an endless stream (ForceCommand) ends
`unknown` with one clear line while the control machine holds about the cap, and the other host of the
same run is audited as usual."""

from __future__ import annotations

import subprocess
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from mailcert.audit.host import AuditSettings
from mailcert.errors import HostError
from mailcert.model import Status
from mailcert.ssh import StrictConnection
from mailcert.tasks.audit import run_audit
from tests.integration import sshd_fixture
from tests.integration.sshd_fixture import SSHD, Sshd, _wait_listening, free_port, public_line
from tests.integration.test_ssh_gather import plant
from tests.pki import NOW

pytestmark = sshd_fixture.NEEDS_ROOT
sshd = sshd_fixture.sshd

CAP = 2 * 1024 * 1024


@dataclass
class Flood:
    port: int
    known_hosts: Path


@pytest.fixture(scope="module")
def flood(sshd: Sshd) -> Iterator[Flood]:
    """A second sshd with the same keys whose every session runs `yes` (prints forever), whatever is asked."""
    port = free_port()
    config = sshd.dir / "sshd_flood_config"
    text = (sshd.dir / "sshd_config").read_text()
    text = text.replace(f"Port {sshd.port}\n", f"Port {port}\n").replace("sshd.pid", "sshd-flood.pid")
    config.write_text(text + "ForceCommand exec yes mailcert-flood-line\n")
    known = sshd.dir / "known_hosts_flood"
    known.write_text(f"[127.0.0.1]:{port} {public_line(sshd.host_key)}\n")
    process = subprocess.Popen([SSHD, "-D", "-f", str(config), "-E", str(sshd.dir / "sshd-flood.log")])
    try:
        _wait_listening(port, process)
        yield Flood(port, known)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_an_endless_stream_stops_at_the_cap_with_one_line(sshd: Sshd, flood: Flood) -> None:
    host = sshd.host(name="mx-flood", port=flood.port, known_hosts=str(flood.known_hosts))
    conn = StrictConnection(replace(host, max_output_bytes=CAP))
    tracemalloc.start()
    try:
        with pytest.raises(HostError) as caught:
            conn.execute("echo hello", timeout=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        conn.close()
    line = caught.value.line()
    assert f"printed more than {CAP} bytes" in line and "mx-flood" in line and "\n" not in line
    assert "mailcert_max_output_bytes" in line
    assert peak < 4 * CAP, f"held {peak} bytes for a {CAP}-byte cap"


def test_output_up_to_the_cap_is_read_whole(sshd: Sshd) -> None:
    conn = StrictConnection(replace(sshd.host(), max_output_bytes=CAP))
    try:
        output = conn.execute(f"head -c {CAP - 10} /dev/zero | tr '\\0' x; echo err >&2")
    finally:
        conn.close()
    assert output.stdout == "x" * (CAP - 10) and output.stderr == "err\n" and output.exit_status == 0


def test_stdout_and_stderr_count_together(sshd: Sshd) -> None:
    conn = StrictConnection(replace(sshd.host(), max_output_bytes=CAP))
    try:
        with pytest.raises(HostError, match="printed more than"):
            conn.execute(f"head -c {CAP // 2 + 10} /dev/zero; head -c {CAP // 2 + 10} /dev/zero >&2")
    finally:
        conn.close()


def test_a_flooding_host_is_unknown_and_the_other_host_is_audited(
    sshd: Sshd, flood: Flood, tmp_path: Path
) -> None:
    planted = plant(tmp_path / "host")
    hosts = [
        replace(sshd.host(name="mx-good"), max_output_bytes=64 * 1024 * 1024),
        replace(
            sshd.host(name="mx-flood", port=flood.port, known_hosts=str(flood.known_hosts)),
            max_output_bytes=CAP,
        ),
    ]
    settings = AuditSettings(now=NOW, probe=False, gather_root=str(planted.root), connect_timeout=5)
    good, flooding = (r.report for r in run_audit(hosts, settings, forks=2))
    assert good.error is None and good.status is not Status.UNKNOWN
    assert flooding.status is Status.UNKNOWN
    assert f"printed more than {CAP} bytes" in (flooding.error or "")
    assert [f.check for f in flooding.findings] == ["host.unreachable"]


def test_the_cap_is_an_inventory_variable(tmp_path: Path) -> None:
    from mailcert.inventory import load_inventory

    inventory = tmp_path / "inventory.yml"
    inventory.write_text("all:\n  hosts:\n    mx1:\n      mailcert_max_output_bytes: 8388608\n    mx2:\n")
    mx1, mx2 = load_inventory(str(inventory)).hosts
    assert mx1.max_output_bytes == 8 * 1024 * 1024
    assert mx2.max_output_bytes == 256 * 1024 * 1024  # the default: as much as gather may print today
