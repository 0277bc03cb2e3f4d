"""`mailcert audit fix` on an Exim host end to end: an exim-dovecot lab of its own (real Debian Exim from
scripts/install-exim, Dovecot, Pebble); every fault the lab plants on such a host is fixed (plan, apply,
reload, probe clean), a re-audit is clean, and a second fix plans nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcert.lab import lifecycle
from mailcert.lab.faults import FAULTS
from mailcert.lab.kinds import DEFAULT_KIND
from mailcert.lab.matrix_hosts import host_kind
from tests.lab.fixture import LabManager, one_host_lab
from tests.lab.test_fix_cli import last_json, mailcert

pytestmark = pytest.mark.lab

HOST = "mx1"
# Rounds of faults planted together (at most one certificate-replacing fault a round); together every
# fault the lab has for such a host, the Exim ones (leaf-only, wrong-mode-587, wrong-mode-465 edit Exim's
# configuration) in the exim- rounds. Exim reads its certificate at each TLS connection: `stale` is a
# Dovecot fault there.
ROUNDS: dict[str, tuple[str, ...]] = {
    "exim-config": ("leaf-only", "wrong-mode-587", "dovecot-missing-lt", "expired"),
    "exim-465": ("wrong-mode-465", "no-deploy-hook", "name-mismatch"),
    "stale": ("stale", "self-signed"),
    "key": ("key-mismatch",),
}


def test_the_rounds_plant_every_fault_of_the_lab() -> None:
    """Every fault a Debian 12 host takes: not cPanel's (cpanel hosts only), not Dovecot 2.4's (debian13 hosts
    only; an Exim host's Dovecot is the machine's 2.3)."""
    on_exim_hosts = [name for name in FAULTS if host_kind(name) == DEFAULT_KIND]
    assert sorted(f for faults in ROUNDS.values() for f in faults) == sorted(on_exim_hosts)


@pytest.fixture(scope="module")
def exim_lab(lab_manager: LabManager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from one_host_lab(lab_manager, tmp_path_factory, "exim-dovecot")


@pytest.mark.parametrize("round_name", list(ROUNDS))
def test_every_exim_host_fault_is_fixed_end_to_end(exim_lab: Path, round_name: str) -> None:
    inventory = str(exim_lab / "inventory.yml")
    try:
        for fault in ROUNDS[round_name]:
            lifecycle.plant_fault(exim_lab, HOST, fault)
        planted = last_json(mailcert("-I", inventory, "audit", "--format", "json").stdout)
        found = {f["check"] for h in planted["hosts"] for f in h["findings"] if f["severity"] != "info"}
        assert found, f"round {round_name}: the audit saw none of the planted faults"

        done = mailcert("-I", inventory, "audit", "fix", "-y", "--format", "json")

        assert done.returncode in (0, 1), done.stdout[-4000:] + done.stderr[-3000:]
        report = last_json(done.stdout)
        outcomes = {e["outcome"] for e in report["plan"] if e["kind"] not in ("unfixable", "error")}
        assert outcomes == {"applied"}, report["plan"]
        if round_name.startswith("exim-"):  # Exim's own faults are fixed in Exim's configuration
            assert any("/etc/exim4/" in str(e.get("path", "")) for e in report["plan"]), report["plan"]

        again = mailcert("-I", inventory, "audit", "--format", "json")
        assert again.returncode in (0, 1), again.stdout[-3000:]
        host = last_json(again.stdout)["hosts"][0]
        assert [f["check"] for f in host["findings"] if f["severity"] == "critical"] == []

        second = mailcert("-I", inventory, "fix", "-y", "--format", "json")
        assert second.returncode in (0, 1), second.stderr[-2000:]
        assert [e for e in last_json(second.stdout)["plan"] if e["kind"] != "unfixable"] == []
        assert "nothing to do" in second.stderr
    finally:
        lifecycle.reset_host(exim_lab, HOST)
